"""The contract every component of the cluster implements, built-in or a user's.

A controller is a small set of pure functions over its own ``memory`` (any hashable value) and a
read-only ``View`` of what its informers have seen:

- ``resources``: what its informers list and watch (resource plurals, e.g. ``("pods",)``);
- ``keys(delta, view)``: the work-queue keys an informer event enqueues (client-go's event
  handlers); ``observe(memory, delta, view)``: what the event does to memory (expectations);
- ``reconcile(view, key, memory)``: one sync of one key, returning a ``Reconciled``: the new
  memory, the API requests to send, keys to requeue now or after a delay;
- ``on_response(memory, sent, response, view)``: what a response (or a timeout) does to memory;
- ``start_keys`` (optional): keys queued whenever the component starts, before any event (a
  kubelet registers its Node, then starts its heartbeats).

The cluster (model/cluster.py) owns everything else: informers, the deduplicating work queue,
timers, the outbox of requests and their delivery to the api-server, crashes and restarts.
Requests are sent with the controller's ``identity``, so RBAC applies to user controllers too.

>>> @dataclass(frozen=True)
... class Counter:
...     name: str = "counter"
...     identity: str = "kubernetes-admin"
...     process: str = "counter"
...     resources: tuple[str, ...] = ("pods",)
...     def initial_memory(self): return 0
...     def keys(self, delta, view): return (delta.key,)
...     def observe(self, memory, delta, view): return memory
...     def reconcile(self, view, key, memory): return Reconciled(memory + 1)
...     def on_response(self, memory, sent, response, view): return Reconciled(memory)
>>> isinstance(Counter(), Controller)
True
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from kubeproof.model.apiserver.server import ApiState, Request, Response, read
from kubeproof.model.objects import EMPTY, FrozenMap, Object, object_key

__all__ = ["Controller", "Delta", "Outgoing", "Reconciled", "View"]


@dataclass(frozen=True, slots=True)
class Delta:
    """One informer notification: ADDED, MODIFIED or DELETED, with the object before (for
    MODIFIED) and whether a DELETED is a tombstone (a delete missed while disconnected, found
    by a relist: the object is the last state the informer knew, which may be stale)."""

    resource: str
    type: str
    object: Object
    old: Object | None = None
    tombstone: bool = False

    @property
    def key(self) -> str:
        return object_key(self.object)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A request waiting in a component's outbox; ``tag`` is the controller's own note of why
    it sent it (handed back with the response)."""

    request: Request
    key: str = ""
    tag: Hashable = None


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What a reconcile (or a response) leads to."""

    memory: Hashable
    requests: tuple[Outgoing, ...] = ()
    requeue: tuple[str, ...] = ()
    after: tuple[tuple[str, int], ...] = ()  # (key, seconds): workqueue AddAfter
    # (key, seconds) for periodic work (heartbeats, monitor loops): like ``after``, but such a
    # timer never holds a run open, since it is always pending
    every: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class View:
    """What a component can read while it reconciles: its informers' caches (as it last saw
    them), the clock, and uncached GETs (upstream controllers recheck some objects live)."""

    component: str
    now: int
    caches: FrozenMap  # resource -> FrozenMap(key -> object)
    api: ApiState
    # resource -> the etcd revision its informer's cache reflects (client-go's
    # LastStoreSyncResourceVersion; read by the stale-cache guard of KEP-5647)
    revisions: FrozenMap = EMPTY

    def get(self, resource: str, key: str) -> Object | None:
        """The cached object under ``key`` ("namespace/name" or "name")."""
        cache = self.caches.get(resource)
        return None if cache is None else cache.get(key)

    def list(self, resource: str, namespace: str | None = None) -> tuple[Object, ...]:
        """The cached objects of a resource, in key order; one namespace's when given."""
        cache = self.caches.get(resource, FrozenMap())
        objects = (cache[k] for k in sorted(cache))
        if namespace is None:
            return tuple(objects)
        return tuple(o for o in objects if o.metadata.namespace == namespace)

    def live_get(self, resource: str, namespace: str, name: str) -> Object | None:
        """An uncached GET, read from the api-server at this instant."""
        return read(self.api.store, resource, namespace, name)


@runtime_checkable
class Controller(Protocol):
    """A component of the cluster: see the module docstring."""

    name: str  # unique in the cluster
    identity: str  # the api-server user it acts as
    process: str  # components of one process crash and restart together
    resources: tuple[str, ...]

    def initial_memory(self) -> Hashable: ...

    def keys(self, delta: Delta, view: View) -> tuple[str, ...]: ...

    def observe(self, memory: Hashable, delta: Delta, view: View) -> Hashable: ...

    def reconcile(self, view: View, key: str, memory: Hashable) -> Reconciled: ...

    def on_response(
        self, memory: Hashable, sent: Outgoing, response: Response, view: View
    ) -> Reconciled: ...
