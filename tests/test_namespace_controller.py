"""The namespace controller: a deleted namespace is emptied, pods first, then released.

Each test names the upstream behaviour it follows in its docstring (pkg/controller/namespace).
"""

from __future__ import annotations

from dataclasses import replace

from kubeproof.model.apiserver.rbac import NAMESPACE_CONTROLLER
from kubeproof.model.apiserver.server import (
    ApiState,
    Binding,
    Request,
    Response,
    default_users,
    handle,
    initial_state,
    read,
    tick,
)
from kubeproof.model.cluster import Guarded
from kubeproof.model.controllers.namespace import (
    CONDITION_TYPES,
    DELAY,
    NamespaceController,
    Sync,
    content,
    deletion_conditions,
    retry_seconds,
)
from kubeproof.model.controllers.protocol import Delta, Outgoing, View
from kubeproof.model.objects import (
    Condition,
    Container,
    FrozenMap,
    Namespace,
    ObjectMeta,
    Pod,
    PodSpec,
    Service,
    ServicePort,
    ServiceSpec,
)
from kubeproof.model.run import run
from kubeproof.model.scenarios import (
    NODES,
    Scenario,
    _node,
    _pod_cidr,
    builtin_controllers,
    deployment_complete,
    kubectl_create_deployment,
    listed,
    nodes_ready,
)

ADMIN = "kubernetes-admin"
TEAM = "team"
CONTROLLER = NamespaceController()


# --- the controller on its own -------------------------------------------------------------


def do(state: ApiState, user: str, verb: str, resource: str, namespace="", name="", **kw):
    state, r = handle(state, Request(user, verb, resource, namespace, name, **kw))
    assert r.ok, r
    return state, r


def pod(name: str) -> Pod:
    return Pod(ObjectMeta(name=name), PodSpec(containers=(Container("c", "nginx"),)))


def terminating(pods=("a",), bound=("a",), services=()) -> ApiState:
    """A namespace "team" with pods (some bound, so deleted gracefully) and Services,
    deleted by the admin at time 0."""
    state = initial_state(default_users(nodes=("node-1",)))
    state, _ = do(state, ADMIN, "create", "namespaces", body=Namespace(ObjectMeta(TEAM)))
    for name in pods:
        state, _ = do(state, ADMIN, "create", "pods", TEAM, body=pod(name))
    for name in bound:
        sched, binding = "system:kube-scheduler", Binding("node-1")
        state, _ = do(
            state, sched, "create", "pods", TEAM, name, subresource="binding", body=binding
        )
    for svc in services:
        state, _ = do(state, ADMIN, "create", "services", TEAM, body=svc)
    state, _ = do(state, ADMIN, "delete", "namespaces", name=TEAM)
    return state


def view_of(api: ApiState) -> View:
    ns = read(api.store, "namespaces", "", TEAM)
    cache = FrozenMap() if ns is None else FrozenMap({TEAM: ns})
    return View("namespace", api.now, FrozenMap(namespaces=cache), api)


def answer(api: ApiState, memory: FrozenMap, outgoing: tuple[Outgoing, ...]):
    """Send the requests one by one and hand each response to the controller."""
    result = None
    for o in outgoing:
        api, r = handle(api, o.request)
        result = CONTROLLER.on_response(memory, o, r, view_of(api))
        memory = result.memory
    return api, result


def test_only_namespaces_being_deleted_are_queued_after_five_seconds():
    """namespace_controller.go enqueueNamespace: a namespace without deletionTimestamp is
    ignored; one being deleted is added after namespaceDeletionGracePeriod (5 s)."""
    active = Namespace(ObjectMeta(TEAM))
    gone = Namespace(ObjectMeta(TEAM, deletion_timestamp=3))
    view = view_of(initial_state())
    assert CONTROLLER.keys(Delta("namespaces", "ADDED", active), view) == ()
    assert CONTROLLER.keys(Delta("namespaces", "MODIFIED", gone, active), view) == (DELAY + TEAM,)
    assert CONTROLLER.keys(Delta("namespaces", "DELETED", gone), view) == ()
    out = CONTROLLER.reconcile(view, DELAY + TEAM, FrozenMap())
    assert out.after == ((TEAM, 5),) and out.requests == ()


def test_pods_go_first_and_the_controller_waits_half_their_grace_period():
    """deleteAllContent with OrderedNamespaceDeletion: a DeleteCollection of pods
    (propagationPolicy Background) and nothing else while pods remain; a terminating pod's
    grace period (30 s) gives ResourcesRemainingError, requeued after 30 / 2 + 1 s."""
    web = Service(ObjectMeta("web"), ServiceSpec(ports=(ServicePort(80),)))
    api = terminating(pods=("a", "b"), bound=("a",), services=(web,))
    out = CONTROLLER.reconcile(view_of(api), TEAM, FrozenMap())
    (collection,) = out.requests
    request = collection.request
    assert (request.verb, request.resource, request.namespace) == ("deletecollection", "pods", TEAM)
    assert request.propagation_policy == "Background" and request.user == NAMESPACE_CONTROLLER
    api, result = answer(api, out.memory, out.requests)
    assert [p.metadata.name for p in content(api, TEAM)["pods"]] == ["a"]  # b was unbound
    (conditions,) = result.requests
    assert (conditions.request.subresource, conditions.tag) == ("status", "conditions")
    api, result = answer(api, result.memory, result.requests)
    assert result.after == ((TEAM, 16),) and result.memory == FrozenMap()
    assert read(api.store, "services", TEAM, "web") is not None  # not while pods remain


def test_while_pods_remain_the_conditions_read_all_content_removed():
    """Upstream quirk (deleteAllContent): with pods left it updates the conditions before
    ProcessContentTotals, so NamespaceContentRemaining reads False, "All content successfully
    removed", while a pod is still terminating."""
    api = terminating()
    out = CONTROLLER.reconcile(view_of(api), TEAM, FrozenMap())
    api, result = answer(api, out.memory, out.requests)
    body = result.requests[0].request.body
    remaining = next(c for c in body.status.conditions if c.type == "NamespaceContentRemaining")
    assert (remaining.status, remaining.message) == ("False", "All content successfully removed")
    assert [c.type for c in body.status.conditions] == list(CONDITION_TYPES)


def test_an_empty_namespace_is_finalized():
    """Delete: no content left, so finalizeNamespace removes "kubernetes" through
    namespaces/finalize; the api-server deletes the namespace with that write. The finalize
    carries the older copy of the namespace, so after the conditions update it is refused
    (409) and retried on the namespace read again (retryOnConflictError)."""
    api = terminating(pods=(), bound=())
    out = CONTROLLER.reconcile(view_of(api), TEAM, FrozenMap())
    assert [o.tag for o in out.requests] == ["conditions", "finalize"]
    finalize = out.requests[1].request
    assert (finalize.subresource, finalize.body.spec.finalizers) == ("finalize", ())
    api, r = handle(api, out.requests[0].request)
    first = CONTROLLER.on_response(out.memory, out.requests[0], r, view_of(api))
    api, r = handle(api, finalize)
    assert r.code == 409
    retried = CONTROLLER.on_response(first.memory, out.requests[1], r, view_of(api))
    (again,) = retried.requests
    live = read(api.store, "namespaces", "", TEAM)
    assert again.request.body.metadata.resource_version == live.metadata.resource_version
    api, r = handle(api, again.request)
    assert r.code == 200 and read(api.store, "namespaces", "", TEAM) is None
    done = CONTROLLER.on_response(retried.memory, again, r, view_of(api))
    assert done.memory == FrozenMap() and done.after == () and done.requeue == ()


def test_a_finalize_conflict_on_a_namespace_now_gone_ends_the_sync():
    """finalizeNamespace: NotFound after a conflict means another worker finished: no error."""
    api = terminating(pods=(), bound=())
    out = CONTROLLER.reconcile(view_of(api), TEAM, FrozenMap())
    finalize = out.requests[1]
    gone = initial_state()
    conflict = Response(409)
    first = CONTROLLER.on_response(out.memory, out.requests[0], Response(200), view_of(gone))
    result = CONTROLLER.on_response(first.memory, finalize, conflict, view_of(gone))
    assert result.requests == () and result.after == () and result.memory == FrozenMap()


def test_pods_left_after_their_grace_period_are_a_content_failure():
    """deleteAllContentForGroupVersionResource: items remain with no estimate and no
    finalizer: "unexpected items still remain", a NamespaceDeletionContentFailure, and a
    rate-limited retry (nsControllerRateLimiter)."""
    api = tick(terminating(), 40)  # the kubelet never finished the pod
    out = CONTROLLER.reconcile(view_of(api), TEAM, FrozenMap())
    api, result = answer(api, out.memory, out.requests)
    body = result.requests[0].request.body
    failure = next(c for c in body.status.conditions if c.type == "NamespaceDeletionContentFailure")
    assert (failure.status, failure.reason) == ("True", "ContentDeletionFailed")
    assert failure.message == (
        "Failed to delete all resource types, 1 remaining: unexpected items still remain in "
        "namespace: team for gvr: /v1, Resource=pods"
    )
    api, result = answer(api, result.memory, result.requests)
    assert result.after == ((TEAM, 1),) and result.memory[TEAM] == Sync(retries=1)


def test_without_ordered_deletion_everything_is_deleted_at_once():
    """OrderedNamespaceDeletion off (before 1.33): one DeleteCollection per resource, pods
    among them, in one sync."""
    svc = Service(ObjectMeta("web"), ServiceSpec(ports=(ServicePort(80),)))
    api = terminating(services=(svc,))
    unordered = NamespaceController(ordered_deletion=False)
    out = unordered.reconcile(view_of(api), TEAM, FrozenMap())
    assert [o.request.resource for o in out.requests] == ["pods", "services"]


def test_a_namespace_not_terminating_is_marked_first():
    """updateNamespaceStatusFunc: a namespace with deletionTimestamp but phase Active (read
    from a manifest, say) gets phase Terminating before anything is deleted."""
    api = terminating()
    ns = read(api.store, "namespaces", "", TEAM)
    active = replace(ns, status=replace(ns.status, phase="Active"))
    api, _ = do(api, ADMIN, "update", "namespaces", name=TEAM, subresource="status", body=active)
    out = CONTROLLER.reconcile(view_of(api), TEAM, FrozenMap())
    (update,) = out.requests
    assert update.tag == "phase" and update.request.body.status.phase == "Terminating"
    api, result = answer(api, out.memory, out.requests)
    assert result.requeue == (TEAM,)


def test_conditions_keep_their_transition_time_unless_the_status_changes():
    """status_condition_utils.go updateConditions: a changed message keeps the time; a changed
    status moves it; other conditions are kept."""
    other = Condition("Custom", "True")
    first = deletion_conditions((other,), {"NamespaceContentRemaining": ("R", "m1")}, 10)
    assert first[0] == other and len(first) == 6
    second = deletion_conditions(first, {"NamespaceContentRemaining": ("R", "m2")}, 20)
    changed = next(c for c in second if c.type == "NamespaceContentRemaining")
    assert (changed.message, changed.last_transition_time) == ("m2", 10)
    third = deletion_conditions(second, {}, 30)
    cleared = next(c for c in third if c.type == "NamespaceContentRemaining")
    assert (cleared.status, cleared.reason, cleared.last_transition_time) == (
        "False",
        "ContentRemoved",
        30,
    )


def test_retry_backoff_is_the_rate_limiters_in_whole_seconds():
    """nsControllerRateLimiter: 5 ms doubling per failure, at most 60 s (at least 1 s here)."""
    assert [retry_seconds(n) for n in (0, 7, 10, 12, 13, 14, 30)] == [1, 1, 5, 20, 40, 60, 60]


# --- the composed cluster ------------------------------------------------------------------


def test_the_namespace_controller_runs_only_where_asked():
    """The default components are unchanged (the journey's search space too)."""
    nodes = (_node("node-1"),)
    assert "namespace" not in [c.name for c in builtin_controllers(nodes)]
    assert "namespace" in [c.name for c in builtin_controllers(nodes, namespace_controller=True)]


def namespace_scenario(*later) -> Scenario:
    nodes = tuple(_node(n, _pod_cidr(i)) for i, n in enumerate(NODES, start=1))
    web = Service(
        ObjectMeta("nginx", TEAM),
        ServiceSpec(type="NodePort", selector=FrozenMap(app="nginx"), ports=(ServicePort(80),)),
    )
    deployment = kubectl_create_deployment("nginx", "nginx", 2, namespace=TEAM)
    team = Namespace(ObjectMeta(TEAM))
    clients = (
        Guarded(nodes_ready(3), Request(ADMIN, "create", "namespaces", body=team), "nodes"),
        Request(ADMIN, "create", "deployments", TEAM, body=deployment),
        Request(ADMIN, "create", "services", TEAM, body=web),
        Guarded(
            deployment_complete("nginx", TEAM),
            Request(ADMIN, "delete", "namespaces", name=TEAM),
            "the rollout is complete",
        ),
        *later,
    )
    return Scenario(
        "namespace-delete",
        "",
        builtin_controllers(nodes, namespace_controller=True),
        initial_state(default_users(nodes=NODES)),
        clients,
    )


def test_deleting_a_namespace_empties_it_then_removes_it():
    """The whole deletion: pods go first, then the Deployment, its ReplicaSet, the Service and
    its EndpointSlice; the ReplicaSet controller's replacement pods are refused by
    NamespaceLifecycle with upstream's 403; the namespace goes once it is empty."""
    result = run(namespace_scenario())
    assert result.reason == "quiescent"
    state = result.state
    assert read(state.api.store, "namespaces", "", TEAM) is None
    assert content(state.api, TEAM) == {}
    journal = result.journal
    collections = [
        e.resource for e in journal if e.actor == "namespace" and e.verb == "deletecollection"
    ]
    assert collections[0] == "pods"
    assert set(collections[1:]) == {"deployments", "replicasets", "services", "endpointslices"}
    refused = [e for e in journal if e.code == 403 and e.resource == "pods"]
    assert refused and refused[0].note == (
        "pods is forbidden: unable to create new content in namespace team because it is "
        "being terminated"
    )
    finalize = [e for e in journal if e.resource == "namespaces/finalize"]
    assert [e.code for e in finalize][-1] == 200
    assert {n.metadata.name for n in listed(state, "namespaces")} == {
        "default",
        "kube-node-lease",
        "kube-public",
        "kube-system",
    }


def _holding(state) -> bool:
    ns = read(state.api.store, "namespaces", "", TEAM)
    return ns is not None and any(
        c.type == "NamespaceFinalizersRemaining" and c.status == "True"
        for c in ns.status.conditions
    )


def _release(api: ApiState) -> Request:
    svc = read(api.store, "services", TEAM, "held")
    released = replace(svc, metadata=replace(svc.metadata, finalizers=()))
    return Request(ADMIN, "update", "services", TEAM, "held", body=released)


def test_content_with_a_finalizer_holds_the_namespace_until_it_is_released():
    """A Service with a finalizer outlives its delete: the namespace stays Terminating with
    NamespaceContentRemaining and NamespaceFinalizersRemaining saying why, rechecked every
    15 / 2 + 1 s; once the finalizer is removed the namespace goes."""
    held = Service(
        ObjectMeta("held", TEAM, finalizers=("example.com/hold",)),
        ServiceSpec(ports=(ServicePort(80),)),
    )
    create_held = Request(ADMIN, "create", "services", TEAM, body=held)
    scenario = namespace_scenario()
    clients = (*scenario.clients[:3], create_held, scenario.clients[3])
    stuck = run(replace(scenario, clients=clients), max_steps=3000)
    ns = read(stuck.state.api.store, "namespaces", "", TEAM)
    assert ns is not None and ns.status.phase == "Terminating"
    conditions = {c.type: c for c in ns.status.conditions}
    assert conditions["NamespaceContentRemaining"].message == (
        "Some resources are remaining: services. has 1 resource instances"
    )
    assert conditions["NamespaceFinalizersRemaining"].message == (
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 "
        "resource instances"
    )
    timers = stuck.state.components["namespace"].timers
    assert any(t.key == TEAM and not t.periodic for t in timers)
    released = run(replace(scenario, clients=(*clients, Guarded(_holding, _release, "held"))))
    assert released.reason == "quiescent"
    assert read(released.state.api.store, "namespaces", "", TEAM) is None
