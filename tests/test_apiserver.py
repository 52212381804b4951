"""The api-server model: authentication, RBAC, NodeRestriction, admission, CRUD, watch.

Each test names the upstream behaviour it follows in its docstring.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeproof.model.apiserver import admission, etcd
from kubeproof.model.apiserver.server import (
    ApiState,
    Binding,
    Preconditions,
    Request,
    Response,
    default_users,
    generated_suffix,
    handle,
    initial_state,
    read,
    tick,
    with_rv,
)
from kubeproof.model.apiserver.watch import watch
from kubeproof.model.objects import (
    Container,
    Deployment,
    DeploymentSpec,
    FrozenMap,
    LabelSelector,
    Lease,
    Namespace,
    Node,
    NodeSpec,
    NodeStatus,
    ObjectMeta,
    Pod,
    PodSpec,
    PodStatus,
    PodTemplateSpec,
    ReplicaSet,
    ReplicaSetSpec,
    Taint,
    Toleration,
)
from kubeproof.model.quantity import parse_quantity as q
from kubeproof.model.validation import FieldError

ADMIN = "kubernetes-admin"
SCHED = "system:kube-scheduler"
KCM = "system:kube-controller-manager"
KUBELET1 = "system:node:node-1"
KUBELET2 = "system:node:node-2"
NS = "default"


def fresh() -> ApiState:
    state = initial_state(default_users(nodes=("node-1", "node-2")))
    for n in ("node-1", "node-2"):
        state, r = do(state, ADMIN, "create", "nodes", body=Node(ObjectMeta(n)))
        assert r.code == 201
    return state


def do(state, user, verb, resource, namespace="", name="", **kw) -> tuple[ApiState, Response]:
    return handle(state, Request(user, verb, resource, namespace, name, **kw))


def pod(name="web", **spec) -> Pod:
    return Pod(ObjectMeta(name=name), PodSpec(containers=(Container("c", "nginx"),), **spec))


def create_pod(state, name="web", **spec):
    state, r = do(state, ADMIN, "create", "pods", NS, body=pod(name, **spec))
    assert r.code == 201, r
    return state, r.object


def bind(state, name, node, user=SCHED, **kw):
    return do(
        state, user, "create", "pods", NS, name, subresource="binding", body=Binding(node), **kw
    )


def bound_pod(state, name="web", node="node-1"):
    state, _ = create_pod(state, name)
    state, r = bind(state, name, node)
    assert r.code == 201, r
    return state, read(state.store, "pods", NS, name)


LABELS = FrozenMap(app="web")


def deployment(name="d", **spec) -> Deployment:
    template = PodTemplateSpec(
        ObjectMeta(labels=LABELS), PodSpec(containers=(Container("c", "nginx"),))
    )
    return Deployment(
        ObjectMeta(name=name),
        DeploymentSpec(selector=LabelSelector(LABELS), template=template, **spec),
    )


def replicaset(name="rs", **meta) -> ReplicaSet:
    template = PodTemplateSpec(
        ObjectMeta(labels=LABELS), PodSpec(containers=(Container("c", "nginx"),))
    )
    return ReplicaSet(
        ObjectMeta(name=name, **meta),
        ReplicaSetSpec(selector=LabelSelector(LABELS), template=template),
    )


# --- authentication and RBAC -------------------------------------------------------------


def test_unknown_user_is_unauthorized():
    """upstream: endpoints/filters/authentication.go: a request no authenticator accepts
    gets 401 Unauthorized, and nothing happens."""
    state = fresh()
    new, r = do(state, "mallory", "create", "pods", NS, body=pod())
    assert (r.code, r.status.reason, r.status.message) == (401, "Unauthorized", "Unauthorized")
    assert new is state


def test_forbidden_message_forms():
    """upstream: responsewriters/errors.go forbiddenMessage and apierrors.NewForbidden: the
    name is quoted when the request has one; namespace or cluster scope; the API group."""
    state = fresh()
    _, r = do(state, SCHED, "create", "pods", NS, body=pod())
    assert r.code == 403 and r.status.reason == "Forbidden"
    assert r.status.message == (
        'pods is forbidden: User "system:kube-scheduler" cannot create resource "pods" '
        'in API group "" in the namespace "default"'
    )
    _, r = do(state, SCHED, "delete", "nodes", name="node-1")
    assert r.status.message == (
        'nodes "node-1" is forbidden: User "system:kube-scheduler" cannot delete resource '
        '"nodes" in API group "" at the cluster scope'
    )
    _, r = do(state, KUBELET1, "update", "deployments", NS, "d", body=deployment())
    assert r.status.message == (
        'deployments.apps "d" is forbidden: User "system:node:node-1" cannot update resource '
        '"deployments" in API group "apps" in the namespace "default"'
    )


def test_admin_is_cluster_admin():
    """upstream: bootstrappolicy cluster-admin bound to group system:masters: every verb on
    every resource, including ones the model has no type for."""
    state = fresh()
    from kubeproof.model.objects import GenericObject

    cm = GenericObject("v1", "ConfigMap", ObjectMeta("cfg"), FrozenMap(data=FrozenMap(a="1")))
    state, r = do(state, ADMIN, "create", "configmaps", NS, body=cm)
    assert r.code == 201 and r.object.metadata.namespace == NS
    state, r = do(state, ADMIN, "delete", "configmaps", NS, "cfg")
    assert r.code == 200


def test_scheduler_role_boundaries():
    """upstream: bootstrappolicy/policy.go system:kube-scheduler: reads pods, nodes and
    namespaces, creates pods/binding, updates pods/status, and nothing else."""
    state, _ = create_pod(fresh())
    for verb, resource, sub in [
        ("list", "pods", ""),
        ("list", "nodes", ""),
        ("get", "namespaces", ""),
    ]:
        assert (
            do(
                state,
                SCHED,
                verb,
                resource,
                "",
                "default" if sub == "" and verb == "get" else "",
                subresource=sub,
            )[1].code
            == 200
        )
    _s2, r = do(
        state,
        SCHED,
        "update",
        "pods",
        NS,
        "web",
        subresource="status",
        body=replace(read(state.store, "pods", NS, "web"), status=PodStatus("Pending")),
    )
    assert r.code == 200
    for verb, resource in [("update", "pods"), ("create", "deployments"), ("update", "nodes")]:
        _, r = do(state, SCHED, verb, resource, NS, "web", body=pod())
        assert r.code == 403, (verb, resource)
    assert bind(state, "web", "node-1")[1].code == 201


def test_controller_manager_role_boundaries():
    """upstream: controller_policy.go: the deployment and replicaset controllers create
    replicasets and pods; no controller binds pods (that is the scheduler's)."""
    state = fresh()
    state, r = do(state, KCM, "create", "replicasets", NS, body=replicaset())
    assert r.code == 201
    state, r = do(state, KCM, "create", "pods", NS, body=pod())
    assert r.code == 201
    new, r = bind(state, "web", "node-1", user=KCM)
    assert r.code == 403 and new is state
    _, r = do(state, KCM, "create", "nodes", body=Node(ObjectMeta("node-3")))
    assert r.code == 403


def test_kubelet_rbac_boundaries():
    """upstream: NodeRules(): a kubelet may update pods/status but not the pod itself, and
    may not bind pods or touch deployments."""
    state, _ = bound_pod(fresh())
    assert bind(state, "web", "node-2", user=KUBELET1)[1].code == 403
    _, r = do(
        state, KUBELET1, "update", "pods", NS, "web", body=read(state.store, "pods", NS, "web")
    )
    assert r.code == 403 and 'cannot update resource "pods"' in r.status.message
    assert do(state, KUBELET1, "list", "deployments", NS)[1].code == 403


def test_denied_request_leaves_state_unchanged():
    """A request refused by authentication, authorization or admission changes nothing."""
    state, _ = bound_pod(fresh())
    for user, verb, resource, name, kw in [
        ("nobody", "delete", "pods", "web", {}),
        (SCHED, "delete", "nodes", "node-1", {}),
        (KUBELET2, "delete", "pods", "web", {}),
        (KUBELET2, "update", "nodes", "node-1", {"body": Node(ObjectMeta("node-1"))}),
    ]:
        new, r = do(state, user, verb, resource, NS if resource == "pods" else "", name, **kw)
        assert r.code in (401, 403) and new is state


# --- NodeRestriction ---------------------------------------------------------------------


def test_kubelet_updates_only_status_of_its_own_pods():
    """upstream: noderestriction admitPodStatus: a node may update the status of pods whose
    spec.nodeName is itself, and no others (nor unbound ones)."""
    state, p = bound_pod(fresh(), "web", "node-1")
    state, _ = create_pod(state, "unbound")
    running = replace(p, status=replace(p.status, phase="Running"))
    new, r = do(state, KUBELET2, "update", "pods", NS, "web", subresource="status", body=running)
    assert r.code == 403 and new is state
    assert r.status.message == (
        'pods "web" is forbidden: node "node-2" can only update pod status for pods with '
        "spec.nodeName set to itself"
    )
    u = read(state.store, "pods", NS, "unbound")
    _, r = do(state, KUBELET1, "update", "pods", NS, "unbound", subresource="status", body=u)
    assert r.code == 403
    state, r = do(state, KUBELET1, "update", "pods", NS, "web", subresource="status", body=running)
    assert r.code == 200 and r.object.status.phase == "Running"


def test_kubelet_cannot_relabel_pod_through_status():
    """upstream: noderestriction admitPodStatus: "cannot update labels through pod status"."""
    state, p = bound_pod(fresh())
    relabelled = replace(p, metadata=replace(p.metadata, labels=FrozenMap(x="y")))
    _, r = do(state, KUBELET1, "update", "pods", NS, "web", subresource="status", body=relabelled)
    assert r.code == 403 and "cannot update labels through pod status" in r.status.message


def test_kubelet_modifies_only_its_own_node():
    """upstream: noderestriction admitNode: "node X is not allowed to modify node Y", and a
    node may not change its own taints."""
    state = fresh()
    n2 = read(state.store, "nodes", "", "node-2")
    new, r = do(state, KUBELET1, "update", "nodes", "", "node-2", subresource="status", body=n2)
    assert r.code == 403 and new is state
    assert r.status.message == (
        'nodes "node-2" is forbidden: node "node-1" is not allowed to modify node "node-2"'
    )
    n1 = read(state.store, "nodes", "", "node-1")
    ready = replace(n1, status=NodeStatus(capacity=FrozenMap(pods=q("110"))))
    state, r = do(
        state, KUBELET1, "update", "nodes", "", "node-1", subresource="status", body=ready
    )
    assert r.code == 200 and r.object.status.allocatable == FrozenMap(pods=q("110"))
    tainted = replace(r.object, spec=NodeSpec(taints=(Taint("k", "NoSchedule"),)))
    _, r = do(state, KUBELET1, "update", "nodes", "", "node-1", body=tainted)
    assert r.code == 403 and "not allowed to modify taints" in r.status.message


def test_kubelet_deletes_only_pods_bound_to_it():
    """upstream: noderestriction admitPod Delete: "can only delete pods with spec.nodeName set
    to itself"; and it may create only mirror pods."""
    state, _ = bound_pod(fresh(), "web", "node-1")
    new, r = do(state, KUBELET2, "delete", "pods", NS, "web", grace_period_seconds=0)
    assert r.code == 403 and new is state
    assert "can only delete pods with spec.nodeName set to itself" in r.status.message
    _, r = do(state, KUBELET1, "create", "pods", NS, body=pod("static"))
    assert r.code == 403 and "can only create mirror pods" in r.status.message
    state, r = do(state, KUBELET1, "delete", "pods", NS, "web", grace_period_seconds=0)
    assert r.code == 200 and read(state.store, "pods", NS, "web") is None


def test_kubelet_lease_only_its_own_in_node_lease_namespace():
    """upstream: noderestriction admitLease."""
    state = fresh()
    lease = Lease(ObjectMeta("node-1"))
    _, r = do(state, KUBELET1, "create", "leases", NS, body=lease)
    assert r.code == 403 and 'can only access leases in the "kube-node-lease"' in r.status.message
    _, r = do(
        state, KUBELET1, "create", "leases", "kube-node-lease", body=Lease(ObjectMeta("node-2"))
    )
    assert r.code == 403
    _, r = do(state, KUBELET1, "create", "leases", "kube-node-lease", body=lease)
    assert r.code == 201


# --- defaulting and mutating admission ---------------------------------------------------


def test_pod_defaults_and_create_strategy():
    """upstream: core/v1 SetDefaults_PodSpec (restartPolicy Always, terminationGracePeriod 30,
    default-scheduler), SetDefaults_Pod (requests from limits), Priority admission (0 without
    a class), pod strategy PrepareForCreate (generation 1, status Pending) and BeforeCreate
    (uid, creationTimestamp)."""
    state = tick(fresh(), 42)
    c = Container("c", "nginx", limits=FrozenMap(cpu=q("1")))
    body = Pod(ObjectMeta("web"), PodSpec(containers=(c,)), PodStatus(phase="Running"))
    state, r = do(state, ADMIN, "create", "pods", NS, body=body)
    p = r.object
    assert (p.spec.restart_policy, p.spec.scheduler_name) == ("Always", "default-scheduler")
    assert p.spec.termination_grace_period_seconds == 30 and p.spec.priority == 0
    assert p.spec.containers[0].requests == FrozenMap(cpu=q("1"))
    assert p.status.phase == "Pending" and p.metadata.generation == 1
    assert p.metadata.creation_timestamp == 42 and p.metadata.uid.startswith("uid-")
    assert p.metadata.resource_version == str(state.store.revision)


def test_workload_and_namespace_defaults():
    """upstream: apps/v1 SetDefaults_Deployment (replicas 1, RollingUpdate 25%/25%, history 10,
    progress deadline 600), SetDefaults_ReplicaSet, namespace strategy PrepareForCreate
    (finalizer kubernetes, phase Active) and SetDefaults_Namespace (metadata.name label)."""
    state = fresh()
    state, r = do(state, ADMIN, "create", "deployments", NS, body=deployment())
    d = r.object
    assert d.spec.replicas == 1 and d.spec.strategy.type == "RollingUpdate"
    assert (
        d.spec.strategy.rolling_update.max_surge,
        d.spec.strategy.rolling_update.max_unavailable,
    ) == ("25%", "25%")
    assert (d.spec.revision_history_limit, d.spec.progress_deadline_seconds) == (10, 600)
    assert d.spec.template.spec.restart_policy == "Always" and d.metadata.generation == 1
    state, r = do(state, ADMIN, "create", "replicasets", NS, body=replicaset())
    assert r.object.spec.replicas == 1
    state, r = do(state, ADMIN, "create", "namespaces", body=Namespace(ObjectMeta("team")))
    ns = r.object
    assert ns.spec.finalizers == ("kubernetes",) and ns.status.phase == "Active"
    assert ns.metadata.labels["kubernetes.io/metadata.name"] == "team"


def test_toleration_operator_defaults_to_equal():
    """upstream: core/v1 types.go: an empty toleration operator means Equal."""
    state = fresh()
    state, r = do(
        state,
        ADMIN,
        "create",
        "pods",
        NS,
        body=pod(tolerations=(Toleration("k", "", "v", "NoSchedule"),)),
    )
    assert r.object.spec.tolerations[0].operator == "Equal"


def test_default_toleration_seconds_added():
    """upstream: defaulttolerationseconds Admit: not-ready and unreachable Exists:NoExecute
    tolerations with tolerationSeconds 300."""
    _state, p = create_pod(fresh())
    added = [t for t in p.spec.tolerations if t.effect == "NoExecute"]
    assert added == [
        Toleration("node.kubernetes.io/not-ready", "Exists", "", "NoExecute", 300),
        Toleration("node.kubernetes.io/unreachable", "Exists", "", "NoExecute", 300),
    ]


def test_default_toleration_seconds_respects_existing():
    """upstream: defaulttolerationseconds: a toleration with the taint's key (or an empty key)
    and effect NoExecute (or empty) already tolerates it; another effect does not."""
    state = fresh()
    own = Toleration("node.kubernetes.io/not-ready", "Exists", "", "NoExecute", 60)
    _, p = create_pod(state, tolerations=(own,))
    assert [t.key for t in p.spec.tolerations] == [own.key, "node.kubernetes.io/unreachable"]
    assert p.spec.tolerations[0].toleration_seconds == 60
    _, p = create_pod(state, tolerations=(Toleration(operator="Exists"),))
    assert p.spec.tolerations == (Toleration(operator="Exists"),)
    no_schedule = Toleration("node.kubernetes.io/not-ready", "Exists", "", "NoSchedule")
    _, p = create_pod(state, tolerations=(no_schedule,))
    assert len(p.spec.tolerations) == 3


def test_priority_admission():
    """upstream: plugin/pkg/admission/priority: system classes resolve to their values; an
    unknown class is forbidden."""
    state = fresh()
    _, p = create_pod(state, priority_class_name="system-node-critical")
    assert p.spec.priority == 2000001000
    new, r = do(state, ADMIN, "create", "pods", NS, body=pod(priority_class_name="gold"))
    assert r.code == 403 and "no PriorityClass with name gold was found" in r.status.message
    assert new is state


def test_validation_errors_are_422(monkeypatch):
    """upstream: strategy Validate -> apierrors.NewInvalid: 422 with the field errors, one
    alone or several in brackets; nothing is stored."""
    errors = (FieldError("spec.a", "bad"), FieldError("spec.b", "worse"))
    state = fresh()
    monkeypatch.setattr(admission, "validate", lambda obj, old=None: errors)
    new, r = do(state, ADMIN, "create", "pods", NS, body=pod())
    assert (r.code, r.status.reason) == (422, "Invalid") and new is state
    assert r.status.message == 'Pod "web" is invalid: [spec.a: bad, spec.b: worse]'
    _, r = do(state, ADMIN, "create", "deployments", NS, body=deployment())
    assert r.status.message.startswith('Deployment.apps "d" is invalid: ')


# --- namespace lifecycle -----------------------------------------------------------------


def test_namespace_lifecycle():
    """upstream: admission/plugin/namespace/lifecycle: creating in a missing namespace is
    NotFound, in a terminating one Forbidden; the immortal namespaces cannot be deleted; a
    terminating namespace is deleted by the update that empties spec.finalizers (namespace
    storage.go ShouldDeleteNamespaceDuringUpdate), and deleting it before is a Conflict."""
    state = fresh()
    _, r = do(state, ADMIN, "create", "pods", "nope", body=pod())
    assert (r.code, r.status.message) == (404, 'namespaces "nope" not found')
    state, _ = do(state, ADMIN, "create", "namespaces", body=Namespace(ObjectMeta("team")))
    state, r = do(state, ADMIN, "delete", "namespaces", name="team")
    assert r.code == 200 and r.object.status.phase == "Terminating"
    new, r = do(state, ADMIN, "create", "pods", "team", body=pod())
    assert r.code == 403 and new is state
    assert r.status.message == (
        'pods "web" is forbidden: unable to create new content in namespace team because it is '
        "being terminated"
    )
    _, r = do(state, ADMIN, "delete", "namespaces", name="team")
    assert r.code == 409
    _, r = do(state, ADMIN, "delete", "namespaces", name="default")
    assert r.code == 403 and "this namespace may not be deleted" in r.status.message
    ns = read(state.store, "namespaces", "", "team")
    emptied = replace(ns, spec=replace(ns.spec, finalizers=()))
    state, r = do(
        state, KCM, "update", "namespaces", "", "team", subresource="finalize", body=emptied
    )
    assert r.code == 200 and r.object.spec.finalizers == ()
    assert read(state.store, "namespaces", "", "team") is None


# --- create, get, list -------------------------------------------------------------------


def test_create_twice_is_already_exists():
    """upstream: etcd3 store.go Create: a txn on mod_revision == 0, else AlreadyExists."""
    state, _ = create_pod(fresh())
    new, r = do(state, ADMIN, "create", "pods", NS, body=pod())
    assert (r.code, r.status.reason) == (409, "AlreadyExists") and new is state
    assert r.status.message == 'pods "web" already exists'


def test_generate_name():
    """upstream: names.SimpleNameGenerator: generateName plus 5 characters of
    bcdfghjklmnpqrstvwxz2456789 (here from the uid counter, so deterministic)."""
    state = fresh()
    body = Pod(ObjectMeta(generate_name="web-"), PodSpec(containers=(Container("c", "x"),)))
    s1, r1 = do(state, ADMIN, "create", "pods", NS, body=body)
    _s2, r2 = do(s1, ADMIN, "create", "pods", NS, body=body)
    n1, n2 = r1.object.metadata.name, r2.object.metadata.name
    assert n1 != n2 and n1.startswith("web-") and len(n1) == len("web-") + 5
    assert set(n1[4:]) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert do(state, ADMIN, "create", "pods", NS, body=body)[1] == r1  # deterministic


def test_generate_name_retries_on_collision():
    """upstream: store.go createWithGenerateNameRetry (RetryGenerateName, GA in 1.32): a
    generated name that exists is retried with a new one, up to 8 attempts."""
    state = fresh()
    taken = "web-" + generated_suffix(state.next_uid)
    state, _ = create_pod(state, taken)
    body = Pod(ObjectMeta(generate_name="web-"), PodSpec(containers=(Container("c", "x"),)))
    state, r = do(state, ADMIN, "create", "pods", NS, body=body)
    assert r.code == 201 and r.object.metadata.name not in (taken, "")


def test_get_not_found_and_list():
    """upstream: apierrors.NewNotFound message; a list is the etcd range in key order with
    the header revision as its resourceVersion."""
    state = fresh()
    _, r = do(state, ADMIN, "get", "pods", NS, "x")
    assert (r.code, r.status.message) == (404, 'pods "x" not found')
    state, _ = create_pod(state, "b")
    state, _ = create_pod(state, "a")
    state, _ = do(state, ADMIN, "create", "namespaces", body=Namespace(ObjectMeta("team")))
    state, _ = do(state, ADMIN, "create", "pods", "team", body=pod("c"))
    _, r = do(state, ADMIN, "list", "pods", NS)
    assert [p.metadata.name for p in r.items] == ["a", "b"]
    assert r.resource_version == str(state.store.revision)
    _, r = do(state, ADMIN, "list", "pods")
    assert [(p.metadata.namespace, p.metadata.name) for p in r.items] == [
        (NS, "a"),
        (NS, "b"),
        ("team", "c"),
    ]
    assert all(p.metadata.resource_version for p in r.items)


# --- update ------------------------------------------------------------------------------


def test_stale_resource_version_conflicts():
    """upstream: store.go Update: a resourceVersion other than the stored one is a Conflict
    with OptimisticLockErrorMsg; an empty one is an unconditional update
    (AllowUnconditionalUpdate)."""
    state = fresh()
    state, r = do(state, ADMIN, "create", "deployments", NS, body=deployment())
    stale = r.object
    state, r = do(
        state,
        ADMIN,
        "update",
        "deployments",
        NS,
        "d",
        body=replace(stale, spec=replace(stale.spec, replicas=2)),
    )
    assert r.code == 200
    new, r = do(
        state,
        ADMIN,
        "update",
        "deployments",
        NS,
        "d",
        body=replace(stale, spec=replace(stale.spec, replicas=3)),
    )
    assert (r.code, r.status.reason) == (409, "Conflict") and new is state
    assert r.status.message == (
        'Operation cannot be fulfilled on deployments.apps "d": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    blind = replace(stale, metadata=replace(stale.metadata, resource_version=""))
    state, r = do(
        state,
        ADMIN,
        "update",
        "deployments",
        NS,
        "d",
        body=replace(blind, spec=replace(blind.spec, replicas=3)),
    )
    assert r.code == 200 and r.object.spec.replicas == 3


def test_generation_bumps():
    """upstream: deployment strategy PrepareForUpdate (spec or annotations bump generation),
    replicaset strategy (spec), pod strategy updatePodGeneration (KEP-5067, 1.33+: spec);
    a label change does not bump."""
    state = fresh()
    state, r = do(state, ADMIN, "create", "deployments", NS, body=deployment())
    d = r.object
    state, r = do(
        state,
        ADMIN,
        "update",
        "deployments",
        NS,
        "d",
        body=replace(d, spec=replace(d.spec, replicas=5)),
    )
    assert r.object.metadata.generation == 2
    d = r.object
    state, r = do(
        state,
        ADMIN,
        "update",
        "deployments",
        NS,
        "d",
        body=replace(d, metadata=replace(d.metadata, labels=FrozenMap(x="y"))),
    )
    assert r.object.metadata.generation == 2
    d = r.object
    state, r = do(
        state,
        ADMIN,
        "update",
        "deployments",
        NS,
        "d",
        body=replace(d, metadata=replace(d.metadata, annotations=FrozenMap(a="b"))),
    )
    assert r.object.metadata.generation == 3
    state, p = create_pod(state)
    image = replace(p.spec.containers[0], image="nginx:2")
    state, r = do(
        state,
        ADMIN,
        "update",
        "pods",
        NS,
        "web",
        body=replace(p, spec=replace(p.spec, containers=(image,))),
    )
    assert r.code == 200 and r.object.metadata.generation == 2


def test_status_subresource_isolation():
    """upstream: the main resource keeps the stored status (strategy PrepareForUpdate); the
    status subresource keeps everything but status (statusStrategy PrepareForUpdate,
    ResetObjectMetaForStatus for apps)."""
    state = fresh()
    state, r = do(state, ADMIN, "create", "deployments", NS, body=deployment())
    d = r.object
    changed = replace(
        d,
        spec=replace(d.spec, replicas=7),
        status=replace(d.status, replicas=4),
        metadata=replace(d.metadata, labels=FrozenMap(x="y")),
    )
    state, r = do(
        state, ADMIN, "update", "deployments", NS, "d", subresource="status", body=changed
    )
    got = r.object
    assert got.status.replicas == 4 and got.spec.replicas == 1
    assert got.metadata.labels == d.metadata.labels and got.metadata.generation == 1
    state, r = do(
        state,
        ADMIN,
        "update",
        "deployments",
        NS,
        "d",
        body=replace(got, status=replace(got.status, replicas=0)),
    )
    assert r.object.status.replicas == 4
    state, p = create_pod(state)
    state, r = do(
        state,
        ADMIN,
        "update",
        "pods",
        NS,
        "web",
        subresource="status",
        body=replace(
            p, spec=replace(p.spec, node_name="node-2"), status=replace(p.status, phase="Running")
        ),
    )
    assert r.object.spec.node_name == "" and r.object.status.phase == "Running"


def test_uid_and_creation_timestamp_are_kept():
    """upstream: rest.BeforeUpdate keeps creationTimestamp; a uid in the body is a storage
    precondition (defaultUpdatedObjectInfo.Preconditions)."""
    state, p = create_pod(fresh())
    state, r = do(
        state,
        ADMIN,
        "update",
        "pods",
        NS,
        "web",
        body=replace(p, metadata=replace(p.metadata, creation_timestamp=999, uid="")),
    )
    assert r.code == 200 and r.object.metadata.creation_timestamp == p.metadata.creation_timestamp
    assert r.object.metadata.uid == p.metadata.uid
    other = replace(p, metadata=replace(p.metadata, uid="uid-999", resource_version=""))
    new, r = do(state, ADMIN, "update", "pods", NS, "web", body=other)
    assert r.code == 409 and new is state
    assert r.status.message == (
        f'Operation cannot be fulfilled on pods "web": Precondition failed: UID in '
        f"precondition: uid-999, UID in object meta: {p.metadata.uid}"
    )


def test_noop_update_does_not_write():
    """upstream: etcd3 GuaranteedUpdate skips a write whose result equals the stored bytes."""
    state, p = create_pod(fresh())
    new, r = do(state, ADMIN, "update", "pods", NS, "web", body=p)
    assert r.code == 200 and new.store == state.store


# --- binding -----------------------------------------------------------------------------


def test_binding_sets_node_and_condition():
    """upstream: pod/storage/storage.go setPodNodeAndMetadata: nodeName set, PodScheduled True."""
    _state, p = bound_pod(fresh())
    assert p.spec.node_name == "node-1"
    assert [(c.type, c.status) for c in p.status.conditions] == [("PodScheduled", "True")]


def test_binding_twice_conflicts():
    """upstream: assignPod: "pod X is already assigned to node Y" as a Conflict on
    pods/binding."""
    state, _ = bound_pod(fresh())
    new, r = bind(state, "web", "node-2")
    assert r.code == 409 and new is state
    assert r.status.message == (
        'Operation cannot be fulfilled on pods/binding "web": pod web is already assigned to '
        'node "node-1"'
    )


def test_binding_a_deleting_or_gated_pod_conflicts():
    """upstream: setPodNodeAndMetadata: "pod X is being deleted, cannot be assigned to a host"
    and "pod X has non-empty .spec.schedulingGates", both Conflicts."""
    state = fresh()
    keep = Pod(
        ObjectMeta("web", finalizers=("example.com/keep",)),
        PodSpec(containers=(Container("c", "x"),)),
    )
    state, _ = do(state, ADMIN, "create", "pods", NS, body=keep)
    state, r = do(state, ADMIN, "delete", "pods", NS, "web")
    assert r.object.metadata.deletion_timestamp is not None
    _, r = bind(state, "web", "node-1")
    assert r.code == 409
    assert r.status.message.endswith("pod web is being deleted, cannot be assigned to a host")
    state, p = create_pod(state, "gated", scheduling_gates=("wait",))
    assert p.status.conditions[0].reason == "SchedulingGated"
    _, r = bind(state, "gated", "node-1")
    assert r.code == 409 and r.status.message.endswith("has non-empty .spec.schedulingGates")
    _, r = bind(state, "missing", "node-1")
    assert r.code == 404


def test_binding_honours_uid_precondition():
    """upstream: BindingREST passes the binding's UID as a storage precondition."""
    state, p = create_pod(fresh())
    _, r = bind(state, "web", "node-1", preconditions=Preconditions(uid="uid-0"))
    assert r.code == 409 and "Precondition failed: UID in precondition: uid-0" in r.status.message
    _, r = bind(state, "web", "node-1", preconditions=Preconditions(uid=p.metadata.uid))
    assert r.code == 201


# --- delete ------------------------------------------------------------------------------


def test_delete_preconditions():
    """upstream: rest/delete.go BeforeDelete: UID and ResourceVersion preconditions are
    Conflicts naming the kind."""
    state, p = create_pod(fresh())
    new, r = do(state, ADMIN, "delete", "pods", NS, "web", preconditions=Preconditions(uid="uid-0"))
    assert r.code == 409 and new is state
    assert r.status.message == (
        f'Operation cannot be fulfilled on Pod "web": the UID in the precondition (uid-0) does '
        f"not match the UID in record ({p.metadata.uid}). The object might have been deleted "
        "and then recreated"
    )
    _, r = do(
        state, ADMIN, "delete", "pods", NS, "web", preconditions=Preconditions(resource_version="1")
    )
    assert r.code == 409 and "the ResourceVersion in the precondition (1)" in r.status.message
    state, r = do(
        state,
        ADMIN,
        "delete",
        "pods",
        NS,
        "web",
        preconditions=Preconditions(p.metadata.uid, p.metadata.resource_version),
    )
    assert r.code == 200 and read(state.store, "pods", NS, "web") is None


def test_graceful_deletion_of_a_bound_pod():
    """upstream: pod strategy CheckGracefulDelete and rest.BeforeDelete: a bound pod gets
    deletionTimestamp now + grace (its terminationGracePeriodSeconds) and stays; a second
    delete does not reset it, a shorter grace shortens it; grace 0 removes it."""
    state, p = bound_pod(tick(fresh(), 100))
    state, r = do(state, ADMIN, "delete", "pods", NS, "web")
    meta = r.object.metadata
    assert (meta.deletion_timestamp, meta.deletion_grace_period_seconds) == (130, 30)
    assert meta.generation == p.metadata.generation + 1
    later = tick(state, 10)
    again, r = do(later, ADMIN, "delete", "pods", NS, "web")
    assert again == later and r.object.metadata.deletion_timestamp == 130
    state, r = do(later, ADMIN, "delete", "pods", NS, "web", grace_period_seconds=5)
    assert r.object.metadata.deletion_timestamp == 105
    state, r = do(
        state,
        KUBELET1,
        "delete",
        "pods",
        NS,
        "web",
        grace_period_seconds=0,
        preconditions=Preconditions(uid=p.metadata.uid),
    )
    assert r.code == 200 and read(state.store, "pods", NS, "web") is None


def test_unbound_pod_is_removed_at_once():
    """upstream: CheckGracefulDelete: "if the pod is not scheduled, delete immediately"."""
    state, _ = create_pod(fresh())
    state, r = do(state, ADMIN, "delete", "pods", NS, "web")
    assert r.code == 200 and read(state.store, "pods", NS, "web") is None


def test_finalizers_hold_deletion():
    """upstream: store.go Delete/markAsDeleting: an object with finalizers gets a
    deletionTimestamp and stays; a second delete keeps the timestamp; no finalizer may be
    added while deleting; the update that removes the last one deletes it
    (ShouldDeleteDuringUpdate)."""
    state = tick(fresh(), 7)
    rs = replicaset(finalizers=("example.com/hold",))
    state, _ = do(state, ADMIN, "create", "replicasets", NS, body=rs)
    state, r = do(state, ADMIN, "delete", "replicasets", NS, "rs")
    assert r.object.metadata.deletion_timestamp == 7 and r.object.metadata.generation == 2
    state = tick(state, 50)
    state, r = do(state, ADMIN, "delete", "replicasets", NS, "rs")
    assert r.object.metadata.deletion_timestamp == 7
    cur = read(state.store, "replicasets", NS, "rs")
    more = replace(cur, metadata=replace(cur.metadata, finalizers=("example.com/hold", "b.io/x")))
    new, r = do(state, ADMIN, "update", "replicasets", NS, "rs", body=more)
    assert r.code == 422 and new is state
    assert "no new finalizers can be added if the object is being deleted" in r.status.message
    done = replace(cur, metadata=replace(cur.metadata, finalizers=()))
    state, r = do(state, KCM, "update", "replicasets", NS, "rs", body=done)
    assert r.code == 200 and read(state.store, "replicasets", NS, "rs") is None


@pytest.mark.parametrize(
    ("policy", "finalizers"),
    [("Orphan", ("orphan",)), ("Foreground", ("foregroundDeletion",)), ("Background", None)],
)
def test_propagation_policy_finalizers(policy, finalizers):
    """upstream: store.go deletionFinalizersForGarbageCollection: Orphan adds "orphan",
    Foreground adds "foregroundDeletion" (the object stays for the garbage collector),
    Background deletes at once."""
    state, _ = do(fresh(), ADMIN, "create", "replicasets", NS, body=replicaset())
    state, _r = do(state, ADMIN, "delete", "replicasets", NS, "rs", propagation_policy=policy)
    stored = read(state.store, "replicasets", NS, "rs")
    if finalizers is None:
        assert stored is None
    else:
        assert stored.metadata.finalizers == finalizers
        assert stored.metadata.deletion_timestamp is not None


# --- watch -------------------------------------------------------------------------------


def test_watch_translates_etcd_events():
    """upstream: etcd3 event.go/watcher.go: create -> ADDED, update -> MODIFIED, delete ->
    DELETED with the last state at the deletion's revision; filtered to the namespace."""
    state = fresh()
    state, _ = do(state, ADMIN, "create", "namespaces", body=Namespace(ObjectMeta("team")))
    rv = do(state, ADMIN, "list", "pods", NS)[1].resource_version
    state, _p = bound_pod(state)
    state, _ = do(state, ADMIN, "create", "pods", "team", body=pod("elsewhere"))
    state, _ = do(state, KUBELET1, "delete", "pods", NS, "web", grace_period_seconds=0)
    r = watch(state, Request(SCHED, "watch", "pods", NS, resource_version=rv))
    kinds = [(e.type, e.object.metadata.name) for e in r.items]
    assert kinds == [("ADDED", "web"), ("MODIFIED", "web"), ("MODIFIED", "web"), ("DELETED", "web")]
    deleted = r.items[-1].object
    assert deleted.metadata.deletion_timestamp is not None
    assert deleted.metadata.resource_version == str(state.store.revision)
    assert r.resource_version == str(state.store.revision)
    assert (
        watch(state, Request(SCHED, "watch", "pods", NS, resource_version=r.resource_version)).items
        == ()
    )


def test_watch_from_zero_is_synthetic_added():
    """upstream: etcd3 watcher sync: resourceVersion unset or 0 starts with the current state
    as ADDED events (here: then nothing more in this answer)."""
    state, _ = create_pod(fresh(), "a")
    state, _ = create_pod(state, "b")
    r = watch(state, Request(ADMIN, "watch", "pods", NS, resource_version="0"))
    assert [(e.type, e.object.metadata.name) for e in r.items] == [("ADDED", "a"), ("ADDED", "b")]


def test_watch_below_compaction_is_gone():
    """upstream: etcd3/errors.go interpretWatchError: a watch from a compacted revision is
    410 Expired "The resourceVersion for the provided watch is too old."."""
    state, _ = create_pod(fresh(), "a")
    old = str(state.store.revision - 1)
    state, _ = create_pod(state, "b")
    state = replace(state, store=etcd.compact(state.store, state.store.revision)[0])
    r = watch(state, Request(ADMIN, "watch", "pods", NS, resource_version=old))
    assert (r.code, r.status.reason, r.status.message) == (
        410,
        "Expired",
        "The resourceVersion for the provided watch is too old.",
    )
    assert handle(state, Request(ADMIN, "watch", "pods", NS, resource_version=old))[1].code == 410


def test_watch_is_authorized():
    """A watch is an RBAC verb like any other."""
    state = fresh()
    assert watch(state, Request(KUBELET1, "watch", "deployments", NS)).code == 403
    assert watch(state, Request("nobody", "watch", "pods", NS)).code == 401


# --- properties ---------------------------------------------------------------------------

USERS = [ADMIN, ADMIN, ADMIN, SCHED, KCM, KCM, KUBELET1, KUBELET2, "nobody"]
NAMES = ["a", "b", "node-1"]
BODIES = {
    "pods": Pod,
    "nodes": Node,
    "replicasets": ReplicaSet,
    "namespaces": Namespace,
    "leases": Lease,
}


@st.composite
def requests(draw) -> tuple[Request, bool]:
    """A request, and whether to aim its body at the stored object's resourceVersion."""
    pick = lambda xs: draw(st.sampled_from(xs))  # noqa: E731
    resource, verb = (
        pick(list(BODIES)),
        pick(["create", "create", "update", "delete", "get", "list", "watch"]),
    )
    sub = {"create": pick(["", "", "binding"]), "update": pick(["", "status"])}.get(verb, "")
    meta = ObjectMeta(
        pick(NAMES),
        finalizers=pick([(), (), ("x.io/f",)]),
        resource_version=pick(["", "3"]),
        labels=pick([FrozenMap(), LABELS]),
    )
    body = BODIES[resource](meta)
    if resource == "pods":
        body = Pod(
            meta,
            PodSpec(
                containers=(Container("c", pick(["x", "y"])),), node_name=pick(["", "", "node-1"])
            ),
            PodStatus(pick(["", "Running"])),
        )
    elif resource == "replicasets":
        body = replace(replicaset(), metadata=meta)
    if sub == "binding":
        body = Binding(pick(["node-1", "node-2"]))
    request = Request(
        pick(USERS),
        verb,
        resource,
        pick([NS, NS, "team", "kube-node-lease"]),
        meta.name,
        sub,
        body,
        preconditions=pick([None, None, Preconditions(uid="uid-5")]),
        resource_version=pick(["", "0", "4"]),
        propagation_policy=pick([None, None, "Orphan", "Foreground", "Background"]),
        grace_period_seconds=pick([None, 0, 30]),
    )
    return request, draw(st.none() | st.integers(0, 5))


def aimed(state: ApiState, request: Request, target: int | None) -> Request:
    """With a ``target``, a request other than create is aimed at one of the stored objects
    of its resource, an update carrying its resourceVersion and uid (so that it can succeed)."""
    if target is None or (request.verb == "create" and request.subresource != "binding"):
        return request
    prefix = f"/registry/{request.resource}/"
    kvs = [kv for kv in state.store.kvs if kv.key.startswith(prefix)]
    if not kvs:
        return request
    cur = with_rv(kvs[target % len(kvs)].value, kvs[target % len(kvs)].mod_revision)
    name, namespace = cur.metadata.name, cur.metadata.namespace
    request = replace(request, name=name, namespace=namespace or request.namespace)
    if request.verb == "update":
        meta = replace(
            request.body.metadata,
            name=name,
            namespace=namespace,
            resource_version=cur.metadata.resource_version,
            uid=cur.metadata.uid,
        )
        request = replace(request, body=replace(request.body, metadata=meta))
    return request


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(requests(), st.integers(1, 40)), max_size=30))
def test_random_requests_keep_invariants(steps):
    """Random requests from random users never raise; every write gives the stored objects
    strictly increasing resourceVersions; a request that fails changes nothing; reads change
    nothing."""
    state = fresh()
    state, _ = do(state, ADMIN, "create", "namespaces", body=Namespace(ObjectMeta("team")))
    for step in steps:
        if isinstance(step, int):
            state = tick(state, step)
            continue
        request = aimed(state, *step)
        new, r = handle(state, request)
        assert isinstance(r, Response)
        if not r.ok or request.verb in ("get", "list", "watch"):
            assert new is state, r
        before, after = state.store.revision, new.store.revision
        assert after >= before
        for kv in new.store.kvs:
            old = state.store.get(kv.key)
            if old is None or old.mod_revision != kv.mod_revision:
                assert before < kv.mod_revision <= after  # written by this request
            obj = read(new.store, *_parts(kv.key))
            assert int(obj.metadata.resource_version) == kv.mod_revision
        state = new


def _parts(key: str) -> tuple[str, str, str]:
    parts = key.split("/")[2:]
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else (parts[0], "", parts[1])
