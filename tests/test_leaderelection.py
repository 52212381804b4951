"""Leader election around a controller: acquire, renew, lose, hand over, overlap.

upstream: staging/src/k8s.io/client-go/tools/leaderelection/leaderelection.go and
resourcelock/leaselock.go; each test names the behaviour it checks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from kubeproof.model import cluster
from kubeproof.model.apiserver.server import (
    Request,
    Response,
    Status,
    default_users,
    handle,
    initial_state,
    read,
)
from kubeproof.model.controllers.leaderelection import (
    Election,
    InnerTag,
    LeaderElected,
    LeaderMemory,
    LeaseWrite,
)
from kubeproof.model.controllers.protocol import Delta, Outgoing, Reconciled, View
from kubeproof.model.objects import (
    Container,
    FrozenMap,
    Lease,
    LeaseSpec,
    ObjectMeta,
    Pod,
    PodSpec,
    object_key,
)

ADMIN = "kubernetes-admin"
KCM = "system:kube-controller-manager"
API = initial_state(default_users())


@dataclass(frozen=True)
class StandInLabeler:
    """A stand-in controller (not a real kube-controller-manager controller): it labels every
    pod it sees ``seen=yes``; its memory counts the reconciles it ran."""

    name: str = "labeler"
    identity: str = KCM
    process: str = "kube-controller-manager"
    resources: tuple[str, ...] = ("pods",)

    def initial_memory(self):
        return 0

    def keys(self, delta, view):
        return () if delta.type == "DELETED" else (delta.key,)

    def observe(self, memory, delta, view):
        return memory

    def reconcile(self, view, key, memory):
        pod = view.get("pods", key)
        if pod is None or pod.metadata.labels.get("seen") == "yes":
            return Reconciled(memory + 1)
        labelled = replace(pod, metadata=replace(pod.metadata, labels=FrozenMap(seen="yes")))
        ns, name = key.split("/")
        request = Request(KCM, "update", "pods", ns, name, body=labelled)
        return Reconciled(memory + 1, (Outgoing(request, key, "label"),))

    def on_response(self, memory, sent, response, view):
        return Reconciled(memory)


A, B = LeaderElected(StandInLabeler(), "a"), LeaderElected(StandInLabeler(), "b")
KEY = A.election_key


def lease(holder: str, renew: int, rv: str = "7", transitions: int = 0) -> Lease:
    spec = LeaseSpec(holder, 15, 0, renew, transitions)
    return Lease(ObjectMeta("kube-controller-manager", "kube-system", resource_version=rv), spec)


def api_with(obj) -> object:
    api, response = handle(API, Request(ADMIN, "create", obj.RESOURCE, "kube-system", body=obj))
    assert response.ok, response
    return api


def view(now: int, api=API, pods=()) -> View:
    caches = FrozenMap(pods=FrozenMap((object_key(p), p) for p in pods))
    return View("labeler-a", now, caches, api)


def new_pod(name: str) -> Pod:
    return Pod(
        ObjectMeta(name=name, namespace="default"), PodSpec(containers=(Container("c", "x"),))
    )


# --- the election on hand-built views ----------------------------------------------------------


def test_rbac_lets_the_controller_manager_and_scheduler_use_their_leases():
    # upstream: bootstrappolicy: create leases; get/update the lease named after the component
    for user, name in (
        (KCM, "kube-controller-manager"),
        ("system:kube-scheduler", "kube-scheduler"),
    ):
        body = Lease(ObjectMeta(name, "kube-system"), LeaseSpec("x", 15, 0, 0, 0))
        api, created = handle(API, Request(user, "create", "leases", "kube-system", body=body))
        _, got = handle(api, Request(user, "get", "leases", "kube-system", name))
        update = Request(user, "update", "leases", "kube-system", name, body=got.object)
        _, updated = handle(api, update)
        assert (created.code, got.code, updated.code) == (201, 200, 200)


def test_a_candidate_creates_the_lease_when_there_is_none():
    # upstream: tryAcquireOrRenew step 2: Get NotFound -> Create
    result = A.reconcile(view(0), KEY, A.initial_memory())
    (sent,) = result.requests
    assert (sent.request.verb, sent.request.resource) == ("create", "leases")
    assert sent.request.body.spec == LeaseSpec("kube-controller-manager-a", 15, 0, 0, 0)
    assert result.every == ((KEY, 2),)


def test_a_held_lease_is_taken_only_after_the_candidates_own_observation_expires():
    # upstream: isLeaseValid counts from observedTime (local clock), not from renewTime
    api = api_with(lease("kube-controller-manager-b", renew=0))
    first = A.reconcile(view(100, api), KEY, A.initial_memory())
    assert first.requests == ()  # renewTime 0 is long past, but A saw the record just now
    assert first.memory.election.observed_time == 100
    assert A.reconcile(view(114, api), KEY, first.memory).requests == ()
    taken = A.reconcile(view(115, api), KEY, first.memory)
    (sent,) = taken.requests
    stored = read(api.store, "leases", "kube-system", "kube-controller-manager")
    assert sent.request.verb == "update"
    assert sent.request.body.metadata.resource_version == stored.metadata.resource_version
    assert sent.request.body.spec.holder_identity == "kube-controller-manager-a"
    assert sent.request.body.spec.lease_transitions == 1


def _leading(now: int = 0) -> LeaderMemory:
    """A after a successful create at ``now``."""
    result = A.reconcile(view(now), KEY, A.initial_memory())
    (sent,) = result.requests
    body = replace(
        sent.request.body, metadata=replace(sent.request.body.metadata, resource_version="5")
    )
    return A.on_response(result.memory, sent, Response(201, body), view(now)).memory


def test_keys_wait_until_the_instance_leads_and_are_then_requeued():
    # upstream: the controllers start in OnStartedLeading; informers fill the queue meanwhile
    memory = A.reconcile(view(0), "default/p", A.initial_memory()).memory
    assert memory.election.waiting == ("default/p",) and memory.inner == 0
    result = A.reconcile(view(0), KEY, memory)
    (sent,) = result.requests
    started = A.on_response(result.memory, sent, Response(201, sent.request.body), view(1))
    assert started.memory.election.leading and started.memory.election.term == 1
    assert started.requeue == ("default/p",)
    p = new_pod("p")
    acted = A.reconcile(
        view(1, pods=[replace(p, metadata=replace(p.metadata, namespace="default"))]),
        "default/p",
        started.memory,
    )
    assert acted.memory.inner == 1
    assert acted.requests[0].tag == InnerTag(1, "label")


def test_observe_reaches_the_inner_controller_in_every_instance():
    # upstream: kube-scheduler runs informers and event handlers before leader election
    @dataclass(frozen=True)
    class Counting(StandInLabeler):
        def observe(self, memory, delta, view):
            return memory + 1

    elected = LeaderElected(Counting(), "a")
    memory = elected.observe(
        elected.initial_memory(), Delta("pods", "ADDED", new_pod("p")), view(0)
    )
    assert memory.inner == 1 and not memory.election.leading


def test_the_leader_renews_on_the_fast_path_with_the_last_written_object():
    # upstream: tryAcquireOrRenew step 1: Update without Get while the lease is valid
    memory = _leading(0)
    result = A.reconcile(view(2), KEY, memory)
    (sent,) = result.requests
    assert sent.tag.kind == "renew" and sent.request.verb == "update"
    assert sent.request.body.metadata.resource_version == "5"
    assert sent.request.body.spec.renew_time == 2 and sent.request.body.spec.acquire_time == 0
    assert result.memory.election.deadline == 12  # renewDeadline from the round's start


def test_a_failed_fast_path_falls_back_to_get_and_update():
    # upstream: "Failed to update lock optimistically ... falling back to slow path"
    api = api_with(lease("kube-controller-manager-a", renew=0, rv="9"))
    memory = _leading(0)
    result = A.reconcile(view(2, api), KEY, memory)
    (sent,) = result.requests
    conflict = Response(409, Status(409, "Conflict", "modified"))
    fallback = A.on_response(result.memory, sent, conflict, view(2, api))
    (again,) = fallback.requests
    stored = read(api.store, "leases", "kube-system", "kube-controller-manager")
    assert again.tag.kind == "update"
    assert again.request.body.metadata.resource_version == stored.metadata.resource_version


def test_a_renew_round_past_the_deadline_stops_leading_and_starts_over():
    # upstream: renew: PollImmediateUntil times out after renewDeadline -> OnStoppedLeading
    # (the process exits; here its inner memory is rebuilt and its keys wait)
    memory = _leading(0)
    pending = A.reconcile(view(2), KEY, memory).memory  # the renew write never returns
    assert A.reconcile(view(4), KEY, pending).memory.election.leading
    p = new_pod("p")
    stopped = A.reconcile(view(12, pods=[p]), KEY, pending).memory
    assert not stopped.election.leading and stopped.election.record is None
    assert stopped.election.waiting == ("default/p",)
    assert stopped.election.term == 1  # kept: responses from the old term are dropped
    old = Outgoing(Request(KCM, "update", "pods", "default", "p"), "default/p", InnerTag(1, "x"))
    assert A.on_response(stopped, old, Response(200), view(12)).memory == stopped
    late = Outgoing(Request(KCM, "update", "leases"), KEY, pending.election.pending)
    assert A.on_response(stopped, late, Response(200), view(13)).memory == stopped


def test_an_unknown_outcome_is_a_failed_attempt():
    # upstream: a Create/Update error makes tryAcquireOrRenew return false
    result = A.reconcile(view(0), KEY, A.initial_memory())
    (sent,) = result.requests
    timeout = Response(504, Status(504, "Timeout", "unknown"))
    memory = A.on_response(result.memory, sent, timeout, view(1)).memory
    assert memory.election == Election()


@pytest.mark.parametrize("field", ["name", "process", "holder"])
def test_instance_names(field):
    assert getattr(A, field).endswith("-a") and getattr(B, field).endswith("-b")
    assert A.resources == ("pods",) and A.identity == KCM
    assert isinstance(LeaseWrite("create", LeaseSpec()), LeaseWrite)


# --- in the cluster ----------------------------------------------------------------------------


def _elections(state):
    return {n: c.memory.election for n, c in state.components.items() if c.running}


def run(state, steps: int, allow=lambda action: True, check=lambda state: None):
    journal = []
    for _ in range(steps):
        actions = [a for a in cluster.enabled(state) if allow(a)]
        if not actions:
            break
        state, entries = cluster.transition(state, actions[0])
        journal.extend(entries)
        check(state)
    return state, journal


def _one_leader_at_most(state):
    assert sum(e.leading for e in _elections(state).values()) <= 1


def _pod_updates(journal):
    return [
        (e.actor, e.key, e.code) for e in journal if e.action == "send" and e.resource == "pods"
    ]


def _lease_of(state) -> Lease:
    return read(state.api.store, "leases", "kube-system", "kube-controller-manager")


def test_cluster_only_one_instance_acts_in_a_normal_run():
    # upstream: the lease admits one holder while every instance renews or retries in time
    clients = [Request(ADMIN, "create", "pods", "default", body=new_pod(n)) for n in ("p1", "p2")]
    state = cluster.initial_state((A, B), API, clients)
    state, journal = run(state, 400, check=_one_leader_at_most)
    updates = _pod_updates(journal)
    assert sorted(k for _, k, _ in updates) == ["default/p1", "default/p2"]
    assert {actor for actor, _, _ in updates} == {"labeler-a"}
    assert _elections(state)["labeler-a"].leading and not _elections(state)["labeler-b"].leading
    assert _lease_of(state).spec.holder_identity == "kube-controller-manager-a"
    assert _lease_of(state).spec.renew_time > 30  # renewed all along


def test_cluster_a_crashed_leaders_lease_is_taken_over_after_it_expires():
    # upstream: a new leader acquires only after leaseDuration of an unchanged record
    state = cluster.initial_state((A, B), API)
    state, _ = run(state, 60, check=_one_leader_at_most)
    assert _elections(state)["labeler-a"].leading
    last_renew = _lease_of(state).spec.renew_time
    state = cluster.step(state, cluster.Crash("kube-controller-manager-a"))
    state = replace(
        state, clients=(Request(ADMIN, "create", "pods", "default", body=new_pod("late")),)
    )
    state, journal = run(
        state, 300, allow=lambda a: not isinstance(a, cluster.Restart), check=_one_leader_at_most
    )
    spec = _lease_of(state).spec
    assert spec.holder_identity == "kube-controller-manager-b" and spec.lease_transitions == 1
    assert spec.acquire_time >= last_renew + 15
    assert _pod_updates(journal) == [("labeler-b", "default/late", 200)]


def test_cluster_a_paused_leader_overlaps_with_its_successor():
    # upstream: leaderelection.go "does not guarantee that only one client is acting as a
    # leader (a.k.a. fencing)": A's renew loop is paused past its lease, B takes over, and A
    # still believes it leads
    state = cluster.initial_state((A, B), API)
    state, _ = run(state, 60)
    assert _elections(state)["labeler-a"].leading

    def a_is_paused(action):
        return getattr(action, "component", None) != "labeler-a"

    state, _ = run(state, 300, allow=a_is_paused)
    elections = _elections(state)
    assert elections["labeler-a"].leading and elections["labeler-b"].leading
    assert _lease_of(state).spec.holder_identity == "kube-controller-manager-b"
    # both act on a new pod before either sees the other's write
    request = Request(ADMIN, "create", "pods", "default", body=new_pod("both"))
    state = cluster.step(replace(state, clients=(request,)), cluster.ClientRequest())
    journal = []
    for action in (
        cluster.Deliver("labeler-a", "pods"),
        cluster.Deliver("labeler-b", "pods"),
        cluster.Reconcile("labeler-a", "default/both"),
        cluster.Reconcile("labeler-b", "default/both"),
        cluster.Send("labeler-a"),
        cluster.Send("labeler-b"),
    ):
        state, entries = cluster.transition(state, action)
        journal.extend(entries)
    assert _pod_updates(journal) == [
        ("labeler-a", "default/both", 200),
        ("labeler-b", "default/both", 409),
    ]


def test_cluster_two_scheduler_instances_bind_each_pod_once():
    # upstream: kube-scheduler --leader-elect: the queue fills in both, only the leader binds
    from kubeproof.model.controllers.scheduler import Scheduler
    from kubeproof.model.objects import Node, NodeStatus
    from kubeproof.model.quantity import parse_quantity

    allocatable = FrozenMap(cpu=parse_quantity("2"), pods=parse_quantity("110"))
    nodes = [
        Node(ObjectMeta(name=f"n{i}"), status=NodeStatus(allocatable=allocatable)) for i in (1, 2)
    ]
    clients = [Request(ADMIN, "create", "nodes", body=n) for n in nodes] + [
        Request(ADMIN, "create", "pods", "default", body=new_pod(f"p{i}")) for i in (1, 2, 3)
    ]
    one, two = LeaderElected(Scheduler(), "a"), LeaderElected(Scheduler(), "b")
    assert one.lease_key == "kube-system/kube-scheduler"
    state = cluster.initial_state((one, two), API, clients)
    state, journal = run(state, 400, check=_one_leader_at_most)
    binders = {e.actor for e in journal if e.resource == "pods/binding"}
    assert binders == {"scheduler-a"}
    assert all(read(state.api.store, "pods", "default", f"p{i}").spec.node_name for i in (1, 2, 3))
    waiting = state.components["scheduler-b"].memory
    assert not waiting.election.leading and "schedule" in waiting.election.waiting
