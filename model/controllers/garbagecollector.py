"""The garbage collector: deletes objects whose owners are gone, and carries out the Foreground
and Orphan propagation policies.

Two stages, as upstream. The graph builder (:func:`graph_changed`, run on every informer event)
keeps a ``uid -> GraphNode`` dependency graph (an owner not seen yet is a *virtual* node, to be
verified by a live GET) and queues uids for ``attemptToDelete`` and ``attemptToOrphan``; the
``graphChanges`` key hands them to the work queue. Then :meth:`GarbageCollector.reconcile` runs
``attemptToDeleteItem`` (classify each owner reference as dangling, waiting or solid, and patch,
delete or wait accordingly) or ``attemptToOrphan`` (strip the owner's references from its
dependents, then remove the ``orphan`` finalizer). Every delete carries a UID precondition.

upstream: pkg/controller/garbagecollector/graph_builder.go (processGraphChanges,
addDependentToOwners, processTransitions), garbagecollector.go (attemptToDeleteItem,
classifyReferences, isDangling, processDeletingDependentsItem, orphanDependents,
attemptToOrphanWorker), operations.go (deleteObject, removeFinalizer).

>>> from kubeproof.model.apiserver.server import initial_state, default_users
>>> from kubeproof.model.controllers.protocol import Delta, View
>>> from kubeproof.model.objects import ObjectMeta, OwnerReference, Pod
>>> rs = OwnerReference("apps/v1", "ReplicaSet", "web", "uid-9", True, True)
>>> pod = Pod(ObjectMeta(name="web-1", namespace="default", uid="uid-10", owner_references=(rs,)))
>>> gc = GarbageCollector()
>>> view = View(gc.name, 0, FrozenMap(), initial_state(default_users()))
>>> memory = gc.observe(gc.initial_memory(), Delta("pods", "ADDED", pod), view)
>>> memory.graph["uid-9"].virtual, memory.attempt_to_delete
(True, ('uid-9',))
>>> gc.reconcile(view, GRAPH_CHANGES, memory).requeue
('attemptToDelete:uid-9',)
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, replace

from kubeproof.model.apiserver.rbac import CONTROLLER_MANAGER
from kubeproof.model.apiserver.server import Preconditions, Request, Response
from kubeproof.model.controllers.protocol import Delta, Outgoing, Reconciled, View
from kubeproof.model.objects import EMPTY, KINDS, FrozenMap, Object, OwnerReference

__all__ = [
    "ATTEMPT_TO_DELETE",
    "ATTEMPT_TO_ORPHAN",
    "FOREGROUND",
    "GRAPH_CHANGES",
    "ORPHAN",
    "GCMemory",
    "GarbageCollector",
    "GraphNode",
    "classify_references",
    "dependents",
    "graph_changed",
]

GRAPH_CHANGES = "graphChanges"
ATTEMPT_TO_DELETE = "attemptToDelete:"
ATTEMPT_TO_ORPHAN = "attemptToOrphan:"
ORPHAN, FOREGROUND = "orphan", "foregroundDeletion"  # metav1.FinalizerOrphanDependents, ...
# the work queue's rate-limited retry (5 ms doubling to 1000 s), in the model's whole seconds
RETRY_SECONDS = 1


@dataclass(frozen=True, slots=True)
class GraphNode:
    """One object of the dependency graph (upstream graph.go node): its identity, its owner
    references, and what the graph builder has seen of its deletion. A virtual node stands for
    an owner referenced but not (yet) observed by an informer."""

    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str
    owners: tuple[OwnerReference, ...] = ()
    virtual: bool = False
    being_deleted: bool = False
    deleting_dependents: bool = False


@dataclass(frozen=True, slots=True)
class GCMemory:
    """The graph; the uids the graph builder queued, not yet handed to the work queue; and, per
    owner being orphaned, how many dependent patches are in flight and whether one failed."""

    graph: FrozenMap = EMPTY  # uid -> GraphNode
    attempt_to_delete: tuple[str, ...] = ()
    attempt_to_orphan: tuple[str, ...] = ()
    orphaning: FrozenMap = EMPTY  # owner uid -> (outstanding, failed)
    # uid -> (requests outstanding, queued again meanwhile, one failed): the work queue never
    # hands out a key while it is being processed, and upstream's worker waits for its writes
    in_flight: FrozenMap = EMPTY


# --- the graph builder ---------------------------------------------------------------------


def _identity(obj: Object) -> tuple[str, str]:
    api_version = getattr(obj, "API_VERSION", None) or obj.api_version
    kind = getattr(obj, "KIND", None) or obj.kind
    return api_version, kind


def dependents(graph: FrozenMap, uid: str) -> tuple[GraphNode, ...]:
    """The nodes that name ``uid`` among their owners, in a fixed order."""
    found = (n for n in graph.values() if any(r.uid == uid for r in n.owners))
    return tuple(sorted(found, key=lambda n: (n.namespace, n.name, n.uid)))


def _blocking(graph: FrozenMap, uid: str) -> tuple[GraphNode, ...]:
    # upstream: graph.go blockingDependents
    return tuple(
        d
        for d in dependents(graph, uid)
        if any(r.uid == uid and r.block_owner_deletion for r in d.owners)
    )


def _queue(queue: tuple[str, ...], *uids: str) -> tuple[str, ...]:
    for uid in uids:
        if uid not in queue:
            queue = (*queue, uid)
    return queue


def _coordinates_match(ref: OwnerReference, owner: GraphNode) -> bool:
    # upstream: graph_builder.go ownerReferenceMatchesCoordinates
    return (ref.uid, ref.name, ref.kind, ref.api_version) == (
        owner.uid,
        owner.name,
        owner.kind,
        owner.api_version,
    )


def _add_dependent_to_owners(
    memory: GCMemory, node: GraphNode, owners: tuple[OwnerReference, ...]
) -> GCMemory:
    # upstream: graph_builder.go addDependentToOwners
    graph, to_delete = memory.graph, memory.attempt_to_delete
    suspicious = False
    for ref in owners:
        owner = graph.get(ref.uid)
        if owner is None:
            virtual = GraphNode(
                ref.api_version, ref.kind, node.namespace, ref.name, ref.uid, virtual=True
            )
            graph = graph.set(ref.uid, virtual)
            to_delete = _queue(to_delete, ref.uid)  # attemptToDeleteItem verifies it exists
        elif owner.namespace and owner.namespace != node.namespace:
            suspicious = True  # a namespaced owner in another namespace
        elif not _coordinates_match(ref, owner):
            suspicious = True
        elif not owner.namespace and owner.virtual and node.namespace:
            suspicious = True  # maybe a namespaced owner named by a cluster object (#98040)
    if suspicious:
        to_delete = _queue(to_delete, node.uid)
    return replace(memory, graph=graph, attempt_to_delete=to_delete)


def _remove_node(memory: GCMemory, node: GraphNode) -> GCMemory:
    """removeNode, then queue its dependents and its owners that wait for their dependents."""
    # upstream: graph_builder.go processGraphChanges, deleteEvent
    graph = memory.graph.without(node.uid)
    queued = [d.uid for d in dependents(graph, node.uid)]
    for ref in node.owners:
        owner = graph.get(ref.uid)
        if owner is not None and owner.deleting_dependents:
            queued.append(owner.uid)
    to_delete = _queue(memory.attempt_to_delete, *queued)
    return replace(memory, graph=graph, attempt_to_delete=to_delete)


def _starts_deletion_with(old: Object | None, new: Object, finalizer: str) -> bool:
    # upstream: graph_builder.go deletionStartsWithFinalizer
    meta = new.metadata
    if meta.deletion_timestamp is None or finalizer not in meta.finalizers:
        return False
    if old is None:
        return True
    return old.metadata.deletion_timestamp is None or finalizer not in old.metadata.finalizers


def _process_transitions(memory: GCMemory, old: Object | None, new: Object) -> GCMemory:
    # upstream: graph_builder.go processTransitions
    uid = new.metadata.uid
    if _starts_deletion_with(old, new, ORPHAN):
        return replace(memory, attempt_to_orphan=_queue(memory.attempt_to_orphan, uid))
    if _starts_deletion_with(old, new, FOREGROUND):
        node = replace(memory.graph[uid], deleting_dependents=True)
        graph = memory.graph.set(uid, node)
        deps = [d.uid for d in dependents(graph, uid)]
        to_delete = _queue(memory.attempt_to_delete, *deps, uid)
        return replace(memory, graph=graph, attempt_to_delete=to_delete)
    return memory


def graph_changed(memory: GCMemory, delta: Delta) -> GCMemory:
    """The graph after one informer event, with the uids it queues (processGraphChanges)."""
    obj, old = delta.object, delta.old
    meta = obj.metadata
    if old is not None and old.metadata.uid != meta.uid:
        # a delete and a re-create under one key seen as one update: the old uid is gone
        memory = graph_changed(memory, Delta(delta.resource, "DELETED", old))
        old = None
    existing = memory.graph.get(meta.uid)
    if delta.type == "DELETED":
        return memory if existing is None else _remove_node(memory, existing)
    api_version, kind = _identity(obj)
    being_deleted = meta.deletion_timestamp is not None
    if existing is None:
        node = GraphNode(
            api_version,
            kind,
            meta.namespace,
            meta.name,
            meta.uid,
            meta.owner_references,
            being_deleted=being_deleted,
            deleting_dependents=being_deleted and FOREGROUND in meta.finalizers,
        )
        memory = replace(memory, graph=memory.graph.set(meta.uid, node))
        memory = _add_dependent_to_owners(memory, node, node.owners)
        return _process_transitions(memory, old, obj)
    if existing.virtual:
        # markObserved, with the identity as observed (upstream also re-checks dependents whose
        # references disagree with it; here isDangling's live GET and UID check settle them)
        existing = replace(
            existing,
            api_version=api_version,
            kind=kind,
            namespace=meta.namespace,
            name=meta.name,
            virtual=False,
        )
    old_refs = {r.uid: r for r in existing.owners}
    new_refs = {r.uid: r for r in meta.owner_references}
    added = tuple(r for r in meta.owner_references if r.uid not in old_refs)
    removed = [r for r in existing.owners if r.uid not in new_refs]
    changed = [(old_refs[u], r) for u, r in new_refs.items() if u in old_refs and old_refs[u] != r]
    # upstream: addUnblockedOwnersToDeleteQueue: a blocking reference removed or unblocked
    unblocked = [r.uid for r in removed if r.block_owner_deletion] + [
        o.uid for o, n in changed if o.block_owner_deletion and not n.block_owner_deletion
    ]
    unblocked = [u for u in unblocked if u in memory.graph]
    existing = replace(
        existing,
        owners=meta.owner_references,
        being_deleted=existing.being_deleted or being_deleted,
    )
    memory = replace(
        memory,
        graph=memory.graph.set(meta.uid, existing),
        attempt_to_delete=_queue(memory.attempt_to_delete, *unblocked),
    )
    if added:
        memory = _add_dependent_to_owners(memory, existing, added)
    return _process_transitions(memory, old, obj)


def _graph_event(delta: Delta) -> bool:
    """Whether an event can change what the graph builder queues (the rest only refresh it)."""
    old, meta = delta.old, delta.object.metadata
    if delta.type != "MODIFIED" or old is None:
        return True
    om = old.metadata
    return (om.uid, om.owner_references, om.deletion_timestamp, om.finalizers) != (
        meta.uid,
        meta.owner_references,
        meta.deletion_timestamp,
        meta.finalizers,
    )


# --- attemptToDeleteItem -------------------------------------------------------------------


def _resource(api_version: str, kind: str) -> tuple[str, bool] | None:
    """The resource serving a kind and whether it is namespaced (the RESTMapper), or None."""
    cls = KINDS.get(kind)
    if cls is None or api_version != cls.API_VERSION:
        return None
    return cls.RESOURCE, cls.NAMESPACED


class _Unresolvable(Exception):
    """A reference the collector cannot look up: an unknown kind (upstream: restMappingError,
    retried) or a namespaced owner of a cluster-scoped object (never retried)."""


def classify_references(
    view: View, item: GraphNode, refs: tuple[OwnerReference, ...]
) -> tuple[tuple[OwnerReference, ...], ...]:
    """(solid, dangling, waiting): each owner looked up live (classifyReferences, isDangling).

    Dangling: the owner is absent or has another UID; waiting: it is being deleted with the
    foregroundDeletion finalizer; solid: anything else.
    """
    solid, dangling, waiting = [], [], []
    for ref in refs:
        mapping = _resource(ref.api_version, ref.kind)
        if mapping is None:
            raise _Unresolvable(f"no resource for {ref.api_version} {ref.kind}")
        resource, namespaced = mapping
        if namespaced and not item.namespace:
            # upstream: namespacedOwnerOfClusterScopedObjectErr (#92743)
            raise _Unresolvable("cluster-scoped objects cannot refer to namespaced owners")
        owner = view.live_get(resource, item.namespace if namespaced else "", ref.name)
        if owner is None or owner.metadata.uid != ref.uid:
            dangling.append(ref)
        elif owner.metadata.deletion_timestamp is not None and (
            FOREGROUND in owner.metadata.finalizers
        ):
            waiting.append(ref)
        else:
            solid.append(ref)
    return tuple(solid), tuple(dangling), tuple(waiting)


def _with_meta(obj: Object, **changes) -> Object:
    return replace(obj, metadata=replace(obj.metadata, **changes))


def _update(obj: Object, resource: str, tag: Hashable) -> Outgoing:
    """A write of ``obj`` conditional on its resourceVersion and UID (upstream patches carry
    the UID; the model's update also carries the resourceVersion, so a concurrent change makes
    it fail with 409 and the item is retried, where a merge patch would have merged)."""
    meta = obj.metadata
    request = Request(CONTROLLER_MANAGER, "update", resource, meta.namespace, meta.name, body=obj)
    return Outgoing(request, f"{meta.namespace}/{meta.name}", tag)


def _delete(node: GraphNode, resource: str, policy: str) -> Outgoing:
    # upstream: operations.go deleteObject: DeleteOptions{Preconditions: {UID}, PropagationPolicy}
    request = Request(
        CONTROLLER_MANAGER,
        "delete",
        resource,
        node.namespace,
        node.name,
        preconditions=Preconditions(uid=node.uid),
        propagation_policy=policy,
    )
    return Outgoing(request, f"{node.namespace}/{node.name}", ("item", node.uid))


def _remove_finalizer(
    view: View, node: GraphNode, finalizer: str, tag: Hashable
) -> tuple[Outgoing, ...]:
    """The write that removes ``finalizer`` from the live object, if it still has it."""
    # upstream: operations.go removeFinalizer (a merge patch carrying the resourceVersion)
    mapping = _resource(node.api_version, node.kind)
    if mapping is None:
        return ()
    resource, namespaced = mapping
    live = view.live_get(resource, node.namespace if namespaced else "", node.name)
    if live is None or live.metadata.uid != node.uid or finalizer not in live.metadata.finalizers:
        return ()
    kept = tuple(f for f in live.metadata.finalizers if f != finalizer)
    return (_update(_with_meta(live, finalizers=kept), resource, tag),)


# --- the controller ------------------------------------------------------------------------


@dataclass(frozen=True)
class GarbageCollector:
    """The generic garbage collector of kube-controller-manager (upstream watches every
    resource with metadata informers; here the kinds the model has with ownerReferences, and
    the Services that own EndpointSlices)."""

    name: str = "garbagecollector"
    identity: str = CONTROLLER_MANAGER
    process: str = "kube-controller-manager"
    resources: tuple[str, ...] = (
        "deployments",
        "replicasets",
        "pods",
        "services",
        "endpointslices",
    )

    def initial_memory(self) -> GCMemory:
        return GCMemory()

    def keys(self, delta: Delta, view: View) -> tuple[str, ...]:
        return (GRAPH_CHANGES,) if _graph_event(delta) else ()

    def observe(self, memory: GCMemory, delta: Delta, view: View) -> GCMemory:
        return graph_changed(memory, delta)

    def reconcile(self, view: View, key: str, memory: GCMemory) -> Reconciled:
        if key == GRAPH_CHANGES:
            requeue = tuple(ATTEMPT_TO_DELETE + u for u in memory.attempt_to_delete) + tuple(
                ATTEMPT_TO_ORPHAN + u for u in memory.attempt_to_orphan
            )
            return Reconciled(
                replace(memory, attempt_to_delete=(), attempt_to_orphan=()), requeue=requeue
            )
        if key.startswith(ATTEMPT_TO_DELETE):
            return self._attempt_to_delete(view, memory, key.removeprefix(ATTEMPT_TO_DELETE))
        if key.startswith(ATTEMPT_TO_ORPHAN):
            return self._attempt_to_orphan(view, memory, key.removeprefix(ATTEMPT_TO_ORPHAN))
        return Reconciled(memory)

    def _attempt_to_delete(self, view: View, memory: GCMemory, uid: str) -> Reconciled:
        busy = memory.in_flight.get(uid)
        if busy is not None:  # processed again once its writes are answered
            outstanding, _, failed = busy
            in_flight = memory.in_flight.set(uid, (outstanding, True, failed))
            return Reconciled(replace(memory, in_flight=in_flight))
        result = self._attempt_to_delete_item(view, memory, uid)
        sent = sum(1 for o in result.requests if o.tag == ("item", uid))
        if not sent:
            return result
        in_flight = result.memory.in_flight.set(uid, (sent, False, False))
        return replace(result, memory=replace(result.memory, in_flight=in_flight))

    def _attempt_to_delete_item(self, view: View, memory: GCMemory, uid: str) -> Reconciled:
        # upstream: garbagecollector.go attemptToDeleteWorker and attemptToDeleteItem
        node = memory.graph.get(uid)
        if node is None:
            return Reconciled(memory)
        if node.being_deleted and not node.deleting_dependents:
            return Reconciled(memory)  # a one-way trip: wait for the final deletion
        mapping = _resource(node.api_version, node.kind)
        if mapping is None:
            return Reconciled(memory)
        resource, namespaced = mapping
        latest = view.live_get(resource, node.namespace if namespaced else "", node.name)
        if latest is None or latest.metadata.uid != uid:
            # a virtual delete event, handled by the graph builder (enqueueVirtualDeleteEvent)
            return Reconciled(_remove_node(memory, node), requeue=(GRAPH_CHANGES,))
        # a virtual node found live is retried until an informer observes it (#56121); the
        # model watches fewer resources than upstream, so only if some informer will
        watched = node.virtual and resource in self.resources
        after = ((ATTEMPT_TO_DELETE + uid, RETRY_SECONDS),) if watched else ()
        if node.deleting_dependents:
            # upstream: processDeletingDependentsItem
            blocking = _blocking(memory.graph, uid)
            if not blocking:
                return Reconciled(
                    memory, _remove_finalizer(view, node, FOREGROUND, ("item", uid)), after=after
                )
            requeue = tuple(
                ATTEMPT_TO_DELETE + d.uid for d in blocking if not d.deleting_dependents
            )
            return Reconciled(memory, requeue=requeue, after=after)
        refs = latest.metadata.owner_references
        if not refs:
            return Reconciled(memory, after=after)
        try:
            solid, dangling, waiting = classify_references(view, node, refs)
        except _Unresolvable:
            return Reconciled(memory)  # simplification: upstream retries a restMappingError
        if solid:
            if not dangling and not waiting:
                return Reconciled(memory, after=after)
            gone = {r.uid for r in dangling + waiting}
            kept = tuple(r for r in refs if r.uid not in gone)
            patch = _update(_with_meta(latest, owner_references=kept), resource, ("item", uid))
            return Reconciled(memory, (patch,), after=after)
        deps = dependents(memory.graph, uid)
        if waiting and deps:
            requests = []
            if any(d.deleting_dependents for d in deps):
                # a possible cycle: make this item's references non-blocking, then delete it
                unblocked = tuple(replace(r, block_owner_deletion=False) for r in refs)
                body = _with_meta(latest, owner_references=unblocked)
                requests.append(_update(body, resource, ("item", uid)))
            requests.append(_delete(node, resource, "Foreground"))
            return Reconciled(memory, tuple(requests), after=after)
        finalizers = latest.metadata.finalizers
        if ORPHAN in finalizers:
            policy = "Orphan"
        elif FOREGROUND in finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        return Reconciled(memory, (_delete(node, resource, policy),), after=after)

    def _attempt_to_orphan(self, view: View, memory: GCMemory, uid: str) -> Reconciled:
        # upstream: garbagecollector.go attemptToOrphanWorker and orphanDependents
        node = memory.graph.get(uid)
        if node is None or uid in memory.orphaning:
            return Reconciled(memory)
        requests = []
        for dep in dependents(memory.graph, uid):
            mapping = _resource(dep.api_version, dep.kind)
            if mapping is None:
                continue
            resource, namespaced = mapping
            live = view.live_get(resource, dep.namespace if namespaced else "", dep.name)
            if live is None or live.metadata.uid != dep.uid:
                continue  # a NotFound is not an error
            kept = tuple(r for r in live.metadata.owner_references if r.uid != uid)
            if kept != live.metadata.owner_references:
                body = _with_meta(live, owner_references=kept)
                requests.append(_update(body, resource, ("orphanDependent", uid)))
        if not requests:
            return Reconciled(
                memory, _remove_finalizer(view, node, ORPHAN, ("orphanFinalize", uid))
            )
        orphaning = memory.orphaning.set(uid, (len(requests), False))
        return Reconciled(replace(memory, orphaning=orphaning), tuple(requests))

    def on_response(
        self, memory: GCMemory, sent: Outgoing, response: Response, view: View
    ) -> Reconciled:
        tag = sent.tag
        failed = not response.ok and response.code != 404
        if not isinstance(tag, tuple):
            return Reconciled(memory)
        if tag[0] == "item":
            uid = tag[1]
            outstanding, dirty, any_failed = memory.in_flight.get(uid, (1, False, False))
            outstanding, any_failed = outstanding - 1, any_failed or not response.ok
            if outstanding > 0:
                in_flight = memory.in_flight.set(uid, (outstanding, dirty, any_failed))
                return Reconciled(replace(memory, in_flight=in_flight))
            memory = replace(memory, in_flight=memory.in_flight.without(uid))
            key = ATTEMPT_TO_DELETE + uid
            if any_failed:
                # upstream: attemptToDeleteWorker requeues (rate limited) an item whose sync failed
                return Reconciled(memory, after=((key, RETRY_SECONDS),))
            return Reconciled(memory, requeue=(key,) if dirty else ())
        if tag[0] == "orphanFinalize":
            after = ((ATTEMPT_TO_ORPHAN + tag[1], RETRY_SECONDS),) if failed else ()
            return Reconciled(memory, after=after)
        if tag[0] == "orphanDependent":
            uid = tag[1]
            outstanding, any_failed = memory.orphaning.get(uid, (1, False))
            outstanding, any_failed = outstanding - 1, any_failed or failed
            if outstanding > 0:
                orphaning = memory.orphaning.set(uid, (outstanding, any_failed))
                return Reconciled(replace(memory, orphaning=orphaning))
            memory = replace(memory, orphaning=memory.orphaning.without(uid))
            if any_failed:
                return Reconciled(memory, after=((ATTEMPT_TO_ORPHAN + uid, RETRY_SECONDS),))
            node = memory.graph.get(uid)
            if node is None:
                return Reconciled(memory)
            # every dependent orphaned: the owner's orphan finalizer goes
            return Reconciled(
                memory, _remove_finalizer(view, node, ORPHAN, ("orphanFinalize", uid))
            )
        return Reconciled(memory)
