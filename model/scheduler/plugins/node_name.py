"""NodeName: a pod that names a node (``spec.nodeName``) fits only that node.

upstream: pkg/scheduler/framework/plugins/nodename/node_name.go

>>> from kubeproof.model.objects import Node, ObjectMeta, Pod, PodSpec
>>> from kubeproof.model.scheduler.framework import NodeInfo
>>> info = NodeInfo(Node(ObjectMeta(name="n1")))
>>> NodeName().filter(None, Pod(spec=PodSpec(node_name="n2")), info).reasons
("node(s) didn't match the requested node name",)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from kubeproof.model.logic import any_of, is_symbolic
from kubeproof.model.objects import Pod
from kubeproof.model.scheduler.framework import (
    SUCCESS_STATUS,
    UNSCHEDULABLE_AND_UNRESOLVABLE,
    NodeInfo,
    Status,
)
from kubeproof.model.scheduler.plugins.base import NoArgs, NoPreFilter

__all__ = ["NodeName"]

ERR_REASON = "node(s) didn't match the requested node name"  # upstream: ErrReason


@dataclass(frozen=True, slots=True)
class NodeName(NoArgs, NoPreFilter):
    """Filter only; no args."""

    name: ClassVar[str] = "NodeName"

    def feasible(self, state: Any, pod: Pod, node_info: NodeInfo) -> Any:
        # upstream: Fits: an empty nodeName fits every node
        wanted = pod.spec.node_name
        return any_of((wanted == "", wanted == node_info.node.metadata.name))

    def filter(self, state: Any, pod: Pod, node_info: NodeInfo) -> Status:
        if self.feasible(state, pod, node_info):
            return SUCCESS_STATUS
        return Status(UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_REASON,))

    def node_signature_key(self, state: Any, pod: Pod) -> Any:
        wanted = pod.spec.node_name
        return None if is_symbolic(wanted) else wanted != ""  # "": every node fits

    def node_signature(self, key: Any, node_info: NodeInfo) -> Any:
        return node_info.node.metadata.name if key else None
