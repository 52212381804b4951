"""Bug catalogue entries: the Deployment controller during rollouts and deletions.

- ``deployment-surge-ignores-terminating``: a rolling update counts only the pods its
  ReplicaSets report, which leave out terminating ones, so live pods exceed replicas +
  maxSurge while old pods shut down (kubernetes#95498; upstream's default today).
- ``adopt-without-recheck``: during ``kubectl delete deployment --cascade=orphan`` the
  controller adopts the ReplicaSet the garbage collector has just orphaned, trusting a cache
  that has not seen the deletion (kubernetes#42639).
- ``recreate-overlap``: a Recreate rollout creates the new pods while the old ones are still
  terminating (kubernetes#32567).

The rollouts start on one node where the Deployment has already rolled out
(properties/bugs/clusters.py ``settled``); the deletion needs no node at all. Two properties
are defined here, :data:`NO_ADOPTION_BY_A_DELETING_OWNER` and :data:`RECREATE_NEVER_OVERLAPS`.

>>> [b.id for b in BUGS]
['deployment-surge-ignores-terminating', 'adopt-without-recheck', 'recreate-overlap']
>>> [b.switch == "" for b in BUGS]
[True, False, False]
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache, partial
from typing import Any

from kubeproof.model.apiserver.server import Request, read
from kubeproof.model.cluster import NO_FAULTS, Guarded, State
from kubeproof.model.controllers.deployment import DeploymentController
from kubeproof.model.objects import Deployment, DeploymentStrategy, ReplicaSet
from kubeproof.model.objects import RollingUpdateDeployment as Rolling
from kubeproof.model.run import actor_of
from kubeproof.model.scenarios import Scenario, kubectl_create_deployment, nodes_ready
from kubeproof.properties.bugs import Bug
from kubeproof.properties.bugs.clusters import ADMIN, api_for, components, listed, node, settled
from kubeproof.properties.core import TRANSITION, Budget, Property, Suite, Violation
from kubeproof.properties.reading import changed, events, get, owner_uid, resource_of_kind
from kubeproof.properties.workloads import ROLLOUT_WITHIN_SURGE_COUNTING_TERMINATING

__all__ = [
    "BUGS",
    "NO_ADOPTION_BY_A_DELETING_OWNER",
    "RECREATE_NEVER_OVERLAPS",
    "orphan_delete_scenario",
    "rollout_scenario",
]

# the rollouts settle in a few hundred steps (kubelet heartbeats until the progress deadline's
# requeue) and the fair run itself shows both bugs: fewer examples. The orphan deletion's race
# is 8 steps long right after the delete (the exhaustive engine's shortest), but needs the
# Deployment controller to hold back its Deployment event three times: many short examples
_ROLLOUT_BUDGET = Budget(examples=50, steps=30, states=20_000, depth=80)
_ORPHAN_BUDGET = Budget(examples=300, steps=20, states=20_000, depth=60)


# --- properties ------------------------------------------------------------------------------


def _adoption(before: State, action: Any, after: State) -> Violation | None:
    for event in events(before, after):
        if event.type != "PUT" or event.prev_kv is None:
            continue
        old, new = event.prev_kv.value, event.kv.value
        ref = new.metadata.controller_ref()
        if ref is None or owner_uid(old) == ref.uid:
            continue
        resource = resource_of_kind(ref.kind)
        if resource is None:
            continue
        owner = get(before, resource, new.metadata.namespace, ref.name)
        if owner is not None and owner.metadata.uid == ref.uid:
            if owner.metadata.deletion_timestamp is None:
                continue
            state = f"being deleted (deletionTimestamp {owner.metadata.deletion_timestamp} s)"
        else:
            state = "gone"
        key = f"{new.metadata.namespace}/{new.metadata.name}"
        return Violation(
            "no-adoption-by-a-deleting-owner",
            f"{actor_of(action)} made {ref.kind} {ref.name} the controller of "
            f"{resource_of_kind(type(new).__name__) or 'object'} {key} while that owner is "
            f"{state}",
            (
                ("object", key),
                ("owner", f"{ref.kind} {ref.name}"),
                ("owner uid", ref.uid),
                ("owner finalizers", owner.metadata.finalizers if owner is not None else ()),
                ("writer", actor_of(action)),
            ),
        )
    return None


NO_ADOPTION_BY_A_DELETING_OWNER = Property(
    "no-adoption-by-a-deleting-owner",
    "no update makes an object's controller an owner that, in etcd at that moment, is being "
    "deleted or gone",
    TRANSITION,
    _adoption,
    "Checked on every etcd update (not creation) of any object: when the update gives the "
    "object a controller ownerReference it did not have (an adoption), the owner it names "
    "must be stored with that uid and no deletionTimestamp. Upstream's guarantee since "
    "kubernetes/kubernetes#42938: controller_ref_manager.go adopts only after an uncached GET "
    "of the owner shows it alive with the same uid (RecheckDeletionTimestamp), so an object "
    "the garbage collector orphans for an Orphan deletion is not adopted back.",
)


def _recreate_owners(state: State, namespace: str) -> dict[str, Deployment]:
    """ReplicaSet uid -> its Recreate Deployment, for the namespace's owned ReplicaSets."""
    deployments = {
        d.metadata.uid: d
        for d in listed(state, "deployments", namespace)
        if d.spec.strategy is not None and d.spec.strategy.type == "Recreate"
    }
    return {
        rs.metadata.uid: deployments[owner_uid(rs)]
        for rs in listed(state, "replicasets", namespace)
        if isinstance(rs, ReplicaSet) and owner_uid(rs) in deployments
    }


def _overlap(before: State, action: Any, after: State) -> Violation | None:
    for event in changed(before, after, "pods"):
        if event.type != "PUT" or event.prev_kv is not None:
            continue  # only creations
        pod = event.kv.value
        namespace, rs_uid = pod.metadata.namespace, owner_uid(pod)
        owners = _recreate_owners(after, namespace)
        d = owners.get(rs_uid)
        if d is None:
            continue
        old = [
            p
            for p in listed(after, "pods", namespace)
            if owner_uid(p) != rs_uid
            and owners.get(owner_uid(p)) is d
            and p.status.phase not in ("Succeeded", "Failed")
        ]
        if not old:
            continue
        return Violation(
            "recreate-never-overlaps",
            f"{actor_of(action)} created {namespace}/{pod.metadata.name} for Recreate "
            f"Deployment {d.metadata.name} while {len(old)} pod(s) of an older ReplicaSet "
            "still run",
            (
                ("deployment", f"{namespace}/{d.metadata.name}"),
                ("new pod", pod.metadata.name),
                (
                    "old pods",
                    tuple(
                        f"{p.metadata.name} ({p.status.phase or 'Pending'}"
                        + (", terminating)" if p.metadata.deletion_timestamp else ")")
                        for p in old
                    ),
                ),
                ("writer", actor_of(action)),
            ),
        )
    return None


RECREATE_NEVER_OVERLAPS = Property(
    "recreate-never-overlaps",
    "no pod of a Recreate Deployment's ReplicaSet is created while a pod of another of its "
    "ReplicaSets is not yet Succeeded or Failed",
    TRANSITION,
    _overlap,
    "Checked on every pod creation in etcd: if the pod's ReplicaSet belongs to a Deployment "
    "with strategy Recreate, no pod of another ReplicaSet of that Deployment may be stored "
    "with a phase other than Succeeded or Failed; terminating pods (deletionTimestamp set) "
    "count, they still run. This is what the Deployment documentation promises for an "
    'upgrade ("successful removal is awaited before any Pod of the new revision is '
    'created"); a pod deleted by hand is replaced at once by its ReplicaSet, which is not '
    "an upgrade and is not checked here (a replacement belongs to the same ReplicaSet).",
)


# --- scenarios -------------------------------------------------------------------------------


def _set_image(state: State, image: str) -> Request:
    """``kubectl set image deployment/nginx nginx=IMAGE`` on the stored Deployment."""
    d = read(state.api.store, "deployments", "default", "nginx")
    template = d.spec.template
    containers = tuple(replace(c, image=image) for c in template.spec.containers)
    template = replace(template, spec=replace(template.spec, containers=containers))
    return Request(
        ADMIN,
        "update",
        "deployments",
        "default",
        "nginx",
        body=replace(d, spec=replace(d.spec, template=template)),
    )


@cache
def rollout_scenario(strategy: str, replicas: int, controller: DeploymentController) -> Scenario:
    """One node; a Deployment nginx of ``replicas`` with ``strategy`` (RollingUpdate: maxSurge
    1, maxUnavailable 0) rolled out by ``controller`` and the ReplicaSet controller, the
    scheduler and the kubelet; then ``kubectl set image deployment/nginx nginx=nginx:1.27``."""
    nodes = (node("node-1", 1),)
    controllers = tuple(
        controller if isinstance(c, DeploymentController) else c
        for c in components(nodes, "deployment", "replicaset", "scheduler")
    )
    d = kubectl_create_deployment("nginx", "nginx", replicas)
    rolling = Rolling(1, 0) if strategy == "RollingUpdate" else None
    # a short progress deadline (upstream's default is 600 s): every run ends by waiting for
    # that requeue, through the kubelet's heartbeats, so this keeps each run short
    spec = replace(
        d.spec, strategy=DeploymentStrategy(strategy, rolling), progress_deadline_seconds=60
    )
    create = Request(ADMIN, "create", "deployments", "default", body=replace(d, spec=spec))
    base = Scenario(
        f"{strategy.lower()}-rollout",
        f"A {strategy} Deployment nginx of {replicas} on one node, rolled out; then `kubectl "
        "set image deployment/nginx nginx=nginx:1.27`.",
        controllers,
        api_for(nodes),
        (Guarded(nodes_ready(1), create, "1 node Ready"),),
    )
    start = settled(base).start
    return settled(base, (_set_image(start, "nginx:1.27"),), base.description)


@cache
def orphan_delete_scenario(adopt_recheck: bool) -> Scenario:
    """A Deployment nginx whose ReplicaSet the Deployment controller (rechecking before it
    adopts, or not) has made, beside the garbage collector, no nodes; then ``kubectl delete
    deployment nginx --cascade=orphan``."""
    controllers = (
        DeploymentController(adopt_recheck=adopt_recheck),
        *components((), "garbagecollector"),
    )
    create = Request(
        ADMIN, "create", "deployments", "default", body=kubectl_create_deployment("nginx", "nginx")
    )
    base = Scenario(
        "orphan-delete",
        "A Deployment nginx and its ReplicaSet, no nodes; then `kubectl delete deployment "
        "nginx --cascade=orphan`: the garbage collector strips the ReplicaSet's ownerReference "
        "and deletes the Deployment, leaving the ReplicaSet.",
        controllers,
        api_for(()),
        (create,),
    )
    delete = Request(
        ADMIN, "delete", "deployments", "default", "nginx", propagation_policy="Orphan"
    )
    return settled(base, (delete,), base.description)


def _suite(name: str, description: str, scenario, prop: Property, budget: Budget) -> Suite:
    return Suite(name, description, scenario, (prop,), NO_FAULTS, budget)


_SURGE_COUNTS = DeploymentController(surge_counts_terminating=True)

BUGS: tuple[Bug, ...] = (
    Bug(
        "deployment-surge-ignores-terminating",
        "terminating pods drop out of a rolling update's count, so live pods exceed replicas + "
        "maxSurge",
        ("kubernetes/kubernetes#95498",),
        "",
        "A rolling update bounds the sum of its ReplicaSets' replicas by replicas + maxSurge, "
        "and a ReplicaSet counts only active pods, so as soon as an old pod starts "
        "terminating the controller creates the next new one while the old pod still runs "
        "its grace period. Reported in 2020: a Deployment of 15 (maxSurge 4) had 7 new pods "
        "started while 3 old ones were terminating.",
        "Still upstream's default: the Deployment documentation notes that terminating pods "
        "are not counted. KEP-3973 added status.terminatingReplicas and an opt-in "
        "spec.podReplacementPolicy: TerminationComplete, under which the controller counts "
        "terminating pods against maxSurge; the fixed suite runs that policy "
        "(DeploymentController(surge_counts_terminating=True)).",
        ROLLOUT_WITHIN_SURGE_COUNTING_TERMINATING.name,
        _suite(
            "deployment-surge-ignores-terminating",
            "A rolling update (maxSurge 1, maxUnavailable 0) of 2 replicas on one node, "
            "upstream's default policy",
            partial(rollout_scenario, "RollingUpdate", 2, DeploymentController()),
            ROLLOUT_WITHIN_SURGE_COUNTING_TERMINATING,
            _ROLLOUT_BUDGET,
        ),
        _suite(
            "deployment-surge-ignores-terminating-fixed",
            "The same rolling update with podReplacementPolicy TerminationComplete",
            partial(rollout_scenario, "RollingUpdate", 2, _SURGE_COUNTS),
            ROLLOUT_WITHIN_SURGE_COUNTING_TERMINATING,
            _ROLLOUT_BUDGET,
        ),
    ),
    Bug(
        "adopt-without-recheck",
        "during an Orphan deletion the Deployment controller re-adopts its ReplicaSet from a "
        "stale cache",
        ("kubernetes/kubernetes#42639",),
        "DeploymentController(adopt_recheck=False): ClaimReplicaSets adopts a matching orphan "
        "on the cached Deployment's word, without the uncached GET that would show its "
        "deletionTimestamp",
        "`kubectl delete deployment --cascade=orphan` makes the garbage collector strip the "
        "ReplicaSet's ownerReference; the Deployment controller saw that orphan before it saw "
        "the Deployment's deletion, adopted it back, and once the Deployment was gone the "
        "collector deleted the ReplicaSet and its pods as dependents of a deleted owner. An "
        'e2e test ("should orphan RS created by deployment when '
        'deleteOptions.OrphanDependents is true") flaked on it in 2017.',
        "kubernetes/kubernetes#42938 (v1.6): every controller that adopts first re-reads its "
        "owner from the api-server (controller_ref_manager.go RecheckDeletionTimestamp; the "
        "Deployment controller's canAdoptFunc GETs the Deployment uncached) and adopts "
        "nothing if it is being deleted or has another uid.",
        NO_ADOPTION_BY_A_DELETING_OWNER.name,
        _suite(
            "adopt-without-recheck",
            "kubectl delete deployment --cascade=orphan, a Deployment controller that adopts "
            "without rechecking, the garbage collector",
            partial(orphan_delete_scenario, False),
            NO_ADOPTION_BY_A_DELETING_OWNER,
            _ORPHAN_BUDGET,
        ),
        _suite(
            "adopt-without-recheck-fixed",
            "The same deletion with today's Deployment controller",
            partial(orphan_delete_scenario, True),
            NO_ADOPTION_BY_A_DELETING_OWNER,
            _ORPHAN_BUDGET,
        ),
    ),
    Bug(
        "recreate-overlap",
        "a Recreate rollout starts the new pods while the old ones are still terminating",
        ("kubernetes/kubernetes#32567",),
        "DeploymentController(recreate_waits_for_pods=False): Recreate waits only until the "
        "old ReplicaSets report status.replicas 0, not for their pods to be gone",
        "Recreate scales the old ReplicaSets to 0 and creates the new one once they report no "
        "replicas, but a ReplicaSet's count leaves out terminating pods, so the new pods "
        "start while the old ones still run their grace period: two versions at once, which "
        "Recreate exists to prevent (both mounting one volume, say). kubernetes#32567 (2016) "
        "asked for terminating pods to be counted for exactly this.",
        "The Deployment controller waits on its pod cache as well (recreate.go "
        "oldPodsRunning: any pod of an old ReplicaSet not yet Succeeded or Failed, terminating "
        "ones included, keeps Recreate waiting), and its pod delete handler requeues a "
        "Recreate Deployment once none is left.",
        RECREATE_NEVER_OVERLAPS.name,
        _suite(
            "recreate-overlap",
            "A Recreate Deployment of 1 on one node, a new image, a Deployment controller "
            "that waits only on ReplicaSet status",
            partial(
                rollout_scenario, "Recreate", 1, DeploymentController(recreate_waits_for_pods=False)
            ),
            RECREATE_NEVER_OVERLAPS,
            _ROLLOUT_BUDGET,
        ),
        _suite(
            "recreate-overlap-fixed",
            "The same rollout with today's Deployment controller",
            partial(rollout_scenario, "Recreate", 1, DeploymentController()),
            RECREATE_NEVER_OVERLAPS,
            _ROLLOUT_BUDGET,
        ),
    ),
)
