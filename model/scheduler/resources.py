"""Resource arithmetic: a pod's request vector and a node's allocatable and requested amounts.

Shared by the NodeResourcesFit and NodeResourcesBalancedAllocation plugins, the placement solver
and the kubelet's admission re-check, so that all of them count a pod the same way.

Amounts are integers: millicores for ``cpu``, base units (bytes, devices, pods) for everything
else, as the scheduler's ``framework.Resource`` holds them. A concrete resource map holds
Quantities; a symbolic one (solvers/) holds z3 Ints that already are amounts. Resource *names*
(the map keys) are always concrete. Where every value of a resource is a Quantity the pod's
aggregate is computed exactly and rounded once at the end, as upstream sums Quantities and then
takes ``MilliValue``/``Value``; where some value is an int or a z3 term each value is converted to
an amount first.

>>> from kubeproof.model.objects import Container, FrozenMap, Pod, PodSpec
>>> from kubeproof.model.quantity import parse_quantity as q
>>> pod = Pod(spec=PodSpec(
...     containers=(Container("app", requests=FrozenMap(cpu=q("250m"), memory=q("64Mi"))),),
...     init_containers=(Container("init", requests=FrozenMap(cpu=q("1"))),)))
>>> dict(pod_requests(pod))
{'cpu': 1000, 'memory': 67108864}
>>> dict(pod_requests(Pod(spec=PodSpec(containers=(Container("app"),))), non_zero=True))
{'cpu': 100, 'memory': 209715200}
>>> amount("cpu", q("1.5")), is_scalar_resource_name("example.com/gpu"), amount("cpu", 7)
(1500, True, 7)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from kubeproof.model.logic import max_of, sum_of
from kubeproof.model.objects import Container, FrozenMap, Node, Pod
from kubeproof.model.quantity import Quantity, resource_amount

__all__ = [
    "CPU",
    "DEFAULT_MEMORY_REQUEST",
    "DEFAULT_MILLI_CPU_REQUEST",
    "EPHEMERAL_STORAGE",
    "MEMORY",
    "PODS",
    "allocatable_of",
    "allowed_pod_number",
    "amount",
    "is_extended_resource_name",
    "is_scalar_resource_name",
    "node_allocatable",
    "node_requested",
    "pod_requests",
    "requested_of",
]

CPU, MEMORY, EPHEMERAL_STORAGE, PODS = "cpu", "memory", "ephemeral-storage", "pods"

# upstream: pkg/scheduler/util/pod_resources.go DefaultMilliCPURequest, DefaultMemoryRequest
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
_NON_ZERO_DEFAULTS = {
    CPU: Quantity.from_milli(DEFAULT_MILLI_CPU_REQUEST),
    MEMORY: Quantity.from_int(DEFAULT_MEMORY_REQUEST),
}

# upstream: staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go IsQualifiedName
_QUALIFIED_NAME = re.compile(
    r"(?:(?=[^/]{1,253}/)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(?=[^/]{1,63}$)[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
)


def amount(resource_name: str, q: Any) -> Any:
    """The amount the scheduler counts: ``resource_amount`` of a Quantity; an int or a z3 term
    is taken to be an amount already."""
    return resource_amount(resource_name, q) if isinstance(q, Quantity) else q


# --- resource classes ----------------------------------------------------------------------
# upstream: pkg/apis/core/v1/helper/helpers.go IsExtendedResourceName, IsHugePageResourceName,
# IsPrefixedNativeResource, IsAttachableVolumeResourceName; pkg/scheduler/util IsScalarResourceName


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def is_extended_resource_name(name: str) -> bool:
    """A vendor resource such as ``example.com/gpu`` (the kind ignoredResources applies to)."""
    if _is_native(name) or name.startswith("requests."):
        return False
    return _QUALIFIED_NAME.fullmatch("requests." + name) is not None


def is_scalar_resource_name(name: str) -> bool:
    """Extended, hugepages-*, kubernetes.io/-prefixed or attachable-volumes-* resources: the ones
    the scheduler keeps in ``ScalarResources`` (other unknown names are not counted at all)."""
    return (
        is_extended_resource_name(name)
        or name.startswith("hugepages-")
        or "kubernetes.io/" in name
        or name.startswith("attachable-volumes-")
    )


def _is_pod_level_resource(name: str) -> bool:
    # upstream: staging/src/k8s.io/component-helpers/resource/helpers.go IsSupportedPodLevelResource
    return name in (CPU, MEMORY) or name.startswith("hugepages-")


# --- the pod -------------------------------------------------------------------------------


def _ordered_names(maps: Iterable[Mapping[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for mapping in maps:
        names.update(dict.fromkeys(mapping))
    return list(names)


def _container_request(container: Container, name: str, non_zero: bool) -> Any:
    """The container's request, or the non-zero default for a *missing* cpu/memory request."""
    if name in container.requests:
        return container.requests[name]
    return _NON_ZERO_DEFAULTS.get(name) if non_zero else None


def pod_requests(pod: Pod, *, non_zero: bool = False) -> FrozenMap:
    """The pod's effective request per resource name, as amounts.

    ``non_zero`` fills a container's missing cpu/memory request with 100m/200Mi (an explicit 0
    stays 0): the vector LeastAllocated and MostAllocated score with.
    """
    # upstream: staging/src/k8s.io/component-helpers/resource/helpers.go PodRequests,
    # AggregateContainerRequests (sidecar formula of KEP-753), applyNonMissing,
    # applyPodLevelResources; the pod is pending, so status resources play no part.
    spec = pod.spec
    if not (non_zero or spec.init_containers or spec.overhead or spec.requests):
        summed = _app_container_requests(spec.containers)
        if summed is not None:
            return summed
    containers = spec.containers + spec.init_containers
    maps = [c.requests for c in containers] + [spec.overhead]
    maps.append({n: v for n, v in spec.requests.items() if _is_pod_level_resource(n)})
    if non_zero and containers:
        maps.append(_NON_ZERO_DEFAULTS)
    result = {}
    for name in _ordered_names(maps):
        values = [_container_request(c, name, non_zero) for c in containers]
        values += [spec.overhead.get(name), spec.requests.get(name)]
        exact = all(isinstance(v, Quantity) for v in values if v is not None)

        def conv(v: Any, name: str = name, exact: bool = exact) -> Any:
            if v is None:
                return 0
            return v.nanos if exact else amount(name, v)

        app = sum_of(conv(_container_request(c, name, non_zero)) for c in spec.containers)
        sidecars, init_max = 0, 0
        for init in spec.init_containers:
            request = conv(_container_request(init, name, non_zero))
            if init.restart_policy == "Always":  # a sidecar runs beside the app containers
                app, sidecars = sum_of((app, request)), sum_of((sidecars, request))
                init_max = max_of((init_max, sidecars))
            else:
                init_max = max_of((init_max, sum_of((request, sidecars))))
        total = max_of((app, init_max))
        if _is_pod_level_resource(name) and name in spec.requests:
            total = conv(spec.requests[name])  # a pod-level request replaces the aggregate
        total = sum_of((total, conv(spec.overhead.get(name))))
        result[name] = resource_amount(name, Quantity(total)) if exact else total
    return FrozenMap(result)


def _app_container_requests(containers: tuple[Container, ...]) -> FrozenMap | None:
    """The general formula's result for a pod of app containers only (no init containers,
    overhead or pod-level requests) whose requests are all Quantities: their sum, taken at
    least 0; None when a request is not a Quantity. Most pods look so: this is their fast
    path (placement sums the requests of every running pod)."""
    totals: dict[str, int] = {}
    for container in containers:
        for name, q in container.requests.items():
            if not isinstance(q, Quantity):
                return None
            totals[name] = totals.get(name, 0) + q.nanos
    return FrozenMap(
        (name, resource_amount(name, Quantity(max(total, 0)))) for name, total in totals.items()
    )


# --- the node ------------------------------------------------------------------------------


def node_allocatable(node: Node) -> FrozenMap:
    """``status.allocatable`` as amounts (a missing resource is absent, i.e. 0)."""
    # upstream: pkg/scheduler/framework/types.go NewResource / Resource.Add
    return FrozenMap((n, amount(n, q)) for n, q in node.status.allocatable.items())


def allocatable_of(node_info: Any) -> FrozenMap:
    """``node_allocatable`` of the NodeInfo's node, computed once per NodeInfo."""
    return node_info.memo(_allocatable_of)


def _allocatable_of(node_info: Any) -> FrozenMap:
    return node_allocatable(node_info.node)


def requested_of(node_info: Any, *, non_zero: bool = False) -> FrozenMap:
    """``node_requested`` of the NodeInfo's pods, computed once per NodeInfo (and flag)."""
    return node_info.memo(_requested_of, non_zero)


def _requested_of(node_info: Any, non_zero: bool) -> FrozenMap:
    return node_requested(node_info.pods, non_zero=non_zero)


def allowed_pod_number(node: Node) -> Any:
    """``allocatable.pods``; a node that does not report it allows no pods."""
    return node_allocatable(node).get(PODS, 0)


def node_requested(pods: Iterable[Pod], *, non_zero: bool = False) -> FrozenMap:
    """The sum of the pods' request vectors: NodeInfo.Requested (or NonZeroRequested).

    Each pod is rounded on its own before the sum, as NodeInfo.AddPod does.
    """
    # upstream: pkg/scheduler/framework/types.go NodeInfo.AddPod, calculateResource
    vectors = [pod_requests(p, non_zero=non_zero) for p in pods]
    names = _ordered_names(vectors)
    return FrozenMap((n, sum_of(v.get(n, 0) for v in vectors)) for n in names)
