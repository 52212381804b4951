"""Watch: the etcd events of a resource after a resourceVersion, as the api-server's events.

Translation as upstream's etcd3 watcher (staging/src/k8s.io/apiserver/pkg/storage/etcd3/
event.go parseEvent, watcher.go transform): a PUT that created the key is ADDED, any other PUT
is MODIFIED, a DELETE is DELETED carrying the object's last state with the deletion's revision
as its resourceVersion. A watch from resourceVersion N delivers every change after N (the
etcd watch starts at N + 1). Unset or "0" starts with synthetic ADDED events for the current
state. The model's watch is a finite answer: the events so far, with ``resource_version`` the
revision they run up to, from which the caller (the informer) watches again.

>>> from kubeproof.model.apiserver.server import Request, default_users, handle, initial_state
>>> from kubeproof.model.objects import Node, ObjectMeta
>>> state = initial_state(default_users())
>>> admin = "kubernetes-admin"
>>> rv = handle(state, Request(admin, "list", "nodes"))[1].resource_version
>>> state, _ = handle(state, Request(admin, "create", "nodes", body=Node(ObjectMeta("n1"))))
>>> state, _ = handle(state, Request(admin, "delete", "nodes", name="n1"))
>>> r = watch(state, Request(admin, "watch", "nodes", resource_version=rv))
>>> [(e.type, e.object.metadata.name, e.object.metadata.resource_version) for e in r.items]
[('ADDED', 'n1', '6'), ('DELETED', 'n1', '7')]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubeproof.model.apiserver import etcd
from kubeproof.model.apiserver.server import (
    ApiState,
    Request,
    Response,
    Status,
    authenticate,
    parse_rv,
    prefix_of,
    with_rv,
)

__all__ = ["TOO_OLD", "WatchEvent", "watch", "watch_event", "watch_events"]

# upstream: staging/src/k8s.io/apiserver/pkg/storage/etcd3/errors.go interpretWatchError, for an
# etcd watch cancelled by compaction. (The watch cache, not modelled, answers a resourceVersion
# older than its window with "too old resource version: N (M)", also 410.)
TOO_OLD = "The resourceVersion for the provided watch is too old."


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """watch.Event: ADDED, MODIFIED or DELETED, and the object with its resourceVersion."""

    type: str
    object: Any


def watch_event(ev: etcd.Event) -> WatchEvent:
    """The watch.Event an etcd event (read with prev_kv) becomes."""
    # upstream: staging/src/k8s.io/apiserver/pkg/storage/etcd3/event.go parseEvent
    if ev.type == "DELETE":
        assert ev.prev_kv is not None
        return WatchEvent("DELETED", with_rv(ev.prev_kv.value, ev.kv.mod_revision))
    kind = "ADDED" if ev.is_create else "MODIFIED"
    return WatchEvent(kind, with_rv(ev.kv.value, ev.kv.mod_revision))


def watch_events(state: ApiState, request: Request) -> Response:
    """The events of an already authorized watch request."""
    store = state.store
    prefix = prefix_of(request.resource, request.namespace)
    end = etcd.prefix_end(prefix)
    start = parse_rv(request.resource_version)
    if isinstance(start, Status):
        return Response(start.code, start)
    if start == 0:
        # upstream: etcd3 watcher.go sync: the current state as ADDED, then changes; here the
        # changes are those after this revision, for a later watch to fetch
        r = etcd.range_(store, prefix, end)
        assert isinstance(r, etcd.RangeResponse)
        added = tuple(WatchEvent("ADDED", with_rv(kv.value, kv.mod_revision)) for kv in r.kvs)
        return Response(200, None, added, str(r.header_revision))
    if start > store.revision:
        # upstream: the watch cache waits, then answers 504 (cacher.go waitUntilFreshAndBlock)
        msg = f"Too large resource version: {start}, current: {store.revision}"
        return Response(504, Status(504, "Timeout", msg))
    events = etcd.events_since(store, prefix, end, start_revision=start + 1, prev_kv=True)
    if isinstance(events, etcd.Compacted):
        return Response(410, Status(410, "Expired", TOO_OLD))
    for ev in events:
        if not ev.is_create and ev.prev_kv is None:
            # etcd drops prev_kv at the compact revision; upstream etcd3/event.go parseEvent
            # refuses such an event and the watch ends with an internal error
            msg = (
                f"etcd event received with PrevKv=nil (key={ev.kv.key!r}, "
                f"modRevision={ev.kv.mod_revision}, type={ev.type})"
            )
            return Response(500, Status(500, "InternalError", msg))
    items = tuple(watch_event(ev) for ev in events)
    return Response(200, None, items, str(store.revision))


def watch(state: ApiState, request: Request) -> Response:
    """Authenticate, authorize and answer a watch request (verb "watch")."""
    user = authenticate(state, request)
    if isinstance(user, Status):
        return Response(user.code, user)
    return watch_events(state, request)
