"""The Service registry's part of a create or update: cluster IPs and NodePorts.

A Service that needs a cluster IP gets one from the service CIDR (kubeadm's default
10.96.0.0/12); a NodePort or LoadBalancer Service gets a node port per port from 30000-32767.
A requested value must be in range and free, or the request fails with upstream's 422; with
nothing requested the next free value is taken. Upstream picks at random, upper band first
(allocator bitmap with offset: the low band is kept for static choices); the model takes the
lowest free value of the upper band, then of the lower band, so runs are deterministic.

What is allocated is read from the stored Services themselves (upstream keeps a bitmap, or
IPAddress objects, that a repair loop reconciles with the Services): a value is free again the
moment its Service is gone from etcd, and a failed request allocates nothing.

upstream: pkg/registry/core/service/storage/alloc.go (allocateCreate, allocateUpdate,
allocNodePorts, patchAllocatedValues), strategy.go (NormalizeClusterIPs,
dropTypeDependentFields), ipallocator/bitmap.go and portallocator/allocator.go (errors,
calculateRangeOffset).

>>> from kubeproof.model.apiserver.etcd import Store
>>> from kubeproof.model.objects import ObjectMeta, Service, ServicePort, ServiceSpec
>>> svc = Service(ObjectMeta(name="web", namespace="default"),
...               ServiceSpec(type="NodePort", ports=(ServicePort(80, protocol="TCP"),)))
>>> out = allocate(Store(), svc)
>>> out.spec.cluster_ip, out.spec.cluster_ips, out.spec.ports[0].node_port
('10.96.1.1', ('10.96.1.1',), 30173)
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from kubeproof.model.apiserver import etcd
from kubeproof.model.apiserver.admission import Status, invalid
from kubeproof.model.objects import Service, ServicePort
from kubeproof.model.validation import FieldError, _invalid
from kubeproof.model.validation_services import (
    NODE_PORT_RANGE,
    externally_accessible,
    needs_cluster_ip,
    needs_node_ports,
)

__all__ = [
    "SERVICE_CIDR",
    "allocate",
    "allocated",
    "prepare_create",
    "prepare_update",
    "range_offset",
]

# upstream: kubeadm's default --service-cluster-ip-range (kubeadm constants DefaultServicesSubnet)
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
_PREFIX = "/registry/services/"


def range_offset(size: int) -> int:
    """upstream: calculateRangeOffset: the size of the low band kept for static allocation,
    min(max(16, size / 16), 256), none for ranges of 16 or fewer."""
    if size <= 16:
        return 0
    return min(max(16, size // 16), 256)


def _first_free(size: int, used) -> int | None:
    """The lowest free index of the upper band, then of the lower band (see the docstring)."""
    offset = range_offset(size)
    for start, stop in ((offset, size), (0, offset)):
        for i in range(start, stop):
            if i not in used:
                return i
    return None


def allocated(store: etcd.Store, skip: str = "") -> tuple[frozenset[str], frozenset[int]]:
    """The cluster IPs and node ports held by the stored Services (but the one at key ``skip``)."""
    r = etcd.range_(store, _PREFIX, etcd.prefix_end(_PREFIX))
    ips: set[str] = set()
    ports: set[int] = set()
    for kv in r.kvs:
        if kv.key == skip:
            continue
        spec = kv.value.spec
        ips.update(ip for ip in (*spec.cluster_ips, spec.cluster_ip) if ip and ip != "None")
        ports.update(p.node_port for p in spec.ports if p.node_port)
    return frozenset(ips), frozenset(ports)


# --- preparing the object (the strategy) -----------------------------------------------------


def prepare_create(svc: Service) -> Service:
    """NormalizeClusterIPs on create: a lone clusterIP is copied into clusterIPs."""
    spec = svc.spec
    if spec.cluster_ip and not spec.cluster_ips:
        return replace(svc, spec=replace(spec, cluster_ips=(spec.cluster_ip,)))
    return svc


def _node_ports_of(ports: tuple[ServicePort, ...]) -> tuple[int, ...]:
    return tuple(p.node_port for p in ports)


def prepare_update(new: Service, old: Service) -> Service:
    """What the registry fills in or clears on an update before it validates, in upstream's
    order: patchAllocatedValues (values a client left out are kept), NormalizeClusterIPs, then
    dropTypeDependentFields (values the new type does not need, and the client did not
    change, are cleared)."""
    spec, before = new.spec, old.spec
    if needs_cluster_ip(old) and needs_cluster_ip(new):
        ip, ips = spec.cluster_ip or before.cluster_ip, spec.cluster_ips or before.cluster_ips
        spec = replace(spec, cluster_ip=ip, cluster_ips=ips)
    if needs_node_ports(old) and needs_node_ports(new):
        spec = replace(spec, ports=_patched_node_ports(spec.ports, before.ports))
    # NormalizeClusterIPs: an old client that sends only clusterIP
    if before.cluster_ips and not spec.cluster_ips and before.cluster_ip == spec.cluster_ip:
        spec = replace(spec, cluster_ips=before.cluster_ips)
    if spec.cluster_ip != before.cluster_ip and spec.cluster_ips == before.cluster_ips:
        spec = replace(spec, cluster_ips=(spec.cluster_ip,) if spec.cluster_ip else ())
    unchanged_ips = (spec.cluster_ip, spec.cluster_ips) == (before.cluster_ip, before.cluster_ips)
    if needs_cluster_ip(old) and not needs_cluster_ip(new) and unchanged_ips:
        spec = replace(spec, cluster_ip="", cluster_ips=())
    unchanged_ports = _node_ports_of(spec.ports) == _node_ports_of(before.ports)
    if needs_node_ports(old) and not needs_node_ports(new) and unchanged_ports:
        spec = replace(spec, ports=tuple(replace(p, node_port=0) for p in spec.ports))
    unchanged_policy = spec.external_traffic_policy == before.external_traffic_policy
    if externally_accessible(old) and not externally_accessible(new) and unchanged_policy:
        spec = replace(spec, external_traffic_policy="")
    return replace(new, spec=spec)


def _patched_node_ports(ports: tuple[ServicePort, ...], before: tuple[ServicePort, ...]):
    """upstream: patchAllocatedValues: a port without a nodePort gets the old port's of the same
    name, unless another port of the Service uses it in both."""
    used = {p.node_port for p in before if p.node_port} & {p.node_port for p in ports}
    by_name = {p.name: p.node_port for p in before}
    return tuple(
        replace(p, node_port=by_name.get(p.name, 0))
        if not p.node_port and by_name.get(p.name, 0) not in used
        else p
        for p in ports
    )


# --- allocation ----------------------------------------------------------------------------


def _range_full(what: str) -> Status:
    # upstream: alloc.go: errors.NewInternalError("failed to allocate a nodePort: range is full")
    message = f"Internal error occurred: failed to allocate a {what}: range is full"
    return Status(500, "InternalError", message)


def _ip_failure(svc: Service, ip: str, why: str) -> Status:
    # upstream: alloc.go allocIPs: field.Invalid(spec.clusterIPs, ..., "failed to allocate IP")
    error = FieldError("spec.clusterIPs", f"failed to allocate IP {ip}: {why}")
    return invalid("Service", svc.metadata.name, (error,))


def _cluster_ip(svc: Service, old: Service | None, used: frozenset[str]) -> Service | Status:
    spec = svc.spec
    if not needs_cluster_ip(svc) or spec.cluster_ip == "None":
        return svc
    if old is not None and needs_cluster_ip(old) and old.spec.cluster_ip == spec.cluster_ip:
        return svc  # kept (validation refuses a change)
    hosts = SERVICE_CIDR.num_addresses - 2  # no network or broadcast address
    base = int(SERVICE_CIDR.network_address) + 1
    if spec.cluster_ip:
        ip = ipaddress.ip_address(spec.cluster_ip)
        if ip not in SERVICE_CIDR or not base <= int(ip) < base + hosts:
            why = (
                f"the provided IP ({ip}) is not in the valid range. The range of valid IPs is "
                f"{SERVICE_CIDR}"
            )
            return _ip_failure(svc, spec.cluster_ip, why)
        if str(ip) in used:
            return _ip_failure(svc, spec.cluster_ip, "provided IP is already allocated")
        return svc
    taken = {int(ipaddress.ip_address(ip)) - base for ip in used if ":" not in ip}
    index = _first_free(hosts, taken)
    if index is None:
        return _range_full("serviceIP")
    chosen = str(ipaddress.ip_address(base + index))
    return replace(svc, spec=replace(spec, cluster_ip=chosen, cluster_ips=(chosen,)))


def _node_ports(svc: Service, used: frozenset[int]) -> Service | Status:
    """upstream: alloc.go allocNodePorts/initNodePorts: ports of one Service with the same
    port number share a node port; a requested one must be free; the rest are allocated."""
    if not needs_node_ports(svc):
        return svc
    low, high = NODE_PORT_RANGE
    mine: set[int] = set()  # taken by this Service in this request
    by_port: dict[int, int] = {}
    out = []
    for i, p in enumerate(svc.spec.ports):
        node_port = p.node_port or by_port.get(p.port, 0)
        if p.node_port and p.node_port not in mine and p.node_port in used:
            path = f"spec.ports[{i}].nodePort"
            error = _invalid(path, p.node_port, "provided port is already allocated")
            return invalid("Service", svc.metadata.name, (error,))
        if not node_port:
            taken = {port - low for port in (*used, *mine)}
            index = _first_free(high - low + 1, taken)
            if index is None:
                return _range_full("nodePort")
            node_port = low + index
        mine.add(node_port)
        by_port.setdefault(p.port, node_port)
        out.append(replace(p, node_port=node_port))
    return replace(svc, spec=replace(svc.spec, ports=tuple(out)))


def allocate(
    store: etcd.Store, svc: Service, old: Service | None = None, key: str = ""
) -> Service | Status:
    """The Service with its cluster IP and node ports allocated, or upstream's error. On an
    update ``old`` is the stored Service and ``key`` its etcd key (its values are its own)."""
    ips, ports = allocated(store, skip=key if old is not None else "")
    out = _cluster_ip(svc, old, ips)
    if isinstance(out, Status):
        return out
    return _node_ports(out, ports)
