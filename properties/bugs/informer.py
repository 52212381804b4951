"""Bug catalogue entries: informer (events a controller misses or mishandles).

``missed-tombstone``: a pod of a running Deployment is force-deleted while the ReplicaSet
controller's pod watch is behind, and etcd compacts that history; the watch ends in 410 Gone,
the relist finds the pod gone and hands the controller a tombstone (client-go's
DeletedFinalStateUnknown). A controller that drops the tombstone is never woken for that
ReplicaSet, so the pod is never replaced.

The compaction ends every watch that is behind it, the controller's ReplicaSet watch too, and
that relist wakes the ReplicaSet as a resync would: the pod stays missing when the controller
syncs it before its pod informer has relisted (a shortest trace is the delete, the compaction,
the ReplicaSet watch's 410 and relist, and that sync).

>>> [b.id for b in BUGS]
['missed-tombstone']
>>> BUGS[0].buggy.faults
Faults(crash=0, drop_watch=0, compact=1, stale_list=0, timeout=0, node_failure=0)
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache, partial

from kubeproof.model.apiserver.server import Request
from kubeproof.model.cluster import Faults, Guarded
from kubeproof.model.controllers.replicaset import ReplicaSetController
from kubeproof.model.scenarios import Scenario, kubectl_create_deployment, nodes_ready
from kubeproof.properties.bugs import Bug
from kubeproof.properties.bugs.clusters import ADMIN, api_for, components, listed, node, settled
from kubeproof.properties.core import Budget, Suite
from kubeproof.properties.eventually import DEPLOYMENT_CONVERGES

__all__ = ["BUGS", "missed_tombstone_scenario"]

_STORY = (
    "A Deployment of one nginx pod runs on one node. `kubectl delete pod --grace-period=0 "
    "--force` removes the pod at once (PodGC does the same for the pods of a deleted node) "
    "while the ReplicaSet controller's pod watch is behind; etcd compacts that revision, so "
    "the watch ends in 410 Gone and the controller relists: the pod comes out as a tombstone."
)


@cache
def missed_tombstone_scenario(tombstones: bool = True) -> Scenario:
    """One node, ``kubectl create deployment nginx --replicas 1`` rolled out; then the force
    delete of its pod. The ReplicaSet controller drops tombstones unless ``tombstones``."""
    nodes = (node("node-1", 1),)
    controllers = tuple(
        replace(c, tombstones=tombstones) if isinstance(c, ReplicaSetController) else c
        for c in components(nodes, "deployment", "replicaset", "scheduler")
    )
    create = Request(
        ADMIN, "create", "deployments", "default", body=kubectl_create_deployment("nginx", "nginx")
    )
    base = Scenario(
        "missed-tombstone",
        _STORY,
        controllers,
        api_for(nodes),
        (Guarded(nodes_ready(1), create, "1 node Ready"),),
    )
    start = settled(base).start
    pod = listed(start, "pods", "default")[0]
    delete = Request(ADMIN, "delete", "pods", "default", pod.metadata.name, grace_period_seconds=0)
    return settled(base, (delete,))


def _suite(name: str, tombstones: bool) -> Suite:
    return Suite(
        name,
        "A Deployment's one pod force-deleted while the ReplicaSet controller's pod watch is "
        "behind, etcd compacted, then a relist"
        + ("" if tombstones else ", with a controller that drops tombstones"),
        partial(missed_tombstone_scenario, tombstones),
        (DEPLOYMENT_CONVERGES,),
        Faults(compact=1),
        # Hypothesis needs a few dozen examples to hit the order (compaction after the delete,
        # the sync before the pod relist); 300 leave a wide margin
        Budget(examples=300, steps=30),
    )


BUGS: tuple[Bug, ...] = (
    Bug(
        "missed-tombstone",
        "a controller that drops the tombstone of a delete it missed never replaces the pod",
        (
            "kubernetes/kubernetes#25913",
            "kubernetes/kubernetes#8822",
            "kubernetes/kubernetes#34692",
        ),
        "ReplicaSetController(tombstones=False): the pod delete handler ignores a "
        "DeletedFinalStateUnknown tombstone instead of unwrapping it",
        "A relist after 410 Gone reports a delete the watch missed as a "
        "DeletedFinalStateUnknown tombstone, and a delete handler that only type-asserts the "
        "object drops it, so the owner is never woken and the missing replica is never made "
        "(upstream's 12 to 24 hour informer resync would wake it; the model has none). The "
        "replication manager was taught to wake the owner on a tombstone in 2015 (#8822, "
        "briefly reverted by #8927); other controllers kept missing tombstones for years "
        "(#34692 in the node controller, #83951 in the disruption controller, #136701 in 2026).",
        "The ReplicaSet controller's deletePod unwraps cache.DeletedFinalStateUnknown, calls "
        "DeletionObserved for the last known pod and enqueues its owner "
        "(pkg/controller/replicaset/replica_set.go deletePod); the relist's tombstone wakes the "
        "ReplicaSet and it creates the replacement.",
        DEPLOYMENT_CONVERGES.name,
        _suite("missed-tombstone", tombstones=False),
        _suite("missed-tombstone-fixed", tombstones=True),
    ),
)
