"""Scenarios: a cluster, its users' requests in order, and what the end state must show.

A ``Scenario`` names the components that run (every built-in by default: the Deployment,
ReplicaSet, garbage collector, node lifecycle, taint eviction and EndpointSlice controllers, the
scheduler, one kubelet and one kube-proxy per node), the api-server's initial state with its
users, the client requests (a ``Guarded`` request waits for a condition on the cluster: the image
change of ``rolling-update`` waits for the first rollout to complete; a ``Traffic`` one is a
user's request to a Service, answered from a node's kube-proxy rules), scripted node failures,
and ``facts``: statements about the end state with their checks. Every built-in scenario starts
with its kubelets registering their Nodes; the first user request waits until every Node is
Ready.

Built-ins (:data:`SCENARIOS`): ``journey`` (``kubectl create deployment nginx --image nginx
--replicas 3`` on three nodes, then ``kubectl expose deployment nginx --type NodePort --port 80``
and a request to the NodePort), ``rolling-update``, ``scale``, ``node-failure``,
``cascading-delete``, ``rolling-update-service`` (the rollout behind a NodePort Service),
``namespace-delete``; :func:`scenario_from_manifests` builds one from a user's objects.

>>> s = scenario("journey")
>>> s.name, [c.name for c in s.controllers][:4]
('journey', ['kubelet-node-1', 'kubelet-node-2', 'kubelet-node-3', 'deployment'])
>>> s.facts[0].statement
'three pods of nginx are Running and Ready, one on each node'
>>> [k.node.spec.pod_cidr for k in s.controllers[:3]]  # so pod IPs differ across nodes
['10.244.1.0/24', '10.244.2.0/24', '10.244.3.0/24']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from kubeproof.model.apiserver import etcd
from kubeproof.model.apiserver.server import (
    ApiState,
    Request,
    default_users,
    prefix_of,
    read,
    with_rv,
)
from kubeproof.model.apiserver.server import (
    initial_state as api_initial_state,
)
from kubeproof.model.cluster import Guarded, State, initial_state
from kubeproof.model.controllers.deployment import DeploymentController
from kubeproof.model.controllers.endpointslice import EndpointSliceController
from kubeproof.model.controllers.garbagecollector import GarbageCollector
from kubeproof.model.controllers.namespace import NamespaceController
from kubeproof.model.controllers.nodelifecycle import NodeLifecycleController
from kubeproof.model.controllers.protocol import Controller
from kubeproof.model.controllers.replicaset import ReplicaSetController
from kubeproof.model.controllers.scheduler import Scheduler
from kubeproof.model.controllers.tainteviction import TaintEvictionController
from kubeproof.model.errors import KubeproofError
from kubeproof.model.kubelet import Kubelet
from kubeproof.model.kubeproxy import KubeProxy, curl, proxies
from kubeproof.model.objects import (
    Container,
    Deployment,
    DeploymentSpec,
    DeploymentStrategy,
    FrozenMap,
    LabelSelector,
    Lifecycle,
    LifecycleHandler,
    Namespace,
    Node,
    NodeSpec,
    NodeStatus,
    Object,
    ObjectMeta,
    Pod,
    PodSpec,
    PodTemplateSpec,
    RollingUpdateDeployment,
    Service,
    ServicePort,
    ServiceSpec,
)
from kubeproof.model.quantity import parse_quantity

__all__ = [
    "ADMIN",
    "SCENARIOS",
    "Fact",
    "Failure",
    "Scenario",
    "builtin_controllers",
    "deployment_complete",
    "kubectl_create_deployment",
    "kubectl_expose",
    "listed",
    "nodes_ready",
    "scenario",
    "scenario_from_manifests",
]

ADMIN = "kubernetes-admin"
NODES = ("node-1", "node-2", "node-3")
Predicate = Callable[[State], bool]


@dataclass(frozen=True)
class Fact:
    """A statement the end state must make true, and its check."""

    statement: str
    holds: Predicate


@dataclass(frozen=True)
class Failure:
    """A node fails for good once ``when`` holds: its kubelet process stops and is not
    restarted. The run then keeps the clock moving at least ``settle_seconds`` (the node
    lifecycle controller's monitor is periodic, so nothing else would hold the run open until it
    notices the silent node)."""

    node: str
    when: Predicate
    settle_seconds: int = 0
    label: str = ""

    @property
    def process(self) -> str:
        return f"kubelet-{self.node}"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    controllers: tuple[Controller, ...]
    api: ApiState
    clients: tuple[Request | Guarded, ...] = ()
    failures: tuple[Failure, ...] = ()
    facts: tuple[Fact, ...] = ()

    def initial_state(self) -> State:
        return initial_state(self.controllers, self.api, self.clients)

    def failed_facts(self, state: State) -> tuple[str, ...]:
        """The statements of the facts that do not hold in ``state``."""
        return tuple(f.statement for f in self.facts if not f.holds(state))


# --- reading the cluster (for guards and facts) ----------------------------------------------


def listed(state: State | ApiState, resource: str, namespace: str = "") -> tuple[Object, ...]:
    """Every stored object of a resource (one namespace's when given), in key order."""
    api = state.api if isinstance(state, State) else state
    prefix = prefix_of(resource, namespace)
    r = etcd.range_(api.store, prefix, etcd.prefix_end(prefix))
    return tuple(with_rv(kv.value, kv.mod_revision) for kv in r.kvs)


def _condition(obj: Object, kind: str) -> str | None:
    return next((c.status for c in obj.status.conditions if c.type == kind), None)


def nodes_ready(count: int) -> Predicate:
    """At least ``count`` Nodes registered and Ready."""

    def ready(state: State) -> bool:
        nodes = listed(state, "nodes")
        return sum(_condition(n, "Ready") == "True" for n in nodes) >= count

    return ready


def deployment_complete(name: str, namespace: str = "default", replicas: int | None = None):
    """The rollout of the Deployment's current template is complete (upstream
    deployment_util.go DeploymentComplete: every replica updated and available, no old one left,
    the status observed the latest generation); with ``replicas``, at that size."""

    def complete(state: State) -> bool:
        d = read(state.api.store, "deployments", namespace, name)
        if d is None:
            return False
        want, s = d.spec.replicas, d.status
        return (
            (replicas is None or want == replicas)
            and s.observed_generation >= d.metadata.generation
            and s.updated_replicas == want
            and s.replicas == want
            and s.available_replicas == want
        )

    return complete


def _running_ready(pods: Iterable[Pod]) -> list[Pod]:
    return [
        p
        for p in pods
        if p.metadata.deletion_timestamp is None
        and p.status.phase == "Running"
        and _condition(p, "Ready") == "True"
    ]


def _app_pods(state: State, app: str, namespace: str = "default") -> list[Pod]:
    return [p for p in listed(state, "pods", namespace) if p.metadata.labels.get("app") == app]


# --- building blocks -----------------------------------------------------------------------


def builtin_controllers(
    nodes: Iterable[Node], seed: int = 0, namespace_controller: bool = False
) -> tuple[Controller, ...]:
    """One kubelet per node, then kube-controller-manager's controllers, the scheduler and
    one kube-proxy per node. The namespace controller only when asked (scenarios that delete a
    namespace): its informer would add actions, and states, to every other scenario's search."""
    nodes = tuple(nodes)
    return (
        *(Kubelet(n) for n in nodes),
        DeploymentController(),
        ReplicaSetController(),
        GarbageCollector(),
        NodeLifecycleController(),
        TaintEvictionController(),
        *((NamespaceController(),) if namespace_controller else ()),
        EndpointSliceController(),
        Scheduler(seed=seed),
        *(KubeProxy(n.metadata.name) for n in nodes),
    )


def _node(name: str, pod_cidr: str = "", cpu: str = "2", memory: str = "4Gi") -> Node:
    capacity = FrozenMap(
        cpu=parse_quantity(cpu), memory=parse_quantity(memory), pods=parse_quantity("110")
    )
    return Node(
        ObjectMeta(name=name),
        NodeSpec(pod_cidr=pod_cidr),
        NodeStatus(capacity=capacity, allocatable=capacity),
    )


def _pod_cidr(n: int) -> str:
    """The podCIDR of the n-th node (from 1): a /24 of the cluster CIDR 10.244.0.0/16, as the
    node IPAM controller's range allocator hands them out (upstream:
    pkg/controller/nodeipam/ipam/range_allocator.go AllocateOrOccupyCIDR, cidrset.go
    AllocateNext; --node-cidr-mask-size 24); 10.244.0.0/24 goes to the control-plane node of a
    kubeadm cluster, which the model does not have."""
    return f"10.244.{n}.0/24"


def kubectl_create_deployment(
    name: str, image: str, replicas: int = 1, namespace: str = "default"
) -> Deployment:
    """The Deployment ``kubectl create deployment NAME --image IMAGE --replicas N`` sends:
    labels app=NAME on it, its selector and its template; one container named after the image
    (upstream: staging/src/k8s.io/kubectl/pkg/cmd/create/create_deployment.go
    createDeployment, buildPodSpec: the container name is the image's base name)."""
    labels = FrozenMap(app=name)
    container = Container(image.split("/")[-1].split(":")[0].split("@")[0], image)
    template = PodTemplateSpec(ObjectMeta(labels=labels), PodSpec(containers=(container,)))
    return Deployment(
        ObjectMeta(name=name, namespace=namespace, labels=labels),
        DeploymentSpec(LabelSelector(labels), template, replicas),
    )


def kubectl_expose(deployment: Deployment, port: int, service_type: str = "") -> Service:
    """The Service ``kubectl expose deployment NAME --port PORT --type TYPE`` sends: named after
    the Deployment, with its labels, its selector's matchLabels as the selector, one TCP port
    whose targetPort is the port (upstream: staging/src/k8s.io/kubectl/pkg/cmd/expose/expose.go
    createService; polymorphichelpers MapBasedSelectorForObject)."""
    meta = deployment.metadata
    spec = ServiceSpec(
        type=service_type,
        selector=deployment.spec.selector.match_labels,
        ports=(ServicePort(port, protocol="TCP", target_port=port),),
    )
    return Service(ObjectMeta(name=meta.name, namespace=meta.namespace, labels=meta.labels), spec)


def _with_pre_stop(d: Deployment, seconds: int) -> Deployment:
    """The Deployment with a preStop sleep of ``seconds`` in every container (none for 0)."""
    if not seconds:
        return d
    hook = Lifecycle(LifecycleHandler(sleep_seconds=seconds))
    template = d.spec.template
    containers = tuple(replace(c, lifecycle=hook) for c in template.spec.containers)
    template = replace(template, spec=replace(template.spec, containers=containers))
    return replace(d, spec=replace(d.spec, template=template))


def forwarding(
    service: str,
    pods: Callable[[State, str], bool] | None = None,
    nodes: Iterable[str] = NODES,
) -> Predicate:
    """Every kube-proxy of ``nodes`` has programmed the Service ("namespace/name") NodePort
    with backends (all of them pods for which ``pods(state, pod)`` holds, when given)."""
    nodes = tuple(nodes)

    def holds(state: State) -> bool:
        programmed = proxies(state)
        for node in nodes:
            memory = programmed.get(node)
            rule = (
                None
                if memory is None
                else next((r for r in memory.rules if r.service == service and r.node_port), None)
            )
            if rule is None or not rule.node_port_backends:
                return False
            if pods is not None and not all(pods(state, b.pod) for b in rule.node_port_backends):
                return False
        return True

    return holds


def _create(obj: Object) -> Request:
    meta = obj.metadata
    namespace = meta.namespace if obj.NAMESPACED else ""
    if obj.NAMESPACED and not namespace:
        namespace = "default"
        obj = replace(obj, metadata=replace(meta, namespace=namespace))
    return Request(ADMIN, "create", obj.RESOURCE, namespace, body=obj)


def _update_deployment(name: str, change: Callable[[Deployment], Deployment], namespace="default"):
    """kubectl reads the live Deployment and writes it back changed (a PATCH upstream; the
    model's api-server has update, so the live resourceVersion guards it)."""

    def build(api: ApiState) -> Request:
        live = read(api.store, "deployments", namespace, name)
        return Request(ADMIN, "update", "deployments", namespace, name, body=change(live))

    return build


def _set_spec(**changes) -> Callable[[Deployment], Deployment]:
    return lambda d: replace(d, spec=replace(d.spec, **changes))


def _set_image(image: str) -> Callable[[Deployment], Deployment]:
    def change(d: Deployment) -> Deployment:
        template = d.spec.template
        containers = tuple(replace(c, image=image) for c in template.spec.containers)
        template = replace(template, spec=replace(template.spec, containers=containers))
        return replace(d, spec=replace(d.spec, template=template))

    return change


def _base(nodes: tuple[str, ...] = NODES, seed: int = 0):
    objects = tuple(_node(n, _pod_cidr(i)) for i, n in enumerate(nodes, start=1))
    return builtin_controllers(objects, seed), api_initial_state(default_users(nodes=nodes))


def _after_nodes(request, nodes: int) -> Guarded:
    return Guarded(nodes_ready(nodes), request, f"{nodes} nodes Ready")


def _deployment_facts(app: str, replicas: int, spread: bool, image: str | None = None):
    """The Deployment reports ``replicas`` available and exactly that many of its pods are
    Running and Ready (on as many nodes when ``spread``), with ``image`` when given."""

    def pods_ok(state: State) -> bool:
        pods = _running_ready(_app_pods(state, app))
        if len(pods) != replicas:
            return False
        if image is not None and any(c.image != image for p in pods for c in p.spec.containers):
            return False
        return not spread or len({p.spec.node_name for p in pods}) == replicas

    def status_ok(state: State) -> bool:
        return deployment_complete(app, replicas=replicas)(state)

    where = ", one on each node" if spread else ""
    with_image = f" with image {image}" if image else ""
    count = {2: "two", 3: "three", 5: "five"}.get(replicas, str(replicas))
    return (
        Fact(f"{count} pods of {app} are Running and Ready{with_image}{where}", pods_ok),
        Fact(f"Deployment {app} reports availableReplicas={replicas}, all updated", status_ok),
    )


# --- the built-in scenarios ----------------------------------------------------------------


def _image_of(image: str) -> Callable[[State, str], bool]:
    """Whether the pod ("namespace/name") is stored and runs ``image``."""

    def runs(state: State, key: str) -> bool:
        namespace, _, name = key.partition("/")
        pod = read(state.api.store, "pods", namespace, name)
        return pod is not None and all(c.image == image for c in pod.spec.containers)

    return runs


def _forwarding_fact(service: str, count: int, image: str) -> Fact:
    """Every kube-proxy forwards the NodePort to exactly the ``count`` pods running ``image``
    that are Running and Ready (as the EndpointSlice lists them)."""
    namespace, _, app = service.partition("/")

    def holds(state: State) -> bool:
        pods = _running_ready(_app_pods(state, app, namespace))
        want = {f"{namespace}/{p.metadata.name}" for p in pods}
        programmed = proxies(state)
        if len(want) != count or set(programmed) != set(NODES):
            return False
        for memory in programmed.values():
            rules = [r for r in memory.rules if r.service == service and r.node_port]
            if len(rules) != 1 or {b.pod for b in rules[0].node_port_backends} != want:
                return False
        return forwarding(service, _image_of(image))(state)

    return Fact(
        f"every kube-proxy forwards the NodePort of {service} to the {count} Ready pods",
        holds,
    )


def journey(seed: int = 0) -> Scenario:
    controllers, api = _base(seed=seed)
    deployment = kubectl_create_deployment("nginx", "nginx", 3)
    expose = Guarded(
        deployment_complete("nginx"),
        _create(kubectl_expose(deployment, 80, "NodePort")),
        "the rollout is complete",
    )
    request = curl(
        "node-2",
        "default",
        "nginx",
        forwarding("default/nginx", nodes=("node-2",)),
        "kube-proxy on node-2 forwards the NodePort",
    )
    return Scenario(
        "journey",
        "Three nodes join the cluster, then `kubectl create deployment nginx --image nginx "
        "--replicas 3`: from kubectl through the api-server, etcd, the Deployment and "
        "ReplicaSet controllers and the scheduler to the kubelets; once it is rolled out, "
        "`kubectl expose deployment nginx --type NodePort --port 80`: the EndpointSlice "
        "controller lists the pods, every kube-proxy programs the NodePort, and a request to "
        "the NodePort on node-2 reaches an nginx pod.",
        controllers,
        api,
        (_after_nodes(_create(deployment), 3), expose, request),
        facts=(
            *_deployment_facts("nginx", 3, spread=True),
            _forwarding_fact("default/nginx", 3, "nginx"),
        ),
    )


def rolling_update(seed: int = 0, nodes: int = 3, replicas: int = 3) -> Scenario:
    names = tuple(f"node-{i}" for i in range(1, nodes + 1))
    controllers, api = _base(names, seed=seed)
    d = kubectl_create_deployment("nginx", "nginx", replicas)
    strategy = DeploymentStrategy("RollingUpdate", RollingUpdateDeployment(1, 0))
    d = replace(d, spec=replace(d.spec, strategy=strategy))
    set_image = Guarded(
        deployment_complete("nginx"),
        _update_deployment("nginx", _set_image("nginx:1.27")),
        "the first rollout is complete",
    )
    facts = _deployment_facts("nginx", replicas, spread=replicas <= nodes, image="nginx:1.27")

    def one_replicaset_left(state: State) -> bool:
        sets = listed(state, "replicasets", "default")
        return sorted(rs.spec.replicas for rs in sets) == [0, replicas]

    def no_old_pods(state: State) -> bool:
        return all(
            c.image == "nginx:1.27" for p in _app_pods(state, "nginx") for c in p.spec.containers
        )

    return Scenario(
        "rolling-update",
        "The journey's Deployment with maxSurge 1 and maxUnavailable 0; once it is rolled "
        "out, `kubectl set image deployment/nginx nginx=nginx:1.27`: a new ReplicaSet scales "
        "up one pod at a time while the old one scales down.",
        controllers,
        api,
        (_after_nodes(_create(d), nodes), set_image),
        facts=(
            *facts,
            Fact("the old ReplicaSet is scaled to 0 and kept as history", one_replicaset_left),
            Fact("no pod of the old template is left", no_old_pods),
        ),
    )


def scale(seed: int = 0) -> Scenario:
    controllers, api = _base(seed=seed)
    create = _create(kubectl_create_deployment("nginx", "nginx", 3))
    up = Guarded(
        deployment_complete("nginx", replicas=3),
        _update_deployment("nginx", _set_spec(replicas=5)),
        "three replicas available",
    )
    down = Guarded(
        deployment_complete("nginx", replicas=5),
        _update_deployment("nginx", _set_spec(replicas=2)),
        "five replicas available",
    )

    def only_two(state: State) -> bool:
        return len(_app_pods(state, "nginx")) == 2

    return Scenario(
        "scale",
        "The journey's Deployment scaled up to 5 replicas (`kubectl scale --replicas 5`), "
        "then, once they are available, down to 2.",
        controllers,
        api,
        (_after_nodes(create, 3), up, down),
        facts=(
            *_deployment_facts("nginx", 2, spread=False),
            Fact("the three surplus pods are gone", only_two),
        ),
    )


def node_failure(seed: int = 0, node: str = "node-2") -> Scenario:
    controllers, api = _base(seed=seed)
    create = _create(kubectl_create_deployment("nginx", "nginx", 3))
    failure = Failure(
        node,
        deployment_complete("nginx"),
        settle_seconds=120,
        label="the rollout is complete",
    )

    def replaced(state: State) -> bool:
        pods = _running_ready(_app_pods(state, "nginx"))
        return len(pods) == 3 and all(p.spec.node_name != node for p in pods)

    def tainted(state: State) -> bool:
        n = read(state.api.store, "nodes", "", node)
        effects = {t.effect for t in n.spec.taints if t.key == "node.kubernetes.io/unreachable"}
        return effects == {"NoSchedule", "NoExecute"}

    def evicted(state: State) -> bool:
        # the kubelet is gone, so nothing finishes the graceful deletion: the pods stay
        # Terminating on the node (upstream too, until the Node object is deleted)
        left = [p for p in _app_pods(state, "nginx") if p.spec.node_name == node]
        return bool(left) and all(p.metadata.deletion_timestamp is not None for p in left)

    return Scenario(
        "node-failure",
        f"After the journey's rollout the kubelet of {node} stops for good. The node lifecycle "
        "controller notices the silent node (no Lease renewal for 50 s), sets its conditions "
        "Unknown, so taints it node.kubernetes.io/unreachable:NoSchedule (no new pods there) "
        "and, on its next pass, unreachable:NoExecute; the taint eviction "
        "controller deletes its pod once the pod's tolerationSeconds (300) are over, and the "
        "ReplicaSet controller replaces it on another node.",
        controllers,
        api,
        (_after_nodes(create, 3),),
        failures=(failure,),
        facts=(
            Fact(
                f"{node} is tainted node.kubernetes.io/unreachable, NoSchedule and NoExecute",
                tainted,
            ),
            Fact(f"the pod on {node} was evicted and is left Terminating", evicted),
            Fact("three pods of nginx are Running and Ready on the other nodes", replaced),
            _deployment_facts("nginx", 3, spread=False)[1],
        ),
    )


def cascading_delete(seed: int = 0) -> Scenario:
    controllers, api = _base(seed=seed)
    create = _create(kubectl_create_deployment("nginx", "nginx", 3))
    delete = Guarded(
        deployment_complete("nginx"),
        Request(
            ADMIN, "delete", "deployments", "default", "nginx", propagation_policy="Background"
        ),
        "the rollout is complete",
    )

    def gone(resource: str) -> Predicate:
        return lambda state: not listed(state, resource, "default")

    return Scenario(
        "cascading-delete",
        "After the journey's rollout, `kubectl delete deployment nginx --cascade=background`: "
        "the Deployment goes at once; the garbage collector deletes its ReplicaSet, then the "
        "ReplicaSet's pods, which the kubelets stop.",
        controllers,
        api,
        (_after_nodes(create, 3), delete),
        facts=(
            Fact("the Deployment is gone", gone("deployments")),
            Fact("its ReplicaSet is gone", gone("replicasets")),
            Fact("its pods are gone", gone("pods")),
        ),
    )


def rolling_update_service(seed: int = 0, pre_stop: int = 0) -> Scenario:
    """The journey's Deployment (maxSurge 1, maxUnavailable 0; a preStop sleep of ``pre_stop``
    seconds when given) exposed as a NodePort Service, then rolled to a new image."""
    controllers, api = _base(seed=seed)
    d = kubectl_create_deployment("nginx", "nginx", 3)
    strategy = DeploymentStrategy("RollingUpdate", RollingUpdateDeployment(1, 0))
    d = _with_pre_stop(replace(d, spec=replace(d.spec, strategy=strategy)), pre_stop)
    expose = Guarded(
        deployment_complete("nginx"),
        _create(kubectl_expose(d, 80, "NodePort")),
        "the first rollout is complete",
    )
    set_image = Guarded(
        forwarding("default/nginx", _image_of("nginx")),
        _update_deployment("nginx", _set_image("nginx:1.27")),
        "every kube-proxy forwards the NodePort",
    )
    request = curl(
        "node-3",
        "default",
        "nginx",
        forwarding("default/nginx", _image_of("nginx:1.27"), ("node-3",)),
        "kube-proxy on node-3 forwards the NodePort to the new pods only",
    )
    hook = f" with a {pre_stop} s preStop sleep" if pre_stop else ", no preStop hook"
    return Scenario(
        "rolling-update-service",
        f"The journey's Deployment (maxSurge 1, maxUnavailable 0{hook}) exposed with "
        "`kubectl expose deployment nginx --type NodePort --port 80`; once every kube-proxy "
        "forwards the NodePort, `kubectl set image deployment/nginx nginx=nginx:1.27`: each "
        "old pod leaves the EndpointSlice (ready false, terminating) as its replacement "
        "becomes Ready, and every kube-proxy follows.",
        controllers,
        api,
        (_after_nodes(_create(d), 3), expose, set_image, request),
        facts=(
            *_deployment_facts("nginx", 3, spread=True, image="nginx:1.27"),
            _forwarding_fact("default/nginx", 3, "nginx:1.27"),
        ),
    )


TEAM = "team"


def namespace_delete(seed: int = 0) -> Scenario:
    """A namespace with the journey's Deployment and its Service, deleted once rolled out."""
    nodes = tuple(_node(n, _pod_cidr(i)) for i, n in enumerate(NODES, start=1))
    controllers = builtin_controllers(nodes, seed, namespace_controller=True)
    api = api_initial_state(default_users(nodes=NODES))
    d = kubectl_create_deployment("nginx", "nginx", 2, namespace=TEAM)
    delete = Guarded(
        forwarding(f"{TEAM}/nginx"),
        Request(ADMIN, "delete", "namespaces", name=TEAM),
        "the Service is served on every node",
    )

    def gone(state: State) -> bool:
        return read(state.api.store, "namespaces", "", TEAM) is None

    def empty(state: State) -> bool:
        prefix = "/registry/"
        r = etcd.range_(state.api.store, prefix, etcd.prefix_end(prefix))
        return not any(kv.key.split("/")[3:4] == [TEAM] for kv in r.kvs)

    def no_rules(state: State) -> bool:
        return all(
            r.service.split("/")[0] != TEAM for m in proxies(state).values() for r in m.rules
        )

    return Scenario(
        "namespace-delete",
        f"Namespace {TEAM} with the journey's Deployment (two replicas) exposed as a NodePort "
        f"Service; once every node serves it, `kubectl delete namespace {TEAM}`: the namespace "
        "controller deletes the pods, then everything else (the garbage collector takes the "
        "ReplicaSet and the EndpointSlice with their owners), and finalizes the namespace; "
        "every kube-proxy drops the Service.",
        controllers,
        api,
        (
            _after_nodes(_create(Namespace(ObjectMeta(name=TEAM))), 3),
            _create(d),
            _create(kubectl_expose(d, 80, "NodePort")),
            delete,
        ),
        facts=(
            Fact(f"namespace {TEAM} is gone", gone),
            Fact(f"nothing is left in namespace {TEAM}", empty),
            Fact(f"no kube-proxy forwards a Service of {TEAM}", no_rules),
        ),
    )


SCENARIOS: dict[str, Callable[..., Scenario]] = {
    "journey": journey,
    "rolling-update": rolling_update,
    "scale": scale,
    "node-failure": node_failure,
    "cascading-delete": cascading_delete,
    "rolling-update-service": rolling_update_service,
    "namespace-delete": namespace_delete,
}


class UnknownScenario(KubeproofError):
    """A scenario name the model does not have."""


def scenario(name: str = "journey", seed: int = 0) -> Scenario:
    """A built-in scenario by name."""
    build = SCENARIOS.get(name)
    if build is None:
        known = ", ".join(SCENARIOS)
        raise UnknownScenario(f"unknown scenario {name!r} (known: {known})")
    return build(seed=seed)


# --- from a user's manifests -----------------------------------------------------------------


def scenario_from_manifests(
    objects: Iterable[Object], name: str = "manifests", seed: int = 0
) -> Scenario:
    """Nodes become kubelets that register them; every other object is created by the admin
    once the nodes are Ready, Namespaces first, in manifest order. Facts: every Deployment
    reports all its replicas available."""
    objects = tuple(objects)
    nodes = tuple(o for o in objects if isinstance(o, Node))
    names = tuple(n.metadata.name for n in nodes)
    rest = [o for o in objects if not isinstance(o, Node)]
    rest.sort(key=lambda o: not isinstance(o, Namespace))  # stable: Namespaces first
    requests: list[Request | Guarded] = [_create(o) for o in rest]
    if requests and nodes:
        requests[0] = _after_nodes(requests[0], len(nodes))
    api = api_initial_state(default_users(nodes=names))
    facts = tuple(
        Fact(
            f"Deployment {_ns(d)}/{d.metadata.name} reports every replica available",
            deployment_complete(d.metadata.name, _ns(d)),
        )
        for d in rest
        if isinstance(d, Deployment)
    )
    described = f"{len(nodes)} node(s)" if nodes else "no nodes"
    return Scenario(
        name,
        f"From manifests: {described}, then {len(rest)} object(s) created by {ADMIN}.",
        builtin_controllers(nodes, seed),
        api,
        tuple(requests),
        facts=facts,
    )


def _ns(obj: Object) -> str:
    return obj.metadata.namespace or "default"
