"""The built-in scenarios run fairly to quiescence and end where Kubernetes would.

Each test names the upstream behaviour its end state shows; the run is model/run.py's fair,
deterministic run (round-robin over actors, the clock only when nothing else can happen).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from kubeproof.model.apiserver.server import read
from kubeproof.model.cluster import ClientRequest, Crash, Guarded, Tick, enabled
from kubeproof.model.manifests import load_paths
from kubeproof.model.run import is_fault, run
from kubeproof.model.scenarios import (
    SCENARIOS,
    kubectl_create_deployment,
    listed,
    scenario,
    scenario_from_manifests,
)

RUNS = {}


def finished(name: str):
    """Each built-in scenario is run once per session (a run takes about a second)."""
    if name not in RUNS:
        RUNS[name] = run(scenario(name))
    return RUNS[name]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_scenario_quiesces_with_its_facts(name):
    result = finished(name)
    assert result.reason == "quiescent"
    assert result.failed_facts() == ()


def test_journey_ends_with_three_running_ready_pods_one_per_node():
    # upstream: the default scheduler spreads a Deployment's pods (PodTopologySpread's system
    # default constraints, kubernetes.io/hostname), the kubelet reports Running and Ready
    state = finished("journey").state
    pods = listed(state, "pods", "default")
    assert len(pods) == 3
    assert {p.spec.node_name for p in pods} == {"node-1", "node-2", "node-3"}
    for pod in pods:
        assert pod.status.phase == "Running"
        assert ("Ready", "True") in [(c.type, c.status) for c in pod.status.conditions]
    deployment = read(state.api.store, "deployments", "default", "nginx")
    assert deployment.status.available_replicas == 3
    assert deployment.status.updated_replicas == 3


def test_journey_nodes_register_before_kubectl_creates_the_deployment():
    journal = finished("journey").journal
    creates = [(e.actor, e.resource) for e in journal if e.verb == "create" and e.code == 201]
    nodes = [i for i, c in enumerate(creates) if c[1] == "nodes"]
    deployment = creates.index(("kubernetes-admin", "deployments"))
    assert len(nodes) == 3 and max(nodes) < deployment


def test_kubectl_create_deployment_builds_what_kubectl_sends():
    # upstream: kubectl/pkg/cmd/create/create_deployment.go: labels app=<name> on the object,
    # selector and template; the container named after the image
    d = kubectl_create_deployment("nginx", "registry.k8s.io/nginx:1.27", 3)
    assert dict(d.metadata.labels) == {"app": "nginx"}
    assert dict(d.spec.selector.match_labels) == {"app": "nginx"}
    assert [(c.name, c.image) for c in d.spec.template.spec.containers] == [
        ("nginx", "registry.k8s.io/nginx:1.27")
    ]
    assert d.spec.replicas == 3


def test_rolling_update_keeps_old_replicaset_at_zero_and_never_exceeds_surge():
    # upstream: rolling.go reconcileNewReplicaSet/reconcileOldReplicaSets: with maxSurge 1 and
    # maxUnavailable 0, at most replicas+1 pods exist and at least replicas are available
    result = finished("rolling-update")
    sets = listed(result.state, "replicasets", "default")
    assert sorted(rs.spec.replicas for rs in sets) == [0, 3]
    started = False
    for state in result.states():
        d = read(state.api.store, "deployments", "default", "nginx")
        if d is None or d.metadata.generation < 2:
            continue
        started = True
        live = [
            p
            for p in listed(state, "pods", "default")
            if p.metadata.deletion_timestamp is None and p.status.phase != "Failed"
        ]
        assert len(live) <= 4
    assert started


def test_scale_goes_up_to_five_then_down_to_two():
    # upstream: replica_set.go manageReplicas creates the missing pods, then deletes the surplus
    result = finished("scale")
    counts = []
    for state in result.states():
        n = len([p for p in listed(state, "pods", "default") if p.status.phase == "Running"])
        if not counts or counts[-1] != n:
            counts.append(n)
    assert max(counts) == 5
    assert counts[-1] == 2


def test_node_failure_taints_evicts_after_toleration_seconds_and_replaces():
    # upstream: node_lifecycle_controller.go (Unknown after the grace period, the unreachable
    # NoExecute taint), taint_eviction.go (delete after tolerationSeconds=300 from
    # DefaultTolerationSeconds), replica_set.go (a terminating pod is not counted)
    result = finished("node-failure")
    crash = next(i for i, a in enumerate(result.actions) if isinstance(a, Crash))
    failed_at = list(result.states())[crash].api.now
    evictions = [
        (i, e)
        for i, e in enumerate(result.journal)
        if e.actor == "tainteviction" and e.verb == "delete" and e.code == 200
    ]
    assert len(evictions) == 1
    clock = 0
    times = []
    for step in result.steps:
        if isinstance(step.action, Tick):
            clock += step.action.seconds
        times.extend(clock for _ in step.entries)
    evicted_at = times[evictions[0][0]]
    # 50 s node-monitor grace period, then the 300 s toleration
    assert evicted_at - failed_at >= 300 + 50
    pods = [p for p in listed(result.state, "pods", "default") if p.spec.node_name == "node-2"]
    assert pods and all(p.metadata.deletion_timestamp is not None for p in pods)


def test_node_failure_adds_the_noschedule_twin():
    # upstream: doNoScheduleTaintingPass: Ready=Unknown -> node.kubernetes.io/unreachable:NoSchedule
    # (the node lifecycle controller's, no stand-in)
    result = finished("node-failure")
    node = read(result.state.api.store, "nodes", "", "node-2")
    assert ("node.kubernetes.io/unreachable", "NoSchedule") in [
        (t.key, t.effect) for t in node.spec.taints
    ]
    assert "noschedule-taints-stand-in" not in result.state.components


def test_cascading_delete_removes_replicaset_then_pods():
    # upstream: garbagecollector.go attemptToDeleteItem: Background deletes dependents after
    # the owner is gone; the kubelet finishes each pod's graceful deletion
    result = finished("cascading-delete")
    order = [
        e.resource
        for e in result.journal
        if e.verb == "delete" and e.code == 200 and e.actor != "kubernetes-admin"
    ]
    assert "replicasets" in order and "pods" in order
    assert order.index("replicasets") < order.index("pods")
    for resource in ("deployments", "replicasets", "pods"):
        assert listed(result.state, resource, "default") == ()


def test_a_guarded_request_waits_for_its_condition():
    s = scenario("rolling-update")
    state = s.initial_state()
    state = replace(state, clients=state.clients[1:])  # only the guarded image change
    assert isinstance(state.clients[0], Guarded)
    assert ClientRequest() not in enabled(state)
    with pytest.raises(ValueError, match="waits"):
        from kubeproof.model.cluster import step

        step(state, ClientRequest())


def test_the_fair_run_never_takes_a_fault_and_is_deterministic():
    a, b = run(scenario("journey")), finished("journey")
    assert a.journal == b.journal and a.actions == b.actions
    assert not any(is_fault(x) for x in a.actions)


def test_the_run_stops_at_max_steps():
    result = run(scenario("journey"), max_steps=50)
    assert result.reason == "max_steps" and len(result.steps) == 50


def test_scenario_from_manifests_registers_nodes_and_creates_workloads():
    objects = load_paths(["examples/nodes.yaml", "examples/nginx-deployment.yaml"])
    s = scenario_from_manifests(objects)
    names = [c.name for c in s.controllers if c.name.startswith("kubelet-")]
    assert names and all(isinstance(c, (Guarded,)) or c.user for c in s.clients)
    result = run(s)
    assert result.reason == "quiescent" and result.failed_facts() == ()


def test_unknown_scenario_is_a_user_error():
    from kubeproof.model.errors import KubeproofError

    with pytest.raises(KubeproofError, match="unknown scenario"):
        scenario("nope")


def test_a_crashed_process_is_restarted_by_the_fair_run():
    """A crash of kube-controller-manager (a process of several components) is followed by its
    restart: the run is not quiescent while a process is down."""
    from kubeproof.model.cluster import Crash, step
    from kubeproof.model.run import run
    from kubeproof.model.scenarios import scenario

    journey = scenario("journey")
    crashed = step(journey.initial_state(), Crash("kube-controller-manager"))
    result = run(crashed)
    assert result.reason == "quiescent"
    assert all(c.running for c in result.state.components.values())
    assert journey.failed_facts(result.state) == ()
