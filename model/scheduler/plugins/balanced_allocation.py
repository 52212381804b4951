"""NodeResourcesBalancedAllocation: prefer nodes whose resource usage the pod makes more even.

For each configured resource the node reports, the fraction ``min(requested / allocatable, 1)``
(actual requests, no 100m/200Mi defaults); the balance is ``B = int((1 - std) * 100)`` where
std is the population standard deviation of the fractions (``|f1 - f2| / 2`` for two).
Since v1.36 (kubernetes PR 135573) the score rewards the *change* in balance:
``50 + (50 + B_with_pod - B_without_pod) / 2``, in [50, 100]; 75 means no change. A pod that
requests none of the resources is skipped at PreScore.

Concrete values follow upstream's float64 steps exactly (Python floats are IEEE doubles, and Go
on amd64 does not fuse these operations). Symbolic values (any z3 term) get the exact rational
value instead, with no sqrt: ``B = 100 - #{j >= 0 : j^2 * n^2 < 10000 * (n*S2 - S1^2)}``, where
n, S1, S2 are the count, sum and sum of squares of the fractions (z3 Reals), because
``floor(100 - 100 s) = 100 - ceil(100 s)`` and ``j < 100 s`` iff ``j^2 < 10000 s^2``; with two
resources ``B = ToInt(100 - 50 |f1 - f2|)`` (ToInt floors; the value is non-negative). The two
differ where float64 rounding lands just below an integer the rationals reach exactly: fractions
0.6 and 0.8 give B = 89 upstream and 90 exactly (about 0.1% of fraction pairs), so a theorem over
the symbolic score holds for the exact score, which may exceed upstream's B by one.

>>> from kubeproof.model.objects import Container, FrozenMap, Node, NodeStatus, ObjectMeta, Pod
>>> from kubeproof.model.objects import PodSpec
>>> from kubeproof.model.quantity import parse_quantity as q
>>> from kubeproof.model.scheduler.framework import NodeInfo
>>> node = Node(ObjectMeta(name="n1"), status=NodeStatus(allocatable=FrozenMap(
...     cpu=q("4"), memory=q("8Gi"))))
>>> pod = Pod(spec=PodSpec(containers=(Container("c", requests=FrozenMap(
...     cpu=q("1"), memory=q("2Gi"))),)))
>>> plugin = NodeResourcesBalancedAllocation.from_args({})
>>> plugin.score(plugin.pre_score(pod, None, ()).state, pod, NodeInfo(node))
75
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from kubeproof.model.errors import KubeproofError
from kubeproof.model.logic import all_of, count_if, div, is_symbolic
from kubeproof.model.objects import Pod
from kubeproof.model.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    NodeInfo,
    PreResult,
    Snapshot,
    Status,
)
from kubeproof.model.scheduler.plugins.base import NormalizedByValue
from kubeproof.model.scheduler.plugins.node_resources_fit import (
    parse_resources,
    resources_signature,
    score_inputs,
)
from kubeproof.model.scheduler.resources import pod_requests

__all__ = ["NodeResourcesBalancedAllocation", "balance"]


def balance(requested: Sequence[Any], allocatable: Sequence[Any]) -> Any:
    """``int((1 - std) * 100)`` over the resources with allocatable != 0 (pre-1.36 score)."""
    # upstream: pkg/scheduler/framework/plugins/noderesources/balanced_allocation.go
    # balancedResourceScorer (balancedResourceScore since PR 135573)
    if any(is_symbolic(v) for v in (*requested, *allocatable)):
        return _exact_balance(requested, allocatable)
    pairs = zip(requested, allocatable, strict=True)
    fractions = [min(float(r) / float(a), 1.0) for r, a in pairs if a != 0]
    std = 0.0
    if len(fractions) == 2:
        std = abs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        mean = sum(fractions, 0.0) / len(fractions)
        total = 0.0
        for fraction in fractions:
            total = total + (fraction - mean) * (fraction - mean)
        std = math.sqrt(total / len(fractions))
    return int((1 - std) * MAX_NODE_SCORE)


def _exact_balance(requested: Sequence[Any], allocatable: Sequence[Any]) -> Any:
    """The same in exact rationals (z3 Reals), see the module docstring."""
    import z3

    included, fractions = [], []
    for r, a in zip(requested, allocatable, strict=True):
        r, a = _real(z3, r), _real(z3, a)
        included.append(a != 0)
        fractions.append(z3.If(a == 0, z3.RealVal(0), z3.If(r > a, z3.RealVal(1), r / a)))
    if len(fractions) == 2:
        spread = z3.If(
            fractions[0] >= fractions[1], fractions[0] - fractions[1], fractions[1] - fractions[0]
        )
        exact = z3.ToInt(MAX_NODE_SCORE - (MAX_NODE_SCORE // 2) * spread)
        return z3.If(z3.And(*included), exact, MAX_NODE_SCORE)
    n = z3.Sum([z3.If(inc, z3.RealVal(1), z3.RealVal(0)) for inc in included])
    s1 = z3.Sum(fractions)  # an excluded resource contributes fraction 0
    s2 = z3.Sum([f * f for f in fractions])
    scaled_variance = (MAX_NODE_SCORE**2) * (n * s2 - s1 * s1)  # 10000 * n^2 * variance
    # std <= 1/2 for fractions in [0, 1], so ceil(100 * std) <= 50
    return MAX_NODE_SCORE - count_if(j * j * n * n < scaled_variance for j in range(51))


def _real(z3: Any, value: Any) -> Any:
    """A z3 Real for an int or a z3 Int (or Real)."""
    if not is_symbolic(value):
        return z3.RealVal(value)
    return z3.ToReal(value) if value.is_int() else value


@dataclass(frozen=True, slots=True)
class NodeResourcesBalancedAllocation(NormalizedByValue):
    """The plugin's args: the resources to balance (weights are ignored upstream, must be 1)."""

    name: ClassVar[str] = "NodeResourcesBalancedAllocation"

    resources: tuple[tuple[str, int], ...] = (("cpu", 1), ("memory", 1))

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> NodeResourcesBalancedAllocation:
        """NodeResourcesBalancedAllocationArgs (v1, camelCase), defaulted and validated."""
        # upstream: pkg/scheduler/apis/config/validation/validation_pluginargs.go
        # ValidateNodeResourcesBalancedAllocationArgs
        resources = parse_resources(args.get("resources"), "resources")
        seen = set()
        for i, (name, weight) in enumerate(resources):
            if name in seen:
                raise KubeproofError(f"resources[{i}].name: duplicate value {name!r}")
            if weight != 1:
                raise KubeproofError(f"resources[{i}].weight: must be 1, got {weight}")
            seen.add(name)
        return cls(resources)

    def pre_score(self, pod: Pod, snapshot: Snapshot, feasible: Sequence[NodeInfo]) -> PreResult:
        """The pod's actual request per resource; Skip for a pod requesting none of them.

        For a symbolic pod the Skip condition may be symbolic: then the result is Success and
        :meth:`skipped` gives the condition as a logic value.
        """
        requests = pod_requests(pod)
        state = tuple(requests.get(name, 0) for name, _ in self.resources)
        skipped = self.skipped(state)
        if not is_symbolic(skipped) and skipped:
            # upstream: balanced_allocation.go PreScore (isBestEffortPod, issue 129138)
            return PreResult(Status(SKIP), state)
        return PreResult(state=state)

    def skipped(self, state: Any) -> Any:
        """True when the pod requests none of the resources (best-effort for this plugin)."""
        return all_of(request == 0 for request in state)

    def score(self, state: Any, pod: Pod, node_info: NodeInfo) -> Any:
        # upstream: resource_allocation.go score, balanced_allocation.go balancedResourceScorer
        allocatable, with_pod, without_pod = [], [], []
        for (name, _), request in zip(self.resources, state, strict=True):
            alloc, used = score_inputs(name, request, node_info, use_requested=True)
            allocatable.append(alloc)
            with_pod.append(used + request)
            without_pod.append(used)
        change = balance(with_pod, allocatable) - balance(without_pod, allocatable)
        half = MAX_NODE_SCORE // 2
        return half + div(half + change, 2)

    def normalize(self, state: Any, pod: Pod, scores: Sequence[Any]) -> tuple[Any, ...]:
        """No ScoreExtensions upstream: the raw score is final."""
        return tuple(scores)

    def node_signature_key(self, state: Any, pod: Pod) -> Any:
        return self.name

    def node_signature(self, key: Any, node_info: NodeInfo) -> Any:
        return resources_signature(node_info)
