"""NodePorts: a pod's host ports must be free on the node.

A wanted ``(hostIP, protocol, hostPort)`` conflicts with one in use by a pod on the node when
protocol and port are equal and either IP is ``0.0.0.0`` or both are the same (an empty hostIP
means ``0.0.0.0``, an empty protocol ``TCP``). Ports come from the containers and the restartable
(sidecar) init containers; a hostPort of 0 or less is no host port.

upstream: pkg/scheduler/framework/plugins/nodeports/node_ports.go, pkg/scheduler/util/utils.go
GetHostPorts, pkg/scheduler/framework/types.go HostPortInfo.CheckConflict.

>>> from kubeproof.model.objects import Container, ContainerPort, Node, ObjectMeta, Pod, PodSpec
>>> from kubeproof.model.scheduler.framework import NodeInfo
>>> def web(host_ip=""):
...     port = ContainerPort(container_port=80, host_port=8080, host_ip=host_ip)
...     return Pod(spec=PodSpec(containers=(Container("web", ports=(port,)),)))
>>> info = NodeInfo(Node(ObjectMeta(name="n1")), (web("10.0.0.1"),))
>>> plugin = NodePorts()
>>> plugin.filter(plugin.pre_filter(web(), None).state, web(), info).reasons
("node(s) didn't have free ports for the requested pod ports",)
>>> plugin.pre_filter(Pod(), None).status.code
'Skip'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from kubeproof.model.logic import all_of, any_of, is_symbolic, ite, not_
from kubeproof.model.objects import Pod
from kubeproof.model.scheduler.framework import (
    SKIP,
    SUCCESS_STATUS,
    UNSCHEDULABLE,
    NodeInfo,
    PreResult,
    Snapshot,
    Status,
)
from kubeproof.model.scheduler.plugins.base import NoArgs

__all__ = ["NodePorts", "host_ports"]

ERR_REASON = "node(s) didn't have free ports for the requested pod ports"  # upstream: ErrReason
BIND_ALL = "0.0.0.0"  # upstream: types.go DefaultBindAllHostIP


@dataclass(frozen=True, slots=True)
class HostPort:
    """One normalized host port; ``active`` is ``hostPort > 0`` (a logic value)."""

    active: Any
    ip: Any
    protocol: Any
    port: Any


def host_ports(pod: Pod) -> tuple[HostPort, ...]:
    """Every port entry of the pod's sidecars and containers, normalized (upstream
    GetHostPorts and HostPortInfo.sanitize)."""
    sidecars = tuple(c for c in pod.spec.init_containers if c.restart_policy == "Always")
    out = []
    for container in sidecars + pod.spec.containers:
        for p in container.ports:
            # upstream: pkg/apis/core/v1/defaults.go SetDefaults_Pod: with hostNetwork the
            # api-server sets an unset hostPort to the containerPort (a no-op once admitted).
            port = ite(
                all_of((pod.spec.host_network, p.host_port == 0)), p.container_port, p.host_port
            )
            out.append(
                HostPort(
                    active=port > 0,
                    ip=ite(p.host_ip == "", BIND_ALL, p.host_ip),
                    protocol=ite(p.protocol == "", "TCP", p.protocol),
                    port=port,
                )
            )
    return tuple(out)


def _conflict(want: HostPort, used: HostPort) -> Any:
    # upstream: types.go HostPortInfo.CheckConflict
    same_ip = any_of((want.ip == BIND_ALL, used.ip == BIND_ALL, want.ip == used.ip))
    return all_of(
        (
            want.active,
            used.active,
            want.protocol == used.protocol,
            want.port == used.port,
            same_ip,
        )
    )


def _used_ports(node_info: NodeInfo) -> tuple[HostPort, ...]:
    """The host ports the node's pods use (upstream: NodeInfo.UsedPorts)."""
    return tuple(u for other in node_info.pods for u in host_ports(other))


@dataclass(frozen=True, slots=True)
class NodePorts(NoArgs):
    """PreFilter and Filter; no args."""

    name: ClassVar[str] = "NodePorts"

    def pre_filter(self, pod: Pod, snapshot: Snapshot) -> PreResult:
        # upstream: PreFilter: Skip when the pod wants no host port
        wanted = host_ports(pod)
        if all(not is_symbolic(w.active) and not w.active for w in wanted):
            return PreResult(Status(SKIP))
        return PreResult(state=wanted)

    def feasible(self, state: Any, pod: Pod, node_info: NodeInfo) -> Any:
        wanted = host_ports(pod) if state is None else state
        used = node_info.memo(_used_ports)
        return all_of(not_(_conflict(w, u)) for w in wanted for u in used)

    def filter(self, state: Any, pod: Pod, node_info: NodeInfo) -> Status:
        if self.feasible(state, pod, node_info):
            return SUCCESS_STATUS
        return Status(UNSCHEDULABLE, (ERR_REASON,))

    def node_signature_key(self, state: Any, pod: Pod) -> Any:
        return self.name

    def node_signature(self, key: Any, node_info: NodeInfo) -> Any:
        return node_info.memo(_used_ports)
