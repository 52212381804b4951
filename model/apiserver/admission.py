"""Admission: the api-server's defaulting, mutating and validating plugins, and its error values.

In upstream's order: the scheme's defaulters run when the body is decoded (:func:`with_defaults`),
then the mutating plugins (:func:`mutate`: NodeRestriction, Priority, DefaultTolerationSeconds),
then the registry strategy and ``validate`` (:func:`invalid_status`), then the validating plugins
(:func:`check`: NamespaceLifecycle). A plugin that rejects returns a :class:`Status`.
The plugins read other objects through ``lookup(resource, namespace, name) -> Object | None``.

>>> from kubeproof.model.objects import Container, ObjectMeta, Pod, PodSpec
>>> pod = with_defaults(Pod(ObjectMeta(name="web"), PodSpec(containers=(Container("c"),))))
>>> pod.spec.restart_policy, pod.spec.termination_grace_period_seconds
('Always', 30)
>>> attrs = Attributes("CREATE", "pods", "", "default", "web", pod, None, "kubernetes-admin")
>>> [t.key for t in mutate(attrs, lambda *_: None).spec.tolerations]
['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from kubeproof.model.apiserver.rbac import api_group
from kubeproof.model.objects import (
    Container,
    Deployment,
    DeploymentStrategy,
    EndpointSlice,
    FrozenMap,
    GenericObject,
    Namespace,
    Node,
    Object,
    Pod,
    PodSpec,
    PodTemplateSpec,
    ReplicaSet,
    RollingUpdateDeployment,
    Service,
    ServiceSpec,
    Toleration,
)
from kubeproof.model.validation import FieldError, validate
from kubeproof.model.validation_services import externally_accessible

__all__ = [
    "Attributes",
    "Status",
    "already_exists",
    "bad_request",
    "check",
    "conflict",
    "forbidden",
    "invalid",
    "invalid_status",
    "mutate",
    "not_found",
    "qualified_kind",
    "qualified_resource",
    "with_defaults",
]

Lookup = Callable[[str, str, str], Any]

# --- error values (upstream: apimachinery/pkg/api/errors/errors.go) ------------------------


@dataclass(frozen=True, slots=True)
class Status:
    """metav1.Status of a failed request: HTTP code, machine reason, upstream's message."""

    code: int
    reason: str
    message: str


def qualified_resource(resource: str) -> str:
    """schema.GroupResource.String(): "pods", "deployments.apps"."""
    group = api_group(resource)
    return f"{resource}.{group}" if group else resource


def qualified_kind(obj: Object) -> str:
    """schema.GroupKind.String() of an object: "Pod", "Deployment.apps"."""
    kind = obj.kind if isinstance(obj, GenericObject) else obj.KIND
    api_version = obj.api_version if isinstance(obj, GenericObject) else obj.API_VERSION
    group = api_version.rpartition("/")[0]
    return f"{kind}.{group}" if group else kind


def not_found(resource: str, name: str) -> Status:
    return Status(404, "NotFound", f'{qualified_resource(resource)} "{name}" not found')


def already_exists(resource: str, name: str) -> Status:
    return Status(409, "AlreadyExists", f'{qualified_resource(resource)} "{name}" already exists')


def conflict(what: str, name: str, why: str) -> Status:
    """``what`` is a qualified resource ("pods", "pods/binding") or, from BeforeDelete, a kind."""
    return Status(409, "Conflict", f'Operation cannot be fulfilled on {what} "{name}": {why}')


def forbidden(resource: str, name: str, why: str) -> Status:
    what = qualified_resource(resource)
    head = f'{what} "{name}"' if name else what
    return Status(403, "Forbidden", f"{head} is forbidden: {why}")


def invalid(kind: str, name: str, errors: tuple[FieldError, ...]) -> Status:
    # upstream: NewInvalid prints an aggregate: one error alone, several in brackets
    parts = [f"{e.path}: {e.message}" for e in errors]
    detail = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return Status(422, "Invalid", f'{kind} "{name}" is invalid: {detail}')


def bad_request(message: str) -> Status:
    return Status(400, "BadRequest", message)


def invalid_status(obj: Object, old: Object | None = None) -> Status | None:
    """422 Invalid with every field error of ``validate`` (upstream: strategy Validate)."""
    errors = validate(obj, old)
    return invalid(qualified_kind(obj), obj.metadata.name, errors) if errors else None


# --- defaulting (upstream: pkg/apis/core/v1/defaults.go, pkg/apis/apps/v1/defaults.go) -----


def _default_pod_spec(spec: PodSpec) -> PodSpec:
    # upstream: core/v1 SetDefaults_PodSpec (also applied to pod templates)
    tolerations = tuple(
        t if t.operator else replace(t, operator="Equal") for t in spec.tolerations
    )  # an empty operator means Equal (core/v1 types.go); written out here
    return replace(
        spec,
        restart_policy=spec.restart_policy or "Always",
        termination_grace_period_seconds=(
            30
            if spec.termination_grace_period_seconds is None
            else spec.termination_grace_period_seconds
        ),
        scheduler_name=spec.scheduler_name or "default-scheduler",
        tolerations=tolerations,
    )


def _default_container(c: Container, host_network: bool) -> Container:
    # upstream: core/v1 SetDefaults_Pod: a limit without a request defaults the request;
    # defaultHostNetworkPorts: with hostNetwork, hostPort defaults to containerPort
    requests = FrozenMap({**dict(c.limits), **dict(c.requests)})
    ports = c.ports
    if host_network:
        ports = tuple(p if p.host_port else replace(p, host_port=p.container_port) for p in ports)
    return replace(c, requests=requests, ports=ports)


def _default_service_spec(svc: Service) -> ServiceSpec:
    # upstream: core/v1 SetDefaults_Service
    spec = svc.spec
    spec = replace(
        spec,
        type=spec.type or "ClusterIP",
        ports=tuple(
            replace(
                p,
                protocol=p.protocol or "TCP",
                target_port=p.port if p.target_port in (None, 0, "") else p.target_port,
            )
            for p in spec.ports
        ),
    )
    if spec.type in ("ClusterIP", "NodePort", "LoadBalancer"):
        internal = spec.internal_traffic_policy or "Cluster"
        spec = replace(spec, internal_traffic_policy=internal)
    if externally_accessible(svc) and not spec.external_traffic_policy:
        spec = replace(spec, external_traffic_policy="Cluster")
    return spec


def _default_template(t: PodTemplateSpec) -> PodTemplateSpec:
    return replace(t, spec=_default_pod_spec(t.spec))


def with_defaults(obj: Object) -> Object:
    """The object as the api-server's scheme defaulters leave it."""
    if isinstance(obj, Pod):
        spec = _default_pod_spec(obj.spec)
        hn = spec.host_network
        spec = replace(
            spec,
            containers=tuple(_default_container(c, hn) for c in spec.containers),
            init_containers=tuple(_default_container(c, hn) for c in spec.init_containers),
        )
        return replace(obj, spec=spec)
    if isinstance(obj, Deployment):
        # upstream: apps/v1 SetDefaults_Deployment
        spec = obj.spec
        strategy = spec.strategy or DeploymentStrategy()
        strategy = replace(strategy, type=strategy.type or "RollingUpdate")
        if strategy.type == "RollingUpdate":
            ru = strategy.rolling_update or RollingUpdateDeployment()
            strategy = replace(
                strategy,
                rolling_update=RollingUpdateDeployment(
                    max_surge="25%" if ru.max_surge is None else ru.max_surge,
                    max_unavailable="25%" if ru.max_unavailable is None else ru.max_unavailable,
                ),
            )
        spec = replace(
            spec,
            replicas=1 if spec.replicas is None else spec.replicas,
            strategy=strategy,
            revision_history_limit=(
                10 if spec.revision_history_limit is None else spec.revision_history_limit
            ),
            progress_deadline_seconds=(
                600 if spec.progress_deadline_seconds is None else spec.progress_deadline_seconds
            ),
            template=_default_template(spec.template),
        )
        return replace(obj, spec=spec)
    if isinstance(obj, ReplicaSet):
        # upstream: apps/v1 SetDefaults_ReplicaSet
        spec = obj.spec
        replicas = 1 if spec.replicas is None else spec.replicas
        return replace(
            obj, spec=replace(spec, replicas=replicas, template=_default_template(spec.template))
        )
    if isinstance(obj, Namespace) and obj.metadata.name:
        # upstream: core/v1 SetDefaults_Namespace
        labels = obj.metadata.labels.set("kubernetes.io/metadata.name", obj.metadata.name)
        return replace(obj, metadata=replace(obj.metadata, labels=labels))
    if isinstance(obj, Service):
        return replace(obj, spec=_default_service_spec(obj))
    if isinstance(obj, EndpointSlice):
        # upstream: discovery/v1 SetDefaults_EndpointPort
        ports = tuple(
            replace(p, name=p.name or "", protocol=p.protocol or "TCP") for p in obj.ports
        )
        return replace(obj, ports=ports)
    if isinstance(obj, Node) and not obj.status.allocatable and obj.status.capacity:
        # upstream: core/v1 SetDefaults_NodeStatus
        return replace(obj, status=replace(obj.status, allocatable=obj.status.capacity))
    return obj


# --- admission plugins -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attributes:
    """admission.Attributes: the operation (CREATE, UPDATE, DELETE), what it is on, the new
    object (None on DELETE), the stored one (None on CREATE) and the requesting user."""

    operation: str
    resource: str
    subresource: str
    namespace: str
    name: str
    obj: Any
    old: Any
    user: str
    node: str | None = None  # the node a kubelet user speaks for


NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
DEFAULT_TOLERATION_SECONDS = 300
# upstream: pkg/apis/scheduling/types.go SystemCriticalPriority and the two system classes
SYSTEM_PRIORITY_CLASSES = FrozenMap(
    {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
)


def _node_restriction(a: Attributes, lookup: Lookup) -> Status | None:
    """upstream: plugin/pkg/admission/noderestriction/admission.go Admit."""
    node = a.node
    if node is None:
        return None

    def deny(why: str) -> Status:
        return forbidden(a.resource, a.name, why)

    if a.resource == "pods":
        if a.subresource == "status":
            if a.operation != "UPDATE":
                return deny(f'unexpected operation "{a.operation}"')
            if a.old.spec.node_name != node:
                return deny(
                    f'node "{node}" can only update pod status for pods with spec.nodeName set '
                    "to itself"
                )
            if a.obj.metadata.labels != a.old.metadata.labels:
                return deny(f'node "{node}" cannot update labels through pod status')
            return None
        if a.subresource:
            return deny(
                f"unexpected pod subresource \"{a.subresource}\", only 'status' and "
                "'eviction' are allowed"
            )
        if a.operation == "DELETE":
            if a.old.spec.node_name != node:
                return deny(f'node "{node}" can only delete pods with spec.nodeName set to itself')
            return None
        if a.operation == "CREATE":
            # only mirror pods (static pods) may be created by a kubelet
            mirror = "kubernetes.io/config.mirror"
            if mirror not in a.obj.metadata.annotations:
                return deny(
                    f'pod does not have "{mirror}" annotation, node "{node}" can only create '
                    "mirror pods"
                )
            if a.obj.spec.node_name != node:
                return deny(f'node "{node}" can only create pods with spec.nodeName set to itself')
            return None
        return deny(
            f'unexpected operation "{a.operation}", node "{node}" can only create and delete '
            "mirror pods"
        )
    if a.resource == "nodes":
        name = a.name or (a.obj.metadata.name if a.obj is not None else "")
        if name != node:
            return deny(f'node "{node}" is not allowed to modify node "{name}"')
        if a.operation == "UPDATE" and a.obj.spec.taints != a.old.spec.taints:
            return deny(f'node "{node}" is not allowed to modify taints')
        return None
    if a.resource == "leases":
        if a.namespace != "kube-node-lease":
            return deny('can only access leases in the "kube-node-lease" system namespace')
        name = a.obj.metadata.name if a.operation == "CREATE" else a.name
        if name != node:
            return deny("can only access node lease with the same name as the requesting node")
    return None


def _priority(a: Attributes, lookup: Lookup) -> Pod | Status:
    """upstream: plugin/pkg/admission/priority/admission.go admitPod (on pod create)."""
    pod: Pod = a.obj
    cls = pod.spec.priority_class_name
    if not cls:
        value = 0  # no default PriorityClass: scheduling.DefaultPriorityWhenNoDefaultClassExists
    elif cls in SYSTEM_PRIORITY_CLASSES:
        value = SYSTEM_PRIORITY_CLASSES[cls]
    else:
        pc = lookup("priorityclasses", "", cls)
        if pc is None:
            return forbidden("pods", a.name, f"no PriorityClass with name {cls} was found")
        value = int(pc.body.get("value", 0)) if isinstance(pc, GenericObject) else 0
    if pod.spec.priority is not None and pod.spec.priority != value:
        return forbidden(
            "pods",
            a.name,
            f"the integer value of priority ({pod.spec.priority}) must not be provided in pod "
            f"spec; priority admission controller computed {value} from the given "
            "PriorityClass name",
        )
    return replace(pod, spec=replace(pod.spec, priority=value))


def _default_toleration_seconds(pod: Pod) -> Pod:
    """upstream: plugin/pkg/admission/defaulttolerationseconds/admission.go Admit.

    A toleration counts when its key is the taint's or empty, and its effect NoExecute or
    empty; the operator and value are not looked at.
    """

    def tolerates(key: str) -> bool:
        return any(
            t.key in (key, "") and t.effect in ("NoExecute", "") for t in pod.spec.tolerations
        )

    added = tuple(
        Toleration(key, "Exists", "", "NoExecute", DEFAULT_TOLERATION_SECONDS)
        for key in (NOT_READY, UNREACHABLE)
        if not tolerates(key)
    )
    if not added:
        return pod
    return replace(pod, spec=replace(pod.spec, tolerations=pod.spec.tolerations + added))


def mutate(a: Attributes, lookup: Lookup) -> Any:
    """The mutating plugins in upstream's order; the (possibly changed) object, or a Status.

    upstream order (kube-apiserver --enable-admission-plugins recommended set): NodeRestriction,
    Priority, DefaultTolerationSeconds. LimitRanger, ServiceAccount, TaintNodesByCondition
    and the rest are not modelled.
    """
    denied = _node_restriction(a, lookup)
    if denied is not None:
        return denied
    obj = a.obj
    if a.resource == "pods" and not a.subresource and isinstance(obj, Pod):
        if a.operation == "CREATE":
            obj = _priority(a, lookup)
            if isinstance(obj, Status):
                return obj
        if a.operation in ("CREATE", "UPDATE"):
            obj = _default_toleration_seconds(obj)
    return obj


IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")


def check(a: Attributes, lookup: Lookup) -> Status | None:
    """The validating plugins: NamespaceLifecycle.

    upstream: staging/src/k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle/admission.go
    """
    if a.resource == "namespaces":
        if a.operation == "DELETE" and a.name in IMMORTAL_NAMESPACES:
            return forbidden(a.resource, a.name, "this namespace may not be deleted")
        return None
    if not a.namespace:
        return None
    ns = lookup("namespaces", "", a.namespace)
    if ns is None:
        return not_found("namespaces", a.namespace)
    if a.operation == "CREATE" and ns.status.phase == "Terminating":
        return forbidden(
            a.resource,
            a.name,
            f"unable to create new content in namespace {a.namespace} because it is being "
            "terminated",
        )
    return None
