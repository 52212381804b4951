"""The namespace controller: empties a namespace that is being deleted, then releases it.

``kubectl delete namespace team`` only marks the namespace (deletionTimestamp, phase
Terminating: the api-server's namespace storage); the namespace stays while its
``spec.finalizers`` holds ``kubernetes``. This controller then deletes everything in it, one
DeleteCollection per resource with propagationPolicy Background, pods first
(OrderedNamespaceDeletion, on by default since 1.33: nothing else goes while a pod remains),
lists what is left, reports it in the namespace's status conditions, and waits: half the pods'
grace period plus a second while pods terminate, 8 s (15 / 2 + 1) while objects with
finalizers wait for their controllers (the garbage collector's foregroundDeletion, say), a
rate-limited retry when something is left that should be gone. Once nothing is left it removes
``kubernetes`` through the ``namespaces/finalize`` subresource, and the api-server deletes the
namespace with that write. Meanwhile NamespaceLifecycle admission refuses any create in it.

Each sync's writes wait in the outbox like every component's; the listing that follows a
DeleteCollection is read live once its responses are in (upstream's calls are synchronous).
"Every resource" is what etcd holds under ``/registry/<resource>/<namespace>/`` (upstream asks
discovery for every namespaced resource that supports delete).

upstream: pkg/controller/namespace/namespace_controller.go (enqueueNamespace, worker,
syncNamespaceFromKey, nsControllerRateLimiter); deletion/namespaced_resources_deleter.go
(Delete, deleteAllContent, deleteAllContentForGroupVersionResource, deleteCollection,
estimateGracefulTerminationForPods, finalizeNamespace, retryOnConflictError);
deletion/status_condition_utils.go (the conditions).

>>> from kubeproof.model.apiserver.server import Request, handle, initial_state
>>> from kubeproof.model.objects import ObjectMeta
>>> admin = "kubernetes-admin"
>>> api, _ = handle(initial_state(), Request(admin, "create", "namespaces",
...                                          body=Namespace(ObjectMeta("team"))))
>>> api, r = handle(api, Request(admin, "delete", "namespaces", name="team"))
>>> r.object.status.phase, r.object.spec.finalizers
('Terminating', ('kubernetes',))
>>> view = View("namespace", 0, FrozenMap(namespaces=FrozenMap(team=r.object)), api)
>>> out = NamespaceController().reconcile(view, "team", FrozenMap())
>>> [(o.request.verb, o.request.subresource, o.tag) for o in out.requests]
[('update', 'status', 'conditions'), ('update', 'finalize', 'finalize')]
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from kubeproof.model.apiserver import etcd
from kubeproof.model.apiserver.rbac import NAMESPACE_CONTROLLER
from kubeproof.model.apiserver.server import ApiState, Request, Response, with_rv
from kubeproof.model.controllers.protocol import Delta, Outgoing, Reconciled, View
from kubeproof.model.objects import Condition, FrozenMap, Namespace, Object, Pod

__all__ = [
    "CONDITION_TYPES",
    "DELAY",
    "FINALIZER",
    "NamespaceController",
    "Sync",
    "content",
    "deletion_conditions",
    "retry_seconds",
]

FINALIZER = "kubernetes"  # upstream: v1.FinalizerKubernetes
# upstream: namespace_controller.go namespaceDeletionGracePeriod: an event's key waits 5 s, so
# that other api-servers see the deletion and etcd the last creates in the namespace
GRACE_SECONDS = 5
DELAY = "delay:"
# upstream: deletion/namespaced_resources_deleter.go finalizerEstimateSeconds
FINALIZER_ESTIMATE_SECONDS = 15
# upstream: status_condition_utils.go conditionTypes, okReasons and okMessages (in that order)
CONDITION_TYPES = (
    "NamespaceDeletionDiscoveryFailure",
    "NamespaceDeletionGroupVersionParsingFailure",
    "NamespaceDeletionContentFailure",
    "NamespaceContentRemaining",
    "NamespaceFinalizersRemaining",
)
_OK = {
    "NamespaceDeletionDiscoveryFailure": (
        "ResourcesDiscovered",
        "All resources successfully discovered",
    ),
    "NamespaceDeletionGroupVersionParsingFailure": (
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    "NamespaceDeletionContentFailure": (
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    "NamespaceContentRemaining": ("ContentRemoved", "All content successfully removed"),
    "NamespaceFinalizersRemaining": (
        "ContentHasNoFinalizers",
        "All content-preserving finalizers finished",
    ),
}


def retry_seconds(retries: int) -> int:
    """nsControllerRateLimiter's per-item backoff (5 ms doubling, at most 60 s) in the model's
    whole seconds, at least one."""
    return max(1, min(60, (5 * 2**retries) // 1000))


# --- what is in a namespace ----------------------------------------------------------------


def content(api: ApiState, namespace: str) -> dict[str, tuple[Object, ...]]:
    """Every stored object in ``namespace``, by resource (in resource order)."""
    out: dict[str, list[Object]] = {}
    r = etcd.range_(api.store, "/registry/", etcd.prefix_end("/registry/"))
    for kv in r.kvs:
        parts = kv.key.split("/")  # "", "registry", resource, namespace, name
        if len(parts) == 5 and parts[3] == namespace:
            out.setdefault(parts[2], []).append(with_rv(kv.value, kv.mod_revision))
    return {resource: tuple(objects) for resource, objects in sorted(out.items())}


def _group_version(objects: tuple[Object, ...]) -> tuple[str, str]:
    obj = objects[0]
    api_version = getattr(obj, "API_VERSION", None) or obj.api_version
    group, _, version = api_version.rpartition("/")
    return group, version


def _estimate(pods: tuple[Pod, ...], deleted_at: int, now: int) -> int:
    """estimateGracefulTerminationForPods: the longest grace period of a pod not yet terminal,
    0 once that long has passed since the namespace was deleted."""
    estimate = max(
        (
            p.spec.termination_grace_period_seconds or 0
            for p in pods
            if isinstance(p, Pod) and p.status.phase not in ("Succeeded", "Failed")
        ),
        default=0,
    )
    return 0 if now - deleted_at >= estimate else estimate


def deletion_conditions(
    old: tuple[Condition, ...], failures: dict[str, tuple[str, str]], now: int
) -> tuple[Condition, ...]:
    """status_condition_utils.go updateConditions: each of CONDITION_TYPES set to its failure
    (reason, message), True, or else to its ok variant, False; the transition time moves only
    when the status does; other conditions are kept."""
    conditions = list(old)
    for kind in CONDITION_TYPES:
        status = "True" if kind in failures else "False"
        reason, message = failures.get(kind) or _OK[kind]
        new = Condition(kind, status, reason, message, now)
        at = next((i for i, c in enumerate(conditions) if c.type == kind), None)
        if at is None:
            conditions.append(new)
            continue
        was = conditions[at]
        if (was.status, was.reason, was.message) != (status, reason, message):
            since = now if was.status != status else was.last_transition_time
            conditions[at] = replace(new, last_transition_time=since)
    return tuple(conditions)


def _failures(
    errors: list[str], found: dict[str, tuple[Object, ...]]
) -> dict[str, tuple[str, str]]:
    """The failing conditions, type -> (reason, message): ProcessDeleteContentErr's
    (makeDeleteContentCondition) and ProcessContentTotals's."""
    failures = {}
    if errors:
        failures["NamespaceDeletionContentFailure"] = (
            "ContentDeletionFailed",
            f"Failed to delete all resource types, {len(errors)} remaining: "
            + ", ".join(sorted(errors)),
        )
    remaining, finalizers = [], Counter()
    for resource, objects in found.items():
        group, _ = _group_version(objects)
        remaining.append(f"{resource}.{group} has {len(objects)} resource instances")
        finalizers.update(f for o in objects for f in o.metadata.finalizers)
    if remaining:
        failures["NamespaceContentRemaining"] = (
            "SomeResourcesRemain",
            "Some resources are remaining: " + ", ".join(sorted(remaining)),
        )
    if finalizers:
        counts = sorted(f"{f} in {n} resource instances" for f, n in finalizers.items())
        failures["NamespaceFinalizersRemaining"] = (
            "SomeFinalizersRemain",
            "Some content in the namespace has finalizers remaining: " + ", ".join(counts),
        )
    return failures


# --- the controller ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sync:
    """One namespace's sync while its requests are in flight (the work queue never hands out a
    key being processed): how many are unanswered, whether the key was queued again meanwhile,
    the errors so far, and what follows once all are answered (``then``: "verify-pods",
    "verify-content", "continue", "done" or "wait"; ``wait``: its seconds)."""

    inflight: int = 0
    dirty: bool = False
    failed: bool = False
    errors: tuple[str, ...] = ()
    then: str = ""
    wait: int = 0
    retries: int = 0


def _ns_request(ns: Namespace, subresource: str, tag: str) -> Outgoing:
    request = Request(
        NAMESPACE_CONTROLLER, "update", "namespaces", "", ns.metadata.name, subresource, ns
    )
    return Outgoing(request, ns.metadata.name, tag)


def _terminating(ns: Namespace) -> Outgoing:
    """updateNamespaceStatusFunc: the status write that sets phase Terminating."""
    terminating = replace(ns, status=replace(ns.status, phase="Terminating"))
    return _ns_request(terminating, "status", "phase")


def _finalize(ns: Namespace) -> Outgoing:
    """finalizeNamespace: spec.finalizers without ``kubernetes`` (sorted, as a set upstream)."""
    kept = tuple(sorted(set(ns.spec.finalizers) - {FINALIZER}))
    return _ns_request(replace(ns, spec=replace(ns.spec, finalizers=kept)), "finalize", "finalize")


def _delete_collection(resource: str, namespace: str, tag: str) -> Outgoing:
    # upstream: deleteCollection: DeleteOptions{PropagationPolicy: Background}, so the
    # garbage collector adds no orphan finalizer
    request = Request(
        NAMESPACE_CONTROLLER,
        "deletecollection",
        resource,
        namespace,
        propagation_policy="Background",
    )
    return Outgoing(request, namespace, tag)


@dataclass(frozen=True)
class NamespaceController:
    """kube-controller-manager's namespace controller; memory: a Sync per busy namespace."""

    name: str = "namespace"
    identity: str = NAMESPACE_CONTROLLER
    process: str = "kube-controller-manager"
    resources: tuple[str, ...] = ("namespaces",)
    # OrderedNamespaceDeletion (KEP-5080: beta and on in 1.33, GA in 1.34): pods go first
    ordered_deletion: bool = True

    def initial_memory(self) -> FrozenMap:
        return FrozenMap()

    def keys(self, delta: Delta, view: View) -> tuple[str, ...]:
        # upstream: enqueueNamespace, on add and update, once deletion has begun: the key is
        # added after namespaceDeletionGracePeriod (the DELAY key below sets that timer)
        being_deleted = delta.object.metadata.deletion_timestamp is not None
        return (DELAY + delta.key,) if delta.type != "DELETED" and being_deleted else ()

    def observe(self, memory: FrozenMap, delta: Delta, view: View) -> FrozenMap:
        return memory

    def reconcile(self, view: View, key: str, memory: FrozenMap) -> Reconciled:
        if key.startswith(DELAY):  # queue.AddAfter(key, namespaceDeletionGracePeriod)
            return Reconciled(memory, after=((key.removeprefix(DELAY), GRACE_SECONDS),))
        sync = memory.get(key, Sync())
        if sync.inflight:  # processed again once its requests are answered
            return Reconciled(memory.set(key, replace(sync, dirty=True)))
        if view.get("namespaces", key) is None:  # syncNamespaceFromKey: gone from the lister
            return Reconciled(memory.without(key))
        # namespacedResourcesDeleter.Delete works from a live GET
        live = view.live_get("namespaces", "", key)
        if live is None or live.metadata.deletion_timestamp is None:
            return Reconciled(memory.without(key))
        sync = Sync(retries=sync.retries)
        if live.status.phase != "Terminating":  # updateNamespaceStatusFunc
            return self._send(memory, key, sync, (_terminating(live),))
        if not live.spec.finalizers:  # finalized: nothing left to do
            return Reconciled(memory.without(key))
        return self._delete_content(view, memory, key, sync, pods_done=False)

    def _delete_content(
        self, view: View, memory: FrozenMap, key: str, sync: Sync, pods_done: bool
    ) -> Reconciled:
        """deleteAllContent: a DeleteCollection for pods first (ordered deletion), then for
        every other resource with objects in the namespace."""
        found = content(view.api, key)
        if self.ordered_deletion and not pods_done and found.get("pods"):
            sent = (_delete_collection("pods", key, "pods"),)
            return self._send(memory, key, replace(sync, then="verify-pods"), sent)
        skip = ("pods",) if self.ordered_deletion else ()
        sent = tuple(_delete_collection(r, key, "content") for r in found if r not in skip)
        if sent:
            return self._send(memory, key, replace(sync, then="verify-content"), sent)
        return self._verify(view, memory, key, sync, pods_only=False)

    def _verify(
        self, view: View, memory: FrozenMap, key: str, sync: Sync, pods_only: bool
    ) -> Reconciled:
        """deleteAllContentForGroupVersionResource's listing and deleteAllContent's end: what
        is left, the conditions that say so, then wait, retry or finalize."""
        live = view.live_get("namespaces", "", key)
        if live is None or live.metadata.deletion_timestamp is None:
            return self._finish(memory, key, replace(sync, then="done"))
        found = content(view.api, key)
        if pods_only:
            found = {r: objs for r, objs in found.items() if r == "pods"}
            if not found:  # the pods are gone: on to everything else, in the same sync
                return self._delete_content(view, memory, key, sync, pods_done=True)
        errors, estimate = list(sync.errors), 0
        for resource, objects in found.items():
            gvr_estimate = 0
            if resource == "pods":
                gvr_estimate = _estimate(objects, live.metadata.deletion_timestamp, view.now)
            if not gvr_estimate and any(o.metadata.finalizers for o in objects):
                gvr_estimate = FINALIZER_ESTIMATE_SECONDS
            if not gvr_estimate:
                group, version = _group_version(objects)
                errors.append(
                    f"unexpected items still remain in namespace: {key} for gvr: "
                    f"{group}/{version}, Resource={resource}"
                )
            estimate = max(estimate, gvr_estimate)
        # while pods remain, upstream reports the errors only: it leaves before
        # ProcessContentTotals, so the conditions read "All content successfully removed"
        failures = _failures(errors, {} if pods_only else found)
        conditions = deletion_conditions(live.status.conditions, failures, view.now)
        sent: tuple[Outgoing, ...] = ()
        if conditions != live.status.conditions:
            # upstream drops the answer (HandleError) and goes on with its older copy of the
            # namespace, so a finalize right after is refused (409) and retried
            body = replace(live, status=replace(live.status, conditions=conditions))
            sent = (_ns_request(body, "status", "conditions"),)
        if errors:
            sync = replace(sync, failed=True, then="")
        elif estimate:  # ResourcesRemainingError: AddAfter(estimate / 2 + 1)
            sync = replace(sync, then="wait", wait=estimate // 2 + 1)
        else:
            sync, sent = replace(sync, then="done"), (*sent, _finalize(live))
        return self._send(memory, key, sync, sent)

    def _send(
        self, memory: FrozenMap, key: str, sync: Sync, sent: tuple[Outgoing, ...]
    ) -> Reconciled:
        if not sent:
            return self._finish(memory, key, sync)
        return Reconciled(memory.set(key, replace(sync, inflight=len(sent))), sent)

    def _finish(self, memory: FrozenMap, key: str, sync: Sync) -> Reconciled:
        """The sync is over (upstream: worker's handling of syncNamespaceFromKey's error)."""
        requeue = (key,) if sync.dirty or sync.then == "continue" else ()
        if sync.failed:  # AddRateLimited
            after = ((key, retry_seconds(sync.retries)),)
            busy = memory.set(key, Sync(retries=sync.retries + 1))
            return Reconciled(busy, requeue=requeue, after=after)
        after = ((key, sync.wait),) if sync.then == "wait" else ()  # AddAfter
        if sync.then == "wait" and sync.retries:
            waiting = memory.set(key, Sync(retries=sync.retries))
            return Reconciled(waiting, requeue=requeue, after=after)
        return Reconciled(memory.without(key), requeue=requeue, after=after)  # Forget

    def on_response(
        self, memory: FrozenMap, sent: Outgoing, response: Response, view: View
    ) -> Reconciled:
        key, stage = sent.key, sent.tag
        sync = memory.get(key, Sync(inflight=1))
        sync = replace(sync, inflight=sync.inflight - 1)
        failed = not response.ok and response.code != 404  # a NotFound is no error
        if stage in ("phase", "finalize") and response.code == 409:
            # retryOnConflictError: the same change made to the namespace read again; an error
            # if another namespace of that name replaced it, nothing to do if it is gone
            live = view.live_get("namespaces", "", key)
            if live is None:
                sync = replace(sync, then="done")
            elif live.metadata.uid != sent.request.body.metadata.uid:
                sync = replace(sync, failed=True)
            else:
                retry = _finalize(live) if stage == "finalize" else _terminating(live)
                busy = replace(sync, inflight=sync.inflight + 1)
                return Reconciled(memory.set(key, busy), (retry,))
        elif stage in ("pods", "content") and failed:
            sync = replace(sync, errors=(*sync.errors, response.status.message))
        elif stage in ("phase", "finalize") and failed:
            sync = replace(sync, failed=True)
        elif stage == "phase":
            sync = replace(sync, then="continue")  # on to deleteAllContent
        if sync.inflight:
            return Reconciled(memory.set(key, sync))
        if sync.then in ("verify-pods", "verify-content"):
            pods_only = sync.then == "verify-pods"
            return self._verify(view, memory, key, replace(sync, then=""), pods_only)
        return self._finish(memory, key, sync)
