"""Equivalence classes of nodes: each plugin evaluated once per class of nodes it cannot tell apart.

Each plugin that can names, per pod, what it reads of a node (``node_signature_key``) and
computes a node's ``node_signature`` from that alone (see ``framework``); nodes whose signatures
are equal for every active plugin are one class, evaluated once, and each plugin's Status and raw
score are also shared by (plugin, signature) across classes. A node's signatures are memoized on
its NodeInfo, so a node unchanged since the previous pod is not looked at again.

:func:`evaluate_by_class` is one cycle's evaluation: normalization sees every node's raw score,
and every node gets its own NodeEvaluation. ``incremental`` builds on the same pieces
(:func:`filter_plan`, :func:`class_filters`, :func:`score_plan`, :func:`class_raw_scores`) and
also keeps the classes from one pod to the next.

>>> from kubeproof.model.objects import FrozenMap, Node, NodeStatus, ObjectMeta, Pod
>>> from kubeproof.model.quantity import parse_quantity
>>> from kubeproof.model.scheduler.framework import Snapshot
>>> from kubeproof.model.scheduler.profile import default_profile
>>> room = NodeStatus(allocatable=FrozenMap(pods=parse_quantity("110")))
>>> snapshot = Snapshot(tuple(NodeInfo(Node(ObjectMeta(name=n), status=room)) for n in "abc"))
>>> profile, pod = default_profile(), Pod(ObjectMeta(name="p", namespace="d"))
>>> pre = {plugin.name: plugin.pre_filter(pod, snapshot) for plugin in profile.filters}
>>> every, feasible = evaluate_by_class(profile, pre, pod, snapshot, False, EquivalenceCache())
>>> len(feasible), len({id(e.filters) for e in every})
(3, 1)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from kubeproof.model.objects import Pod
from kubeproof.model.scheduler.evaluation import (
    Filters,
    NodeEvaluation,
    PluginScore,
    Scores,
    check_normalized,
    first_failure,
    outside_status,
)
from kubeproof.model.scheduler.framework import (
    MAX_NODE_SCORE,
    MIN_NODE_SCORE,
    SKIP,
    NodeInfo,
    Snapshot,
    Status,
)
from kubeproof.model.scheduler.profile import Profile

__all__ = [
    "EquivalenceCache",
    "FilterPlan",
    "SignatureKey",
    "class_filters",
    "class_raw_scores",
    "evaluate_by_class",
    "filter_plan",
    "node_signature",
    "score_plan",
]


class EquivalenceCache:
    """What one run of the scheduler (``schedule_all``) keeps from one cycle to the next: the
    signature keys seen, each kept as one object, so a NodeInfo's memoized signatures are found
    by identity. It holds no verdicts: those live for one cycle only."""

    __slots__ = ("_keys",)

    def __init__(self) -> None:
        self._keys: dict[SignatureKey, SignatureKey] = {}

    def key(self, items: tuple[tuple[Any, Any], ...]) -> SignatureKey:
        """The one ``SignatureKey`` of this run for these (plugin, signature key) pairs."""
        key = SignatureKey(items)
        return self._keys.setdefault(key, key)


_TOKENS = itertools.count()


class SignatureKey:
    """(plugin, signature key) for each active plugin of a phase, with its hash computed once;
    it also interns the node signatures computed under it, so equal ones are one object."""

    __slots__ = ("_hash", "items", "signatures", "token")

    def __init__(self, items: tuple[tuple[Any, Any], ...]) -> None:
        self.items = items
        self._hash = hash(items)
        self.signatures: dict[tuple, tuple] = {}
        self.token = next(_TOKENS)  # names this key in NodeInfo memos (node_signature)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, SignatureKey) and self.items == other.items)


def _signature(info: NodeInfo, key: SignatureKey) -> tuple:
    """The node's signature for every plugin of ``key``; a plugin without a signature key gets
    a fresh object, equal to no other."""
    signature = tuple(
        object() if k is None else plugin.node_signature(k, info) for plugin, k in key.items
    )
    return key.signatures.setdefault(signature, signature)


def node_signature(info: NodeInfo, key: SignatureKey) -> tuple:
    """The node's signature for every plugin of ``key``, interned under the key (equal ones are
    one object) and memoized on the NodeInfo under the key's token.

    NodeInfo.memo's own keys are (function, args) tuples, so an int cannot collide; an int
    hashes and compares in C, which matters here: this runs for every node of every cycle.
    """
    memo = info.__dict__.setdefault("_memo", {})
    signature = memo.get(key.token)
    if signature is None:
        signature = memo[key.token] = _signature(info, key)
    return signature


def _phase_key(cache: EquivalenceCache, active: Sequence[tuple[Any, Any, Any]], pod: Pod):
    items = []
    for plugin, state, _ in active:
        sign = getattr(plugin, "node_signature_key", None)
        items.append((plugin, None if sign is None else sign(state, pod)))
    return cache.key(tuple(items))


@dataclass(frozen=True, slots=True)
class FilterPlan:
    """One pod's filter phase: per filter plugin (profile order) the status fixed by its
    PreFilter (Skip or a failure) or ``None``; the plugins that filter, as (plugin, state,
    index); the PreFilterResults naming nodes, as (index, names); the signature key."""

    names: tuple[str, ...]
    fixed: tuple[Status | None, ...]
    active: tuple[tuple[Any, Any, int], ...]
    restricted: tuple[tuple[int, frozenset[str]], ...]
    key: SignatureKey

    def inside(self, info: NodeInfo) -> tuple[bool, ...]:
        """Whether the node is in each restricting PreFilterResult."""
        return tuple(info.name in names for _, names in self.restricted)


def filter_plan(profile: Profile, pre: dict, pod: Pod, cache: EquivalenceCache) -> FilterPlan:
    """The filter phase of ``pod``, from its PreFilter results ``pre`` (by plugin name)."""
    fixed: list[Status | None] = []
    active = []
    restricted = []
    for index, plugin in enumerate(profile.filters):
        result = pre[plugin.name]
        if result.status.code == SKIP or not result.status.is_success:
            # upstream: a plugin whose PreFilter skips does not filter this pod; reported as Skip
            fixed.append(result.status)
            continue
        fixed.append(None)
        active.append((plugin, result.state, index))
        if result.node_names is not None:
            restricted.append((index, result.node_names))
    names = tuple(plugin.name for plugin in profile.filters)
    key = _phase_key(cache, active, pod)
    return FilterPlan(names, tuple(fixed), tuple(active), tuple(restricted), key)


def class_filters(
    plan: FilterPlan, pod: Pod, info: NodeInfo, shared: dict[tuple[int, Any], Status]
) -> Filters:
    """The filter statuses of ``info``'s class; ``shared`` holds each (plugin index, plugin
    signature)'s Status for this pod, filled as plugins run."""
    statuses = list(plan.fixed)
    outside = {i for i, names in plan.restricted if info.name not in names}
    signature = node_signature(info, plan.key)
    for (plugin, state, index), own in zip(plan.active, signature, strict=True):
        if index in outside:
            statuses[index] = outside_status(plugin.name)
            continue
        status = shared.get((index, own))
        if status is None:
            status = shared[(index, own)] = plugin.filter(state, pod, info)
        statuses[index] = status
    return tuple(zip(plan.names, statuses, strict=True))


def score_plan(
    profile: Profile,
    pod: Pod,
    snapshot: Snapshot,
    infos: Sequence[NodeInfo],
    cache: EquivalenceCache,
) -> tuple[list[tuple[Any, Any, int]], SignatureKey]:
    """The score plugins that run for ``pod`` over the feasible ``infos`` (PreScore not
    skipped), as (plugin, state, weight), and their signature key."""
    # upstream: pkg/scheduler/framework/runtime/framework.go RunPreScorePlugins
    active = []
    for plugin, weight in profile.scores:
        pre = plugin.pre_score(pod, snapshot, infos)
        if pre.status.code != SKIP:
            active.append((plugin, pre.state, weight))
    return active, _phase_key(cache, active, pod)


def class_raw_scores(
    active: Sequence[tuple[Any, Any, int]],
    key: SignatureKey,
    pod: Pod,
    info: NodeInfo,
    shared: dict[tuple[int, Any], Any],
) -> tuple[Any, ...]:
    """Each active plugin's raw score of ``info``'s class; ``shared`` as in ``class_filters``."""
    row = []
    for position, ((plugin, state, _), own) in enumerate(
        zip(active, node_signature(info, key), strict=True)
    ):
        raw = shared.get((position, own), shared)  # the dict itself: not computed yet
        if raw is shared:
            raw = shared[(position, own)] = plugin.score(state, pod, info)
        row.append(raw)
    return tuple(row)


def _classes(infos: Sequence[NodeInfo], key: SignatureKey, extra: Any = None) -> tuple:
    """Each node's class (its interned signature, with ``extra(info)`` if given), and the first
    node of every class. Equal signatures are one object, so a class is found by identity."""
    ids, first = [], {}
    for info in infos:
        signature = node_signature(info, key)
        cls = id(signature) if extra is None else (id(signature), extra(info))
        ids.append(cls)
        if cls not in first:
            first[cls] = info
    return ids, first


def _filter_classes(
    profile: Profile, pre: dict, pod: Pod, snapshot: Snapshot, cache: EquivalenceCache
) -> list[Filters]:
    """Every node's filter statuses, evaluated once per class."""
    plan = filter_plan(profile, pre, pod, cache)
    ids, first = _classes(snapshot.nodes, plan.key, plan.inside if plan.restricted else None)
    shared: dict[tuple[int, Any], Status] = {}
    verdicts = {cls: class_filters(plan, pod, info, shared) for cls, info in first.items()}
    return [verdicts[cls] for cls in ids]


def _score_classes(
    profile: Profile,
    pod: Pod,
    snapshot: Snapshot,
    infos: Sequence[NodeInfo],
    cache: EquivalenceCache,
) -> list[Scores]:
    """Every node's scores: raw scores once per class, normalized over all ``infos``."""
    # upstream: pkg/scheduler/framework/runtime/framework.go RunScorePlugins
    active, key = score_plan(profile, pod, snapshot, infos, cache)
    if not active:
        return [() for _ in infos]
    ids, first = _classes(infos, key)
    shared: dict[tuple[int, Any], Any] = {}
    raw_by_class = {
        cls: class_raw_scores(active, key, pod, info, shared) for cls, info in first.items()
    }
    raw_rows = [raw_by_class[cls] for cls in ids]
    normalized = []
    for (plugin, state, _), column in zip(active, zip(*raw_rows, strict=True), strict=True):
        scores = plugin.normalize(state, pod, column)
        if min(scores) < MIN_NODE_SCORE or max(scores) > MAX_NODE_SCORE:
            check_normalized(plugin, scores)
        normalized.append(scores)
    built: dict[tuple, Scores] = {}
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


def evaluate_by_class(
    profile: Profile,
    pre: dict,
    pod: Pod,
    snapshot: Snapshot,
    score_all: bool,
    cache: EquivalenceCache,
) -> tuple[list[NodeEvaluation], list[NodeEvaluation]]:
    """(every node's evaluation, the feasible ones with the scores the choice is made from),
    each plugin run once per class of equivalent nodes."""
    filters = _filter_classes(profile, pre, pod, snapshot, cache)
    fit_by_verdict: dict[int, bool] = {}  # equivalent nodes share one filters tuple
    for verdict in filters:
        if id(verdict) not in fit_by_verdict:
            fit_by_verdict[id(verdict)] = first_failure(verdict) is None
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
