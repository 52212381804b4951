"""kube-proxy, one per node: the node's forwarding rules, programmed from Services and
EndpointSlices as its informers last saw them.

Its memory is what it has programmed into the node (iptables rules, upstream): for each port of
each Service that has a cluster IP, the backends (pod IP and target port) a connection to the
cluster IP and to the NodePort reaches. Usable backends are the ready endpoints; when a Service
has no ready endpoint at all, the serving terminating ones (ProxyTerminatingEndpoints, GA in
1.28); a Service with none gets a REJECT rule (no backends). Traffic policy Local keeps the
endpoints on this node only. Topology hints are left out.

kube-proxy lags like any informer: its watch events wait to be delivered, and a sync is
rate-limited as upstream's bounded-frequency runner does (minSyncPeriod 1 s, bursts of 2): a
change right after two syncs waits for the next second. Rules programmed before a crash stay in
the node's kernel upstream; the model does not keep them, so a restarted kube-proxy counts as
having no rules until its first sync (``ProxyMemory.synced``).

A user's request to a NodePort (:func:`curl`) is answered from these rules: iptables picks a
backend at random, the model the first, and the backend answers if its containers take
connections (the kubelet's runtime: running, or in a preStop sleep).

upstream: pkg/proxy/iptables/proxier.go (NewProxier: burstSyncs 2, syncProxyRules),
pkg/proxy/topology.go CategorizeEndpoints, pkg/proxy/endpointslicecache.go (addEndpoints: an
unset ready or serving reads as true), pkg/proxy/servicechangetracker.go and
pkg/proxy/util (ShouldSkipService: no cluster IP, ExternalName), pkg/util/async
bounded_frequency_runner.go, pkg/proxy/apis/config/v1alpha1/defaults.go (minSyncPeriod 1 s).

>>> proxy = KubeProxy("node-1")
>>> proxy.name, proxy.identity, proxy.resources
('kube-proxy-node-1', 'system:kube-proxy', ('services', 'endpointslices'))
>>> usable((Backend("10.244.1.2", 80, "default/a", "node-1", False, True, True),), "Cluster", "n")
(Backend(address='10.244.1.2', port=80, pod='default/a', node='node-1', ready=False, \
serving=True, terminating=True),)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kubeproof.model import runtime
from kubeproof.model.apiserver.rbac import KUBE_PROXY
from kubeproof.model.apiserver.server import Response, read
from kubeproof.model.cluster import Entry, State, Traffic
from kubeproof.model.controllers.endpointslice_reconciler import SERVICE_NAME, is_ready
from kubeproof.model.controllers.protocol import Delta, Outgoing, Reconciled, View
from kubeproof.model.objects import EndpointSlice, Service, object_key

__all__ = [
    "Backend",
    "KubeProxy",
    "NodePortRequest",
    "ProxyMemory",
    "Route",
    "Rule",
    "accepts",
    "curl",
    "proxies",
    "route",
    "rules",
    "usable",
]

SYNC = "sync"
MIN_SYNC_PERIOD = 1  # seconds
BURST_SYNCS = 2


@dataclass(frozen=True, slots=True)
class Backend:
    """One endpoint of a Service port as kube-proxy has it: address, target port, the pod it
    stands for (namespace/name), its node and conditions (an unset condition read as upstream
    reads it)."""

    address: str
    port: int
    pod: str
    node: str
    ready: bool
    serving: bool
    terminating: bool


@dataclass(frozen=True, slots=True)
class Rule:
    """The forwarding of one Service port: where its cluster IP and its NodePort (0: none)
    lead. No backends: the port is REJECTed."""

    service: str  # namespace/name
    port_name: str
    protocol: str
    cluster_ip: str
    port: int
    node_port: int
    backends: tuple[Backend, ...]  # by the cluster IP (internalTrafficPolicy)
    node_port_backends: tuple[Backend, ...]  # by the NodePort (externalTrafficPolicy)


@dataclass(frozen=True, slots=True)
class ProxyMemory:
    """The rules programmed, whether any were since the start, the endpointslices revision
    they were programmed from, and the sync runner's token bucket (tokens left, when it was
    last topped up)."""

    rules: tuple[Rule, ...] = ()
    synced: bool = False
    revision: int = 0
    tokens: int = BURST_SYNCS
    refilled: int = 0


def usable(backends: tuple[Backend, ...], policy: str, node: str) -> tuple[Backend, ...]:
    """CategorizeEndpoints: the ready endpoints (this node's only, for policy Local), else the
    serving terminating ones."""
    if policy == "Local":
        backends = tuple(b for b in backends if b.node == node)
    ready = tuple(b for b in backends if b.ready)
    return ready or tuple(b for b in backends if b.serving and b.terminating)


def _backends(slices: list[EndpointSlice], port_name: str, protocol: str) -> tuple[Backend, ...]:
    """The endpoints of the slices for one Service port, first of an address and port kept."""
    seen: dict[tuple[str, int], Backend] = {}
    for s in slices:
        if s.address_type != "IPv4":
            continue
        for p in s.ports:
            if (p.name or "") != port_name or (p.protocol or "TCP") != protocol or p.port is None:
                continue
            for e in s.endpoints:
                if not e.addresses:
                    continue
                c, ref = e.conditions, e.target_ref
                backend = Backend(
                    e.addresses[0],
                    p.port,
                    f"{ref.namespace}/{ref.name}" if ref is not None else "",
                    e.node_name or "",
                    c.ready is not False,
                    c.serving is not False,
                    c.terminating is True,
                )
                seen.setdefault((backend.address, backend.port), backend)
    return tuple(seen.values())


def _skipped(service: Service) -> bool:
    # upstream: pkg/proxy/util ShouldSkipService: no cluster IP (headless), or ExternalName
    return service.spec.cluster_ip in ("", "None") or service.spec.type == "ExternalName"


def rules(view: View, node: str) -> tuple[Rule, ...]:
    """The rules for every Service port, from the informers' caches."""
    by_service: dict[str, list[EndpointSlice]] = {}
    for s in view.list("endpointslices"):
        name = s.metadata.labels.get(SERVICE_NAME)
        if name:
            by_service.setdefault(f"{s.metadata.namespace}/{name}", []).append(s)
    out = []
    for svc in view.list("services"):
        if _skipped(svc):
            continue
        key, spec = object_key(svc), svc.spec
        for sp in spec.ports:
            protocol = sp.protocol or "TCP"
            found = _backends(by_service.get(key, []), sp.name, protocol)
            internal = usable(found, spec.internal_traffic_policy or "Cluster", node)
            external = usable(found, spec.external_traffic_policy or "Cluster", node)
            out.append(
                Rule(
                    key,
                    sp.name,
                    protocol,
                    spec.cluster_ip,
                    sp.port,
                    sp.node_port,
                    internal,
                    external,
                )
            )
    return tuple(out)


@dataclass(frozen=True)
class KubeProxy:
    """The kube-proxy of ``node_name``, programming the node's rules."""

    node_name: str
    min_sync_period: int = MIN_SYNC_PERIOD
    burst_syncs: int = BURST_SYNCS
    identity: str = KUBE_PROXY
    resources: tuple[str, ...] = ("services", "endpointslices")

    @property
    def name(self) -> str:
        return f"kube-proxy-{self.node_name}"

    @property
    def process(self) -> str:
        return self.name

    def initial_memory(self) -> ProxyMemory:
        return ProxyMemory(tokens=self.burst_syncs)

    def keys(self, delta: Delta, view: View) -> tuple[str, ...]:
        # upstream: OnServiceUpdate / OnEndpointSliceUpdate call Sync(): run the sync soon
        return (SYNC,)

    def observe(self, memory: ProxyMemory, delta: Delta, view: View) -> ProxyMemory:
        return memory

    def reconcile(self, view: View, key: str, memory: ProxyMemory) -> Reconciled:
        # upstream: BoundedFrequencyRunner.tryRun: a token bucket of burst_syncs, one token
        # back every min_sync_period; without a token the run is retried when one is back
        period, now = self.min_sync_period, view.now
        earned = (now - memory.refilled) // period
        tokens = min(self.burst_syncs, memory.tokens + earned)
        refilled = now if tokens == self.burst_syncs else memory.refilled + earned * period
        if tokens < 1:
            waiting = replace(memory, tokens=tokens, refilled=refilled)
            return Reconciled(waiting, after=((SYNC, refilled + period - now),))
        programmed = ProxyMemory(
            rules(view, self.node_name),
            True,
            view.revisions.get("endpointslices", 0),
            tokens - 1,
            refilled,
        )
        return Reconciled(programmed)

    def on_response(
        self, memory: ProxyMemory, sent: Outgoing, response: Response, view: View
    ) -> Reconciled:
        return Reconciled(memory)


# --- what the rules do to a request -----------------------------------------------------------


def proxies(state: State) -> dict[str, ProxyMemory]:
    """node -> the rules of its kube-proxy, for the kube-proxies running and synced since their
    start (of the others the model does not know the rules)."""
    out = {}
    for name, controller in state.controllers.items():
        if not isinstance(controller, KubeProxy):
            continue
        component = state.components[name]
        if component.running and component.memory.synced:
            out[controller.node_name] = component.memory
    return out


def accepts(state: State, backend: Backend) -> bool:
    """Whether the backend's pod takes a connection now: its kubelet's runtime runs the
    containers (or their preStop sleep); where that kubelet does not know the pod (it is down,
    or restarted and has not synced it yet), the stored pod is Running and Ready there."""
    kubelet = state.components.get(f"kubelet-{backend.node}")
    record = None
    if kubelet is not None and kubelet.running:
        record = kubelet.memory.pods.get(backend.pod)
    if record is not None:
        rt = record.runtime
        return rt is not None and rt.pod_ip == backend.address and runtime.accepts_connections(rt)
    namespace, _, name = backend.pod.partition("/")
    pod = read(state.api.store, "pods", namespace, name)
    return (
        pod is not None
        and pod.status.pod_ip == backend.address
        and pod.status.phase == "Running"
        and is_ready(pod)
    )


@dataclass(frozen=True, slots=True)
class Route:
    """Where a request to a NodePort on ``node`` goes: the backend chosen (None: refused, and
    ``refusal`` says why), how many the rule has, the revision its rules were programmed from."""

    node: str
    node_port: int
    backend: Backend | None
    backends: int = 0
    revision: int | None = None
    refusal: str = ""


def route(state: State, node: str, namespace: str, name: str) -> Route:
    """The route of a request to the Service's (first) NodePort on ``node``."""
    svc = read(state.api.store, "services", namespace, name)
    port = svc.spec.ports[0].node_port if svc is not None and svc.spec.ports else 0
    memory = proxies(state).get(node)
    if not port or memory is None:
        return Route(node, port, None, refusal="no rule programmed for the port")
    rule = next((r for r in memory.rules if r.node_port == port), None)
    if rule is None:
        return Route(node, port, None, 0, memory.revision, "no rule for the port")
    backends = rule.node_port_backends
    if not backends:
        refusal = "REJECT: the Service has no endpoints"
        return Route(node, port, None, 0, memory.revision, refusal)
    return Route(node, port, backends[0], len(backends), memory.revision)


@dataclass(frozen=True, slots=True)
class NodePortRequest:
    """``curl http://<node>:<NodePort>/`` to the Service ``namespace/name``: called with a
    state, the journal entry of what became of it (200, or no code and why it was refused)."""

    node: str
    namespace: str
    name: str

    def __call__(self, state: State) -> Entry:
        r = route(state, self.node, self.namespace, self.name)
        target = f"{self.node}:{r.node_port}"
        if r.backend is None:
            note = f"{target}: connection refused ({r.refusal})"
            code = None
        else:
            b = r.backend
            note = (
                f"{target} -> {b.address}:{b.port} (pod {b.pod} on {b.node}, one of "
                f"{r.backends} backend(s))"
            )
            code = 200 if accepts(state, b) else None
            note += ": 200 OK" if code else ": connection refused (its containers are stopping)"
        key = f"{self.namespace}/{self.name}"
        revision = state.api.store.revision
        return Entry("curl", "request", "GET", "services", key, code, revision, r.revision, note)


def curl(node: str, namespace: str, name: str, when, label: str = "") -> Traffic:
    """A user's request to the Service's (first) NodePort on ``node``, once ``when`` holds."""
    return Traffic(NodePortRequest(node, namespace, name), when, label)
