"""What every scheduler plugin sees and returns: the cluster snapshot, statuses and the protocols.

A plugin is a frozen dataclass holding its arguments (from the profile). Its rule is written once
over ``kubeproof.model.logic``, so it runs on concrete objects and on z3 terms:

- ``pre_filter(pod, snapshot)`` computes what the plugin needs once per pod (the pod's request
  vector, the topology counts...) and returns a ``PreResult``: a status (Success, Skip, or a
  failure for every node), that ``state``, and optionally the only node names worth filtering.
- ``feasible(state, pod, node_info)`` is the filter's verdict, a logic value (bool or z3 Bool).
- ``filter(state, pod, node_info)`` is the concrete ``Status`` with upstream's reason strings;
  it must agree with ``feasible`` (a test checks that).
- ``pre_score(pod, snapshot, feasible)`` returns a ``PreResult`` likewise (Skip leaves the
  plugin out of this pod's scoring);
- ``score(state, pod, node_info)`` is the raw score, a logic value (int or z3 Int), and
  ``normalize(state, pod, scores)`` maps the feasible nodes' raw scores to [0, 100].

What may be symbolic: strings (names, label keys and values, taint and toleration fields) and
integers (resource amounts, counts, ports). What is always concrete: the shape (how many
containers, taints, terms, expressions; selector operators) and the plugin's arguments. A
symbolic resource map holds amounts (millicores for cpu, base units otherwise) as z3 Ints where
a concrete one holds Quantities; ``resource_amount`` in the resources plugin accepts both.

upstream: pkg/scheduler/framework/interface.go (FilterPlugin, ScorePlugin, ScoreExtensions),
pkg/scheduler/framework/types.go (NodeInfo).

>>> from kubeproof.model.objects import Node, ObjectMeta
>>> info = NodeInfo(Node(ObjectMeta(name="n1")))
>>> info.name, SUCCESS_STATUS.is_success, Status(UNSCHEDULABLE, ("Insufficient cpu",)).is_success
('n1', True, False)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from kubeproof.model.logic import div, is_symbolic, ite, max_of
from kubeproof.model.objects import Namespace, Node, Pod

__all__ = [
    "SKIP",
    "SUCCESS",
    "SUCCESS_STATUS",
    "UNSCHEDULABLE",
    "UNSCHEDULABLE_AND_UNRESOLVABLE",
    "FilterPlugin",
    "NodeInfo",
    "PreResult",
    "ScorePlugin",
    "Snapshot",
    "Status",
    "default_normalize_score",
]

MAX_NODE_SCORE = 100  # upstream: pkg/scheduler/framework/interface.go MaxNodeScore
MIN_NODE_SCORE = 0

SUCCESS = "Success"
UNSCHEDULABLE = "Unschedulable"  # preemption might help
UNSCHEDULABLE_AND_UNRESOLVABLE = "UnschedulableAndUnresolvable"  # preemption cannot help
SKIP = "Skip"  # from pre_filter / pre_score: the plugin does not run for this pod


@dataclass(frozen=True, slots=True)
class Status:
    """A plugin's verdict: a code and upstream's reason strings."""

    code: str = SUCCESS
    reasons: tuple[str, ...] = ()

    @property
    def is_success(self) -> bool:
        return self.code == SUCCESS


SUCCESS_STATUS = Status()


@dataclass(frozen=True, slots=True)
class PreResult:
    """What PreFilter or PreScore returns: a status, the per-pod state the later calls receive,
    and (PreFilter only) the node names the plugin restricts the cycle to, if it does."""

    status: Status = SUCCESS_STATUS
    state: Any = None
    node_names: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A node and the pods on it (bound or assumed), as the scheduler's cache holds them."""

    node: Node
    pods: tuple[Pod, ...] = ()

    @property
    def name(self) -> str:
        return self.node.metadata.name


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The scheduler's view for one scheduling cycle: every node with its pods, the
    namespaces (for inter-pod affinity's namespaceSelector), and the Services,
    ReplicationControllers, ReplicaSets and StatefulSets (for PodTopologySpread's default
    selector)."""

    nodes: tuple[NodeInfo, ...]
    namespaces: tuple[Namespace, ...] = ()
    workloads: tuple[Any, ...] = ()

    def node(self, name: str) -> NodeInfo | None:
        """The NodeInfo of the node named ``name``, if any."""
        return next((info for info in self.nodes if info.name == name), None)


@runtime_checkable
class FilterPlugin(Protocol):
    """A Filter (with its PreFilter): see the module docstring."""

    name: str

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> FilterPlugin:
        """The plugin configured by its pluginConfig args (camelCase, as in the YAML)."""
        ...

    def pre_filter(self, pod: Pod, snapshot: Snapshot) -> PreResult: ...

    def feasible(self, state: Any, pod: Pod, node_info: NodeInfo) -> Any: ...

    def filter(self, state: Any, pod: Pod, node_info: NodeInfo) -> Status: ...


@runtime_checkable
class ScorePlugin(Protocol):
    """A Score (with its PreScore and NormalizeScore): see the module docstring."""

    name: str

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> ScorePlugin:
        """The plugin configured by its pluginConfig args (camelCase, as in the YAML)."""
        ...

    def pre_score(
        self, pod: Pod, snapshot: Snapshot, feasible: Sequence[NodeInfo]
    ) -> PreResult: ...

    def score(self, state: Any, pod: Pod, node_info: NodeInfo) -> Any: ...

    def normalize(self, state: Any, pod: Pod, scores: Sequence[Any]) -> tuple[Any, ...]: ...


def default_normalize_score(scores: Sequence[Any], reverse: bool = False) -> tuple[Any, ...]:
    """Scale raw scores to [0, 100] by the largest (upstream DefaultNormalizeScore): all stay as
    they are (or become 100 when ``reverse``) if the largest is 0; ``reverse`` flips the scale."""
    # upstream: pkg/scheduler/framework/plugins/helper/normalize_score.go DefaultNormalizeScore
    top = max_of(scores, default=0)
    if not is_symbolic(top) and top == 0:
        return tuple(MAX_NODE_SCORE if reverse else s for s in scores)
    # A z3 division by 0 is unconstrained: divide by 1 where top is 0 (that branch is unused).
    divisor = top if not is_symbolic(top) else ite(top == 0, 1, top)
    out = []
    for score in scores:
        value = div(MAX_NODE_SCORE * score, divisor)
        value = MAX_NODE_SCORE - value if reverse else value
        out.append(ite(top == 0, MAX_NODE_SCORE if reverse else score, value))
    return tuple(out)
