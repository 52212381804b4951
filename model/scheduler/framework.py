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

Optionally, for the simulator's speed (``cycle.schedule_one`` groups nodes the plugin cannot
tell apart, and runs it once per group; a plugin without these methods runs on every node):

- ``node_signature_key(state, pod)`` says, once per pod, what the plugin reads of a node for
  this pod and state (e.g. the label keys its selectors name), as a hashable; ``None`` when it
  cannot say (e.g. a symbolic pod): then every node is evaluated.
- ``node_signature(key, node_info)`` is everything ``filter`` and ``score`` read of the node,
  as a hashable, computed from the key and the node alone. The contract: two nodes with equal
  signatures get equal filter Statuses and equal raw scores for that pod and state.
- ``normalize_classes(state, pod, infos, scores)`` is ``normalize`` over classes of equivalent
  feasible nodes: ``infos[i]`` stands for every node of one class (equal signatures) and
  ``scores[i]`` is their raw score; entry ``i`` of the result must be what ``normalize`` over
  all the feasible nodes gives each of those nodes, whatever the classes' sizes
  (``plugins.base.NormalizedByValue`` where NormalizeScore reads only the set of scores).

The incremental cycle (``incremental``) passes ``pre_score`` its feasible nodes as
``FeasibleNodes``, which also hold the snapshot's other nodes: a plugin may then take a count
over the feasible nodes from a ``Snapshot.node_sum`` (carried from one snapshot to the next as
pods are assumed) less the excluded nodes' share. Other callers pass a plain sequence, so
the plugin counts node by node there, and the two are tested against each other.
(InterPodAffinity asks node sums, on any snapshot, whether any pod has terms at all, as
upstream keeps the lists of nodes with such pods.)

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

from collections.abc import Callable, Mapping, Sequence
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
    "FeasibleNodes",
    "FilterPlugin",
    "NodeInfo",
    "PreResult",
    "ScorePlugin",
    "Snapshot",
    "Status",
    "default_normalize_score",
    "label_signature",
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


@dataclass(frozen=True)
class NodeInfo:
    """A node and the pods on it (bound or assumed), as the scheduler's cache holds them.

    ``memo(fn, *args)`` is ``fn(self, *args)``, computed once per NodeInfo: the aggregates the
    plugins read (requested resources, host ports in use...) are not recomputed for every pod.
    It cannot go stale: a NodeInfo never changes (its node and pods are frozen values), and a
    changed node is a new NodeInfo (``dataclasses.replace``, as ``cycle.assume`` does) with an
    empty memo. The memo lives in the instance ``__dict__`` (hence no ``slots``), outside the
    dataclass fields: equality, hashing, ``repr`` and ``replace`` ignore it.
    """

    node: Node
    pods: tuple[Pod, ...] = ()

    @property
    def name(self) -> str:
        return self.node.metadata.name

    def memo(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(self, *args)``, remembered for this NodeInfo; ``fn`` must read only the
        NodeInfo and the (hashable, concrete) ``args``."""
        key = (fn, args)
        try:
            return self._memo[key]  # type: ignore[attr-defined]
        except (AttributeError, KeyError):
            pass
        # frozen: write the instance __dict__ directly, past the guard (see above)
        cache = self.__dict__.setdefault("_memo", {})
        value = cache[key] = fn(self, *args)
        return value


@dataclass(frozen=True)
class Snapshot:
    """The scheduler's view for one scheduling cycle: every node with its pods, the
    namespaces (for inter-pod affinity's namespaceSelector), and the Services,
    ReplicationControllers, ReplicaSets and StatefulSets (for PodTopologySpread's default
    selector)."""

    nodes: tuple[NodeInfo, ...]
    namespaces: tuple[Namespace, ...] = ()
    workloads: tuple[Any, ...] = ()

    def node_sum(self, fn: Callable[..., Mapping[Any, int]], *args: Any) -> Mapping[Any, int]:
        """The sum over the nodes of ``fn(info, *args)``, mappings of ints added key by key (a
        key whose sum is 0 is left out); ``fn`` must read only the NodeInfo and the (hashable,
        concrete) ``args``.

        Remembered on the snapshot; a snapshot made from this one by ``with_node_infos``
        starts from this sum and corrects it for the replaced NodeInfos only, so a sum a
        plugin reads for every pod costs the nodes the previous pods were assumed onto.
        """
        sums = self.__dict__.get("_sums")
        if sums is None:
            sums = {}
            object.__setattr__(self, "_sums", sums)
        key = (fn, args)
        entry = sums.get(key)
        if entry is None:
            entry = sums[key] = [{}, 0]
            for info in self.nodes:
                _add_into(entry[0], fn(info, *args), 1)
        entry[1] = 0
        return entry[0]

    def with_node_infos(self, changed: Mapping[int, NodeInfo]) -> Snapshot:
        """This snapshot with the NodeInfos at the indices of ``changed`` replaced (as an
        assumed pod replaces its node's), its ``node_sum``s carried over: each corrected by the
        replaced NodeInfos' shares, old out and new in."""
        nodes = list(self.nodes)
        for index, info in changed.items():
            nodes[index] = info
        new = Snapshot(tuple(nodes), self.namespaces, self.workloads)
        carried = {}
        for (fn, args), (total, idle) in (self.__dict__.get("_sums") or {}).items():
            if idle >= _SUM_IDLE_LIMIT:
                continue  # a sum no cycle read lately is no longer kept up to date
            delta: dict[Any, int] = {}
            for index, info in changed.items():
                _add_into(delta, fn(self.nodes[index], *args), -1)
                _add_into(delta, fn(info, *args), 1)
            total = dict(total)
            _add_into(total, delta, 1)
            carried[(fn, args)] = [total, idle + 1]
        if carried:
            object.__setattr__(new, "_sums", carried)
        return new

    def node(self, name: str) -> NodeInfo | None:
        """The NodeInfo of the node named ``name``, if any (the first, for a repeated name)."""
        # An index built on first use and kept in the instance __dict__ (not a field): the
        # snapshot is immutable, so the index cannot go stale.
        index = self.__dict__.get("_by_name")
        if index is None:
            index = {}
            for info in self.nodes:
                index.setdefault(info.name, info)
            object.__setattr__(self, "_by_name", index)
        return index.get(name)


_SUM_IDLE_LIMIT = 8  # snapshots a node_sum is carried through without being read


def _add_into(total: dict[Any, int], amounts: Mapping[Any, int], sign: int) -> None:
    for key, amount in amounts.items():
        value = total.get(key, 0) + sign * amount
        if value:
            total[key] = value
        else:
            total.pop(key, None)


class FeasibleNodes(tuple):
    """The feasible NodeInfos (a tuple, in snapshot order) that also hold the snapshot's other
    nodes, ``excluded``: what the incremental cycle gives ``pre_score``, so that a plugin can
    take what it counts over the feasible nodes from a ``Snapshot.node_sum`` less the excluded
    nodes' share, rather than visit every node."""

    excluded: tuple[NodeInfo, ...]

    def __new__(cls, infos: Sequence[NodeInfo], excluded: Sequence[NodeInfo]) -> FeasibleNodes:
        self = super().__new__(cls, infos)
        self.excluded = tuple(excluded)
        return self


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


_ABSENT = object()


def label_signature(labels: Mapping[str, Any], keys: Sequence[str]) -> tuple[Any, ...]:
    """The labels' values at ``keys`` (a marker where a key is absent), for node signatures."""
    return tuple(labels.get(key, _ABSENT) for key in keys)


def default_normalize_score(scores: Sequence[Any], reverse: bool = False) -> tuple[Any, ...]:
    """Scale raw scores to [0, 100] by the largest (upstream DefaultNormalizeScore): all stay as
    they are (or become 100 when ``reverse``) if the largest is 0; ``reverse`` flips the scale."""
    # upstream: pkg/scheduler/framework/plugins/helper/normalize_score.go DefaultNormalizeScore
    if all(type(s) is int and s >= 0 for s in scores):  # concrete: floor is Go's truncation
        top = max(scores, default=0)
        if top == 0:
            return tuple(MAX_NODE_SCORE if reverse else s for s in scores)
        if reverse:
            return tuple(MAX_NODE_SCORE - MAX_NODE_SCORE * s // top for s in scores)
        return tuple(MAX_NODE_SCORE * s // top for s in scores)
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
