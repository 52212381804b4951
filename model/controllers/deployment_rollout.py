"""One sync of the Deployment controller after the claim: the new ReplicaSet, the rollout
(RollingUpdate or Recreate), proportional scaling, cleanup and status.

upstream: pkg/controller/deployment/{sync.go, rolling.go, recreate.go, progress.go}. Upstream
writes as it goes and reads each response before the next step; the model collects the writes of
one sync in a ``Plan`` and sends them in upstream's order. Two writes to one ReplicaSet in a sync
(new annotations, then a scale) become one update, as upstream's second write builds on the
first's response; every Deployment status write carries the resourceVersion the sync started
from, so a second one in a sync meets upstream's 409, as it does upstream. Creating the new
ReplicaSet ends the sync: its outcome (created, AlreadyExists, a hash collision) is handled when
the response comes back (deployment.py).

>>> from kubeproof.model.controllers.deployment_util import resolve_fenceposts
>>> resolve_fenceposts(1, 0, 3)  # maxSurge 1, maxUnavailable 0: one surge pod at a time
(1, 0)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from kubeproof.model.apiserver.server import Request
from kubeproof.model.controllers import deployment_util as du
from kubeproof.model.controllers.protocol import Outgoing
from kubeproof.model.objects import (
    Deployment,
    DeploymentStatus,
    Pod,
    ReplicaSet,
    object_key,
)
from kubeproof.model.workloads import REVISION, new_replicaset

__all__ = ["IDENTITY", "Plan", "Stop", "rollout_recreate", "rollout_rolling", "sync"]

IDENTITY = "system:kube-controller-manager"


class Stop(Exception):
    """The sync ends here (the new ReplicaSet is being created)."""


@dataclass
class Plan:
    """The writes one sync decides on, in order; ``deployment`` is the sync's working copy
    (upstream mutates ``d`` in place). Local to one reconcile."""

    deployment: Deployment
    now: int
    ops: list[Outgoing] = field(default_factory=list)
    working: dict[str, ReplicaSet] = field(default_factory=dict)  # uid -> latest copy
    after: int | None = None  # requeueStuckDeployment

    @property
    def key(self) -> str:
        return object_key(self.deployment)

    def _send(self, verb: str, obj, tag, subresource: str = "", name: str = "") -> None:
        meta = obj.metadata
        resource = "deployments" if isinstance(obj, Deployment) else "replicasets"
        request = Request(
            IDENTITY,
            verb,
            resource,
            meta.namespace,
            "" if verb == "create" else name or meta.name,
            subresource,
            None if verb == "delete" else obj,
        )
        self.ops.append(Outgoing(request, self.key, tag))

    def update_rs(self, rs: ReplicaSet) -> ReplicaSet:
        """Update a ReplicaSet; a second update in this sync is folded into the first."""
        self.working[rs.metadata.uid] = rs
        for i, op in enumerate(self.ops):
            if op.tag == ("update", rs.metadata.uid):
                self.ops[i] = replace(op, request=replace(op.request, body=rs))
                return rs
        self._send("update", rs, ("update", rs.metadata.uid))
        return rs

    def claim(self, rs: ReplicaSet, verb: str) -> None:
        """Adopt or release: its own write (upstream: a PATCH); not folded."""
        self._send("update", rs, (verb, rs.metadata.uid))

    def delete_rs(self, rs: ReplicaSet) -> None:
        self._send("delete", rs, ("delete", rs.metadata.uid))

    def update_status(self, d: Deployment) -> None:
        self.deployment = d
        self._send("update", d, ("status",), subresource="status")

    def create_rs(self, rs: ReplicaSet, d: Deployment, revision: str) -> None:
        self._send("create", rs, ("create", d, rs, revision))
        raise Stop


# --- the new replica set (sync.go getNewReplicaSet) ----------------------------------------


def get_all(
    plan: Plan, sets: list[ReplicaSet], create: bool, count_terminating: bool = False
) -> tuple[ReplicaSet | None, list[ReplicaSet]]:
    """upstream getAllReplicaSetsAndSyncRevision: (new or None, all old), the new one's
    revision synced; with ``create`` a missing new ReplicaSet is created (and the sync stops)."""
    sets = [plan.working.get(rs.metadata.uid, rs) for rs in sets]
    old = du.find_old_replicasets(plan.deployment, sets)
    return _new_replicaset(plan, sets, old, create, count_terminating), old


def _new_replicaset(
    plan: Plan, sets: list[ReplicaSet], old: list[ReplicaSet], create: bool, terminating: bool
) -> ReplicaSet | None:
    d = plan.deployment
    existing = du.find_new_replicaset(d, sets)
    new_revision = max((du.revision(rs) or 0 for rs in old), default=0) + 1
    if existing is not None:
        rs = du.set_new_replicaset_annotations(d, existing, new_revision)
        if rs != existing or rs.spec.min_ready_seconds != d.spec.min_ready_seconds:
            rs = replace(rs, spec=replace(rs.spec, min_ready_seconds=d.spec.min_ready_seconds))
            return plan.update_rs(rs)  # upstream returns here, the revision synced next time
        revision = rs.metadata.annotations.get(REVISION, "")
        needs_update = d.metadata.annotations.get(REVISION) != revision
        d = du.with_revision(d, revision) if needs_update else d
        if du.has_progress_deadline(d) and du.get_condition(d.status, du.PROGRESSING) is None:
            message = f'Found new replica set "{rs.metadata.name}"'
            condition = du.new_condition(du.PROGRESSING, "True", du.FOUND_NEW_RS, message, plan.now)
            d = replace(d, status=du.set_condition(d.status, condition))
            needs_update = True
        if needs_update:
            plan.update_status(d)
        return rs
    if not create:
        return None
    fresh = new_replicaset(d, 0)
    count = du.new_rs_new_replicas(d, [*old, fresh], fresh, terminating)
    if count is None:  # terminating replicas unknown: upstream returns an error
        raise Stop
    fresh = new_replicaset(d, count, revision=new_revision, max_surge=du.max_surge(d))
    plan.create_rs(fresh, d, str(new_revision))
    return None  # not reached


# --- scaling -------------------------------------------------------------------------------


def scale_rs(plan: Plan, rs: ReplicaSet, size: int, always: bool = False) -> bool:
    """upstream scaleReplicaSetAndRecordEvent (or scaleReplicaSet with ``always``): write the
    size and the replica annotations; whether the size changed."""
    d = plan.deployment
    if du.rs_replicas(rs) == size and not always:
        return False
    n = du.replicas(d)
    maximum = n + du.max_surge(d)
    resize = du.rs_replicas(rs) != size
    if resize or du.replicas_annotations_need_update(rs, n, maximum):
        rs = du.set_replicas_annotations(rs, n, maximum)
        plan.update_rs(replace(rs, spec=replace(rs.spec, replicas=size)))
    return resize


def scale(plan: Plan, new: ReplicaSet | None, old: list[ReplicaSet]) -> None:
    """Proportional scaling on a scaling event or while paused (upstream sync.go scale)."""
    d = plan.deployment
    n = du.replicas(d)
    only = du.find_active_or_latest(new, old)
    if only is not None:
        scale_rs(plan, only, n)
        return
    if du.is_saturated(d, new):  # e.g. after adopting ReplicaSets beside a saturated new one
        for rs in du.active(old):
            scale_rs(plan, rs, 0)
        return
    if d.spec.strategy is None or d.spec.strategy.type != "RollingUpdate":
        return
    sets = du.active([*old, new])
    allowed = n + du.max_surge(d) if n > 0 else 0
    to_add = allowed - du.spec_count(sets)
    if to_add:
        # ReplicaSetsBySizeNewer when scaling up (ties: newer first), ReplicaSetsBySizeOlder
        # when scaling down (ties: older first); the second sort is stable
        sets.sort(key=du.by_creation, reverse=to_add > 0)
        sets.sort(key=lambda rs: -du.rs_replicas(rs))
    added, sizes = 0, {}
    for rs in sets:
        proportion = du.get_proportion(rs, d, to_add, added) if to_add else 0
        sizes[rs.metadata.uid] = du.rs_replicas(rs) + proportion
        added += proportion
    for i, rs in enumerate(sets):
        size = sizes[rs.metadata.uid]
        if i == 0 and to_add:  # the leftover goes to the largest
            size = max(0, size + to_add - added)
        scale_rs(plan, rs, size, always=True)


def cleanup(plan: Plan, old: list[ReplicaSet]) -> None:
    """Delete the oldest revisions beyond revisionHistoryLimit, never one that still has
    replicas or an unobserved generation (upstream cleanupDeployment)."""
    d = plan.deployment
    if not du.has_revision_history_limit(d):
        return
    alive = [rs for rs in old if rs.metadata.deletion_timestamp is None]
    diff = len(alive) - d.spec.revision_history_limit
    for rs in sorted(alive, key=du.by_revision)[: max(diff, 0)]:
        if (
            rs.status.replicas
            or du.rs_replicas(rs)
            or rs.metadata.generation > rs.status.observed_generation
        ):
            continue
        plan.delete_rs(rs)


# --- the two strategies --------------------------------------------------------------------


def rollout_rolling(plan: Plan, sets: list[ReplicaSet], count_terminating: bool) -> None:
    """upstream rolling.go rolloutRolling: at most one scaling step, then the status."""
    new, old = get_all(plan, sets, True, count_terminating)
    everything = [*old, new]
    if _reconcile_new(plan, everything, new, count_terminating) or _reconcile_old(
        plan, everything, du.active(old), new
    ):
        return sync_rollout_status(plan, everything, new)
    if du.deployment_complete(plan.deployment, plan.deployment.status):
        cleanup(plan, old)
    sync_rollout_status(plan, everything, new)


def _reconcile_new(plan: Plan, everything: list, new: ReplicaSet, count_terminating: bool) -> bool:
    """upstream reconcileNewReplicaSet: scale the new ReplicaSet up within the surge."""
    n = du.replicas(plan.deployment)
    if du.rs_replicas(new) == n:
        return False
    if du.rs_replicas(new) > n:
        return scale_rs(plan, new, n)
    size = du.new_rs_new_replicas(plan.deployment, everything, new, count_terminating)
    if size is None:  # terminating replicas unknown: upstream returns an error
        raise Stop
    return scale_rs(plan, new, size)


def _reconcile_old(plan: Plan, everything: list, old: list[ReplicaSet], new: ReplicaSet) -> bool:
    """upstream reconcileOldReplicaSets: scale old ReplicaSets down as availability allows."""
    if du.spec_count(old) == 0:
        return False
    d = plan.deployment
    min_available = du.replicas(d) - du.max_unavailable(d)
    new_unavailable = du.rs_replicas(new) - new.status.available_replicas
    max_scaled_down = du.spec_count(everything) - min_available - new_unavailable
    if max_scaled_down <= 0:
        return False
    # unhealthy replicas first, or they block the rollout (#16737)
    old, cleaned = _cleanup_unhealthy(plan, old, max_scaled_down)
    scaled = _scale_down_old(plan, [*old, new], old)
    return cleaned + scaled > 0


def _cleanup_unhealthy(
    plan: Plan, old: list[ReplicaSet], budget: int
) -> tuple[list[ReplicaSet], int]:
    """upstream cleanupUnhealthyReplicas: oldest first, remove spec - available of each."""
    old = sorted(old, key=du.by_creation)
    total = 0
    for i, rs in enumerate(old):
        if total >= budget:
            break
        size, available = du.rs_replicas(rs), rs.status.available_replicas
        if size == 0 or size == available:
            continue
        count = min(budget - total, size - available)
        scale_rs(plan, rs, size - count)
        old[i] = plan.working[rs.metadata.uid]
        total += count
    return old, total


def _scale_down_old(plan: Plan, everything: list, old: list[ReplicaSet]) -> int:
    """upstream scaleDownOldReplicaSetsForRollingUpdate: remove what exceeds minAvailable,
    oldest first."""
    d = plan.deployment
    min_available = du.replicas(d) - du.max_unavailable(d)
    available = du.available_count(everything)
    if available <= min_available:
        return 0
    goal, total = available - min_available, 0
    for rs in sorted(old, key=du.by_creation):
        if total >= goal:
            break
        if du.rs_replicas(rs) == 0:
            continue
        count = min(du.rs_replicas(rs), goal - total)
        scale_rs(plan, rs, du.rs_replicas(rs) - count)
        total += count
    return total


def rollout_recreate(
    plan: Plan, sets: list[ReplicaSet], pods: dict[str, list[Pod]], waits_for_pods: bool
) -> None:
    """upstream recreate.go rolloutRecreate: old ReplicaSets to 0, wait until their pods are
    gone (#32567), then the new ReplicaSet at full size."""
    new, old = get_all(plan, sets, False)
    everything = [*old, new]
    scaled = False
    for rs in du.active(old):
        scaled = scale_rs(plan, rs, 0) or scaled
    if scaled:
        return sync_rollout_status(plan, everything, new)
    if _old_pods_running(new, old, pods, waits_for_pods):
        return sync_rollout_status(plan, everything, new)
    if new is None:
        new, old = get_all(plan, sets, True)
    scale_rs(plan, new, du.replicas(plan.deployment))
    if du.deployment_complete(plan.deployment, plan.deployment.status):
        cleanup(plan, old)
    sync_rollout_status(plan, everything, new)


def _old_pods_running(
    new: ReplicaSet | None, old: list[ReplicaSet], pods: dict[str, list[Pod]], waits: bool
) -> bool:
    """upstream oldPodsRunning: an old ReplicaSet reports pods, or the pod cache has a pod of
    one that is not Succeeded or Failed. Without ``waits`` (#32567 unfixed) only the
    ReplicaSets' status counts."""
    if du.actual_count(old) > 0:
        return True
    if not waits:
        return False
    return any(
        pod.status.phase not in ("Succeeded", "Failed")
        for uid, group in pods.items()
        if new is None or uid != new.metadata.uid
        for pod in group
    )


# --- status (sync.go calculateStatus, syncDeploymentStatus; progress.go) --------------------


def calculate_status(plan: Plan, everything: list, new: ReplicaSet | None) -> DeploymentStatus:
    d = plan.deployment
    available = du.available_count(everything)
    status = DeploymentStatus(
        observed_generation=d.metadata.generation,
        replicas=du.actual_count(everything),
        updated_replicas=du.actual_count([new]),
        ready_replicas=du.ready_count(everything),
        available_replicas=available,
        unavailable_replicas=max(0, du.spec_count(everything) - available),
        # KEP-3973: DeploymentReplicaSetTerminatingReplicas, beta and on since 1.33/1.34
        terminating_replicas=du.terminating_count(everything),
        conditions=d.status.conditions,
        collision_count=d.status.collision_count,
    )
    if available >= du.replicas(d) - du.max_unavailable(d):
        condition = du.new_condition(
            du.AVAILABLE, "True", du.MIN_AVAILABLE, "Deployment has minimum availability.", plan.now
        )
    else:
        condition = du.new_condition(
            du.AVAILABLE,
            "False",
            du.MIN_UNAVAILABLE,
            "Deployment does not have minimum availability.",
            plan.now,
        )
    return du.set_condition(status, condition)


def sync_status(plan: Plan, everything: list, new: ReplicaSet | None) -> None:
    """upstream syncDeploymentStatus: write the status if it changed."""
    status = calculate_status(plan, everything, new)
    if status != plan.deployment.status:
        plan.update_status(replace(plan.deployment, status=status))


def sync(plan: Plan, sets: list[ReplicaSet]) -> None:
    """upstream sync.go sync: a scaling event or a paused Deployment."""
    new, old = get_all(plan, sets, False)
    scale(plan, new, old)
    if plan.deployment.spec.paused:
        cleanup(plan, old)
    sync_status(plan, [*old, new], new)


def sync_rollout_status(plan: Plan, everything: list, new: ReplicaSet | None) -> None:
    """upstream progress.go syncRolloutStatus: the status with the Progressing condition, and
    a requeue to check the progress deadline (requeueStuckDeployment)."""
    d, now = plan.deployment, plan.now
    status = calculate_status(plan, everything, new)
    if not du.has_progress_deadline(d):
        status = du.remove_condition(status, du.PROGRESSING)
    current = du.get_condition(d.status, du.PROGRESSING)
    name = (
        f'ReplicaSet "{new.metadata.name}"'
        if new is not None
        else f'Deployment "{d.metadata.name}"'
    )
    complete_before = (
        status.replicas == status.updated_replicas
        and current is not None
        and current.reason == du.NEW_RS_AVAILABLE
    )
    if du.has_progress_deadline(d) and not complete_before:
        if du.deployment_complete(d, status):
            condition = du.new_condition(
                du.PROGRESSING,
                "True",
                du.NEW_RS_AVAILABLE,
                f"{name} has successfully progressed.",
                now,
            )
            status = du.set_condition(status, condition)
        elif du.deployment_progressing(d, status):
            # unlike set_condition, the same reason refreshes lastUpdateTime
            condition = du.new_condition(
                du.PROGRESSING, "True", du.REPLICASET_UPDATED, f"{name} is progressing.", now
            )
            if current is not None:
                if current.status == "True":
                    condition = replace(
                        condition, last_transition_time=current.last_transition_time
                    )
                status = du.remove_condition(status, du.PROGRESSING)
            status = du.set_condition(status, condition)
        elif du.deployment_timed_out(d, status, now):
            condition = du.new_condition(
                du.PROGRESSING, "False", du.TIMED_OUT, f"{name} has timed out progressing.", now
            )
            status = du.set_condition(status, condition)
    failure = _replica_failure(everything, new)
    if failure is not None:
        status = du.set_condition(status, failure)
    else:
        status = du.remove_condition(status, du.REPLICA_FAILURE)
    if status == d.status:
        plan.after = _stuck_requeue(d, status, now)
        return
    plan.update_status(replace(d, status=status))


def _replica_failure(everything: list, new: ReplicaSet | None):
    """upstream getReplicaFailures: the new ReplicaSet's ReplicaFailure condition first."""
    for rs in [new, *everything]:
        if rs is None:
            continue
        for c in rs.status.conditions:
            if c.type == du.REPLICA_FAILURE:
                return replace(c, last_update_time=c.last_transition_time)
    return None


def _stuck_requeue(d: Deployment, status: DeploymentStatus, now: int) -> int | None:
    """upstream requeueStuckDeployment: check the deadline again when it can have passed
    (a second later; a rate-limited requeue, modelled as 1s, once it is due)."""
    current = du.get_condition(d.status, du.PROGRESSING)
    if not du.has_progress_deadline(d) or current is None:
        return None
    if du.deployment_complete(d, status) or current.reason == du.TIMED_OUT:
        return None
    after = (current.last_update_time or 0) + d.spec.progress_deadline_seconds - now
    return 1 if after < 1 else after + 1
