"""NodeResourcesFit: the node has room for the pod's requests; score by how full it would be.

Filter: the pod count, then cpu, memory, ephemeral-storage and every scalar resource the pod
requests (extended resources listed in ignoredResources/ignoredResourceGroups excepted) must fit
in allocatable minus what the node's pods already request. A failure is Unschedulable, or
UnschedulableAndUnresolvable when the request exceeds allocatable outright (preemption cannot
help). Score: LeastAllocated, MostAllocated or RequestedToCapacityRatio over the configured
resources, all in integer arithmetic (RTCR's math.Round is exact as ``(2n + w) div 2w``).

Not modelled: DRA-backed extended resources (DRAExtendedResource delegates a resource a
DeviceClass maps to the DynamicResources plugin; the model has no DeviceClasses, so nothing is
delegated), in-place resize of existing pods (no container statuses in the model), and the
PreFilter rejection of sidecars when SidecarContainers is off (GA and locked on).

>>> from kubeproof.model.objects import Container, FrozenMap, Node, NodeStatus, ObjectMeta, Pod
>>> from kubeproof.model.objects import PodSpec
>>> from kubeproof.model.quantity import parse_quantity as q
>>> from kubeproof.model.scheduler.framework import NodeInfo, Snapshot
>>> node = Node(ObjectMeta(name="n1"), status=NodeStatus(
...     allocatable=FrozenMap(cpu=q("2"), memory=q("4Gi"), pods=q(110))))
>>> pod = Pod(spec=PodSpec(containers=(Container("c", requests=FrozenMap(cpu=q("3"))),)))
>>> plugin = NodeResourcesFit.from_args({})
>>> pre = plugin.pre_filter(pod, Snapshot((NodeInfo(node),)))
>>> plugin.filter(pre.state, pod, NodeInfo(node))
Status(code='UnschedulableAndUnresolvable', reasons=('Insufficient cpu',))
>>> small = Pod(spec=PodSpec(containers=(Container("c", requests=FrozenMap(cpu=q("1"))),)))
>>> plugin.score(plugin.pre_score(small, None, ()).state, small, NodeInfo(node))
72
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from kubeproof.model.errors import KubeproofError
from kubeproof.model.logic import all_of, any_of, div, ite, min_of, not_, sum_of
from kubeproof.model.objects import Pod
from kubeproof.model.scheduler.framework import (
    MAX_NODE_SCORE,
    SUCCESS_STATUS,
    UNSCHEDULABLE,
    UNSCHEDULABLE_AND_UNRESOLVABLE,
    NodeInfo,
    PreResult,
    Snapshot,
    Status,
)
from kubeproof.model.scheduler.plugins.base import NormalizedByValue
from kubeproof.model.scheduler.resources import (
    CPU,
    EPHEMERAL_STORAGE,
    MEMORY,
    PODS,
    allocatable_of,
    is_extended_resource_name,
    is_scalar_resource_name,
    pod_requests,
    requested_of,
)

__all__ = [
    "NodeResourcesFit",
    "parse_resources",
    "resources_signature",
    "scalar_skipped",
    "score_inputs",
]

LEAST_ALLOCATED = "LeastAllocated"
MOST_ALLOCATED = "MostAllocated"
REQUESTED_TO_CAPACITY_RATIO = "RequestedToCapacityRatio"
DEFAULT_RESOURCES = (("cpu", 1), ("memory", 1))
MAX_UTILIZATION = 100
MAX_CUSTOM_PRIORITY_SCORE = 10  # upstream: pkg/scheduler/apis/config/types.go


def parse_resources(raw: Any, where: str) -> tuple[tuple[str, int], ...]:
    """``resources: [{name, weight}]`` with v1 defaulting (none: cpu and memory; weight 0: 1)
    and validation (weight 1..100)."""
    # upstream: pkg/scheduler/apis/config/v1/defaults.go SetDefaults_NodeResourcesFitArgs,
    # pkg/scheduler/apis/config/validation/validation_pluginargs.go validateResources
    if not raw:
        return DEFAULT_RESOURCES
    resources = []
    for i, spec in enumerate(raw):
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
            raise KubeproofError(f"{where}[{i}]: expected {{name, weight}}")
        weight = spec.get("weight") or 1
        if not isinstance(weight, int) or not 1 <= weight <= MAX_NODE_SCORE:
            raise KubeproofError(f"{where}[{i}].weight: must be in the range 1-100, got {weight}")
        resources.append((spec["name"], weight))
    return tuple(resources)


def resources_signature(node_info: NodeInfo) -> tuple[Any, ...]:
    """All the resource plugins read of a node: allocatable, the pods' requested sums (actual
    and non-zero) and how many pods it holds."""
    return (
        allocatable_of(node_info),
        requested_of(node_info),
        requested_of(node_info, non_zero=True),
        len(node_info.pods),
    )


def scalar_skipped(name: str, pod_request: Any) -> Any:
    """A scalar resource the pod does not request is left out of scoring."""
    return all_of((is_scalar_resource_name(name), pod_request == 0))


def score_inputs(
    name: str, pod_request: Any, node_info: NodeInfo, *, use_requested: bool
) -> tuple[Any, Any]:
    """``(allocatable, requested by the node's pods)`` for one scored resource; ``(0, 0)``
    (skipped) for a scalar the pod does not request or a resource the node does not report.

    ``use_requested`` False (Fit) takes cpu and memory from the non-zero sums (100m/200Mi for a
    missing request); True (BalancedAllocation) uses the actual requests throughout.
    """
    # upstream: pkg/scheduler/framework/plugins/noderesources/resource_allocation.go
    # calculateResourceAllocatableRequest
    allocatable = allocatable_of(node_info)
    non_zero = not use_requested and name in (CPU, MEMORY)
    requested = requested_of(node_info, non_zero=non_zero).get(name, 0)
    if name not in (CPU, MEMORY, EPHEMERAL_STORAGE) and (
        not is_scalar_resource_name(name) or name not in allocatable
    ):
        return 0, 0
    skipped = scalar_skipped(name, pod_request)
    return ite(skipped, 0, allocatable.get(name, 0)), ite(skipped, 0, requested)


@dataclass(frozen=True, slots=True)
class NodeResourcesFit(NormalizedByValue):
    """The plugin's args; ``shape`` holds RTCR points with scores already scaled to 0..100."""

    name: ClassVar[str] = "NodeResourcesFit"

    ignored_resources: frozenset[str] = frozenset()
    ignored_resource_groups: frozenset[str] = frozenset()
    scoring_type: str = LEAST_ALLOCATED
    resources: tuple[tuple[str, int], ...] = DEFAULT_RESOURCES
    shape: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> NodeResourcesFit:
        """NodeResourcesFitArgs (v1, camelCase), defaulted and validated as upstream."""
        # upstream: pkg/scheduler/apis/config/validation/validation_pluginargs.go
        # ValidateNodeResourcesFitArgs, validateFunctionShape
        ignored = tuple(args.get("ignoredResources") or ())
        groups = tuple(args.get("ignoredResourceGroups") or ())
        for group in groups:
            if "/" in group:
                raise KubeproofError(f"ignoredResourceGroups: {group!r} must not contain '/'")
        strategy = args.get("scoringStrategy") or {}
        kind = strategy.get("type") or LEAST_ALLOCATED
        if kind not in (LEAST_ALLOCATED, MOST_ALLOCATED, REQUESTED_TO_CAPACITY_RATIO):
            raise KubeproofError(f"scoringStrategy.type: unsupported value {kind!r}")
        resources = parse_resources(strategy.get("resources"), "scoringStrategy.resources")
        shape: tuple[tuple[int, int], ...] = ()
        if kind == REQUESTED_TO_CAPACITY_RATIO:
            points = (strategy.get("requestedToCapacityRatio") or {}).get("shape") or ()
            shape = _parse_shape(points)
        return cls(frozenset(ignored), frozenset(groups), kind, resources, shape)

    # --- filter ----------------------------------------------------------------------------

    def pre_filter(self, pod: Pod, snapshot: Snapshot) -> PreResult:
        """The pod's request vector (actual requests, no defaults)."""
        return PreResult(state=pod_requests(pod))

    def _checked(self, state: Any, node_info: NodeInfo) -> list[tuple[str, Any, Any]]:
        """``(reason, insufficient, unresolvable)`` per check, in upstream's order."""
        # upstream: pkg/scheduler/framework/plugins/noderesources/fit.go fitsRequest
        allocatable = allocatable_of(node_info)
        requested = requested_of(node_info)
        # upstream: a node that does not report allocatable pods allows none (allowed_pod_number)
        pods_full = len(node_info.pods) + 1 > allocatable.get(PODS, 0)
        checks = [("Too many pods", pods_full, False)]
        scalars = [n for n in state if is_scalar_resource_name(n) and not self._ignored(n)]
        for name in [n for n in (CPU, MEMORY, EPHEMERAL_STORAGE) if n in state] + scalars:
            request, alloc = state[name], allocatable.get(name, 0)
            free = alloc - requested.get(name, 0)
            insufficient = all_of((request > 0, request > free))
            checks.append((f"Insufficient {name}", insufficient, request > alloc))
        return checks

    def _ignored(self, name: str) -> bool:
        if not is_extended_resource_name(name):
            return False
        return name in self.ignored_resources or name.split("/")[0] in self.ignored_resource_groups

    def feasible(self, state: Any, pod: Pod, node_info: NodeInfo) -> Any:
        return not_(any_of(bad for _, bad, _ in self._checked(state, node_info)))

    def filter(self, state: Any, pod: Pod, node_info: NodeInfo) -> Status:
        failed = [(reason, hard) for reason, bad, hard in self._checked(state, node_info) if bad]
        if not failed:
            return SUCCESS_STATUS
        hard = any(h for _, h in failed)
        return Status(
            UNSCHEDULABLE_AND_UNRESOLVABLE if hard else UNSCHEDULABLE, tuple(r for r, _ in failed)
        )

    # --- score -----------------------------------------------------------------------------

    def pre_score(self, pod: Pod, snapshot: Snapshot, feasible: Sequence[NodeInfo]) -> PreResult:
        """The pod's request per configured resource, with the non-zero defaults."""
        requests = pod_requests(pod, non_zero=True)
        return PreResult(state=tuple(requests.get(name, 0) for name, _ in self.resources))

    def score(self, state: Any, pod: Pod, node_info: NodeInfo) -> Any:
        # upstream: resource_allocation.go score; least_allocated.go, most_allocated.go,
        # requested_to_capacity_ratio.go
        total, weights = 0, 0
        for (name, weight), pod_request in zip(self.resources, state, strict=True):
            alloc, used = score_inputs(name, pod_request, node_info, use_requested=False)
            req = used + pod_request
            counted, divisor = alloc != 0, ite(alloc == 0, 1, alloc)  # no division by zero
            if self.scoring_type == LEAST_ALLOCATED:
                s = ite(req > alloc, 0, div((alloc - req) * MAX_NODE_SCORE, divisor))
            elif self.scoring_type == MOST_ALLOCATED:
                s = div(min_of((req, alloc)) * MAX_NODE_SCORE, divisor)
            else:
                full = any_of((alloc == 0, req > alloc))
                ratio = div(req * MAX_UTILIZATION, divisor)
                s = self._shape_score(ite(full, MAX_UTILIZATION, ratio))
                counted = all_of((counted, s > 0))  # RTCR counts only resources scoring > 0
            total = sum_of((total, ite(counted, s * weight, 0)))
            weights = sum_of((weights, ite(counted, weight, 0)))
        if self.scoring_type == REQUESTED_TO_CAPACITY_RATIO:
            # math.Round(total / weights), half away from zero; both are non-negative
            rounded = div(2 * total + weights, ite(weights == 0, 1, 2 * weights))
            return ite(weights == 0, 0, rounded)
        return ite(weights == 0, 0, div(total, ite(weights == 0, 1, weights)))

    def _shape_score(self, p: Any) -> Any:
        """The broken-linear function through ``shape`` (Go integer division)."""
        # upstream: pkg/scheduler/framework/plugins/helper/shape_score.go BuildBrokenLinearFunction
        result = self.shape[-1][1]
        for i in range(len(self.shape) - 1, -1, -1):
            u, s = self.shape[i]
            if i == 0:
                value = s
            else:
                u0, s0 = self.shape[i - 1]
                value = s0 + div((s - s0) * (p - u0), u - u0)
            result = ite(p <= u, value, result)
        return result

    def normalize(self, state: Any, pod: Pod, scores: Sequence[Any]) -> tuple[Any, ...]:
        """No ScoreExtensions upstream: the raw score is final."""
        return tuple(scores)

    def node_signature_key(self, state: Any, pod: Pod) -> Any:
        return self.name

    def node_signature(self, key: Any, node_info: NodeInfo) -> Any:
        """Filter and score read only allocatable, the requested sums and the pod count."""
        return resources_signature(node_info)


def _parse_shape(points: Any) -> tuple[tuple[int, int], ...]:
    if not points:
        raise KubeproofError("scoringStrategy.requestedToCapacityRatio.shape: must not be empty")
    shape, previous = [], -1
    for i, point in enumerate(points):
        where = f"scoringStrategy.requestedToCapacityRatio.shape[{i}]"
        utilization, score = point.get("utilization", 0), point.get("score", 0)
        if not isinstance(utilization, int) or not 0 <= utilization <= MAX_UTILIZATION:
            raise KubeproofError(f"{where}.utilization: must be in the range 0-100")
        if utilization <= previous:
            raise KubeproofError(f"{where}.utilization: values must be sorted in increasing order")
        if not isinstance(score, int) or not 0 <= score <= MAX_CUSTOM_PRIORITY_SCORE:
            raise KubeproofError(f"{where}.score: must be in the range 0-10")
        previous = utilization
        # upstream: requested_to_capacity_ratio.go scales 0..10 to 0..MaxNodeScore
        shape.append((utilization, score * (MAX_NODE_SCORE // MAX_CUSTOM_PRIORITY_SCORE)))
    return tuple(shape)
