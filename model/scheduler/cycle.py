"""One scheduling cycle: PreFilter, Filter, PreScore, Score, NormalizeScore, selection.

``schedule_one`` evaluates every filter plugin on every node, rather than stopping at the first
failure as upstream does, so a user sees every reason at once; the verdict and upstream's event
message use only the first failure, as upstream does. Every node is evaluated
(``percentageOfNodesToScore: 100``), and a tie between the best nodes is broken by a seeded random
choice, so a run is repeatable.

Equivalence classes (``equivalence=True``, the default; see ``equivalence``) make this affordable
on thousands of nodes: nodes a plugin cannot tell apart are evaluated once. ``equivalence=False``
runs every plugin on every node: the reference the faster paths are tested against
(tests/test_schedule_speed_equivalence.py).

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

import random
from collections.abc import Sequence
from dataclasses import replace

from kubeproof.model.objects import Pod, object_key
from kubeproof.model.scheduler.equivalence import EquivalenceCache, evaluate_by_class
from kubeproof.model.scheduler.evaluation import (
    Decision,
    NodeEvaluation,
    PluginScore,
    check_normalized,
    outside_status,
    unschedulable_message,
)
from kubeproof.model.scheduler.framework import SKIP, NodeInfo, Snapshot, Status
from kubeproof.model.scheduler.profile import Profile

__all__ = [
    "Decision",
    "EquivalenceCache",
    "NodeEvaluation",
    "PluginScore",
    "assume",
    "schedule_one",
    "select_host",
]


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
            statuses.append((plugin.name, outside_status(plugin.name)))
        else:
            statuses.append((plugin.name, plugin.filter(result.state, pod, info)))
    return NodeEvaluation(info.name, tuple(statuses))


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
        check_normalized(plugin, normalized)
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


# --- the cycle -----------------------------------------------------------------------------


def _message(evaluations: list[NodeEvaluation], pre_failure: Status | None) -> str:
    failures: dict[int, list] = {}  # filters tuples are shared between nodes
    for evaluation in evaluations:
        entry = failures.get(id(evaluation.filters))
        if entry is None:
            entry = failures[id(evaluation.filters)] = [evaluation.first_failure, 0]
        entry[1] += 1
    return unschedulable_message(len(evaluations), list(failures.values()), pre_failure)


def select_host(tied: Sequence[str], pod: Pod, seed: int) -> str:
    """The node chosen among ``tied``, the feasible nodes with the highest total in node order."""
    # upstream: pkg/scheduler/schedule_one.go selectHost: the highest total, ties broken
    # uniformly at random (reservoir sampling); here the random choice is seeded by the pod.
    return random.Random(f"{seed}/{object_key(pod)}").choice(tied)


def _select(candidates: list[NodeEvaluation], pod: Pod, seed: int) -> str:
    totals: dict[int, int] = {}  # scores tuples are shared between nodes
    for e in candidates:
        if id(e.scores) not in totals:
            totals[id(e.scores)] = sum(score.weighted for _, score in e.scores)
    best = max(totals.values())
    return select_host([e.name for e in candidates if totals[id(e.scores)] == best], pod, seed)


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
        evaluations, feasible = evaluate_by_class(profile, pre, pod, snapshot, score_all, cache)
    else:
        evaluations, feasible = _evaluate_every_node(profile, pre, pod, snapshot, score_all)
    if not feasible:
        return Decision(pod, None, _message(evaluations, pre_failure), tuple(evaluations))
    selected = feasible[0].name if len(feasible) == 1 else _select(feasible, pod, seed)
    message = f"Successfully assigned {object_key(pod)} to {selected}"
    return Decision(pod, selected, message, tuple(evaluations))


def assume(snapshot: Snapshot, pod: Pod, node_name: str) -> Snapshot:
    """The snapshot with ``pod`` placed on ``node_name``, as the scheduler assumes it before
    binding, so the next decision sees it. A new snapshot with nothing remembered (its
    ``node_sum``s are computed afresh): the reference ``IncrementalScheduler.assume`` is
    tested against."""
    bound = replace(pod, spec=replace(pod.spec, node_name=node_name))
    nodes = tuple(
        replace(info, pods=(*info.pods, bound)) if info.name == node_name else info
        for info in snapshot.nodes
    )
    return replace(snapshot, nodes=nodes)
