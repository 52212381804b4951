"""TaintToleration: a pod goes only where it tolerates every NoSchedule and NoExecute taint,
and prefers nodes with fewer PreferNoSchedule taints it does not tolerate.

upstream: pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go. Toleration
matching is ``matching.tolerates`` (the alpha Lt/Gt operators, gate off, never match).

>>> from kubeproof.model.objects import Node, NodeSpec, ObjectMeta, Pod, Taint
>>> from kubeproof.model.scheduler.framework import NodeInfo
>>> tainted = NodeInfo(Node(ObjectMeta(name="n1"), NodeSpec(taints=(Taint("gpu", "NoSchedule"),))))
>>> TaintToleration().filter(None, Pod(), tainted).reasons
('node(s) had untolerated taint {gpu: }',)
>>> plugin = TaintToleration()
>>> plugin.normalize(None, Pod(), (0, 1, 2))
(100, 50, 0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from kubeproof.model.logic import all_of, any_of, count_if, is_in, not_
from kubeproof.model.objects import Pod, Taint, Toleration
from kubeproof.model.scheduler.framework import (
    SUCCESS_STATUS,
    UNSCHEDULABLE_AND_UNRESOLVABLE,
    NodeInfo,
    PreResult,
    Snapshot,
    Status,
    default_normalize_score,
)
from kubeproof.model.scheduler.matching import taint_tolerated, tolerates
from kubeproof.model.scheduler.plugins.base import NoArgs, NoPreFilter, NormalizedByValue

__all__ = ["TaintToleration"]

# upstream: plugins/helper/taint.go DoNotScheduleTaintsFilterFunc
DO_NOT_SCHEDULE = ("NoSchedule", "NoExecute")


def _blocks(taint: Taint, tolerations: tuple[Toleration, ...]) -> Any:
    """Whether the taint keeps the pod off the node: NoSchedule/NoExecute and untolerated."""
    return all_of((is_in(taint.effect, DO_NOT_SCHEDULE), not_(taint_tolerated(taint, tolerations))))


@dataclass(frozen=True, slots=True)
class TaintToleration(NoArgs, NoPreFilter, NormalizedByValue):
    """Filter and Score; no args."""

    name: ClassVar[str] = "TaintToleration"

    def feasible(self, state: Any, pod: Pod, node_info: NodeInfo) -> Any:
        tolerations = pod.spec.tolerations
        return all_of(not_(_blocks(t, tolerations)) for t in node_info.node.spec.taints)

    def filter(self, state: Any, pod: Pod, node_info: NodeInfo) -> Status:
        # upstream: Filter via FindMatchingUntoleratedTaint: the first blocking taint is named
        for taint in node_info.node.spec.taints:
            if _blocks(taint, pod.spec.tolerations):
                reason = f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}"
                return Status(UNSCHEDULABLE_AND_UNRESOLVABLE, (reason,))
        return SUCCESS_STATUS

    def pre_score(self, pod: Pod, snapshot: Snapshot, feasible: Sequence[NodeInfo]) -> PreResult:
        # upstream: PreScore keeps the tolerations with an empty or PreferNoSchedule effect
        return PreResult(state=pod.spec.tolerations)

    def score(self, state: Any, pod: Pod, node_info: NodeInfo) -> Any:
        # upstream: countIntolerableTaintsPreferNoSchedule
        tolerations = pod.spec.tolerations if state is None else state

        def kept_tolerates(toleration: Toleration, taint: Taint) -> Any:
            kept = is_in(toleration.effect, ("", "PreferNoSchedule"))
            return all_of((kept, tolerates(toleration, taint)))

        return count_if(
            all_of(
                (
                    taint.effect == "PreferNoSchedule",
                    not_(any_of(kept_tolerates(t, taint) for t in tolerations)),
                )
            )
            for taint in node_info.node.spec.taints
        )

    def normalize(self, state: Any, pod: Pod, scores: Sequence[Any]) -> tuple[Any, ...]:
        # upstream: NormalizeScore: DefaultNormalizeScore(MaxNodeScore, reverse=true)
        return default_normalize_score(scores, reverse=True)

    def node_signature_key(self, state: Any, pod: Pod) -> Any:
        return self.name

    def node_signature(self, key: Any, node_info: NodeInfo) -> Any:
        return node_info.node.spec.taints
