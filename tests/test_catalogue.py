"""The property catalogue: each property on hand-built states, once holding and once violated.

States are built from the journey's fair run (model/run.py) changed through the api-server, or
from small clusters driven step by step; buggy components are the real ones with a switch or a
plugin taken out. Each test names the behaviour it checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import pytest

from kubeproof.model import cluster
from kubeproof.model.apiserver import admission, etcd, server
from kubeproof.model.apiserver.server import Request, default_users, handle, initial_state, read
from kubeproof.model.cluster import ClientRequest, Deliver, Reconcile, Send
from kubeproof.model.controllers.leaderelection import LeaderElected
from kubeproof.model.controllers.protocol import Outgoing, Reconciled
from kubeproof.model.controllers.replicaset import ReplicaSetController
from kubeproof.model.controllers.scheduler import Scheduler
from kubeproof.model.objects import (
    Container,
    FrozenMap,
    LabelSelector,
    Node,
    NodeSpec,
    NodeStatus,
    ObjectMeta,
    Pod,
    PodSpec,
    PodTemplateSpec,
    ReplicaSet,
    ReplicaSetSpec,
    Taint,
)
from kubeproof.model.quantity import parse_quantity
from kubeproof.model.run import run
from kubeproof.model.scenarios import scenario
from kubeproof.model.scheduler.profile import default_profile
from kubeproof.properties import catalogue
from kubeproof.properties.apiserver import (
    NO_FORBIDDEN_REQUEST_SUCCEEDS,
    RESOURCE_VERSIONS_INCREASE,
    WATCH_IN_ORDER,
    refusal,
)
from kubeproof.properties.core import EVENTUALLY, INVARIANT, TRANSITION
from kubeproof.properties.engines import NO_ENDLESS_CYCLE
from kubeproof.properties.eventually import (
    BOUNDED_CREATIONS,
    DEPLOYMENT_CONVERGES,
    PENDING_ONLY_WHEN_UNSCHEDULABLE,
)
from kubeproof.properties.placement import (
    BINDING_RESPECTS_AFFINITY_IN_ETCD,
    BINDING_RESPECTS_TAINTS_IN_ETCD,
    KUBELET_WITHIN_ALLOCATABLE,
    NODE_NAME_NEVER_CHANGES,
    SCHEDULER_RESPECTS_AFFINITY_IN_VIEW,
    SCHEDULER_RESPECTS_TAINTS_IN_VIEW,
)
from kubeproof.properties.reading import stored
from kubeproof.properties.workloads import (
    GC_SPARES_LIVE_OWNERS,
    REPLICASET_WITHIN_REPLICAS,
    REPLICASET_WITHIN_REPLICAS_EVEN_ON_TIMEOUTS,
    ROLLOUT_WITHIN_SURGE,
    ROLLOUT_WITHIN_UNAVAILABLE,
)

ADMIN, KCM = "kubernetes-admin", "system:kube-controller-manager"


# --- building states ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def journey():
    return run(scenario("journey"))


def admin(state, verb, resource, namespace="", name="", body=None, **options):
    """The state after the admin's request, which must succeed."""
    request = Request(ADMIN, verb, resource, namespace, name, body=body, **options)
    api, response = handle(state.api, request)
    assert response.ok, response
    return replace(state, api=api)


def pods(state, namespace="default"):
    prefix = server.prefix_of("pods", namespace)
    found = etcd.range_(state.api.store, prefix, etcd.prefix_end(prefix)).kvs
    return [server.with_rv(kv.value, kv.mod_revision) for kv in found]


def fresh_copy(pod: Pod, name: str) -> Pod:
    """A new pod like ``pod`` (same labels and owner), as its ReplicaSet would create it."""
    meta = replace(pod.metadata, name=name, uid="", resource_version="", creation_timestamp=None)
    return Pod(meta, replace(pod.spec, node_name=""))


def drive(state, stop, limit=400):
    """Take the first enabled action until ``stop(before, action, after)``; that step."""
    for _ in range(limit):
        actions = cluster.enabled(state)
        assert actions, "the cluster went quiet first"
        after = cluster.step(state, actions[0])
        if stop(state, actions[0], after):
            return state, actions[0], after
        state = after
    raise AssertionError("the step never came")


def with_outbox(state, component, request, tag=None):
    c = state.components[component]
    outbox = (*c.outbox, Outgoing(request, f"{request.namespace}/{request.name}", tag))
    return replace(state, components=state.components.set(component, replace(c, outbox=outbox)))


def _node(name, labels=(), taints=()):
    allocatable = FrozenMap(cpu=parse_quantity("2"), pods=parse_quantity("110"))
    return Node(
        ObjectMeta(name=name, labels=FrozenMap(labels)),
        NodeSpec(taints=tuple(taints)),
        NodeStatus(capacity=allocatable, allocatable=allocatable),
    )


def scheduling_cluster(nodes, pod_spec=None, scheduler=None):
    """A scheduler alone, the admin creating ``nodes`` and then pod ``web``."""
    spec = pod_spec or PodSpec(containers=(Container("c", "nginx"),))
    clients = [Request(ADMIN, "create", "nodes", body=n) for n in nodes]
    clients.append(Request(ADMIN, "create", "pods", "default", body=Pod(ObjectMeta("web"), spec)))
    api = initial_state(default_users())
    return cluster.initial_state((scheduler or Scheduler(),), api, clients)


def without_filter(plugin: str) -> Scheduler:
    """A scheduler whose profile lost one filter plugin: a scheduler bug."""
    p = default_profile()
    return Scheduler(profile=replace(p, filters=tuple(f for f in p.filters if f.name != plugin)))


def decided(before, action, after):
    return isinstance(action, Reconcile) and any(
        o.request.subresource == "binding" for o in after.components[action.component].outbox
    )


def sending_binding(before, action, after):
    box = before.components["scheduler"].outbox
    return isinstance(action, Send) and bool(box) and box[0].request.subresource == "binding"


DEDICATED = Taint("dedicated", "NoSchedule", "infra")
SSD = PodSpec(containers=(Container("c", "nginx"),), node_selector=FrozenMap(disktype="ssd"))


# --- the catalogue itself ----------------------------------------------------------------------


def test_every_property_has_a_unique_kebab_case_name_a_statement_and_a_kind():
    names = [p.name for p in catalogue.CATALOGUE]
    assert len(names) == len(set(names))
    for p in catalogue.CATALOGUE:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", p.name), p.name
        assert p.statement and "\n" not in p.statement
        assert p.kind in (INVARIANT, TRANSITION, EVENTUALLY)
        assert p.definition, f"{p.name} states no definition"


def test_the_rollout_bounds_state_upstreams_definitions():
    assert "kubernetes#95498" in ROLLOUT_WITHIN_SURGE.definition
    assert "GetReplicaCountForReplicaSets" in ROLLOUT_WITHIN_SURGE.definition
    assert "did not cause" in ROLLOUT_WITHIN_UNAVAILABLE.definition
    assert "Foreground" in GC_SPARES_LIVE_OWNERS.definition
    assert "upstream behaviour" in BINDING_RESPECTS_TAINTS_IN_ETCD.definition


def test_prop_finds_a_property_by_name_and_refuses_an_unknown_one():
    assert catalogue.prop("pod-node-name-never-changes") is NODE_NAME_NEVER_CHANGES
    with pytest.raises(catalogue.UnknownProperty, match="unknown property 'nope'"):
        catalogue.prop("nope")


def test_the_cycle_property_has_the_name_the_exhaustive_engine_answers_for():
    assert BOUNDED_CREATIONS.name == NO_ENDLESS_CYCLE


# --- the scheduler's view ----------------------------------------------------------------------


def test_a_scheduler_avoids_a_tainted_node_in_its_view():
    state = scheduling_cluster([_node("n1", taints=[DEDICATED]), _node("n2")])
    before, action, after = drive(state, decided)
    assert after.components["scheduler"].outbox[-1].request.body.target_node == "n2"
    assert SCHEDULER_RESPECTS_TAINTS_IN_VIEW.holds_in(before, action, after)


def test_a_scheduler_without_taint_toleration_binds_to_a_tainted_node_in_its_view():
    nodes = [_node("n1", taints=[DEDICATED]), _node("n2", taints=[DEDICATED])]
    state = scheduling_cluster(nodes, scheduler=without_filter("TaintToleration"))
    v = SCHEDULER_RESPECTS_TAINTS_IN_VIEW.check(*drive(state, decided))
    assert v is not None and "default/web" in v.message
    assert dict(v.evidence)["untolerated taints"] == ("dedicated=infra:NoSchedule",)


def test_a_scheduler_binds_a_node_selector_pod_to_a_matching_node():
    state = scheduling_cluster([_node("n1", {"disktype": "ssd"}), _node("n2")], SSD)
    assert SCHEDULER_RESPECTS_AFFINITY_IN_VIEW.holds_in(*drive(state, decided))


def test_a_scheduler_without_node_affinity_ignores_the_node_selector():
    state = scheduling_cluster([_node("n1"), _node("n2")], SSD, without_filter("NodeAffinity"))
    v = SCHEDULER_RESPECTS_AFFINITY_IN_VIEW.check(*drive(state, decided))
    assert v is not None and dict(v.evidence)["nodeSelector"] == {"disktype": "ssd"}


# --- bindings in etcd, and upstream's race -----------------------------------------------------


def test_a_binding_lands_on_an_untainted_node():
    state = scheduling_cluster([_node("n1")])
    assert BINDING_RESPECTS_TAINTS_IN_ETCD.holds_in(*drive(state, sending_binding))


def test_a_taint_written_while_the_binding_is_in_flight_lands_the_pod_on_the_tainted_node():
    # upstream behaviour: the scheduler decided on an untainted node; the taint reaches etcd
    # before the binding does, and BindingREST does not look at taints
    state = scheduling_cluster([_node("n1")])
    decision = drive(state, decided)
    assert SCHEDULER_RESPECTS_TAINTS_IN_VIEW.holds_in(*decision)
    before, action, _ = drive(decision[2], sending_binding)
    node = read(before.api.store, "nodes", "", "n1")
    before = admin(
        before, "update", "nodes", "", "n1", replace(node, spec=NodeSpec(taints=(DEDICATED,)))
    )
    after = cluster.step(before, action)
    assert read(after.api.store, "pods", "default", "web").spec.node_name == "n1"
    v = BINDING_RESPECTS_TAINTS_IN_ETCD.check(before, action, after)
    assert v is not None and "landed" in v.message


def test_a_binding_lands_on_a_node_that_still_has_the_selected_label():
    state = scheduling_cluster([_node("n1", {"disktype": "ssd"})], SSD)
    assert BINDING_RESPECTS_AFFINITY_IN_ETCD.holds_in(*drive(state, sending_binding))


def test_a_label_removed_while_the_binding_is_in_flight_breaks_the_node_selector():
    state = scheduling_cluster([_node("n1", {"disktype": "ssd"})], SSD)
    before, action, _ = drive(state, sending_binding)
    node = read(before.api.store, "nodes", "", "n1")
    before = admin(
        before,
        "update",
        "nodes",
        "",
        "n1",
        replace(node, metadata=replace(node.metadata, labels=FrozenMap())),
    )
    v = BINDING_RESPECTS_AFFINITY_IN_ETCD.check(before, action, cluster.step(before, action))
    assert v is not None and dict(v.evidence)["node labels"] == {}


# --- nodeName ----------------------------------------------------------------------------------


def test_a_pods_node_name_is_set_once(journey):
    states = list(journey.states())
    binds = [
        i
        for i, s in enumerate(journey.steps)
        if any(e.resource == "pods/binding" for e in s.entries)
    ]
    assert binds
    i = binds[0]
    assert NODE_NAME_NEVER_CHANGES.holds_in(states[i], journey.steps[i].action, states[i + 1])


def test_a_write_that_moves_a_bound_pod_is_caught(journey):
    before = journey.state
    pod = pods(before)[0]
    moved = replace(pod, spec=replace(pod.spec, node_name="elsewhere"))
    key = server.key_of("pods", "default", pod.metadata.name)
    store, _ = etcd.put(before.api.store, key, moved)
    after = replace(before, api=replace(before.api, store=store))
    v = NODE_NAME_NEVER_CHANGES.check(before, ClientRequest(), after)
    assert v is not None and dict(v.evidence)["nodeName after"] == "elsewhere"


# --- the kubelet -------------------------------------------------------------------------------


def _kubelet_runs(state, cpu: str):
    """kubelet-node-1's admitted pod changed to request ``cpu``."""
    c = state.components["kubelet-node-1"]
    key, record = next((k, r) for k, r in c.memory.pods.items() if r.active)
    container = replace(record.pod.spec.containers[0], requests=FrozenMap(cpu=parse_quantity(cpu)))
    pod = replace(record.pod, spec=replace(record.pod.spec, containers=(container,)))
    memory = replace(c.memory, pods=c.memory.pods.set(key, replace(record, pod=pod)))
    return replace(
        state, components=state.components.set("kubelet-node-1", replace(c, memory=memory))
    )


def test_a_kubelet_within_its_allocatable_holds(journey):
    assert KUBELET_WITHIN_ALLOCATABLE.holds_in(journey.state)
    assert KUBELET_WITHIN_ALLOCATABLE.holds_in(_kubelet_runs(journey.state, "1500m"))


def test_a_kubelet_running_more_cpu_than_its_node_has_is_caught(journey):
    v = KUBELET_WITHIN_ALLOCATABLE.check(_kubelet_runs(journey.state, "3"))
    assert v is not None and "cpu 3000 > 2000" in v.message


# --- ReplicaSets -------------------------------------------------------------------------------

WEB = FrozenMap(app="web")


def _replicaset(replicas: int) -> ReplicaSet:
    template = PodTemplateSpec(
        ObjectMeta(labels=WEB), PodSpec(containers=(Container("c", "nginx"),))
    )
    return ReplicaSet(
        ObjectMeta("web", "default"), ReplicaSetSpec(LabelSelector(WEB), template, replicas)
    )


def _violations(state, prop, limit=400, allow=lambda action: True, sends_last=False):
    """The first violation of transition property ``prop`` along the first-enabled run (every
    other action before a Send, with ``sends_last``)."""
    for _ in range(limit):
        actions = [a for a in cluster.enabled(state) if allow(a)]
        if not actions:
            return state, None
        if sends_last:
            actions.sort(key=lambda a: isinstance(a, Send))
        after = cluster.step(state, actions[0])
        v = prop.check(state, actions[0], after)
        if v is not None:
            return after, v
        state = after
    return state, None


def test_a_replicaset_controller_creates_exactly_its_replicas():
    api = initial_state(default_users())
    create = Request(ADMIN, "create", "replicasets", "default", body=_replicaset(2))
    state = cluster.initial_state((ReplicaSetController(),), api, (create,))
    state, v = _violations(state, REPLICASET_WITHIN_REPLICAS)
    assert v is None and len(pods(state)) == 2


def test_two_replicaset_controllers_at_once_create_too_many_pods():
    second = ReplicaSetController(name="replicaset-2", process="kube-controller-manager-2")
    api = initial_state(default_users())
    create = Request(ADMIN, "create", "replicasets", "default", body=_replicaset(2))
    state = cluster.initial_state((ReplicaSetController(), second), api, (create,))
    # both reconcile the new ReplicaSet before either's creates land
    _, v = _violations(state, REPLICASET_WITHIN_REPLICAS, sends_last=True)
    assert v is not None and dict(v.evidence)["spec.replicas"] == 2


def test_a_scale_down_leaves_pods_above_replicas_until_the_deletes_land():
    api = initial_state(default_users())
    create = Request(ADMIN, "create", "replicasets", "default", body=_replicaset(2))
    state = cluster.initial_state((ReplicaSetController(),), api, (create,))
    state, _ = _violations(state, REPLICASET_WITHIN_REPLICAS)
    rs = read(state.api.store, "replicasets", "default", "web")
    scale = Request(
        ADMIN,
        "update",
        "replicasets",
        "default",
        "web",
        body=replace(rs, spec=replace(rs.spec, replicas=1)),
    )
    before = replace(state, clients=(scale,))
    after = cluster.step(before, ClientRequest())
    assert len(pods(after)) == 2  # above the new spec.replicas until the controller deletes one
    assert REPLICASET_WITHIN_REPLICAS.holds_in(before, ClientRequest(), after)


def test_a_timed_out_request_allows_one_extra_pod_and_the_strict_bound_does_not(journey):
    # upstream since kubernetes#86140: a create that timed out after it was applied is made
    # again before the informer shows the first (catalogue entry rs-create-timeout)
    state = journey.state
    template = pods(state)[0]
    one = admin(state, "create", "pods", "default", body=fresh_copy(template, "extra-1"))
    assert not REPLICASET_WITHIN_REPLICAS.holds_in(state, ClientRequest(), one)
    timed_out = replace(state, faults_used=replace(state.faults_used, timeout=1))
    one = replace(one, faults_used=timed_out.faults_used)
    assert REPLICASET_WITHIN_REPLICAS.holds_in(timed_out, ClientRequest(), one)
    v = REPLICASET_WITHIN_REPLICAS_EVEN_ON_TIMEOUTS.check(timed_out, ClientRequest(), one)
    assert v is not None and dict(v.evidence)["timed-out requests so far"] == 1
    two = admin(one, "create", "pods", "default", body=fresh_copy(template, "extra-2"))
    v = REPLICASET_WITHIN_REPLICAS.check(one, ClientRequest(), two)
    assert v is not None and "spec.replicas 3 + 1 timed-out requests" in v.message


def test_overlapping_leaders_are_caught_by_the_replicaset_property():
    # leader election has no property of its own: A's renew loop is paused past its lease, B
    # takes over while A still leads, and both ReplicaSet controllers create the pods
    a, b = LeaderElected(ReplicaSetController(), "a"), LeaderElected(ReplicaSetController(), "b")
    state = cluster.initial_state((a, b), initial_state(default_users()))
    for _ in range(60):
        state = cluster.step(state, cluster.enabled(state)[0])
    assert state.components["replicaset-a"].memory.election.leading
    for _ in range(300):
        actions = [
            x for x in cluster.enabled(state) if getattr(x, "component", None) != "replicaset-a"
        ]
        state = cluster.step(state, actions[0])
    assert state.components["replicaset-a"].memory.election.leading
    assert state.components["replicaset-b"].memory.election.leading
    state = replace(
        state, clients=(Request(ADMIN, "create", "replicasets", "default", body=_replicaset(2)),)
    )

    def a_does_not_renew(action):
        return not isinstance(action, cluster.FireTimers | cluster.Tick)

    _, v = _violations(state, REPLICASET_WITHIN_REPLICAS, allow=a_does_not_renew, sends_last=True)
    assert v is not None and "more than its spec.replicas 2" in v.message


# --- rolling updates ---------------------------------------------------------------------------


def _scaled_replicaset(state, count: int):
    rs = stored(state, "replicasets", "default")[0]
    body = replace(rs, spec=replace(rs.spec, replicas=count))
    return admin(state, "update", "replicasets", "default", rs.metadata.name, body=body)


def test_replicaset_specs_beyond_the_surge_bound_are_caught_and_within_it_are_not(journey):
    state = journey.state
    one = _scaled_replicaset(state, 4)
    assert ROLLOUT_WITHIN_SURGE.holds_in(state, ClientRequest(), one)  # 4 <= 3 + 1
    two = _scaled_replicaset(one, 5)
    v = ROLLOUT_WITHIN_SURGE.check(one, ClientRequest(), two)
    assert v is not None and dict(v.evidence)["maxSurge"] == 1 and "want 5 pods" in v.message


def test_pods_beyond_the_surge_bound_are_upstreams_behaviour_not_a_surge_violation(journey):
    # the bound is on what the ReplicaSets ask for: pods created beside them (a ReplicaSet
    # controller's create before its delete lands) do not break it
    state = journey.state
    template = pods(state)[0]
    one = admin(state, "create", "pods", "default", body=fresh_copy(template, "extra-1"))
    two = admin(one, "create", "pods", "default", body=fresh_copy(template, "extra-2"))
    assert ROLLOUT_WITHIN_SURGE.holds_in(one, ClientRequest(), two)


def _delete_by(state, component: str):
    name = pods(state)[0].metadata.name
    request = Request(KCM, "delete", "pods", "default", name)
    before = with_outbox(state, component, request)
    return before, Send(component), cluster.step(before, Send(component))


def test_the_replicaset_controller_deleting_an_available_pod_below_the_bound_is_caught(journey):
    v = ROLLOUT_WITHIN_UNAVAILABLE.check(*_delete_by(journey.state, "replicaset"))
    assert v is not None and dict(v.evidence)["maxUnavailable"] == 0
    assert dict(v.evidence)["available before the step"] == 3


def test_an_eviction_the_rollout_did_not_cause_is_not_its_violation(journey):
    before, action, after = _delete_by(journey.state, "tainteviction")
    assert ROLLOUT_WITHIN_UNAVAILABLE.holds_in(before, action, after)


# --- the garbage collector ---------------------------------------------------------------------


def _gc_deletes(state, resource, name, uid):
    request = Request(
        KCM, "delete", resource, "default", name, preconditions=server.Preconditions(uid=uid)
    )
    before = with_outbox(state, "garbagecollector", request, ("item", uid))
    return before, Send("garbagecollector"), cluster.step(before, Send("garbagecollector"))


def test_the_gc_deleting_a_pod_of_a_live_replicaset_is_caught(journey):
    pod = pods(journey.state)[0]
    v = GC_SPARES_LIVE_OWNERS.check(
        *_gc_deletes(journey.state, "pods", pod.metadata.name, pod.metadata.uid)
    )
    assert v is not None and dict(v.evidence)["owner"].startswith("ReplicaSet nginx-")


def test_the_gc_deleting_dependents_of_a_foreground_deleted_owner_is_by_design(journey):
    pod = pods(journey.state)[0]
    owner = pod.metadata.controller_ref().name
    state = admin(
        journey.state, "delete", "replicasets", "default", owner, propagation_policy="Foreground"
    )
    rs = read(state.api.store, "replicasets", "default", owner)
    assert (
        rs.metadata.deletion_timestamp is not None
        and "foregroundDeletion" in rs.metadata.finalizers
    )
    assert GC_SPARES_LIVE_OWNERS.holds_in(
        *_gc_deletes(state, "pods", pod.metadata.name, pod.metadata.uid)
    )


# --- the api-server ----------------------------------------------------------------------------


def _write_step(run_):
    states = list(run_.states())
    i = next(
        i
        for i, s in enumerate(run_.steps)
        if states[i + 1].api.store.revision > states[i].api.store.revision
    )
    return states[i], run_.steps[i].action, states[i + 1]


def test_resource_versions_increase_on_a_write(journey):
    assert RESOURCE_VERSIONS_INCREASE.holds_in(*_write_step(journey))


def test_a_revision_going_back_is_caught(journey):
    before, action, after = _write_step(journey)
    v = RESOURCE_VERSIONS_INCREASE.check(after, action, before)
    assert v is not None and "went back" in v.message


def _deliver_step(run_):
    states = list(run_.states())
    i = next(i for i, s in enumerate(run_.steps) if isinstance(s.action, Deliver))
    return states[i], run_.steps[i].action, states[i + 1]


def _with_rv(state, component, resource, rv):
    c = state.components[component]
    informer = replace(c.informers[resource], resource_version=rv)
    c = replace(c, informers=c.informers.set(resource, informer))
    return replace(state, components=state.components.set(component, c))


def test_a_delivered_watch_event_is_the_next_one(journey):
    assert WATCH_IN_ORDER.holds_in(*_deliver_step(journey))


def test_a_watch_that_skips_an_event_is_caught(journey):
    before, action, after = _deliver_step(journey)
    rv = after.components[action.component].informers[action.resource].resource_version
    v = WATCH_IN_ORDER.check(
        before, action, _with_rv(after, action.component, action.resource, rv + 5)
    )
    assert v is not None and "skipping the event" in v.message


def test_a_cache_that_moves_without_an_event_is_caught(journey):
    before = journey.state
    name, component = next((n, c) for n, c in before.components.items() if c.informers)
    resource, informer = next(iter(component.informers.items()))
    after = _with_rv(before, name, resource, informer.resource_version + 1)
    v = WATCH_IN_ORDER.check(before, Reconcile(name, "x"), after)
    assert v is not None and "without a watch event" in v.message


def _client_step(state, request):
    before = replace(state, clients=(request,))
    return before, ClientRequest(), cluster.step(before, ClientRequest())


def test_a_forbidden_request_refused_by_the_api_server_holds(journey):
    request = Request("system:kube-scheduler", "delete", "deployments", "default", "nginx")
    assert NO_FORBIDDEN_REQUEST_SUCCEEDS.holds_in(*_client_step(journey.state, request))


def test_a_request_rbac_forbids_that_succeeds_is_caught(journey, monkeypatch):
    # an api-server whose authorizer lets everything through
    monkeypatch.setattr(server, "authorize", lambda *args: None)
    request = Request("system:kube-scheduler", "delete", "deployments", "default", "nginx")
    v = NO_FORBIDDEN_REQUEST_SUCCEEDS.check(*_client_step(journey.state, request))
    assert v is not None and 'cannot delete resource "deployments"' in v.message


def test_a_kubelet_writing_another_nodes_pod_status_is_caught(journey, monkeypatch):
    # an api-server without NodeRestriction: RBAC alone lets any node write any pod's status
    monkeypatch.setattr(admission, "_node_restriction", lambda attrs, lookup: None)
    pod = next(p for p in pods(journey.state) if p.spec.node_name == "node-2")
    body = replace(pod, status=replace(pod.status, message="written by node-1"))
    request = Request(
        "system:node:node-1", "update", "pods", "default", pod.metadata.name, "status", body
    )
    assert "node-1" in refusal(journey.state, request)
    v = NO_FORBIDDEN_REQUEST_SUCCEEDS.check(*_client_step(journey.state, request))
    assert v is not None and "spec.nodeName set to itself" in v.message


@dataclass(frozen=True)
class StandInWatcher:
    """A stand-in controller (not a real component): the scheduler's identity watching
    Deployments, which its role does not allow; it does nothing."""

    name: str = "watcher"
    identity: str = "system:kube-scheduler"
    process: str = "watcher"
    resources: tuple[str, ...] = ("deployments",)

    def initial_memory(self):
        return None

    def keys(self, delta, view):
        return ()

    def observe(self, memory, delta, view):
        return memory

    def reconcile(self, view, key, memory):
        return Reconciled(memory)

    def on_response(self, memory, sent, response, view):
        return Reconciled(memory)


def _first_list():
    before = cluster.initial_state((StandInWatcher(),), initial_state(default_users()))
    action = cluster.Relist("watcher", "deployments")
    return before, action, cluster.step(before, action)


def test_an_informer_refused_its_list_holds():
    before, action, after = _first_list()
    assert after.components["watcher"].informers["deployments"].denied
    assert NO_FORBIDDEN_REQUEST_SUCCEEDS.holds_in(before, action, after)


def test_an_informer_listing_what_its_role_forbids_is_caught(monkeypatch):
    monkeypatch.setattr(server, "authorize", lambda *args: None)
    v = NO_FORBIDDEN_REQUEST_SUCCEEDS.check(*_first_list())
    assert v is not None and 'cannot list resource "deployments"' in v.message


# --- eventually --------------------------------------------------------------------------------


def test_the_journeys_deployment_converges(journey):
    assert DEPLOYMENT_CONVERGES.holds_in(journey.state)


def test_a_deployment_still_rolling_out_has_not_converged(journey):
    states = list(journey.states())
    created = next(i for i, s in enumerate(journey.steps) if isinstance(s.action, ClientRequest))
    v = DEPLOYMENT_CONVERGES.check(states[created + 1])
    assert v is not None and dict(v.evidence)["deployment"] == "default/nginx"


def test_a_wanted_pod_on_a_node_with_an_untolerated_no_execute_taint_has_not_converged(journey):
    pod = pods(journey.state)[0]
    node = read(journey.state.api.store, "nodes", "", pod.spec.node_name)
    evict = Taint("maintenance", "NoExecute")
    state = admin(
        journey.state,
        "update",
        "nodes",
        "",
        node.metadata.name,
        replace(node, spec=NodeSpec(taints=(evict,))),
    )
    v = DEPLOYMENT_CONVERGES.check(state)
    assert v is not None and "TaintToleration" in v.message


def test_a_pending_pod_no_node_can_take_is_fine(journey):
    spec = PodSpec(containers=(Container("c", "nginx"),), node_selector=FrozenMap(disktype="ssd"))
    state = admin(journey.state, "create", "pods", "default", body=Pod(ObjectMeta("picky"), spec))
    assert PENDING_ONLY_WHEN_UNSCHEDULABLE.holds_in(state)


def test_a_pending_pod_a_node_could_take_is_caught(journey):
    state = admin(
        journey.state,
        "create",
        "pods",
        "default",
        body=Pod(ObjectMeta("stuck"), PodSpec(containers=(Container("c", "nginx"),))),
    )
    v = PENDING_ONLY_WHEN_UNSCHEDULABLE.check(state)
    assert v is not None and "default/stuck" in v.message and dict(v.evidence)["feasible nodes"]


def _flap(state, name, times):
    spec = PodSpec(containers=(Container("c", "nginx"),))
    for _ in range(times):
        state = admin(state, "create", "pods", "default", body=Pod(ObjectMeta(name), spec))
        state = admin(state, "delete", "pods", "default", name)
    return state


def test_an_object_created_twice_is_within_the_bound(journey):
    assert BOUNDED_CREATIONS.holds_in(journey.state)
    assert BOUNDED_CREATIONS.holds_in(_flap(journey.state, "flappy", 2))


def test_an_object_created_and_deleted_over_and_over_is_caught(journey):
    v = BOUNDED_CREATIONS.check(_flap(journey.state, "flappy", 3))
    assert v is not None and dict(v.evidence)["creations"] == 3


def _recreate(state, times):
    template = pods(state)[0]
    for i in range(times):
        state = admin(state, "create", "pods", "default", body=fresh_copy(template, f"again-{i}"))
        state = admin(state, "delete", "pods", "default", f"again-{i}", grace_period_seconds=0)
    return state


def test_a_replicaset_replacing_its_pods_a_few_times_is_within_the_bound(journey):
    assert BOUNDED_CREATIONS.holds_in(_recreate(journey.state, 5))  # 3 + 5 <= 2 x 3 + 2


def test_a_replicaset_recreating_pods_endlessly_is_caught(journey):
    v = BOUNDED_CREATIONS.check(_recreate(journey.state, 6))
    assert v is not None and "cycle" in v.message and dict(v.evidence)["creations"] == 9
