"""What a Service's EndpointSlices should hold: the EndpointSlice reconciler's rules.

A pod is listed once it has an IP and until it is terminal (Succeeded or Failed), terminating
pods included. Its conditions: ``serving`` = the pod is Ready, ``terminating`` = it has a
deletionTimestamp, ``ready`` = serving and not terminating (always true with
publishNotReadyAddresses). Pods are grouped by their resolved ports; each group gets a slice
(upstream fills slices of up to 100 endpoints; the model keeps one per group), owned by the
Service (a controller reference) and labelled ``kubernetes.io/service-name`` and
``endpointslice.kubernetes.io/managed-by``. A Service that selects nothing keeps one empty
placeholder slice. :func:`plan` says which slices to create, update and delete.

upstream: staging/src/k8s.io/endpointslice/reconciler.go (Reconcile, reconcileByPortMapping,
finalize, the placeholder), utils.go (podToEndpoint, getEndpointPorts, newEndpointSlice,
setEndpointSliceLabels, ownedBy, FindPort), util/controller_utils.go (ShouldPodBeInEndpoints).

>>> from kubeproof.model.objects import Condition, ObjectMeta, PodStatus, ServicePort, ServiceSpec
>>> spec = ServiceSpec(selector=FrozenMap(app="web"), ports=(ServicePort(80, target_port=80),))
>>> svc = Service(ObjectMeta("web", "default", uid="uid-1"), spec)
>>> pod = Pod(ObjectMeta("web-1", "default", uid="uid-2", labels=FrozenMap(app="web"),
...                      deletion_timestamp=30),
...           status=PodStatus("Running", (Condition("Ready", "True"),), pod_ip="10.244.1.2"))
>>> endpoint_of(pod, None, svc).conditions
EndpointConditions(ready=False, serving=True, terminating=True)
"""

from __future__ import annotations

from dataclasses import replace

from kubeproof.model.controllers.protocol import View
from kubeproof.model.objects import (
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    FrozenMap,
    Node,
    ObjectMeta,
    ObjectReference,
    OwnerReference,
    Pod,
    Service,
)

__all__ = [
    "CONTROLLER_NAME",
    "MANAGED_BY",
    "SERVICE_NAME",
    "desired_endpoints",
    "endpoint_of",
    "is_ready",
    "owned_slices",
    "plan",
    "selects",
]

SERVICE_NAME = "kubernetes.io/service-name"  # discovery.LabelServiceName
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"  # discovery.LabelManagedBy
CONTROLLER_NAME = "endpointslice-controller.k8s.io"  # controllerQualifiedName
HEADLESS = "service.kubernetes.io/headless"  # v1.IsHeadlessService
ZONE = "topology.kubernetes.io/zone"
RESERVED = (SERVICE_NAME, MANAGED_BY, HEADLESS)


def is_ready(pod: Pod) -> bool:
    """podutil.IsPodReady: the Ready condition is True."""
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


def selects(service: Service, pod: Pod) -> bool:
    """Whether the Service's selector (a label map; empty: no selector) matches the pod."""
    selector = service.spec.selector
    return bool(selector) and all(pod.metadata.labels.get(k) == v for k, v in selector.items())


# --- what the slices should hold --------------------------------------------------------------


def _should_list(pod: Pod) -> bool:
    # upstream: util/controller_utils.go ShouldPodBeInEndpoints(pod, includeTerminating=true)
    return pod.status.phase not in ("Succeeded", "Failed") and bool(pod.status.pod_ip)


def _ports(pod: Pod, service: Service) -> tuple[EndpointPort, ...]:
    """getEndpointPorts: each Service port resolved against the pod (FindPort); a named target
    port the pod's containers do not declare leaves that port out."""
    out = []
    for sp in service.spec.ports:
        target = sp.target_port
        if isinstance(target, str):
            number = next(
                (
                    p.container_port
                    for c in pod.spec.containers
                    for p in c.ports
                    if p.name == target and p.protocol == sp.protocol
                ),
                None,
            )
            if number is None:
                continue
        else:
            number = target or sp.port
        out.append(EndpointPort(sp.name, sp.protocol or "TCP", number))
    return tuple(out)


def endpoint_of(pod: Pod, node: Node | None, service: Service) -> Endpoint:
    """podToEndpoint: the pod's address, conditions, reference, node and zone."""
    serving = is_ready(pod)
    terminating = pod.metadata.deletion_timestamp is not None
    # upstream: "ready" is never true for a terminating pod, unless publishNotReadyAddresses
    ready = service.spec.publish_not_ready_addresses or (serving and not terminating)
    meta = pod.metadata
    zone = node.metadata.labels.get(ZONE) if node is not None else None
    return Endpoint(
        addresses=(pod.status.pod_ip,),
        conditions=EndpointConditions(ready, serving, terminating),
        target_ref=ObjectReference("Pod", meta.namespace, meta.name, meta.uid),
        node_name=pod.spec.node_name or None,
        zone=zone or None,
    )


def desired_endpoints(
    view: View, service: Service
) -> tuple[dict[tuple[EndpointPort, ...], list[Endpoint]], bool]:
    """The endpoints the Service should list, grouped by their ports (pods in name order), and
    whether a pod was left out because its Node is not in the cache (an error: retried)."""
    groups: dict[tuple[EndpointPort, ...], list[Endpoint]] = {}
    missing_node = False
    for pod in view.list("pods", service.metadata.namespace):
        if not selects(service, pod) or not _should_list(pod):
            continue
        node = view.get("nodes", pod.spec.node_name)
        if node is None and not service.spec.publish_not_ready_addresses:
            missing_node = True  # upstream: "skipping Pod for Service, Node not found"
            continue
        groups.setdefault(_ports(pod, service), []).append(endpoint_of(pod, node, service))
    return groups, missing_node


def _labels(service: Service) -> FrozenMap:
    """setEndpointSliceLabels: the Service's labels (reserved keys aside), the headless label
    for a Service without a cluster IP, the service name and the managing controller."""
    labels = {k: v for k, v in service.metadata.labels.items() if k not in RESERVED}
    if service.spec.cluster_ip in ("", "None"):
        labels[HEADLESS] = ""
    return FrozenMap({**labels, SERVICE_NAME: service.metadata.name, MANAGED_BY: CONTROLLER_NAME})


def _new_slice(service: Service, ports: tuple[EndpointPort, ...]) -> EndpointSlice:
    """newEndpointSlice: generateName "<service>-", owned by the Service (a controller ref)."""
    meta = service.metadata
    owner = OwnerReference("v1", "Service", meta.name, meta.uid, True, True)
    return EndpointSlice(
        ObjectMeta(
            namespace=meta.namespace,
            generate_name=f"{meta.name}-",
            labels=_labels(service),
            owner_references=(owner,),
        ),
        "IPv4",
        (),
        ports,
    )


def owned_slices(view: View, service: Service) -> tuple[EndpointSlice, ...]:
    """The cached slices the controller manages for the Service, those being deleted left out."""
    name = service.metadata.name
    return tuple(
        s
        for s in view.list("endpointslices", service.metadata.namespace)
        if s.metadata.labels.get(SERVICE_NAME) == name
        and s.metadata.labels.get(MANAGED_BY) == CONTROLLER_NAME
        and s.metadata.deletion_timestamp is None
    )


def _owned_by(s: EndpointSlice, service: Service) -> bool:
    uid = service.metadata.uid
    return any(
        r.uid == uid and r.kind == "Service" and r.api_version == "v1"
        for r in s.metadata.owner_references
    )


def _endpoint_key(e: Endpoint) -> tuple:
    ref = e.target_ref
    return e.addresses, (ref.namespace, ref.name, ref.uid) if ref is not None else ()


def _refreshed(s: EndpointSlice, wanted: list[Endpoint], labels: FrozenMap) -> EndpointSlice:
    """reconcileByPortMapping on one existing slice: the endpoints still wanted, in place and
    brought up to date, then the new ones appended."""
    by_key = {_endpoint_key(e): e for e in wanted}
    kept = [by_key.pop(_endpoint_key(e)) for e in s.endpoints if _endpoint_key(e) in by_key]
    endpoints = (*kept, *by_key.values())
    return replace(s, metadata=replace(s.metadata, labels=labels), endpoints=endpoints)


def plan(
    service: Service,
    slices: tuple[EndpointSlice, ...],
    groups: dict[tuple[EndpointPort, ...], list[Endpoint]],
) -> tuple[tuple[EndpointSlice, ...], tuple[EndpointSlice, ...], tuple[EndpointSlice, ...]]:
    """(create, update, delete): what brings the Service's slices to ``groups`` (Reconcile)."""
    labels = _labels(service)
    creates, updates, deletes = [], [], []
    by_ports: dict[tuple[EndpointPort, ...], list[EndpointSlice]] = {}
    for s in sorted(slices, key=lambda s: s.metadata.name):
        if _owned_by(s, service):
            by_ports.setdefault(s.ports, []).append(s)
        else:
            deletes.append(s)
    for ports, endpoints in groups.items():
        existing = by_ports.pop(ports, [])
        if not existing:
            creates.append(replace(_new_slice(service, ports), endpoints=tuple(endpoints)))
            continue
        first, *extra = existing
        refreshed = _refreshed(first, endpoints, labels)
        if refreshed != first:
            updates.append(refreshed)
        deletes.extend(extra)  # the model fills one slice per port group
    for stale in by_ports.values():
        deletes.extend(stale)
    if len(deletes) == len(slices) and not creates:
        # upstream: a Service whose slices would all go keeps (or gets) an empty placeholder
        placeholder = _new_slice(service, ())
        if len(deletes) == 1 and _is_placeholder(deletes[0], placeholder):
            deletes = []
        else:
            creates.append(placeholder)
    # finalize: a create becomes an update of an owned slice that would be deleted
    kept: list[EndpointSlice] = []
    for doomed in deletes:
        if creates and _owned_by(doomed, service) and doomed.address_type == "IPv4":
            new = creates.pop()
            updates.append(replace(new, metadata=replace(doomed.metadata, labels=labels)))
        else:
            kept.append(doomed)
    if service.metadata.deletion_timestamp is not None:
        creates = []  # no new slices for a Service being deleted (the GC would race them)
    return tuple(creates), tuple(updates), tuple(kept)


def _is_placeholder(s: EndpointSlice, placeholder: EndpointSlice) -> bool:
    """placeholderSliceCompare: the same namespace, labels, owners, ports and endpoints."""
    a, b = s.metadata, placeholder.metadata
    return (a.namespace, a.labels, a.owner_references, s.ports, s.endpoints) == (
        b.namespace,
        b.labels,
        b.owner_references,
        placeholder.ports,
        placeholder.endpoints,
    )
