"""What the properties read of a state and of a step: stored objects, the etcd events a step
wrote, the request a step sent and whether it landed, pods and their owners.

Properties judge the cluster by what etcd holds (the truth every component converges to) and,
where a property is about a component's own decisions, by that component's informer caches.

>>> from kubeproof.model.scenarios import scenario
>>> state = scenario("journey").initial_state()
>>> [n.metadata.name for n in stored(state, "namespaces")][:2]
['default', 'kube-node-lease']
>>> from kubeproof.model.kubelet import Kubelet
>>> events(state, state), components_of(state, Kubelet)
((), ('kubelet-node-1', 'kubelet-node-2', 'kubelet-node-3'))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kubeproof.model.apiserver import etcd
from kubeproof.model.apiserver.server import Request, handle, prefix_of, read
from kubeproof.model.cluster import ClientRequest, Entry, Guarded, Send, State, Timeout
from kubeproof.model.controllers.replicaset import _available, _is_active
from kubeproof.model.objects import KINDS, Object, Pod, Taint, Toleration
from kubeproof.model.scenarios import listed

__all__ = [
    "changed",
    "components_of",
    "events",
    "fmt_taint",
    "fmt_toleration",
    "get",
    "is_active",
    "is_available",
    "landed_binding",
    "names",
    "owner_uid",
    "request_landed",
    "resource_of_kind",
    "sent_request",
    "stored",
]

stored = listed


def get(state: State, resource: str, namespace: str, name: str) -> Object | None:
    """The stored object, with its resourceVersion, or None."""
    return read(state.api.store, resource, namespace, name)


def events(before: State, after: State) -> tuple[etcd.Event, ...]:
    """The etcd events the step from ``before`` to ``after`` wrote, in revision order."""
    b, a = before.api.store, after.api.store
    if a is b or a.revision <= b.revision:
        return ()
    return tuple(e for r in range(b.revision + 1, a.revision + 1) for e in a.events_at(r))


def changed(before: State, after: State, resource: str) -> tuple[etcd.Event, ...]:
    """The step's etcd events on objects of one resource."""
    written = events(before, after)
    if not written:
        return ()
    prefix = prefix_of(resource)
    return tuple(e for e in written if e.kv.key.startswith(prefix))


def sent_request(before: State, action: Any) -> Request | None:
    """The API request the step sends: the users' next one or the head of an outbox."""
    if isinstance(action, ClientRequest) and before.clients:
        request = before.clients[0]
        if isinstance(request, Guarded):
            r = request.request
            return r if isinstance(r, Request) else r(before.api)
        return request if isinstance(request, Request) else None  # Traffic: no API request
    if isinstance(action, Send | Timeout):
        component = before.components.get(action.component)
        if component is not None and component.outbox:
            return component.outbox[0].request
    return None


def landed_binding(before: State, action: Any, after: State) -> tuple[Request, Any, Any] | None:
    """``(request, pod before, pod after)`` when the step's pods/binding request wrote etcd and
    bound a pod that was unbound; None otherwise."""
    request = sent_request(before, action)
    if request is None or request.resource != "pods" or request.subresource != "binding":
        return None
    if before.api.store is after.api.store:
        return None  # nothing was written: the binding did not land
    pod = get(before, "pods", request.namespace, request.name)
    bound = get(after, "pods", request.namespace, request.name)
    if pod is None or bound is None or pod.spec.node_name or not bound.spec.node_name:
        return None
    return request, pod, bound


def request_landed(before: State, action: Any, entries: tuple[Entry, ...]) -> bool:
    """Whether the step's request succeeded at the api-server (a timed-out request that was
    applied did, although its sender saw 504)."""
    if isinstance(action, Timeout):
        request = sent_request(before, action)
        return action.applied and request is not None and handle(before.api, request)[1].ok
    if isinstance(action, ClientRequest | Send) and entries:
        code = entries[0].code
        return code is not None and 200 <= code < 300
    return False


def components_of(state: State, cls: type) -> tuple[str, ...]:
    """The components running code of class ``cls`` (also inside a leader-election wrapper).

    Remembered per controllers map, by identity (the map is the same object in every state of
    a run, and properties ask on every step)."""
    controllers = state.controllers
    key = (id(controllers), cls)
    hit = _COMPONENTS_OF.get(key)
    if hit is not None and hit[0] is controllers:
        return hit[1]
    names = tuple(
        name
        for name, c in controllers.items()
        if isinstance(c, cls) or isinstance(getattr(c, "inner", None), cls)
    )
    if len(_COMPONENTS_OF) >= 256:
        _COMPONENTS_OF.clear()
    _COMPONENTS_OF[key] = (controllers, names)
    return names


# (id of a controllers map, class) -> (the map, held so that its id is not reused; the names)
_COMPONENTS_OF: dict[tuple[int, type], tuple[Mapping[str, Any], tuple[str, ...]]] = {}


def owner_uid(obj: Object) -> str | None:
    """The uid of the object's controller owner (its ControllerRef), if any."""
    ref = obj.metadata.controller_ref()
    return None if ref is None else ref.uid


def resource_of_kind(kind: str) -> str | None:
    """The resource plural of a kind the model stores typed (Pod -> pods)."""
    cls = KINDS.get(kind)
    return None if cls is None else cls.RESOURCE


def is_active(pod: Pod) -> bool:
    """upstream: pkg/controller/controller_utils.go IsPodActive (FilterActivePods): not
    Succeeded, not Failed, and not being deleted."""
    return _is_active(pod)


def is_available(pod: Pod, min_ready_seconds: int, now: int) -> bool:
    """upstream: podutil.IsPodAvailable: Ready for longer than minReadySeconds."""
    return _available(pod, min_ready_seconds, now)


def fmt_taint(t: Taint) -> str:
    """kubectl's form: key=value:Effect."""
    return f"{t.key}={t.value}:{t.effect}" if t.value else f"{t.key}:{t.effect}"


def fmt_toleration(t: Toleration) -> str:
    op = t.operator or "Equal"
    what = f"{t.key} {op} {t.value}".strip() if op == "Equal" else f"{t.key} {op}".strip()
    return f"{what}:{t.effect or '*'}"


def names(objects: Iterable[Object]) -> tuple[str, ...]:
    """The objects' namespace/name keys."""
    return tuple(
        f"{o.metadata.namespace}/{o.metadata.name}" if o.metadata.namespace else o.metadata.name
        for o in objects
    )
