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

from dataclasses import dataclass
from typing import Any, ClassVar

from kubeproof.model.logic import any_of, not_
from kubeproof.model.objects import Pod, Taint
from kubeproof.model.scheduler.framework import (
    SUCCESS_STATUS,
    UNSCHEDULABLE_AND_UNRESOLVABLE,
    NodeInfo,
    Status,
)
from kubeproof.model.scheduler.matching import taint_tolerated
from kubeproof.model.scheduler.plugins.base import NoArgs, NoPreFilter

__all__ = ["NodeUnschedulable"]

ERR_REASON = "node(s) were unschedulable"  # upstream: ErrReasonUnschedulable
UNSCHEDULABLE_TAINT = Taint(key="node.kubernetes.io/unschedulable", effect="NoSchedule")


@dataclass(frozen=True, slots=True)
class NodeUnschedulable(NoArgs, NoPreFilter):
    """Filter only; no args."""

    name: ClassVar[str] = "NodeUnschedulable"

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
