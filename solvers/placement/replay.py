"""Replay an assignment as the scheduler would build it: pods in some order, each filtered by
every plugin of the profile on the snapshot holding the running pods and those placed before
it. Exponential (a search over orders): the tests' ground truth on small instances, checking
that what ``check.verify`` accepts a one-pod-at-a-time scheduler can reach.

>>> from kubeproof.model.objects import FrozenMap, Node, NodeStatus, ObjectMeta, Pod
>>> from kubeproof.model.quantity import parse_quantity as q
>>> from kubeproof.solvers.placement.problem import problem_from_objects
>>> node = Node(ObjectMeta(name="n1"), status=NodeStatus(allocatable=FrozenMap(pods=q("1"))))
>>> problem = problem_from_objects([node, Pod(ObjectMeta(name="a")), Pod(ObjectMeta(name="b"))])
>>> replay(problem, {(0, 0): 1}), replay(problem, {(0, 0): 1, (1, 0): 1})
(True, False)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from kubeproof.model.objects import Pod
from kubeproof.model.scheduler.framework import SKIP, NodeInfo, Snapshot
from kubeproof.solvers.placement.check_topology import bound
from kubeproof.solvers.placement.problem import Problem

__all__ = ["replay"]


def replay(problem: Problem, counts: Mapping[tuple[int, int], int]) -> bool:
    """Whether some order of placing the replicas passes every filter of the profile, each pod
    on the snapshot holding the running pods and those placed before it: a depth-first search
    over orders (replicas of one template on one node are interchangeable), remembering the
    sets of replicas left that lead nowhere. Exponential: for tests on small instances."""
    pairs = sorted((t, n) for (t, n), k in counts.items() if k)
    dead: set[tuple[int, ...]] = set()

    def search(left: tuple[int, ...], snapshot: Snapshot) -> bool:
        if not any(left):
            return True
        if left in dead:
            return False
        for i, (t, n) in enumerate(pairs):
            if not left[i]:
                continue
            pod, info = problem.templates[t].pod, snapshot.nodes[n]
            if _passes(problem, pod, info, snapshot):
                placed = NodeInfo(info.node, (*info.pods, bound(pod, info.name)))
                nodes = (*snapshot.nodes[:n], placed, *snapshot.nodes[n + 1 :])
                rest = (*left[:i], left[i] - 1, *left[i + 1 :])
                if search(rest, replace(snapshot, nodes=nodes)):
                    return True
        dead.add(left)
        return False

    return search(tuple(counts[pair] for pair in pairs), problem.snapshot)


def _passes(problem: Problem, pod: Pod, info: NodeInfo, snapshot: Snapshot) -> bool:
    for plugin in problem.profile.filters:
        result = plugin.pre_filter(pod, snapshot)
        if result.status.code == SKIP:
            continue
        if not result.status.is_success:
            return False
        if result.node_names is not None and info.name not in result.node_names:
            return False
        if not plugin.filter(result.state, pod, info).is_success:
            return False
    return True
