"""The node lifecycle controller (health, NoExecute taints, zones, MarkPodsNotReady) and the
taint eviction controller, on hand-built views and in the composed cluster with a stand-in
kubelet that renews its Lease until its node fails.

Each unit test names the upstream behaviour it checks (pkg/controller/nodelifecycle,
pkg/controller/tainteviction).
"""

from __future__ import annotations

import doctest
from dataclasses import dataclass, replace

import pytest

from kubeproof.model.apiserver.rbac import CONTROLLER_MANAGER, authorize, kubelet_name
from kubeproof.model.apiserver.rbac import default_users as rbac_users
from kubeproof.model.apiserver.server import Request, Response, default_users, handle, read
from kubeproof.model.apiserver.server import initial_state as api_state
from kubeproof.model.cluster import Crash, Restart, enabled, initial_state, transition
from kubeproof.model.controllers import nodelifecycle, tainteviction
from kubeproof.model.controllers.informer import Informer, relist
from kubeproof.model.controllers.nodelifecycle import (
    CONDITION_TAINTS,
    MONITOR,
    NOT_READY_TAINT,
    UNREACHABLE_TAINT,
    UNSCHEDULABLE_TAINT,
    NLCMemory,
    NodeHealth,
    NodeLifecycleController,
    compute_zone_state,
    mark_pods_not_ready,
    no_schedule_diff,
    no_schedule_taints,
    node_health,
    zone_key,
)
from kubeproof.model.controllers.protocol import Delta, Outgoing, Reconciled, View
from kubeproof.model.controllers.tainteviction import (
    EVICT,
    Scheduled,
    TaintEvictionController,
    TaintEvictionMemory,
    matching_tolerations,
    min_toleration_seconds,
)
from kubeproof.model.objects import (
    Condition,
    Container,
    FrozenMap,
    Lease,
    LeaseSpec,
    Node,
    NodeSpec,
    NodeStatus,
    ObjectMeta,
    Pod,
    PodSpec,
    Taint,
    Toleration,
)

ADMIN = "kubernetes-admin"
NLC = NodeLifecycleController()
TE = TaintEvictionController()
READY = Condition("Ready", "True", last_transition_time=0)
FOREVER = Toleration(UNREACHABLE_TAINT.key, "Exists", "", "NoExecute", None)


# --- fixtures ------------------------------------------------------------------------------


def node(name: str, ready: str | None = "True", taints=(), zone: str = "") -> Node:
    conditions = () if ready is None else (Condition("Ready", ready, last_transition_time=0),)
    labels = FrozenMap({"topology.kubernetes.io/zone": zone} if zone else {})
    return Node(
        ObjectMeta(name=name, labels=labels),
        NodeSpec(taints=tuple(taints)),
        NodeStatus(conditions=conditions),
    )


def pod(name: str, node_name: str, tolerations=(), ready: bool = True) -> Pod:
    spec = PodSpec((Container("c", "nginx"),), node_name=node_name, tolerations=tolerations)
    return Pod(ObjectMeta(name=name, namespace="default"), spec)


def cluster_api(nodes=(), pods=(), leases=()):
    """An api-server holding the objects, created by the admin (pods with Ready=True)."""
    api = api_state(default_users(nodes=[n.metadata.name for n in nodes]))
    for obj in (*nodes, *leases):
        resource = type(obj).RESOURCE
        api, r = handle(api, Request(ADMIN, "create", resource, obj.metadata.namespace, body=obj))
        assert r.code == 201, r
    for p in pods:
        api, r = handle(api, Request(ADMIN, "create", "pods", "default", body=p))
        assert r.code == 201, r
        running = replace(
            r.object, status=replace(r.object.status, phase="Running", conditions=(READY,))
        )
        request = Request(ADMIN, "update", "pods", "default", p.metadata.name, "status", running)
        api, r = handle(api, request)
        assert r.ok, r
    return api


def view_of(api, now: int, controller=NLC) -> View:
    caches = FrozenMap((r, relist(Informer(r), api)[0].cache) for r in controller.resources)
    return View(controller.name, now, caches, replace(api, now=now))


def lease(name: str, renew: int) -> Lease:
    return Lease(
        ObjectMeta(name=name, namespace="kube-node-lease"),
        LeaseSpec(holder_identity=name, lease_duration_seconds=40, renew_time=renew),
    )


def sent_taints(outgoing: Outgoing) -> tuple[str, ...]:
    return tuple(t.key for t in outgoing.request.body.spec.taints)


def test_module_examples():
    assert doctest.testmod(nodelifecycle).failed == 0
    assert doctest.testmod(tainteviction).failed == 0


# --- health --------------------------------------------------------------------------------


def test_a_node_is_unknown_once_the_grace_period_passes_without_a_heartbeat():
    """tryUpdateNodeHealth: now > probeTimestamp + nodeMonitorGracePeriod (50 s) -> Ready,
    MemoryPressure, DiskPressure, PIDPressure set Unknown ("Kubelet stopped posting node
    status."); not a second earlier."""
    n = node("n1")
    health, *_ = node_health(NLC, 10, n, None, None)
    assert health.probe_timestamp == 10
    _, _, current, update = node_health(NLC, 60, n, health, None)
    assert update is None and current.status == "True"
    _, observed, current, update = node_health(NLC, 61, n, health, None)
    assert observed.status == "True" and current.status == "Unknown"
    assert current.message == "Kubelet stopped posting node status."
    assert current.last_transition_time == 61
    assert [c.status for c in update.status.conditions] == ["Unknown"] * 4
    assert update.status.conditions[1].reason == "NodeStatusNeverUpdated"


def test_a_renewed_lease_is_a_heartbeat():
    """tryUpdateNodeHealth: a Lease whose renewTime moved updates probeTimestamp; one that did
    not move does not."""
    n = node("n1")
    health, *_ = node_health(NLC, 0, n, None, lease("n1", 0))
    health, *_ = node_health(NLC, 40, n, health, lease("n1", 40))
    assert health.probe_timestamp == 40
    health, _, _, update = node_health(NLC, 89, n, health, lease("n1", 40))
    assert health.probe_timestamp == 40 and update is None
    _, _, _, update = node_health(NLC, 91, n, health, lease("n1", 40))
    assert update is not None


def test_a_node_that_never_posted_status_gets_the_startup_grace_period():
    """tryUpdateNodeHealth: no Ready condition -> probe from creationTimestamp, grace
    nodeStartupGracePeriod (60 s), conditions added as NodeStatusNeverUpdated."""
    n = node("n1", ready=None)
    n = replace(n, metadata=replace(n.metadata, creation_timestamp=0))
    health, *_ = node_health(NLC, 30, n, None, None)
    assert health.probe_timestamp == 0
    assert node_health(NLC, 60, n, health, None)[3] is None
    _, observed, current, update = node_health(NLC, 61, n, health, None)
    assert observed.status == "Unknown" and current.reason == "NodeStatusNeverUpdated"
    assert update is not None


def test_the_controllers_own_write_is_not_a_heartbeat():
    """Upstream keeps lastHeartbeatTime when it writes Unknown, so seeing its own write (or the
    stale copy it replaced) does not refresh the probe; the kubelet posting Ready again does."""
    n = node("n1")
    health, *_ = node_health(NLC, 0, n, None, None)
    health, _, written, update = node_health(NLC, 51, n, health, None)
    health, *_ = node_health(NLC, 56, n, health, None)  # the cache still shows True
    assert health.probe_timestamp == 0
    health, observed, _, again = node_health(NLC, 61, update, health, None)  # our write seen
    assert health.probe_timestamp == 0 and observed == written and again is None
    back = replace(n, status=NodeStatus(conditions=(Condition("Ready", "True", "", "", 70),)))
    health, *_ = node_health(NLC, 71, back, health, None)
    assert health.probe_timestamp == 71 and health.ready_transition_timestamp == 71


# --- taints --------------------------------------------------------------------------------


def test_an_unknown_node_is_tainted_unreachable_on_the_next_pass():
    """processTaintBaseEviction acts on the Ready condition observed *before* the pass: the pass
    that writes Unknown taints nothing; the next one queues the node, and the tainting pass
    adds node.kubernetes.io/unreachable:NoExecute with timeAdded."""
    first = NLC.reconcile(
        view_of(cluster_api(nodes=(node("n1"), node("n2"))), 0), MONITOR, NLCMemory()
    )
    # n2's kubelet renewed its lease at 50; n1's never did
    api = cluster_api(nodes=(node("n1"), node("n2")), leases=(lease("n2", 50),))
    later = NLC.reconcile(view_of(api, 51), MONITOR, first.memory)
    (status,) = later.requests
    assert status.request.subresource == "status" and status.request.name == "n1"
    api, r = handle(api, status.request)
    assert r.ok
    after = NLC.reconcile(view_of(api, 56), MONITOR, later.memory)
    (taint,) = after.requests
    assert sent_taints(taint) == (UNREACHABLE_TAINT.key,)
    assert taint.request.body.spec.taints[0].time_added == 56
    assert after.every == ((MONITOR, 5),)


def test_the_opposite_taint_is_swapped_at_once():
    """processTaintBaseEviction: Ready=False on a node tainted unreachable -> swapped for
    not-ready in one write, not rate limited."""
    tainted = node("n1", ready="False", taints=(UNREACHABLE_TAINT,))
    api = cluster_api(nodes=(tainted, node("n2")))
    memory = NLCMemory(known=("n1", "n2"), next_token=FrozenMap({"": 10**6}))
    result = NLC.reconcile(view_of(api, 0), MONITOR, memory)
    (swap,) = result.requests
    assert sent_taints(swap) == (NOT_READY_TAINT.key,)


def test_a_ready_node_loses_both_taints():
    """markNodeAsReachable: Ready=True -> the unreachable and not-ready taints removed."""
    other = Taint("example.com/keep", "NoSchedule")
    tainted = node("n1", taints=(UNREACHABLE_TAINT, other))
    api = cluster_api(nodes=(tainted,))
    result = NLC.reconcile(view_of(api, 0), MONITOR, NLCMemory(known=("n1",)))
    (untaint,) = result.requests
    assert sent_taints(untaint) == ("example.com/keep",)


def test_tainting_is_rate_limited_per_zone():
    """doNoExecuteTaintingPass: the zone's token bucket (0.1 node/s, burst 1) taints one node,
    the next one 10 s later."""
    nodes = [node(f"n{i}", ready="Unknown") for i in range(3)] + [node(f"r{i}") for i in range(7)]
    api = cluster_api(nodes=nodes)
    memory = NLCMemory(known=tuple(sorted(n.metadata.name for n in nodes)))
    first = NLC.reconcile(view_of(api, 0), MONITOR, memory)
    assert [o.request.name for o in first.requests] == ["n0"]
    api, r = handle(api, first.requests[0].request)
    assert r.ok, r
    second = NLC.reconcile(view_of(api, 5), MONITOR, first.memory)
    assert second.requests == ()
    third = NLC.reconcile(view_of(api, 10), MONITOR, second.memory)
    assert [o.request.name for o in third.requests] == ["n1"]


def test_zone_state():
    """ComputeZoneState: no ready node -> FullDisruption; more than 2 not ready and at least
    55% -> PartialDisruption; else Normal."""
    up, down = READY, Condition("Ready", "Unknown")
    assert compute_zone_state([down, None], 0.55) == (2, "FullDisruption")
    assert compute_zone_state([down, down, down, up, up], 0.55) == (3, "PartialDisruption")
    assert compute_zone_state([down, down, up], 0.55) == (2, "Normal")
    assert zone_key(node("n", zone="a")) == ":\x00:a" and zone_key(node("n")) == ""


def test_a_partly_disrupted_small_zone_is_not_tainted():
    """setLimiterInZone / ReducedQPSFunc: PartialDisruption in a zone of at most 50 nodes stops
    tainting."""
    nodes = [node(f"n{i}", ready="Unknown") for i in range(3)] + [node("r0")]
    api = cluster_api(nodes=nodes)
    memory = NLCMemory(known=tuple(sorted(n.metadata.name for n in nodes)))
    result = NLC.reconcile(view_of(api, 0), MONITOR, memory)
    assert result.requests == ()
    assert result.memory.zone_states == FrozenMap({"": "PartialDisruption"})
    assert result.memory.taint_queue[""] == ("n0", "n1", "n2")


def test_every_zone_fully_disrupted_stops_tainting_and_removes_the_taints():
    """handleDisruption: all zones FullDisruption -> master disruption mode: every node marked
    reachable (NoExecute taints removed) and the limiters stopped (#24200)."""
    nodes = [node("n0", ready="Unknown", taints=(UNREACHABLE_TAINT,)), node("n1", ready="False")]
    api = cluster_api(nodes=nodes)
    result = NLC.reconcile(view_of(api, 0), MONITOR, NLCMemory(known=("n0", "n1")))
    assert [(o.request.name, sent_taints(o)) for o in result.requests] == [("n0", ())]
    assert result.memory.zone_states == FrozenMap({"": "FullDisruption"})
    # and while every zone stays fully disrupted, nothing is tainted (only status is written)
    again = NLC.reconcile(view_of(api, 100), MONITOR, result.memory)
    assert again.requests and all(o.request.subresource == "status" for o in again.requests)


def test_leaving_master_disruption_restarts_every_probe():
    """handleDisruption: exiting master disruption mode sets every node's probe and transition
    timestamps to now."""
    api = cluster_api(nodes=(node("n0"),))
    memory = NLCMemory(
        known=("n0",),
        health=FrozenMap(n0=NodeHealth(0, 0, READY)),
        zone_states=FrozenMap({"": "FullDisruption"}),
    )
    result = NLC.reconcile(view_of(api, 30), MONITOR, memory)
    assert result.memory.health["n0"].probe_timestamp == 30
    assert result.memory.zone_states == FrozenMap({"": "Normal"})


# --- NoSchedule taints (TaintNodesByCondition) ---------------------------------------------

HEALTHY = {"Ready": "True", "MemoryPressure": "False", "DiskPressure": "False"}
HEALTHY |= {"PIDPressure": "False", "NetworkUnavailable": "False"}


def with_conditions(n: Node, **statuses: str) -> Node:
    """The node with these condition statuses (the others healthy)."""
    wanted = HEALTHY | statuses
    conditions = tuple(Condition(k, v, last_transition_time=0) for k, v in wanted.items())
    return replace(n, status=replace(n.status, conditions=conditions))


def no_schedule_pass(n: Node, now: int = 7) -> tuple[Outgoing, ...]:
    view = view_of(cluster_api(nodes=(n,)), now)
    return NLC.reconcile(view, "node:" + n.metadata.name, NLCMemory(armed=True)).requests


@pytest.mark.parametrize(("kind", "status"), sorted(CONDITION_TAINTS))
def test_each_condition_adds_its_no_schedule_taint(kind, status):
    """doNoScheduleTaintingPass / nodeConditionToTaintKeyStatusMap: Ready False -> not-ready,
    Ready Unknown -> unreachable, MemoryPressure, DiskPressure, PIDPressure and
    NetworkUnavailable True -> their node.kubernetes.io key; effect NoSchedule, timeAdded now
    (SwapNodeControllerTaint); the node's other taints kept."""
    keep = Taint("example.com/keep", "NoSchedule")
    n = with_conditions(node("n1", taints=(keep,)), **{kind: status})
    (write,) = no_schedule_pass(n)
    assert write.request.verb == "update" and write.request.subresource == ""
    assert write.request.body.spec.taints == (
        keep,
        Taint(CONDITION_TAINTS[(kind, status)], "NoSchedule", time_added=7),
    )
    assert write.tag == ("noschedule", "n1")


@pytest.mark.parametrize(("kind", "status"), sorted(CONDITION_TAINTS))
def test_each_no_schedule_taint_goes_when_its_condition_does(kind, status):
    """TaintSetDiff: a NoSchedule taint of a condition key whose condition no longer calls for
    it is removed; a NoExecute taint of the same key (the NoExecute pass's) and foreign
    NoSchedule taints stay."""
    key = CONDITION_TAINTS[(kind, status)]
    keep = (Taint("example.com/keep", "NoSchedule"), Taint(key, "NoExecute"))
    n = with_conditions(node("n1", taints=(Taint(key, "NoSchedule"), *keep)))
    (write,) = no_schedule_pass(n)
    assert write.request.body.spec.taints == keep
    # and a node in step is left alone
    assert no_schedule_pass(with_conditions(node("n1", taints=keep))) == ()


def test_ready_flipping_swaps_the_no_schedule_twins_in_one_write():
    """Ready False -> Unknown: not-ready:NoSchedule removed and unreachable:NoSchedule added
    (upstream: one SwapNodeControllerTaint)."""
    n = with_conditions(
        node("n1", taints=(Taint(NOT_READY_TAINT.key, "NoSchedule"),)), Ready="Unknown"
    )
    (write,) = no_schedule_pass(n)
    assert write.request.body.spec.taints == (
        Taint(UNREACHABLE_TAINT.key, "NoSchedule", time_added=7),
    )


def test_an_unschedulable_node_is_tainted_unschedulable_and_untainted_when_not():
    """doNoScheduleTaintingPass: spec.unschedulable -> node.kubernetes.io/unschedulable:
    NoSchedule added; once it is cleared the taint is removed."""
    cordoned = with_conditions(node("n1"))
    cordoned = replace(cordoned, spec=replace(cordoned.spec, unschedulable=True))
    (write,) = no_schedule_pass(cordoned)
    assert write.request.body.spec.taints == (replace(UNSCHEDULABLE_TAINT, time_added=7),)
    assert no_schedule_pass(write.request.body) == ()  # in step
    uncordoned = with_conditions(node("n1", taints=(UNSCHEDULABLE_TAINT,)))
    (write,) = no_schedule_pass(uncordoned)
    assert write.request.body.spec.taints == ()


def test_conditions_and_unschedulable_together():
    """The wanted set is every mapped condition, in condition order, then unschedulable."""
    n = with_conditions(node("n1"), Ready="False", DiskPressure="True", PIDPressure="True")
    n = replace(n, spec=replace(n.spec, unschedulable=True))
    assert [t.key for t in no_schedule_taints(n)] == [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/disk-pressure",
        "node.kubernetes.io/pid-pressure",
        UNSCHEDULABLE_TAINT.key,
    ]
    add, remove = no_schedule_diff(n)
    assert len(add) == 4 and remove == ()


def test_node_adds_and_updates_queue_the_no_schedule_pass():
    """The node informer's AddFunc and UpdateFunc queue the node (nodeUpdateQueue); a delete
    does not; a node gone from the cache is ignored (lister NotFound)."""
    n = node("n1", ready="False")
    view = view_of(cluster_api(), 0)
    assert NLC.keys(Delta("nodes", "ADDED", n), view) == ("node:n1",)
    assert NLC.keys(Delta("nodes", "MODIFIED", n, n), view) == ("node:n1",)
    assert NLC.keys(Delta("nodes", "DELETED", n, n), view) == ()
    assert NLC.reconcile(view, "node:n1", NLCMemory(armed=True)).requests == ()


def test_a_conflicting_no_schedule_write_is_retried_other_errors_are_not():
    """AddOrUpdateTaintOnNode retries a conflict (RetryOnConflict); other errors are logged
    only (doNodeProcessingPassWorker does not put the node back on the queue)."""
    sent = Outgoing(Request(CONTROLLER_MANAGER, "update", "nodes"), "n1", ("noschedule", "n1"))
    view = view_of(cluster_api(), 0)
    assert NLC.on_response(NLCMemory(), sent, Response(409), view).requeue == ("node:n1",)
    assert NLC.on_response(NLCMemory(), sent, Response(500), view).requeue == ()


# --- pods ----------------------------------------------------------------------------------


def test_pods_are_marked_not_ready_when_their_node_goes_unknown():
    """monitorNodeHealth: current Ready != True and observed == True -> MarkPodsNotReady: the
    Ready condition of each pod on the node set False through pods/status."""
    nodes, pods = (node("n1"), node("n2")), (pod("a", "n1"), pod("b", "n2"))
    first = NLC.reconcile(view_of(cluster_api(nodes, pods), 0), MONITOR, NLCMemory())
    api = cluster_api(nodes, pods, leases=(lease("n2", 50),))  # n2's kubelet is alive
    result = NLC.reconcile(view_of(api, 51), MONITOR, first.memory)
    marked = [o for o in result.requests if o.request.resource == "pods"]
    assert [o.request.name for o in marked] == ["a"]
    assert marked[0].request.subresource == "status"
    assert marked[0].request.body.status.conditions[0].status == "False"


def test_mark_pods_not_ready_skips_pods_already_not_ready():
    """MarkPodsNotReady: UpdatePodCondition reports no change -> no write."""
    p = pod("a", "n1")
    p = replace(p, status=replace(p.status, conditions=(Condition("Ready", "False"),)))
    assert mark_pods_not_ready(5, (p,), "n1") == ()
    assert mark_pods_not_ready(5, (pod("b", "n2"),), "n1") == ()


def test_a_pod_assigned_to_a_not_ready_node_is_marked_not_ready():
    """podUpdated / processPod: a pod newly assigned to a node whose Ready is not True."""
    api = cluster_api(nodes=(node("n1", ready="False"),), pods=(pod("a", "n1"),))
    view = view_of(api, 0)
    a = view.get("pods", "default/a")
    assert NLC.keys(Delta("pods", "ADDED", a), view) == ("pod:default/a",)
    assert NLC.keys(Delta("pods", "MODIFIED", a, a), view) == ()
    memory = NLCMemory(health=FrozenMap(n1=NodeHealth(0, 0, Condition("Ready", "False"))))
    (marked,) = NLC.reconcile(view, "pod:default/a", memory).requests
    assert marked.request.body.status.conditions[0].status == "False"


def test_a_failed_mark_is_retried_on_the_next_pass():
    """nodesToRetry: a MarkPodsNotReady error makes the next pass mark the pods again."""
    sent = Outgoing(Request(CONTROLLER_MANAGER, "update", "pods"), "", ("podNotReady", "n1"))
    view = view_of(cluster_api(), 0)
    assert NLC.on_response(NLCMemory(), sent, Response(409), view).memory.retry == ("n1",)
    assert NLC.on_response(NLCMemory(), sent, Response(404), view).memory.retry == ()


def test_the_monitor_loop_starts_once():
    """Run: monitorNodeHealth every nodeMonitorPeriod (5 s), started once."""
    view = view_of(cluster_api(nodes=(node("n1"),)), 0)
    assert NLC.start_keys == (MONITOR,)
    started = NLC.reconcile(view, "node:n1", NLCMemory())
    assert started.every == ((MONITOR, 0),) and started.memory.armed
    assert NLC.reconcile(view, "node:n1", started.memory).every == ()


def test_the_controller_manager_may_write_what_these_controllers_write():
    """rbac.py: node status, node taints (spec), pod status and pod deletes."""
    cm = rbac_users()[CONTROLLER_MANAGER]
    for verb, resource, sub, ns in [
        ("update", "nodes", "status", ""),
        ("update", "nodes", "", ""),
        ("update", "pods", "status", "default"),
        ("delete", "pods", "", "default"),
        ("update", "replicasets", "", "default"),
        ("delete", "deployments", "", "default"),
    ]:
        assert authorize(cm, verb, resource, sub, ns, "x") is None


# --- taint eviction ------------------------------------------------------------------------

DEFAULT = Toleration(UNREACHABLE_TAINT.key, "Exists", "", "NoExecute", 300)


def test_matching_tolerations_and_min_toleration_time():
    """GetMatchingTolerations (the first toleration of each taint) and getMinTolerationTime
    (<= 0 means at once, none with seconds means forever)."""
    taints = (UNREACHABLE_TAINT,)
    assert matching_tolerations(taints, ()) == (False, ())
    assert matching_tolerations(taints, (FOREVER, DEFAULT)) == (True, (FOREVER,))
    assert min_toleration_seconds((DEFAULT, replace(DEFAULT, toleration_seconds=60))) == 60
    assert min_toleration_seconds((replace(DEFAULT, toleration_seconds=-5),)) == 0
    assert min_toleration_seconds((FOREVER,)) is None


def te_view(now, pods, taints=(UNREACHABLE_TAINT,)):
    api = cluster_api(nodes=(node("n1", ready="Unknown", taints=taints),), pods=pods)
    return view_of(api, now, TE)


def test_an_untolerated_taint_evicts_at_once():
    """processPodOnNode: not all taints tolerated -> delete now (a plain DELETE)."""
    view = te_view(0, (pod("a", "n1", tolerations=()),))
    # DefaultTolerationSeconds gave the pod 300 s; a taint it does not tolerate at all:
    api = view.api
    n1 = read(api.store, "nodes", "", "n1")
    other = replace(n1, spec=replace(n1.spec, taints=(Taint("example.com/x", "NoExecute"),)))
    api, r = handle(api, Request(ADMIN, "update", "nodes", "", "n1", body=other))
    assert r.ok, r
    (evict,) = TE.reconcile(view_of(api, 0, TE), "node:n1", TaintEvictionMemory()).requests
    assert (evict.request.verb, evict.request.name) == ("delete", "a")
    assert evict.request.preconditions is None and evict.request.propagation_policy is None


def test_tolerating_forever_is_never_evicted():
    """processPodOnNode: tolerations without tolerationSeconds -> any scheduled eviction is
    cancelled, none scheduled."""
    view = te_view(0, (pod("a", "n1", tolerations=(FOREVER,)),))
    memory = TaintEvictionMemory(FrozenMap({"default/a": Scheduled(0, 300)}))
    result = TE.reconcile(view, "node:n1", memory)
    assert result.requests == () and result.after == ()
    assert result.memory.scheduled == FrozenMap()


def test_toleration_seconds_schedule_an_eviction_from_first_observation():
    """processPodOnNode: delete at first-observed + min(tolerationSeconds); a later update keeps
    the scheduled work (AddWork skips an existing item)."""
    view = te_view(100, (pod("a", "n1"),))  # the default 300 s tolerations
    result = TE.reconcile(view, "node:n1", TaintEvictionMemory())
    assert result.memory.scheduled == FrozenMap({"default/a": Scheduled(100, 400)})
    assert result.after == ((EVICT + "default/a", 300),) and result.requests == ()
    later = TE.reconcile(te_view(250, (pod("a", "n1"),)), "pod:default/a", result.memory)
    assert later.memory.scheduled == result.memory.scheduled and later.after == ()


def test_the_eviction_fires_when_due_and_only_then():
    """The TimedWorker fires a plain DELETE at fireAt; a timer of cancelled or moved work does
    nothing."""
    memory = TaintEvictionMemory(FrozenMap({"default/a": Scheduled(100, 400)}))
    view = te_view(399, (pod("a", "n1"),))
    assert TE.reconcile(view, EVICT + "default/a", memory).requests == ()
    fired = TE.reconcile(te_view(400, (pod("a", "n1"),)), EVICT + "default/a", memory)
    (delete,) = fired.requests
    assert delete.request.verb == "delete" and fired.memory.scheduled == FrozenMap()
    empty = TaintEvictionMemory()
    assert TE.reconcile(view, EVICT + "default/a", empty).requests == ()


def test_removing_the_taints_or_the_pod_cancels_the_eviction():
    """handleNodeUpdate: no NoExecute taints left -> every eviction on the node cancelled;
    handlePodUpdate: a deleted pod's eviction cancelled."""
    memory = TaintEvictionMemory(FrozenMap({"default/a": Scheduled(0, 300)}))
    untainted = te_view(10, (pod("a", "n1"),), taints=())
    assert TE.reconcile(untainted, "node:n1", memory).memory.scheduled == FrozenMap()
    nothing = te_view(10, ())
    assert TE.reconcile(nothing, "pod:default/a", memory).memory.scheduled == FrozenMap()


def test_a_restart_forgets_the_deadline():
    """The deadline lives in memory: after a restart the pod is first observed again, and its
    eviction moves later (#108268)."""
    before = TE.reconcile(te_view(100, (pod("a", "n1"),)), "node:n1", TE.initial_memory())
    after = TE.reconcile(te_view(200, (pod("a", "n1"),)), "node:n1", TE.initial_memory())
    assert before.memory.scheduled["default/a"].fire_at == 400
    assert after.memory.scheduled["default/a"].fire_at == 500


def test_taint_eviction_keys():
    """NodeUpdated: only NoExecute taint changes; PodUpdated: only tolerations or nodeName."""
    view = te_view(0, (pod("a", "n1"),))
    n1 = view.get("nodes", "n1")  # tainted unreachable:NoExecute
    no_schedule = Taint("x", "NoSchedule")
    more = replace(n1, spec=replace(n1.spec, taints=(*n1.spec.taints, no_schedule)))
    assert TE.keys(Delta("nodes", "MODIFIED", more, n1), view) == ()
    untainted = replace(n1, spec=replace(n1.spec, taints=(no_schedule,)))
    assert TE.keys(Delta("nodes", "MODIFIED", untainted, more), view) == ("node:n1",)
    a = view.get("pods", "default/a")
    running = replace(a, status=replace(a.status, phase="Running"))
    assert TE.keys(Delta("pods", "MODIFIED", running, a), view) == ()
    assert TE.keys(Delta("pods", "DELETED", a), view) == ("pod:default/a",)


def test_a_failed_eviction_is_retried_five_times():
    """deletePodHandler: up to 5 attempts; NotFound ends it."""
    sent = Outgoing(Request(CONTROLLER_MANAGER, "delete", "pods", "default", "a"), "", None)
    view = te_view(0, ())
    memory = TE.initial_memory()
    tagged = replace(sent, tag=("evict", "default/a", 1))
    (again,) = TE.on_response(memory, tagged, Response(500), view).requests
    assert again.tag == ("evict", "default/a", 2)
    assert TE.on_response(memory, replace(sent, tag=("evict", "x/y", 5)), Response(500), view) == (
        Reconciled(memory)
    )
    assert TE.on_response(memory, tagged, Response(404), view).requests == ()


# --- in the cluster ------------------------------------------------------------------------


@dataclass(frozen=True)
class StandInKubelet:
    """A stand-in for the kubelet (not the real one): it only renews its node's Lease every
    10 s (upstream: pkg/kubelet/nodelease, renewInterval 10 s, leaseDuration 40 s)."""

    node: str
    name: str = ""
    identity: str = ""
    process: str = ""
    resources: tuple[str, ...] = ("nodes",)

    @classmethod
    def on(cls, node: str) -> StandInKubelet:
        return cls(node, f"stand-in-kubelet-{node}", kubelet_name(node), f"kubelet-{node}")

    def initial_memory(self):
        return False  # renewing

    def keys(self, delta, view):
        return ("start",) if delta.type == "ADDED" and delta.key == self.node else ()

    def observe(self, memory, delta, view):
        return memory

    def reconcile(self, view, key, memory):
        if key == "start" and memory:
            return Reconciled(memory)
        current = view.live_get("leases", "kube-node-lease", self.node)
        if current is None:
            body = lease(self.node, view.now)
            request = Request(self.identity, "create", "leases", "kube-node-lease", body=body)
        else:
            body = replace(current, spec=replace(current.spec, renew_time=view.now))
            request = Request(
                self.identity, "update", "leases", "kube-node-lease", self.node, body=body
            )
        return Reconciled(True, (Outgoing(request, self.node),), every=(("renew", 10),))

    def on_response(self, memory, sent, response, view):
        assert response.ok, response
        return Reconciled(memory)


def taint_on(n: Node, key: str, effect: str) -> Taint | None:
    return next((t for t in n.spec.taints if t.key == key and t.effect == effect), None)


def test_a_silent_node_is_tainted_and_its_pods_evicted_after_their_toleration():
    """The whole path: node-1's kubelet stops (a node failure) after renewing its Lease; once
    the grace period passes without a renewal the node is set Unknown and its pods not ready,
    on the next pass it is tainted unreachable:NoExecute, and the pod with the default 300 s
    toleration is deleted 300 s after the taint while the one tolerating it forever stays.
    The status write that sets Unknown is a node update, so doNoScheduleTaintingPass taints
    the node unreachable:NoSchedule as soon as the controller sees it, before the NoExecute
    taint. node-2 stays healthy, so its zone is not fully disrupted."""
    api = cluster_api(
        nodes=(node("node-1"), node("node-2")),
        pods=(pod("default-toleration", "node-1"), pod("forever", "node-1", (FOREVER,))),
    )
    kubelets = (StandInKubelet.on("node-1"), StandInKubelet.on("node-2"))
    state = initial_state((NLC, TE, *kubelets), api)
    crashed_at = None
    taint_added = no_schedule = evicted_at = unknown_at = not_ready_at = None
    for _ in range(20_000):
        now = state.api.now
        if crashed_at is None and now >= 25:
            state, _ = transition(state, Crash("kubelet-node-1", node_failure=True))
            crashed_at = now
        actions = [a for a in enabled(state) if not isinstance(a, Restart)]
        state, _ = transition(state, actions[0])
        store = state.api.store
        n1 = read(store, "nodes", "", "node-1")
        ready = next(c for c in n1.status.conditions if c.type == "Ready")
        if unknown_at is None and ready.status == "Unknown":
            unknown_at = state.api.now
        taint_added = taint_added or taint_on(n1, UNREACHABLE_TAINT.key, "NoExecute")
        no_schedule = no_schedule or taint_on(n1, UNREACHABLE_TAINT.key, "NoSchedule")
        p = read(store, "pods", "default", "default-toleration")
        if not_ready_at is None and p.status.conditions[0].status == "False":
            not_ready_at = state.api.now
        if evicted_at is None and p.metadata.deletion_timestamp is not None:
            evicted_at = state.api.now
        if taint_added is not None and state.api.now > taint_added.time_added + 600:
            break
    last_renewal = read(state.api.store, "leases", "kube-node-lease", "node-1").spec.renew_time
    assert last_renewal <= crashed_at
    # Unknown after the 50 s grace period, counted from when the controller observed the last
    # renewal (its first pass after it, within 5 s), on the first pass past it (5 s more)
    assert last_renewal + 50 < unknown_at <= last_renewal + 50 + 2 * NLC.node_monitor_period
    assert not_ready_at == unknown_at
    # tainted on the following pass, from the Ready condition observed then
    assert taint_added.effect == "NoExecute" and taint_added.time_added == unknown_at + 5
    # the NoSchedule twin came first, within the pass interval of the Unknown write
    assert unknown_at <= no_schedule.time_added < taint_added.time_added
    assert evicted_at == taint_added.time_added + 300
    forever = read(state.api.store, "pods", "default", "forever")
    assert forever.metadata.deletion_timestamp is None
    # node-2 kept renewing and stayed Ready and untainted
    n2 = read(state.api.store, "nodes", "", "node-2")
    assert n2.status.conditions[0].status == "True" and n2.spec.taints == ()
