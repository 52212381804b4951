"""The api-server's validation of Services and EndpointSlices (the fields the model uses).

Rules and messages follow upstream: pkg/apis/core/validation/validation.go (ValidateService,
validateServicePort, ValidateServiceUpdate), pkg/apis/discovery/validation/validation.go
(ValidateEndpointSlice) and apimachinery's util/validation (port numbers and names, IPs). As in
validation.py, a value the api-server defaults before it validates (an empty type, protocol,
targetPort or traffic policy) is accepted as its default. :func:`validate` in validation.py
calls these for Services and EndpointSlices.

The nodePort range is the api-server's default ``--service-node-port-range`` (30000-32767): upstream
reports a port outside it from the allocator (pkg/registry/core/service/portallocator), with the
same message, when the Service is created; here it is checked with the rest.

>>> from kubeproof.model.objects import ObjectMeta, Service, ServicePort, ServiceSpec
>>> svc = Service(ObjectMeta(name="web"), ServiceSpec(type="NodePort",
...                                                  ports=(ServicePort(80, node_port=80),)))
>>> [(e.path, e.message) for e in service_errors(svc)]  # doctest: +NORMALIZE_WHITESPACE
[('spec.ports[0].nodePort', 'invalid value 80: provided port is not in the valid range.
  The range of valid ports is 30000-32767')]
"""

from __future__ import annotations

import ipaddress
import re

from kubeproof.model.objects import EndpointSlice, Service, ServicePort
from kubeproof.model.validation import (
    Errors,
    FieldError,
    _duplicate,
    _each,
    _invalid,
    _labels,
    _meta,
    _not_supported,
    _port_number,
    _regex_error,
    _required,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
)

__all__ = [
    "NODE_PORT_RANGE",
    "PROTOCOLS",
    "SERVICE_TYPES",
    "endpoint_slice_errors",
    "endpoint_slice_update_errors",
    "externally_accessible",
    "is_dns1035_label",
    "needs_cluster_ip",
    "needs_node_ports",
    "node_port_range_error",
    "service_errors",
    "service_update_errors",
]

SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
PROTOCOLS = ("TCP", "UDP", "SCTP")
TRAFFIC_POLICIES = ("Cluster", "Local")
ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
# upstream: kube-apiserver --service-node-port-range default (options.DefaultServiceNodePortRange)
NODE_PORT_RANGE = (30000, 32767)
# upstream: discovery validation.go maxEndpoints, maxAddresses, maxPorts
MAX_ENDPOINTS, MAX_ADDRESSES, MAX_PORTS = 1000, 100, 20000

_DNS1035_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_RE = re.compile(_DNS1035_FMT)
_DNS1035_MSG = _regex_error(
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character",
    _DNS1035_FMT,
    "my-name",
    "abc-123",
)
_IP_MSG = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def is_dns1035_label(value: str) -> list[str]:
    """upstream: IsDNS1035Label (a Service's name); the problems, none when valid."""
    errs = [] if len(value) <= 63 else ["must be no more than 63 characters"]
    return errs if _DNS1035_RE.fullmatch(value) else [*errs, _DNS1035_MSG]


def _port_name_problems(name: str) -> list[str]:
    """upstream: IsValidPortName (an IANA_SVC_NAME: a targetPort given by name)."""
    errs = [] if len(name) <= 15 else ["must be no more than 15 characters"]
    if not re.fullmatch("[-a-z0-9]+", name):
        errs.append("must contain only alpha-numerics and '-'")
    if not re.search("[a-z]", name):
        errs.append("must contain at least one letter (a-z)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if name.startswith("-") or name.endswith("-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


# --- services (upstream: validation.go ValidateService) ------------------------------------


def _type(svc: Service) -> str:
    return svc.spec.type or "ClusterIP"  # upstream: core/v1 SetDefaults_Service


def needs_cluster_ip(svc: Service) -> bool:
    """upstream: service storage alloc.go needsClusterIP: every type but ExternalName ("None",
    headless, counts as a value)."""
    return _type(svc) != "ExternalName"


def needs_node_ports(svc: Service) -> bool:
    """upstream: service storage alloc.go needsNodePort (NodePort and LoadBalancer; a
    LoadBalancer's allocateLoadBalancerNodePorts is taken as its default, true)."""
    return _type(svc) in ("NodePort", "LoadBalancer")


def externally_accessible(svc: Service) -> bool:
    """upstream: pkg/api/service/util.go ExternallyAccessible."""
    kind = _type(svc)
    return kind in ("NodePort", "LoadBalancer") or (
        kind == "ClusterIP" and bool(svc.spec.external_ips)
    )


def node_port_range_error(path: str, node_port: int) -> FieldError | None:
    """upstream: portallocator ErrNotInRange, for a nodePort outside the allocator's range."""
    low, high = NODE_PORT_RANGE
    if low <= node_port <= high:
        return None
    message = f"provided port is not in the valid range. The range of valid ports is {low}-{high}"
    return _invalid(path, node_port, message)


def _service_port(p: ServicePort, path: str, several: bool, names: set[str]) -> Errors:
    """upstream: validateServicePort."""
    if several and not p.name:
        yield _required(f"{path}.name")
    elif p.name:
        yield from _each(f"{path}.name", p.name, is_dns1123_label(p.name))
        if p.name in names:
            yield _duplicate(f"{path}.name", p.name)
        names.add(p.name)
    yield from _port_number(p.port, f"{path}.port")
    if (p.protocol or "TCP") not in PROTOCOLS:
        yield _not_supported(f"{path}.protocol", PROTOCOLS)
    target = p.target_port  # upstream: ValidatePortNumOrName; unset defaults to port
    if isinstance(target, str):
        yield from _each(f"{path}.targetPort", target, _port_name_problems(target))
    elif target is not None:
        yield from _port_number(target, f"{path}.targetPort")


def _cluster_ips(svc: Service) -> Errors:
    """upstream: validateServiceClusterIPsRelatedFields. On create the strategy copies clusterIP
    into an empty clusterIPs (NormalizeClusterIPs), never the other way round."""
    spec = svc.spec
    if spec.cluster_ip and spec.cluster_ips and spec.cluster_ips[0] != spec.cluster_ip:
        ips = list(spec.cluster_ips)
        yield _invalid("spec.clusterIPs", ips, "first value must match `clusterIP`")
    elif spec.cluster_ips and not spec.cluster_ip:
        ips = list(spec.cluster_ips)
        yield _invalid("spec.clusterIPs", ips, "must be empty when `clusterIP` is not specified")
    if spec.cluster_ips:
        paths = [f"spec.clusterIPs[{i}]" for i in range(len(spec.cluster_ips))]
        ips = spec.cluster_ips
    else:
        paths, ips = ["spec.clusterIP"], (spec.cluster_ip,) if spec.cluster_ip else ()
    for i, (path, ip) in enumerate(zip(paths, ips, strict=False)):
        if ip == "None":
            if i != 0 or len(ips) != 1:
                yield _invalid(path, ip, "'None' must be the first and only value")
        elif _ip(ip) is None:
            yield _invalid(path, ip, _IP_MSG)


def service_errors(svc: Service) -> Errors:
    """Every field error of ValidateService for the fields the model uses."""
    yield from _meta(svc.metadata, is_dns1035_label, True)
    spec, kind = svc.spec, _type(svc)
    headless = spec.cluster_ip == "None" or spec.cluster_ips[:1] == ("None",)
    if not spec.ports and not headless and kind != "ExternalName":
        yield _required("spec.ports")
    if kind in ("LoadBalancer", "NodePort") and headless:
        yield _invalid("spec.clusterIP", "None", f"may not be set to 'None' for {kind} services")
    if kind == "ExternalName":
        if spec.cluster_ip or spec.cluster_ips:
            yield FieldError("spec.clusterIPs", "may not be set for ExternalName services")
        name = spec.external_name.removesuffix(".")  # a trailing dot: fully qualified
        if name:
            yield from _each("spec.externalName", name, is_dns1123_subdomain(name))
        else:
            yield _required("spec.externalName")
    else:
        yield from _cluster_ips(svc)
    if kind not in SERVICE_TYPES:
        yield _not_supported("spec.type", SERVICE_TYPES)
    names: set[str] = set()
    seen_ports: set[tuple[str, int]] = set()
    seen_node_ports: set[tuple[str, int]] = set()
    for i, p in enumerate(spec.ports):
        path = f"spec.ports[{i}]"
        yield from _service_port(p, path, len(spec.ports) > 1, names)
        protocol = p.protocol or "TCP"
        if (protocol, p.port) in seen_ports:
            yield _duplicate(path, f"{p.port}/{protocol}")
        seen_ports.add((protocol, p.port))
        if not p.node_port:
            continue
        if kind == "ClusterIP":
            yield FieldError(f"{path}.nodePort", "may not be used when `type` is 'ClusterIP'")
        elif needs_node_ports(svc):
            out_of_range = node_port_range_error(f"{path}.nodePort", p.node_port)
            if out_of_range is not None:
                yield out_of_range
        if (protocol, p.node_port) in seen_node_ports:
            yield _duplicate(f"{path}.nodePort", p.node_port)
        seen_node_ports.add((protocol, p.node_port))
    yield from _labels(spec.selector, "spec.selector")
    for i, ip in enumerate(spec.external_ips):
        if _ip(ip) is None:
            yield _invalid(f"spec.externalIPs[{i}]", ip, _IP_MSG)
    policy = spec.external_traffic_policy  # upstream: validateServiceExternalTrafficPolicy
    if policy and not externally_accessible(svc):
        yield _invalid(
            "spec.externalTrafficPolicy",
            policy,
            "may only be set for externally-accessible services",
        )
    elif policy and policy not in TRAFFIC_POLICIES:
        yield _not_supported("spec.externalTrafficPolicy", TRAFFIC_POLICIES)
    internal = spec.internal_traffic_policy
    if internal is not None and internal not in TRAFFIC_POLICIES:
        yield _not_supported("spec.internalTrafficPolicy", TRAFFIC_POLICIES)


def _primary_ip(svc: Service) -> str:
    return svc.spec.cluster_ips[0] if svc.spec.cluster_ips else svc.spec.cluster_ip


def service_update_errors(new: Service, old: Service) -> Errors:
    """upstream: ValidateServiceUpdate, validateUpgradeDowngradeClusterIPs: the primary
    clusterIP may not change or go once set (unless the Service is or was ExternalName)."""
    if not (needs_cluster_ip(new) and needs_cluster_ip(old)):
        return
    was, now = _primary_ip(old), _primary_ip(new)
    if was == now or not was:
        return
    ips = list(new.spec.cluster_ips or ((now,) if now else ()))
    message = "may not change once set" if now else "primary clusterIP can not be unset"
    yield _invalid("spec.clusterIPs[0]", ips, message)


# --- endpoint slices (upstream: discovery/validation/validation.go) ------------------------


def _endpoint_ip(value: str, path: str, version: int) -> Errors:
    """upstream: IsValidIPv4Address / IsValidIPv6Address, then ValidateEndpointIP."""
    ip = _ip(value)
    if ip is None or ip.version != version:
        yield _invalid(path, value, f"must be a valid IPv{version} address")
        return
    if ip.is_unspecified:
        yield _invalid(path, value, f"may not be unspecified ({value})")
    if ip.is_loopback:
        yield _invalid(path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)")
    if ip.is_link_local:
        yield _invalid(
            path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"
        )
    link_local_multicast = ipaddress.ip_network("224.0.0.0/24" if version == 4 else "ff02::/16")
    if ip in link_local_multicast:
        yield _invalid(
            path, value, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"
        )


def _fqdn(value: str, path: str) -> Errors:
    """upstream: IsFullyQualifiedDomainName (a subdomain with at least two labels)."""
    name = value.removesuffix(".")
    yield from _each(path, value, is_dns1123_subdomain(name))
    if "." not in name:
        yield _invalid(
            path, value, "should be a domain with at least two segments separated by dots"
        )


def endpoint_slice_errors(s: EndpointSlice) -> Errors:
    """Every field error of ValidateEndpointSlice for the fields the model uses."""
    yield from _meta(s.metadata, is_dns1123_subdomain, True)
    if not s.address_type:
        yield _required("addressType")
    elif s.address_type not in ADDRESS_TYPES:
        yield _not_supported("addressType", ADDRESS_TYPES)
    if len(s.endpoints) > MAX_ENDPOINTS:
        yield FieldError("endpoints", f"must have at most {MAX_ENDPOINTS} items")
        return
    for i, e in enumerate(s.endpoints):
        path = f"endpoints[{i}]"
        if not e.addresses:
            yield _required(f"{path}.addresses", "must contain at least 1 address")
        elif len(e.addresses) > MAX_ADDRESSES:
            yield FieldError(f"{path}.addresses", f"must have at most {MAX_ADDRESSES} items")
        for j, address in enumerate(e.addresses):
            where = f"{path}.addresses[{j}]"
            if s.address_type in ("IPv4", "IPv6"):
                yield from _endpoint_ip(address, where, int(s.address_type[-1]))
            elif s.address_type == "FQDN":
                yield from _fqdn(address, where)
        if e.node_name is not None:
            yield from _each(f"{path}.nodeName", e.node_name, is_dns1123_subdomain(e.node_name))
        if e.hostname is not None:
            yield from _each(f"{path}.hostname", e.hostname, is_dns1123_label(e.hostname))
    if len(s.ports) > MAX_PORTS:
        yield FieldError("ports", f"must have at most {MAX_PORTS} items")
        return
    names: set[str] = set()
    for i, p in enumerate(s.ports):
        path = f"ports[{i}]"
        name = p.name or ""  # upstream: discovery/v1 SetDefaults_EndpointPort
        if name:
            yield from _each(f"{path}.name", name, is_dns1123_label(name))
        if name in names:
            yield _duplicate(f"{path}.name", name)
        names.add(name)
        if (p.protocol or "TCP") not in PROTOCOLS:
            yield _not_supported(f"{path}.protocol", PROTOCOLS)
        if p.app_protocol is not None:
            yield from _each(
                f"{path}.appProtocol", p.app_protocol, is_qualified_name(p.app_protocol)
            )


def endpoint_slice_update_errors(new: EndpointSlice, old: EndpointSlice) -> Errors:
    """upstream: ValidateEndpointSliceUpdate: addressType is immutable."""
    if new.address_type != old.address_type:
        yield _invalid("addressType", new.address_type, "field is immutable")
