"""The EndpointSlice controller: what a slice lists, how the controller keeps it so, and the
slices in the composed cluster.

Upstream: staging/src/k8s.io/endpointslice (podToEndpoint, reconciler.go, the tracker) and
pkg/controller/endpointslice/endpointslice_controller.go (syncService, the event handlers).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from kubeproof.model.apiserver.server import Request, Response, default_users, initial_state, read
from kubeproof.model.cluster import ClientRequest, step
from kubeproof.model.controllers.endpointslice import (
    EndpointSliceController,
    SliceMemory,
    Tracked,
)
from kubeproof.model.controllers.endpointslice_reconciler import (
    CONTROLLER_NAME,
    MANAGED_BY,
    SERVICE_NAME,
    desired_endpoints,
    endpoint_of,
    plan,
)
from kubeproof.model.controllers.protocol import Delta, Outgoing, View
from kubeproof.model.objects import (
    Condition,
    Container,
    ContainerPort,
    EndpointPort,
    FrozenMap,
    Node,
    ObjectMeta,
    Pod,
    PodSpec,
    PodStatus,
    Service,
    ServicePort,
    ServiceSpec,
)
from kubeproof.model.run import run
from kubeproof.model.scenarios import ADMIN, listed, scenario

CONTROLLER = EndpointSliceController()
WEB = FrozenMap(app="web")


def _service(selector=WEB, publish=False, cluster_ip="10.96.1.1", target=8080, **meta):
    spec = ServiceSpec(
        selector=selector,
        ports=(ServicePort(80, protocol="TCP", target_port=target),),
        cluster_ip=cluster_ip,
        publish_not_ready_addresses=publish,
    )
    return Service(ObjectMeta("web", "default", uid="uid-svc", **meta), spec)


def _pod(name, ip="10.244.1.2", ready=True, labels=WEB, phase="Running", deleting=None, ports=()):
    container = Container("c", "nginx", ports=ports)
    return Pod(
        ObjectMeta(name, "default", uid=f"uid-{name}", labels=labels, deletion_timestamp=deleting),
        PodSpec(containers=(container,), node_name="node-1"),
        PodStatus(phase, (Condition("Ready", "True" if ready else "False"),), pod_ip=ip),
    )


NODE = Node(ObjectMeta("node-1", labels=FrozenMap({"topology.kubernetes.io/zone": "z1"})))


def _view(services=(), pods=(), slices=(), nodes=(NODE,)):
    def cache(objects, namespaced=True):
        return FrozenMap(
            (f"default/{o.metadata.name}" if namespaced else o.metadata.name, o) for o in objects
        )

    caches = FrozenMap(
        services=cache(services),
        pods=cache(pods),
        endpointslices=cache(slices),
        nodes=cache(nodes, namespaced=False),
    )
    return View("endpointslice", 0, caches, initial_state(default_users()))


# --- one endpoint -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ready", "deleting", "publish", "conditions"),
    [
        (True, None, False, (True, True, False)),
        (False, None, False, (False, False, False)),
        (True, 30, False, (False, True, True)),  # terminating: never ready, still serving
        (False, 30, False, (False, False, True)),
        (False, None, True, (True, False, False)),  # publishNotReadyAddresses
    ],
)
def test_an_endpoints_conditions_follow_readiness_and_termination(
    ready, deleting, publish, conditions
):
    e = endpoint_of(_pod("a", ready=ready, deleting=deleting), NODE, _service(publish=publish))
    c = e.conditions
    assert (c.ready, c.serving, c.terminating) == conditions
    assert (e.addresses, e.node_name, e.zone, e.target_ref.uid) == (
        ("10.244.1.2",),
        "node-1",
        "z1",
        "uid-a",
    )


def test_only_selected_pods_with_an_ip_that_are_not_terminal_are_listed():
    pods = (
        _pod("a"),
        _pod("b", labels=FrozenMap(app="db")),
        _pod("c", ip=""),
        _pod("d", phase="Succeeded"),
        _pod("e", ready=False, deleting=30),
    )
    groups, missing = desired_endpoints(_view(pods=pods), _service())
    ((ports, endpoints),) = groups.items()
    assert ports == (EndpointPort("", "TCP", 8080),) and not missing
    assert [e.target_ref.name for e in endpoints] == ["a", "e"]


def test_a_named_target_port_is_resolved_per_pod_and_a_pod_without_it_goes_portless():
    named = _service(target="http")
    with_port = _pod("a", ports=(ContainerPort(8080, name="http"),))
    without = _pod("b", ip="10.244.1.3")
    groups, _ = desired_endpoints(_view(pods=(with_port, without)), named)
    assert {ports: [e.target_ref.name for e in es] for ports, es in groups.items()} == {
        (EndpointPort("", "TCP", 8080),): ["a"],
        (): ["b"],
    }


def test_a_pod_on_a_node_missing_from_the_cache_is_left_out_and_the_sync_retried():
    groups, missing = desired_endpoints(_view(pods=(_pod("a"),), nodes=()), _service())
    assert groups == {} and missing
    result = CONTROLLER.reconcile(
        _view((_service(),), (_pod("a"),), nodes=()), "default/web", SliceMemory()
    )
    [(verb, key, _)] = [o.tag for o in result.requests]  # the placeholder slice
    assert (verb, key) == ("create", "default/web")
    assert result.memory.syncing["default/web"] == (1, False, True)


# --- the slices ------------------------------------------------------------------------------


def test_a_new_slice_is_owned_by_the_service_and_labelled_for_it():
    view = _view((_service(labels=FrozenMap(team="a")),), (_pod("a"),))
    result = CONTROLLER.reconcile(view, "default/web", SliceMemory())
    (sent,) = result.requests
    s = sent.request.body
    assert sent.request.verb == "create" and s.metadata.generate_name == "web-"
    assert dict(s.metadata.labels) == {
        "team": "a",
        SERVICE_NAME: "web",
        MANAGED_BY: CONTROLLER_NAME,
    }
    (owner,) = s.metadata.owner_references
    assert (owner.kind, owner.uid, owner.controller, owner.block_owner_deletion) == (
        "Service",
        "uid-svc",
        True,
        True,
    )
    assert s.address_type == "IPv4" and [e.addresses for e in s.endpoints] == [("10.244.1.2",)]


def test_a_headless_service_s_slice_carries_the_headless_label():
    view = _view((_service(cluster_ip="None"),), (_pod("a"),))
    (sent,) = CONTROLLER.reconcile(view, "default/web", SliceMemory()).requests
    assert "service.kubernetes.io/headless" in sent.request.body.metadata.labels


def _stored_slice(service, pods, name="web-abcde", uid="uid-slice", generation=1):
    (created,), _, _ = plan(service, (), desired_endpoints(_view(pods=pods), service)[0])
    meta = replace(created.metadata, name=name, uid=uid, generation=generation)
    return replace(created, metadata=meta)


def test_an_unchanged_slice_is_left_alone_and_a_changed_one_updated_in_place():
    service, a, b = _service(), _pod("a"), _pod("b", ip="10.244.1.3")
    stored = _stored_slice(service, (a, b))
    assert plan(service, (stored,), desired_endpoints(_view(pods=(a, b)), service)[0]) == (
        (),
        (),
        (),
    )
    terminating = replace(b, metadata=replace(b.metadata, deletion_timestamp=30))
    _, (updated,), _ = plan(
        service, (stored,), desired_endpoints(_view(pods=(a, terminating)), service)[0]
    )
    assert updated.metadata.name == "web-abcde"
    assert [e.conditions.ready for e in updated.endpoints] == [True, False]


def test_a_service_that_selects_nothing_keeps_one_placeholder_slice():
    service = _service()
    (placeholder,), _, _ = plan(service, (), {})
    assert placeholder.endpoints == () and placeholder.ports == ()
    kept = replace(placeholder, metadata=replace(placeholder.metadata, name="web-x", uid="u"))
    assert plan(service, (kept,), {}) == ((), (), ())


def test_a_slice_no_longer_wanted_becomes_the_new_one_instead_of_a_delete_and_create():
    service = _service()
    stored = _stored_slice(service, (_pod("a"),))
    renumbered = _service(target=9090)
    groups = desired_endpoints(_view(pods=(_pod("a"),)), renumbered)[0]
    creates, (updated,), deletes = plan(renumbered, (stored,), groups)
    assert creates == () and deletes == ()
    assert updated.metadata.name == "web-abcde" and updated.ports[0].port == 9090


def test_no_slice_is_created_for_a_service_being_deleted():
    service = _service(deletion_timestamp=10)
    assert plan(service, (), desired_endpoints(_view(pods=(_pod("a"),)), service)[0]) == (
        (),
        (),
        (),
    )


def test_services_without_a_selector_or_of_type_external_name_get_no_slices():
    no_selector = _service(selector=FrozenMap())
    external = replace(_service(), spec=replace(_service().spec, type="ExternalName"))
    for service in (no_selector, external):
        result = CONTROLLER.reconcile(_view((service,), (_pod("a"),)), "default/web", SliceMemory())
        assert result.requests == ()


# --- keys and the tracker ------------------------------------------------------------------------


def test_a_pod_event_queues_the_services_whose_selector_matches_it():
    view = _view((_service(),))
    assert CONTROLLER.keys(Delta("pods", "ADDED", _pod("a")), view) == ("default/web",)
    other = _pod("b", labels=FrozenMap(app="db"))
    assert CONTROLLER.keys(Delta("pods", "ADDED", other), view) == ()


def test_a_pod_update_matters_only_when_its_endpoint_or_its_labels_change():
    view, pod = _view((_service(),)), _pod("a")
    same = replace(pod, spec=replace(pod.spec, priority=5))
    assert CONTROLLER.keys(Delta("pods", "MODIFIED", same, pod), view) == ()
    unready = _pod("a", ready=False)
    assert CONTROLLER.keys(Delta("pods", "MODIFIED", unready, pod), view) == ("default/web",)
    relabelled = _pod("a", labels=FrozenMap(app="db"))
    assert CONTROLLER.keys(Delta("pods", "MODIFIED", relabelled, pod), view) == ("default/web",)


def test_the_controllers_own_write_does_not_queue_the_service_again():
    stored = _stored_slice(_service(), (_pod("a"),))
    tracked = SliceMemory(
        tracker=FrozenMap({"default/web": Tracked("uid-svc", FrozenMap({"uid-slice": 1}))})
    )
    delta = Delta("endpointslices", "ADDED", stored)
    key = CONTROLLER.keys(delta, _view())[0]
    memory = CONTROLLER.observe(tracked, delta, _view())
    assert CONTROLLER.reconcile(_view(), key, memory).after == ()


def test_someone_elses_change_to_a_slice_queues_the_service_a_second_later():
    stored = _stored_slice(_service(), (_pod("a"),), generation=2)
    tracked = SliceMemory(
        tracker=FrozenMap({"default/web": Tracked("uid-svc", FrozenMap({"uid-slice": 1}))})
    )
    delta = Delta("endpointslices", "MODIFIED", stored, stored)
    (key,) = CONTROLLER.keys(delta, _view())
    memory = CONTROLLER.observe(tracked, delta, _view())
    assert CONTROLLER.reconcile(_view(), key, memory).after == (("default/web", 1),)


def test_a_cache_older_than_the_controllers_last_write_is_stale_and_retried_with_backoff():
    service, pod = _service(), _pod("a")
    stored = _stored_slice(service, (pod,))
    memory = SliceMemory(
        tracker=FrozenMap({"default/web": Tracked("uid-svc", FrozenMap({"uid-slice": 2}))})
    )
    view = _view((service,), (pod,), (stored,))
    delays = []
    for _ in range(3):
        result = CONTROLLER.reconcile(view, "default/web", memory)
        assert result.requests == ()
        delays.append(result.after[0][1])
        memory = result.memory
    assert delays == [1, 2, 4]


def test_a_sync_waits_for_its_writes_and_a_failed_write_is_retried():
    view = _view((_service(),), (_pod("a"),))
    result = CONTROLLER.reconcile(view, "default/web", SliceMemory())
    again = CONTROLLER.reconcile(view, "default/web", result.memory)
    assert again.requests == () and again.memory.syncing["default/web"] == (1, True, False)
    (sent,) = result.requests
    answered = CONTROLLER.on_response(again.memory, sent, Response(409), view)
    assert answered.after == (("default/web", 1),) and answered.requeue == ("default/web",)


def test_a_create_refused_because_the_namespace_is_terminating_is_dropped():
    from kubeproof.model.apiserver.admission import Status

    view = _view((_service(),), (_pod("a"),))
    (sent,) = CONTROLLER.reconcile(view, "default/web", SliceMemory()).requests
    refused = Status(
        403,
        "Forbidden",
        "unable to create new content in namespace default because it is being terminated",
    )
    result = CONTROLLER.on_response(
        SliceMemory(syncing=FrozenMap({"default/web": (1, False, False)})),
        sent,
        Response(403, refused),
        view,
    )
    assert result.after == () and result.requeue == ()


# --- in the cluster ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def journey():
    return run(scenario("journey"))


def test_the_journeys_service_gets_one_slice_listing_its_three_ready_pods(journey):
    (s,) = listed(journey.state, "endpointslices", "default")
    pods = listed(journey.state, "pods", "default")
    assert sorted(e.target_ref.name for e in s.endpoints) == sorted(p.metadata.name for p in pods)
    assert all(e.conditions.ready for e in s.endpoints)
    creates = [e for e in journey.journal if e.actor == "endpointslice" and e.verb == "create"]
    assert [e.code for e in creates] == [201]


def test_deleting_the_service_takes_its_slice_with_it(journey):
    delete = Request(ADMIN, "delete", "services", "default", "nginx")
    state = replace(journey.state, clients=(delete,))
    after = run(step(state, ClientRequest())).state
    assert read(after.api.store, "services", "default", "nginx") is None
    assert listed(after, "endpointslices", "default") == ()


def test_a_slice_deleted_behind_the_controllers_back_is_recreated(journey):
    (s,) = listed(journey.state, "endpointslices", "default")
    delete = Request(ADMIN, "delete", "endpointslices", "default", s.metadata.name)
    state = replace(journey.state, clients=(delete,))
    after = run(step(state, ClientRequest())).state
    (again,) = listed(after, "endpointslices", "default")
    assert again.metadata.name != s.metadata.name and len(again.endpoints) == 3


def test_a_write_is_an_outgoing_request_as_the_controllers_service_account():
    view = _view((_service(),), (_pod("a"),))
    (sent,) = CONTROLLER.reconcile(view, "default/web", SliceMemory()).requests
    assert isinstance(sent, Outgoing)
    assert sent.request.user == "system:serviceaccount:kube-system:endpointslice-controller"
