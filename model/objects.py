"""The Kubernetes objects the control plane reads and writes, as frozen, hashable values.

Field names are the Kubernetes names in snake_case. A field the api-server defaults is ``None``
(or empty) until admission fills it in, as an unset pointer is in Go; controllers only ever see
admitted objects. Every top-level object keeps the document it was read from in ``raw`` (not part of
equality), so that fields the model does not use survive a load and dump.

>>> pod = Pod(ObjectMeta(name="web", namespace="default", labels=FrozenMap(app="web")))
>>> pod.metadata.labels["app"], pod.spec.node_name == "", object_key(pod)
('web', True, 'default/web')
"""

from __future__ import annotations

from collections.abc import Hashable, ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from kubeproof.model.quantity import Quantity  # noqa: F401  (values of resource maps)

__all__ = [
    "KINDS",
    "Affinity",
    "Condition",
    "Container",
    "ContainerImage",
    "ContainerPort",
    "Deployment",
    "DeploymentSpec",
    "DeploymentStatus",
    "DeploymentStrategy",
    "Endpoint",
    "EndpointConditions",
    "EndpointPort",
    "EndpointSlice",
    "FrozenMap",
    "GenericObject",
    "LabelSelector",
    "LabelSelectorRequirement",
    "Lease",
    "LeaseSpec",
    "Lifecycle",
    "LifecycleHandler",
    "Namespace",
    "NamespaceSpec",
    "NamespaceStatus",
    "Node",
    "NodeAffinity",
    "NodeSelector",
    "NodeSelectorRequirement",
    "NodeSelectorTerm",
    "NodeSpec",
    "NodeStatus",
    "Object",
    "ObjectMeta",
    "ObjectReference",
    "OwnerReference",
    "Pod",
    "PodAffinity",
    "PodAffinityTerm",
    "PodSpec",
    "PodStatus",
    "PodTemplateSpec",
    "PreferredSchedulingTerm",
    "ReplicaSet",
    "ReplicaSetSpec",
    "ReplicaSetStatus",
    "RollingUpdateDeployment",
    "Service",
    "ServicePort",
    "ServiceSpec",
    "Taint",
    "Toleration",
    "TopologySpreadConstraint",
    "WeightedPodAffinityTerm",
    "freeze",
    "object_key",
    "thaw",
]


class FrozenMap(Mapping[str, Any]):
    """An immutable, hashable mapping (labels, annotations, resource lists, raw documents).

    Equality ignores order, as for dict; iteration keeps insertion order, so output is stable.
    """

    __slots__ = ("_hash", "_items")

    def __init__(self, items: Mapping[str, Any] | Iterable[tuple[str, Any]] = (), **kwargs: Any):
        self._items: dict[str, Any] = dict(items, **kwargs)
        self._hash: int | None = None

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    # Mapping's get, __contains__ and views, answered by the dict directly (the scheduler calls
    # them for every node, the exhaustive search for every state; the mixins go through
    # __getitem__ and an exception, or call __getitem__ for every entry).
    def get(self, key: str, default: Any = None) -> Any:
        return self._items.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def keys(self) -> KeysView[str]:
        return self._items.keys()

    def items(self) -> ItemsView[str, Any]:
        return self._items.items()

    def values(self) -> ValuesView[Any]:
        return self._items.values()

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._items.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._items == other._items
        return isinstance(other, Mapping) and self._items == dict(other.items())

    def __repr__(self) -> str:
        return f"FrozenMap({self._items!r})"

    def set(self, key: str, value: Any) -> FrozenMap:
        """A copy with ``key`` set to ``value``."""
        return FrozenMap({**self._items, key: value})

    def without(self, key: str) -> FrozenMap:
        """A copy without ``key`` (the same map when it is absent)."""
        if key not in self._items:
            return self
        return FrozenMap((k, v) for k, v in self._items.items() if k != key)


EMPTY = FrozenMap()


def freeze(value: Any) -> Hashable:
    """A parsed JSON/YAML value made immutable: dicts become FrozenMaps, lists become tuples."""
    if isinstance(value, Mapping):
        return FrozenMap((str(k), freeze(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The inverse of :func:`freeze`: plain dicts and lists, ready to serialize."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


# --- metadata ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OwnerReference:
    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool = False
    block_owner_deletion: bool = False


@dataclass(frozen=True, slots=True)
class ObjectMeta:
    """Timestamps are whole seconds on the model's clock (RFC 3339 in manifests)."""

    name: str = ""
    namespace: str = ""
    generate_name: str = ""
    uid: str = ""
    resource_version: str = ""
    generation: int = 0
    creation_timestamp: int | None = None
    deletion_timestamp: int | None = None
    deletion_grace_period_seconds: int | None = None
    labels: FrozenMap = EMPTY
    annotations: FrozenMap = EMPTY
    owner_references: tuple[OwnerReference, ...] = ()
    finalizers: tuple[str, ...] = ()

    def controller_ref(self) -> OwnerReference | None:
        """The owner reference with controller: true, if any."""
        return next((ref for ref in self.owner_references if ref.controller), None)


@dataclass(frozen=True, slots=True)
class Condition:
    type: str
    status: str
    reason: str = ""
    message: str = ""
    last_transition_time: int | None = None
    # DeploymentCondition's lastUpdateTime (the progress deadline counts from it)
    last_update_time: int | None = None


# --- selectors -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabelSelectorRequirement:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """metav1.LabelSelector. Where a selector is optional, ``None`` (matches nothing) and
    ``LabelSelector()`` (matches everything) differ, as upstream."""

    match_labels: FrozenMap = EMPTY
    match_expressions: tuple[LabelSelectorRequirement, ...] = ()


@dataclass(frozen=True, slots=True)
class NodeSelectorRequirement:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist, Gt, Lt
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NodeSelectorTerm:
    match_expressions: tuple[NodeSelectorRequirement, ...] = ()
    match_fields: tuple[NodeSelectorRequirement, ...] = ()


@dataclass(frozen=True, slots=True)
class NodeSelector:
    node_selector_terms: tuple[NodeSelectorTerm, ...] = ()


@dataclass(frozen=True, slots=True)
class PreferredSchedulingTerm:
    weight: int
    preference: NodeSelectorTerm


@dataclass(frozen=True, slots=True)
class NodeAffinity:
    required: NodeSelector | None = None  # requiredDuringSchedulingIgnoredDuringExecution
    preferred: tuple[PreferredSchedulingTerm, ...] = ()  # preferredDuringScheduling...


@dataclass(frozen=True, slots=True)
class PodAffinityTerm:
    topology_key: str
    label_selector: LabelSelector | None = None
    namespaces: tuple[str, ...] = ()
    namespace_selector: LabelSelector | None = None
    match_label_keys: tuple[str, ...] = ()
    mismatch_label_keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WeightedPodAffinityTerm:
    weight: int
    pod_affinity_term: PodAffinityTerm


@dataclass(frozen=True, slots=True)
class PodAffinity:
    """Both podAffinity and podAntiAffinity have this shape."""

    required: tuple[PodAffinityTerm, ...] = ()
    preferred: tuple[WeightedPodAffinityTerm, ...] = ()


@dataclass(frozen=True, slots=True)
class Affinity:
    node_affinity: NodeAffinity | None = None
    pod_affinity: PodAffinity | None = None
    pod_anti_affinity: PodAffinity | None = None


@dataclass(frozen=True, slots=True)
class Toleration:
    key: str = ""
    operator: str = "Equal"  # Equal or Exists; an empty operator means Equal
    value: str = ""
    effect: str = ""  # empty matches every effect
    toleration_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    effect: str  # NoSchedule, PreferNoSchedule, NoExecute
    value: str = ""
    time_added: int | None = None


@dataclass(frozen=True, slots=True)
class TopologySpreadConstraint:
    max_skew: int
    topology_key: str
    when_unsatisfiable: str  # DoNotSchedule or ScheduleAnyway
    label_selector: LabelSelector | None = None
    min_domains: int | None = None
    node_affinity_policy: str | None = None  # Honor (default) or Ignore
    node_taints_policy: str | None = None  # Ignore (default) or Honor
    match_label_keys: tuple[str, ...] = ()


# --- pods ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContainerPort:
    container_port: int
    host_port: int = 0
    protocol: str = "TCP"
    host_ip: str = ""
    name: str = ""


@dataclass(frozen=True, slots=True)
class LifecycleHandler:
    """A container lifecycle hook; the model has its sleep action (``sleep.seconds``)."""

    sleep_seconds: int = 0


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """``pre_stop`` runs before the container gets SIGTERM, within its grace period."""

    pre_stop: LifecycleHandler | None = None


@dataclass(frozen=True, slots=True)
class Container:
    """Resources map a resource name (cpu, memory, example.com/gpu) to a Quantity.

    ``restart_policy`` "Always" on an init container makes it a sidecar.
    """

    name: str
    image: str = ""
    requests: FrozenMap = EMPTY
    limits: FrozenMap = EMPTY
    ports: tuple[ContainerPort, ...] = ()
    restart_policy: str | None = None
    lifecycle: Lifecycle | None = None


@dataclass(frozen=True, slots=True)
class PodSpec:
    containers: tuple[Container, ...] = ()
    init_containers: tuple[Container, ...] = ()
    node_name: str = ""
    node_selector: FrozenMap = EMPTY
    affinity: Affinity | None = None
    tolerations: tuple[Toleration, ...] = ()
    topology_spread_constraints: tuple[TopologySpreadConstraint, ...] = ()
    scheduling_gates: tuple[str, ...] = ()
    priority: int | None = None
    priority_class_name: str = ""
    scheduler_name: str = ""
    overhead: FrozenMap = EMPTY
    restart_policy: str = ""
    termination_grace_period_seconds: int | None = None
    host_network: bool = False
    # spec.resources.requests and .limits: pod-level resources (PodLevelResources, on since 1.34)
    requests: FrozenMap = EMPTY
    limits: FrozenMap = EMPTY


@dataclass(frozen=True, slots=True)
class PodStatus:
    phase: str = ""  # Pending, Running, Succeeded, Failed, Unknown
    conditions: tuple[Condition, ...] = ()
    host_ip: str = ""
    pod_ip: str = ""
    start_time: int | None = None
    nominated_node_name: str = ""
    reason: str = ""
    message: str = ""


@dataclass(frozen=True, slots=True)
class PodTemplateSpec:
    metadata: ObjectMeta = ObjectMeta()
    spec: PodSpec = PodSpec()


@dataclass(frozen=True, slots=True)
class Pod:
    KIND: ClassVar[str] = "Pod"
    API_VERSION: ClassVar[str] = "v1"
    RESOURCE: ClassVar[str] = "pods"
    NAMESPACED: ClassVar[bool] = True

    metadata: ObjectMeta = ObjectMeta()
    spec: PodSpec = PodSpec()
    status: PodStatus = PodStatus()
    raw: FrozenMap = field(default=EMPTY, compare=False, repr=False)


# --- nodes ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContainerImage:
    names: tuple[str, ...]
    size_bytes: int = 0


@dataclass(frozen=True, slots=True)
class NodeSpec:
    taints: tuple[Taint, ...] = ()
    unschedulable: bool = False
    pod_cidr: str = ""


@dataclass(frozen=True, slots=True)
class NodeStatus:
    capacity: FrozenMap = EMPTY
    allocatable: FrozenMap = EMPTY
    conditions: tuple[Condition, ...] = ()
    images: tuple[ContainerImage, ...] = ()


@dataclass(frozen=True, slots=True)
class Node:
    KIND: ClassVar[str] = "Node"
    API_VERSION: ClassVar[str] = "v1"
    RESOURCE: ClassVar[str] = "nodes"
    NAMESPACED: ClassVar[bool] = False

    metadata: ObjectMeta = ObjectMeta()
    spec: NodeSpec = NodeSpec()
    status: NodeStatus = NodeStatus()
    raw: FrozenMap = field(default=EMPTY, compare=False, repr=False)


# --- workloads -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RollingUpdateDeployment:
    """maxSurge and maxUnavailable are IntOrString: an int or a percentage such as "25%"."""

    max_surge: int | str | None = None
    max_unavailable: int | str | None = None


@dataclass(frozen=True, slots=True)
class DeploymentStrategy:
    type: str = ""  # RollingUpdate or Recreate
    rolling_update: RollingUpdateDeployment | None = None


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    selector: LabelSelector | None = None
    template: PodTemplateSpec = PodTemplateSpec()
    replicas: int | None = None
    strategy: DeploymentStrategy | None = None
    min_ready_seconds: int = 0
    revision_history_limit: int | None = None
    progress_deadline_seconds: int | None = None
    paused: bool = False


@dataclass(frozen=True, slots=True)
class DeploymentStatus:
    observed_generation: int = 0
    replicas: int = 0
    updated_replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    unavailable_replicas: int = 0
    terminating_replicas: int | None = None
    conditions: tuple[Condition, ...] = ()
    collision_count: int | None = None


@dataclass(frozen=True, slots=True)
class Deployment:
    KIND: ClassVar[str] = "Deployment"
    API_VERSION: ClassVar[str] = "apps/v1"
    RESOURCE: ClassVar[str] = "deployments"
    NAMESPACED: ClassVar[bool] = True

    metadata: ObjectMeta = ObjectMeta()
    spec: DeploymentSpec = DeploymentSpec()
    status: DeploymentStatus = DeploymentStatus()
    raw: FrozenMap = field(default=EMPTY, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ReplicaSetSpec:
    selector: LabelSelector | None = None
    template: PodTemplateSpec = PodTemplateSpec()
    replicas: int | None = None
    min_ready_seconds: int = 0


@dataclass(frozen=True, slots=True)
class ReplicaSetStatus:
    replicas: int = 0
    fully_labeled_replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    terminating_replicas: int | None = None
    observed_generation: int = 0
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class ReplicaSet:
    KIND: ClassVar[str] = "ReplicaSet"
    API_VERSION: ClassVar[str] = "apps/v1"
    RESOURCE: ClassVar[str] = "replicasets"
    NAMESPACED: ClassVar[bool] = True

    metadata: ObjectMeta = ObjectMeta()
    spec: ReplicaSetSpec = ReplicaSetSpec()
    status: ReplicaSetStatus = ReplicaSetStatus()
    raw: FrozenMap = field(default=EMPTY, compare=False, repr=False)


# --- namespaces and leases -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NamespaceSpec:
    finalizers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NamespaceStatus:
    """The namespace controller reports on a deletion in ``conditions`` (NamespaceContentRemaining,
    NamespaceFinalizersRemaining, NamespaceDeletionContentFailure, ...)."""

    phase: str = ""  # Active or Terminating
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class Namespace:
    KIND: ClassVar[str] = "Namespace"
    API_VERSION: ClassVar[str] = "v1"
    RESOURCE: ClassVar[str] = "namespaces"
    NAMESPACED: ClassVar[bool] = False

    metadata: ObjectMeta = ObjectMeta()
    spec: NamespaceSpec = NamespaceSpec()
    status: NamespaceStatus = NamespaceStatus()
    raw: FrozenMap = field(default=EMPTY, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class LeaseSpec:
    """Times are whole seconds on the model's clock (MicroTime in manifests)."""

    holder_identity: str | None = None
    lease_duration_seconds: int | None = None
    acquire_time: int | None = None
    renew_time: int | None = None
    lease_transitions: int | None = None


@dataclass(frozen=True, slots=True)
class Lease:
    KIND: ClassVar[str] = "Lease"
    API_VERSION: ClassVar[str] = "coordination.k8s.io/v1"
    RESOURCE: ClassVar[str] = "leases"
    NAMESPACED: ClassVar[bool] = True

    metadata: ObjectMeta = ObjectMeta()
    spec: LeaseSpec = LeaseSpec()
    raw: FrozenMap = field(default=EMPTY, compare=False, repr=False)


# --- services and endpoint slices ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObjectReference:
    """corev1.ObjectReference: what an endpoint stands for (its ``targetRef``, a Pod)."""

    kind: str = ""
    namespace: str = ""
    name: str = ""
    uid: str = ""


@dataclass(frozen=True, slots=True)
class ServicePort:
    """``target_port`` is IntOrString (a number or a container port's name); ``node_port`` is 0
    until the api-server allocates one (NodePort and LoadBalancer services)."""

    port: int = 0
    name: str = ""
    protocol: str = ""  # TCP (the default), UDP or SCTP
    target_port: int | str | None = None  # defaults to ``port``
    node_port: int = 0


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """An empty ``selector`` is no selector: the EndpointSlice controller leaves such a Service
    alone (etcd's protobuf encoding keeps no empty map, so ``{}`` and absent are one).
    ``cluster_ip`` "None" makes the Service headless; the api-server allocates the rest."""

    type: str = ""  # ClusterIP (the default), NodePort, LoadBalancer or ExternalName
    selector: FrozenMap = EMPTY
    ports: tuple[ServicePort, ...] = ()
    cluster_ip: str = ""
    cluster_ips: tuple[str, ...] = ()
    external_ips: tuple[str, ...] = ()
    external_name: str = ""
    publish_not_ready_addresses: bool = False
    external_traffic_policy: str = ""  # Cluster or Local; NodePort and LoadBalancer only
    internal_traffic_policy: str | None = None  # Cluster or Local


@dataclass(frozen=True, slots=True)
class Service:
    KIND: ClassVar[str] = "Service"
    API_VERSION: ClassVar[str] = "v1"
    RESOURCE: ClassVar[str] = "services"
    NAMESPACED: ClassVar[bool] = True

    metadata: ObjectMeta = ObjectMeta()
    spec: ServiceSpec = ServiceSpec()
    raw: FrozenMap = field(default=EMPTY, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class EndpointConditions:
    """Each is unset (None) when unknown: consumers read an unknown ready or serving as true
    and an unknown terminating as false (discovery/v1 types.go)."""

    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None


@dataclass(frozen=True, slots=True)
class Endpoint:
    addresses: tuple[str, ...] = ()
    conditions: EndpointConditions = EndpointConditions()
    hostname: str | None = None
    target_ref: ObjectReference | None = None
    node_name: str | None = None
    zone: str | None = None


@dataclass(frozen=True, slots=True)
class EndpointPort:
    """Every field is optional upstream; the api-server defaults name to "" and protocol to
    TCP. An unset ``port`` means every port."""

    name: str | None = None
    protocol: str | None = None
    port: int | None = None
    app_protocol: str | None = None


@dataclass(frozen=True, slots=True)
class EndpointSlice:
    """discovery.k8s.io/v1: no spec or status; the endpoints and ports are top-level fields."""

    KIND: ClassVar[str] = "EndpointSlice"
    API_VERSION: ClassVar[str] = "discovery.k8s.io/v1"
    RESOURCE: ClassVar[str] = "endpointslices"
    NAMESPACED: ClassVar[bool] = True

    metadata: ObjectMeta = ObjectMeta()
    address_type: str = ""  # IPv4, IPv6 or FQDN
    endpoints: tuple[Endpoint, ...] = ()
    ports: tuple[EndpointPort, ...] = ()
    raw: FrozenMap = field(default=EMPTY, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class GenericObject:
    """Any other kind (ConfigMap, StatefulSet, ...): its metadata typed, the rest of it kept frozen
    in ``body`` (the document without apiVersion, kind and metadata)."""

    api_version: str
    kind: str
    metadata: ObjectMeta = ObjectMeta()
    body: FrozenMap = EMPTY
    raw: FrozenMap = field(default=EMPTY, compare=False, repr=False)


Object = (
    Pod
    | Node
    | Deployment
    | ReplicaSet
    | Namespace
    | Lease
    | Service
    | EndpointSlice
    | GenericObject
)

KINDS: Mapping[str, type] = FrozenMap(
    (cls.KIND, cls)
    for cls in (Pod, Node, Deployment, ReplicaSet, Namespace, Lease, Service, EndpointSlice)
)


def object_key(obj: Object) -> str:
    """The work-queue key client-go uses: "namespace/name", or "name" for cluster objects."""
    meta = obj.metadata
    return f"{meta.namespace}/{meta.name}" if meta.namespace else meta.name
