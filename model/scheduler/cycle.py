"""One scheduling cycle: PreFilter, Filter, PreScore, Score, NormalizeScore, selection.

``schedule_one`` evaluates every filter plugin on every node, rather than stopping at the first
failure as upstream does, so a user sees every reason at once; the verdict and upstream's event
message use only the first failure, as upstream does. Every node is evaluated
(``percentageOfNodesToScore: 100``), and a tie between the best nodes is broken by a seeded random
choice, so a run is repeatable.

>>> from kubeproof.model.objects import Node, ObjectMeta, Pod
>>> from kubeproof.model.scheduler.profile import default_profile
>>> snapshot = Snapshot((NodeInfo(Node(ObjectMeta(name="n1"))),))
>>> schedule_one(default_profile(), Pod(ObjectMeta(name="p", namespace="d")), snapshot).selected
'n1'
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, replace

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

__all__ = ["Decision", "NodeEvaluation", "PluginScore", "assume", "schedule_one"]


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
            # upstream: schedule_one.go findNodesThatFitPod: nodes outside a PreFilterResult are
            # not evaluated and count as UnschedulableAndUnresolvable.
            reason = f"node(s) didn't satisfy plugin(s) [{plugin.name}]"
            statuses.append((plugin.name, Status(UNSCHEDULABLE_AND_UNRESOLVABLE, (reason,))))
        else:
            statuses.append((plugin.name, plugin.filter(result.state, pod, info)))
    return NodeEvaluation(info.name, tuple(statuses))


def _score_nodes(
    profile: Profile, pod: Pod, snapshot: Snapshot, evaluations: list[NodeEvaluation]
) -> list[NodeEvaluation]:
    # upstream: pkg/scheduler/framework/runtime/framework.go RunScorePlugins
    infos = [snapshot.node(e.name) for e in evaluations]
    per_node: list[list[tuple[str, PluginScore]]] = [[] for _ in evaluations]
    for plugin, weight in profile.scores:
        pre = plugin.pre_score(pod, snapshot, infos)
        if pre.status.code == SKIP:
            continue
        raw = [plugin.score(pre.state, pod, info) for info in infos]
        normalized = plugin.normalize(pre.state, pod, raw)
        for index, (r, n) in enumerate(zip(raw, normalized, strict=True)):
            if not MIN_NODE_SCORE <= n <= MAX_NODE_SCORE:
                raise ValueError(f"{plugin.name} normalized score {n} is outside [0, 100]")
            per_node[index].append((plugin.name, PluginScore(r, n, n * weight)))
    return [replace(e, scores=tuple(s)) for e, s in zip(evaluations, per_node, strict=True)]


def _message(evaluations: list[NodeEvaluation], pre_failure: Status | None) -> str:
    # upstream: pkg/scheduler/framework/types.go FitError.Error
    message = f"0/{len(evaluations)} nodes are available:"
    if pre_failure is not None:
        return f"{message} {', '.join(pre_failure.reasons)}."
    reasons: Counter[str] = Counter()
    for evaluation in evaluations:
        failure = evaluation.first_failure
        reasons.update(failure.reasons if failure else ())
    histogram = sorted(f"{count} {reason}" for reason, count in reasons.items())
    return f"{message} {', '.join(histogram)}." if histogram else message


def _select(candidates: list[NodeEvaluation], pod: Pod, seed: int) -> str:
    # upstream: pkg/scheduler/schedule_one.go selectHost: the highest total, ties broken
    # uniformly at random (reservoir sampling); here the random choice is seeded by the pod.
    best = max(e.total for e in candidates)
    tied = [e.name for e in candidates if e.total == best]
    return random.Random(f"{seed}/{object_key(pod)}").choice(tied)


def schedule_one(
    profile: Profile, pod: Pod, snapshot: Snapshot, *, seed: int = 0, score_all: bool = False
) -> Decision:
    """The scheduling decision for ``pod`` against ``snapshot``, with every node's evaluation.

    Scoring runs, as upstream, only when two or more nodes are feasible. ``score_all`` reports
    scores for every node, normalized over all of them as upstream's plugin tests do; the choice
    is still made from the scores over the feasible nodes only.
    """
    pre = {plugin.name: plugin.pre_filter(pod, snapshot) for plugin in profile.filters}
    pre_failure = next(
        (r.status for r in pre.values() if not r.status.is_success and r.status.code != SKIP),
        None,
    )
    evaluations = [_filter_node(profile, pre, pod, info) for info in snapshot.nodes]
    feasible = [e for e in evaluations if e.feasible]
    if len(feasible) > 1:
        feasible = _score_nodes(profile, pod, snapshot, feasible)
        scored = {e.name: e for e in feasible}
        evaluations = [scored.get(e.name, e) for e in evaluations]
    if score_all:
        evaluations = _score_nodes(profile, pod, snapshot, evaluations)
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
