"""The ReplicaSet controller: keep ``spec.replicas`` active pods of each ReplicaSet.

A sync (``syncReplicaSet``) waits until the informers have seen the controller's own last writes
(the KEP-5647 stale-cache guard), reads the ReplicaSet from the cache, checks its expectations
*before* listing pods (#8138), claims pods (adopts matching orphans after an uncached GET of the
ReplicaSet, releases owned pods whose labels no longer match), then creates pods in slow-start
batches of 1, 2, 4, ... or deletes the lowest-ranked ones, and writes the status through
``replicasets/status``.

Upstream runs a sync in one goroutine, calling the api-server synchronously. Here ``reconcile``
starts it and sends its first requests; each response moves it on (``on_response``): claims, then
one slow-start batch after another (a batch is sent only once the previous one all succeeded:
the first failing batch stops the rest), or the deletions, then the status update (retried once
after a live GET). While a sync is under way its key is not synced again (the work queue never
hands out a key being processed); an event meanwhile marks it to be synced once more.

upstream: pkg/controller/replicaset/replica_set.go, replica_set_utils.go (calculateStatus,
updateReplicaSetStatus), pkg/controller/controller_utils.go (ActivePodsWithRanks,
FilterActivePods), controller_ref_manager.go (ClaimPods), pkg/controller/util/consistency/.

>>> from kubeproof.model.apiserver.server import default_users, initial_state
>>> from kubeproof.model.objects import *
>>> labels = FrozenMap(app="web")
>>> template = PodTemplateSpec(ObjectMeta(labels=labels), PodSpec(containers=(Container("c"),)))
>>> rs = ReplicaSet(ObjectMeta(name="web", namespace="default", uid="uid-9", generation=1),
...                 ReplicaSetSpec(LabelSelector(labels), template, replicas=3))
>>> view = View("replicaset", 0, FrozenMap(replicasets=FrozenMap({"default/web": rs}),
...             pods=FrozenMap()), initial_state(default_users()))
>>> controller = ReplicaSetController()
>>> result = controller.reconcile(view, "default/web", controller.initial_memory())
>>> [o.request.verb + " " + o.request.resource for o in result.requests]  # slow start: 1 first
['create pods']
>>> result.memory.expectations.records["default/web"].add
3
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import cmp_to_key

from kubeproof.model.apiserver.server import Request, Response
from kubeproof.model.controllers.expectations import (
    Expectations,
    clear_written,
    creation_observed,
    delete_expectations,
    deletion_observed,
    expect_creations,
    expect_deletions,
    ready,
    satisfied,
    wrote_at,
)
from kubeproof.model.controllers.protocol import Delta, Outgoing, Reconciled, View
from kubeproof.model.objects import (
    EMPTY,
    Condition,
    FrozenMap,
    OwnerReference,
    Pod,
    ReplicaSet,
    ReplicaSetStatus,
    object_key,
)
from kubeproof.model.scheduler.matching import label_selector_matches
from kubeproof.model.workloads import pod_from_template

__all__ = [
    "BURST_REPLICAS",
    "POD_DELETION_COST",
    "Memory",
    "ReplicaSetController",
    "Sync",
    "calculate_status",
    "pods_to_delete",
]

BURST_REPLICAS = 500  # upstream: replica_set.go BurstReplicas
SLOW_START_INITIAL_BATCH_SIZE = 1  # upstream: controller_utils.go SlowStartInitialBatchSize
STATUS_UPDATE_RETRIES = 1  # upstream: replica_set_utils.go statusUpdateRetries
POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
REPLICA_FAILURE = "ReplicaFailure"
_PHASE_ORDINAL = FrozenMap(Pending=0, Unknown=1, Running=2)  # controller_utils.go podPhaseToOrdinal


@dataclass(frozen=True, slots=True)
class Sync:
    """A syncReplicaSet whose requests are under way."""

    rs: ReplicaSet  # the cached ReplicaSet the sync started from
    pods: tuple[Pod, ...]  # filteredPods: the active pods claimed (adopted ones once adopted)
    needs_sync: bool  # the expectations were satisfied when the sync began
    phase: str = "claim"  # claim, create, delete, status
    pending: int = 0  # responses still awaited in this phase
    error: str = ""  # a claim error, then manageReplicasErr
    diff: int = 0  # pods to create in this sync
    attempted: int = 0  # creations sent so far
    batch: int = 0  # size of the slow-start batch under way
    successes: int = 0
    batch_failed: bool = False
    status: ReplicaSetStatus | None = None  # the status being written
    after: int | None = None  # the AddAfter that follows the status write
    dirty: bool = False  # enqueued again while the sync was under way


@dataclass(frozen=True, slots=True)
class Memory:
    """Everything the controller keeps in memory, all of it lost on a crash."""

    expectations: Expectations = field(default_factory=Expectations)
    written: FrozenMap = EMPTY  # rs key -> expectations.Written (the consistency store)
    syncs: FrozenMap = EMPTY  # rs key -> Sync
    delayed: FrozenMap = EMPTY  # rs key -> due times of AddAfter from the pod handler
    listed: FrozenMap = EMPTY  # rs key -> pods listed by the first half of a pre-#8138 sync


@dataclass(frozen=True, slots=True)
class ReplicaSetController:
    """The switches restore older upstream behaviour for the bug catalogue; the defaults are
    today's upstream (v1.36). Turning ``expectations`` off also turns the stale-cache guard
    off: the guard came later and the pre-expectations controller had neither."""

    name: str = "replicaset"
    identity: str = "system:kube-controller-manager"
    process: str = "kube-controller-manager"
    resources: tuple[str, ...] = ("replicasets", "pods")
    burst_replicas: int = BURST_REPLICAS
    expectations: bool = True
    expectations_before_list: bool = True  # False: the list-then-check race of #8138
    stale_cache_guard: bool = True  # StaleControllerConsistencyReplicaSet (beta, on, in 1.36)
    logarithmic_scale_down: bool = True  # LogarithmicScaleDown (GA)
    # False: the pod delete handler drops a tombstone (a delete missed while the watch was down,
    # found by a relist), as a handler that only type-asserts *v1.Pod does (#25913 family)
    tombstones: bool = True

    def __post_init__(self) -> None:
        if not self.expectations:
            object.__setattr__(self, "stale_cache_guard", False)

    def initial_memory(self) -> Memory:
        return Memory()

    # --- event handlers -------------------------------------------------------------------

    def keys(self, delta: Delta, view: View) -> tuple[str, ...]:
        if delta.resource == "replicasets":
            return (delta.key,)  # upstream: addRS, updateRS, deleteRS all enqueue the key
        if self._dropped(delta):
            return ()
        return tuple(
            dict.fromkeys(k for kind, k, _ in _pod_effects(delta, view) if kind == "enqueue")
        )

    def observe(self, memory: Memory, delta: Delta, view: View) -> Memory:
        if delta.resource == "replicasets":
            old = delta.old
            if (
                delta.type == "MODIFIED"
                and old is not None
                and old.metadata.uid != delta.object.metadata.uid
            ):
                # upstream: updateRS: a new uid under the same name is a delete of the old one
                return _forget(memory, delta.key, old.metadata.uid)
            if delta.type == "DELETED":  # deleteRS, tombstones included
                return _forget(memory, delta.key, delta.object.metadata.uid)
            return memory
        if self._dropped(delta):
            return memory
        e, delayed = memory.expectations, memory.delayed
        for kind, key, arg in _pod_effects(delta, view):
            if kind == "created" and self.expectations:
                e = creation_observed(e, key)
            elif kind == "deleted" and self.expectations:
                e = deletion_observed(e, key, arg)
            elif kind == "after":
                delayed = delayed.set(key, (*delayed.get(key, ()), arg))
        return replace(memory, expectations=e, delayed=delayed)

    def _dropped(self, delta: Delta) -> bool:
        """Whether the pod handler ignores this event: a tombstone, with ``tombstones`` off.

        upstream: replica_set.go deletePod unwraps cache.DeletedFinalStateUnknown, then calls
        DeletionObserved and enqueues the owner; without that the owner is not woken."""
        return delta.tombstone and not self.tombstones

    # --- syncReplicaSet -------------------------------------------------------------------

    def reconcile(self, view: View, key: str, memory: Memory) -> Reconciled:
        # timers the pod handler asked for (enqueueRSAfter) start now, at their due time
        after = tuple((key, max(due - view.now, 0)) for due in memory.delayed.get(key, ()))
        memory = replace(memory, delayed=memory.delayed.without(key))
        running = memory.syncs.get(key)
        if running is not None:
            syncs = memory.syncs.set(key, replace(running, dirty=True))
            return Reconciled(replace(memory, syncs=syncs), after=after)
        if self.stale_cache_guard:
            # upstream (1.36): syncReplicaSet begins with consistencyStore.EnsureReady; an
            # error requeues the key (rate limited)
            ok, written = ready(memory.written, key, view.revisions)
            memory = replace(memory, written=written)
            if not ok:
                return Reconciled(memory, requeue=(key,), after=after)
        rs = view.get("replicasets", key)
        if rs is None:  # deleted: Clear(key, "") and DeleteExpectations
            memory = replace(
                memory,
                written=clear_written(memory.written, key),
                expectations=delete_expectations(memory.expectations, key),
                listed=memory.listed.without(key),
            )
            return Reconciled(memory, after=after)
        if key in memory.listed:  # the second half of a pre-#8138 sync: list, then check
            pods, memory = memory.listed[key], replace(memory, listed=memory.listed.without(key))
            needs_sync = satisfied(memory.expectations, key, view.now)
        elif self.expectations and not self.expectations_before_list:
            # before #8138 the pods were listed first and the expectations checked after: the
            # list is kept and the check comes at the next step, so events can land between
            pods = _active(view.list("pods", rs.metadata.namespace))
            memory = replace(memory, listed=memory.listed.set(key, pods))
            return Reconciled(memory, requeue=(key,), after=after)
        else:
            # upstream: rsNeedsSync is computed BEFORE the pods are listed (#8138)
            needs_sync = not self.expectations or satisfied(memory.expectations, key, view.now)
            pods = _active(view.list("pods", rs.metadata.namespace))
        claimed, requests, error = _claim(view, rs, pods, key)
        sync = Sync(rs, claimed, needs_sync, pending=len(requests), error=error)
        if requests:
            result = Reconciled(replace(memory, syncs=memory.syncs.set(key, sync)), requests)
        elif error:  # claimPods failed: the sync returns its error before manageReplicas
            result = Reconciled(memory, requeue=(key,))
        else:
            result = self._manage(view, key, sync, memory)
        return replace(result, after=result.after + after)

    def _manage(self, view: View, key: str, sync: Sync, memory: Memory) -> Reconciled:
        """manageReplicas, if the expectations allowed it and the ReplicaSet is not being
        deleted; else straight to the status."""
        rs = sync.rs
        if not sync.needs_sync or rs.metadata.deletion_timestamp is not None:
            return self._status(view, key, sync, memory)
        diff = len(sync.pods) - _replicas(rs)
        e = memory.expectations
        if diff < 0:
            diff = min(-diff, self.burst_replicas)
            if self.expectations:
                e = expect_creations(e, key, diff, view.now)
            batch = min(diff, SLOW_START_INITIAL_BATCH_SIZE)
            sync = replace(
                sync, phase="create", diff=diff, attempted=batch, batch=batch, pending=batch
            )
            memory = replace(memory, expectations=e, syncs=memory.syncs.set(key, sync))
            return Reconciled(memory, _creations(rs, key, batch))
        if diff > 0:
            diff = min(diff, self.burst_replicas)
            victims = pods_to_delete(
                sync.pods, _related_pods(view, rs), diff, view.now, self.logarithmic_scale_down
            )
            if self.expectations:
                e = expect_deletions(e, key, tuple(object_key(p) for p in victims), view.now)
            requests = tuple(
                Outgoing(
                    Request("", "delete", "pods", p.metadata.namespace, p.metadata.name),
                    key,
                    ("delete", object_key(p)),
                )
                for p in victims
            )
            sync = replace(sync, phase="delete", pending=len(requests))
            memory = replace(memory, expectations=e, syncs=memory.syncs.set(key, sync))
            return Reconciled(memory, requests)
        return self._status(view, key, sync, memory)

    def _status(self, view: View, key: str, sync: Sync, memory: Memory) -> Reconciled:
        """calculateStatus and updateReplicaSetStatus (no write when nothing changed)."""
        rs = sync.rs
        status = calculate_status(rs, sync.pods, sync.error, view.now)
        after = _next_availability_check(rs, status, sync.pods, view.now)
        old = rs.status
        if (
            (old.replicas, old.fully_labeled_replicas, old.ready_replicas, old.available_replicas)
            == (
                status.replicas,
                status.fully_labeled_replicas,
                status.ready_replicas,
                status.available_replicas,
            )
            and rs.metadata.generation == old.observed_generation
            and old.conditions == status.conditions
        ):
            return _finish(memory, key, sync.error, after, sync.dirty)
        # the generation acted on, kept for the retry too
        status = replace(status, observed_generation=rs.metadata.generation)
        sync = replace(sync, phase="status", pending=1, status=status, after=after)
        memory = replace(memory, syncs=memory.syncs.set(key, sync))
        return Reconciled(memory, (_status_update(replace(rs, status=status), key, 0),))

    # --- responses ------------------------------------------------------------------------

    def on_response(
        self, memory: Memory, sent: Outgoing, response: Response, view: View
    ) -> Reconciled:
        key, tag = sent.key, sent.tag
        sync = memory.syncs.get(key)
        if sync is None or not isinstance(tag, tuple):
            return Reconciled(memory)
        kind = tag[0]
        if response.ok and response.object is not None and hasattr(response.object, "metadata"):
            memory = self._wrote(memory, key, sync.rs, sent.request.resource, response.object)
        if kind == "status":
            return self._status_response(view, key, sync, memory, tag[1], response)
        sync = replace(sync, pending=sync.pending - 1)
        if kind in ("adopt", "release"):
            if response.ok and kind == "adopt":
                sync = replace(sync, pods=(*sync.pods, tag[1]))
            elif not response.ok and not _claim_error_ignored(kind, response):
                sync = replace(sync, error=sync.error or _message(response))
            if sync.pending:
                return Reconciled(replace(memory, syncs=memory.syncs.set(key, sync)))
            if sync.error:
                return _finish(memory, key, sync.error, None, sync.dirty)
            return self._manage(view, key, sync, memory)
        if kind == "create":
            return self._create_response(view, key, sync, memory, response)
        # a delete: a failed one will never be observed (DeletionObserved now); NotFound is fine
        if not response.ok:
            if self.expectations:
                e = deletion_observed(memory.expectations, key, tag[1])
                memory = replace(memory, expectations=e)
            if response.code != 404:
                sync = replace(sync, error=sync.error or _message(response))
        if sync.pending:
            return Reconciled(replace(memory, syncs=memory.syncs.set(key, sync)))
        return self._status(view, key, sync, memory)

    def _create_response(
        self, view: View, key: str, sync: Sync, memory: Memory, response: Response
    ) -> Reconciled:
        # upstream: a create refused because the namespace is terminating counts as done
        if response.ok or _namespace_terminating(response):
            sync = replace(sync, successes=sync.successes + 1)
        else:
            sync = replace(sync, batch_failed=True, error=sync.error or _message(response))
        if sync.pending:
            return Reconciled(replace(memory, syncs=memory.syncs.set(key, sync)))
        if sync.batch_failed:
            # slowStartBatch stops at the first failing batch; every creation not made
            # (never attempted, or failed) is one the informer will not report
            e = memory.expectations
            if self.expectations:
                for _ in range(sync.diff - sync.successes):
                    e = creation_observed(e, key)
            return self._status(view, key, sync, replace(memory, expectations=e))
        remaining = sync.diff - sync.attempted
        if remaining <= 0:
            return self._status(view, key, sync, memory)
        batch = min(2 * sync.batch, remaining)
        sync = replace(sync, batch=batch, pending=batch, attempted=sync.attempted + batch)
        memory = replace(memory, syncs=memory.syncs.set(key, sync))
        return Reconciled(memory, _creations(sync.rs, key, batch))

    def _status_response(
        self, view: View, key: str, sync: Sync, memory: Memory, attempt: int, response: Response
    ) -> Reconciled:
        if response.ok:
            return _finish(memory, key, sync.error, sync.after, sync.dirty)
        if attempt >= STATUS_UPDATE_RETRIES:
            return _finish(memory, key, _message(response), None, sync.dirty)
        # upstream: updateReplicaSetStatus GETs the ReplicaSet and tries once more
        rs = sync.rs
        fresh = view.live_get("replicasets", rs.metadata.namespace, rs.metadata.name)
        if fresh is None:
            return _finish(
                memory, key, f'replicasets.apps "{rs.metadata.name}" not found', None, sync.dirty
            )
        request = _status_update(replace(fresh, status=sync.status), key, attempt + 1)
        return Reconciled(memory, (request,))

    def _wrote(self, memory: Memory, key: str, rs: ReplicaSet, resource: str, obj) -> Memory:
        """consistencyStore.WroteAt: the RS status write and every pod write (PodControl's
        OnWrite) record the resourceVersion the api-server answered with."""
        if not self.stale_cache_guard or not obj.metadata.resource_version:
            return memory
        rv = int(obj.metadata.resource_version)
        return replace(memory, written=wrote_at(memory.written, key, rs.metadata.uid, resource, rv))


# --- pod event handlers (upstream: addPod, updatePod, deletePod) ---------------------------


def _pod_effects(delta: Delta, view: View) -> tuple[tuple[str, str, object], ...]:
    """What a pod event does: ("enqueue", rs key, None), ("created", rs key, None),
    ("deleted", rs key, pod key), ("after", rs key, due time)."""
    pod, old = delta.object, delta.old
    if delta.type == "DELETED":
        return _deleted(pod, view)
    if delta.type == "ADDED" or old is None:
        if pod.metadata.deletion_timestamp is not None:
            # a pod seen first while being deleted (a restart's list) is not a creation
            return _deleted(pod, view)
        ref = pod.metadata.controller_ref()
        if ref is not None:
            rs = _resolve(view, pod.metadata.namespace, ref)
            if rs is None:
                return ()
            return (("created", object_key(rs), None), ("enqueue", object_key(rs), None))
        # an orphan: every matching ReplicaSet may want to adopt it; no expectation changes
        return tuple(("enqueue", object_key(rs), None) for rs in _pod_replicasets(view, pod))
    if pod.metadata.resource_version == old.metadata.resource_version:
        return ()  # a periodic resync: nothing changed
    label_changed = pod.metadata.labels != old.metadata.labels
    if pod.metadata.deletion_timestamp is not None:
        # a graceful delete: counted now, so a replacement is made without waiting
        effects = _deleted(pod, view)
        return effects + _deleted(old, view) if label_changed else effects
    cur_ref, old_ref = pod.metadata.controller_ref(), old.metadata.controller_ref()
    effects: tuple = ()
    if cur_ref != old_ref and old_ref is not None:
        rs = _resolve(view, old.metadata.namespace, old_ref)
        if rs is not None:  # the old owner lost a pod
            effects += (("enqueue", object_key(rs), None),)
    if cur_ref is not None:
        rs = _resolve(view, pod.metadata.namespace, cur_ref)
        if rs is None:
            return effects
        effects += (("enqueue", object_key(rs), None),)
        mrs = rs.spec.min_ready_seconds
        if not _ready(old) and _ready(pod) and mrs > 0:
            # upstream: enqueueRSAfter(minReadySeconds + 1s): "add a second to avoid
            # milliseconds skew in AddAfter" (#39785)
            effects += (("after", object_key(rs), view.now + mrs + 1),)
        return effects
    if label_changed or cur_ref != old_ref:
        effects += tuple(("enqueue", object_key(rs), None) for rs in _pod_replicasets(view, pod))
    return effects


def _deleted(pod: Pod, view: View) -> tuple[tuple[str, str, object], ...]:
    ref = pod.metadata.controller_ref()
    if ref is None:
        return ()
    rs = _resolve(view, pod.metadata.namespace, ref)
    if rs is None:
        return ()
    return (("deleted", object_key(rs), object_key(pod)), ("enqueue", object_key(rs), None))


def _resolve(view: View, namespace: str, ref: OwnerReference) -> ReplicaSet | None:
    """resolveControllerRef: the cached ReplicaSet the reference names, if its uid matches."""
    if ref.kind != ReplicaSet.KIND:
        return None
    rs = view.get("replicasets", f"{namespace}/{ref.name}")
    if rs is None or rs.metadata.uid != ref.uid:
        return None
    return rs


def _pod_replicasets(view: View, pod: Pod) -> tuple[ReplicaSet, ...]:
    """ReplicaSetLister.GetPodReplicaSets: the pod's namespace's ReplicaSets selecting it; a
    pod without labels, or a nil or empty selector, matches none."""
    if not pod.metadata.labels:
        return ()
    return tuple(
        rs
        for rs in view.list("replicasets", pod.metadata.namespace)
        if _selector_nonempty(rs)
        and bool(label_selector_matches(rs.spec.selector, pod.metadata.labels))
    )


def _selector_nonempty(rs: ReplicaSet) -> bool:
    s = rs.spec.selector
    return s is not None and bool(s.match_labels or s.match_expressions)


def _forget(memory: Memory, key: str, uid: str) -> Memory:
    """deleteRS: the consistency store's record of that uid and the expectations go."""
    return replace(
        memory,
        written=clear_written(memory.written, key, uid),
        expectations=delete_expectations(memory.expectations, key),
    )


# --- claims (upstream: controller_ref_manager.go ClaimPods, ClaimObject) -------------------


def _claim(
    view: View, rs: ReplicaSet, pods: tuple[Pod, ...], key: str
) -> tuple[tuple[Pod, ...], tuple[Outgoing, ...], str]:
    """The pods the ReplicaSet keeps now, the adopt and release requests (an update of the
    live pod's ownerReferences, standing in for upstream's patch, with the cached pod's uid
    as precondition), and the first error."""
    meta = rs.metadata
    deleting = meta.deletion_timestamp is not None
    claimed: list[Pod] = []
    requests: list[Outgoing] = []
    error, can_adopt = "", None
    for pod in pods:
        if pod.metadata.namespace != meta.namespace:
            continue
        matches = bool(label_selector_matches(rs.spec.selector, pod.metadata.labels))
        ref = pod.metadata.controller_ref()
        if ref is not None:
            if ref.uid != meta.uid:
                continue  # someone else's
            if matches:
                claimed.append(pod)  # ours, even while the ReplicaSet is being deleted
                continue
            if deleting:
                continue
            live = view.live_get("pods", pod.metadata.namespace, pod.metadata.name)
            if live is None:
                continue  # NotFound is ignored
            refs = tuple(r for r in live.metadata.owner_references if r.uid != meta.uid)
            if refs == live.metadata.owner_references:
                continue  # Invalid (no such reference: deleted and recreated) is ignored
            requests.append(_pod_update(live, pod, refs, key, ("release", object_key(pod))))
            continue
        if deleting or not matches or pod.metadata.deletion_timestamp is not None:
            continue
        if can_adopt is None:  # once per sync (sync.Once in RecheckDeletionTimestamp)
            can_adopt = _recheck(view, rs)
        if can_adopt:
            who = f"{meta.namespace}/{pod.metadata.name} ({pod.metadata.uid})"
            error = error or f"can't adopt Pod {who}: {can_adopt}"
            continue
        live = view.live_get("pods", pod.metadata.namespace, pod.metadata.name)
        if live is None:
            continue
        owner = OwnerReference(
            ReplicaSet.API_VERSION,
            ReplicaSet.KIND,
            meta.name,
            meta.uid,
            controller=True,
            block_owner_deletion=True,
        )
        refs = (*live.metadata.owner_references, owner)
        requests.append(_pod_update(live, pod, refs, key, ("adopt", pod)))
    return tuple(claimed), tuple(requests), error


def _recheck(view: View, rs: ReplicaSet) -> str:
    """The canAdopt check: an uncached GET shows the same ReplicaSet, not being deleted."""
    meta = rs.metadata
    fresh = view.live_get("replicasets", meta.namespace, meta.name)
    if fresh is None:
        return f'can\'t recheck DeletionTimestamp: replicasets.apps "{meta.name}" not found'
    if fresh.metadata.uid != meta.uid:
        return (
            f"can't recheck DeletionTimestamp: original ReplicaSet {meta.namespace}/{meta.name} "
            f"is gone: got uid {fresh.metadata.uid}, wanted {meta.uid}"
        )
    if fresh.metadata.deletion_timestamp is not None:
        when = fresh.metadata.deletion_timestamp
        return f"{meta.namespace}/{meta.name} has just been deleted at {when}"
    return ""


def _pod_update(live: Pod, cached: Pod, refs: tuple, key: str, tag: tuple) -> Outgoing:
    meta = replace(live.metadata, owner_references=refs, uid=cached.metadata.uid)
    body = replace(live, metadata=meta)
    return Outgoing(Request("", "update", "pods", meta.namespace, meta.name, body=body), key, tag)


def _claim_error_ignored(kind: str, response: Response) -> bool:
    # upstream: ClaimObject ignores NotFound; ReleasePod also ignores Invalid
    return response.code == 404 or (kind == "release" and response.code == 422)


# --- requests and helpers ------------------------------------------------------------------


def _creations(rs: ReplicaSet, key: str, count: int) -> tuple[Outgoing, ...]:
    """CreatePods: the template with generateName "<rs>-" and a controller reference; the
    api-server picks each name."""
    pod = pod_from_template(rs)
    request = Request("", "create", "pods", rs.metadata.namespace, body=pod)
    return tuple(Outgoing(request, key, ("create",)) for _ in range(count))


def _status_update(rs: ReplicaSet, key: str, attempt: int) -> Outgoing:
    meta = rs.metadata
    request = Request(
        "", "update", "replicasets", meta.namespace, meta.name, subresource="status", body=rs
    )
    return Outgoing(request, key, ("status", attempt))


def _finish(memory: Memory, key: str, error: str, after: int | None, dirty: bool) -> Reconciled:
    """The sync is over: an error requeues the key (AddRateLimited; the backoff is not
    modelled), as does an event that came meanwhile."""
    memory = replace(memory, syncs=memory.syncs.without(key))
    requeue = (key,) if error or dirty else ()
    return Reconciled(memory, requeue=requeue, after=((key, after),) if after is not None else ())


def _message(response: Response) -> str:
    status = response.status
    return status.message if status is not None else f"request failed with code {response.code}"


def _namespace_terminating(response: Response) -> bool:
    # upstream: apierrors.HasStatusCause(err, v1.NamespaceTerminatingCause); the model's
    # Status has no causes, so the NamespaceLifecycle message stands for it
    status = response.status
    return (
        response.code == 403
        and status is not None
        and "because it is being terminated" in status.message
    )


def _replicas(rs: ReplicaSet) -> int:
    return 1 if rs.spec.replicas is None else rs.spec.replicas


def _is_active(pod: Pod) -> bool:
    """controller.IsPodActive: not Succeeded, not Failed, not being deleted."""
    return (
        pod.status.phase not in ("Succeeded", "Failed") and pod.metadata.deletion_timestamp is None
    )


def _active(pods: tuple[Pod, ...]) -> tuple[Pod, ...]:
    return tuple(p for p in pods if _is_active(p))


def _ready_condition(pod: Pod) -> Condition | None:
    return next((c for c in pod.status.conditions if c.type == "Ready"), None)


def _ready(pod: Pod) -> bool:
    c = _ready_condition(pod)
    return c is not None and c.status == "True"


def _available(pod: Pod, min_ready_seconds: int, now: int) -> bool:
    """podutil.IsPodAvailable: ready, and for longer than minReadySeconds (strictly)."""
    if not _ready(pod):
        return False
    ltt = _ready_condition(pod).last_transition_time
    return min_ready_seconds == 0 or (ltt is not None and ltt + min_ready_seconds < now)


# --- status (upstream: replica_set_utils.go calculateStatus) -------------------------------


def calculate_status(
    rs: ReplicaSet, pods: tuple[Pod, ...], error: str, now: int
) -> ReplicaSetStatus:
    """The status the pods give (observedGeneration is set when written), with the
    ReplicaFailure condition added on a manageReplicas error and removed when there is none."""
    status = rs.status
    template_labels = rs.spec.template.metadata.labels
    mrs = rs.spec.min_ready_seconds
    failure = next((c for c in status.conditions if c.type == REPLICA_FAILURE), None)
    conditions = status.conditions
    if error and failure is None:
        diff = len(pods) - _replicas(rs)
        reason = "FailedCreate" if diff < 0 else "FailedDelete" if diff > 0 else ""
        conditions = (*conditions, Condition(REPLICA_FAILURE, "True", reason, error, now))
    elif not error and failure is not None:
        conditions = tuple(c for c in conditions if c.type != REPLICA_FAILURE)
    return replace(
        status,
        replicas=len(pods),
        fully_labeled_replicas=sum(
            all(p.metadata.labels.get(k) == v for k, v in template_labels.items()) for p in pods
        ),
        ready_replicas=sum(_ready(p) for p in pods),
        available_replicas=sum(_available(p, mrs, now) for p in pods),
        conditions=conditions,
    )


def _next_availability_check(
    rs: ReplicaSet, status: ReplicaSetStatus, pods: tuple[Pod, ...], now: int
) -> int | None:
    """When to sync again for a ready pod to count as available: after the soonest such pod
    passes minReadySeconds (FindMinNextPodAvailabilityCheck), else after minReadySeconds."""
    mrs = rs.spec.min_ready_seconds
    if mrs <= 0 or status.ready_replicas == status.available_replicas:
        return None
    waits = [
        # available once ltt + minReadySeconds < now: at the next whole second
        _ready_condition(p).last_transition_time + mrs + 1 - now
        for p in pods
        if _ready(p)
        and not _available(p, mrs, now)
        and _ready_condition(p).last_transition_time is not None
    ]
    return min(waits, default=mrs)


# --- which pods to delete (upstream: replica_set.go getPodsToDelete, ActivePodsWithRanks) --


def _related_pods(view: View, rs: ReplicaSet) -> tuple[Pod, ...]:
    """getIndirectlyRelatedPods: the pods selected by every ReplicaSet with the same
    controller (the Deployment's other ReplicaSets and this one), each pod once."""
    ref = rs.metadata.controller_ref()
    if ref is None:
        return ()
    seen: dict[str, Pod] = {}
    for sibling in view.list("replicasets", rs.metadata.namespace):
        sib_ref = sibling.metadata.controller_ref()
        if sib_ref is None or sib_ref.uid != ref.uid:
            continue
        for pod in view.list("pods", sibling.metadata.namespace):
            if bool(label_selector_matches(sibling.spec.selector, pod.metadata.labels)):
                seen.setdefault(pod.metadata.uid, pod)
    return tuple(seen.values())


def pods_to_delete(
    pods: tuple[Pod, ...], related: tuple[Pod, ...], diff: int, now: int, logarithmic: bool = True
) -> tuple[Pod, ...]:
    """The ``diff`` pods to delete first: ranked by ActivePodsWithRanks unless all go.
    Upstream's sort is not stable; equal pods keep their listed order here."""
    if diff < len(pods):
        on_node = Counter(p.spec.node_name for p in related if _is_active(p))
        rank = {object_key(p): on_node[p.spec.node_name] for p in pods}

        def compare(a: Pod, b: Pod) -> int:
            return (
                -1
                if _less(a, b, rank, now, logarithmic)
                else 1
                if _less(b, a, rank, now, logarithmic)
                else 0
            )

        pods = tuple(sorted(pods, key=cmp_to_key(compare)))
    return pods[:diff]


def _less(a: Pod, b: Pod, rank: dict, now: int, logarithmic: bool) -> bool:
    """ActivePodsWithRanks.Less: whether ``a`` goes before ``b``; the first criterion that
    differs decides."""
    na, nb = a.spec.node_name, b.spec.node_name
    if na != nb and (not na or not nb):  # 1. unscheduled first
        return not na
    pa, pb = _PHASE_ORDINAL.get(a.status.phase, 0), _PHASE_ORDINAL.get(b.status.phase, 0)
    if pa != pb:  # 2. Pending < Unknown < Running
        return pa < pb
    ra, rb = _ready(a), _ready(b)
    if ra != rb:  # 3. not ready first
        return not ra
    ca, cb = deletion_cost(a), deletion_cost(b)
    if ca != cb:  # 4. lower pod-deletion-cost first
        return ca < cb
    ka, kb = rank[object_key(a)], rank[object_key(b)]
    if ka != kb:  # 5. more related pods on the same node first
        return ka > kb
    if ra and rb:  # 6. ready for less time first
        ta, tb = _ready_time(a), _ready_time(b)
        if ta != tb:
            return _newer(a, b, ta, tb, now, logarithmic)
    xa, xb = _max_restarts(a), _max_restarts(b)
    if xa[0] != xb[0]:  # 7. more restarts first (regular containers, then sidecars)
        return xa[0] > xb[0]
    if xa[1] != xb[1]:
        return xa[1] > xb[1]
    ta, tb = a.metadata.creation_timestamp, b.metadata.creation_timestamp
    if ta != tb:  # 8. newer first
        return _newer(a, b, ta, tb, now, logarithmic)
    return False


def _newer(a: Pod, b: Pod, ta: int | None, tb: int | None, now: int, logarithmic: bool) -> bool:
    """Criteria 6 and 8: afterOrZero, or with LogarithmicScaleDown the floor(log2) buckets
    of the ages in nanoseconds (as Go measures a Duration), ties broken by uid."""
    if not logarithmic or ta is None or tb is None:
        if ta is None or tb is None:  # afterOrZero: a zero time is the smaller
            return ta is None
        return ta > tb
    diff = _log_bucket(ta, now) - _log_bucket(tb, now)
    if diff == 0:
        return a.metadata.uid < b.metadata.uid
    return diff < 0


def _log_bucket(t: int, now: int) -> int:
    d = (now - t) * 1_000_000_000
    return d.bit_length() - 1 if d > 0 else -1


def _ready_time(pod: Pod) -> int | None:
    c = _ready_condition(pod)
    return c.last_transition_time if c is not None and c.status == "True" else None


def _max_restarts(pod: Pod) -> tuple[int, int]:
    """maxContainerRestarts: the most restarts of a regular container, and of a sidecar.
    Read from status.container_statuses and init_container_statuses when PodStatus has them
    (the model's PodStatus has none yet: every pod then ties at 0)."""
    regular = max(
        (s.restart_count for s in getattr(pod.status, "container_statuses", ())), default=0
    )
    sidecars = {c.name for c in pod.spec.init_containers if c.restart_policy == "Always"}
    statuses = getattr(pod.status, "init_container_statuses", ())
    sidecar = max((s.restart_count for s in statuses if s.name in sidecars), default=0)
    return regular, sidecar


def deletion_cost(pod: Pod) -> int:
    """The controller.kubernetes.io/pod-deletion-cost annotation as an int32; absent or not
    a valid int32, 0 (helper.GetDeletionCostFromPodAnnotations, strconv.ParseInt)."""
    text = pod.metadata.annotations.get(POD_DELETION_COST)
    if text is None or not re.fullmatch(r"[+-]?[0-9]+", text):
        return 0
    value = int(text)
    return value if -(2**31) <= value < 2**31 else 0
