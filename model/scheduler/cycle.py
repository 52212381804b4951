"""One scheduling cycle: PreFilter, Filter, PreScore, Score, NormalizeScore, selection.

``schedule_one`` evaluates every filter plugin on every node, rather than stopping at the first
failure as upstream does, so a user sees every reason at once; the verdict and upstream's event
message use only the first failure, as upstream does. Every node is evaluated
(``percentageOfNodesToScore: 100``), and a tie between the best nodes is broken by a seeded random
choice, so a run is repeatable.

Equivalence classes (``equivalence=True``, the default) make this affordable on thousands of
nodes: each plugin that can names, per pod, what it reads of a node (``node_signature_key``) and
computes a node's ``node_signature`` from that alone (see ``framework``); nodes whose signatures
are equal for every active plugin are one class, evaluated once, and each plugin's Status and raw
score are also shared by (plugin, signature) across classes. Normalization still sees every
node's raw score, and every node gets its own NodeEvaluation. A node's signatures are memoized on
its NodeInfo (``NodeInfo.memo``), so a node unchanged since the previous pod is not looked at
again. ``equivalence=False`` runs every plugin on every node: the reference the cached cycle is
tested against (tests/test_schedule_speed_equivalence.py).

>>> from kubeproof.model.objects import FrozenMap, Node, NodeStatus, ObjectMeta, Pod
>>> from kubeproof.model.quantity import parse_quantity
>>> from kubeproof.model.scheduler.profile import default_profile
>>> room = NodeStatus(allocatable=FrozenMap(pods=parse_quantity("110")))
>>> snapshot = Snapshot(tuple(NodeInfo(Node(ObjectMeta(name=n), status=room)) for n in "ab"))
>>> decision = schedule_one(default_profile(), Pod(ObjectMeta(name="p", namespace="d")), snapshot)
>>> decision.selected, decision.nodes[0] == schedule_one(
...     default_profile(), decision.pod, snapshot, equivalence=False).nodes[0]
('a', True)
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from kubeproof.model.objects import Pod, object_key
from kubeproof.model.scheduler.framework import (
    MAX_NODE_SCORE,
    MIN_NODE_SCORE,
    SKIP,
    SUCCESS,
    UNSCHEDULABLE_AND_UNRESOLVABLE,
    NodeInfo,
    Snapshot,
    Status,
)
from kubeproof.model.scheduler.profile import Profile

__all__ = [
    "Decision",
    "EquivalenceCache",
    "NodeEvaluation",
    "PluginScore",
    "assume",
    "schedule_one",
]


@dataclass(frozen=True, slots=True)
class PluginScore:
    raw: int
    normalized: int
    weighted: int


@dataclass(frozen=True, slots=True)
class NodeEvaluation:
    """One node's verdict: each filter plugin's status in profile order, then its scores."""

    name: str
    filters: tuple[tuple[str, Status], ...]
    scores: tuple[tuple[str, PluginScore], ...] = ()

    @property
    def feasible(self) -> bool:
        return self.first_failure is None

    @property
    def first_failure(self) -> Status | None:
        """The status upstream reports: the first plugin that did not pass."""
        return next((s for _, s in self.filters if s.code not in (SUCCESS, SKIP)), None)

    @property
    def total(self) -> int:
        return sum(score.weighted for _, score in self.scores)


@dataclass(frozen=True, slots=True)
class Decision:
    """Where one pod goes (``selected``, or ``None``) and why, node by node."""

    pod: Pod
    selected: str | None
    message: str
    nodes: tuple[NodeEvaluation, ...]


def _first_failure(filters: tuple[tuple[str, Status], ...]) -> Status | None:
    return next((s for _, s in filters if s.code not in (SUCCESS, SKIP)), None)


def _outside(plugin_name: str) -> Status:
    # upstream: schedule_one.go findNodesThatFitPod: nodes outside a PreFilterResult are not
    # evaluated and count as UnschedulableAndUnresolvable.
    reason = f"node(s) didn't satisfy plugin(s) [{plugin_name}]"
    return Status(UNSCHEDULABLE_AND_UNRESOLVABLE, (reason,))


# --- the reference: every plugin on every node ---------------------------------------------


def _filter_node(profile: Profile, pre: dict, pod: Pod, info: NodeInfo) -> NodeEvaluation:
    statuses = []
    for plugin in profile.filters:
        result = pre[plugin.name]
        if result.status.code == SKIP:
            # upstream: a plugin whose PreFilter skips does not filter this pod; reported as Skip
            statuses.append((plugin.name, result.status))
        elif not result.status.is_success:
            statuses.append((plugin.name, result.status))
        elif result.node_names is not None and info.name not in result.node_names:
            statuses.append((plugin.name, _outside(plugin.name)))
        else:
            statuses.append((plugin.name, plugin.filter(result.state, pod, info)))
    return NodeEvaluation(info.name, tuple(statuses))


def _check_normalized(plugin: Any, normalized: Sequence[int]) -> None:
    for n in normalized:
        if not MIN_NODE_SCORE <= n <= MAX_NODE_SCORE:
            raise ValueError(f"{plugin.name} normalized score {n} is outside [0, 100]")


def _score_nodes(
    profile: Profile, pod: Pod, snapshot: Snapshot, infos: Sequence[NodeInfo]
) -> list[tuple[tuple[str, PluginScore], ...]]:
    # upstream: pkg/scheduler/framework/runtime/framework.go RunScorePlugins
    per_node: list[list[tuple[str, PluginScore]]] = [[] for _ in infos]
    for plugin, weight in profile.scores:
        pre = plugin.pre_score(pod, snapshot, infos)
        if pre.status.code == SKIP:
            continue
        raw = [plugin.score(pre.state, pod, info) for info in infos]
        normalized = plugin.normalize(pre.state, pod, raw)
        _check_normalized(plugin, normalized)
        for index, (r, n) in enumerate(zip(raw, normalized, strict=True)):
            per_node[index].append((plugin.name, PluginScore(r, n, n * weight)))
    return [tuple(s) for s in per_node]


def _evaluate_every_node(
    profile: Profile, pre: dict, pod: Pod, snapshot: Snapshot, score_all: bool
) -> tuple[list[NodeEvaluation], list[NodeEvaluation]]:
    """(every node's evaluation, the feasible ones with the scores the choice is made from)."""
    evaluations = [_filter_node(profile, pre, pod, info) for info in snapshot.nodes]
    fits = [i for i, e in enumerate(evaluations) if e.feasible]
    feasible = [evaluations[i] for i in fits]
    if len(feasible) > 1:
        scores = _score_nodes(profile, pod, snapshot, [snapshot.nodes[i] for i in fits])
        feasible = [replace(e, scores=s) for e, s in zip(feasible, scores, strict=True)]
        for i, e in zip(fits, feasible, strict=True):
            evaluations[i] = e
    if score_all:
        scores = _score_nodes(profile, pod, snapshot, snapshot.nodes)
        evaluations = [replace(e, scores=s) for e, s in zip(evaluations, scores, strict=True)]
    return evaluations, feasible


# --- equivalence classes -------------------------------------------------------------------


class EquivalenceCache:
    """What one run of the scheduler (``schedule_all``) keeps from one cycle to the next: the
    signature keys seen, each kept as one object, so a NodeInfo's memoized signatures are found
    by identity. It holds no verdicts: those live for one cycle only."""

    __slots__ = ("_keys",)

    def __init__(self) -> None:
        self._keys: dict[_Key, _Key] = {}

    def key(self, items: tuple[tuple[Any, Any], ...]) -> _Key:
        """The one ``_Key`` of this run for these (plugin, signature key) pairs."""
        key = _Key(items)
        return self._keys.setdefault(key, key)


_TOKENS = itertools.count()


class _Key:
    """(plugin, signature key) for each active plugin of a phase, with its hash computed once;
    it also interns the node signatures computed under it, so equal ones are one object."""

    __slots__ = ("_hash", "items", "signatures", "token")

    def __init__(self, items: tuple[tuple[Any, Any], ...]) -> None:
        self.items = items
        self._hash = hash(items)
        self.signatures: dict[tuple, tuple] = {}
        self.token = next(_TOKENS)  # names this key in NodeInfo memos (_node_signature)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, _Key) and self.items == other.items)


def _signature(info: NodeInfo, key: _Key) -> tuple:
    """The node's signature for every plugin of ``key`` (memoized per NodeInfo, see module
    docstring); a plugin without a signature key gets a fresh object, equal to no other."""
    signature = tuple(
        object() if k is None else plugin.node_signature(k, info) for plugin, k in key.items
    )
    return key.signatures.setdefault(signature, signature)


def _node_signature(info: NodeInfo, key: _Key) -> tuple:
    """:func:`_signature`, memoized on the NodeInfo under the key's token (NodeInfo.memo's own
    keys are (function, args) tuples, so an int cannot collide; an int hashes and compares in
    C, which matters here: this runs for every node of every cycle)."""
    memo = info.__dict__.setdefault("_memo", {})
    signature = memo.get(key.token)
    if signature is None:
        signature = memo[key.token] = _signature(info, key)
    return signature


def _phase_key(cache: EquivalenceCache, active: list[tuple[Any, Any, Any]], pod: Pod) -> _Key:
    items = []
    for plugin, state, _ in active:
        sign = getattr(plugin, "node_signature_key", None)
        items.append((plugin, None if sign is None else sign(state, pod)))
    return cache.key(tuple(items))


def _classes(infos: Sequence[NodeInfo], key: _Key, extra: Any = None) -> tuple[list, dict]:
    """Each node's class (its interned signature, with ``extra(info)`` if given), and the first
    node of every class. Equal signatures are one object (interned under ``key``), so a class
    is found by identity."""
    ids, first = [], {}
    for info in infos:
        signature = _node_signature(info, key)
        cls = id(signature) if extra is None else (id(signature), extra(info))
        ids.append(cls)
        if cls not in first:
            first[cls] = info
    return ids, first


def _filter_classes(
    profile: Profile, pre: dict, pod: Pod, snapshot: Snapshot, cache: EquivalenceCache
) -> list[tuple[tuple[str, Status], ...]]:
    """Every node's filter statuses, evaluated once per class."""
    fixed: list[Status | None] = []  # a status the same for every node, else None
    active = []  # (plugin, state, index in profile order)
    restricted = []  # (index, node names) of PreFilterResults naming nodes
    for index, plugin in enumerate(profile.filters):
        result = pre[plugin.name]
        if result.status.code == SKIP or not result.status.is_success:
            fixed.append(result.status)
            continue
        fixed.append(None)
        active.append((plugin, result.state, index))
        if result.node_names is not None:
            restricted.append((index, result.node_names))
    key = _phase_key(cache, active, pod)

    def inside(info: NodeInfo) -> tuple[bool, ...]:
        return tuple(info.name in names for _, names in restricted)

    ids, first = _classes(snapshot.nodes, key, inside if restricted else None)
    shared: dict[tuple[int, Any], Status] = {}  # (plugin index, its signature) -> Status
    verdicts = {}
    for cls, info in first.items():
        statuses = list(fixed)
        signature = _node_signature(info, key)
        outside = {i for i, names in restricted if info.name not in names}
        for (plugin, state, index), own in zip(active, signature, strict=True):
            if index in outside:
                statuses[index] = _outside(plugin.name)
                continue
            status = shared.get((index, own))
            if status is None:
                status = shared[(index, own)] = plugin.filter(state, pod, info)
            statuses[index] = status
        names = (plugin.name for plugin in profile.filters)
        verdicts[cls] = tuple(zip(names, statuses, strict=True))
    return [verdicts[cls] for cls in ids]


def _score_classes(
    profile: Profile,
    pod: Pod,
    snapshot: Snapshot,
    infos: Sequence[NodeInfo],
    cache: EquivalenceCache,
) -> list[tuple[tuple[str, PluginScore], ...]]:
    """Every node's scores: raw scores once per class, normalized over all ``infos``."""
    # upstream: pkg/scheduler/framework/runtime/framework.go RunScorePlugins
    active = []  # (plugin, state, weight)
    for plugin, weight in profile.scores:
        pre = plugin.pre_score(pod, snapshot, infos)
        if pre.status.code != SKIP:
            active.append((plugin, pre.state, weight))
    if not active:
        return [() for _ in infos]
    key = _phase_key(cache, active, pod)
    ids, first = _classes(infos, key)
    shared: dict[tuple[int, Any], Any] = {}  # (plugin position, its signature) -> raw score
    raw_by_class = {}
    for cls, info in first.items():
        row = []
        for position, ((plugin, state, _), own) in enumerate(
            zip(active, _node_signature(info, key), strict=True)
        ):
            raw = shared.get((position, own), shared)  # the dict itself: not computed yet
            if raw is shared:
                raw = shared[(position, own)] = plugin.score(state, pod, info)
            row.append(raw)
        raw_by_class[cls] = tuple(row)
    raw_rows = [raw_by_class[cls] for cls in ids]
    normalized = []
    for (plugin, state, _), column in zip(active, zip(*raw_rows, strict=True), strict=True):
        scores = plugin.normalize(state, pod, column)
        if min(scores) < MIN_NODE_SCORE or max(scores) > MAX_NODE_SCORE:
            _check_normalized(plugin, scores)
        normalized.append(scores)
    built: dict[tuple, tuple[tuple[str, PluginScore], ...]] = {}
    out = []
    for raw_row, normalized_row in zip(raw_rows, zip(*normalized, strict=True), strict=True):
        both = (id(raw_row), normalized_row)  # raw rows are one object per class
        scores = built.get(both)
        if scores is None:
            scores = built[both] = tuple(
                (plugin.name, PluginScore(r, n, n * weight))
                for (plugin, _, weight), r, n in zip(active, raw_row, normalized_row, strict=True)
            )
        out.append(scores)
    return out


def _evaluate_by_class(
    profile: Profile,
    pre: dict,
    pod: Pod,
    snapshot: Snapshot,
    score_all: bool,
    cache: EquivalenceCache,
) -> tuple[list[NodeEvaluation], list[NodeEvaluation]]:
    """As ``_evaluate_every_node``, each plugin run once per class of equivalent nodes."""
    filters = _filter_classes(profile, pre, pod, snapshot, cache)
    fit_by_verdict: dict[int, bool] = {}  # equivalent nodes share one filters tuple
    for verdict in filters:
        if id(verdict) not in fit_by_verdict:
            fit_by_verdict[id(verdict)] = _first_failure(verdict) is None
    fits = [i for i, verdict in enumerate(filters) if fit_by_verdict[id(verdict)]]
    nodes = snapshot.nodes
    scores: list = [()] * len(nodes)
    if len(fits) > 1:
        fit_scores = _score_classes(profile, pod, snapshot, [nodes[i] for i in fits], cache)
        for i, s in zip(fits, fit_scores, strict=True):
            scores[i] = s
    evaluations = [
        NodeEvaluation(info.node.metadata.name, f, s)
        for info, f, s in zip(nodes, filters, scores, strict=True)
    ]
    feasible = [evaluations[i] for i in fits]
    if score_all:
        scores = _score_classes(profile, pod, snapshot, nodes, cache)
        evaluations = [replace(e, scores=s) for e, s in zip(evaluations, scores, strict=True)]
    return evaluations, feasible


# --- the cycle -----------------------------------------------------------------------------


def _message(evaluations: list[NodeEvaluation], pre_failure: Status | None) -> str:
    # upstream: pkg/scheduler/framework/types.go FitError.Error
    message = f"0/{len(evaluations)} nodes are available:"
    if pre_failure is not None:
        return f"{message} {', '.join(pre_failure.reasons)}."
    reasons: Counter[str] = Counter()
    failures: dict[int, Status | None] = {}  # filters tuples are shared between nodes
    for evaluation in evaluations:
        key = id(evaluation.filters)
        if key not in failures:
            failures[key] = evaluation.first_failure
        failure = failures[key]
        reasons.update(failure.reasons if failure else ())
    histogram = sorted(f"{count} {reason}" for reason, count in reasons.items())
    return f"{message} {', '.join(histogram)}." if histogram else message


def _total(scores: tuple[tuple[str, PluginScore], ...]) -> int:
    return sum(score.weighted for _, score in scores)


def _select(candidates: list[NodeEvaluation], pod: Pod, seed: int) -> str:
    # upstream: pkg/scheduler/schedule_one.go selectHost: the highest total, ties broken
    # uniformly at random (reservoir sampling); here the random choice is seeded by the pod.
    totals: dict[int, int] = {}  # scores tuples are shared between nodes
    for e in candidates:
        if id(e.scores) not in totals:
            totals[id(e.scores)] = _total(e.scores)
    best = max(totals.values())
    tied = [e.name for e in candidates if totals[id(e.scores)] == best]
    return random.Random(f"{seed}/{object_key(pod)}").choice(tied)


def schedule_one(
    profile: Profile,
    pod: Pod,
    snapshot: Snapshot,
    *,
    seed: int = 0,
    score_all: bool = False,
    equivalence: bool = True,
    cache: EquivalenceCache | None = None,
) -> Decision:
    """The scheduling decision for ``pod`` against ``snapshot``, with every node's evaluation.

    Scoring runs, as upstream, only when two or more nodes are feasible. ``score_all`` reports
    scores for every node, normalized over all of them as upstream's plugin tests do; the choice
    is still made from the scores over the feasible nodes only. ``equivalence`` evaluates each
    class of equivalent nodes once (the same result, faster; see the module docstring);
    ``cache`` carries signature keys from one pod's cycle to the next within a run.
    """
    pre = {plugin.name: plugin.pre_filter(pod, snapshot) for plugin in profile.filters}
    pre_failure = next(
        (r.status for r in pre.values() if not r.status.is_success and r.status.code != SKIP),
        None,
    )
    if equivalence:
        cache = EquivalenceCache() if cache is None else cache
        evaluations, feasible = _evaluate_by_class(profile, pre, pod, snapshot, score_all, cache)
    else:
        evaluations, feasible = _evaluate_every_node(profile, pre, pod, snapshot, score_all)
    if not feasible:
        return Decision(pod, None, _message(evaluations, pre_failure), tuple(evaluations))
    selected = feasible[0].name if len(feasible) == 1 else _select(feasible, pod, seed)
    message = f"Successfully assigned {object_key(pod)} to {selected}"
    return Decision(pod, selected, message, tuple(evaluations))


def assume(snapshot: Snapshot, pod: Pod, node_name: str) -> Snapshot:
    """The snapshot with ``pod`` placed on ``node_name``, as the scheduler assumes it before
    binding, so the next decision sees it."""
    bound = replace(pod, spec=replace(pod.spec, node_name=node_name))
    nodes = tuple(
        replace(info, pods=(*info.pods, bound)) if info.name == node_name else info
        for info in snapshot.nodes
    )
    return replace(snapshot, nodes=nodes)
