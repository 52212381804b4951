"""Safety properties of workloads: ReplicaSets, rolling updates, the garbage collector.

A ReplicaSet's active pods, a rolling update's surge bound (on its ReplicaSets' spec.replicas,
as upstream keeps it) and availability bound (see each definition), and the garbage
collector's deletions, each checked on every step.
Each check returns a ``Violation`` with its evidence, or None.

>>> from kubeproof.model.run import run
>>> from kubeproof.model.scenarios import scenario
>>> r = run(scenario("scale"))
>>> states = list(r.states())
>>> all(ROLLOUT_WITHIN_SURGE.holds_in(b, s.action, a)
...     for b, s, a in zip(states, r.steps, states[1:], strict=False))
True
"""

from __future__ import annotations

from typing import Any

from kubeproof.model.cluster import State
from kubeproof.model.controllers.deployment import DeploymentController
from kubeproof.model.controllers.deployment_util import max_surge, max_unavailable, replicas
from kubeproof.model.controllers.garbagecollector import GarbageCollector
from kubeproof.model.controllers.replicaset import ReplicaSetController
from kubeproof.model.objects import Deployment, Pod, ReplicaSet
from kubeproof.model.run import actor_of
from kubeproof.properties.core import TRANSITION, Property, Violation
from kubeproof.properties.reading import (
    changed,
    components_of,
    get,
    is_active,
    is_available,
    owner_uid,
    resource_of_kind,
    sent_request,
    stored,
)

__all__ = [
    "GC_SPARES_LIVE_OWNERS",
    "REPLICASET_WITHIN_REPLICAS",
    "REPLICASET_WITHIN_REPLICAS_EVEN_ON_TIMEOUTS",
    "ROLLOUT_WITHIN_SURGE",
    "ROLLOUT_WITHIN_SURGE_COUNTING_TERMINATING",
    "ROLLOUT_WITHIN_UNAVAILABLE",
]


# --- ReplicaSets ---------------------------------------------------------------------------


def _active_owned(state: State, namespace: str, uid: str) -> tuple[Pod, ...]:
    return tuple(
        p for p in stored(state, "pods", namespace) if owner_uid(p) == uid and is_active(p)
    )


def _overshoot_check(name: str, timeout_slack: bool):
    """The check of a ReplicaSet bound: no step raises a ReplicaSet's active pods above its
    spec.replicas, plus (``timeout_slack``) the number of requests that have timed out so far
    in the run."""

    def check(before: State, action: Any, after: State) -> Violation | None:
        owners: dict[tuple[str, str], str] = {}
        for event in changed(before, after, "pods"):
            for kv in (event.kv, event.prev_kv):
                obj = kv.value if kv is not None else None
                ref = obj.metadata.controller_ref() if obj is not None else None
                if ref is not None and ref.kind == "ReplicaSet":
                    owners[(obj.metadata.namespace, ref.name)] = ref.uid
        timeouts = after.faults_used.timeout
        slack = timeouts if timeout_slack else 0
        for (namespace, rs_name), uid in sorted(owners.items()):
            rs = get(after, "replicasets", namespace, rs_name)
            if rs is None or rs.metadata.uid != uid:
                continue
            now, was = _active_owned(after, namespace, uid), _active_owned(before, namespace, uid)
            want = 1 if rs.spec.replicas is None else rs.spec.replicas
            if len(now) > want + slack and len(now) > len(was):
                allowed = f"its spec.replicas {want}" + (
                    f" + {slack} timed-out requests" if slack else ""
                )
                return Violation(
                    name,
                    f"ReplicaSet {namespace}/{rs_name} owns {len(now)} active pods, more than "
                    f"{allowed}, after {actor_of(action)}'s step",
                    (
                        ("replicaset", f"{namespace}/{rs_name}"),
                        ("spec.replicas", want),
                        ("timed-out requests so far", timeouts),
                        ("active pods", tuple(sorted(p.metadata.name for p in now))),
                        ("active pods before the step", len(was)),
                        ("actor", actor_of(action)),
                    ),
                )
        return None

    return check


_ACTIVE = (
    "Active is upstream's controller.FilterActivePods (IsPodActive): not Succeeded, not Failed "
    "and no deletionTimestamp, so pods being deleted never count; owned means the pod's "
    "ControllerRef names the ReplicaSet's uid. A transition property: when spec.replicas is "
    "lowered (a scale-down) the active pods exceed it until the controller's deletes land, "
    "which is expected; what must never happen is a step (a create, an adoption) that raises "
    "the count while it is, or to make it, above the bound."
)

REPLICASET_WITHIN_REPLICAS = Property(
    "replicaset-never-exceeds-replicas",
    "no step raises the active pods a ReplicaSet owns above its spec.replicas, plus one for "
    "each request that timed out (those being deleted are not active)",
    TRANSITION,
    _overshoot_check("replicaset-never-exceeds-replicas", timeout_slack=True),
    f"{_ACTIVE} A create that times out after the api-server applied it is a failure to the "
    "controller (manageReplicas counts it as a creation it will not observe, "
    "CreationObserved, since kubernetes#86140), so its next sync may create a pod in its "
    "place before the informer shows the first: upstream allows one extra pod per timed-out "
    "create, and the bound allows one per timed-out request of the run "
    "(rs-create-timeout in the bug catalogue).",
)

REPLICASET_WITHIN_REPLICAS_EVEN_ON_TIMEOUTS = Property(
    "replicaset-never-exceeds-replicas-even-on-timeouts",
    "no step raises the active pods a ReplicaSet owns above its spec.replicas, timed-out "
    "requests or not (upstream does not guarantee this)",
    TRANSITION,
    _overshoot_check("replicaset-never-exceeds-replicas-even-on-timeouts", timeout_slack=False),
    f"{_ACTIVE} Documents a trade-off upstream made (kubernetes#86140, see "
    "replicaset-never-exceeds-replicas); left out of the built-in suites.",
)


# --- rolling updates -----------------------------------------------------------------------


def _rollout_pods(state: State, d: Deployment) -> tuple[Pod, ...]:
    """The pods owned by the Deployment's ReplicaSets."""
    ns = d.metadata.namespace
    sets = {
        rs.metadata.uid
        for rs in stored(state, "replicasets", ns)
        if isinstance(rs, ReplicaSet) and owner_uid(rs) == d.metadata.uid
    }
    return tuple(p for p in stored(state, "pods", ns) if owner_uid(p) in sets)


def _rolling(d: Deployment) -> bool:
    return d.spec.strategy is not None and d.spec.strategy.type == "RollingUpdate"


def _counted(pods: tuple[Pod, ...], terminating: bool) -> tuple[Pod, ...]:
    if terminating:
        return tuple(p for p in pods if p.status.phase not in ("Succeeded", "Failed"))
    return tuple(p for p in pods if is_active(p))


def _deployments_touched(before: State, after: State, resource: str = "pods"):
    """(before, after) of each rolling Deployment whose pods (or other ``resource``) the step
    may have changed."""
    if not changed(before, after, resource):
        return
    for d in stored(after, "deployments"):
        if not isinstance(d, Deployment) or not _rolling(d) or d.metadata.deletion_timestamp:
            continue
        old = get(before, "deployments", d.metadata.namespace, d.metadata.name)
        if old is not None and old.metadata.uid == d.metadata.uid:
            yield old, d


def _surge_check(name: str, terminating: bool):
    def check(before: State, action: Any, after: State) -> Violation | None:
        for old, d in _deployments_touched(before, after):
            now = _counted(_rollout_pods(after, d), terminating)
            was = _counted(_rollout_pods(before, old), terminating)
            bound = replicas(d) + max_surge(d)
            if len(now) > bound and len(now) > len(was):
                key = f"{d.metadata.namespace}/{d.metadata.name}"
                return Violation(
                    name,
                    f"Deployment {key} has {len(now)} pods, more than replicas {replicas(d)} + "
                    f"maxSurge {max_surge(d)}",
                    (
                        ("deployment", key),
                        ("replicas", replicas(d)),
                        ("maxSurge", max_surge(d)),
                        ("pods", tuple(sorted(p.metadata.name for p in now))),
                        (
                            "terminating",
                            tuple(
                                sorted(
                                    p.metadata.name for p in now if p.metadata.deletion_timestamp
                                )
                            ),
                        ),
                        ("pods before the step", len(was)),
                        ("actor", actor_of(action)),
                    ),
                )
        return None

    return check


def _rollout_sets(state: State, d: Deployment) -> tuple[ReplicaSet, ...]:
    """The ReplicaSets the Deployment owns."""
    return tuple(
        rs
        for rs in stored(state, "replicasets", d.metadata.namespace)
        if isinstance(rs, ReplicaSet) and owner_uid(rs) == d.metadata.uid
    )


def _spec_total(sets: tuple[ReplicaSet, ...]) -> int:
    return sum(replicas(rs) for rs in sets)


def _surge_in_specs(before: State, action: Any, after: State) -> Violation | None:
    for old, d in _deployments_touched(before, after, "replicasets"):
        now, was = _rollout_sets(after, d), _rollout_sets(before, old)
        total, bound = _spec_total(now), replicas(d) + max_surge(d)
        if total > bound and total > _spec_total(was):
            key = f"{d.metadata.namespace}/{d.metadata.name}"
            return Violation(
                "rolling-update-within-surge",
                f"Deployment {key}'s ReplicaSets want {total} pods, more than replicas "
                f"{replicas(d)} + maxSurge {max_surge(d)}",
                (
                    ("deployment", key),
                    ("replicas", replicas(d)),
                    ("maxSurge", max_surge(d)),
                    (
                        "replicasets",
                        tuple(sorted((rs.metadata.name, rs.spec.replicas) for rs in now)),
                    ),
                    ("wanted before the step", _spec_total(was)),
                    ("actor", actor_of(action)),
                ),
            )
    return None


ROLLOUT_WITHIN_SURGE = Property(
    "rolling-update-within-surge",
    "no step raises the spec.replicas of a rolling Deployment's ReplicaSets, summed, above "
    "replicas + maxSurge",
    TRANSITION,
    _surge_in_specs,
    "Upstream's invariant: the Deployment controller scales its ReplicaSets so that their "
    "spec.replicas sum to at most replicas + maxSurge (rolling.go reconcileNewReplicaSet, "
    "deployment_util.go NewRSNewReplicas with GetReplicaCountForReplicaSets, which sums "
    "spec.replicas; ResolveFenceposts: maxSurge rounds up; sync.go scale: proportional scaling "
    "within the same allowance). It bounds what the ReplicaSets ask for, not the pods: a "
    "ReplicaSet controller that creates the new ReplicaSet's pod before it has deleted the old "
    "one's surplus (its workers run ReplicaSets concurrently) has more active pods for a "
    "moment, and terminating pods are not counted at all (kubernetes#95498, KEP-3973; see "
    "rolling-update-within-surge-counting-terminating). A transition property: lowering "
    "the Deployment's replicas leaves the sum above the new bound until the controller scales "
    "down, which is expected; a step must not raise the sum while it is, or to make it, above "
    "the bound.",
)

ROLLOUT_WITHIN_SURGE_COUNTING_TERMINATING = Property(
    "rolling-update-within-surge-counting-terminating",
    "no step raises a rolling Deployment's live pods, terminating ones included, above "
    "replicas + maxSurge (upstream does not guarantee this)",
    TRANSITION,
    _surge_check("rolling-update-within-surge-counting-terminating", terminating=True),
    "Counts every pod not yet Succeeded or Failed, terminating ones included. Upstream's "
    "controllers do not count terminating pods (kubernetes#95498), so a new pod is created "
    "while an old one is still shutting down; KEP-3973 (podReplacementPolicy for Deployments) "
    "proposes waiting. Documents upstream behaviour; left out of the built-in suites.",
)


def _rollout_actors(state: State) -> frozenset[str]:
    return frozenset(
        components_of(state, DeploymentController) + components_of(state, ReplicaSetController)
    )


def _on_unready_node(state: State, pod: Pod) -> bool:
    """Whether the pod is bound to a node that is gone or whose Ready condition is not True
    (the node lifecycle controller set it Unknown, or the kubelet False)."""
    if not pod.spec.node_name:
        return False
    node = get(state, "nodes", "", pod.spec.node_name)
    if node is None:
        return True
    ready = next((c for c in node.status.conditions if c.type == "Ready"), None)
    return ready is None or ready.status != "True"


def _standing(state: State, pods: list[Pod], min_ready_seconds: int) -> tuple[list, list]:
    """The active pods that are available, and those a node's disruption took out of service
    (not available, on a node that is not Ready): the second count towards the bound, since
    the rollout did not remove them."""
    available, disrupted = [], []
    for p in pods:
        if is_available(p, min_ready_seconds, state.api.now):
            available.append(p)
        elif _on_unready_node(state, p):
            disrupted.append(p)
    return available, disrupted


def _availability_drop(before: State, action: Any, after: State) -> Violation | None:
    actor = actor_of(action)
    if actor not in _rollout_actors(after):
        return None  # a disruption the rollout's controllers did not cause
    for old, d in _deployments_touched(before, after):
        mrs, bound = d.spec.min_ready_seconds, replicas(d) - max_unavailable(d)
        now = [p for p in _rollout_pods(after, d) if is_active(p)]
        was = [p for p in _rollout_pods(before, old) if is_active(p)]
        available, disrupted = _standing(after, now, mrs)
        before_count = sum(is_available(p, mrs, before.api.now) for p in was)
        # a drop is the step's when it takes an available pod away; the bound counts the
        # pods a node's disruption took out of service as if they were available
        if len(available) < before_count and len(available) + len(disrupted) < bound:
            key = f"{d.metadata.namespace}/{d.metadata.name}"
            return Violation(
                "rolling-update-within-unavailable",
                f"{actor} took Deployment {key} to {len(available)} available pods, fewer than "
                f"replicas {replicas(d)} - maxUnavailable {max_unavailable(d)}",
                (
                    ("deployment", key),
                    ("replicas", replicas(d)),
                    ("maxUnavailable", max_unavailable(d)),
                    ("available", tuple(sorted(p.metadata.name for p in available))),
                    ("out of service on a node that is not Ready", len(disrupted)),
                    ("available before the step", before_count),
                    ("actor", actor),
                ),
            )
    return None


ROLLOUT_WITHIN_UNAVAILABLE = Property(
    "rolling-update-within-unavailable",
    "the Deployment and ReplicaSet controllers never take a rolling Deployment's available "
    "pods below replicas - maxUnavailable",
    TRANSITION,
    _availability_drop,
    "Available is upstream's: active pods (not terminating, not terminal) Ready for longer "
    "than minReadySeconds (podutil.IsPodAvailable), counted from etcd; maxUnavailable is "
    "ResolveFenceposts' (rounds down; 1 when both resolve to 0). Only drops the rollout's own "
    "controllers cause count (a step of the Deployment or ReplicaSet controller that lowers "
    "availability below the bound): disruptions they did not cause (a node failure, a taint "
    "eviction, a kubelet marking a pod not ready) can take availability below the bound "
    "upstream too, and PodDisruptionBudgets, not the Deployment, guard against those. A pod "
    "on a node that is not Ready counts towards the bound as if available: the Deployment "
    "controller scales the old ReplicaSet down from the availability its cache showed "
    "(reconcileOldReplicaSets reads status.availableReplicas), so when a node fails between "
    "that decision and the ReplicaSet controller's deletion of a healthy old pod, upstream "
    "too ends below the bound.",
)


# --- the garbage collector -----------------------------------------------------------------


def _gc_deletes_owned(before: State, action: Any, after: State) -> Violation | None:
    actor = actor_of(action)
    if actor not in components_of(before, GarbageCollector):
        return None
    request = sent_request(before, action)
    if request is None or request.verb != "delete" or before.api.store is after.api.store:
        return None
    obj = get(before, request.resource, request.namespace, request.name)
    if obj is None:
        return None
    for ref in obj.metadata.owner_references:
        resource = resource_of_kind(ref.kind)
        if resource is None:
            continue
        owner = get(before, resource, obj.metadata.namespace, ref.name)
        if owner is None or owner.metadata.uid != ref.uid:
            continue
        if owner.metadata.deletion_timestamp is None:
            key = f"{obj.metadata.namespace}/{obj.metadata.name}"
            return Violation(
                "gc-never-deletes-a-dependent-of-a-live-owner",
                f"{actor} deleted {request.resource} {key} while its owner {ref.kind} "
                f"{ref.name} (uid {ref.uid}) exists and is not being deleted",
                (
                    ("object", f"{request.resource} {key}"),
                    ("object uid", obj.metadata.uid),
                    ("owner", f"{ref.kind} {ref.name}"),
                    ("owner uid", ref.uid),
                    ("owner resourceVersion", owner.metadata.resource_version),
                    ("revision", after.api.store.revision),
                ),
            )
    return None


GC_SPARES_LIVE_OWNERS = Property(
    "gc-never-deletes-a-dependent-of-a-live-owner",
    "the garbage collector never deletes an object whose owner (same uid) exists and is not "
    "being deleted",
    TRANSITION,
    _gc_deletes_owned,
    "Checked on each step in which a delete sent by the garbage collector lands, against "
    "etcd just before it. An owner is live when an object of its kind and name with the "
    "reference's uid is stored (a same-named object with another uid is a different owner: "
    "the reference dangles) and has no deletionTimestamp. The exception is by design: "
    "Foreground deletion (the owner has a deletionTimestamp and the foregroundDeletion "
    "finalizer) deletes the dependents while the owner still exists, and such an owner is "
    "being deleted, so it does not count as live.",
)
