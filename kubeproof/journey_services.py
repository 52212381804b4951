"""How ``kubeproof journey`` tells the Service part of a run: what a Service or EndpointSlice
write carries, what the api-server allocated, what a kube-proxy programmed, and a user's request
to a NodePort, through the node's rules to a pod.

>>> from kubeproof.model.objects import Endpoint, EndpointConditions, EndpointSlice
>>> s = EndpointSlice(endpoints=(Endpoint(("10.244.1.2",), EndpointConditions(True, True, False)),))
>>> slice_summary(s)
'endpoints 10.244.1.2 (ready)'
"""

from __future__ import annotations

from kubeproof.model.apiserver.server import read
from kubeproof.model.cluster import ComponentState, State, Traffic
from kubeproof.model.kubeproxy import NodePortRequest, ProxyMemory, Rule, route
from kubeproof.model.objects import EndpointSlice, Service

__all__ = [
    "allocated",
    "curl_story",
    "proxy_changes",
    "service_summary",
    "slice_summary",
]


def service_summary(svc: Service) -> str:
    """A Service in a few words: type, ports, selector."""
    spec = svc.spec
    ports = ", ".join(f"port {p.port} -> targetPort {p.target_port or p.port}" for p in spec.ports)
    selector = ",".join(f"{k}={v}" for k, v in spec.selector.items())
    return f"type {spec.type or 'ClusterIP'}, {ports}, selector {selector or '-'}"


def slice_summary(s: EndpointSlice) -> str:
    """An EndpointSlice's endpoints and their conditions."""
    if not s.endpoints:
        return "no endpoints"
    parts = []
    for e in s.endpoints:
        c = e.conditions
        if c.ready is not False:
            state = "ready"
        elif c.terminating:
            state = "terminating, serving" if c.serving else "terminating"
        else:
            state = "not ready"
        parts.append(f"{','.join(e.addresses)} ({state})")
    return "endpoints " + ", ".join(parts)


def allocated(after: State, namespace: str, name: str) -> str:
    """What the api-server allocated to a Service it stored."""
    svc = read(after.api.store, "services", namespace, name)
    if svc is None:
        return ""
    ports = [str(p.node_port) for p in svc.spec.ports if p.node_port]
    text = f"The Service registry allocates cluster IP {svc.spec.cluster_ip}"
    return text + (f" and NodePort {', '.join(ports)}." if ports else ".")


def _rule_text(r: Rule) -> str:
    backends = ", ".join(f"{b.address}:{b.port}" for b in r.node_port_backends or r.backends)
    via = f"{r.cluster_ip}:{r.port}" + (f" and NodePort {r.node_port}" if r.node_port else "")
    return f"{r.service} {via} -> " + (backends or "REJECT (no endpoints)")


def proxy_changes(before: ComponentState, after: ComponentState) -> list[str]:
    """What a kube-proxy sync changed in the node's rules."""
    old: ProxyMemory = before.memory
    new: ProxyMemory = after.memory
    if old.rules == new.rules and old.synced == new.synced:
        return []
    was = {(r.service, r.port): r for r in old.rules}
    return [
        f"programs {_rule_text(r)} (EndpointSlices at revision {new.revision})"
        for r in new.rules
        if was.get((r.service, r.port)) != r
    ] + [
        f"removes the rules of {r.service}"
        for k, r in was.items()
        if k not in {(n.service, n.port) for n in new.rules}
    ]


def curl_story(before: State, after: State, head: Traffic, wait: str) -> tuple[str, str, str]:
    """(text, the node's kube-proxy lifeline name, the backend's kubelet) of a user's request
    to a NodePort."""
    request: NodePortRequest = head.answer
    r = route(before, request.node, request.namespace, request.name)
    kubelet = before.controllers.get(f"kubelet-{request.node}")
    address = kubelet.host_ip if kubelet is not None else request.node
    text = (
        f"{wait}a user runs `curl http://{address}:{r.node_port}/` (NodePort {r.node_port} of "
        f"Service {request.namespace}/{request.name}, on {request.node})."
    )
    if r.backend is None:
        return text + f" Connection refused: {r.refusal}.", f"kube-proxy-{request.node}", ""
    b = r.backend
    namespace, _, name = b.pod.partition("/")
    pod = read(after.api.store, "pods", namespace, name)
    ready = (
        next((c.status for c in pod.status.conditions if c.type == "Ready"), "-") if pod else "-"
    )
    phase = pod.status.phase if pod is not None else "gone"
    text += (
        f" The rules kube-proxy on {request.node} programmed (from EndpointSlice revision "
        f"{r.revision}) pick one of {r.backends} backend(s) at random and DNAT the "
        f"connection to {b.address}:{b.port}: pod {name} on {b.node}, {phase}, Ready={ready}."
    )
    return text, f"kube-proxy-{request.node}", f"kubelet-{b.node}"
