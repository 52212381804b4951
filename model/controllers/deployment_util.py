"""The arithmetic of the Deployment controller: fenceposts, replica counts, proportions,
annotations and conditions, each a pure function of Deployments and ReplicaSets.

upstream: pkg/controller/deployment/util/deployment_util.go (and controller_utils.go for the
ReplicaSet orderings). Surge rounds up and unavailability down; both zero makes unavailability 1:

>>> resolve_fenceposts("25%", "25%", 10)
(3, 2)
>>> resolve_fenceposts("0%", "0%", 0)
(0, 1)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from kubeproof.model.objects import (
    Condition,
    Deployment,
    DeploymentStatus,
    FrozenMap,
    Pod,
    PodTemplateSpec,
    ReplicaSet,
)
from kubeproof.model.validation import selector_matches
from kubeproof.model.workloads import (
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    POD_TEMPLATE_HASH,
    REVISION,
    REVISION_HISTORY,
    SKIPPED_ANNOTATIONS,
)

__all__ = [
    "AVAILABLE",
    "PROGRESSING",
    "by_creation",
    "deployment_complete",
    "deployment_progressing",
    "deployment_timed_out",
    "equal_ignore_hash",
    "find_active_or_latest",
    "find_new_replicaset",
    "find_old_replicasets",
    "get_condition",
    "get_proportion",
    "has_progress_deadline",
    "is_saturated",
    "max_surge",
    "max_unavailable",
    "new_rs_new_replicas",
    "remove_condition",
    "replicas_annotations_need_update",
    "resolve_fenceposts",
    "revision",
    "scaled_value",
    "selects",
    "set_condition",
    "set_new_replicaset_annotations",
    "set_replicas_annotations",
    "terminating_count",
]

MAX_INT32 = 2**31 - 1
AVAILABLE, PROGRESSING, REPLICA_FAILURE = "Available", "Progressing", "ReplicaFailure"
# upstream: deployment_util.go, the reasons of the deployment conditions
REPLICASET_UPDATED = "ReplicaSetUpdated"
FAILED_RS_CREATE = "ReplicaSetCreateError"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"
# upstream: sync.go maxRevHistoryLengthInChars
MAX_REV_HISTORY_CHARS = 2000


# --- selectors and orderings ---------------------------------------------------------------


def selects(deployment: Deployment, labels: FrozenMap) -> bool:
    """Whether the Deployment's selector selects ``labels``; a nil or empty selector selects
    nothing here (upstream GetDeploymentsForReplicaSet: "it should match nothing")."""
    selector = deployment.spec.selector
    if selector is None or (not selector.match_labels and not selector.match_expressions):
        return False
    return selector_matches(selector, labels)


def by_creation(rs: ReplicaSet) -> tuple[int, str]:
    """upstream: controller_utils.go ReplicaSetsByCreationTimestamp (ties by name)."""
    return (rs.metadata.creation_timestamp or 0, rs.metadata.name)


def revision(rs: ReplicaSet) -> int | None:
    """The revision annotation: 0 when absent, None when unparsable (upstream Revision)."""
    value = rs.metadata.annotations.get(REVISION)
    if value is None:
        return 0
    try:
        return int(value)
    except ValueError:
        return None


def by_revision(rs: ReplicaSet) -> tuple[int, int, str]:
    """upstream: deployment_util.go ReplicaSetsByRevision (unparsable ones count as 0 here)."""
    return (revision(rs) or 0, *by_creation(rs))


# --- fenceposts ----------------------------------------------------------------------------


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """An IntOrString resolved against ``total``; ValueError if it is not an int or "N%".

    upstream: apimachinery pkg/util/intstr GetScaledValueFromIntOrPercent (math.Ceil or
    math.Floor of value*total/100; exact integer arithmetic here)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        raise ValueError(f"invalid value for IntOrString: {value!r} is not a percentage")
    try:
        percent = int(value[:-1])
    except ValueError:
        raise ValueError(f"invalid value for IntOrString: invalid value {value!r}") from None
    product = percent * total
    return -(-product // 100) if round_up else product // 100


def resolve_fenceposts(
    surge: int | str | None, unavailable: int | str | None, desired: int
) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) for ``desired`` replicas (upstream ResolveFenceposts)."""
    s = scaled_value(surge, desired, round_up=True)
    u = scaled_value(unavailable, desired, round_up=False)
    if s == 0 and u == 0:
        # validation forbids an explicit 0/0, but rounding down can get there: then guess that
        # if we cannot get up to desired, we can at least spin up one
        u = 1
    return s, u


def _rolling(deployment: Deployment) -> bool:
    strategy = deployment.spec.strategy
    return strategy is not None and strategy.type == "RollingUpdate"


def _fenceposts(deployment: Deployment) -> tuple[int, int]:
    ru = deployment.spec.strategy.rolling_update
    if ru is None:
        return 0, 0
    try:
        return resolve_fenceposts(ru.max_surge, ru.max_unavailable, replicas(deployment))
    except ValueError:  # upstream ignores the error: "caught by validation"
        return 0, 0


def replicas(deployment: Deployment) -> int:
    """spec.replicas (1 when unset, as the api-server defaults it)."""
    return 1 if deployment.spec.replicas is None else deployment.spec.replicas


def max_surge(deployment: Deployment) -> int:
    """upstream MaxSurge: 0 unless RollingUpdate."""
    return _fenceposts(deployment)[0] if _rolling(deployment) else 0


def max_unavailable(deployment: Deployment) -> int:
    """upstream MaxUnavailable: 0 unless RollingUpdate or with 0 replicas, at most replicas."""
    n = replicas(deployment)
    if not _rolling(deployment) or n == 0:
        return 0
    return min(_fenceposts(deployment)[1], n)


# --- counts over replica sets --------------------------------------------------------------


def rs_replicas(rs: ReplicaSet | None) -> int:
    return 0 if rs is None or rs.spec.replicas is None else rs.spec.replicas


def spec_count(sets: Iterable[ReplicaSet | None]) -> int:
    """upstream GetReplicaCountForReplicaSets: Σ spec.replicas."""
    return sum(rs_replicas(rs) for rs in sets)


def actual_count(sets: Iterable[ReplicaSet | None]) -> int:
    """upstream GetActualReplicaCountForReplicaSets: Σ status.replicas."""
    return sum(rs.status.replicas for rs in sets if rs is not None)


def ready_count(sets: Iterable[ReplicaSet | None]) -> int:
    return sum(rs.status.ready_replicas for rs in sets if rs is not None)


def available_count(sets: Iterable[ReplicaSet | None]) -> int:
    return sum(rs.status.available_replicas for rs in sets if rs is not None)


def terminating_count(sets: Iterable[ReplicaSet | None]) -> int | None:
    """Σ status.terminatingReplicas; None when a ReplicaSet the controller has observed does not
    report it (upstream GetTerminatingReplicaCountForReplicaSets, KEP-3973)."""
    total = 0
    for rs in sets:
        if rs is None:
            continue
        count = rs.status.terminating_replicas
        if count is None:
            if rs.status.observed_generation == 0:
                continue  # new, not yet observed by the ReplicaSet controller
            return None
        total += count
    return total


def active(sets: Iterable[ReplicaSet | None]) -> list[ReplicaSet]:
    """upstream controller.FilterActiveReplicaSets: spec.replicas > 0."""
    return [rs for rs in sets if rs is not None and rs_replicas(rs) > 0]


# --- the new and the old replica sets ------------------------------------------------------


def _without_hash(template: PodTemplateSpec) -> PodTemplateSpec:
    labels = template.metadata.labels.without(POD_TEMPLATE_HASH)
    return replace(template, metadata=replace(template.metadata, labels=labels))


def equal_ignore_hash(a: PodTemplateSpec, b: PodTemplateSpec) -> bool:
    """upstream EqualIgnoreHash: templates equal but for the pod-template-hash label."""
    return _without_hash(a) == _without_hash(b)


def find_new_replicaset(deployment: Deployment, sets: Iterable[ReplicaSet]) -> ReplicaSet | None:
    """The oldest ReplicaSet whose template is the Deployment's (#40415: several may match)."""
    for rs in sorted(sets, key=by_creation):
        if equal_ignore_hash(rs.spec.template, deployment.spec.template):
            return rs
    return None


def find_old_replicasets(deployment: Deployment, sets: Iterable[ReplicaSet]) -> list[ReplicaSet]:
    """Every ReplicaSet but the new one (upstream FindOldReplicaSets' allRSs)."""
    sets = list(sets)
    new = find_new_replicaset(deployment, sets)
    return [rs for rs in sets if new is None or rs.metadata.uid != new.metadata.uid]


def find_active_or_latest(new: ReplicaSet | None, old: list[ReplicaSet]) -> ReplicaSet | None:
    """The only active ReplicaSet, or the newest when none is active (upstream
    FindActiveOrLatest); None when several are active."""
    if new is None and not old:
        return None
    old = sorted(old, key=by_creation, reverse=True)
    live = active([*old, new])
    if not live:
        return new if new is not None else old[0]
    return live[0] if len(live) == 1 else None


def new_rs_new_replicas(
    deployment: Deployment,
    all_sets: list[ReplicaSet | None],
    new: ReplicaSet,
    count_terminating: bool = False,
) -> int | None:
    """The new ReplicaSet's size after one scale-up step (upstream NewRSNewReplicas): as far as
    spec.replicas + maxSurge allows, never past spec.replicas. ``count_terminating`` counts
    terminating pods against the surge too (KEP-3973/5882 TerminationComplete); None when
    their number is unknown (upstream returns an error)."""
    n = replicas(deployment)
    if not _rolling(deployment):
        return n  # Recreate
    ru = deployment.spec.strategy.rolling_update
    surge = scaled_value(ru.max_surge if ru else None, n, round_up=True)
    current = spec_count(all_sets)
    if count_terminating:
        terminating = terminating_count(all_sets)
        if terminating is None:
            return None
        current += terminating
    if current >= n + surge:
        return rs_replicas(new)  # cannot scale up
    return rs_replicas(new) + min(n + surge - current, n - rs_replicas(new))


def is_saturated(deployment: Deployment, rs: ReplicaSet | None) -> bool:
    """upstream IsSaturated: the ReplicaSet has, wants and runs all the Deployment's replicas."""
    if rs is None:
        return False
    try:
        desired = int(rs.metadata.annotations.get(DESIRED_REPLICAS, ""))
    except ValueError:
        return False
    n = replicas(deployment)
    return rs_replicas(rs) == n and desired == n and rs.status.available_replicas == n


def _round(x: float) -> int:
    """upstream: pkg/util/integer RoundToInt32 (half away from zero)."""
    return int(x - 0.5) if x < 0 else int(x + 0.5)


def _fraction(rs: ReplicaSet, deployment: Deployment) -> int:
    """upstream getReplicaSetFraction: this ReplicaSet's share of the new size, minus its size."""
    n = replicas(deployment)
    if n == 0:
        return -rs_replicas(rs)
    new_max = n + max_surge(deployment)
    try:
        annotated = int(rs.metadata.annotations[MAX_REPLICAS])
    except (KeyError, ValueError):
        annotated = deployment.status.replicas  # created by an older controller
    if annotated == 0:
        return 0  # never proportionally scale up from zero
    return _round(rs_replicas(rs) * new_max / annotated) - rs_replicas(rs)


def get_proportion(rs: ReplicaSet | None, deployment: Deployment, to_add: int, added: int) -> int:
    """How many replicas this ReplicaSet gains (or loses) in a proportional scale, bounded by
    what is left to add (upstream GetProportion)."""
    if rs is None or rs_replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction, allowed = _fraction(rs, deployment), to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


# --- annotations ---------------------------------------------------------------------------


def set_replicas_annotations(rs: ReplicaSet, desired: int, maximum: int) -> ReplicaSet:
    """upstream SetReplicasAnnotations: desired-replicas and max-replicas."""
    annotations = rs.metadata.annotations.set(DESIRED_REPLICAS, str(desired))
    annotations = annotations.set(MAX_REPLICAS, str(maximum))
    return replace(rs, metadata=replace(rs.metadata, annotations=annotations))


def replicas_annotations_need_update(rs: ReplicaSet, desired: int, maximum: int) -> bool:
    a = rs.metadata.annotations
    return a.get(DESIRED_REPLICAS) != str(desired) or a.get(MAX_REPLICAS) != str(maximum)


def set_new_replicaset_annotations(
    deployment: Deployment, rs: ReplicaSet, new_revision: int
) -> ReplicaSet:
    """The existing new ReplicaSet with the Deployment's annotations copied and its revision
    raised to ``new_revision`` (the old one kept in revision-history): upstream
    SetNewReplicaSetAnnotations with exists=true."""
    annotations = rs.metadata.annotations
    for key, value in deployment.metadata.annotations.items():
        if key not in SKIPPED_ANNOTATIONS and annotations.get(key) != value:
            annotations = annotations.set(key, value)
    old_text = annotations.get(REVISION)
    old = revision(rs) if old_text is not None else 0
    if old is None:
        return rs  # an unparsable revision: upstream gives up without changes
    if old < new_revision:
        annotations = annotations.set(REVISION, str(new_revision))
        if old_text is not None:  # rolling back to this ReplicaSet: keep the history
            annotations = annotations.set(
                REVISION_HISTORY, _history(annotations.get(REVISION_HISTORY, ""), old_text)
            )
    return replace(rs, metadata=replace(rs.metadata, annotations=annotations))


def _history(history: str, old: str) -> str:
    if not history:
        return old
    revisions = history.split(",")
    total, start = len(history) + len(old) + 1, 0
    while total > MAX_REV_HISTORY_CHARS and start < len(revisions):
        total -= len(revisions[start]) + 1
        start += 1
    if total > MAX_REV_HISTORY_CHARS:
        return history
    return ",".join([*revisions[start:], old])


def with_revision(deployment: Deployment, value: str) -> Deployment:
    """upstream SetDeploymentRevision."""
    annotations = deployment.metadata.annotations.set(REVISION, value)
    return replace(deployment, metadata=replace(deployment.metadata, annotations=annotations))


# --- conditions ----------------------------------------------------------------------------


def get_condition(status: DeploymentStatus, type_: str) -> Condition | None:
    return next((c for c in status.conditions if c.type == type_), None)


def new_condition(type_: str, status: str, reason: str, message: str, now: int) -> Condition:
    """upstream NewDeploymentCondition: lastUpdateTime and lastTransitionTime are now."""
    return Condition(type_, status, reason, message, now, now)


def set_condition(status: DeploymentStatus, condition: Condition) -> DeploymentStatus:
    """upstream SetDeploymentCondition: no change for the same status and reason; the
    transition time is kept while the status is the same; the condition moves to the end."""
    current = get_condition(status, condition.type)
    if current is not None and (current.status, current.reason) == (
        condition.status,
        condition.reason,
    ):
        return status
    if current is not None and current.status == condition.status:
        condition = replace(condition, last_transition_time=current.last_transition_time)
    kept = tuple(c for c in status.conditions if c.type != condition.type)
    return replace(status, conditions=(*kept, condition))


def remove_condition(status: DeploymentStatus, type_: str) -> DeploymentStatus:
    return replace(status, conditions=tuple(c for c in status.conditions if c.type != type_))


def has_progress_deadline(deployment: Deployment) -> bool:
    deadline = deployment.spec.progress_deadline_seconds
    return deadline is not None and deadline != MAX_INT32


def has_revision_history_limit(deployment: Deployment) -> bool:
    limit = deployment.spec.revision_history_limit
    return limit is not None and limit != MAX_INT32


def deployment_complete(deployment: Deployment, status: DeploymentStatus) -> bool:
    """upstream DeploymentComplete: every replica updated and available, generation observed."""
    n = replicas(deployment)
    return (
        status.updated_replicas == n
        and status.replicas == n
        and status.available_replicas == n
        and status.observed_generation >= deployment.metadata.generation
    )


def deployment_progressing(deployment: Deployment, status: DeploymentStatus) -> bool:
    """upstream DeploymentProgressing: more updated, fewer old, more ready or more available."""
    old = deployment.status
    return (
        status.updated_replicas > old.updated_replicas
        or status.replicas - status.updated_replicas < old.replicas - old.updated_replicas
        or status.ready_replicas > old.ready_replicas
        or status.available_replicas > old.available_replicas
    )


def deployment_timed_out(deployment: Deployment, status: DeploymentStatus, now: int) -> bool:
    """upstream DeploymentTimedOut: the Progressing condition's lastUpdateTime plus the deadline
    is before now; sticky once ProgressDeadlineExceeded, never after NewReplicaSetAvailable."""
    if not has_progress_deadline(deployment):
        return False
    condition = get_condition(status, PROGRESSING)
    if condition is None or condition.reason == NEW_RS_AVAILABLE:
        return False
    if condition.reason == TIMED_OUT:
        return True
    since = condition.last_update_time or 0
    return since + deployment.spec.progress_deadline_seconds < now


# --- pods ----------------------------------------------------------------------------------


def pod_map(
    deployment: Deployment, sets: Iterable[ReplicaSet], pods: Iterable[Pod]
) -> dict[str, list[Pod]]:
    """The Deployment's pods by the uid of their controlling ReplicaSet, inactive ones too
    (upstream getPodMapForDeployment)."""
    result: dict[str, list[Pod]] = {rs.metadata.uid: [] for rs in sets}
    for pod in pods:
        if not selects(deployment, pod.metadata.labels):
            continue
        ref = pod.metadata.controller_ref()
        if ref is not None and ref.uid in result:
            result[ref.uid].append(pod)
    return result
