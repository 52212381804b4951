"""Small clusters for the bug catalogue's stories: nodes, the components a story needs, and
scenarios that start on a cluster that has already settled.

A bug's story usually begins on a running cluster (a Deployment rolled out, a scheduler
leading). :func:`settled` runs a scenario fairly to quiescence (model/run.py) once and starts
every run there, with the story's own requests still to send, so a counterexample trace holds
only the steps of the story.

>>> from kubeproof.model.scenarios import kubectl_create_deployment, nodes_ready
>>> from kubeproof.model.cluster import Guarded
>>> from kubeproof.model.apiserver.server import Request
>>> nodes = (node("node-1", 1),)
>>> create = Request(ADMIN, "create", "deployments", "default",
...                  body=kubectl_create_deployment("nginx", "nginx", 1))
>>> base = Scenario("one", "", components(nodes, "deployment", "replicaset", "scheduler"),
...                 api_for(nodes), (Guarded(nodes_ready(1), create),))
>>> start = settled(base).initial_state()
>>> [p.status.phase for p in listed(start, "pods", "default")], start.clients
(['Running'], ())
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from kubeproof.model.apiserver.server import ApiState, Request, default_users, handle
from kubeproof.model.apiserver.server import initial_state as api_state
from kubeproof.model.cluster import Guarded, State
from kubeproof.model.controllers.protocol import Controller
from kubeproof.model.objects import FrozenMap, Node, NodeSpec, NodeStatus, ObjectMeta, Taint
from kubeproof.model.quantity import parse_quantity
from kubeproof.model.run import run
from kubeproof.model.scenarios import ADMIN, Scenario, builtin_controllers, listed

__all__ = [
    "ADMIN",
    "HOSTNAME",
    "Settled",
    "api_for",
    "api_with_nodes",
    "components",
    "listed",
    "node",
    "settled",
]

HOSTNAME = "kubernetes.io/hostname"


def node(
    name: str,
    index: int,
    labels: dict[str, str] | None = None,
    taints: tuple[Taint, ...] = (),
    cpu: str = "2",
) -> Node:
    """The Node a kubelet registers: its hostname label (upstream: kubelet_node_status.go
    initialNode), ``labels`` and ``taints`` (--node-labels, --register-with-taints), a
    podCIDR of its own (the ``index``-th /24 of 10.244.0.0/16), 4Gi and 110 pods."""
    capacity = FrozenMap(
        cpu=parse_quantity(cpu), memory=parse_quantity("4Gi"), pods=parse_quantity("110")
    )
    return Node(
        ObjectMeta(name=name, labels=FrozenMap({HOSTNAME: name, **(labels or {})})),
        NodeSpec(taints=taints, pod_cidr=f"10.244.{index}.0/24"),
        NodeStatus(capacity=capacity, allocatable=capacity),
    )


def components(nodes: Iterable[Node], *names: str) -> tuple[Controller, ...]:
    """One kubelet per node and the built-in controllers named (fewer components make
    shorter runs and traces)."""
    return tuple(
        c for c in builtin_controllers(nodes) if c.name.startswith("kubelet-") or c.name in names
    )


def api_for(nodes: Iterable[Node]) -> ApiState:
    """The api-server with the default users, one kubelet identity per node."""
    return api_state(default_users(nodes=tuple(n.metadata.name for n in nodes)))


def api_with_nodes(nodes: Iterable[Node]) -> ApiState:
    """``api_for(nodes)`` with the Node objects already stored: a story without kubelets."""
    nodes = tuple(nodes)
    api = api_for(nodes)
    for n in nodes:
        api, response = handle(api, Request(ADMIN, "create", "nodes", body=n))
        if not response.ok:
            raise ValueError(f"cannot create node {n.metadata.name}: {response.status}")
    return api


@dataclass(frozen=True)
class Settled(Scenario):
    """A scenario whose runs start at ``start``: another scenario's cluster after its fair run
    settled, with this scenario's ``clients`` still to send."""

    start: State | None = None

    def initial_state(self) -> State:
        if self.start is None:
            return super().initial_state()
        return self.start


def settled(
    scenario: Scenario, then: tuple[Request | Guarded, ...] = (), description: str = ""
) -> Settled:
    """``scenario`` run fairly until it settles, then ``then`` (the story's requests)."""
    result = run(scenario)
    if result.reason != "quiescent" or result.state.clients:
        raise ValueError(f"scenario {scenario.name} does not settle: {result.reason}")
    return Settled(
        scenario.name,
        description or scenario.description,
        scenario.controllers,
        scenario.api,
        then,
        facts=scenario.facts,
        start=replace(result.state, clients=then),
    )
