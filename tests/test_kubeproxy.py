"""kube-proxy: the rules it programs from Services and EndpointSlices, its rate-limited syncs,
a request to a NodePort answered from them, and the preStop sleep that keeps a pod serving.

Upstream: pkg/proxy/topology.go CategorizeEndpoints (ready endpoints, else serving terminating
ones), pkg/proxy/endpointslicecache.go (unset conditions), the bounded-frequency sync runner
(minSyncPeriod 1 s, burst 2), kuberuntime_container.go killContainer (preStop, then SIGTERM).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from kubeproof.model import runtime
from kubeproof.model.apiserver.server import default_users, initial_state
from kubeproof.model.cluster import Crash, Restart, step
from kubeproof.model.controllers.protocol import View
from kubeproof.model.kubeproxy import (
    Backend,
    KubeProxy,
    NodePortRequest,
    ProxyMemory,
    accepts,
    proxies,
    rules,
    usable,
)
from kubeproof.model.objects import (
    Endpoint,
    EndpointConditions,
    EndpointPort,
    EndpointSlice,
    FrozenMap,
    ObjectMeta,
    ObjectReference,
    Service,
    ServicePort,
    ServiceSpec,
)
from kubeproof.model.run import run
from kubeproof.model.scenarios import scenario

SERVICE = Service(
    ObjectMeta("web", "default", uid="uid-1"),
    ServiceSpec(
        type="NodePort",
        selector=FrozenMap(app="web"),
        ports=(ServicePort(80, protocol="TCP", target_port=8080, node_port=30001),),
        cluster_ip="10.96.1.1",
    ),
)


def _endpoint(ip, node="node-1", ready=True, serving=True, terminating=False, pod="a"):
    return Endpoint(
        (ip,),
        EndpointConditions(ready, serving, terminating),
        target_ref=ObjectReference("Pod", "default", pod, f"uid-{pod}"),
        node_name=node,
    )


def _slice(*endpoints, service="web", port=8080, name="web-abcde"):
    labels = FrozenMap({"kubernetes.io/service-name": service})
    return EndpointSlice(
        ObjectMeta(name, "default", labels=labels),
        "IPv4",
        endpoints,
        (EndpointPort("", "TCP", port),),
    )


def _view(services=(SERVICE,), slices=(), now=0):
    caches = FrozenMap(
        services=FrozenMap((f"default/{s.metadata.name}", s) for s in services),
        endpointslices=FrozenMap((f"default/{s.metadata.name}", s) for s in slices),
    )
    revisions = FrozenMap(services=7, endpointslices=9)
    return View("kube-proxy-node-1", now, caches, initial_state(default_users()), revisions)


def _backend(ip, node="node-1", ready=True, serving=True, terminating=False):
    return Backend(ip, 80, f"default/{ip}", node, ready, serving, terminating)


# --- which endpoints carry traffic -------------------------------------------------------------


def test_only_ready_endpoints_carry_traffic_while_any_is_ready():
    backends = (_backend("10.0.0.1"), _backend("10.0.0.2", ready=False, terminating=True))
    assert usable(backends, "Cluster", "node-1") == backends[:1]


def test_serving_terminating_endpoints_are_the_fallback_when_none_is_ready():
    # ProxyTerminatingEndpoints (GA 1.28): rather than REJECT, the terminating pods that serve
    terminating = _backend("10.0.0.2", ready=False, terminating=True)
    not_serving = _backend("10.0.0.3", ready=False, serving=False, terminating=True)
    assert usable((terminating, not_serving), "Cluster", "node-1") == (terminating,)


def test_traffic_policy_local_keeps_this_nodes_endpoints_only():
    here, there = _backend("10.0.0.1"), _backend("10.0.1.1", node="node-2")
    assert usable((here, there), "Local", "node-1") == (here,)
    assert usable((there,), "Local", "node-1") == ()


# --- the rules --------------------------------------------------------------------------------


def test_a_service_port_leads_by_cluster_ip_and_node_port_to_its_slices_endpoints():
    (rule,) = rules(_view(slices=(_slice(_endpoint("10.244.1.2")),)), "node-1")
    assert (rule.service, rule.cluster_ip, rule.port, rule.node_port) == (
        "default/web",
        "10.96.1.1",
        80,
        30001,
    )
    assert [(b.address, b.port, b.pod) for b in rule.backends] == [
        ("10.244.1.2", 8080, "default/a")
    ]
    assert rule.node_port_backends == rule.backends


def test_a_service_without_endpoints_is_rejected():
    (rule,) = rules(_view(), "node-1")
    assert rule.backends == () and rule.node_port_backends == ()


def test_headless_and_external_name_services_get_no_rules():
    headless = replace(SERVICE, spec=replace(SERVICE.spec, cluster_ip="None"))
    external = replace(SERVICE, spec=replace(SERVICE.spec, type="ExternalName", cluster_ip=""))
    assert rules(_view((headless,)), "node-1") == ()
    assert rules(_view((external,)), "node-1") == ()


def test_unset_conditions_read_as_ready_and_serving_not_terminating():
    unknown = Endpoint(("10.244.1.2",), EndpointConditions(), node_name="node-1")
    (rule,) = rules(_view(slices=(_slice(unknown),)), "node-1")
    (backend,) = rule.backends
    assert (backend.ready, backend.serving, backend.terminating) == (True, True, False)


def test_slices_of_other_services_or_ports_are_not_used():
    other = _slice(_endpoint("10.244.1.9"), service="db", name="db-abcde")
    wrong_port_name = replace(_slice(_endpoint("10.244.1.8")), ports=(EndpointPort("http"),))
    (rule,) = rules(_view(slices=(other, wrong_port_name)), "node-1")
    assert rule.backends == ()


# --- the sync runner ---------------------------------------------------------------------------


def test_two_syncs_run_at_once_and_a_third_waits_for_the_next_second():
    proxy = KubeProxy("node-1")
    view = _view(now=10)
    memory = proxy.initial_memory()
    first = proxy.reconcile(view, "sync", memory)
    second = proxy.reconcile(view, "sync", first.memory)
    third = proxy.reconcile(view, "sync", second.memory)
    assert first.memory.synced and first.memory.revision == 9
    assert second.memory.tokens == 0
    assert third.memory.rules == second.memory.rules and third.after == (("sync", 1),)
    later = proxy.reconcile(_view(now=11), "sync", third.memory)
    assert later.after == () and later.memory.tokens == 0


def test_a_longer_min_sync_period_makes_a_change_wait_longer():
    proxy = KubeProxy("node-1", min_sync_period=10)
    memory = ProxyMemory(synced=True, tokens=0, refilled=10)
    assert proxy.reconcile(_view(now=13), "sync", memory).after == (("sync", 7),)


# --- requests to a NodePort --------------------------------------------------------------------


@pytest.fixture(scope="module")
def journey():
    return run(scenario("journey"))


def test_the_journeys_request_reaches_a_running_ready_pod(journey):
    (entry,) = [e for e in journey.journal if e.actor == "curl"]
    assert entry.code == 200 and entry.key == "default/nginx"
    assert "node-2:30173 -> 10.244." in entry.note and entry.note.endswith("200 OK")


def test_every_kube_proxy_forwards_the_node_port_to_the_three_pods(journey):
    programmed = proxies(journey.state)
    assert sorted(programmed) == ["node-1", "node-2", "node-3"]
    for memory in programmed.values():
        (rule,) = memory.rules
        assert rule.node_port == 30173 and len(rule.node_port_backends) == 3
        assert all(accepts(journey.state, b) for b in rule.node_port_backends)


def test_a_request_to_a_stopping_pod_is_refused(journey):
    state = journey.state
    backend = proxies(state)["node-2"].rules[0].node_port_backends[0]
    name = f"kubelet-{backend.node}"
    kubelet = state.components[name]
    record = kubelet.memory.pods[backend.pod]
    stopping = runtime.stop(record.runtime, state.api.now, 30, 1)
    pods = kubelet.memory.pods.set(backend.pod, replace(record, runtime=stopping))
    kubelet = replace(kubelet, memory=replace(kubelet.memory, pods=pods))
    stopped = replace(state, components=state.components.set(name, kubelet))
    entry = NodePortRequest("node-2", "default", "nginx")(stopped)
    assert entry.code is None and "connection refused (its containers are stopping)" in entry.note


def test_a_restarted_kube_proxy_has_no_known_rules_until_it_syncs(journey):
    crashed = step(journey.state, Crash("kube-proxy-node-2"))
    assert "node-2" not in proxies(crashed)
    restarted = step(crashed, Restart("kube-proxy-node-2"))
    entry = NodePortRequest("node-2", "default", "nginx")(restarted)
    assert entry.code is None and "no rule programmed" in entry.note
    resynced = run(restarted)
    assert proxies(resynced.state)["node-2"].rules == proxies(journey.state)["node-2"].rules


# --- a preStop sleep keeps a terminating pod serving ---------------------------------------------


def test_the_pre_stop_sleep_comes_before_sigterm_and_the_pod_serves_meanwhile():
    rt = runtime.stop(runtime.running("10.244.1.2"), now=0, grace=30, stop_seconds=1, pre_stop=5)
    assert (rt.state, rt.due, runtime.accepts_connections(rt)) == ("PreStop", 5, True)
    assert runtime.phase(rt) == "Running"
    rt = runtime.advance(rt, 5)
    assert (rt.state, rt.stop_started, rt.deadline) == ("Stopping", 5, 30)
    assert not runtime.accepts_connections(rt)


def test_a_grace_period_shorter_than_the_hook_cuts_it_and_sigterm_gets_two_seconds():
    rt = runtime.stop(runtime.running("10.244.1.2"), now=0, grace=3, stop_seconds=5, pre_stop=10)
    assert rt.due == 3
    rt = runtime.advance(rt, 3)
    assert (rt.state, rt.deadline) == ("Stopping", 5)  # minimumGracePeriodInSeconds
    assert runtime.advance(rt, 5).exit_code == runtime.KILLED


def test_no_hook_runs_without_a_grace_period_left():
    rt = runtime.stop(runtime.running("10.244.1.2"), now=0, grace=0, stop_seconds=1, pre_stop=10)
    assert rt.state == "Stopping"
