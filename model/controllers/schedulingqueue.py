"""The scheduler's queue of pending pods: activeQ, backoffQ and the unschedulable pool.

A pod waits in exactly one pool. ``active`` pods are popped by priority, then by the time they
entered the queue; a pod whose attempt failed goes to ``backoff`` for
min(1 s * 2^(attempts-1), 10 s) when the failure was an error (or a rejection no plugin can be
blamed for), else to ``unschedulable``, which it leaves after 5 minutes or earlier on a cluster
event one of its rejecting plugins registered for (a node added, a taint removed, allocatable
raised, labels changed, an assigned pod deleted...). A moved pod still backing off goes to
``backoff``, otherwise to ``active``. Pods with scheduling gates wait ``gated`` until an update
removes the gates.

upstream: pkg/scheduler/backend/queue/scheduling_queue.go (PriorityQueue: Add, Update, Delete,
Pop, AddUnschedulableIfNotPresent, MoveAllToActiveOrBackoffQueue, flushBackoffQCompleted,
flushUnschedulablePodsLeftover, calculateBackoffDuration), framework/types.go (ClusterEvent) and
each plugin's EventsToRegister.

Simplifications: QueueingHints are not evaluated (an event moves a pod when one of its rejecting
plugins registered the event's kind); the leftover flush happens exactly 5 minutes after the
failure rather than at the next 30 s tick; stamps are ranks (0, 1, ...) rather than clock times,
which keeps equal queues equal.

>>> q = add(SchedulingQueue(), "default/a", priority=0, gated=False)
>>> q, key, popped = pop(q)
>>> key, popped.attempts
('default/a', 1)
>>> q = requeue_failed(q, key, popped, now=0, rejectors=frozenset({"NodeResourcesFit"}))
>>> q.pods[key].pool, move_all(q, NODE_ADD, now=0).pods[key].pool
('unschedulable', 'backoff')
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kubeproof.model.objects import EMPTY, FrozenMap

__all__ = [
    "ACTIVE",
    "ASSIGNED_POD_ADD",
    "ASSIGNED_POD_DELETE",
    "ASSIGNED_POD_UPDATE",
    "BACKOFF",
    "EVENTS_TO_REGISTER",
    "GATED",
    "NODE_ADD",
    "NODE_ALLOCATABLE",
    "NODE_DELETE",
    "NODE_LABEL",
    "NODE_TAINT",
    "UNSCHEDULABLE",
    "QueuedPod",
    "SchedulingQueue",
    "add",
    "backoff_duration",
    "backoff_expiry",
    "delete",
    "flush",
    "has_active",
    "move_all",
    "pop",
    "requeue_failed",
    "timers",
    "ungate_or_move",
]

ACTIVE, BACKOFF, UNSCHEDULABLE, GATED = "active", "backoff", "unschedulable", "gated"

# upstream: scheduling_queue.go DefaultPodInitialBackoffDuration, DefaultPodMaxBackoffDuration,
# DefaultPodMaxInUnschedulablePodsDuration
INITIAL_BACKOFF, MAX_BACKOFF, MAX_IN_UNSCHEDULABLE = 1, 10, 300

# Cluster events (upstream: framework/types.go ClusterEvent labels)
NODE_ADD, NODE_DELETE = "NodeAdd", "NodeDelete"
NODE_TAINT, NODE_ALLOCATABLE, NODE_LABEL = (
    "UpdateNodeTaint",
    "UpdateNodeAllocatable",
    "UpdateNodeLabel",
)
ASSIGNED_POD_ADD, ASSIGNED_POD_UPDATE, ASSIGNED_POD_DELETE = (
    "AssignedPodAdd",
    "AssignedPodUpdate",
    "AssignedPodDelete",
)

_POD_EVENTS = frozenset({ASSIGNED_POD_ADD, ASSIGNED_POD_UPDATE, ASSIGNED_POD_DELETE})

# upstream: EventsToRegister of each filter plugin (nodeunschedulable, nodename, tainttoleration,
# nodeaffinity, nodeports, noderesources/fit.go, podtopologyspread/plugin.go,
# interpodaffinity/plugin.go), without their QueueingHint functions.
EVENTS_TO_REGISTER: FrozenMap = FrozenMap(
    NodeUnschedulable=frozenset({NODE_ADD, NODE_TAINT}),
    NodeName=frozenset({NODE_ADD}),
    TaintToleration=frozenset({NODE_ADD, NODE_TAINT}),
    NodeAffinity=frozenset({NODE_ADD, NODE_LABEL}),
    NodePorts=frozenset({NODE_ADD, ASSIGNED_POD_DELETE}),
    NodeResourcesFit=frozenset({NODE_ADD, NODE_ALLOCATABLE, ASSIGNED_POD_DELETE}),
    PodTopologySpread=frozenset({NODE_ADD, NODE_DELETE, NODE_LABEL, NODE_TAINT} | _POD_EVENTS),
    InterPodAffinity=frozenset({NODE_ADD, NODE_LABEL} | _POD_EVENTS),
)


@dataclass(frozen=True, slots=True)
class QueuedPod:
    """upstream: framework.QueuedPodInfo: where the pod waits and what its attempts left."""

    pool: str
    priority: int = 0
    stamp: int = 0  # the order in which pods (re)entered the queue: QueuedPodInfo.Timestamp
    attempts: int = 0  # scheduling attempts so far (counted at Pop)
    failed_at: int = 0  # clock time of the last failed attempt: backoff and the 5 min run from it
    rejectors: frozenset[str] = frozenset()  # UnschedulablePlugins of the last rejection


@dataclass(frozen=True, slots=True)
class SchedulingQueue:
    """Every pod waiting to be scheduled, by key; a pod being scheduled or bound is not here."""

    pods: FrozenMap = EMPTY  # key -> QueuedPod


def backoff_duration(attempts: int) -> int:
    """upstream: scheduling_queue.go calculateBackoffDuration: 1 s doubled per further attempt,
    at most 10 s."""
    duration = INITIAL_BACKOFF
    for _ in range(1, attempts):
        duration *= 2
        if duration >= MAX_BACKOFF:
            return MAX_BACKOFF
    return duration


def backoff_expiry(pod: QueuedPod) -> int:
    """When the pod's backoff ends (upstream getBackoffTime: Timestamp + backoff duration)."""
    return pod.failed_at + backoff_duration(pod.attempts)


def _put(queue: SchedulingQueue, key: str, pod: QueuedPod, *, restamp: bool) -> SchedulingQueue:
    """The queue with ``pod`` under ``key``; ``restamp`` makes it the latest arrival. Stamps are
    renumbered 0..n-1 in order, so that equal queues are equal values."""
    others = [(k, p) for k, p in queue.pods.items() if k != key]
    if restamp:
        ordered = [*sorted(others, key=lambda kp: kp[1].stamp), (key, pod)]
    else:
        ordered = sorted([*others, (key, pod)], key=lambda kp: (kp[1].stamp, kp[0] != key))
    return SchedulingQueue(FrozenMap((k, replace(p, stamp=i)) for i, (k, p) in enumerate(ordered)))


def add(queue: SchedulingQueue, key: str, *, priority: int, gated: bool) -> SchedulingQueue:
    """A new pending pod (upstream: PriorityQueue.Add; PreEnqueue keeps a gated pod aside)."""
    pod = QueuedPod(GATED if gated else ACTIVE, priority)
    return _put(queue, key, pod, restamp=True)


def delete(queue: SchedulingQueue, key: str) -> SchedulingQueue:
    """upstream: PriorityQueue.Delete."""
    return SchedulingQueue(queue.pods.without(key))


def has_active(queue: SchedulingQueue) -> bool:
    return any(p.pool == ACTIVE for p in queue.pods.values())


def pop(queue: SchedulingQueue) -> tuple[SchedulingQueue, str | None, QueuedPod | None]:
    """The head of activeQ taken out, its attempts counted (upstream: PriorityQueue.Pop; order:
    queuesort/priority_sort.go Less, higher priority first, then the older timestamp)."""
    active = [(k, p) for k, p in queue.pods.items() if p.pool == ACTIVE]
    if not active:
        return queue, None, None
    key, pod = min(active, key=lambda kp: (-kp[1].priority, kp[1].stamp))
    return delete(queue, key), key, replace(pod, attempts=pod.attempts + 1)


def _active_or_backoff(pod: QueuedPod, now: int) -> QueuedPod:
    # upstream: requeuePodViaQueueingHint: a pod still backing off goes to backoffQ
    return replace(pod, pool=BACKOFF if backoff_expiry(pod) > now else ACTIVE)


def requeue_failed(
    queue: SchedulingQueue, key: str, pod: QueuedPod, *, now: int, rejectors: frozenset[str]
) -> SchedulingQueue:
    """A failed attempt put back (upstream: AddUnschedulableIfNotPresent): nothing if the pod is
    queued again already; to backoff when no plugin rejected it (an error, or no nodes), else
    to the unschedulable pool.

    The model's scheduling cycle is one atomic step, so no cluster event can arrive while a
    pod is in flight through it (upstream's in-flight events would send it to backoff; binding
    failures, which happen after Done, go to backoff as errors anyway)."""
    if key in queue.pods:
        return queue
    failed = replace(pod, failed_at=now, rejectors=rejectors)
    if rejectors:
        failed = replace(failed, pool=UNSCHEDULABLE)
    else:  # determineSchedulingHintForInFlightPod: no rejector plugins -> queueAfterBackoff
        failed = _active_or_backoff(failed, now)
    return _put(queue, key, failed, restamp=True)


def _interested(pod: QueuedPod, event: str) -> bool:
    # upstream: isPodWorthRequeuing: a pod no plugin rejected is moved by any event
    if not pod.rejectors:
        return True
    return any(event in EVENTS_TO_REGISTER.get(plugin, ()) for plugin in pod.rejectors)


def move_all(queue: SchedulingQueue, event: str, *, now: int) -> SchedulingQueue:
    """upstream: MoveAllToActiveOrBackoffQueue: unschedulable pods whose rejecting plugins
    registered ``event`` go to backoffQ (still backing off) or activeQ."""
    for key, pod in queue.pods.items():
        if pod.pool == UNSCHEDULABLE and _interested(pod, event):
            queue = _put(queue, key, _active_or_backoff(pod, now), restamp=False)
    return queue


def ungate_or_move(
    queue: SchedulingQueue, key: str, *, priority: int, gated: bool, changed: bool, now: int
) -> SchedulingQueue:
    """An update of a pending pod (upstream: PriorityQueue.Update): a gated pod whose gates are
    gone becomes active; an unschedulable pod whose spec or labels changed is moved; a pod in
    no pool (in flight, or dropped) is added to activeQ."""
    pod = queue.pods.get(key)
    if pod is None:
        return add(queue, key, priority=priority, gated=gated)
    if pod.pool == GATED and not gated:
        return _put(queue, key, replace(pod, pool=ACTIVE), restamp=True)
    if pod.pool == UNSCHEDULABLE and changed:
        return _put(queue, key, _active_or_backoff(pod, now), restamp=False)
    return queue


def flush(queue: SchedulingQueue, now: int) -> SchedulingQueue:
    """upstream: flushBackoffQCompleted (backoff over -> activeQ) and
    flushUnschedulablePodsLeftover (5 minutes unschedulable -> activeQ or backoffQ)."""
    for key, pod in queue.pods.items():
        if pod.pool == BACKOFF and backoff_expiry(pod) <= now:
            queue = _put(queue, key, replace(pod, pool=ACTIVE), restamp=False)
        elif pod.pool == UNSCHEDULABLE and now - pod.failed_at >= MAX_IN_UNSCHEDULABLE:
            queue = _put(queue, key, _active_or_backoff(pod, now), restamp=False)
    return queue


def timers(
    queue: SchedulingQueue, now: int, key: str
) -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]]:
    """The (after, every) timers that wake ``key`` when a backoff ends (work is due: it holds a
    run open) and when the oldest unschedulable pod is due for the leftover flush (periodic
    upstream; it does not hold a run open)."""
    backoffs = [backoff_expiry(p) for p in queue.pods.values() if p.pool == BACKOFF]
    leftovers = [
        p.failed_at + MAX_IN_UNSCHEDULABLE for p in queue.pods.values() if p.pool == UNSCHEDULABLE
    ]
    after = ((key, max(min(backoffs) - now, 0)),) if backoffs else ()
    every = ((key, max(min(leftovers) - now, 0)),) if leftovers else ()
    return after, every
