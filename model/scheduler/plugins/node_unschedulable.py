"""NodeUnschedulable: a cordoned node (``spec.unschedulable``) takes only pods that tolerate
the ``node.kubernetes.io/unschedulable:NoSchedule`` taint.

upstream: pkg/scheduler/framework/plugins/nodeunschedulable/node_unschedulable.go

>>> from kubeproof.model.objects import Node, NodeSpec, ObjectMeta, Pod
>>> from kubeproof.model.scheduler.framework import NodeInfo
>>> cordoned = NodeInfo(Node(ObjectMeta(name="n1"), NodeSpec(unschedulable=True)))
>>> NodeUnschedulable().filter(None, Pod(), cordoned)
Status(code='UnschedulableAndUnresolvable', reasons=('node(s) were unschedulable',))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from kubeproof.model.errors import KubeproofError
from kubeproof.model.logic import any_of, not_
from kubeproof.model.objects import Pod, Taint
from kubeproof.model.scheduler.framework import (
    SUCCESS_STATUS,
    UNSCHEDULABLE_AND_UNRESOLVABLE,
    NodeInfo,
    PreResult,
    Snapshot,
    Status,
)
from kubeproof.model.scheduler.matching import taint_tolerated

__all__ = ["NodeUnschedulable"]

ERR_REASON = "node(s) were unschedulable"  # upstream: ErrReasonUnschedulable
UNSCHEDULABLE_TAINT = Taint(key="node.kubernetes.io/unschedulable", effect="NoSchedule")


def no_args(name: str, args: Mapping[str, Any]) -> None:
    """Reject pluginConfig args for a plugin that takes none."""
    if args:
        raise KubeproofError(f"plugin {name} takes no args, got {', '.join(sorted(args))}")


@dataclass(frozen=True, slots=True)
class NodeUnschedulable:
    """Filter only; no args."""

    name: ClassVar[str] = "NodeUnschedulable"

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> NodeUnschedulable:
        no_args(cls.name, args)
        return cls()

    def pre_filter(self, pod: Pod, snapshot: Snapshot) -> PreResult:
        return PreResult()  # upstream has no PreFilter

    def feasible(self, state: Any, pod: Pod, node_info: NodeInfo) -> Any:
        # upstream: Filter: tolerating the taint also tolerates spec.unschedulable
        tolerated = taint_tolerated(UNSCHEDULABLE_TAINT, pod.spec.tolerations)
        return any_of((not_(node_info.node.spec.unschedulable), tolerated))

    def filter(self, state: Any, pod: Pod, node_info: NodeInfo) -> Status:
        if self.feasible(state, pod, node_info):
            return SUCCESS_STATUS
        return Status(UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_REASON,))

    def node_signature_key(self, state: Any, pod: Pod) -> Any:
        return self.name

    def node_signature(self, key: Any, node_info: NodeInfo) -> Any:
        return node_info.node.spec.unschedulable
