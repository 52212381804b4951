"""An informer: one component's cache of one resource, as client-go's reflector keeps it.

The cache reflects the api-server at ``resource_version``. A watch is open from there while
``watching``; the events after it wait in etcd until a Deliver action hands the next one over.
A dropped watch is resumed from ``resource_version``; when that revision has been compacted the
api-server answers 410 Gone and the informer relists: the list replaces the cache, and every key
the list no longer has comes out as a tombstone (a delete missed while disconnected).

upstream: staging/src/k8s.io/client-go/tools/cache/reflector.go (ListAndWatch, relist after
410), delta_fifo.go (Replace and DeletedFinalStateUnknown), shared_informer.go (handlers run after
the indexer update).

>>> from kubeproof.model.apiserver.server import Request, handle, initial_state, default_users
>>> from kubeproof.model.objects import Container, ObjectMeta, Pod, PodSpec
>>> api = initial_state(default_users())
>>> informer, _ = relist(Informer("pods"), api)
>>> pod = Pod(ObjectMeta(name="web"), PodSpec(containers=(Container("c", "nginx"),)))
>>> api, _ = handle(api, Request("kubernetes-admin", "create", "pods", "default", body=pod))
>>> informer, delta = deliver(informer, api)
>>> delta.type, sorted(informer.cache)
('ADDED', ['default/web'])
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

from kubeproof.model.apiserver import etcd
from kubeproof.model.apiserver.server import ApiState, prefix_of, with_rv
from kubeproof.model.apiserver.watch import watch_event
from kubeproof.model.controllers.protocol import Delta
from kubeproof.model.objects import EMPTY, FrozenMap, object_key

__all__ = [
    "Informer",
    "deliver",
    "drop_watch",
    "needs_relist",
    "next_event",
    "relist",
    "resume_watch",
]


@dataclass(frozen=True, slots=True)
class Informer:
    resource: str
    cache: FrozenMap = EMPTY  # key -> object, as last seen
    resource_version: int = 0  # the etcd revision the cache reflects
    synced: bool = False  # listed at least once (HasSynced)
    watching: bool = False  # a watch is open from resource_version
    expired: bool = False  # the last watch attempt got 410 Gone: only a relist helps
    denied: str = ""  # why the api-server refused to list (403); such an informer never syncs


@cache
def _range(resource: str) -> tuple[str, str]:
    """The etcd key range of a resource's objects (asked on every state, for every informer)."""
    prefix = prefix_of(resource)
    return prefix, etcd.prefix_end(prefix)


def next_event(informer: Informer, api: ApiState) -> etcd.Event | etcd.Compacted | None:
    """The next etcd event the informer's watch would deliver, Compacted if its revision is
    gone, None if it is up to date (or not watching)."""
    if not informer.watching:
        return None
    key, end = _range(informer.resource)
    return etcd.first_event_since(
        api.store, key, end, start_revision=informer.resource_version + 1, prev_kv=True
    )


def needs_relist(informer: Informer) -> bool:
    """Whether the informer must list before it can watch: never listed, or 410 Gone (and
    not refused: a reflector retries a 403 forever, which the model does not spell out)."""
    return (not informer.synced or informer.expired) and not informer.denied


def deliver(informer: Informer, api: ApiState) -> tuple[Informer, Delta | None]:
    """Deliver the next watch event: the cache updated and the handlers' notification.

    A watch whose revision was compacted ends with 410 Gone: no delta, and the informer
    must relist.
    """
    event = next_event(informer, api)
    if event is None:
        return informer, None
    if isinstance(event, etcd.Compacted) or (not event.is_create and event.prev_kv is None):
        # upstream: reflector.go watchHandler returns on a 410 (isExpiredError); etcd3/event.go
        # refuses an event without prev_kv (one at the compact revision) and the watch ends too
        return replace(informer, watching=False, expired=True), None
    watch = watch_event(event)
    obj = watch.object
    key = object_key(obj)
    old = informer.cache.get(key)
    revision = event.kv.mod_revision
    if watch.type == "DELETED":
        cache = informer.cache.without(key)
    else:
        cache = informer.cache.set(key, obj)
    delta = Delta(informer.resource, watch.type, obj, old)
    return replace(informer, cache=cache, resource_version=revision), delta


def relist(
    informer: Informer, api: ApiState, *, revision: int | None = None
) -> tuple[Informer, tuple[Delta, ...]]:
    """List (at the current revision, or at an older ``revision``: a stale list served by a
    lagging cache) and replace the cache; then watch from the list's revision.

    Listed objects come out as ADDED (new keys) or MODIFIED (known keys; client-go's Replaced
    or Sync), keys the list lacks as tombstones.
    """
    store = api.store
    at = store.revision if revision is None else revision
    key, end = _range(informer.resource)
    listed = etcd.range_(store, key, end, revision=at)
    if isinstance(listed, etcd.EtcdError):
        raise ValueError(f"relist of {informer.resource} at {at}: {listed.message}")
    objects = [with_rv(kv.value, kv.mod_revision) for kv in listed.kvs]
    cache = FrozenMap((object_key(o), o) for o in objects)
    deltas = []
    for obj in objects:
        old = informer.cache.get(object_key(obj))
        deltas.append(Delta(informer.resource, "ADDED" if old is None else "MODIFIED", obj, old))
    for gone in sorted(set(informer.cache) - set(cache)):
        # upstream: delta_fifo.go Replace: DeletedFinalStateUnknown with the last known object
        deltas.append(Delta(informer.resource, "DELETED", informer.cache[gone], tombstone=True))
    relisted = Informer(informer.resource, cache, at, synced=True, watching=True)
    return relisted, tuple(deltas)


def drop_watch(informer: Informer) -> Informer:
    """The watch connection breaks; the reflector will resume it from resource_version."""
    return replace(informer, watching=False)


def resume_watch(informer: Informer, api: ApiState) -> Informer:
    """Open the watch again from resource_version, or learn (410 Gone) that it was compacted."""
    # upstream: reflector.go watchList/watch with the last synced resourceVersion
    if informer.resource_version + 1 < api.store.compact_revision:
        return replace(informer, expired=True)
    return replace(informer, watching=True)
