"""The ReplicaSet controller (model/controllers/replicaset.py) and its memory-only stores
(model/controllers/expectations.py), each test naming the upstream rule it checks.

Unit tests drive keys/observe/reconcile/on_response on hand-built views; the last tests run the
controller inside model/cluster.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from kubeproof.model.apiserver.admission import Status
from kubeproof.model.apiserver.server import Request, Response, default_users, handle, read
from kubeproof.model.apiserver.server import initial_state as api_state
from kubeproof.model.cluster import (
    NO_FAULTS,
    ClientRequest,
    Deliver,
    Reconcile,
    Relist,
    Send,
    enabled,
    initial_state,
    transition,
)
from kubeproof.model.controllers import expectations as ex
from kubeproof.model.controllers.protocol import Delta, View
from kubeproof.model.controllers.replicaset import (
    POD_DELETION_COST,
    Memory,
    ReplicaSetController,
    calculate_status,
    deletion_cost,
    pods_to_delete,
)
from kubeproof.model.objects import (
    EMPTY,
    Condition,
    Container,
    FrozenMap,
    LabelSelector,
    ObjectMeta,
    OwnerReference,
    Pod,
    PodSpec,
    PodStatus,
    PodTemplateSpec,
    ReplicaSet,
    ReplicaSetSpec,
    ReplicaSetStatus,
)

ADMIN = "kubernetes-admin"
APP = FrozenMap(app="web")
KEY = "default/web"
API = api_state(default_users())
RSC = ReplicaSetController()


def make_rs(name="web", replicas=3, uid="uid-rs", labels=APP, mrs=0, owner=None, **meta):
    template = PodTemplateSpec(
        ObjectMeta(labels=labels), PodSpec(containers=(Container("c", "nginx"),))
    )
    refs = (
        () if owner is None else (OwnerReference("apps/v1", "Deployment", "d", owner, True, True),)
    )
    status = meta.pop("status", ReplicaSetStatus())
    metadata = ObjectMeta(
        name=name,
        namespace="default",
        uid=uid,
        generation=meta.pop("generation", 1),
        resource_version=meta.pop("resource_version", "5"),
        owner_references=refs,
        **meta,
    )
    spec = ReplicaSetSpec(LabelSelector(labels), template, replicas, min_ready_seconds=mrs)
    return ReplicaSet(metadata, spec, status)


def owner_ref(rs):
    return OwnerReference("apps/v1", "ReplicaSet", rs.metadata.name, rs.metadata.uid, True, True)


def make_pod(
    name, rs=None, labels=APP, node="", phase="Running", ready_at=None, created=0, rv="1", **meta
):
    conditions = (
        () if ready_at is None else (Condition("Ready", "True", last_transition_time=ready_at),)
    )
    metadata = ObjectMeta(
        name=name,
        namespace="default",
        uid=meta.pop("uid", f"uid-{name}"),
        labels=labels,
        resource_version=rv,
        creation_timestamp=created,
        owner_references=() if rs is None else (owner_ref(rs),),
        **meta,
    )
    return Pod(
        metadata,
        PodSpec(containers=(Container("c", "nginx"),), node_name=node),
        PodStatus(phase, conditions),
    )


def make_view(rss=(), pods=(), now=0, api=API, revisions=EMPTY):
    caches = FrozenMap(
        replicasets=FrozenMap((f"default/{r.metadata.name}", r) for r in rss),
        pods=FrozenMap((f"default/{p.metadata.name}", p) for p in pods),
    )
    return View("replicaset", now, caches, api, revisions)


def verbs(result):
    return [
        (
            o.request.verb,
            o.request.resource + ("/" + o.request.subresource if o.request.subresource else ""),
        )
        for o in result.requests
    ]


def ok(obj=None, code=200):
    return Response(code, obj)


def fail(code, message="boom"):
    return Response(code, Status(code, "Error", message))


def with_expectation(memory=None, add=0, delete=0, at=0, deleting=()):
    memory = memory or Memory()
    e = ex.Expectations(
        memory.expectations.records.set(KEY, ex.Expectation(add, delete, at)),
        memory.expectations.deleting.set(KEY, frozenset(deleting)),
    )
    return replace(memory, expectations=e)


# --- expectations (controller_utils.go) ----------------------------------------------------


def test_expectations_satisfied_without_record_fulfilled_or_after_five_minutes():
    # upstream: SatisfiedExpectations: no record, add<=0 && del<=0, or isExpired (> 5 min)
    e = ex.Expectations()
    assert ex.satisfied(e, KEY, now=0)
    e = ex.expect_creations(e, KEY, 2, now=10)
    assert not ex.satisfied(e, KEY, now=310)  # exactly 300 s is not expired
    assert ex.satisfied(e, KEY, now=311)
    e = ex.creation_observed(ex.creation_observed(e, KEY), KEY)
    assert ex.satisfied(e, KEY, now=11)


def test_expectations_only_go_down_and_only_for_an_existing_record():
    # upstream: LowerExpectations touches an existing record only; counters may go negative
    e = ex.creation_observed(ex.Expectations(), KEY)
    assert KEY not in e.records
    e = ex.creation_observed(ex.expect_creations(e, KEY, 1, 0), KEY)
    e = ex.creation_observed(e, KEY)
    assert e.records[KEY].add == -1


def test_a_deletion_counts_once_and_only_for_an_expected_pod_key():
    # upstream: UIDTrackingControllerExpectations.DeletionObserved: graceful delete then
    # final delete of the same pod count once; an unexpected pod counts nothing
    e = ex.expect_deletions(ex.Expectations(), KEY, ("default/a", "default/b"), 0)
    e = ex.deletion_observed(e, KEY, "default/a")
    e = ex.deletion_observed(e, KEY, "default/a")
    e = ex.deletion_observed(e, KEY, "default/zzz")
    assert e.records[KEY].delete == 1
    assert not ex.satisfied(e, KEY, 0)
    e = ex.deletion_observed(e, KEY, "default/b")
    assert ex.satisfied(e, KEY, 0)


def test_expect_creations_replaces_the_record_and_delete_expectations_forgets_it():
    # upstream: SetExpectations replaces; DeleteExpectations drops record and uid set
    e = ex.expect_deletions(ex.Expectations(), KEY, ("default/a",), 0)
    e = ex.expect_creations(e, KEY, 3, 50)
    assert e.records[KEY] == ex.Expectation(3, 0, 50)
    e = ex.delete_expectations(e, KEY)
    assert KEY not in e.records and KEY not in e.deleting


def test_consistency_store_waits_for_the_informer_to_pass_the_last_write():
    # upstream: consistency.go WroteAt keeps the newest rv; EnsureReady compares it with the
    # informer's LastStoreSyncResourceVersion and clears the record once ready
    store = ex.wrote_at(EMPTY, KEY, "u1", "pods", 9)
    store = ex.wrote_at(store, KEY, "u1", "pods", 7)
    assert store[KEY].versions["pods"] == 9
    is_ready, store = ex.ready(store, KEY, FrozenMap(pods=8))
    assert not is_ready and KEY in store
    is_ready, store2 = ex.ready(store, KEY, FrozenMap(pods=9))
    assert is_ready and KEY not in store2
    # a resource with no informer is skipped; another uid starts a fresh record
    assert ex.ready(ex.wrote_at(EMPTY, KEY, "u", "nodes", 99), KEY, FrozenMap(pods=1))[0]
    assert ex.wrote_at(store, KEY, "u2", "replicasets", 3)[KEY].versions == FrozenMap(replicasets=3)
    assert KEY in ex.clear_written(store, KEY, "other-uid")
    assert KEY not in ex.clear_written(store, KEY, "")


# --- event handlers ------------------------------------------------------------------------


def test_pod_added_with_controller_ref_observes_a_creation_and_enqueues_its_owner():
    # upstream: addPod: resolveControllerRef, CreationObserved, enqueue
    rs = make_rs()
    pod = make_pod("p1", rs)
    view = make_view([rs], [pod])
    delta = Delta("pods", "ADDED", pod)
    memory = with_expectation(add=1)
    assert RSC.keys(delta, view) == (KEY,)
    assert RSC.observe(memory, delta, view).expectations.records[KEY].add == 0


def test_pod_whose_controller_ref_uid_differs_is_ignored():
    # upstream: resolveControllerRef checks the UID: a recreated ReplicaSet is not the owner
    rs = make_rs()
    stale = make_pod("p1", replace(rs, metadata=replace(rs.metadata, uid="old-uid")))
    view = make_view([rs], [stale])
    delta = Delta("pods", "ADDED", stale)
    assert RSC.keys(delta, view) == ()
    assert RSC.observe(with_expectation(add=1), delta, view).expectations.records[KEY].add == 1


def test_an_orphan_enqueues_every_matching_replicaset_and_observes_nothing():
    # upstream: addPod orphan branch: getPodReplicaSets; no CreationObserved
    a, b = make_rs("web", uid="ua"), make_rs("web2", uid="ub")
    other = make_rs("db", uid="uc", labels=FrozenMap(app="db"))
    orphan = make_pod("o")
    view = make_view([a, b, other], [orphan])
    assert RSC.keys(Delta("pods", "ADDED", orphan), view) == (KEY, "default/web2")
    memory = with_expectation(add=1)
    assert RSC.observe(memory, Delta("pods", "ADDED", orphan), view) == memory
    bare = make_pod("bare", labels=EMPTY)  # GetPodReplicaSets: a pod without labels matches none
    assert RSC.keys(Delta("pods", "ADDED", bare), view) == ()


def test_a_pod_added_while_being_deleted_counts_as_a_deletion():
    # upstream: addPod: DeletionTimestamp set (seen first by a relist) -> deletePod
    rs = make_rs()
    pod = make_pod("p1", rs, deletion_timestamp=5)
    view = make_view([rs], [pod])
    memory = with_expectation(delete=1, deleting=("default/p1",))
    out = RSC.observe(memory, Delta("pods", "ADDED", pod), view)
    assert out.expectations.records[KEY].delete == 0


def test_graceful_delete_then_final_delete_count_once():
    # upstream: updatePod treats deletionTimestamp as a delete; the DELETED that follows
    # finds the pod key gone from the expected set
    rs = make_rs()
    old = make_pod("p1", rs, rv="1")
    graceful = make_pod("p1", rs, rv="2", deletion_timestamp=30)
    view = make_view([rs], [graceful])
    memory = with_expectation(delete=1, deleting=("default/p1",))
    memory = RSC.observe(memory, Delta("pods", "MODIFIED", graceful, old), view)
    memory = RSC.observe(memory, Delta("pods", "DELETED", graceful), view)
    assert memory.expectations.records[KEY].delete == 0


def test_an_update_with_the_same_resource_version_is_ignored():
    # upstream: updatePod: a periodic resync sends the same object: return
    rs = make_rs()
    pod = make_pod("p1", rs)
    assert RSC.keys(Delta("pods", "MODIFIED", pod, pod), make_view([rs], [pod])) == ()


def test_a_controller_ref_change_enqueues_old_and_new_owner():
    # upstream: updatePod: controllerRefChanged -> enqueue the old owner too
    a, b = make_rs("web", uid="ua"), make_rs("web2", uid="ub")
    old = make_pod("p1", a, rv="1")
    new = make_pod("p1", b, rv="2")
    assert RSC.keys(Delta("pods", "MODIFIED", new, old), make_view([a, b], [new])) == (
        KEY,
        "default/web2",
    )


def test_a_label_change_of_an_orphan_enqueues_matching_replicasets():
    # upstream: updatePod: orphan whose labels changed -> getPodReplicaSets
    rs = make_rs()
    old = make_pod("p1", labels=FrozenMap(app="other"), rv="1")
    new = make_pod("p1", rv="2")
    assert RSC.keys(Delta("pods", "MODIFIED", new, old), make_view([rs], [new])) == (KEY,)


def test_ready_with_min_ready_seconds_requeues_after_min_ready_seconds_plus_one():
    # upstream: updatePod: !ready -> ready and MinReadySeconds > 0: enqueueRSAfter(mrs + 1s)
    rs = make_rs(mrs=10)
    old = make_pod("p1", rs, rv="1")
    new = make_pod("p1", rs, rv="2", ready_at=100)
    view = make_view([rs], [new], now=100)
    delta = Delta("pods", "MODIFIED", new, old)
    assert RSC.keys(delta, view) == (KEY,)
    memory = RSC.observe(Memory(), delta, view)
    assert memory.delayed[KEY] == (111,)
    result = RSC.reconcile(replace(view, now=104), KEY, memory)
    assert (KEY, 7) in result.after and KEY not in result.memory.delayed


def test_a_tombstone_counts_as_the_deletion():
    # upstream: deletePod accepts DeletedFinalStateUnknown
    rs = make_rs()
    pod = make_pod("p1", rs)
    memory = with_expectation(delete=1, deleting=("default/p1",))
    delta = Delta("pods", "DELETED", pod, tombstone=True)
    out = RSC.observe(memory, delta, make_view([rs], []))
    assert RSC.keys(delta, make_view([rs], [])) == (KEY,)
    assert out.expectations.records[KEY].delete == 0


def test_replicaset_delete_or_new_uid_forgets_expectations_and_writes():
    # upstream: deleteRS: consistencyStore.Clear(uid) and DeleteExpectations; updateRS with a
    # changed uid is a delete of the old one
    rs = make_rs()
    memory = with_expectation(add=2)
    memory = replace(memory, written=ex.wrote_at(EMPTY, KEY, "uid-rs", "pods", 4))
    out = RSC.observe(memory, Delta("replicasets", "DELETED", rs, tombstone=True), make_view())
    assert KEY not in out.expectations.records and KEY not in out.written
    new = make_rs(uid="uid-new")
    out = RSC.observe(memory, Delta("replicasets", "MODIFIED", new, rs), make_view([new]))
    assert KEY not in out.expectations.records and KEY not in out.written
    assert RSC.keys(Delta("replicasets", "MODIFIED", new, rs), make_view([new])) == (KEY,)


# --- syncReplicaSet ------------------------------------------------------------------------


def test_unsatisfied_expectations_skip_manage_replicas_but_not_the_status():
    # upstream: rsNeedsSync := SatisfiedExpectations(key), checked before the pods are listed
    rs = make_rs()
    result = RSC.reconcile(make_view([rs], []), KEY, with_expectation(add=3, at=0))
    assert verbs(result) == [("update", "replicasets/status")]
    later = RSC.reconcile(make_view([rs], [], now=301), KEY, with_expectation(add=3, at=0))
    assert verbs(later) == [("create", "pods")]  # expired after 5 minutes


def test_creations_are_capped_at_burst_replicas():
    # upstream: manageReplicas: diff capped at burstReplicas (500)
    rs = make_rs(replicas=600)
    result = RSC.reconcile(make_view([rs], []), KEY, Memory())
    assert result.memory.expectations.records[KEY].add == 500
    assert result.memory.syncs[KEY].diff == 500


def drive_creations(rsc, rs, fail_at=(), terminating_at=()):
    """Answer each create of a sync in turn; return the batch sizes sent and the last result."""
    view = make_view([rs], [])
    result = rsc.reconcile(view, KEY, Memory())
    batches, n = [], 0
    while result.requests and result.requests[0].request.verb == "create":
        batch = result.requests
        batches.append(len(batch))
        for sent in batch:
            n += 1
            if n in fail_at:
                response = fail(403, "exceeded quota")
            elif n in terminating_at:
                response = fail(
                    403,
                    'pods "" is forbidden: unable to create new content in '
                    "namespace default because it is being terminated",
                )
            else:
                response = ok(make_pod(f"p{n}", rs, rv=str(10 + n)), 201)
            result = rsc.on_response(result.memory, sent, response, view)
    return batches, result


def test_slow_start_sends_batches_of_one_two_four():
    # upstream: slowStartBatch(diff, SlowStartInitialBatchSize=1, ...)
    batches, result = drive_creations(RSC, make_rs(replicas=7))
    assert batches == [1, 2, 4]
    assert verbs(result) == [("update", "replicasets/status")]
    assert result.memory.expectations.records[KEY].add == 7  # the informer will report them


def test_the_first_failing_batch_stops_the_rest_and_unmade_pods_are_observed():
    # upstream: slowStartBatch returns at the first batch with an error; manageReplicas calls
    # CreationObserved for every skipped pod (diff - successfulCreations)
    batches, result = drive_creations(RSC, make_rs(replicas=7), fail_at=(3,))
    assert batches == [1, 2]
    assert result.memory.expectations.records[KEY].add == 2  # 7 - (7 - 2 successes)
    status = result.requests[0].request.body.status
    failure = next(c for c in status.conditions if c.type == "ReplicaFailure")
    assert (failure.status, failure.reason, failure.message) == (
        "True",
        "FailedCreate",
        "exceeded quota",
    )


def test_a_create_refused_for_a_terminating_namespace_counts_as_done():
    # upstream: manageReplicas: HasStatusCause(err, NamespaceTerminatingCause) -> nil
    batches, result = drive_creations(RSC, make_rs(replicas=3), terminating_at=(1,))
    assert batches == [1, 2]
    assert not result.requests[0].request.body.status.conditions


def test_created_pods_come_from_the_template_with_generate_name():
    # upstream: GetPodFromTemplate: generateName "<rs>-", template labels, controller ref
    result = RSC.reconcile(make_view([make_rs()], []), KEY, Memory())
    body = result.requests[0].request.body
    assert (body.metadata.name, body.metadata.generate_name) == ("", "web-")
    assert body.metadata.labels == APP
    assert body.metadata.controller_ref().uid == "uid-rs"


def test_too_many_pods_deletes_the_lowest_ranked_and_expects_their_keys():
    # upstream: manageReplicas: getPodsToDelete, ExpectDeletions(podKeys), parallel deletes
    rs = make_rs(replicas=1)
    pods = [
        make_pod("running", rs, node="n1", ready_at=0),
        make_pod("pending", rs, node="n1", phase="Pending"),
        make_pod("unscheduled", rs, phase="Pending"),
    ]
    view = make_view([rs], pods, now=100)
    result = RSC.reconcile(view, KEY, Memory())
    assert [o.request.name for o in result.requests] == ["unscheduled", "pending"]
    assert result.memory.expectations.deleting[KEY] == {"default/unscheduled", "default/pending"}
    # a failed delete will never be observed: DeletionObserved at once; NotFound is no error
    memory = RSC.on_response(result.memory, result.requests[0], fail(404), view).memory
    assert memory.expectations.records[KEY].delete == 1
    last = RSC.on_response(memory, result.requests[1], fail(500, "etcd down"), view)
    assert last.memory.expectations.records[KEY].delete == 0
    condition = last.requests[0].request.body.status.conditions[0]
    assert (condition.reason, condition.message) == ("FailedDelete", "etcd down")


def test_a_replicaset_being_deleted_is_not_scaled():
    # upstream: syncReplicaSet: manageReplicas only if rs.DeletionTimestamp == nil
    rs = make_rs(deletion_timestamp=3)
    assert verbs(RSC.reconcile(make_view([rs], []), KEY, Memory())) == [
        ("update", "replicasets/status")
    ]


def test_a_replicaset_gone_from_the_cache_drops_its_expectations():
    # upstream: syncReplicaSet: NotFound -> consistencyStore.Clear, DeleteExpectations
    memory = with_expectation(add=2)
    result = RSC.reconcile(make_view(), KEY, memory)
    assert result.requests == () and KEY not in result.memory.expectations.records


# --- victim ranking (controller_utils.go ActivePodsWithRanks.Less) -------------------------


@dataclass(frozen=True)
class RestartStatus:
    """A stand-in PodStatus with container statuses, which the model's PodStatus lacks."""

    phase: str = "Running"
    conditions: tuple = ()
    container_statuses: tuple = ()
    init_container_statuses: tuple = ()


@dataclass(frozen=True)
class ContainerStatus:
    name: str
    restart_count: int


def first(pods, related=None, now=1000, logarithmic=True):
    return pods_to_delete(tuple(pods), tuple(related or pods), 1, now, logarithmic)[0].metadata.name


def test_rank_1_unscheduled_before_scheduled():
    assert first([make_pod("a", node="n1"), make_pod("b")]) == "b"


def test_rank_2_pending_before_unknown_before_running():
    pods = [make_pod("r", node="n", phase="Running"), make_pod("u", node="n", phase="Unknown")]
    assert first(pods) == "u"
    assert first([*pods, make_pod("p", node="n", phase="Pending")]) == "p"


def test_rank_3_not_ready_before_ready():
    assert first([make_pod("a", node="n", ready_at=5), make_pod("b", node="n")]) == "b"


def test_rank_4_lower_pod_deletion_cost_first():
    cheap = make_pod("cheap", node="n", annotations=FrozenMap({POD_DELETION_COST: "-5"}))
    dear = make_pod("dear", node="n", annotations=FrozenMap({POD_DELETION_COST: "100"}))
    assert first([dear, cheap]) == "cheap"
    assert [
        deletion_cost(make_pod("x", annotations=FrozenMap({POD_DELETION_COST: v})))
        for v in ("+7", "abc", "2147483648", " 1")
    ] == [7, 0, 0, 0]


def test_rank_5_more_related_pods_on_the_same_node_first():
    # getPodsRankedByRelatedPodsOnSameNode counts active related pods (siblings included)
    a, b = make_pod("a", node="n1"), make_pod("b", node="n2")
    sibling = make_pod("s", node="n2")
    assert first([a, b], related=[a, b, sibling]) == "b"


def test_rank_6_ready_for_less_time_first_in_log_buckets():
    young, old = make_pod("young", node="n", ready_at=990), make_pod("old", node="n", ready_at=500)
    assert first([old, young]) == "young"
    # within one floor(log2(ns)) bucket the uid decides (LogarithmicScaleDown)
    a = make_pod("a", node="n", ready_at=1000 - 600, uid="uid-2")
    b = make_pod("b", node="n", ready_at=1000 - 700, uid="uid-1")
    assert first([a, b]) == "b"
    assert first([a, b], logarithmic=False) == "a"  # without it, the later ready time


def test_rank_7_more_restarts_first():
    calm = replace(
        make_pod("calm", node="n"),
        status=RestartStatus(container_statuses=(ContainerStatus("c", 1),)),
    )
    crashy = replace(
        make_pod("crashy", node="n"),
        status=RestartStatus(container_statuses=(ContainerStatus("c", 9),)),
    )
    assert first([calm, crashy]) == "crashy"


def test_rank_8_newer_first():
    old, new = make_pod("old", node="n", created=10), make_pod("new", node="n", created=900)
    assert first([old, new]) == "new"


def test_no_ranking_when_all_go():
    # upstream: getPodsToDelete sorts only if diff < len(filteredPods)
    pods = (make_pod("a", node="n"), make_pod("b"))
    assert [p.metadata.name for p in pods_to_delete(pods, pods, 2, 0)] == ["a", "b"]


# --- claims (controller_ref_manager.go) ----------------------------------------------------


def cluster_api(*objects):
    api = API
    stored = []
    for obj in objects:
        api, r = handle(api, Request(ADMIN, "create", obj.RESOURCE, "default", body=obj))
        assert r.ok, r
        stored.append(r.object)
    return api, stored


def test_an_orphan_is_adopted_after_a_live_recheck_and_then_counted():
    # upstream: ClaimPods adopts a matching orphan (CanAdopt: uncached GET, same uid, not
    # being deleted) with a patch; the adopted pod counts toward replicas
    api, (rs, orphan) = cluster_api(
        make_rs(replicas=1, uid="", resource_version=""), make_pod("orphan", uid="", rv="")
    )
    view = make_view([rs], [orphan], api=api)
    result = RSC.reconcile(view, KEY, Memory())
    assert verbs(result) == [("update", "pods")]
    body = result.requests[0].request.body
    assert body.metadata.controller_ref().uid == rs.metadata.uid
    api2, response = handle(
        api, replace(result.requests[0].request, user="system:kube-controller-manager")
    )
    assert response.ok
    after = RSC.on_response(
        result.memory, result.requests[0], response, make_view([rs], [orphan], api=api2)
    )
    status = after.requests[0].request.body.status  # no creation: the adopted pod counts
    assert verbs(after) == [("update", "replicasets/status")] and status.replicas == 1


@pytest.mark.parametrize("why", ["deleting", "recreated"])
def test_no_adoption_when_the_live_replicaset_is_being_deleted_or_recreated(why):
    # upstream: RecheckDeletionTimestamp and the uid check of the fresh GET
    api, (rs, orphan) = cluster_api(
        make_rs(uid="", resource_version=""), make_pod("o", uid="", rv="")
    )
    cached = rs
    if why == "recreated":
        cached = replace(rs, metadata=replace(rs.metadata, uid="uid-old"))
    else:
        api, _ = handle(
            api,
            Request(
                ADMIN,
                "update",
                "replicasets",
                "default",
                "web",
                body=replace(rs, metadata=replace(rs.metadata, finalizers=("x",))),
            ),
        )
        api, _ = handle(api, Request(ADMIN, "delete", "replicasets", "default", "web"))
    result = RSC.reconcile(make_view([cached], [orphan], api=api), KEY, Memory())
    assert result.requests == () and result.requeue == (KEY,)


def test_an_owned_pod_whose_labels_no_longer_match_is_released():
    # upstream: ClaimObject: owned, selector does not match, owner not deleting -> release
    api, (rs,) = cluster_api(make_rs(uid="", resource_version=""))
    api, (pod,) = cluster_api_in(
        api, make_pod("p", rs, labels=FrozenMap(app="other"), uid="", rv="")
    )
    result = RSC.reconcile(make_view([rs], [pod], api=api), KEY, Memory())
    assert verbs(result) == [("update", "pods")]
    assert result.requests[0].request.body.metadata.owner_references == ()
    deleting = replace(rs, metadata=replace(rs.metadata, deletion_timestamp=1))
    kept = RSC.reconcile(make_view([deleting], [pod], api=api), KEY, Memory())
    assert ("update", "pods") not in verbs(kept)  # no release while being deleted


def cluster_api_in(api, *objects):
    stored = []
    for obj in objects:
        api, r = handle(api, Request(ADMIN, "create", obj.RESOURCE, "default", body=obj))
        assert r.ok, r
        stored.append(r.object)
    return api, stored


def test_pods_of_another_owner_and_terminating_orphans_are_left_alone():
    # upstream: ClaimObject ignores others' pods and orphans being deleted
    rs = make_rs(replicas=0)
    theirs = make_pod("theirs", make_rs(uid="other"))
    dying = make_pod("dying", deletion_timestamp=9, phase="Running")
    result = RSC.reconcile(make_view([rs], [theirs, dying]), KEY, Memory())
    assert verbs(result) == [("update", "replicasets/status")]
    assert result.requests[0].request.body.status.replicas == 0


# --- status (replica_set_utils.go) ---------------------------------------------------------


def test_status_counts_labeled_ready_and_available_after_min_ready_seconds():
    # upstream: calculateStatus; IsPodAvailable: ready and lastTransitionTime + mrs < now
    rs = make_rs(mrs=10, labels=APP)
    pods = (
        make_pod("a", rs, ready_at=0),
        make_pod("b", rs, ready_at=90),  # 90 + 10 is not < 100
        make_pod("c", rs, labels=FrozenMap(app="web", extra="x")),
        make_pod("d", rs, labels=EMPTY),
    )
    status = calculate_status(rs, pods, "", now=100)
    assert (
        status.replicas,
        status.fully_labeled_replicas,
        status.ready_replicas,
        status.available_replicas,
    ) == (4, 3, 2, 1)


def test_the_status_write_sets_observed_generation_and_requeues_for_availability():
    # upstream: updateReplicaSetStatus sets ObservedGeneration; a ready but not yet available
    # pod requeues the key when it will be (FindMinNextPodAvailabilityCheck)
    rs = make_rs(replicas=1, mrs=10, generation=4)
    pod = make_pod("a", rs, ready_at=95)
    view = make_view([rs], [pod], now=100)
    result = RSC.reconcile(view, KEY, Memory())
    body = result.requests[0].request.body
    assert body.status.observed_generation == 4 and body.status.ready_replicas == 1
    done = RSC.on_response(
        result.memory,
        result.requests[0],
        ok(replace(body, metadata=replace(body.metadata, resource_version="20"))),
        view,
    )
    assert done.after == ((KEY, 6),) and KEY not in done.memory.syncs


def test_an_unchanged_status_is_not_written():
    # upstream: updateReplicaSetStatus returns early when nothing changed
    rs = make_rs(
        replicas=1,
        status=ReplicaSetStatus(replicas=1, fully_labeled_replicas=1, observed_generation=1),
    )
    result = RSC.reconcile(make_view([rs], [make_pod("a", rs)]), KEY, Memory())
    assert result.requests == () and result.memory.syncs == EMPTY


def test_a_conflicting_status_write_is_retried_once_on_the_live_object():
    # upstream: updateReplicaSetStatus: on error GET the ReplicaSet and try again (1 retry)
    api, (rs,) = cluster_api(make_rs(replicas=0, uid="", resource_version=""))
    stale = replace(rs, metadata=replace(rs.metadata, resource_version="1"))
    view = make_view([stale], [], api=api)
    result = RSC.reconcile(view, KEY, Memory())
    retry = RSC.on_response(result.memory, result.requests[0], fail(409, "conflict"), view)
    assert retry.requests[0].request.body.metadata.resource_version == rs.metadata.resource_version
    assert retry.requests[0].tag == ("status", 1)
    gave_up = RSC.on_response(retry.memory, retry.requests[0], fail(409, "conflict"), view)
    assert gave_up.requeue == (KEY,) and KEY not in gave_up.memory.syncs


# --- the sync as a whole -------------------------------------------------------------------


def test_a_key_enqueued_during_its_sync_waits_and_is_synced_again():
    # upstream: the work queue never hands out a key being processed; it is re-added after
    rs = make_rs(replicas=1)
    view = make_view([rs], [])
    started = RSC.reconcile(view, KEY, Memory())
    again = RSC.reconcile(view, KEY, started.memory)
    assert again.requests == () and again.memory.syncs[KEY].dirty
    created = RSC.on_response(
        again.memory, started.requests[0], ok(make_pod("p", rs, rv="30"), 201), view
    )
    finished = RSC.on_response(
        created.memory, created.requests[0], ok(created.requests[0].request.body), view
    )
    assert finished.requeue == (KEY,)


def test_stale_cache_guard_holds_the_sync_until_the_informer_saw_the_own_writes():
    # upstream (1.36, KEP-5647): consistencyStore.WroteAt on each pod write and the status
    # write; syncReplicaSet first calls EnsureReady and requeues while the cache is behind
    rs = make_rs(replicas=1)
    view = make_view([rs], [], revisions=FrozenMap(replicasets=5, pods=5))
    started = RSC.reconcile(view, KEY, Memory())
    created = RSC.on_response(
        started.memory, started.requests[0], ok(make_pod("p", rs, rv="30"), 201), view
    )
    memory = RSC.on_response(created.memory, created.requests[0], fail(500), view).memory
    assert memory.written[KEY].versions == FrozenMap(pods=30)
    held = RSC.reconcile(view, KEY, memory)
    assert held.requests == () and held.requeue == (KEY,)
    caught_up = make_view([rs], [], revisions=FrozenMap(replicasets=5, pods=30), now=301)
    go = RSC.reconcile(caught_up, KEY, memory)
    assert KEY not in go.memory.written and go.requests  # record cleared; the sync runs
    off = ReplicaSetController(stale_cache_guard=False).reconcile(view, KEY, memory)
    assert off.requeue == ()


def test_turning_expectations_off_turns_the_stale_cache_guard_off():
    # the guard (1.36) came long after expectations; the pre-expectations path has neither
    assert not ReplicaSetController(expectations=False).stale_cache_guard
    assert ReplicaSetController().stale_cache_guard


def test_listing_before_checking_expectations_creates_an_extra_pod():
    # upstream #8138: pods listed, then a creation observed, then expectations checked:
    # satisfied expectations with a list that lacks the new pod
    rs = make_rs(replicas=1)
    pod = make_pod("p", rs)
    memory = with_expectation(add=1)  # one creation in flight
    racy = ReplicaSetController(expectations_before_list=False, stale_cache_guard=False)
    first_half = racy.reconcile(make_view([rs], []), KEY, memory)
    assert first_half.requests == () and first_half.requeue == (KEY,)
    seen = make_view([rs], [pod])
    memory = racy.observe(first_half.memory, Delta("pods", "ADDED", pod), seen)
    assert verbs(racy.reconcile(seen, KEY, memory)) == [("create", "pods")]
    # checked before listing, the same interleaving creates nothing
    fixed = ReplicaSetController(stale_cache_guard=False)
    assert ("create", "pods") not in verbs(
        fixed.reconcile(make_view([rs], []), KEY, with_expectation(add=1))
    )


# --- in the cluster ------------------------------------------------------------------------


def start(controller=RSC, replicas=3):
    rs = make_rs(replicas=replicas, uid="", resource_version="", generation=0)
    client = Request(ADMIN, "create", "replicasets", "default", body=rs)
    return initial_state([controller], api_state(default_users()), [client])


def run(state, limit=500):
    journal = []
    for _ in range(limit):
        actions = enabled(state, NO_FAULTS)
        if not actions:
            return state, journal
        state, entries = transition(state, actions[0])
        journal += entries
    raise AssertionError("the run did not settle")


def stored_pods(state):
    from kubeproof.model.apiserver import etcd

    r = etcd.range_(state.api.store, "/registry/pods/", etcd.prefix_end("/registry/pods/"))
    return [kv.value for kv in r.kvs]


def test_in_the_cluster_a_replicaset_of_three_gets_exactly_three_pods():
    state, journal = run(start())
    rs = read(state.api.store, "replicasets", "default", "web")
    pods = stored_pods(state)
    assert len(pods) == 3
    assert all(p.metadata.controller_ref().uid == rs.metadata.uid for p in pods)
    assert rs.status.replicas == 3 and rs.status.observed_generation == rs.metadata.generation
    creates = [
        e
        for e in journal
        if e.actor == "replicaset" and e.verb == "create" and e.resource == "pods"
    ]
    assert len(creates) == 3 and all(e.code == 201 for e in creates)


def sync_without_pod_events(state):
    """The ReplicaSet is created, listed (its ADDED enqueues it), synced, and every request
    sent; the pod informer delivers nothing."""
    name = "replicaset"
    for action in (
        ClientRequest(),
        Relist(name, "replicasets"),
        Relist(name, "pods"),
        Reconcile(name, KEY),
    ):
        state, _ = transition(state, action)
    while state.components[name].outbox:
        state, _ = transition(state, Send(name))
    return state


def test_without_expectations_a_lagging_pod_informer_makes_extra_pods():
    # the bug expectations fix: a second sync before the pods' ADDED events arrive sees
    # none of the pods just created and creates them again
    name = "replicaset"
    state = sync_without_pod_events(start(ReplicaSetController(expectations=False)))
    assert len(stored_pods(state)) == 3
    state, _ = transition(state, Deliver(name, "replicasets"))  # the status write's event
    state, _ = transition(state, Reconcile(name, KEY))
    while state.components[name].outbox:
        state, _ = transition(state, Send(name))
    assert len(stored_pods(state)) == 6


def test_with_expectations_the_same_interleaving_makes_no_extra_pod():
    name = "replicaset"
    for controller in (RSC, ReplicaSetController(stale_cache_guard=False)):
        state = sync_without_pod_events(start(controller))
        state, _ = transition(state, Deliver(name, "replicasets"))
        state, _ = transition(state, Reconcile(name, KEY))
        while state.components[name].outbox:
            state, _ = transition(state, Send(name))
        assert len(stored_pods(state)) == 3
        state, _ = run(state)
        assert len(stored_pods(state)) == 3
        assert read(state.api.store, "replicasets", "default", "web").status.replicas == 3
