"""The EndpointSlice controller: keeps every selector Service's EndpointSlices listing the pods
it selects (what they hold: model/controllers/endpointslice_reconciler.py).

Syncs are keyed by Service. A pod event queues the Services whose selector matches it (old and
new labels, when they changed), a Service event its own key, and a change to one of its slices
that the controller did not make itself queues the Service a second later. The
EndpointSliceTracker remembers the generation of every slice the controller wrote; a sync whose
slice cache is older than that fails as stale and is retried with the rate limiter's backoff
(1 s doubling to 1000 s, 15 retries), as is a sync with a failed write or a pod on a Node the
cache does not hold. A sync's writes wait in the outbox and go out together (upstream sends
them one by one and stops at the first error).

upstream: pkg/controller/endpointslice/endpointslice_controller.go (syncService, the event
handlers, handleErr, the rate limiter), staging/src/k8s.io/endpointslice/util
(controller_utils.go podEndpointsChanged and GetServicesToUpdate, endpointslice_tracker.go).

>>> controller = EndpointSliceController()
>>> controller.identity, controller.resources
('system:serviceaccount:kube-system:endpointslice-controller', \
('services', 'pods', 'endpointslices', 'nodes'))
>>> [_backoff(n) for n in (0, 1, 2, 10, 11)]
[1, 2, 4, 1000, 1000]
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kubeproof.model.apiserver.rbac import ENDPOINTSLICE_CONTROLLER
from kubeproof.model.apiserver.server import Request, Response
from kubeproof.model.controllers.endpointslice_reconciler import (
    CONTROLLER_NAME,
    MANAGED_BY,
    SERVICE_NAME,
    desired_endpoints,
    is_ready,
    owned_slices,
    plan,
    selects,
)
from kubeproof.model.controllers.protocol import Delta, Outgoing, Reconciled, View
from kubeproof.model.objects import EMPTY, EndpointSlice, FrozenMap, Pod, object_key

__all__ = ["EndpointSliceController", "SliceMemory", "Tracked"]

CHANGED = "slice-changed:"  # a key: a slice event to weigh against the tracker
MIN_SYNC_DELAY = 1  # endpointSliceChangeMinSyncDelay, seconds
DELETION_EXPECTED = -1
MAX_RETRIES = 15  # then the key is dropped (handleErr)


def _backoff(retries: int) -> int:
    """ItemExponentialFailureRateLimiter(1 s, 1000 s): 1 s x 2^retries, at most 1000 s."""
    return min(1000, 2**retries)


# --- memory -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tracked:
    """The EndpointSliceTracker's record of one Service: its uid and, per slice uid, the
    generation the controller last wrote (-1: it deleted the slice)."""

    uid: str = ""
    generations: FrozenMap = EMPTY

    def stale(self, slices: tuple[EndpointSlice, ...]) -> bool:
        """StaleSlices: a slice older than written or meant to be gone, or a written slice
        missing from the cache."""
        seen = {s.metadata.uid: s.metadata.generation for s in slices}
        for uid, generation in seen.items():
            expected = self.generations.get(uid)
            if expected is not None and (expected == DELETION_EXPECTED or expected > generation):
                return True
        return any(g != DELETION_EXPECTED and u not in seen for u, g in self.generations.items())


@dataclass(frozen=True, slots=True)
class SliceMemory:
    """The tracker by Service key; per Service, the writes still unanswered of its sync (the
    work queue never hands out a key while it is processed) as (outstanding, queued again
    meanwhile, failed); failed syncs in a row (the rate limiter); Services whose slices were
    changed by someone else (re-synced a second later)."""

    tracker: FrozenMap = EMPTY
    syncing: FrozenMap = EMPTY
    retries: FrozenMap = EMPTY
    changed: frozenset[str] = frozenset()


def _service_key(s: EndpointSlice) -> str:
    """ServiceControllerKey: namespace/<kubernetes.io/service-name>."""
    return f"{s.metadata.namespace}/{s.metadata.labels.get(SERVICE_NAME, '')}"


def _managed(s: EndpointSlice | None) -> bool:
    return s is not None and s.metadata.labels.get(MANAGED_BY) == CONTROLLER_NAME


def _should_sync(memory: SliceMemory, s: EndpointSlice) -> bool:
    tracked = memory.tracker.get(_service_key(s))
    expected = None if tracked is None else tracked.generations.get(s.metadata.uid)
    return expected is None or s.metadata.generation > expected


def _track(memory: SliceMemory, key: str, uid: str, generation: int) -> SliceMemory:
    """The tracker's Update (a generation written) or ExpectDeletion (-1)."""
    tracked = memory.tracker.get(key, Tracked())
    generations = tracked.generations.set(uid, generation)
    return replace(
        memory, tracker=memory.tracker.set(key, replace(tracked, generations=generations))
    )


# --- the controller ------------------------------------------------------------------------


def _pod_changed(old: Pod, new: Pod) -> tuple[bool, bool]:
    """podEndpointsChanged: (what the endpoints show changed, the labels changed)."""
    labels = old.metadata.labels != new.metadata.labels
    changed = (
        old.metadata.deletion_timestamp != new.metadata.deletion_timestamp
        or is_ready(old) != is_ready(new)
        or old.status.pod_ip != new.status.pod_ip
    )
    return changed, labels


@dataclass(frozen=True)
class EndpointSliceController:
    """kube-controller-manager's endpointslice-controller, acting as its service account."""

    name: str = "endpointslice"
    identity: str = ENDPOINTSLICE_CONTROLLER
    process: str = "kube-controller-manager"
    resources: tuple[str, ...] = ("services", "pods", "endpointslices", "nodes")

    def initial_memory(self) -> SliceMemory:
        return SliceMemory()

    def keys(self, delta: Delta, view: View) -> tuple[str, ...]:
        if delta.resource == "services":
            return (delta.key,)  # onServiceUpdate, onServiceDelete
        if delta.resource == "endpointslices":
            slices = (delta.object, delta.old)
            return tuple(dict.fromkeys(CHANGED + _service_key(s) for s in slices if _managed(s)))
        if delta.resource != "pods":
            return ()  # nodes only feed topology hints, which the model leaves out
        new, old = delta.object, delta.old
        namespace = new.metadata.namespace
        services = view.list("services", namespace)
        if delta.type != "MODIFIED" or old is None:  # addPod, deletePod
            return tuple(object_key(s) for s in services if selects(s, new))
        changed, labels = _pod_changed(old, new)
        now = {object_key(s) for s in services if selects(s, new)}
        if labels:  # GetServicesToUpdate: old and new memberships
            before = {object_key(s) for s in services if selects(s, old)}
            now = now | before if changed else now ^ before
        elif not changed:
            return ()
        return tuple(sorted(now))

    def observe(self, memory: SliceMemory, delta: Delta, view: View) -> SliceMemory:
        """The slice handlers: queue the Service (a second later) for a slice change the
        tracker did not expect."""
        if delta.resource != "endpointslices":
            return memory
        new, old = delta.object, delta.old
        if delta.type == "DELETED":  # onEndpointSliceDelete, HandleDeletion
            key = _service_key(new)
            tracked = memory.tracker.get(key)
            if not _managed(new) or tracked is None or new.metadata.uid not in tracked.generations:
                return memory
            expected = tracked.generations[new.metadata.uid]
            generations = tracked.generations.without(new.metadata.uid)
            tracker = memory.tracker.set(key, replace(tracked, generations=generations))
            memory = replace(memory, tracker=tracker)
            return memory if expected == DELETION_EXPECTED else _changed(memory, key)
        if old is not None and old.metadata.labels.get(SERVICE_NAME) != new.metadata.labels.get(
            SERVICE_NAME
        ):
            return _changed(_changed(memory, _service_key(new)), _service_key(old))
        if (old is not None and _managed(old) != _managed(new)) or (
            _managed(new) and _should_sync(memory, new)
        ):
            return _changed(memory, _service_key(new))
        return memory

    def reconcile(self, view: View, key: str, memory: SliceMemory) -> Reconciled:
        if key.startswith(CHANGED):  # queueServiceForEndpointSlice: AddAfter(key, 1 s)
            service = key.removeprefix(CHANGED)
            if service not in memory.changed:
                return Reconciled(memory)
            memory = replace(memory, changed=memory.changed - {service})
            return Reconciled(memory, after=((service, MIN_SYNC_DELAY),))
        busy = memory.syncing.get(key)
        if busy is not None:
            outstanding, _, failed = busy
            return Reconciled(
                replace(memory, syncing=memory.syncing.set(key, (outstanding, True, failed)))
            )
        return self._sync(view, key, memory)

    def _sync(self, view: View, key: str, memory: SliceMemory) -> Reconciled:
        # upstream: endpointslice_controller.go syncService
        service = view.get("services", key)
        if service is None:  # the tracker forgets the Service; no retry
            return Reconciled(_forget(replace(memory, tracker=memory.tracker.without(key)), key))
        if service.spec.type == "ExternalName" or not service.spec.selector:
            return Reconciled(_forget(memory, key))
        slices = owned_slices(view, service)
        tracked = memory.tracker.get(key, Tracked())
        if tracked.uid != service.metadata.uid:
            # StaleSlices: a new Service of the same name; the old one's writes do not count
            generations = EMPTY if tracked.uid else tracked.generations
            tracked = Tracked(service.metadata.uid, generations)
            memory = replace(memory, tracker=memory.tracker.set(key, tracked))
        if tracked.stale(slices):  # NewStaleInformerCache: retried
            return _failed(memory, key)
        groups, missing_node = desired_endpoints(view, service)
        creates, updates, deletes = plan(service, slices, groups)
        requests = (
            *(_write("create", s, key) for s in creates),
            *(_write("update", s, key) for s in updates),
            *(_write("delete", s, key) for s in deletes),
        )
        if not requests:
            return _failed(memory, key) if missing_node else Reconciled(_forget(memory, key))
        syncing = memory.syncing.set(key, (len(requests), False, missing_node))
        return Reconciled(replace(memory, syncing=syncing), requests)

    def on_response(
        self, memory: SliceMemory, sent: Outgoing, response: Response, view: View
    ) -> Reconciled:
        verb, key, uid = sent.tag
        failed = False
        if verb == "delete":
            if response.ok:  # deleteEndpointSlice: a NotFound is no error, nor expected
                memory = _track(memory, key, uid, DELETION_EXPECTED)
            failed = not response.ok and response.code != 404
        elif response.ok:
            written = response.object.metadata
            memory = _track(memory, key, written.uid, written.generation)
        else:
            # a create refused because the namespace is terminating drops the item
            status = response.status
            failed = not (
                verb == "create" and status is not None and "being terminated" in status.message
            )
        outstanding, dirty, any_failed = memory.syncing.get(key, (1, False, False))
        outstanding, any_failed = outstanding - 1, any_failed or failed
        if outstanding > 0:
            syncing = memory.syncing.set(key, (outstanding, dirty, any_failed))
            return Reconciled(replace(memory, syncing=syncing))
        memory = replace(memory, syncing=memory.syncing.without(key))
        result = _failed(memory, key) if any_failed else Reconciled(_forget(memory, key))
        return replace(result, requeue=(key,)) if dirty else result


def _write(verb: str, s: EndpointSlice, key: str) -> Outgoing:
    meta = s.metadata
    request = Request(
        ENDPOINTSLICE_CONTROLLER,
        verb,
        "endpointslices",
        meta.namespace,
        "" if verb == "create" else meta.name,
        body=None if verb == "delete" else s,
    )
    return Outgoing(request, key, (verb, key, meta.uid))


def _changed(memory: SliceMemory, key: str) -> SliceMemory:
    return replace(memory, changed=memory.changed | {key})


def _forget(memory: SliceMemory, key: str) -> SliceMemory:
    return replace(memory, retries=memory.retries.without(key))


def _failed(memory: SliceMemory, key: str) -> Reconciled:
    """handleErr: AddRateLimited while retries are left, else the key is dropped."""
    retries = memory.retries.get(key, 0)
    if retries >= MAX_RETRIES:
        return Reconciled(_forget(memory, key))
    memory = replace(memory, retries=memory.retries.set(key, retries + 1))
    return Reconciled(memory, after=((key, _backoff(retries)),))
