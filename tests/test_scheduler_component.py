"""The scheduler as a cluster component: its queue, cycle, assume/bind/forget, and a run.

Each test names the upstream behaviour it checks (pkg/scheduler/schedule_one.go,
backend/queue/scheduling_queue.go, backend/cache/cache.go, eventhandlers.go).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from kubeproof.model import cluster
from kubeproof.model.apiserver.server import (
    Binding,
    Request,
    Response,
    Status,
    default_users,
    handle,
    initial_state,
    read,
)
from kubeproof.model.controllers import schedulingqueue as sq
from kubeproof.model.controllers.protocol import Delta, Outgoing, Reconciled, View
from kubeproof.model.controllers.scheduler import (
    NO_NODES,
    SCHEDULE,
    Assumed,
    BindTag,
    Scheduler,
    SchedulerMemory,
)
from kubeproof.model.objects import (
    EMPTY,
    Condition,
    Container,
    FrozenMap,
    Node,
    NodeSpec,
    NodeStatus,
    ObjectMeta,
    Pod,
    PodSpec,
    Taint,
    object_key,
)
from kubeproof.model.quantity import parse_quantity

API = initial_state(default_users())
ADMIN = "kubernetes-admin"


def node(name: str, cpu: str = "2", *, taints=(), labels=EMPTY, rv: str = "1") -> Node:
    allocatable = FrozenMap(
        cpu=parse_quantity(cpu), memory=parse_quantity("4Gi"), pods=parse_quantity("110")
    )
    return Node(
        ObjectMeta(name=name, labels=labels, resource_version=rv),
        NodeSpec(taints=tuple(taints)),
        NodeStatus(capacity=allocatable, allocatable=allocatable),
    )


def pod(name: str, cpu: str = "100m", *, priority: int = 0, node_name: str = "", rv="1") -> Pod:
    container = Container("c", "nginx", requests=FrozenMap(cpu=parse_quantity(cpu)))
    return Pod(
        ObjectMeta(name=name, namespace="default", uid=f"uid-{name}", resource_version=rv),
        PodSpec(
            containers=(container,),
            node_name=node_name,
            priority=priority,
            scheduler_name="default-scheduler",
        ),
    )


def view(pods=(), nodes=(), now: int = 0) -> View:
    caches = FrozenMap(
        pods=FrozenMap((object_key(p), p) for p in pods),
        nodes=FrozenMap((n.metadata.name, n) for n in nodes),
    )
    return View("scheduler", now, caches, API)


def added(memory, scheduler, pods, v):
    for p in pods:
        memory = scheduler.observe(memory, Delta("pods", "ADDED", p), v)
    return memory


def bind_targets(result: Reconciled) -> list[tuple[str, str]]:
    return [
        (o.key, o.request.body.target_node)
        for o in result.requests
        if o.request.subresource == "binding"
    ]


def status_writes(result: Reconciled) -> list[Condition]:
    return [
        next(c for c in o.request.body.status.conditions if c.type == "PodScheduled")
        for o in result.requests
        if o.request.subresource == "status"
    ]


# --- the queue -------------------------------------------------------------------------------


def test_backoff_doubles_from_one_second_up_to_ten():
    # upstream: scheduling_queue.go calculateBackoffDuration (podInitialBackoffDuration 1s,
    # podMaxBackoffDuration 10s)
    assert [sq.backoff_duration(a) for a in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_active_queue_pops_higher_priority_first_then_earlier_arrival():
    # upstream: queuesort/priority_sort.go Less
    s = Scheduler()
    pods = [pod("low-1"), pod("high", priority=10), pod("low-2")]
    v = view(pods, [node("n1", cpu="8")])
    memory = added(s.initial_memory(), s, pods, v)
    order = []
    for _ in pods:
        result = s.reconcile(v, SCHEDULE, memory)
        memory = result.memory
        order += [key for key, _ in bind_targets(result)]
    assert order == ["default/high", "default/low-1", "default/low-2"]


def test_schedule_key_is_requeued_while_active_pods_remain():
    # upstream: ScheduleOne runs in a loop while activeQ has pods
    s = Scheduler()
    pods = [pod("a"), pod("b")]
    v = view(pods, [node("n1")])
    result = s.reconcile(v, SCHEDULE, added(s.initial_memory(), s, pods, v))
    assert result.requeue == (SCHEDULE,)
    assert s.reconcile(v, SCHEDULE, result.memory).requeue == ()


def test_unschedulable_pod_gets_podscheduled_false_with_the_fit_error_and_waits():
    # upstream: schedule_one.go handleSchedulingFailure (reason Unschedulable, FitError message),
    # AddUnschedulableIfNotPresent -> unschedulablePods; leftover flush after 5 minutes
    s = Scheduler()
    big = pod("big", cpu="5")
    v = view([big], [node("n1"), node("n2")])
    result = s.reconcile(v, SCHEDULE, added(s.initial_memory(), s, [big], v))
    assert bind_targets(result) == []
    (condition,) = status_writes(result)
    assert (condition.status, condition.reason) == ("False", "Unschedulable")
    assert condition.message == "0/2 nodes are available: 2 Insufficient cpu."
    queued = result.memory.queue.pods["default/big"]
    assert queued.pool == sq.UNSCHEDULABLE
    assert queued.rejectors == frozenset({"NodeResourcesFit"})
    assert result.requeue == () and result.after == ()
    assert result.every == ((SCHEDULE, 300),)


def _unschedulable(s: Scheduler, cpu: str = "5", nodes=None):
    big = pod("big", cpu=cpu)
    nodes = nodes if nodes is not None else [node("n1")]
    v = view([big], nodes)
    result = s.reconcile(v, SCHEDULE, added(s.initial_memory(), s, [big], v))
    assert result.memory.queue.pods["default/big"].pool == sq.UNSCHEDULABLE
    return big, result.memory


def test_node_add_moves_an_unschedulable_pod_through_backoff_and_schedules_it():
    # upstream: eventhandlers.go addNodeToCache -> MoveAllToActiveOrBackoffQueue(NodeAdd); a pod
    # still backing off goes to backoffQ; flushBackoffQCompleted
    s = Scheduler()
    big, memory = _unschedulable(s)
    roomy = node("n9", cpu="8")
    v = view([big], [node("n1"), roomy], now=0)
    delta = Delta("nodes", "ADDED", roomy)
    assert s.keys(delta, v) == (SCHEDULE,)
    memory = s.observe(memory, delta, v)
    assert memory.queue.pods["default/big"].pool == sq.BACKOFF
    early = s.reconcile(v, SCHEDULE, memory)
    assert bind_targets(early) == [] and early.after == ((SCHEDULE, 1),)
    later = s.reconcile(replace(v, now=1), SCHEDULE, early.memory)
    assert bind_targets(later) == [("default/big", "n9")]


def test_status_only_update_of_an_unschedulable_pod_does_not_move_it():
    # upstream: PriorityQueue.Update / isPodUpdated ignores status (our own PodScheduled write)
    s = Scheduler()
    big, memory = _unschedulable(s)
    condition = Condition("PodScheduled", "False", "Unschedulable", "0/1 nodes")
    new = replace(big, status=replace(big.status, conditions=(condition,)))
    new = replace(new, metadata=replace(new.metadata, resource_version="2"))
    memory = s.observe(memory, Delta("pods", "MODIFIED", new, big), view([new], [node("n1")]))
    assert memory.queue.pods["default/big"].pool == sq.UNSCHEDULABLE


def test_node_heartbeat_moves_nothing_but_a_removed_taint_does():
    # upstream: NodeSchedulingPropertiesChange: conditions alone are no event; UpdateNodeTaint
    s = Scheduler()
    tainted = node("n1", cpu="8", taints=(Taint("dedicated", "NoSchedule", "x"),))
    p, memory = _unschedulable(s, cpu="1", nodes=[tainted])
    assert memory.queue.pods["default/big"].rejectors == frozenset({"TaintToleration"})
    beat = replace(
        tainted, status=replace(tainted.status, conditions=(Condition("Ready", "True"),))
    )
    v = view([p], [beat])
    delta = Delta("nodes", "MODIFIED", beat, tainted)
    assert s.keys(delta, v) == ()
    assert s.observe(memory, delta, v).queue.pods["default/big"].pool == sq.UNSCHEDULABLE
    clean = replace(tainted, spec=NodeSpec())
    moved = s.observe(memory, Delta("nodes", "MODIFIED", clean, tainted), view([p], [clean]))
    assert moved.queue.pods["default/big"].pool == sq.BACKOFF


def test_an_event_no_rejecting_plugin_registered_leaves_the_pod_unschedulable():
    # upstream: isPodWorthRequeuing: NodeResourcesFit does not register UpdateNodeLabel
    s = Scheduler()
    p, memory = _unschedulable(s)
    old = node("n1")
    relabelled = replace(old, metadata=replace(old.metadata, labels=FrozenMap(zone="a")))
    delta = Delta("nodes", "MODIFIED", relabelled, old)
    memory = s.observe(memory, delta, view([p], [relabelled]))
    assert memory.queue.pods["default/big"].pool == sq.UNSCHEDULABLE


def test_assigned_pod_delete_moves_a_pod_rejected_for_resources():
    # upstream: deleteAssignedPodFromCache -> MoveAllToActiveOrBackoffQueue(AssignedPodDelete)
    s = Scheduler()
    p, memory = _unschedulable(s)
    gone = pod("old", node_name="n1")
    delta = Delta("pods", "DELETED", gone)
    assert s.keys(delta, view([p], [node("n1")])) == (SCHEDULE,)
    memory = s.observe(memory, delta, view([p], [node("n1")], now=5))
    assert memory.queue.pods["default/big"].pool == sq.ACTIVE  # backoff (1 s) is over at 5


def test_leftover_flush_retries_an_unschedulable_pod_after_five_minutes():
    # upstream: flushUnschedulablePodsLeftover, podMaxInUnschedulablePodsDuration 5 min
    s = Scheduler()
    p, memory = _unschedulable(s)
    v = view([p], [node("n1")], now=299)
    assert s.reconcile(v, SCHEDULE, memory).memory == memory
    retried = s.reconcile(replace(v, now=300), SCHEDULE, memory)
    assert retried.memory.queue.pods["default/big"].attempts == 2
    assert status_writes(retried) == [
        Condition(
            "PodScheduled", "False", "Unschedulable", "0/1 nodes are available: 1 Insufficient cpu."
        )
    ]


def test_condition_is_not_rewritten_when_unchanged():
    # upstream: updatePod: no patch when UpdatePodCondition reports no change
    s = Scheduler()
    message = "0/1 nodes are available: 1 Insufficient cpu."
    big = pod("big", cpu="5")
    marked = replace(
        big,
        status=replace(
            big.status, conditions=(Condition("PodScheduled", "False", "Unschedulable", message),)
        ),
    )
    v = view([marked], [node("n1")])
    result = s.reconcile(v, SCHEDULE, added(s.initial_memory(), s, [marked], v))
    assert status_writes(result) == []


def test_no_nodes_goes_to_backoff_with_upstreams_message():
    # upstream: schedulePod ErrNoNodesAvailable; no rejector plugins -> queueAfterBackoff
    s = Scheduler()
    p = pod("p")
    v = view([p], [])
    result = s.reconcile(v, SCHEDULE, added(s.initial_memory(), s, [p], v))
    assert [c.message for c in status_writes(result)] == [NO_NODES]
    assert result.memory.queue.pods["default/p"].pool == sq.BACKOFF
    assert result.after == ((SCHEDULE, 1),)


def test_gated_pod_waits_until_its_gates_are_removed():
    # upstream: SchedulingGates PreEnqueue; PriorityQueue.Update of a gated pod
    s = Scheduler()
    gated = pod("g")
    gated = replace(gated, spec=replace(gated.spec, scheduling_gates=("example.com/wait",)))
    v = view([gated], [node("n1")])
    memory = added(s.initial_memory(), s, [gated], v)
    assert s.reconcile(v, SCHEDULE, memory).requests == ()
    open_ = replace(gated, spec=replace(gated.spec, scheduling_gates=()))
    open_ = replace(open_, metadata=replace(open_.metadata, resource_version="2"))
    memory = s.observe(memory, Delta("pods", "MODIFIED", open_, gated), view([open_], [node("n1")]))
    assert bind_targets(s.reconcile(view([open_], [node("n1")]), SCHEDULE, memory)) == [
        ("default/g", "n1")
    ]


# --- the cycle and the cache -----------------------------------------------------------------


def test_skips_a_pod_being_deleted():
    # upstream: skipPodSchedule case 1
    s = Scheduler()
    p = pod("p")
    dying = replace(p, metadata=replace(p.metadata, deletion_timestamp=3))
    v = view([dying], [node("n1")])
    memory = added(s.initial_memory(), s, [p], v)
    result = s.reconcile(v, SCHEDULE, memory)
    assert result.requests == () and "default/p" not in result.memory.queue.pods


@pytest.mark.parametrize("assume", [True, False])
def test_the_next_cycle_sees_an_assumed_pod_only_when_assuming(assume):
    # upstream: schedule_one.go assume + cache.go AssumePod; without it (#38503's family) the
    # second pod is placed on a node that fits one
    s = Scheduler(assume=assume)
    pods = [pod("a", cpu="1500m"), pod("b", cpu="1500m")]
    v = view(pods, [node("n1", cpu="2")])
    first = s.reconcile(v, SCHEDULE, added(s.initial_memory(), s, pods, v))
    second = s.reconcile(v, SCHEDULE, first.memory)
    assert bind_targets(first) == [("default/a", "n1")]
    if assume:
        assert sorted(first.memory.assumed) == ["default/a"]
        assert bind_targets(second) == []
        assert status_writes(second)[0].message == "0/1 nodes are available: 1 Insufficient cpu."
    else:
        assert bind_targets(second) == [("default/b", "n1")]


def test_binding_carries_the_pods_uid():
    # upstream: DefaultBinder.Bind: the Binding's ObjectMeta has the pod's UID (a precondition)
    s = Scheduler()
    p = pod("p")
    v = view([p], [node("n1")])
    (sent,) = s.reconcile(v, SCHEDULE, added(s.initial_memory(), s, [p], v)).requests
    assert sent.request.preconditions.uid == "uid-p"
    assert (sent.request.verb, sent.request.subresource) == ("create", "binding")


def _bound(s: Scheduler):
    p = pod("p")
    v = view([p], [node("n1")])
    result = s.reconcile(v, SCHEDULE, added(s.initial_memory(), s, [p], v))
    return p, result.memory, result.requests[0]


def test_bind_success_finishes_binding_and_the_informer_turns_assumed_into_added():
    # upstream: finishBinding (cache FinishBinding), addAssignedPodToCache (Assumed -> Added)
    s = Scheduler()
    p, memory, sent = _bound(s)
    memory = s.on_response(memory, sent, Response(201), view([p], [node("n1")])).memory
    assert memory.assumed["default/p"].binding_finished
    bound = replace(p, spec=replace(p.spec, node_name="n1"))
    memory = s.observe(memory, Delta("pods", "MODIFIED", bound, p), view([bound], [node("n1")]))
    assert memory.assumed == EMPTY and memory.queue.pods == EMPTY


def test_bind_failure_forgets_the_pod_backs_it_off_and_reports_a_scheduler_error():
    # upstream: handleBindingCycleError: ForgetPod, FailureHandler (error -> backoffQ),
    # PodScheduled=False reason SchedulerError
    s = Scheduler()
    p, memory, sent = _bound(s)
    conflict = Response(409, Status(409, "Conflict", "the object has been modified"))
    result = s.on_response(memory, sent, conflict, view([p], [node("n1")], now=4))
    assert result.memory.assumed == EMPTY
    queued = result.memory.queue.pods["default/p"]
    assert (queued.pool, queued.failed_at, queued.attempts) == (sq.BACKOFF, 4, 1)
    assert [(c.reason, c.message) for c in status_writes(result)] == [
        ("SchedulerError", "the object has been modified")
    ]


def test_bind_failure_of_a_pod_the_informer_shows_bound_drops_it():
    # upstream: handleSchedulingFailure: "Pod has been assigned to node. Abort adding it back"
    s = Scheduler()
    p, memory, sent = _bound(s)
    bound = replace(p, spec=replace(p.spec, node_name="n2"))
    conflict = Response(409, Status(409, "Conflict", 'pod p is already assigned to node "n2"'))
    result = s.on_response(memory, sent, conflict, view([bound], [node("n1")]))
    assert result.memory.queue.pods == EMPTY and result.memory.assumed == EMPTY


def test_deleting_an_assumed_pod_forgets_it():
    # upstream: eventhandlers.go handleAssumedPodDeletion
    s = Scheduler()
    p, memory, _ = _bound(s)
    assert "default/p" in memory.assumed
    memory = s.observe(memory, Delta("pods", "DELETED", p), view([], [node("n1")]))
    assert memory.assumed == EMPTY


def test_snapshot_includes_assumed_pods_once():
    # upstream: cache.go UpdateSnapshot: assumed pods count on their node until Added
    s = Scheduler()
    a = pod("a", node_name="n1")
    b = replace(pod("b"), spec=replace(pod("b").spec, node_name="n1"))
    assumed = FrozenMap({"default/a": Assumed(a), "default/b": Assumed(b)})
    snapshot = s.snapshot(view([a, pod("b")], [node("n1")]), assumed)
    assert sorted(p.metadata.name for p in snapshot.node("n1").pods) == ["a", "b"]


def test_responses_to_status_writes_change_nothing():
    s = Scheduler()
    memory = SchedulerMemory()
    sent = Outgoing(Request(ADMIN, "update", "pods", "default", "p"), "default/p", None)
    assert s.on_response(memory, sent, Response(409), view()).memory == memory
    assert isinstance(BindTag("n1", sq.QueuedPod(sq.ACTIVE)), BindTag)


# --- in the cluster --------------------------------------------------------------------------


@dataclass(frozen=True)
class StandInNodeRegistrar:
    """A stand-in for the kubelets (not the project's kubelet): once it sees the default
    namespace, it registers the given Nodes."""

    nodes: tuple[Node, ...]
    name: str = "stand-in-node-registrar"
    identity: str = ADMIN
    process: str = "stand-in-node-registrar"
    resources: tuple[str, ...] = ("namespaces", "nodes")

    def initial_memory(self):
        return False

    def keys(self, delta, view):
        return ("register",) if delta.resource == "namespaces" and delta.key == "default" else ()

    def observe(self, memory, delta, view):
        return memory

    def reconcile(self, view, key, memory):
        if memory:
            return Reconciled(memory)
        requests = tuple(
            Outgoing(Request(ADMIN, "create", "nodes", body=n), n.metadata.name)
            for n in self.nodes
            if view.get("nodes", n.metadata.name) is None
        )
        return Reconciled(True, requests)

    def on_response(self, memory, sent, response, view):
        return Reconciled(memory)


def _fresh(n: Node) -> Node:
    return replace(n, metadata=ObjectMeta(name=n.metadata.name, labels=n.metadata.labels))


def _new_pod(name: str, cpu: str = "100m") -> Pod:
    p = pod(name, cpu)
    return replace(p, metadata=ObjectMeta(name=name, namespace="default"))


def create(obj) -> Request:
    return Request(ADMIN, "create", obj.RESOURCE, obj.metadata.namespace, body=obj)


def run(state, steps: int = 500, allow=lambda action: True):
    for _ in range(steps):
        actions = [a for a in cluster.enabled(state) if allow(a)]
        if not actions:
            return state
        state = cluster.step(state, actions[0])
    return state


def live_pod(state, name: str) -> Pod:
    return read(state.api.store, "pods", "default", name)


def test_cluster_binds_three_pods_spread_over_three_nodes():
    # upstream: the default profile's scores (NodeResourcesFit LeastAllocated,
    # BalancedAllocation) spread equal pods over equal nodes
    nodes = tuple(_fresh(node(f"n{i}")) for i in (1, 2, 3))
    components = (Scheduler(), StandInNodeRegistrar(nodes))
    clients = [create(_new_pod(f"web-{i}")) for i in (1, 2, 3)]
    state = run(cluster.initial_state(components, API, clients))
    assert cluster.enabled(state) == ()
    placed = {live_pod(state, f"web-{i}").spec.node_name for i in (1, 2, 3)}
    assert placed == {"n1", "n2", "n3"}
    assert state.components["scheduler"].memory.assumed == EMPTY


def test_cluster_unschedulable_pod_is_marked_and_retried_when_a_node_is_added():
    # upstream: handleSchedulingFailure's PodScheduled=False, then NodeAdd moves the pod
    nodes = tuple(_fresh(node(f"n{i}")) for i in (1, 2, 3))
    components = (Scheduler(), StandInNodeRegistrar(nodes))
    state = run(cluster.initial_state(components, API))  # the nodes are registered
    state = replace(state, clients=(create(_new_pod("big", cpu="5")),))
    state = run(state, allow=lambda a: not isinstance(a, cluster.Tick))
    (condition,) = live_pod(state, "big").status.conditions
    assert (condition.type, condition.status, condition.reason) == (
        "PodScheduled",
        "False",
        "Unschedulable",
    )
    assert condition.message == "0/3 nodes are available: 3 Insufficient cpu."
    assert not live_pod(state, "big").spec.node_name
    state = replace(state, clients=(create(_fresh(node("n4", cpu="8"))),))
    state = run(state, steps=200)
    assert live_pod(state, "big").spec.node_name == "n4"


def test_cluster_without_assume_binds_two_pods_to_a_node_that_fits_one():
    # kubernetes#38503's family: two cycles before the first binding is seen
    components = (Scheduler(assume=False), StandInNodeRegistrar((_fresh(node("n1", cpu="2")),)))
    clients = [create(_new_pod(n, cpu="1500m")) for n in ("a", "b")]
    state = run(
        cluster.initial_state(components, API, clients),
        allow=lambda a: (
            not isinstance(a, cluster.Reconcile | cluster.Send) or a.component != "scheduler"
        ),
    )
    assert state.components["scheduler"].queue == (SCHEDULE,)
    state = cluster.step(state, cluster.Reconcile("scheduler", SCHEDULE))
    state = cluster.step(state, cluster.Reconcile("scheduler", SCHEDULE))
    state = cluster.step(state, cluster.Send("scheduler"))
    state = cluster.step(state, cluster.Send("scheduler"))
    assert live_pod(state, "a").spec.node_name == live_pod(state, "b").spec.node_name == "n1"


def test_cluster_with_assume_the_same_interleaving_keeps_the_second_pod_pending():
    components = (Scheduler(), StandInNodeRegistrar((_fresh(node("n1", cpu="2")),)))
    clients = [create(_new_pod(n, cpu="1500m")) for n in ("a", "b")]
    state = run(
        cluster.initial_state(components, API, clients),
        allow=lambda a: (
            not isinstance(a, cluster.Reconcile | cluster.Send) or a.component != "scheduler"
        ),
    )
    state = cluster.step(state, cluster.Reconcile("scheduler", SCHEDULE))
    state = cluster.step(state, cluster.Reconcile("scheduler", SCHEDULE))
    state = cluster.step(state, cluster.Send("scheduler"))
    state = cluster.step(state, cluster.Send("scheduler"))
    assert live_pod(state, "a").spec.node_name == "n1"
    assert not live_pod(state, "b").spec.node_name


def test_cluster_crash_before_the_bind_is_sent_loses_it_and_restart_reschedules():
    # upstream: a restart rebuilds the cache from a LIST; assumed pods and the bind are lost
    components = (Scheduler(), StandInNodeRegistrar((_fresh(node("n1")),)))
    state = run(
        cluster.initial_state(components, API, [create(_new_pod("p"))]),
        allow=lambda a: not isinstance(a, cluster.Send) or a.component != "scheduler",
    )
    assert state.components["scheduler"].outbox
    state = cluster.step(state, cluster.Crash("kube-scheduler"))
    state = cluster.step(state, cluster.Restart("kube-scheduler"))
    assert state.components["scheduler"].memory == SchedulerMemory()
    state = run(state)
    assert live_pod(state, "p").spec.node_name == "n1"


def test_admin_can_create_the_pods_used_here():
    _, response = handle(API, create(_new_pod("x")))
    assert response.code == 201
    assert Binding("n1").target_node == "n1"
