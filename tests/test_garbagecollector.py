"""The garbage collector: the graph builder, attemptToDeleteItem, attemptToOrphan, and the three
propagation policies run in the composed cluster.

Each unit test names the upstream behaviour it checks (pkg/controller/garbagecollector).
"""

from __future__ import annotations

import doctest
from dataclasses import replace

import pytest

from kubeproof.model.apiserver.server import (
    Preconditions,
    Request,
    Response,
    default_users,
    handle,
    read,
)
from kubeproof.model.apiserver.server import initial_state as api_state
from kubeproof.model.cluster import ClientRequest, enabled, initial_state, step
from kubeproof.model.controllers import garbagecollector
from kubeproof.model.controllers.garbagecollector import (
    ATTEMPT_TO_DELETE,
    ATTEMPT_TO_ORPHAN,
    FOREGROUND,
    GRAPH_CHANGES,
    ORPHAN,
    GarbageCollector,
    GCMemory,
    classify_references,
    graph_changed,
)
from kubeproof.model.controllers.informer import Informer, relist
from kubeproof.model.controllers.protocol import Delta, Outgoing, View
from kubeproof.model.objects import (
    Container,
    Deployment,
    DeploymentSpec,
    FrozenMap,
    LabelSelector,
    ObjectMeta,
    OwnerReference,
    PodSpec,
    PodTemplateSpec,
)
from kubeproof.model.workloads import new_replicaset, pods_for_replicaset

ADMIN = "kubernetes-admin"
GC = GarbageCollector()


# --- fixtures ------------------------------------------------------------------------------


def _create(api, obj):
    resource = type(obj).RESOURCE
    api, r = handle(api, Request(ADMIN, "create", resource, obj.metadata.namespace, body=obj))
    assert r.code == 201, r
    return api, r.object


def chain(pods: int = 2):
    """An api-server holding Deployment -> ReplicaSet -> Pods, created by the admin, each owned
    by the one before (controller, blockOwnerDeletion), as the controllers would make them."""
    api = api_state(default_users())
    labels = FrozenMap(app="web")
    template = PodTemplateSpec(ObjectMeta(labels=labels), PodSpec((Container("web", "nginx"),)))
    d = Deployment(
        ObjectMeta(name="web", namespace="default"),
        DeploymentSpec(LabelSelector(labels), template, pods),
    )
    api, d = _create(api, d)
    api, rs = _create(api, new_replicaset(d))
    created = []
    for pod in pods_for_replicaset(rs, pods):
        api, pod = _create(api, pod)
        created.append(pod)
    return api, d, rs, tuple(created)


def view_of(api, now: int = 0) -> View:
    """The collector's view with its informers synced to ``api``."""
    caches = FrozenMap((r, relist(Informer(r), api)[0].cache) for r in GC.resources)
    return View(GC.name, now, caches, api)


def synced_memory(api) -> GCMemory:
    """The graph after the collector listed everything (the queues emptied)."""
    memory = GC.initial_memory()
    for resource in GC.resources:
        for delta in relist(Informer(resource), api)[1]:
            memory = GC.observe(memory, delta, view_of(api))
    return replace(memory, attempt_to_delete=(), attempt_to_orphan=())


def ref(obj, block: bool = True) -> OwnerReference:
    return OwnerReference(
        type(obj).API_VERSION, type(obj).KIND, obj.metadata.name, obj.metadata.uid, True, block
    )


def delete(api, obj, policy=None):
    meta = obj.metadata
    request = Request(
        ADMIN, "delete", type(obj).RESOURCE, meta.namespace, meta.name, propagation_policy=policy
    )
    api, r = handle(api, request)
    assert r.ok, r
    return api


def live(api, obj):
    return read(api.store, type(obj).RESOURCE, obj.metadata.namespace, obj.metadata.name)


def test_module_example():
    assert doctest.testmod(garbagecollector).failed == 0


# --- the graph builder ---------------------------------------------------------------------


def test_an_unseen_owner_becomes_a_virtual_node_queued_for_verification():
    """graph_builder.go addDependentToOwners: an owner not in the graph is added as a virtual
    node and put on attemptToDelete, so a live GET can confirm it exists."""
    _, _, rs, (pod, _) = chain()
    memory = graph_changed(GCMemory(), Delta("pods", "ADDED", pod))
    owner = memory.graph[rs.metadata.uid]
    assert owner.virtual and (owner.kind, owner.name) == ("ReplicaSet", rs.metadata.name)
    assert memory.attempt_to_delete == (rs.metadata.uid,)
    # observing the owner later replaces the virtual node (markObserved)
    memory = graph_changed(memory, Delta("replicasets", "ADDED", rs))
    assert not memory.graph[rs.metadata.uid].virtual


def test_deleting_an_owner_queues_its_dependents():
    """processGraphChanges, deleteEvent: removeNode, then every dependent to attemptToDelete."""
    api, _d, rs, pods = chain()
    memory = synced_memory(api)
    memory = graph_changed(memory, Delta("replicasets", "DELETED", rs))
    assert rs.metadata.uid not in memory.graph
    assert set(memory.attempt_to_delete) == {p.metadata.uid for p in pods}


def test_a_deleted_dependent_wakes_an_owner_waiting_for_its_dependents():
    """processGraphChanges, deleteEvent: owners in deletingDependents go to attemptToDelete."""
    api, _d, rs, pods = chain()
    api = delete(api, rs, "Foreground")
    memory = synced_memory(api)
    assert memory.graph[rs.metadata.uid].deleting_dependents
    memory = graph_changed(memory, Delta("pods", "DELETED", pods[0]))
    assert memory.attempt_to_delete == (rs.metadata.uid,)


def test_foreground_deletion_starting_queues_the_owner_and_its_dependents():
    """processTransitions, startsWaitingForDependentsDeleted: markDeletingDependents, and the
    node and its dependents to attemptToDelete."""
    api, _d, rs, pods = chain()
    memory = synced_memory(api)
    api = delete(api, rs, "Foreground")
    memory = graph_changed(memory, Delta("replicasets", "MODIFIED", live(api, rs), rs))
    assert memory.graph[rs.metadata.uid].deleting_dependents
    assert set(memory.attempt_to_delete) == {rs.metadata.uid} | {p.metadata.uid for p in pods}


def test_orphan_deletion_starting_queues_the_owner_for_orphaning():
    """processTransitions, startsWaitingForDependentsOrphaned: the node to attemptToOrphan."""
    api, _d, rs, _pods = chain()
    memory = synced_memory(api)
    api = delete(api, rs, "Orphan")
    memory = graph_changed(memory, Delta("replicasets", "MODIFIED", live(api, rs), rs))
    assert memory.attempt_to_orphan == (rs.metadata.uid,)
    assert memory.attempt_to_delete == ()


def test_removing_a_blocking_reference_wakes_the_owner():
    """addUnblockedOwnersToDeleteQueue: a removed blockOwnerDeletion reference queues the owner."""
    api, _d, rs, (pod, _) = chain()
    memory = synced_memory(api)
    orphaned = replace(pod, metadata=replace(pod.metadata, owner_references=()))
    memory = graph_changed(memory, Delta("pods", "MODIFIED", orphaned, pod))
    assert memory.attempt_to_delete == (rs.metadata.uid,)
    assert memory.graph[pod.metadata.uid].owners == ()


def test_a_recreated_object_under_the_same_name_drops_the_old_uid():
    """A delete and a create seen as one update (a relist): the old uid leaves the graph."""
    api, _d, _rs, (pod, _) = chain()
    memory = synced_memory(api)
    again = replace(pod, metadata=replace(pod.metadata, uid="uid-99"))
    memory = graph_changed(memory, Delta("pods", "MODIFIED", again, pod))
    assert pod.metadata.uid not in memory.graph and "uid-99" in memory.graph


def test_only_events_that_can_queue_work_enqueue_graph_changes():
    """A status-only update cannot change what the graph builder queues; an ownerReferences
    change can."""
    _, _, _rs, (pod, _) = chain()
    view = view_of(api_state(default_users()))
    running = replace(pod, status=replace(pod.status, phase="Running"))
    assert GC.keys(Delta("pods", "MODIFIED", running, pod), view) == ()
    orphaned = replace(pod, metadata=replace(pod.metadata, owner_references=()))
    assert GC.keys(Delta("pods", "MODIFIED", orphaned, pod), view) == (GRAPH_CHANGES,)
    assert GC.keys(Delta("pods", "ADDED", pod), view) == (GRAPH_CHANGES,)


def test_graph_changes_hands_the_queued_uids_to_the_work_queue():
    memory = GCMemory(attempt_to_delete=("uid-1",), attempt_to_orphan=("uid-2",))
    result = GC.reconcile(view_of(api_state(default_users())), GRAPH_CHANGES, memory)
    assert result.requeue == (ATTEMPT_TO_DELETE + "uid-1", ATTEMPT_TO_ORPHAN + "uid-2")
    assert result.memory.attempt_to_delete == result.memory.attempt_to_orphan == ()


# --- attemptToDeleteItem -------------------------------------------------------------------


def test_a_virtual_owner_that_does_not_exist_gets_a_virtual_delete():
    """attemptToDeleteItem: GET NotFound -> enqueueVirtualDeleteEvent; its dependents are then
    queued by the graph builder."""
    api, _d, rs, (pod, _) = chain()
    api = delete(api, rs)  # gone before the collector ever saw it
    memory = graph_changed(GCMemory(), Delta("pods", "ADDED", pod))
    result = GC.reconcile(view_of(api), ATTEMPT_TO_DELETE + rs.metadata.uid, replace(memory))
    assert rs.metadata.uid not in result.memory.graph
    assert result.memory.attempt_to_delete[-1] == pod.metadata.uid
    assert result.requeue == (GRAPH_CHANGES,) and result.requests == ()


def test_a_virtual_owner_found_live_is_retried_until_observed():
    """attemptToDeleteWorker: a virtual node that exists is requeued until an informer event
    marks it observed (#56121)."""
    api, _d, rs, (pod, _) = chain()
    memory = graph_changed(GCMemory(), Delta("pods", "ADDED", pod))
    result = GC.reconcile(view_of(api), ATTEMPT_TO_DELETE + rs.metadata.uid, memory)
    assert result.after == ((ATTEMPT_TO_DELETE + rs.metadata.uid, 1),)
    assert result.requests == ()


def test_classify_references():
    """classifyReferences / isDangling: absent or another UID is dangling; being deleted with
    foregroundDeletion is waiting; anything else is solid."""
    api, _d, rs, (pod, _) = chain()
    memory = synced_memory(api)
    node = memory.graph[pod.metadata.uid]
    stale = replace(ref(rs), uid="uid-old")
    solid, dangling, waiting = classify_references(view_of(api), node, (ref(rs), stale))
    assert (solid, dangling, waiting) == ((ref(rs),), (stale,), ())
    api = delete(api, rs, "Foreground")
    assert classify_references(view_of(api), node, (ref(rs),)) == ((), (), (ref(rs),))


def test_an_item_whose_owners_are_all_dangling_is_deleted_with_a_uid_precondition():
    """attemptToDeleteItem, default case: no solid or waiting owner -> delete, Background
    unless the item's own finalizers say otherwise (operations.go deleteObject)."""
    api, _d, rs, (pod, _) = chain()
    memory = synced_memory(api)
    api = delete(api, rs)
    result = GC.reconcile(view_of(api), ATTEMPT_TO_DELETE + pod.metadata.uid, memory)
    (sent,) = result.requests
    assert (sent.request.verb, sent.request.name) == ("delete", pod.metadata.name)
    assert sent.request.preconditions == Preconditions(uid=pod.metadata.uid)
    assert sent.request.propagation_policy == "Background"


def test_an_items_own_orphan_finalizer_sets_the_policy():
    """attemptToDeleteItem: hasOrphanFinalizer(latest) -> DeletePropagationOrphan."""
    api, d, rs, _pods = chain()
    memory = synced_memory(api)
    with_finalizer = replace(rs, metadata=replace(live(api, rs).metadata, finalizers=(ORPHAN,)))
    api, r = handle(
        api,
        Request(ADMIN, "update", "replicasets", "default", rs.metadata.name, body=with_finalizer),
    )
    assert r.ok, r
    api = delete(api, d)
    result = GC.reconcile(view_of(api), ATTEMPT_TO_DELETE + rs.metadata.uid, memory)
    assert result.requests[0].request.propagation_policy == "Orphan"


def test_a_solid_owner_keeps_the_item_and_dangling_references_are_patched_away():
    """attemptToDeleteItem, len(solid) != 0: the dangling and waiting references are removed
    (a write carrying the item's UID)."""
    api, _d, rs, (pod, _) = chain()
    # with only solid owners there is nothing to do
    result = GC.reconcile(view_of(api), ATTEMPT_TO_DELETE + pod.metadata.uid, synced_memory(api))
    assert result.requests == ()
    stale = OwnerReference("apps/v1", "ReplicaSet", "gone", "uid-gone")
    body = replace(
        live(api, pod),
        metadata=replace(live(api, pod).metadata, owner_references=(ref(rs), stale)),
    )
    api, r = handle(api, Request(ADMIN, "update", "pods", "default", pod.metadata.name, body=body))
    assert r.ok, r
    memory = synced_memory(api)
    result = GC.reconcile(view_of(api), ATTEMPT_TO_DELETE + pod.metadata.uid, memory)
    (sent,) = result.requests
    assert sent.request.verb == "update"
    assert sent.request.body.metadata.owner_references == (ref(rs),)
    assert sent.request.body.metadata.uid == pod.metadata.uid


def test_an_item_with_dependents_and_a_waiting_owner_is_deleted_in_foreground():
    """attemptToDeleteItem: waitingForDependentsDeletion and dependents -> delete Foreground."""
    api, d, rs, pods = chain()
    memory = synced_memory(api)
    api = delete(api, d, "Foreground")
    result = GC.reconcile(view_of(api), ATTEMPT_TO_DELETE + rs.metadata.uid, memory)
    (sent,) = result.requests
    assert sent.request.verb == "delete" and sent.request.propagation_policy == "Foreground"
    # a pod (no dependents) of a waiting replica set is deleted per its own finalizers
    api = delete(api, rs, "Foreground")
    result = GC.reconcile(view_of(api), ATTEMPT_TO_DELETE + pods[0].metadata.uid, memory)
    assert result.requests[0].request.propagation_policy == "Background"


def test_a_possible_cycle_unblocks_the_items_references_before_the_foreground_delete():
    """attemptToDeleteItem: a dependent that is itself deletingDependents -> the item's
    references are made non-blocking, then it is deleted in Foreground."""
    api, d, rs, pods = chain()
    api = delete(api, d, "Foreground")
    memory = synced_memory(api)
    # a dependent of the replica set is itself waiting for its dependents
    waiting = replace(memory.graph[pods[0].metadata.uid], deleting_dependents=True)
    memory = replace(memory, graph=memory.graph.set(pods[0].metadata.uid, waiting))
    result = GC.reconcile(view_of(api), ATTEMPT_TO_DELETE + rs.metadata.uid, memory)
    unblock, foreground = result.requests
    assert all(not r.block_owner_deletion for r in unblock.request.body.metadata.owner_references)
    assert foreground.request.propagation_policy == "Foreground"


def test_an_item_being_deleted_is_left_alone():
    """attemptToDeleteItem: isBeingDeleted && !isDeletingDependents -> return at once."""
    api, d, rs, _pods = chain()
    api = delete(api, d)
    api = delete(api, rs, "Orphan")
    memory = synced_memory(api)
    result = GC.reconcile(view_of(api), ATTEMPT_TO_DELETE + rs.metadata.uid, memory)
    assert result.requests == () and result.requeue == ()


def test_deleting_dependents_waits_for_blocking_dependents_then_drops_its_finalizer():
    """processDeletingDependentsItem: blocking dependents are queued; with none left the
    foregroundDeletion finalizer is removed (operations.go removeFinalizer)."""
    api, _d, rs, pods = chain()
    api = delete(api, rs, "Foreground")
    memory = synced_memory(api)
    result = GC.reconcile(view_of(api), ATTEMPT_TO_DELETE + rs.metadata.uid, memory)
    assert set(result.requeue) == {ATTEMPT_TO_DELETE + p.metadata.uid for p in pods}
    for pod in pods:
        api = delete(api, pod)
    memory = synced_memory(api)
    result = GC.reconcile(view_of(api), ATTEMPT_TO_DELETE + rs.metadata.uid, memory)
    (sent,) = result.requests
    assert FOREGROUND not in sent.request.body.metadata.finalizers
    assert sent.request.body.metadata.resource_version == live(api, rs).metadata.resource_version


def test_a_failed_write_is_retried():
    """attemptToDeleteWorker: an error requeues the item (rate limited)."""
    sent = Outgoing(Request(ADMIN, "delete", "pods", "default", "p"), "default/p", ("item", "u"))
    view = view_of(api_state(default_users()))
    conflict = GC.on_response(GCMemory(), sent, Response(409), view)
    assert conflict.after == ((ATTEMPT_TO_DELETE + "u", 1),)
    assert GC.on_response(GCMemory(), sent, Response(200), view).after == ()


def test_an_item_is_not_processed_again_while_its_writes_are_outstanding():
    """workqueue: a key being processed is not handed out again; queued meanwhile, it comes
    back once the worker is done (upstream's worker waits for its DELETE)."""
    api, _d, rs, (pod, _) = chain()
    memory = synced_memory(api)
    api = delete(api, rs)
    key = ATTEMPT_TO_DELETE + pod.metadata.uid
    first = GC.reconcile(view_of(api), key, memory)
    (sent,) = first.requests
    again = GC.reconcile(view_of(api), key, first.memory)
    assert again.requests == ()
    api, response = handle(api, sent.request)
    done = GC.on_response(again.memory, sent, response, view_of(api))
    assert done.requeue == (key,) and done.memory.in_flight == FrozenMap()


# --- attemptToOrphan -----------------------------------------------------------------------


def test_orphaning_strips_the_owner_from_dependents_then_drops_the_orphan_finalizer():
    """orphanDependents, then removeFinalizer(orphan) once every dependent is patched."""
    api, _d, rs, _pods = chain()
    api = delete(api, rs, "Orphan")
    memory = synced_memory(api)
    result = GC.reconcile(view_of(api), ATTEMPT_TO_ORPHAN + rs.metadata.uid, memory)
    assert len(result.requests) == 2
    assert all(o.request.body.metadata.owner_references == () for o in result.requests)
    memory = result.memory
    assert memory.orphaning[rs.metadata.uid] == (2, False)
    for outgoing in result.requests:
        api, response = handle(api, outgoing.request)
        assert response.ok
        last = GC.on_response(memory, outgoing, response, view_of(api))
        memory = last.memory
    (finalize,) = last.requests
    assert ORPHAN not in finalize.request.body.metadata.finalizers
    assert rs.metadata.uid not in memory.orphaning


def test_a_failed_orphaning_is_retried_and_keeps_the_finalizer():
    """attemptToOrphanWorker: an orphanDependents error requeues the owner, finalizer kept."""
    api, _d, rs, (_pod,) = chain(pods=1)
    api = delete(api, rs, "Orphan")
    memory = synced_memory(api)
    result = GC.reconcile(view_of(api), ATTEMPT_TO_ORPHAN + rs.metadata.uid, memory)
    (patch,) = result.requests
    failed = GC.on_response(result.memory, patch, Response(409), view_of(api))
    assert failed.requests == ()
    assert failed.after == ((ATTEMPT_TO_ORPHAN + rs.metadata.uid, 1),)


# --- in the cluster ------------------------------------------------------------------------


def run(state, limit: int = 3000):
    """Step the first enabled action until nothing is enabled; return the states seen."""
    states = [state]
    for _ in range(limit):
        actions = enabled(state)
        if not actions:
            return states
        state = step(state, actions[0])
        states.append(state)
    raise AssertionError("the run did not settle")


def cluster(api, *requests):
    return initial_state((GC,), api, requests)


def gone_at(states, obj) -> int | None:
    """The index of the first state in which ``obj`` no longer exists."""
    for i, s in enumerate(states):
        if live(s.api, obj) is None:
            return i
    return None


def _delete_request(obj, policy):
    meta = obj.metadata
    return Request(
        ADMIN, "delete", type(obj).RESOURCE, meta.namespace, meta.name, propagation_policy=policy
    )


def synced(state):
    """Let the collector list and settle, with the users' requests held back."""
    clients, state = state.clients, replace(state, clients=())
    return replace(run(state)[-1], clients=clients)


@pytest.mark.parametrize("gc_saw_the_owner", [True, False])
def test_background_deletion_collects_the_whole_chain(gc_saw_the_owner):
    """Background: the owner goes at once, the collector then deletes the replica set and its
    pods (dangling owners), whether it saw the owner before (graph delete event) or only
    learns of it as a virtual node (live GET NotFound)."""
    api, d, rs, pods = chain()
    state = cluster(api, _delete_request(d, "Background"))
    if gc_saw_the_owner:
        state = synced(state)
    states = run(state)
    end = states[-1].api
    assert live(end, d) is None and live(end, rs) is None
    assert all(live(end, p) is None for p in pods)
    assert gone_at(states, d) < gone_at(states, rs) < min(gone_at(states, p) for p in pods)


def test_foreground_deletion_removes_the_dependents_first():
    """Foreground: the owner stays (deletionTimestamp, foregroundDeletion) until its blocking
    dependents are gone; the pods go first, then the replica set, then the deployment."""
    api, d, rs, pods = chain()
    state = synced(cluster(api, _delete_request(d, "Foreground")))
    states = run(state)
    end = states[-1].api
    assert live(end, d) is None and live(end, rs) is None
    assert all(live(end, p) is None for p in pods)
    last_pod = max(gone_at(states, p) for p in pods)
    assert last_pod < gone_at(states, rs) < gone_at(states, d)
    # while the pods existed, the deployment was visible and marked for foreground deletion
    during = states[last_pod - 1].api
    assert FOREGROUND in live(during, d).metadata.finalizers
    assert live(during, rs).metadata.deletion_timestamp is not None


def test_orphan_deletion_leaves_the_dependents_without_the_owner():
    """Orphan: the replica set loses its reference to the deployment, then the deployment's
    orphan finalizer goes and it is deleted; the pods stay, still owned by the replica set."""
    api, d, rs, pods = chain()
    state = synced(cluster(api, _delete_request(d, "Orphan")))
    end = run(state)[-1].api
    assert live(end, d) is None
    assert live(end, rs).metadata.owner_references == ()
    for pod in pods:
        assert live(end, pod).metadata.owner_references == (ref(rs),)


def test_a_restarted_collector_finishes_a_foreground_deletion():
    """After a crash the relist rebuilds the graph, and an owner already marked for foreground
    deletion (processTransitions with no old object) is finished."""
    from kubeproof.model.cluster import Crash, Restart

    api, d, rs, pods = chain()
    state = synced(cluster(api, _delete_request(d, "Foreground")))
    state = step(state, ClientRequest())
    state = step(state, Crash(GC.process))
    state = step(state, Restart(GC.process))
    end = run(state)[-1].api
    assert live(end, d) is None and live(end, rs) is None
    assert all(live(end, p) is None for p in pods)
