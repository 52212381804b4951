"""Liveness properties: checked on every quiescent state reached after the faults stop.

A Deployment's status matches its spec and every pod it wants is Running on a node that
satisfies the pod's constraints; a pod stays Pending only when no node can take it (the
scheduler's own filters, run against every node); no endless create-delete or evict-recreate
cycle (creations per owner and per object, counted over etcd's history, stay bounded).

>>> from kubeproof.model.run import run
>>> from kubeproof.model.scenarios import scenario
>>> r = run(scenario("journey"))
>>> [p.name for p in EVENTUALLY_PROPERTIES if not p.holds_in(r.state)]
[]
"""

from __future__ import annotations

from collections import Counter
from dataclasses import fields

from kubeproof.model.cluster import State
from kubeproof.model.controllers.deployment_util import find_new_replicaset, replicas
from kubeproof.model.controllers.protocol import View
from kubeproof.model.controllers.scheduler import Scheduler
from kubeproof.model.kubelet import admission_failure
from kubeproof.model.objects import EMPTY, Deployment, FrozenMap, Pod, ReplicaSet, object_key
from kubeproof.model.scheduler.cycle import schedule_one
from kubeproof.model.scheduler.profile import DEFAULT_SCHEDULER
from kubeproof.properties.core import EVENTUALLY, Property, Violation
from kubeproof.properties.reading import components_of, get, is_active, owner_uid, stored

__all__ = [
    "BOUNDED_CREATIONS",
    "DEPLOYMENT_CONVERGES",
    "EVENTUALLY_PROPERTIES",
    "PENDING_ONLY_WHEN_UNSCHEDULABLE",
    "bounded_creations",
]


def _condition(obj, kind: str) -> str | None:
    return next((c.status for c in obj.status.conditions if c.type == kind), None)


# --- Deployments converge ------------------------------------------------------------------


def _misplaced(state: State, pod: Pod) -> str:
    """Why a wanted pod is not Running on a node that satisfies its constraints ("" if it is)."""
    if pod.status.phase != "Running":
        return f"phase {pod.status.phase or 'unset'}"
    node = get(state, "nodes", "", pod.spec.node_name)
    if node is None:
        return f"its node {pod.spec.node_name!r} does not exist"
    others = tuple(
        p
        for p in stored(state, "pods")
        if p.spec.node_name == pod.spec.node_name and is_active(p) and p != pod
    )
    # the constraints that hold while a pod runs: the kubelet's admission re-check (resources,
    # node affinity and nodeSelector, nodeName, host ports, NoExecute taints); NoSchedule taints
    # and scheduling-only rules (spread, inter-pod affinity) do not apply to a running pod
    failure = admission_failure(pod, node, others)
    return "" if failure is None else f"{failure[0]}: {failure[1]}"


def _deployment_unconverged(state: State) -> Violation | None:
    for d in stored(state, "deployments"):
        if not isinstance(d, Deployment) or d.metadata.deletion_timestamp or d.spec.paused:
            continue
        key, want, s = object_key(d), replicas(d), d.status
        sets = [
            rs
            for rs in stored(state, "replicasets", d.metadata.namespace)
            if isinstance(rs, ReplicaSet) and owner_uid(rs) == d.metadata.uid
        ]
        new = find_new_replicaset(d, sets)
        pods = tuple(
            p
            for p in stored(state, "pods", d.metadata.namespace)
            if new is not None and owner_uid(p) == new.metadata.uid and is_active(p)
        )
        problems = []
        if s.observed_generation < d.metadata.generation:
            problems.append(
                f"status.observedGeneration {s.observed_generation} < generation "
                f"{d.metadata.generation}"
            )
        counts = (s.replicas, s.updated_replicas, s.available_replicas)
        if counts != (want, want, want):
            problems.append(
                f"status replicas/updated/available {counts[0]}/{counts[1]}/{counts[2]}, "
                f"spec.replicas {want}"
            )
        if len(pods) != want:
            problems.append(f"{len(pods)} active pods of the current template, want {want}")
        misplaced = {p.metadata.name: why for p in pods if (why := _misplaced(state, p))}
        if misplaced:
            problems.append(
                "; ".join(f"pod {name}: {why}" for name, why in sorted(misplaced.items()))
            )
        if problems:
            return Violation(
                "deployment-converges",
                f"Deployment {key} has not converged: {problems[0]}",
                (
                    ("deployment", key),
                    ("spec.replicas", want),
                    ("status", counts),
                    ("new replicaset", new.metadata.name if new else None),
                    ("pods", tuple(f"{p.metadata.name} on {p.spec.node_name}" for p in pods)),
                    ("problems", tuple(problems)),
                ),
            )
    return None


DEPLOYMENT_CONVERGES = Property(
    "deployment-converges",
    "every Deployment's status matches its spec and every pod it wants is Running on a node "
    "that satisfies the pod's constraints",
    EVENTUALLY,
    _deployment_unconverged,
    "Status matches spec as upstream's DeploymentComplete says: observedGeneration caught up, "
    "status.replicas, updatedReplicas and availableReplicas all equal spec.replicas. The pods "
    "it wants are the active pods of its new ReplicaSet (find_new_replicaset); each must be "
    "Running on a stored node that passes the kubelet's admission re-check with the node's other "
    "active pods (model/kubelet.admission_failure: resources, node affinity and nodeSelector, "
    "nodeName, host ports, NoExecute taints), the constraints that still hold for a running "
    "pod. The node's Ready condition is not asked for: a quiescent run does not wait for the "
    "periodic heartbeats that repair a condition the node lifecycle controller set to Unknown "
    "after a clock jump, and a pod on a NotReady node is the taint manager's business. Paused "
    "Deployments and Deployments being deleted are skipped.",
)


# --- Pending pods are unschedulable --------------------------------------------------------


def _schedulers(state: State) -> dict[str, Scheduler]:
    found = {}
    for name in components_of(state, Scheduler):
        scheduler = state.controllers[name]
        scheduler = getattr(scheduler, "inner", scheduler)
        found.setdefault(scheduler.profile.scheduler_name, scheduler)
    return found


def _schedulable_pending(state: State) -> Violation | None:
    pending = [
        p
        for p in stored(state, "pods")
        if not p.spec.node_name
        and p.metadata.deletion_timestamp is None
        and p.status.phase in ("", "Pending")
        and not p.spec.scheduling_gates
    ]
    schedulers = _schedulers(state) if pending else {}
    for pod in pending:
        scheduler = schedulers.get(pod.spec.scheduler_name or DEFAULT_SCHEDULER)
        if scheduler is None:
            continue  # no scheduler of this name runs: the pod waits for one by design
        caches = FrozenMap(
            (r, FrozenMap((object_key(o), o) for o in stored(state, r)))
            for r in scheduler.resources
        )
        view = View("pending-only-when-unschedulable", state.api.now, caches, state.api)
        snapshot = scheduler.snapshot(view, EMPTY)
        decision = schedule_one(scheduler.profile, pod, snapshot, seed=scheduler.seed)
        if decision.selected is not None:
            feasible = tuple(e.name for e in decision.nodes if e.feasible)
            return Violation(
                "pending-only-when-unschedulable",
                f"{object_key(pod)} is Pending although {decision.selected} can take it",
                (
                    ("pod", object_key(pod)),
                    ("scheduler", scheduler.profile.scheduler_name),
                    ("feasible nodes", feasible),
                    ("PodScheduled", _condition(pod, "PodScheduled")),
                ),
            )
    return None


PENDING_ONLY_WHEN_UNSCHEDULABLE = Property(
    "pending-only-when-unschedulable",
    "a pod stays Pending only when no node can take it",
    EVENTUALLY,
    _schedulable_pending,
    "Every unbound, ungated pod not being deleted is run through its scheduler's own profile "
    "(model/scheduler/cycle.schedule_one, every filter plugin against every node) on a "
    "snapshot built from etcd the way the scheduler builds it from its caches "
    "(Scheduler.snapshot); if a node is feasible, the pod should not be Pending. Upstream "
    "moves an unschedulable pod back only on events its plugins register for, or after 5 "
    "minutes (flushUnschedulablePodsLeftover); a quiescent run does not wait for that periodic "
    "flush, so a missed event shows here. Pods of a scheduler the cluster does not run are "
    "skipped.",
)


# --- no endless cycles ---------------------------------------------------------------------


def _history(state: State):
    store = state.api.store
    for revision in range(store.history_start, store.revision + 1):
        yield from store.events_at(revision)


def bounded_creations(per_replica: int = 2, per_fault: int = 2, slack: int = 2) -> Property:
    """The no-endless-cycle property with its bounds: each owner creates at most
    ``per_replica`` x its largest spec.replicas + ``per_fault`` x faults + ``slack`` dependents,
    and no object name is created more than ``per_fault`` x faults + ``slack`` times."""
    # the name properties/engines gives the verdict of the exhaustive engine's cycle detection
    name = "no-endless-cycle"

    def check(state: State) -> Violation | None:
        faults = sum(getattr(state.faults_used, f.name) for f in fields(state.faults_used))
        by_owner: Counter[str] = Counter()
        by_key: Counter[str] = Counter()
        largest: dict[str, int] = {}
        owner_names: dict[str, str] = {}
        for event in _history(state):
            obj = event.kv.value
            if event.type != "PUT" or obj is None:
                continue
            spec_replicas = getattr(getattr(obj, "spec", None), "replicas", None)
            if isinstance(spec_replicas, int):
                uid = obj.metadata.uid
                largest[uid] = max(largest.get(uid, 0), spec_replicas)
            if not event.is_create:
                continue
            by_key[event.kv.key] += 1
            ref = obj.metadata.controller_ref()
            if ref is not None:
                by_owner[ref.uid] += 1
                owner_names[ref.uid] = f"{ref.kind} {obj.metadata.namespace}/{ref.name}"
        for key, count in sorted(by_key.items()):
            bound = per_fault * faults + slack
            if count > bound:
                return Violation(
                    name,
                    f"{key} was created {count} times (bound {bound})",
                    (("key", key), ("creations", count), ("bound", bound), ("faults", faults)),
                )
        for uid, count in sorted(by_owner.items()):
            if uid not in largest:
                continue  # the owner's history was compacted away: its bound is unknown
            bound = per_replica * largest[uid] + per_fault * faults + slack
            if count > bound:
                return Violation(
                    name,
                    f"{owner_names[uid]} created {count} dependents (bound {bound}): a "
                    "create-delete or evict-recreate cycle",
                    (
                        ("owner", owner_names[uid]),
                        ("owner uid", uid),
                        ("largest spec.replicas", largest[uid]),
                        ("creations", count),
                        ("bound", bound),
                        ("faults", faults),
                    ),
                )
        return None

    return Property(
        name,
        "no endless create-delete or evict-recreate cycle: creations per owner and per object "
        "stay bounded",
        EVENTUALLY,
        check,
        "Counted over etcd's history (model/apiserver/etcd.py keeps every event since the "
        "last compaction; a creation is a PUT at version 1), so the state itself carries what "
        f"is needed and the engines check it on the final quiescent state. Bounds: an owner "
        f"(by ControllerRef uid) creates at most {per_replica} x the largest spec.replicas it "
        f"ever had + {per_fault} per fault used + {slack}; a key is created at most "
        f"{per_fault} per fault + {slack} times. A compaction (a fault) drops older history, "
        "so the counts are lower bounds and never a false alarm. The exhaustive engine finds "
        "cycles directly as loops in its state graph.",
    )


BOUNDED_CREATIONS = bounded_creations()

EVENTUALLY_PROPERTIES = (DEPLOYMENT_CONVERGES, PENDING_ONLY_WHEN_UNSCHEDULABLE, BOUNDED_CREATIONS)
