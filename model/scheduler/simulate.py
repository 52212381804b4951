"""Schedule a user's manifests: a cluster dump plus the workloads about to be applied.

Nodes, Namespaces and Services describe the cluster; Pods with ``spec.nodeName`` are already
running there. Every other Pod, and every replica of a Deployment or ReplicaSet (named as the
controllers would name them), is pending and is scheduled in queue order, each decision assumed
onto its node before the next, as the scheduler's cache does.

>>> from kubeproof.model.objects import FrozenMap, Node, NodeStatus, ObjectMeta, Pod
>>> from kubeproof.model.quantity import parse_quantity
>>> from kubeproof.model.scheduler.profile import default_profile
>>> full = Node(ObjectMeta(name="full"))
>>> roomy = Node(ObjectMeta(name="roomy"), status=NodeStatus(
...     allocatable=FrozenMap(pods=parse_quantity("110"))))
>>> cluster = cluster_from_objects([full, roomy, Pod(ObjectMeta(name="p"))])
>>> [d.selected for d in schedule_all(default_profile(), cluster)]
['roomy']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from kubeproof.model.objects import (
    Deployment,
    GenericObject,
    Namespace,
    Node,
    Object,
    Pod,
    ReplicaSet,
    Service,
)
from kubeproof.model.scheduler.cycle import Decision, assume, schedule_one
from kubeproof.model.scheduler.framework import NodeInfo, Snapshot
from kubeproof.model.scheduler.incremental import IncrementalScheduler
from kubeproof.model.scheduler.profile import DEFAULT_SCHEDULER, Profile
from kubeproof.model.workloads import new_replicaset, pods_for_replicaset

__all__ = [
    "Cluster",
    "cluster_from_objects",
    "pending_pods",
    "replicaset_of",
    "schedule_all",
    "spread_selectors",
]


@dataclass(frozen=True, slots=True)
class Cluster:
    """The scheduler's starting view, and the pods waiting for it in queue order."""

    snapshot: Snapshot
    pending: tuple[Pod, ...]


def _default_namespace(pod: Pod) -> Pod:
    if pod.metadata.namespace:
        return pod
    return replace(pod, metadata=replace(pod.metadata, namespace="default"))


def replicaset_of(obj: Object) -> ReplicaSet | None:
    """The ReplicaSet whose replicas an object asks for: its own, or its Deployment's new one."""
    if isinstance(obj, Deployment):
        obj = new_replicaset(obj)
    if not isinstance(obj, ReplicaSet):
        return None
    namespace = obj.metadata.namespace or "default"
    return replace(obj, metadata=replace(obj.metadata, namespace=namespace))


def pending_pods(obj: Object) -> tuple[Pod, ...]:
    """The pods an object asks the scheduler to place: itself for an unbound Pod, its replicas
    for a Deployment or ReplicaSet, nothing otherwise."""
    if isinstance(obj, Pod):
        return () if obj.spec.node_name else (_default_namespace(obj),)
    replicaset = replicaset_of(obj)
    if replicaset is None:
        return ()
    replicas = 1 if replicaset.spec.replicas is None else replicaset.spec.replicas
    return pods_for_replicaset(replicaset, replicas)


# What PodTopologySpread's default constraints select by: a pod's Services and controllers.
_WORKLOAD_KINDS = ("Service", "ReplicationController", "StatefulSet")


def spread_selectors(objects: Iterable[Object]) -> tuple[Object, ...]:
    """The Services and the controllers other than ReplicaSets whose selectors PodTopologySpread's
    default constraints read (upstream: pkg/scheduler/framework/plugins/helper/spread.go
    DefaultSelector)."""
    return tuple(
        o
        for o in objects
        if isinstance(o, Service) or (isinstance(o, GenericObject) and o.kind in _WORKLOAD_KINDS)
    )


def _queue_order(pods: list[Pod]) -> tuple[Pod, ...]:
    # upstream: pkg/scheduler/framework/plugins/queuesort/priority_sort.go Less: higher priority
    # first, then the earlier arrival (here: the order in the files).
    order = sorted(enumerate(pods), key=lambda item: (-(item[1].spec.priority or 0), item[0]))
    return tuple(pod for _, pod in order)


def cluster_from_objects(
    objects: Iterable[Object], scheduler_names: Iterable[str] = (DEFAULT_SCHEDULER,)
) -> Cluster:
    """The cluster the objects describe, with the pending pods of the named schedulers;
    objects of kinds the scheduler ignores are skipped."""
    objects = list(objects)
    nodes = [o for o in objects if isinstance(o, Node)]
    bound: dict[str, list[Pod]] = {}
    for o in objects:
        if isinstance(o, Pod) and o.spec.node_name:
            bound.setdefault(o.spec.node_name, []).append(o)
    infos = tuple(NodeInfo(node, tuple(bound.get(node.metadata.name, ()))) for node in nodes)
    namespaces = tuple(o for o in objects if isinstance(o, Namespace))
    workloads = spread_selectors(objects) + tuple(
        rs for rs in map(replicaset_of, objects) if rs is not None
    )
    names = {n for n in scheduler_names} | ({""} if DEFAULT_SCHEDULER in scheduler_names else set())
    pending = [pod for obj in objects for pod in pending_pods(obj)]
    pending = [p for p in pending if p.spec.scheduler_name in names]
    return Cluster(Snapshot(infos, namespaces, workloads), _queue_order(pending))


def schedule_all(
    profiles: Profile | Iterable[Profile],
    cluster: Cluster,
    *,
    seed: int = 0,
    score_all: bool = False,
    equivalence: bool = True,
) -> Iterator[Decision]:
    """One decision per pending pod, in queue order; each placement is assumed before the next.

    Each pod is scheduled with the profile named by its ``schedulerName`` (the first profile
    when it has none).

    A pod with scheduling gates is not attempted: the queue's PreEnqueue keeps it waiting.
    ``equivalence`` runs the cycles with an ``IncrementalScheduler`` (classes of equivalent
    nodes, kept from one pod to the next); without it every plugin runs on every node.
    """
    profiles = (profiles,) if isinstance(profiles, Profile) else tuple(profiles)
    by_name = {p.scheduler_name: p for p in profiles}
    run = IncrementalScheduler(cluster.snapshot) if equivalence else _EveryNode(cluster.snapshot)
    for pod in cluster.pending:
        profile = by_name.get(pod.spec.scheduler_name, profiles[0])
        if pod.spec.scheduling_gates:
            # upstream: pkg/scheduler/framework/plugins/schedulinggates; the PodScheduled
            # condition's message while gated
            yield Decision(pod, None, "Scheduling is blocked due to non-empty scheduling gates", ())
            continue
        decision = run.decide(profile, pod, seed=seed, score_all=score_all)
        if decision.selected is not None:
            run.assume(pod, decision.selected)
        yield decision


class _EveryNode:
    """The reference run: every plugin on every node, each snapshot made afresh."""

    __slots__ = ("snapshot",)

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def decide(self, profile: Profile, pod: Pod, *, seed: int, score_all: bool) -> Decision:
        return schedule_one(
            profile, pod, self.snapshot, seed=seed, score_all=score_all, equivalence=False
        )

    def assume(self, pod: Pod, node_name: str) -> None:
        self.snapshot = assume(self.snapshot, pod, node_name)
