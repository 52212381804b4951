"""Safety properties of the api-server and its watch streams, checked on every step.

resourceVersions (etcd revisions) only increase; each component's informer sees each watch
stream in order, with no gap and no repeat, except across a relist (or a crash, which starts
the informer over); and no request succeeds that its user's role, or NodeRestriction, forbids.

>>> from kubeproof.model.run import run
>>> from kubeproof.model.scenarios import scenario
>>> r = run(scenario("journey"), max_steps=50)
>>> states = list(r.states())
>>> all(WATCH_IN_ORDER.holds_in(b, s.action, a) for b, s, a in zip(states, r.steps, states[1:]))
True
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kubeproof.model.apiserver import etcd, rbac
from kubeproof.model.apiserver.admission import Attributes, _node_restriction
from kubeproof.model.apiserver.server import Request, handle, read
from kubeproof.model.cluster import Deliver, Relist, State, Timeout
from kubeproof.model.controllers.informer import next_event
from kubeproof.model.objects import KINDS
from kubeproof.model.run import actor_of
from kubeproof.properties.core import TRANSITION, Property, Violation
from kubeproof.properties.reading import sent_request

__all__ = [
    "NO_FORBIDDEN_REQUEST_SUCCEEDS",
    "RESOURCE_VERSIONS_INCREASE",
    "WATCH_IN_ORDER",
    "refusal",
]

_NAMESPACED = {cls.RESOURCE: cls.NAMESPACED for cls in KINDS.values()}
_OPERATIONS = {"create": "CREATE", "update": "UPDATE", "delete": "DELETE"}


# --- resourceVersions ----------------------------------------------------------------------


def _revisions_go_back(before: State, action: Any, after: State) -> Violation | None:
    b, a = before.api.store, after.api.store
    if a is b:
        return None
    name = "resource-versions-increase"
    if a.revision < b.revision:
        return Violation(
            name,
            f"etcd's revision went back from {b.revision} to {a.revision}",
            (("revision before", b.revision), ("revision after", a.revision)),
        )
    for revision in range(b.revision + 1, a.revision + 1):
        for event in a.events_at(revision):
            prev = event.prev_kv.mod_revision if event.prev_kv is not None else 0
            if event.kv.mod_revision != revision or prev >= revision:
                return Violation(
                    name,
                    f"{event.kv.key} was written at revision {revision} with resourceVersion "
                    f"{event.kv.mod_revision} (previously {prev})",
                    (
                        ("key", event.kv.key),
                        ("revision", revision),
                        ("resourceVersion", event.kv.mod_revision),
                        ("previous resourceVersion", prev),
                    ),
                )
    return None


RESOURCE_VERSIONS_INCREASE = Property(
    "resource-versions-increase",
    "etcd's revision never goes back, and every write gives its object a resourceVersion "
    "greater than the one it replaced",
    TRANSITION,
    _revisions_go_back,
    "An object's resourceVersion is its key's mod_revision (etcd3 APIObjectVersioner). Each "
    "event a step writes is checked: its mod_revision is the revision it was written at, and "
    "greater than its previous value's; compaction removes history but never lowers a revision.",
)


# --- watch streams -------------------------------------------------------------------------


def _watch_violation(component: str, resource: str, message: str, **evidence) -> Violation:
    return Violation(
        "watch-streams-in-order",
        f"{component}'s {resource} informer {message}",
        (("component", component), ("resource", resource), *evidence.items()),
    )


def _watch_out_of_order(before: State, action: Any, after: State) -> Violation | None:
    if before.components is after.components:
        return None
    relisted = (action.component, action.resource) if isinstance(action, Relist) else None
    delivered = (action.component, action.resource) if isinstance(action, Deliver) else None
    for name, a in after.components.items():
        b = before.components.get(name)
        if b is None or a is b or a.informers is b.informers or not (a.running and b.running):
            continue  # a crash or a restart starts the informers over
        for resource, ai in a.informers.items():
            bi = b.informers.get(resource)
            if bi is None or ai is bi or (name, resource) == relisted:
                continue
            was, now = bi.resource_version, ai.resource_version
            if (name, resource) == delivered:
                if ai.expired:
                    continue  # 410 Gone: the informer must relist
                expected = next_event(bi, before.api)
                if now <= was:
                    return _watch_violation(
                        name,
                        resource,
                        f"was handed an event without moving past {was}",
                        resourceVersion=was,
                    )
                if not isinstance(expected, etcd.Event) or expected.kv.mod_revision != now:
                    want = expected.kv.mod_revision if isinstance(expected, etcd.Event) else None
                    return _watch_violation(
                        name,
                        resource,
                        f"jumped from {was} to {now}, skipping the event at {want}",
                        resourceVersion_before=was,
                        resourceVersion_after=now,
                        next_event=want,
                    )
            elif now != was:
                return _watch_violation(
                    name,
                    resource,
                    f"moved from {was} to {now} without a watch event or a relist",
                    resourceVersion_before=was,
                    resourceVersion_after=now,
                    action=repr(action),
                )
    return None


WATCH_IN_ORDER = Property(
    "watch-streams-in-order",
    "every component sees each watch stream in order, with no gap and no repeat, except "
    "across a relist",
    TRANSITION,
    _watch_out_of_order,
    "Per component and resource, the informer's resourceVersion (the revision its cache "
    "reflects) changes only when a watch event is delivered, and then to exactly the revision "
    "of the next etcd event under that resource's prefix after the old one: no event skipped, "
    "none handed over twice. A relist (first start, after 410 Gone, or a stale list) may move "
    "it anywhere, backwards included; a crash and restart start the informer over.",
)


# --- authorization -------------------------------------------------------------------------


def _normalized(request: Request) -> Request:
    """The namespace as the api-server routes the request (server.handle)."""
    namespace = request.namespace
    meta = getattr(request.body, "metadata", None)
    if request.verb == "create" and not namespace and meta is not None:
        namespace = meta.namespace
    if not _NAMESPACED.get(request.resource, bool(namespace)):
        namespace = ""
    return request if namespace == request.namespace else replace(request, namespace=namespace)


def refusal(state: State, request: Request) -> str | None:
    """Why the request's user may not make it (RBAC, then NodeRestriction), or None."""
    request = _normalized(request)
    # authorized here with rbac.authorize itself, not through the api-server's handler: the
    # property must not share a fault of the code it checks
    user = state.api.users.get(request.user)
    if user is None:
        return f"{request.user!r} is not a known user"
    why = rbac.authorize(
        user, request.verb, request.resource, request.subresource, request.namespace, request.name
    )
    if why is not None:
        return why
    operation = _OPERATIONS.get(request.verb)
    node = rbac.node_of(user)
    if operation is None or node is None:
        return None
    old = None
    if operation != "CREATE" or request.subresource:
        old = read(state.api.store, request.resource, request.namespace, request.name)
        if old is None:
            return None  # a 404: nothing to restrict, and the request cannot succeed
    body = request.body if operation != "DELETE" else None
    name = request.name or getattr(getattr(body, "metadata", None), "name", "")
    attrs = Attributes(
        operation,
        request.resource,
        request.subresource,
        request.namespace,
        name,
        body,
        old,
        user.name,
        node,
    )
    # upstream: plugin/pkg/admission/noderestriction/admission.go
    denied = _node_restriction(attrs, lambda *_: None)
    return None if denied is None else denied.message


def _informer_list(before: State, action: Any, after: State) -> Request | None:
    """The LIST of a relist that succeeded: the informer has synced and was not refused."""
    if not isinstance(action, Relist):
        return None
    component = after.components.get(action.component)
    informer = component.informers.get(action.resource) if component else None
    if informer is None or informer.denied or not informer.synced:
        return None
    return Request(before.controllers[action.component].identity, "list", action.resource)


def _forbidden_success(before: State, action: Any, after: State) -> Violation | None:
    request = _informer_list(before, action, after)
    listed = request is not None
    if not listed:
        request = sent_request(before, action)
    if request is None:
        return None
    why = refusal(before, request)
    if why is None:
        return None
    if isinstance(action, Timeout) and not action.applied:
        return None
    if not listed and not handle(before.api, request)[1].ok:
        return None
    target = "/".join(p for p in (request.namespace, request.name) if p)
    what = request.resource + (f"/{request.subresource}" if request.subresource else "")
    return Violation(
        "no-forbidden-request-succeeds",
        f"{request.user} was allowed to {request.verb} {what} {target}: {why}",
        (
            ("user", request.user),
            ("verb", request.verb),
            ("resource", what),
            ("object", target),
            ("why it is forbidden", why),
            ("actor", actor_of(action)),
        ),
    )


NO_FORBIDDEN_REQUEST_SUCCEEDS = Property(
    "no-forbidden-request-succeeds",
    "no request succeeds that its user's role forbids, a kubelet touching another node's "
    "objects included",
    TRANSITION,
    _forbidden_success,
    "Every request a step sends (a user's, the head of a component's outbox, a timed-out one "
    "that was applied included, and an informer's LIST) is authorized again, independently "
    "of the api-server's answer: RBAC (model/apiserver/rbac.py, upstream's bootstrap roles) "
    "and, for kubelets, NodeRestriction (a node writes only its own Node, Lease and the status "
    "of pods bound to it). A request either check refuses must not have succeeded.",
)
