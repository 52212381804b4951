"""Leader election: one instance of a replicated component acts, the others wait on a Lease.

``LeaderElected(inner, instance)`` is itself a component. Every ``retry_period`` seconds (an
``every`` timer on its election key) it runs client-go's tryAcquireOrRenew against the Lease
``lease_namespace/lease_name``: an uncached GET, then a create (no lease yet) or an update with
the resourceVersion it read (a compare-and-swap). It may take the lease only when the holder is
empty or the record it observed has not changed for the record's leaseDurationSeconds, counted
on its *own* clock from when it saw the change (observedTime), not from renewTime. While it
leads, it renews on the fast path (an update with the record it last wrote); a round that does
not succeed within ``renew_deadline`` ends its leadership.

What runs when (upstream: cmd/kube-scheduler/app/server.go starts the informers and their event
handlers in every instance, and the scheduling loop only in OnStartedLeading):

- ``observe`` always reaches the inner controller, so its memory (e.g. the scheduler's queue)
  follows the informers in every instance;
- the inner controller's keys wait (in this wrapper's memory, as the work queue would) until it
  leads; ``reconcile`` and ``on_response`` reach it only while it leads;
- upstream exits the process when it stops leading (OnStoppedLeading); here the instance starts
  over in place: the inner memory is rebuilt from the caches as a restart's relist would, its
  keys wait again, and it becomes a candidate. Requests already in the outbox are still sent
  (there is no fencing), and their responses are dropped.

Two instances lead at once when one still believes it leads after its lease has expired for
the other: its renew timer has not fired (a paused or slow process: the cluster lets the clock
pass a due timer while other actions run), or its writes are still in the outbox.

upstream: staging/src/k8s.io/client-go/tools/leaderelection/leaderelection.go (acquire, renew,
tryAcquireOrRenew, isLeaseValid, setObservedRecord), resourcelock/leaselock.go (Get, Create,
Update with the last object read). Simplifications: no jitter on retryPeriod; no
ReleaseOnCancel; one instance runs one inner controller (compose a process's controllers into
one before wrapping, as the lease is per process).

>>> from dataclasses import dataclass
>>> from kubeproof.model.apiserver.server import default_users, initial_state
>>> from kubeproof.model.objects import FrozenMap
>>> @dataclass(frozen=True)
... class Idle:
...     name: str = "idle"
...     identity: str = "system:kube-scheduler"
...     process: str = "kube-scheduler"
...     resources: tuple = ()
...     def initial_memory(self): return 0
...     def keys(self, delta, view): return ()
...     def observe(self, memory, delta, view): return memory
...     def reconcile(self, view, key, memory): return Reconciled(memory)
...     def on_response(self, memory, sent, response, view): return Reconciled(memory)
>>> elected = LeaderElected(Idle(), "a")
>>> elected.name, elected.lease_key, elected.start_keys
('idle-a', 'kube-system/kube-scheduler', ('leader-election:kube-system/kube-scheduler',))
>>> view = View(elected.name, 0, FrozenMap(), initial_state(default_users()))
>>> result = elected.reconcile(view, elected.election_key, elected.initial_memory())
>>> result.requests[0].request.verb, result.requests[0].request.body.spec.holder_identity
('create', 'kube-scheduler-a')
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, replace

from kubeproof.model.apiserver.server import Request, Response
from kubeproof.model.controllers.protocol import Controller, Delta, Outgoing, Reconciled, View
from kubeproof.model.objects import Lease, LeaseSpec, ObjectMeta

__all__ = ["Election", "InnerTag", "LeaderElected", "LeaderMemory", "LeaseWrite"]


@dataclass(frozen=True, slots=True)
class LeaseWrite:
    """A create or update of the Lease in flight; ``kind`` "renew" is the fast path."""

    kind: str  # "create", "update" or "renew"
    spec: LeaseSpec


@dataclass(frozen=True, slots=True)
class InnerTag:
    """An inner controller's request, with the leadership term it was decided in."""

    term: int
    tag: Hashable


@dataclass(frozen=True, slots=True)
class Election:
    """One instance's LeaderElector state, and the inner keys waiting for it to lead."""

    leading: bool = False  # OnStartedLeading ran and no renew round has failed since
    term: int = 0  # how many times this instance has started leading
    record: LeaseSpec | None = None  # observedRecord
    observed_time: int = 0  # observedTime: the local clock when the record last changed
    lease: Lease | None = None  # the lock's object as last read or written (its RV)
    deadline: int | None = None  # the current renew round must succeed by then
    pending: LeaseWrite | None = None  # a lease write in flight (tryAcquireOrRenew is serial)
    waiting: tuple[str, ...] = ()  # inner keys seen while not leading


@dataclass(frozen=True, slots=True)
class LeaderMemory:
    election: Election
    inner: Hashable


def _dedup(keys) -> tuple[str, ...]:
    return tuple(dict.fromkeys(keys))


@dataclass(frozen=True)
class LeaderElected:
    """``inner`` run as instance ``instance`` of a replicated process, behind a Lease."""

    inner: Controller
    instance: str
    lease_namespace: str = "kube-system"
    lease_name: str = ""  # default: the inner process name (kube-scheduler, ...)
    lease_duration: int = 15  # upstream defaults: --leader-elect-lease-duration 15s,
    renew_deadline: int = 10  # --leader-elect-renew-deadline 10s,
    retry_period: int = 2  # --leader-elect-retry-period 2s

    # --- the component's identity ----------------------------------------------------------

    @property
    def name(self) -> str:
        return f"{self.inner.name}-{self.instance}"

    @property
    def identity(self) -> str:
        return self.inner.identity

    @property
    def process(self) -> str:
        return f"{self.inner.process}-{self.instance}"

    @property
    def resources(self) -> tuple[str, ...]:
        # the lease is read with uncached GETs, as leaselock.go does: no lease informer
        return self.inner.resources

    @property
    def holder(self) -> str:
        """The identity written as holderIdentity (upstream: hostname_uuid of the process)."""
        return self.process

    @property
    def lease_key(self) -> str:
        return f"{self.lease_namespace}/{self.lease_name or self.inner.process}"

    @property
    def election_key(self) -> str:
        return f"leader-election:{self.lease_key}"

    @property
    def start_keys(self) -> tuple[str, ...]:
        """le.Run starts acquiring at once."""
        return (*getattr(self.inner, "start_keys", ()), self.election_key)

    def initial_memory(self) -> LeaderMemory:
        return LeaderMemory(Election(), self.inner.initial_memory())

    # --- delegation ------------------------------------------------------------------------

    def keys(self, delta: Delta, view: View) -> tuple[str, ...]:
        return self.inner.keys(delta, view)

    def observe(self, memory: LeaderMemory, delta: Delta, view: View) -> LeaderMemory:
        return replace(memory, inner=self.inner.observe(memory.inner, delta, view))

    def reconcile(self, view: View, key: str, memory: LeaderMemory) -> Reconciled:
        if key == self.election_key:
            return self._elect(view, memory)
        election = memory.election
        if not election.leading:
            waiting = _dedup((*election.waiting, key))
            return Reconciled(replace(memory, election=replace(election, waiting=waiting)))
        return self._inner_result(memory, self.inner.reconcile(view, key, memory.inner))

    def on_response(
        self, memory: LeaderMemory, sent: Outgoing, response: Response, view: View
    ) -> Reconciled:
        election = memory.election
        if isinstance(sent.tag, LeaseWrite):
            return self._lease_response(memory, sent.tag, response, view)
        if not isinstance(sent.tag, InnerTag):
            return Reconciled(memory)
        if not election.leading or sent.tag.term != election.term:
            return Reconciled(memory)  # the process that sent it has exited
        unwrapped = replace(sent, tag=sent.tag.tag)
        result = self.inner.on_response(memory.inner, unwrapped, response, view)
        return self._inner_result(memory, result)

    def _inner_result(self, memory: LeaderMemory, result: Reconciled) -> Reconciled:
        term = memory.election.term
        requests = tuple(replace(o, tag=InnerTag(term, o.tag)) for o in result.requests)
        return replace(result, memory=replace(memory, inner=result.memory), requests=requests)

    # --- the election ----------------------------------------------------------------------

    def _valid(self, e: Election, now: int) -> bool:
        # upstream: isLeaseValid: observedTime + the record's leaseDurationSeconds > now
        duration = (e.record.lease_duration_seconds or 0) if e.record else 0
        return e.record is not None and e.observed_time + duration > now

    def _is_leader(self, e: Election) -> bool:
        # upstream: IsLeader: the observed record names this instance
        return e.record is not None and e.record.holder_identity == self.holder

    def _elect(self, view: View, memory: LeaderMemory) -> Reconciled:
        now, e = view.now, memory.election
        every = ((self.election_key, self.retry_period),)
        if e.leading and e.deadline is not None and now >= e.deadline:
            # renew: the round timed out; OnStoppedLeading exits the process
            return Reconciled(self._exit(memory, view), every=every)
        if e.pending is not None:
            return Reconciled(memory, every=every)
        if e.leading and e.deadline is None:
            e = replace(e, deadline=now + self.renew_deadline)  # a renew round starts
        e, requests = self._try_acquire_or_renew(e, view)
        return Reconciled(replace(memory, election=e), requests, every=every)

    def _try_acquire_or_renew(self, e: Election, view: View) -> tuple[Election, tuple]:
        now = view.now
        spec = LeaseSpec(self.holder, self.lease_duration, now, now, 0)
        if self._is_leader(e) and self._valid(e, now) and e.lease is not None:
            # 1. the fast path: update the record last observed, without reading
            spec = replace(
                spec,
                acquire_time=e.record.acquire_time,
                lease_transitions=e.record.lease_transitions,
            )
            return self._write(e, "renew", replace(e.lease, spec=spec))
        return self._slow_path(e, view, spec)

    def _slow_path(self, e: Election, view: View, spec: LeaseSpec) -> tuple[Election, tuple]:
        namespace, name = self.lease_key.split("/")
        live = view.live_get("leases", namespace, name)  # 2. obtain or create the record
        if live is None:
            return self._write(e, "create", Lease(ObjectMeta(name, namespace), spec))
        if live.spec != e.record:  # 3. a changed record restarts the local lease clock
            e = replace(e, record=live.spec, observed_time=view.now)
        e = replace(e, lease=live)
        if e.record.holder_identity and self._valid(e, view.now) and not self._is_leader(e):
            return e, ()  # held by another and not expired by our observation
        if self._is_leader(e):  # 4. keep acquireTime; a new holder counts a transition
            spec = replace(
                spec,
                acquire_time=live.spec.acquire_time,
                lease_transitions=live.spec.lease_transitions,
            )
        else:
            spec = replace(spec, lease_transitions=(live.spec.lease_transitions or 0) + 1)
        return self._write(e, "update", replace(live, spec=spec))

    def _write(self, e: Election, kind: str, lease: Lease) -> tuple[Election, tuple]:
        namespace, name = self.lease_key.split("/")
        verb = "create" if kind == "create" else "update"
        request = Request(
            self.identity, verb, "leases", namespace, "" if kind == "create" else name, body=lease
        )
        tag = LeaseWrite(kind, lease.spec)
        return replace(e, pending=tag), (Outgoing(request, self.election_key, tag),)

    def _lease_response(
        self, memory: LeaderMemory, tag: LeaseWrite, response: Response, view: View
    ) -> Reconciled:
        e = memory.election
        if e.pending != tag:
            return Reconciled(memory)  # sent before the process "exited"
        e = replace(e, pending=None)
        if not response.ok:
            if tag.kind == "renew":  # the fast path failed: fall back to the slow path now
                spec = LeaseSpec(self.holder, self.lease_duration, view.now, view.now, 0)
                e, requests = self._slow_path(e, view, spec)
                return Reconciled(replace(memory, election=e), requests)
            return Reconciled(replace(memory, election=e))
        # setObservedRecord: the written record, observed now
        e = replace(
            e, record=tag.spec, observed_time=view.now, lease=response.object, deadline=None
        )
        if e.leading:
            return Reconciled(replace(memory, election=e))
        # acquire succeeded: OnStartedLeading; the keys that waited are worked off
        waiting = e.waiting
        e = replace(e, leading=True, term=e.term + 1, waiting=())
        return Reconciled(replace(memory, election=e), requeue=waiting)

    def _exit(self, memory: LeaderMemory, view: View) -> LeaderMemory:
        """The process exits and comes back: fresh inner memory fed by a relist of the caches
        (every cached object ADDED), its keys waiting until it leads again."""
        inner, keys = self.inner.initial_memory(), []
        for resource in self.inner.resources:
            for obj in view.list(resource):
                delta = Delta(resource, "ADDED", obj)
                keys.extend(self.inner.keys(delta, view))
                inner = self.inner.observe(inner, delta, view)
        election = Election(term=memory.election.term, waiting=_dedup(keys))
        return LeaderMemory(election, inner)
