"""Properties of Services: the EndpointSlice controller, kube-proxy's rules, zero downtime, and
namespace deletion.

- What kube-proxy forwards to was listed: every backend of a rule it programs is an endpoint,
  with the same conditions, of an EndpointSlice of that Service as etcd held the slices at the
  revision its cache reflected when it programmed (the staleness the model allows: any lag).
- The EndpointSlice controller lists only selected pods: every endpoint of a slice it writes is
  a pod its Service's selector matched, at the pod's address, in a version of both that etcd
  kept.
- Zero downtime: from every node, each Service port is forwarded to at least one backend and
  only to backends whose containers take connections. Upstream does not promise it: it holds
  only while every kube-proxy drops a terminating pod before the pod's containers get SIGTERM
  (reports/zero-downtime.md).
- Eventually the slices list exactly the selected pods and every kube-proxy forwards exactly
  what they list; a deleted namespace is gone, with nothing left in it.

>>> from kubeproof.model.run import run
>>> from kubeproof.model.scenarios import scenario
>>> r = run(scenario("journey"))
>>> [p.name for p in (ENDPOINTS_CONVERGE, NAMESPACES_EMPTIED) if not p.holds_in(r.state)]
[]
"""

from __future__ import annotations

from typing import Any

from kubeproof.model.apiserver import etcd
from kubeproof.model.apiserver.server import prefix_of, with_rv
from kubeproof.model.cluster import Reconcile, Send, State, Timeout
from kubeproof.model.controllers.endpointslice import EndpointSliceController
from kubeproof.model.controllers.endpointslice_reconciler import (
    desired_endpoints,
    owned_slices,
    selects,
)
from kubeproof.model.controllers.protocol import View
from kubeproof.model.kubeproxy import Backend, KubeProxy, ProxyMemory, accepts, proxies, rules
from kubeproof.model.objects import EndpointSlice, FrozenMap, Object, object_key
from kubeproof.properties.core import EVENTUALLY, INVARIANT, TRANSITION, Property, Violation
from kubeproof.properties.reading import components_of, get, sent_request, stored

__all__ = [
    "ENDPOINTSLICES_SELECT",
    "ENDPOINTS_CONVERGE",
    "NAMESPACES_EMPTIED",
    "PROXY_FORWARDS_LISTED",
    "ZERO_DOWNTIME",
]


def _at(state: State, resource: str, revision: int) -> dict[str, Object] | None:
    """The stored objects of a resource at ``revision``, by key; None once compacted."""
    prefix = prefix_of(resource)
    r = etcd.range_(state.api.store, prefix, etcd.prefix_end(prefix), revision=revision)
    if isinstance(r, etcd.EtcdError):
        return None
    objects = (with_rv(kv.value, kv.mod_revision) for kv in r.kvs)
    return {object_key(o): o for o in objects}


# --- kube-proxy forwards to what the slices listed -------------------------------------------


def _listed(slices: dict[str, EndpointSlice]) -> set[tuple]:
    """(service key, address, port, pod, ready, serving, terminating) of every endpoint."""
    out = set()
    for s in slices.values():
        service = f"{s.metadata.namespace}/{s.metadata.labels.get('kubernetes.io/service-name')}"
        for p in s.ports:
            for e in s.endpoints:
                ref, c = e.target_ref, e.conditions
                pod = f"{ref.namespace}/{ref.name}" if ref is not None else ""
                for address in e.addresses:
                    out.add(
                        (
                            service,
                            address,
                            p.port,
                            pod,
                            c.ready is not False,
                            c.serving is not False,
                            c.terminating is True,
                        )
                    )
    return out


def _row(service: str, b: Backend) -> tuple:
    return (service, b.address, b.port, b.pod, b.ready, b.serving, b.terminating)


def _unlisted_backend(before: State, action: Any, after: State) -> Violation | None:
    if not isinstance(action, Reconcile) or action.component not in components_of(after, KubeProxy):
        return None
    old, new = before.components[action.component], after.components[action.component]
    memory: ProxyMemory = new.memory
    if old.memory is memory or not new.running or not memory.synced:
        return None
    slices = _at(after, "endpointslices", memory.revision)
    if slices is None:
        return None  # compacted: what the slices held then is no longer known
    listed = _listed(slices)
    for rule in memory.rules:
        for backend in (*rule.backends, *rule.node_port_backends):
            if _row(rule.service, backend) not in listed:
                return Violation(
                    "kube-proxy-forwards-listed-endpoints",
                    f"{action.component} forwards {rule.service} port {rule.port} to "
                    f"{backend.address}:{backend.port}, which no EndpointSlice listed so at "
                    f"revision {memory.revision}",
                    (
                        ("kube-proxy", action.component),
                        ("service", rule.service),
                        ("backend", backend),
                        ("programmed from revision", memory.revision),
                    ),
                )
    return None


PROXY_FORWARDS_LISTED = Property(
    "kube-proxy-forwards-listed-endpoints",
    "every backend kube-proxy forwards a Service to is an endpoint an EndpointSlice of that "
    "Service listed, at the revision kube-proxy's cache reflected",
    TRANSITION,
    _unlisted_backend,
    "Checked whenever a kube-proxy (model/kubeproxy.py) programs its rules, which is the only "
    "time they change: each backend of each rule, by cluster IP or NodePort, with its ready, "
    "serving and terminating conditions (an unset one read as upstream reads it), must be an "
    "endpoint of a slice labelled kubernetes.io/service-name with the Service's name, as etcd "
    "held the endpointslices at the revision kube-proxy's informer had reached: the staleness "
    "the model allows is whatever its watch lags. Skipped once that revision is compacted.",
)


# --- the EndpointSlice controller lists only selected pods -----------------------------------


def _versions(state: State, resource: str, key: str) -> tuple[Object, ...]:
    """Every version of the object under ``key`` that etcd still has: in its history since
    the last compaction (deleted ones included) and now."""
    store, full = state.api.store, prefix_of(resource) + key
    found = []
    for revision in range(store.history_start, store.revision + 1):
        for event in store.events_at(revision):
            if event.kv.key == full:
                found.extend(kv.value for kv in (event.prev_kv, event.kv) if kv and kv.value)
    current = store.get(full)
    if current is not None:
        found.append(current.value)
    return tuple(found)


def _unselected_endpoint(before: State, action: Any, after: State) -> Violation | None:
    if not isinstance(action, Send | Timeout) or action.component not in components_of(
        before, EndpointSliceController
    ):
        return None
    request = sent_request(before, action)
    if request is None or request.verb not in ("create", "update"):
        return None
    if before.api.store is after.api.store:
        return None  # nothing was written
    written = next(
        (e.kv.value for e in _written(before, after) if isinstance(e.kv.value, EndpointSlice)),
        None,
    )
    if written is None:
        return None
    namespace = written.metadata.namespace
    name = written.metadata.labels.get("kubernetes.io/service-name", "")
    services = _versions(after, "services", f"{namespace}/{name}")
    for e in written.endpoints:
        ref = e.target_ref
        pods = () if ref is None else _versions(after, "pods", f"{ref.namespace}/{ref.name}")
        pods = tuple(p for p in pods if p.metadata.uid == ref.uid)
        if (not pods or not services) and after.api.store.compact_revision > 0:
            continue  # compacted away: what the controller read is no longer known
        if any(
            p.metadata.namespace == namespace and selects(svc, p) and p.status.pod_ip in e.addresses
            for p in pods
            for svc in services
        ):
            continue
        return Violation(
            "endpointslices-list-selected-pods",
            f"EndpointSlice {namespace}/{written.metadata.name} lists {ref.name} at "
            f"{', '.join(e.addresses)}: no version of that pod was selected by Service "
            f"{namespace}/{name} at that address",
            (
                ("endpointslice", f"{namespace}/{written.metadata.name}"),
                ("endpoint", e),
                ("service", f"{namespace}/{name}"),
                ("pod labels", tuple(dict(p.metadata.labels) for p in pods)),
                ("pod addresses", tuple(p.status.pod_ip for p in pods)),
            ),
        )
    return None


def _written(before: State, after: State) -> tuple[etcd.Event, ...]:
    b, a = before.api.store, after.api.store
    return tuple(e for r in range(b.revision + 1, a.revision + 1) for e in a.events_at(r))


ENDPOINTSLICES_SELECT = Property(
    "endpointslices-list-selected-pods",
    "an EndpointSlice the controller writes lists only pods its Service selects, at their "
    "addresses",
    TRANSITION,
    _unselected_endpoint,
    "Checked on every create or update of an EndpointSlice the EndpointSlice controller sends "
    "that lands: each endpoint's targetRef must name a pod (same uid) in the slice's namespace "
    "that the selector of the Service named by its kubernetes.io/service-name label matched, "
    "with the pod's IP among the endpoint's addresses, in some version of the pod and of the "
    "Service etcd has kept (its history since the last compaction, deleted objects included): "
    "a lagging cache may list a pod since deleted or relabelled, never one it could not have "
    "seen selected. After a compaction, an endpoint none of whose pod's versions are left is "
    "skipped.",
)


# --- zero downtime ---------------------------------------------------------------------------


def _downtime(state: State) -> Violation | None:
    for node, memory in sorted(proxies(state).items()):
        for rule in memory.rules:
            for via, backends in (
                ("NodePort", rule.node_port_backends),
                ("cluster IP", rule.backends),
            ):
                if via == "NodePort" and not rule.node_port:
                    continue
                dead = [b for b in backends if not accepts(state, b)]
                if backends and not dead:
                    continue
                what = (
                    f"{dead[0].pod} at {dead[0].address}:{dead[0].port}, whose containers "
                    "take no connection"
                    if dead
                    else "no backend: the port is REJECTed"
                )
                return Violation(
                    "zero-downtime",
                    f"a request to {rule.service} port {rule.port} by the {via} on {node} can "
                    f"reach {what}",
                    (
                        ("node", node),
                        ("service", rule.service),
                        ("via", via),
                        ("backends", tuple(f"{b.pod} {b.address}" for b in backends)),
                        ("not answering", tuple(b.pod for b in dead)),
                        ("kube-proxy programmed from revision", memory.revision),
                        ("etcd revision", state.api.store.revision),
                        ("now", state.api.now),
                    ),
                )
    return None


ZERO_DOWNTIME = Property(
    "zero-downtime",
    "from every node, a request to a Service finds a backend that takes it, whichever backend "
    "kube-proxy picks",
    INVARIANT,
    _downtime,
    "For each kube-proxy that has programmed rules since it started (of the rules a crashed "
    "kube-proxy left in the kernel the model keeps nothing), each rule of a Service port, by "
    "its NodePort and by its cluster IP: it must have at least one backend, and every backend "
    "(iptables picks one at random) must be a pod whose containers take connections: running, "
    "or sleeping in their preStop hook, as the kubelet's runtime has them (the stored pod, "
    "Running and Ready, where that kubelet does not know the pod). It presumes the Service "
    "was already served when the run began (suites start it settled); upstream promises no "
    "such thing: see reports/zero-downtime.md.",
)


# --- eventually --------------------------------------------------------------------------------


def _etcd_view(state: State) -> View:
    caches = FrozenMap(
        (r, FrozenMap((object_key(o), o) for o in stored(state, r)))
        for r in ("services", "pods", "endpointslices", "nodes")
    )
    return View("endpoints-converge", state.api.now, caches, state.api)


def _unconverged(state: State) -> Violation | None:
    view = _etcd_view(state)
    for service in view.list("services"):
        if service.spec.type == "ExternalName" or not service.spec.selector:
            continue
        groups, _ = desired_endpoints(view, service)
        want = {(ports, e) for ports, endpoints in groups.items() for e in endpoints}
        have = {(s.ports, e) for s in owned_slices(view, service) for e in s.endpoints}
        if want != have:
            return Violation(
                "endpoints-converge",
                f"the EndpointSlices of {object_key(service)} do not list its pods as they are",
                (
                    ("service", object_key(service)),
                    ("missing", tuple(sorted(str(e.addresses) for _, e in want - have))),
                    ("extra", tuple(sorted(str(e.addresses) for _, e in have - want))),
                ),
            )
    for node, memory in sorted(proxies(state).items()):
        expected = rules(view, node)
        if memory.rules != expected:
            return Violation(
                "endpoints-converge",
                f"kube-proxy on {node} does not forward what the EndpointSlices list",
                (("node", node), ("programmed", memory.rules), ("expected", expected)),
            )
    return None


ENDPOINTS_CONVERGE = Property(
    "endpoints-converge",
    "every Service's EndpointSlices come to list exactly its pods, and every kube-proxy to "
    "forward exactly what they list",
    EVENTUALLY,
    _unconverged,
    "On the quiescent state: for every Service with a selector, the endpoints of the slices "
    "the controller manages equal what its reconciler (model/controllers/endpointslice.py "
    "desired_endpoints) makes of the stored pods and nodes; and every kube-proxy that has "
    "synced since its start holds the rules model/kubeproxy.py rules() makes of the stored "
    "Services and slices.",
)


def _leftovers(state: State) -> Violation | None:
    alive = {n.metadata.name for n in stored(state, "namespaces")}
    for ns in stored(state, "namespaces"):
        if ns.metadata.deletion_timestamp is not None:
            return Violation(
                "namespace-deletion-completes",
                f"namespace {ns.metadata.name} is still {ns.status.phase or 'being deleted'}",
                (("namespace", ns.metadata.name), ("finalizers", ns.spec.finalizers)),
            )
    prefix = "/registry/"
    for kv in etcd.range_(state.api.store, prefix, etcd.prefix_end(prefix)).kvs:
        parts = kv.key.split("/")
        if len(parts) == 5 and parts[2] != "namespaces" and parts[3] not in alive:
            owner = get(state, "namespaces", "", parts[3])
            return Violation(
                "namespace-deletion-completes",
                f"{kv.key} is left in namespace {parts[3]}, which is gone",
                (("key", kv.key), ("namespace", parts[3]), ("namespace object", owner)),
            )
    return None


NAMESPACES_EMPTIED = Property(
    "namespace-deletion-completes",
    "a deleted namespace is gone once the faults stop, with nothing left in it",
    EVENTUALLY,
    _leftovers,
    "On the quiescent state: no namespace has a deletionTimestamp (the namespace controller "
    "emptied it and removed the kubernetes finalizer), and no object is stored under "
    "/registry/<resource>/<namespace>/ of a namespace etcd does not hold.",
)
