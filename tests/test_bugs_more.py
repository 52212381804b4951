"""The switches, scenarios and properties of four catalogue entries: missed-tombstone,
scheduler-split-brain, nodename-noexecute-loop and spread-scale-infeasible.

Each test names the behaviour it checks. Whole suites under the engines are run for every
entry by tests/test_bugs.py; here each story is driven by a short scripted trace.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import product

import pytest

from kubeproof.model.apiserver.server import (
    Request,
    default_users,
    handle,
    initial_state,
    prefix_of,
    read,
)
from kubeproof.model.cluster import (
    ClientRequest,
    Compact,
    Deliver,
    Faults,
    Reconcile,
    Relist,
    Send,
    enabled,
    step,
)
from kubeproof.model.cluster import initial_state as cluster_state
from kubeproof.model.controllers.leaderelection import LeaderElected
from kubeproof.model.controllers.protocol import Delta, View
from kubeproof.model.controllers.replicaset import ReplicaSetController
from kubeproof.model.controllers.scheduler import Scheduler
from kubeproof.model.objects import (
    EMPTY,
    Container,
    FrozenMap,
    LabelSelector,
    ObjectMeta,
    OwnerReference,
    Pod,
    PodSpec,
    PodTemplateSpec,
    ReplicaSet,
    ReplicaSetSpec,
    object_key,
)
from kubeproof.model.run import run
from kubeproof.model.scheduler.cycle import schedule_one, select_host
from kubeproof.model.scheduler.framework import SKIP, SUCCESS
from kubeproof.properties.bugs import BUGS, bug
from kubeproof.properties.bugs.clusters import HOSTNAME, listed, node
from kubeproof.properties.bugs.informer import missed_tombstone_scenario
from kubeproof.properties.bugs.leader import (
    BINDING_RESPECTS_POD_ANTI_AFFINITY_IN_ETCD,
    SEEDS,
    anti_affinity_conflicts,
    split_brain_scenario,
    web_pod,
)
from kubeproof.properties.bugs.still_upstream import (
    CREATIONS_STAY_BOUNDED,
    TAINT,
    ZONE,
    nodename_loop_scenario,
    spread_scale_scenario,
)
from kubeproof.properties.eventually import DEPLOYMENT_CONVERGES, PENDING_ONLY_WHEN_UNSCHEDULABLE

MINE = (
    "missed-tombstone",
    "scheduler-split-brain",
    "nodename-noexecute-loop",
    "spread-scale-infeasible",
)


def test_the_catalogue_gathers_the_four_entries():
    ids = [b.id for b in BUGS]
    assert all(i in ids for i in MINE)
    for i in MINE:
        entry = bug(i)
        assert entry.buggy.name == i
        assert entry.property in {p.name for p in entry.buggy.properties}
    assert bug("missed-tombstone").fixed.name == "missed-tombstone-fixed"
    # behaviour that is still upstream's has no switch and no fixed suite
    for i in MINE[1:]:
        assert bug(i).switch == "" and bug(i).fixed is None


# --- missed-tombstone: the switch --------------------------------------------------------------


def _rs_and_pod() -> tuple[ReplicaSet, Pod]:
    labels = FrozenMap(app="web")
    template = PodTemplateSpec(ObjectMeta(labels=labels), PodSpec(containers=(Container("c"),)))
    rs = ReplicaSet(
        ObjectMeta(name="web", namespace="default", uid="uid-rs"),
        ReplicaSetSpec(LabelSelector(labels), template, replicas=1),
    )
    owner = OwnerReference("apps/v1", "ReplicaSet", "web", "uid-rs", controller=True)
    pod = Pod(
        ObjectMeta(
            name="web-1", namespace="default", uid="uid-p", labels=labels, owner_references=(owner,)
        ),
        template.spec,
    )
    return rs, pod


def _view(rs: ReplicaSet) -> View:
    caches = FrozenMap(replicasets=FrozenMap({object_key(rs): rs}), pods=FrozenMap())
    return View("replicaset", 0, caches, initial_state(default_users()))


@pytest.mark.parametrize("tombstone", [True, False])
def test_the_default_controller_wakes_the_owner_for_a_delete_and_a_tombstone(tombstone):
    rs, pod = _rs_and_pod()
    delta = Delta("pods", "DELETED", pod, tombstone=tombstone)
    assert ReplicaSetController().keys(delta, _view(rs)) == ("default/web",)


def test_a_controller_that_drops_tombstones_neither_wakes_the_owner_nor_counts_the_delete():
    rs, pod = _rs_and_pod()
    view = _view(rs)
    buggy = ReplicaSetController(tombstones=False)
    tombstone = Delta("pods", "DELETED", pod, tombstone=True)
    memory = buggy.initial_memory()
    assert buggy.keys(tombstone, view) == ()
    assert buggy.observe(memory, tombstone, view) is memory
    # a DELETED seen on the watch is still handled: only tombstones are dropped
    assert buggy.keys(Delta("pods", "DELETED", pod), view) == ("default/web",)


def test_missed_tombstone_starts_on_a_rolled_out_deployment_with_a_force_delete_to_send():
    scenario = missed_tombstone_scenario(False)
    state = scenario.initial_state()
    pods = listed(state, "pods", "default")
    assert [p.status.phase for p in pods] == ["Running"]
    assert DEPLOYMENT_CONVERGES.check(state) is None
    (delete,) = state.clients
    assert (delete.verb, delete.name, delete.grace_period_seconds) == (
        "delete",
        pods[0].metadata.name,
        0,
    )
    assert sorted(state.components) == ["deployment", "kubelet-node-1", "replicaset", "scheduler"]
    assert state.controllers["replicaset"].tombstones is False
    assert missed_tombstone_scenario(True).initial_state().controllers["replicaset"].tombstones


def _tombstone_story(tombstones: bool):
    """The pod force-deleted, history compacted; the ReplicaSet controller relists its
    ReplicaSets (410 Gone) and syncs before it relists its pods; then the cluster settles."""
    state = missed_tombstone_scenario(tombstones).initial_state()
    rs_key = next(iter(state.components["replicaset"].informers["replicasets"].cache))
    for action in (
        ClientRequest(),
        Compact(),
        Deliver("replicaset", "replicasets"),
        Relist("replicaset", "replicasets"),
        Reconcile("replicaset", rs_key),
    ):
        assert action in enabled(state, Faults(compact=1))
        state = step(state, action)
    return run(state)


def test_a_dropped_tombstone_leaves_the_deployment_without_its_pod():
    settled = _tombstone_story(tombstones=False)
    assert settled.reason == "quiescent"
    relists = [s for s in settled.steps if s.action == Relist("replicaset", "pods")]
    assert relists and "0 objects" in relists[0].entries[0].note
    violation = DEPLOYMENT_CONVERGES.check(settled.state)
    assert "0 active pods of the current template, want 1" in violation.message


def test_the_tombstone_wakes_the_replicaset_and_the_pod_is_replaced():
    settled = _tombstone_story(tombstones=True)
    assert DEPLOYMENT_CONVERGES.check(settled.state) is None
    assert [p.status.phase for p in listed(settled.state, "pods", "default")] == ["Running"]


# --- scheduler-split-brain ---------------------------------------------------------------------


def test_split_brain_starts_with_two_instances_that_both_believe_they_lead():
    state = split_brain_scenario().initial_state()
    lease = read(state.api.store, "leases", "kube-system", "kube-scheduler")
    assert lease.spec.holder_identity == "kube-scheduler-b"
    assert lease.spec.lease_duration_seconds == 15  # upstream's default flags
    elections = {n: c.memory.election for n, c in state.components.items()}
    assert elections["scheduler-a"].leading and elections["scheduler-b"].leading
    # a has not run since b took over: its renew timer is overdue
    assert state.components["scheduler-a"].timers[0].due < state.api.now
    assert [r.body.metadata.name for r in state.clients] == ["web-a", "web-b"]
    assert isinstance(state.controllers["scheduler-a"], LeaderElected)
    assert (
        state.controllers["scheduler-a"].inner.seed != state.controllers["scheduler-b"].inner.seed
    )


def test_the_instances_break_the_tie_for_web_a_differently():
    web_a = Pod(ObjectMeta(name="web-a", namespace="default"))
    tied = ["node-1", "node-2"]
    assert select_host(tied, web_a, SEEDS["a"]) != select_host(tied, web_a, SEEDS["b"])


def _split_brain_story():
    """Both instances see both pods; a schedules web-a, b schedules web-a then web-b (on the
    other node, as web-a is on b's side); a's binding lands first, then b's second."""
    state = split_brain_scenario().initial_state()
    violations = []
    for action in (
        ClientRequest(),
        ClientRequest(),
        *(Deliver(s, "pods") for s in ("scheduler-a", "scheduler-a", "scheduler-b", "scheduler-b")),
        Reconcile("scheduler-a", "schedule"),
        Reconcile("scheduler-b", "schedule"),
        Reconcile("scheduler-b", "schedule"),
        Send("scheduler-a"),
        Send("scheduler-b"),
        Send("scheduler-b"),
    ):
        after = step(state, action)
        found = BINDING_RESPECTS_POD_ANTI_AFFINITY_IN_ETCD.check(state, action, after)
        if found is not None:
            violations.append((action, found))
        state = after
    return state, violations


def test_bindings_of_both_instances_land_on_one_node():
    state, violations = _split_brain_story()
    ((action, violation),) = violations
    assert action == Send("scheduler-b")
    assert violation.message.startswith("the binding of default/web-b to node-1 landed")
    nodes = {p.metadata.name: p.spec.node_name for p in listed(state, "pods", "default")}
    assert nodes == {"web-a": "node-1", "web-b": "node-1"}


def test_a_single_leader_spreads_the_two_pods():
    state = split_brain_scenario().initial_state()
    scheduler = state.controllers["scheduler-b"]
    alone = replace(state, controllers=FrozenMap({"scheduler-b": scheduler}))
    alone = replace(alone, components=FrozenMap({"scheduler-b": state.components["scheduler-b"]}))
    settled = run(alone)
    nodes = sorted(p.spec.node_name for p in listed(settled.state, "pods", "default"))
    assert nodes == ["node-1", "node-2"]


def _bound(name: str, node_name: str, namespace: str = "default", anti: bool = True) -> Pod:
    pod = web_pod(name)
    spec = replace(pod.spec, node_name=node_name, affinity=pod.spec.affinity if anti else None)
    meta = replace(pod.metadata, namespace=namespace, uid=f"uid-{name}")
    return replace(pod, metadata=meta, spec=spec)


def _with(objects):
    api = initial_state(default_users())
    for obj in objects:
        namespace = getattr(obj.metadata, "namespace", "")
        api, response = handle(
            api, Request("kubernetes-admin", "create", obj.RESOURCE, namespace, body=obj)
        )
        assert response.ok, response.status
    return cluster_state((), api)


NODES = (node("node-1", 1), node("node-2", 2))


@pytest.mark.parametrize(
    ("other", "conflicts"),
    [
        (("web-b", "node-1", "default", True), True),  # same node, both anti-affine
        (("web-b", "node-2", "default", True), False),  # another node
        (("web-b", "node-1", "default", False), True),  # web-a's own term selects web-b
        (("web-b", "node-1", "kube-public", True), False),  # another namespace: not selected
    ],
)
def test_anti_affinity_conflicts_follow_terms_domains_and_namespaces(other, conflicts):
    state = _with((*NODES, _bound("web-a", "node-1"), _bound(*other)))
    web_a = read(state.api.store, "pods", "default", "web-a")
    assert bool(anti_affinity_conflicts(state, web_a)) is conflicts


def test_an_existing_pods_term_forbids_the_newcomer():
    # web-b has no anti-affinity of its own; web-a's term selects it
    state = _with((*NODES, _bound("web-a", "node-1"), _bound("web-b", "node-1", anti=False)))
    web_b = read(state.api.store, "pods", "default", "web-b")
    assert anti_affinity_conflicts(state, web_b) == (("default/web-a", "default/web-a", HOSTNAME),)


# --- nodename-noexecute-loop -------------------------------------------------------------------


def test_the_pinned_template_bypasses_the_scheduler_onto_the_tainted_node():
    scenario = nodename_loop_scenario()
    names = [c.name for c in scenario.controllers]
    assert names == ["kubelet-node-1", "deployment", "replicaset", "tainteviction"]
    assert scenario.controllers[0].node.spec.taints == (TAINT,)
    (create,) = scenario.clients
    spec = create.body.spec.template.spec
    assert spec.node_name == "node-1" and spec.tolerations == ()


def test_the_fair_run_creates_pods_without_end_and_breaks_the_bound():
    result = run(nodename_loop_scenario(), max_steps=600)
    assert result.reason == "max_steps"  # it never settles
    done = [(e.actor, e.verb, e.resource) for e in result.journal if e.action == "send"]
    created = done.count(("replicaset", "create", "pods"))
    # each pod is evicted by the taint eviction controller and rejected by the kubelet
    assert done.count(("tainteviction", "delete", "pods")) >= created - 1 > 5
    pods = prefix_of("pods")
    store = result.state.api.store
    reasons = {
        e.kv.value.status.reason
        for r in range(store.history_start, store.revision + 1)
        for e in store.events_at(r)
        if e.kv.key.startswith(pods) and e.kv.value is not None
    }
    assert "TaintToleration" in reasons
    violation = CREATIONS_STAY_BOUNDED.check(result.state)
    assert violation.property == "creations-stay-bounded"
    assert "(bound 4)" in violation.message


def test_the_creations_bound_holds_on_a_settled_deployment():
    assert CREATIONS_STAY_BOUNDED.check(missed_tombstone_scenario(True).initial_state()) is None


# --- spread-scale-infeasible -------------------------------------------------------------------


def _zone_and_host(state):
    pods = [p for p in listed(state, "pods", "default") if p.spec.node_name]
    hosts = {n: sum(p.spec.node_name == n for p in pods) for n in ("node-1", "node-2", "node-3")}
    zones = {
        "zone-a": hosts["node-1"] + hosts["node-2"],
        "zone-b": hosts["node-3"],
    }
    return hosts, zones


def test_five_pods_roll_out_two_one_two_before_the_scale():
    state = spread_scale_scenario().initial_state()
    hosts, zones = _zone_and_host(state)
    assert sorted(hosts.values()) == [1, 2, 2] and zones == {"zone-a": 3, "zone-b": 2}
    assert DEPLOYMENT_CONVERGES.check(state) is None
    (scale,) = state.clients
    assert scale.body.spec.replicas == 6
    assert [n.metadata.labels[ZONE] for n in listed(state, "nodes")] == [
        "zone-a",
        "zone-a",
        "zone-b",
    ]


def test_after_the_scale_the_sixth_pod_stays_pending_and_every_node_rejects_it():
    settled = run(spread_scale_scenario())
    assert settled.reason == "quiescent"
    state = settled.state
    (pending,) = [p for p in listed(state, "pods", "default") if not p.spec.node_name]
    assert "pod " + pending.metadata.name + ": phase Pending" in str(
        DEPLOYMENT_CONVERGES.check(state).evidence
    )
    assert PENDING_ONLY_WHEN_UNSCHEDULABLE.check(state) is None
    # ask the scheduler's own plugins, node by node, as the scheduler would
    scheduler = state.controllers["scheduler"]
    caches = FrozenMap(
        (r, FrozenMap((object_key(o), o) for o in listed(state, r))) for r in scheduler.resources
    )
    view = View("test", state.api.now, caches, state.api)
    decision = schedule_one(scheduler.profile, pending, scheduler.snapshot(view, EMPTY))
    assert decision.selected is None
    rejecting = {
        e.name: next(p for p, s in e.filters if s.code not in (SUCCESS, SKIP))
        for e in decision.nodes
    }
    assert rejecting == {n: "PodTopologySpread" for n in ("node-1", "node-2", "node-3")}


def test_no_placement_of_six_pods_meets_both_spread_constraints():
    # node-1 and node-2 in zone-a, node-3 in zone-b; maxSkew 1 by zone and by hostname
    fits = [
        counts
        for counts in product(range(7), repeat=3)
        if sum(counts) == 6
        and abs(counts[0] + counts[1] - counts[2]) <= 1
        and max(counts) - min(counts) <= 1
    ]
    assert fits == []
    # while five pods fit, as 2/1/2 or 1/2/2
    five = [
        c
        for c in product(range(6), repeat=3)
        if sum(c) == 5 and abs(c[0] + c[1] - c[2]) <= 1 and max(c) - min(c) <= 1
    ]
    assert sorted(five) == [(1, 2, 2), (2, 1, 2)]


def test_spread_pods_carry_both_constraints():
    state = spread_scale_scenario().initial_state()
    pod = listed(state, "pods", "default")[0]
    keys = [
        (c.topology_key, c.max_skew, c.when_unsatisfiable)
        for c in pod.spec.topology_spread_constraints
    ]
    assert keys == [(ZONE, 1, "DoNotSchedule"), (HOSTNAME, 1, "DoNotSchedule")]
    assert isinstance(state.controllers["scheduler"], Scheduler)
