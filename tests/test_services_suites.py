"""The Service suites and properties: where the rolling-update-service and namespace-delete
suites start, what zero downtime needs (reports/zero-downtime.md states these findings; each is
pinned here), and that each Service property catches what it is about.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import pytest

from kubeproof.journey import render_text
from kubeproof.model.apiserver import etcd
from kubeproof.model.apiserver.server import Request, handle, read
from kubeproof.model.cluster import (
    Crash,
    Reconcile,
    Relist,
    Restart,
    Send,
    State,
    enabled,
    step,
    transition,
)
from kubeproof.model.controllers.protocol import Outgoing, Reconciled
from kubeproof.model.kubeproxy import Backend, KubeProxy, proxies
from kubeproof.model.objects import (
    Container,
    Endpoint,
    EndpointConditions,
    FrozenMap,
    ObjectMeta,
    ObjectReference,
    Pod,
    PodSpec,
)
from kubeproof.model.run import actor_of, is_fault, run
from kubeproof.model.scenarios import ADMIN, listed, rolling_update_service, scenario
from kubeproof.properties.bugs.clusters import settled
from kubeproof.properties.catalogue import SAFETY, UPSTREAM_RACES
from kubeproof.properties.engines.hypothesis_engine import fair_first
from kubeproof.properties.services import (
    ENDPOINTS_CONVERGE,
    ENDPOINTSLICES_SELECT,
    NAMESPACES_EMPTIED,
    PROXY_FORWARDS_LISTED,
    ZERO_DOWNTIME,
)
from kubeproof.properties.suites import PRE_STOP_SECONDS, SUITES, suite

# --- the suites -----------------------------------------------------------------------------------


def test_the_service_suites_start_with_the_service_served_on_every_node():
    rollout = suite("rolling-update-service").scenario().initial_state()
    assert sorted(proxies(rollout)) == ["node-1", "node-2", "node-3"]
    assert all(len(m.rules[0].node_port_backends) == 3 for m in proxies(rollout).values())
    assert ZERO_DOWNTIME.holds_in(rollout)
    assert len(rollout.clients) == 2  # kubectl set image, then the request to the NodePort
    deletion = suite("namespace-delete").scenario().initial_state()
    assert [type(c).__name__ for c in deletion.clients] == ["Guarded"]
    assert listed(deletion, "endpointslices", "team")


@pytest.mark.parametrize("name", ["rolling-update-service", "namespace-delete"])
def test_the_service_suites_check_the_service_properties_under_every_fault_kind(name):
    s = SUITES[name]
    names = {p.name for p in s.properties}
    wanted = {p.name for p in SAFETY} | {ENDPOINTS_CONVERGE.name, NAMESPACES_EMPTIED.name}
    assert wanted <= names
    assert ZERO_DOWNTIME in UPSTREAM_RACES and ZERO_DOWNTIME.name not in names
    assert min(s.faults.crash, s.faults.drop_watch, s.faults.stale_list, s.faults.timeout) == 1


# --- zero downtime --------------------------------------------------------------------------------


@cache
def _rollout(pre_stop: int, min_sync_period: int = 1) -> State:
    """The rolling-update-service cluster settled with the Service served, ready to roll."""
    full = rolling_update_service(pre_stop=pre_stop)
    controllers = tuple(
        replace(c, min_sync_period=min_sync_period) if isinstance(c, KubeProxy) else c
        for c in full.controllers
    )
    full = replace(full, controllers=controllers)
    return settled(replace(full, clients=full.clients[:2]), full.clients[2:]).initial_state()


def _first_downtime(state: State, starved: str = "", seconds: int = 0, max_steps: int = 3000):
    """The fair run from ``state`` (model/run.py's order) until zero downtime is violated;
    with ``starved``, that component is not served for ``seconds`` once the first pod is being
    deleted (its watch, its queue and its timers wait). (violation, the steps taken)."""
    actors = ["kubectl", *state.components, "script"]
    last, since, taken = len(actors) - 1, None, []
    for _ in range(max_steps):
        if since is None and any(p.metadata.deletion_timestamp for p in listed(state, "pods")):
            since = state.api.now
        hold = since is not None and state.api.now < since + seconds
        actions = tuple(
            a for a in enabled(state) if not is_fault(a) and not (hold and actor_of(a) == starved)
        )
        if not actions:
            return None, taken
        action = actions[fair_first(state, actions, last, actors)]
        state, _ = transition(state, action)
        taken.append(action)
        if actor_of(action) in actors:
            last = actors.index(actor_of(action))
        violation = ZERO_DOWNTIME.check(state)
        if violation is not None:
            return violation, taken
    return None, taken


def test_without_a_pre_stop_hook_the_rollout_drops_requests_even_in_the_fair_run():
    # kubernetes/kubernetes#43576: the kubelet sends SIGTERM as soon as it sees the deletion,
    # while the endpoint's removal still has to go through the EndpointSlice controller, the
    # api-server and every kube-proxy
    violation, taken = _first_downtime(_rollout(0))
    assert violation is not None, "the fair rollout kept every request answered"
    evidence = dict(violation.evidence)
    assert evidence["not answering"] and evidence["via"] == "NodePort"
    kubelet_syncs = [
        a for a in taken if isinstance(a, Reconcile) and a.component.startswith("kubelet")
    ]
    assert kubelet_syncs  # the kubelet's sync that sent SIGTERM came first


def test_a_pre_stop_sleep_longer_than_kube_proxys_sync_keeps_the_fair_rollout_up():
    violation, taken = _first_downtime(_rollout(PRE_STOP_SECONDS))
    assert violation is None and len(taken) > 500  # the whole rollout, to quiescence


def test_a_kube_proxy_lagging_as_long_as_the_pre_stop_sleep_drops_requests():
    violation, _ = _first_downtime(_rollout(PRE_STOP_SECONDS), "kube-proxy-node-3", 5)
    assert violation is not None and dict(violation.evidence)["node"] == "node-3"
    shorter, _ = _first_downtime(_rollout(PRE_STOP_SECONDS), "kube-proxy-node-3", 4)
    assert shorter is None


def test_a_min_sync_period_longer_than_the_pre_stop_sleep_drops_requests():
    violation, _ = _first_downtime(_rollout(PRE_STOP_SECONDS, min_sync_period=10))
    assert violation is not None
    longer, _ = _first_downtime(_rollout(11, min_sync_period=10))
    assert longer is None


def test_a_stale_first_list_after_a_restart_makes_a_kube_proxy_reject_the_service():
    # a restarted kube-proxy's first list of EndpointSlices answered from before the slice
    # existed (a lagging watch cache), its list of Services fresh
    state = _rollout(PRE_STOP_SECONDS)
    proxy = "kube-proxy-node-1"
    state = step(step(state, Crash(proxy)), Restart(proxy))
    oldest = max(state.api.store.compact_revision, 1)
    state = step(state, Relist(proxy, "endpointslices", oldest))
    state = step(state, Relist(proxy, "services"))
    state = step(state, Reconcile(proxy, "sync"))
    violation = ZERO_DOWNTIME.check(state)
    assert violation is not None and "REJECTed" in violation.message


# --- each property catches what it is about -------------------------------------------------------


@pytest.fixture(scope="module")
def journey():
    return run(scenario("journey"))


class _Inventing(KubeProxy):
    """A kube-proxy that forwards to a backend no EndpointSlice lists."""

    def reconcile(self, view, key, memory):
        result = super().reconcile(view, key, memory)
        invented = Backend("10.244.9.9", 80, "default/ghost", "node-1", True, True, False)
        rules = tuple(replace(r, backends=(*r.backends, invented)) for r in result.memory.rules)
        return Reconciled(replace(result.memory, rules=rules), after=result.after)


def _resync(state: State, name: str, proxy: KubeProxy) -> tuple[State, State]:
    """The state with ``proxy`` as the code of kube-proxy ``name`` and a sync queued, and the
    state after that sync."""
    component = replace(state.components[name], queue=("sync",))
    before = replace(
        state,
        controllers=state.controllers.set(name, proxy),
        components=state.components.set(name, component),
    )
    return before, step(before, Reconcile(name, "sync"))


def test_a_kube_proxy_forwarding_to_an_unlisted_endpoint_is_caught(journey):
    name, sync = "kube-proxy-node-1", Reconcile("kube-proxy-node-1", "sync")
    before, after = _resync(journey.state, name, _Inventing("node-1"))
    violation = PROXY_FORWARDS_LISTED.check(before, sync, after)
    assert violation is not None and "10.244.9.9" in violation.message
    before, after = _resync(journey.state, name, KubeProxy("node-1"))
    assert after.components[name].memory is not journey.state.components[name].memory
    assert PROXY_FORWARDS_LISTED.holds_in(before, sync, after)


def test_an_endpointslice_listing_a_pod_its_service_does_not_select_is_caught(journey):
    decoy = Pod(
        ObjectMeta("db-0", "default", labels=FrozenMap(app="db")),
        PodSpec(containers=(Container("db", "postgres"),)),
    )
    api, created = handle(
        journey.state.api, Request(ADMIN, "create", "pods", "default", body=decoy)
    )
    (s,) = listed(api, "endpointslices", "default")
    meta = created.object.metadata
    extra = Endpoint(
        ("10.244.1.9",),
        EndpointConditions(True, True, False),
        target_ref=ObjectReference("Pod", "default", meta.name, meta.uid),
    )
    bad = replace(s, endpoints=(*s.endpoints, extra))
    user = journey.state.controllers["endpointslice"].identity
    write = Request(user, "update", "endpointslices", "default", s.metadata.name, body=bad)
    component = replace(
        journey.state.components["endpointslice"],
        outbox=(Outgoing(write, "default/nginx", ("update", "default/nginx", s.metadata.uid)),),
    )
    before = replace(
        journey.state, api=api, components=journey.state.components.set("endpointslice", component)
    )
    action = Send("endpointslice")
    violation = ENDPOINTSLICES_SELECT.check(before, action, step(before, action))
    assert violation is not None and "db-0" in violation.message


def test_slices_or_rules_left_behind_the_pods_are_caught(journey):
    assert ENDPOINTS_CONVERGE.holds_in(journey.state)
    (s,) = listed(journey.state, "endpointslices", "default")
    shrunk = replace(s, endpoints=s.endpoints[1:])
    api, _ = handle(
        journey.state.api,
        Request(ADMIN, "update", "endpointslices", "default", s.metadata.name, body=shrunk),
    )
    assert (
        "do not list its pods" in ENDPOINTS_CONVERGE.check(replace(journey.state, api=api)).message
    )
    name = "kube-proxy-node-3"
    component = journey.state.components[name]
    forgetful = replace(component, memory=replace(component.memory, rules=()))
    state = replace(journey.state, components=journey.state.components.set(name, forgetful))
    assert "kube-proxy on node-3" in ENDPOINTS_CONVERGE.check(state).message


def test_a_namespace_left_terminating_or_with_content_is_caught():
    end = run(scenario("namespace-delete")).state
    assert NAMESPACES_EMPTIED.holds_in(end)
    store, _ = etcd.put(end.api.store, "/registry/configmaps/team/leftover", "x")
    left = replace(end, api=replace(end.api, store=store))
    assert "left in namespace team" in NAMESPACES_EMPTIED.check(left).message
    ns = read(end.api.store, "namespaces", "", "default")
    stuck = replace(ns, metadata=replace(ns.metadata, deletion_timestamp=5))
    store, _ = etcd.put(end.api.store, "/registry/namespaces/default", stuck)
    assert (
        "still" in NAMESPACES_EMPTIED.check(replace(end, api=replace(end.api, store=store))).message
    )


# --- the narrated journey -------------------------------------------------------------------------


def test_the_journey_narrates_the_expose_step_and_the_request_to_a_ready_pod(journey):
    text = render_text(journey)
    marks = [
        "available 3",
        "kubectl sends POST /api/v1/namespaces/default/services",
        "The Service registry allocates cluster IP 10.96.",
        "The EndpointSlice controller syncs default/nginx and creates EndpointSlice nginx-*",
        "POST /apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
        "The kube-proxy on node-2 syncs its rules: programs default/nginx 10.96.1.1:80 and "
        "NodePort 30173 -> 10.244.",
        "a user runs `curl http://",
        "Running, Ready=True. 200 OK.",
        "[ok] every kube-proxy forwards the NodePort of default/nginx to the 3 Ready pods",
    ]
    positions = [text.find(m) for m in marks]
    assert -1 not in positions, [m for m, p in zip(marks, positions, strict=True) if p < 0]
    assert positions == sorted(positions)


def test_the_namespace_deletion_is_narrated_down_to_the_kube_proxies_dropping_the_service():
    text = render_text(run(scenario("namespace-delete")))
    marks = [
        "kubectl sends DELETE /api/v1/namespaces/team",
        "The namespace controller sends DELETECOLLECTION /api/v1/namespaces/team/pods",
        "deletes every EndpointSlice in namespace team",
        "The kube-proxy on node-1 syncs its rules: removes the rules of team/nginx",
        "[ok] nothing is left in namespace team",
    ]
    positions = [text.find(m) for m in marks]
    assert -1 not in positions, [m for m, p in zip(marks, positions, strict=True) if p < 0]
    assert positions == sorted(positions)
