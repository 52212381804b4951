"""A queue of pods scheduled against one cluster, each cycle reusing what the previous ones built.

:class:`IncrementalScheduler` runs the cycles of ``simulate.schedule_all`` and decides exactly as
``cycle.schedule_one`` does (tests/test_schedule_speed_equivalence.py checks it decision by
decision against the plain cycle), at a cost that grows with the classes of equivalent nodes
(``equivalence``) rather than with the nodes:

- **Classes kept across cycles.** Between two cycles the snapshot changes only in the node the
  previous pod was assumed onto, so the partition of the nodes into classes under a signature
  key is kept and only that node is signed again. (Upstream's opportunistic batching, KEP-5598,
  likewise reuses one pod's work for the next pod with the same signature.) Each cycle still
  runs PreFilter and PreScore, and each plugin once per class: a plugin's verdict may change
  for every node of a class when the assumed pod changes its state (a zone's count, say), never
  between two nodes of one class.
- **Sums kept across cycles.** ``assume`` makes the next snapshot with
  ``Snapshot.with_node_infos``, which carries the snapshot's ``node_sum``s over, corrected for
  the changed node; PreScore is given ``FeasibleNodes``, so PodTopologySpread and ImageLocality
  take their per-domain and per-image counts from those sums instead of visiting every node.
- **Normalization per class.** Every score plugin's NormalizeScore is given one raw score per
  class (``normalize_classes``, see ``framework``); a profile with a score plugin that lacks it
  is run by ``schedule_one``.
- **Evaluations per class.** The decision's nodes are a ``NodeEvaluations``: every node's
  NodeEvaluation is built only when read, and the text output reads only the groups.

``score_all`` decisions are made by ``schedule_one`` (with this run's signature cache).

>>> from kubeproof.model.objects import FrozenMap, Node, NodeStatus, ObjectMeta, Pod
>>> from kubeproof.model.quantity import parse_quantity
>>> from kubeproof.model.scheduler.framework import NodeInfo
>>> from kubeproof.model.scheduler.profile import default_profile
>>> room = NodeStatus(allocatable=FrozenMap(pods=parse_quantity("2")))
>>> run = IncrementalScheduler(Snapshot(tuple(
...     NodeInfo(Node(ObjectMeta(name=n), status=room)) for n in "ab")))
>>> for name in ("p1", "p2", "p3", "p4", "p5"):
...     decision = run.decide(default_profile(), Pod(ObjectMeta(name=name, namespace="d")))
...     if decision.selected:
...         run.assume(decision.pod, decision.selected)
>>> decision.message, sorted(len(info.pods) for info in run.snapshot.nodes)
('0/2 nodes are available: 2 Too many pods.', [2, 2])
"""

from __future__ import annotations

import bisect
import itertools
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import replace
from typing import Any

from kubeproof.model.objects import Pod, object_key
from kubeproof.model.scheduler.cycle import schedule_one, select_host
from kubeproof.model.scheduler.equivalence import (
    EquivalenceCache,
    FilterPlan,
    SignatureKey,
    class_filters,
    class_raw_scores,
    filter_plan,
    node_signature,
    score_plan,
)
from kubeproof.model.scheduler.evaluation import (
    Decision,
    NodeEvaluations,
    PluginScore,
    check_normalized,
    first_failure,
    items_at,
    unschedulable_message,
)
from kubeproof.model.scheduler.framework import SKIP, FeasibleNodes, Snapshot
from kubeproof.model.scheduler.profile import Profile

__all__ = ["IncrementalScheduler"]

_PARTITIONS_KEPT = 16  # partitions kept for the signature keys used last


class _Partition:
    """The nodes of one snapshot version grouped by class: each node's class (``of``, by node
    index) and each class's node indices, ascending (``members``)."""

    __slots__ = ("members", "of", "version")

    def __init__(self, version: int, of: list[Hashable]) -> None:
        self.version = version
        self.of = of
        self.members: dict[Hashable, list[int]] = {}
        for index, cls in enumerate(of):
            self.members.setdefault(cls, []).append(index)

    def move(self, index: int, cls: Hashable) -> None:
        """Put the node at ``index`` into class ``cls``."""
        old = self.of[index]
        if old == cls:
            return
        members = self.members[old]
        del members[bisect.bisect_left(members, index)]
        if not members:
            del self.members[old]
        bisect.insort(self.members.setdefault(cls, []), index)
        self.of[index] = cls


def _classwise(profile: Profile) -> bool:
    """Whether every score plugin of the profile can normalize one raw score per class."""
    return all(hasattr(plugin, "normalize_classes") for plugin, _ in profile.scores)


class IncrementalScheduler:
    """One run of the scheduler over a queue of pods: ``decide`` a pod, ``assume`` it onto its
    node, and so on; ``snapshot`` is the cluster as the next cycle sees it."""

    __slots__ = ("_cache", "_changes", "_names", "_partitions", "_positions", "snapshot")

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._cache = EquivalenceCache()
        self._changes: list[tuple[int, ...]] = []  # the node indices each assume changed
        self._names = tuple(info.name for info in snapshot.nodes)
        self._positions: dict[str, list[int]] = {}
        for index, name in enumerate(self._names):
            self._positions.setdefault(name, []).append(index)
        self._partitions: OrderedDict[Hashable, _Partition] = OrderedDict()

    def assume(self, pod: Pod, node_name: str) -> None:
        """Place ``pod`` on ``node_name`` (as ``cycle.assume``), so the next cycle sees it."""
        bound = replace(pod, spec=replace(pod.spec, node_name=node_name))
        nodes = self.snapshot.nodes
        changed = {
            index: replace(nodes[index], pods=(*nodes[index].pods, bound))
            for index in self._positions.get(node_name, ())
        }
        self.snapshot = self.snapshot.with_node_infos(changed)
        self._changes.append(tuple(changed))

    def _partition(self, key: Hashable, classify: Callable[[int], Hashable]) -> _Partition:
        """The nodes of the current snapshot by ``classify(index)``, kept under ``key``:
        only the nodes changed since it was last asked for are classified again."""
        version, count = len(self._changes), len(self._names)
        partition = self._partitions.get(key)
        if partition is not None:
            self._partitions.move_to_end(key)
            if version - partition.version > count // 4:
                partition = None
            elif partition.version != version:
                changed = set(itertools.chain.from_iterable(self._changes[partition.version :]))
                for index in sorted(changed):
                    partition.move(index, classify(index))
                partition.version = version
        if partition is None:
            partition = _Partition(version, [classify(i) for i in range(count)])
            self._partitions[key] = partition
            if len(self._partitions) > _PARTITIONS_KEPT:
                self._partitions.popitem(last=False)
        return partition

    def decide(
        self, profile: Profile, pod: Pod, *, seed: int = 0, score_all: bool = False
    ) -> Decision:
        """The decision ``cycle.schedule_one`` makes for ``pod`` against ``snapshot``."""
        snapshot = self.snapshot
        if score_all or not _classwise(profile):
            return schedule_one(
                profile, pod, snapshot, seed=seed, score_all=score_all, cache=self._cache
            )
        pre = {plugin.name: plugin.pre_filter(pod, snapshot) for plugin in profile.filters}
        pre_failure = next(
            (r.status for r in pre.values() if not r.status.is_success and r.status.code != SKIP),
            None,
        )
        plan = filter_plan(profile, pre, pod, self._cache)
        partition, filters = self._filtered(plan, pod)
        fit = [cls for cls, verdict in filters.items() if first_failure(verdict) is None]
        unfit = [
            (verdict, (), tuple(partition.members[cls]))
            for cls, verdict in filters.items()
            if first_failure(verdict) is not None
        ]
        indices = sorted(itertools.chain.from_iterable(partition.members[cls] for cls in fit))
        names = self._names
        if not indices:
            failures = [(first_failure(f), len(members)) for f, _, members in unfit]
            message = unschedulable_message(len(names), failures, pre_failure)
            return Decision(pod, None, message, NodeEvaluations(names, unfit))
        if len(indices) == 1:
            # upstream: one feasible node is selected without scoring
            only = [(filters[fit[0]], (), tuple(indices))]
            return self._decided(pod, names[indices[0]], only + unfit)
        nodes = snapshot.nodes
        excluded = [nodes[i] for _, _, members in unfit for i in members]
        feasible = FeasibleNodes(items_at(nodes, indices), excluded)
        active, key = score_plan(profile, pod, snapshot, feasible, self._cache)
        if not active:  # every feasible node totals 0
            fits = [(filters[cls], (), tuple(partition.members[cls])) for cls in fit]
            selected = select_host(items_at(names, indices), pod, seed)
            return self._decided(pod, selected, fits + unfit)
        fits, totals = self._scored(plan, partition, filters, active, key, pod)
        best = max(totals)
        tied = [m for (_, _, m), total in zip(fits, totals, strict=True) if total == best]
        selected = select_host(items_at(names, sorted(itertools.chain(*tied))), pod, seed)
        return self._decided(pod, selected, fits + unfit)

    def _filtered(self, plan: FilterPlan, pod: Pod) -> tuple[_Partition, dict[Hashable, Any]]:
        """The nodes by filter class, and each class's filter statuses."""
        nodes = self.snapshot.nodes

        def by_filters(index: int) -> Hashable:
            info = nodes[index]
            signature = id(node_signature(info, plan.key))
            return (signature, plan.inside(info)) if plan.restricted else signature

        partition = self._partition((plan.key, plan.restricted), by_filters)
        shared: dict = {}
        filters = {
            cls: class_filters(plan, pod, nodes[members[0]], shared)
            for cls, members in partition.members.items()
        }
        return partition, filters

    def _scored(
        self,
        plan: FilterPlan,
        filter_classes: _Partition,
        filters: dict[Hashable, Any],
        active: list[tuple[Any, Any, int]],
        key: SignatureKey,
        pod: Pod,
    ) -> tuple[list[tuple[Any, Any, tuple[int, ...]]], list[int]]:
        """The feasible nodes by class (filter class and score signature), each class with its
        filter statuses, scores and nodes; and each class's total."""
        nodes = self.snapshot.nodes

        def by_scores(index: int) -> Hashable:
            return filter_classes.of[index], id(node_signature(nodes[index], key))

        partition = self._partition((plan.key, plan.restricted, key), by_scores)
        scored = sorted(  # by first node, so a refused score is the one the plain cycle names
            (members[0], cls, tuple(members))
            for cls, members in partition.members.items()
            if first_failure(filters[cls[0]]) is None
        )
        representatives = [nodes[first] for first, _, _ in scored]
        shared: dict = {}
        raw_rows = [class_raw_scores(active, key, pod, info, shared) for info in representatives]
        columns = []
        for (plugin, state, _), raw in zip(active, zip(*raw_rows, strict=True), strict=True):
            # upstream: framework.go RunScorePlugins, NormalizeScore over the feasible nodes
            normalized = plugin.normalize_classes(state, pod, representatives, raw)
            check_normalized(plugin, normalized)
            columns.append(normalized)
        fits, totals = [], []
        for (_, cls, members), raw_row, normalized_row in zip(
            scored, raw_rows, zip(*columns, strict=True), strict=True
        ):
            scores = tuple(
                (plugin.name, PluginScore(r, n, n * weight))
                for (plugin, _, weight), r, n in zip(active, raw_row, normalized_row, strict=True)
            )
            fits.append((filters[cls[0]], scores, members))
            totals.append(sum(s.weighted for _, s in scores))
        return fits, totals

    def _decided(self, pod: Pod, selected: str, classes: list) -> Decision:
        message = f"Successfully assigned {object_key(pod)} to {selected}"
        return Decision(pod, selected, message, NodeEvaluations(self._names, classes))
