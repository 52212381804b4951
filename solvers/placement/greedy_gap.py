"""The greedy gap: pods the default scheduler, placing one pod at a time, leaves Pending although
a complete placement of every pending pod exists.

The scheduler is the model's (``kubeproof.model.scheduler.simulate.schedule_all``): each pending
pod in queue order is filtered, scored, given the best node and assumed there before the next.
The complete placement is ``Placer.feasible``'s, verified pod by pod. Where the scheduler strands
a pod the complete placement places, its early choices (LeastAllocated spreading a workload onto
the only nodes another one can use, for instance) took room a later pod needed.

>>> from kubeproof.model.objects import (
...     Container, FrozenMap, Node, NodeStatus, ObjectMeta, Pod, PodSpec)
>>> from kubeproof.model.quantity import parse_quantity as q
>>> def node(name, cpu):
...     room = FrozenMap(cpu=q(cpu), pods=q("10"))
...     return Node(ObjectMeta(name=name), status=NodeStatus(allocatable=room))
>>> def pod(name, cpu):
...     box = Container("c", requests=FrozenMap(cpu=q(cpu)))
...     return Pod(ObjectMeta(name=name), PodSpec(containers=(box,)))
>>> answer = greedy([node("small", "1"), node("big", "2"), pod("a", "1"), pod("b", "2")])
>>> answer.pending, answer.scheduler
(('default/b',), {'default/a': 'big', 'default/b': None})
>>> answer.complete
{'default/a': 'small', 'default/b': 'big'}
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kubeproof.model.objects import Object
from kubeproof.model.scheduler.profile import Profile
from kubeproof.model.scheduler.simulate import cluster_from_objects, schedule_all
from kubeproof.solvers.placement.problem import pod_key, problem_from_objects
from kubeproof.solvers.placement.queries import DEFAULT_TIMEOUT, Placer

__all__ = ["GreedyAnswer", "greedy"]


@dataclass(frozen=True)
class GreedyAnswer:
    """The scheduler's placement beside the complete one.

    ``pending``: the pods the scheduler leaves Pending that the complete placement places (pods
    held back by scheduling gates are not counted: the complete placement leaves them out
    too). ``scheduler``: every pending pod, ``namespace/name``, to the node the scheduler chose
    or None; ``reasons``: the scheduler's message for each pod it left Pending. ``complete``:
    the verified complete placement when ``complete_feasible`` is True, else None (False: no
    placement places every pod; None: the time ran out). ``finished`` is False when the time
    ran out during the scheduler's run (``scheduler`` then holds the pods decided so far).
    """

    pending: tuple[str, ...]
    scheduler: Mapping[str, str | None]
    complete: Mapping[str, str] | None
    complete_feasible: bool | None
    seconds: float
    reasons: Mapping[str, str]
    finished: bool = True

    @property
    def known(self) -> bool:
        """Whether both runs finished, so that ``pending`` is the whole gap."""
        return self.finished and self.complete_feasible is not None


def greedy(
    objects: Iterable[Object],
    timeout: float = DEFAULT_TIMEOUT,
    *,
    placer: Placer | None = None,
    profile: Profile | None = None,
    seed: int = 0,
) -> GreedyAnswer:
    """Run the scheduler over the objects' pending pods and compare with the complete placement.

    ``placer`` (built from the same objects) shares a complete placement already found;
    ``seed`` is the scheduler's tie-break. Both runs share ``timeout``.
    """
    start = time.perf_counter()
    deadline = time.monotonic() + timeout
    objects = list(objects)
    placer = Placer(problem_from_objects(objects, profile)) if placer is None else placer
    profile = placer.problem.profile
    complete = placer.feasible(max(deadline - time.monotonic(), 0.0))
    # the problem reads a pod without schedulerName as the profile's, as the scheduler does
    cluster = cluster_from_objects(objects, (profile.scheduler_name, ""))
    scheduler: dict[str, str | None] = {}
    reasons: dict[str, str] = {}
    finished = True
    for decision in schedule_all(profile, cluster, seed=seed):
        key = pod_key(decision.pod)
        scheduler[key] = decision.selected
        if decision.selected is None:
            reasons[key] = decision.message
        if time.monotonic() > deadline and len(scheduler) < len(cluster.pending):
            finished = False
            break
    placed = complete.assignment if complete.feasible else {}
    return GreedyAnswer(
        pending=tuple(k for k, node in scheduler.items() if node is None and k in placed),
        scheduler=scheduler,
        complete=dict(complete.assignment) if complete.feasible else None,
        complete_feasible=complete.feasible,
        seconds=time.perf_counter() - start,
        reasons=reasons,
        finished=finished,
    )
