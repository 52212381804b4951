"""kube-scheduler as a component of the cluster: the queue, the cycle, assume, bind, forget.

How upstream's machinery maps onto the controller protocol:

- The scheduling loop (``ScheduleOne``, serial) is the single work-queue key ``"schedule"``:
  one reconcile pops the head of activeQ, builds the Snapshot from the informer caches plus the
  assumed pods, runs ``cycle.schedule_one`` and either assumes the pod and puts a Binding in the
  outbox, or requeues it and writes PodScheduled=False. The key is requeued while activeQ holds
  pods, so the cluster cannot reorder pods the way upstream's heap would not.
- The pools (activeQ, backoffQ, unschedulable) live in memory (``schedulingqueue.py``); events
  reach them through ``observe`` (the informer event handlers of eventhandlers.go), and an event
  that may have made work enqueues ``"schedule"``.
- The backoff flush (every 1 s upstream) is an ``after`` timer at the earliest backoff expiry:
  a pod waiting out its backoff is work still due. The leftover flush (every 30 s upstream, 5 min
  per pod) is an ``every`` timer: an unschedulable pod does not hold a run open.
- Binding is asynchronous upstream (a goroutine per pod): here the Binding is a request in the
  outbox, sent by the cluster's Send, and the goroutine's state travels in the request's tag;
  ``on_response`` is the end of the binding cycle (FinishBinding, or Forget and FailureHandler).
- The scheduler cache's assumed pods are memory; the pods it has "Added" are the informer's
  assigned pods. A crash loses both the memory and the outbox (the cluster's Restart relists).

``assume=False`` binds without assuming: the next cycle does not see the pod's resources until
the informer delivers the binding (the family of kubernetes#38503).

>>> from kubeproof.model.apiserver.server import default_users, initial_state
>>> from kubeproof.model.objects import Container, Node, NodeStatus, ObjectMeta, Pod, PodSpec
>>> from kubeproof.model.controllers.protocol import Delta, View
>>> from kubeproof.model.quantity import parse_quantity
>>> api = initial_state(default_users())
>>> node = Node(ObjectMeta(name="n1"), status=NodeStatus(
...     allocatable=FrozenMap(pods=parse_quantity("110"))))
>>> pod = Pod(ObjectMeta(name="web", namespace="default", uid="u1"),
...           PodSpec(containers=(Container("c", "nginx"),), scheduler_name="default-scheduler"))
>>> caches = FrozenMap(pods=FrozenMap({"default/web": pod}), nodes=FrozenMap(n1=node))
>>> view = View("scheduler", 0, caches, api)
>>> s = Scheduler()
>>> memory = s.observe(s.initial_memory(), Delta("pods", "ADDED", pod), view)
>>> result = s.reconcile(view, SCHEDULE, memory)
>>> result.requests[0].request.body, sorted(result.memory.assumed)
(Binding(target_node='n1'), ['default/web'])
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from kubeproof.model.apiserver.rbac import SCHEDULER
from kubeproof.model.apiserver.server import Binding, Preconditions, Request, Response
from kubeproof.model.controllers import schedulingqueue as sq
from kubeproof.model.controllers.protocol import Delta, Outgoing, Reconciled, View
from kubeproof.model.objects import (
    EMPTY,
    Condition,
    FrozenMap,
    GenericObject,
    Node,
    Pod,
    Service,
    object_key,
)
from kubeproof.model.scheduler.cycle import Decision, schedule_one
from kubeproof.model.scheduler.framework import SKIP, SUCCESS, NodeInfo, Snapshot
from kubeproof.model.scheduler.profile import DEFAULT_SCHEDULER, Profile, default_profile

__all__ = ["SCHEDULE", "Assumed", "BindTag", "Scheduler", "SchedulerMemory", "StatusTag"]

SCHEDULE = "schedule"  # the work-queue key of the scheduling loop
# upstream: schedule_one.go ErrNoNodesAvailable
NO_NODES = "no nodes available to schedule pods"
# upstream: v1.PodReasonUnschedulable, v1.PodReasonSchedulerError
UNSCHEDULABLE, SCHEDULER_ERROR = "Unschedulable", "SchedulerError"


@dataclass(frozen=True, slots=True)
class Assumed:
    """A pod in the scheduler cache in state Assumed: ``pod`` carries the chosen nodeName;
    ``binding_finished`` once the bind returned (FinishBinding)."""

    pod: Pod
    binding_finished: bool = False


_NO_PODS = sq.SchedulingQueue()


@dataclass(frozen=True, slots=True)
class SchedulerMemory:
    queue: sq.SchedulingQueue = _NO_PODS
    assumed: FrozenMap = EMPTY  # pod key -> Assumed


@dataclass(frozen=True, slots=True)
class BindTag:
    """The binding cycle's state, carried by its request: the pod as popped."""

    node: str
    queued: sq.QueuedPod


@dataclass(frozen=True, slots=True)
class StatusTag:
    """A PodScheduled=False status write (its response changes nothing)."""

    reason: str


def _responsible(profile: Profile, pod: Pod) -> bool:
    # upstream: eventhandlers.go responsibleForPod (an unset schedulerName is defaulted)
    return (pod.spec.scheduler_name or DEFAULT_SCHEDULER) == profile.scheduler_name


def _rejectors(decision: Decision) -> frozenset[str]:
    """Diagnosis.UnschedulablePlugins: the plugin that failed each node."""
    plugins = set()
    for evaluation in decision.nodes:
        for plugin, status in evaluation.filters:
            if status.code not in (SUCCESS, SKIP):
                plugins.add(plugin)
                break
    return frozenset(plugins)


def _increased(old: FrozenMap, new: FrozenMap) -> bool:
    return any(k not in old or new[k] > old[k] for k in new)


def node_events(old: Node | None, new: Node) -> tuple[str, ...]:
    """upstream: framework.NodeSchedulingPropertiesChange, keeping the changes that can make a
    node more schedulable: a taint removed (or unschedulable cleared), allocatable raised,
    labels changed. Status heartbeats and conditions move nothing."""
    if old is None:
        return (sq.NODE_ADD,)
    events = []
    removed = set(old.spec.taints) - set(new.spec.taints)
    if removed or (old.spec.unschedulable and not new.spec.unschedulable):
        events.append(sq.NODE_TAINT)
    if _increased(old.status.allocatable, new.status.allocatable):
        events.append(sq.NODE_ALLOCATABLE)
    if old.metadata.labels != new.metadata.labels:
        events.append(sq.NODE_LABEL)
    return tuple(events)


def _scheduling_properties_changed(old: Pod, new: Pod) -> bool:
    # upstream: scheduling_queue.go isPodUpdated: ignores resourceVersion, generation, status
    return (old.spec, old.metadata.labels, old.metadata.annotations) != (
        new.spec,
        new.metadata.labels,
        new.metadata.annotations,
    )


@dataclass(frozen=True)
class Scheduler:
    """kube-scheduler with one profile. ``assume=False`` reproduces kubernetes#38503's family."""

    profile: Profile = field(default_factory=default_profile)
    seed: int = 0
    assume: bool = True
    name: str = "scheduler"
    identity: str = SCHEDULER
    process: str = "kube-scheduler"
    # services and replicasets: PodTopologySpread's default constraints select by them
    resources: tuple[str, ...] = ("pods", "nodes", "namespaces", "services", "replicasets")

    def initial_memory(self) -> SchedulerMemory:
        return SchedulerMemory()

    # --- event handlers (upstream: eventhandlers.go) ---------------------------------------

    def keys(self, delta: Delta, view: View) -> tuple[str, ...]:
        """The scheduling loop's key for an event that may add work: a pending pod of this
        profile added or changed, or a cluster event that can move unschedulable pods."""
        obj, old = delta.object, delta.old
        if delta.resource == "nodes":
            if delta.type == "DELETED" or node_events(old, obj):
                return (SCHEDULE,)
        elif delta.resource == "pods":
            if obj.spec.node_name or (old is not None and old.spec.node_name):
                return (SCHEDULE,) if self._assigned_events(delta) else ()
            if _responsible(self.profile, obj):
                return (SCHEDULE,)
        return ()

    def _assigned_events(self, delta: Delta) -> tuple[str, ...]:
        obj, old = delta.object, delta.old
        if delta.type == "DELETED":
            return (sq.ASSIGNED_POD_DELETE,)
        if old is None or not old.spec.node_name:
            return (sq.ASSIGNED_POD_ADD,)
        if old.metadata.labels != obj.metadata.labels:
            return (sq.ASSIGNED_POD_UPDATE,)
        return ()

    def observe(self, memory: SchedulerMemory, delta: Delta, view: View) -> SchedulerMemory:
        if delta.resource == "nodes":
            events = (
                (sq.NODE_DELETE,)
                if delta.type == "DELETED"
                else node_events(delta.old, delta.object)
            )
            return self._moved(memory, events, view.now)
        if delta.resource != "pods":
            return memory
        pod, old, key = delta.object, delta.old, delta.key
        queue, assumed = memory.queue, memory.assumed
        if delta.type == "DELETED":
            # deletePod: an assigned pod leaves the cache (a tombstone may be stale, so both),
            # a pending one the queue; a deleted assumed pod is forgotten at once
            # (handleAssumedPodDeletion)
            queue = sq.delete(queue, key)
            events = (
                () if not (pod.spec.node_name or delta.tombstone) else self._assigned_events(delta)
            )
            if key in assumed:
                assumed, events = assumed.without(key), (sq.ASSIGNED_POD_DELETE,)
            return self._moved(SchedulerMemory(queue, assumed), events, view.now)
        if pod.spec.node_name:
            # addAssignedPodToCache / updateAssignedPodInCache: Assumed -> Added (the informer's
            # copy is now the cache's, nodeName corrected if it differs); off the queue
            if old is None or not old.spec.node_name:
                queue = sq.delete(queue, key)
            assumed = assumed.without(key)
            events = self._assigned_events(delta)
            return self._moved(SchedulerMemory(queue, assumed), events, view.now)
        if not _responsible(self.profile, pod):
            return memory
        priority, gated = pod.spec.priority or 0, bool(pod.spec.scheduling_gates)
        if old is None:
            queue = sq.add(queue, key, priority=priority, gated=gated)
            return replace(memory, queue=queue)
        if old.metadata.resource_version == pod.metadata.resource_version:
            return memory  # updatePodInSchedulingQueue: identical objects (#96071)
        if key in assumed:
            # an assumed pod's update is ignored, unless its deletion started
            if (
                pod.metadata.deletion_timestamp is not None
                and old.metadata.deletion_timestamp is None
            ):
                memory = replace(memory, assumed=assumed.without(key))
                return self._moved(memory, (sq.ASSIGNED_POD_DELETE,), view.now)
            return memory
        changed = _scheduling_properties_changed(old, pod)
        queue = sq.ungate_or_move(
            queue, key, priority=priority, gated=gated, changed=changed, now=view.now
        )
        return replace(memory, queue=queue)

    @staticmethod
    def _moved(memory: SchedulerMemory, events, now: int) -> SchedulerMemory:
        queue = memory.queue
        for event in events:
            queue = sq.move_all(queue, event, now=now)
        return replace(memory, queue=queue)

    # --- the scheduling cycle (upstream: schedule_one.go) ----------------------------------

    def snapshot(self, view: View, assumed: FrozenMap) -> Snapshot:
        """upstream: cache.go UpdateSnapshot: every node with its assigned pods, the assumed
        ones included; namespaces and the workloads PodTopologySpread's defaults select by."""
        pods: dict[str, list[Pod]] = {}
        bound = set()
        for pod in view.list("pods"):
            if pod.spec.node_name:
                pods.setdefault(pod.spec.node_name, []).append(pod)
                bound.add(object_key(pod))
        for key in sorted(assumed):
            if key not in bound:
                pod = assumed[key].pod
                pods.setdefault(pod.spec.node_name, []).append(pod)
        nodes = tuple(NodeInfo(n, tuple(pods.get(n.metadata.name, ()))) for n in view.list("nodes"))
        services = tuple(
            s
            for s in view.list("services")
            if isinstance(s, Service) or (isinstance(s, GenericObject) and s.kind == "Service")
        )
        workloads = services + view.list("replicasets")
        return Snapshot(nodes, view.list("namespaces"), workloads)

    def reconcile(self, view: View, key: str, memory: SchedulerMemory) -> Reconciled:
        if key != SCHEDULE:
            return Reconciled(memory)
        now = view.now
        queue, pod_key, queued = sq.pop(sq.flush(memory.queue, now))
        memory = replace(memory, queue=queue)
        requests: tuple[Outgoing, ...] = ()
        pod = view.get("pods", pod_key) if pod_key is not None else None
        if pod is not None and not self._skip(pod, memory):
            memory, requests = self._schedule(view, memory, pod, queued)
        return self._done(memory, requests, now)

    def _skip(self, pod: Pod, memory: SchedulerMemory) -> bool:
        # upstream: skipPodSchedule (deleting, or assumed already); an assigned or foreign pod
        # would not be in the queue upstream
        return (
            pod.metadata.deletion_timestamp is not None
            or bool(pod.spec.node_name)
            or object_key(pod) in memory.assumed
            or not _responsible(self.profile, pod)
        )

    def _schedule(
        self, view: View, memory: SchedulerMemory, pod: Pod, queued: sq.QueuedPod
    ) -> tuple[SchedulerMemory, tuple[Outgoing, ...]]:
        key = object_key(pod)
        snapshot = self.snapshot(view, memory.assumed)
        if not snapshot.nodes:  # schedulePod: ErrNoNodesAvailable, no plugin to blame
            selected, message, rejectors = None, NO_NODES, frozenset()
        else:
            decision = schedule_one(self.profile, pod, snapshot, seed=self.seed)
            selected, message, rejectors = decision.selected, decision.message, _rejectors(decision)
        if selected is None:
            # FailureHandler (handleSchedulingFailure): requeue, then PodScheduled=False
            queue = sq.requeue_failed(memory.queue, key, queued, now=view.now, rejectors=rejectors)
            memory = replace(memory, queue=queue)
            return memory, self._condition(pod, UNSCHEDULABLE, message)
        if self.assume:  # assume: nodeName set, AssumePod
            bound = replace(pod, spec=replace(pod.spec, node_name=selected))
            memory = replace(memory, assumed=memory.assumed.set(key, Assumed(bound)))
        # bindingCycle -> DefaultBinder.Bind: a Binding carrying the pod's UID
        request = Request(
            self.identity,
            "create",
            "pods",
            pod.metadata.namespace,
            pod.metadata.name,
            subresource="binding",
            body=Binding(selected),
            preconditions=Preconditions(uid=pod.metadata.uid or None),
        )
        return memory, (Outgoing(request, key, BindTag(selected, queued)),)

    def _condition(self, pod: Pod | None, reason: str, message: str) -> tuple[Outgoing, ...]:
        """upstream: schedule_one.go updatePod: PodScheduled=False, only when it changes.

        Upstream sends a merge patch of the conditions; the model's api-server has update only,
        so this is an update of pods/status on the informer's copy with its resourceVersion: a
        stale copy gets a 409 (the condition is lost) instead of overwriting newer status."""
        if pod is None:
            return ()
        current = next((c for c in pod.status.conditions if c.type == "PodScheduled"), None)
        if current is not None and (current.status, current.reason, current.message) == (
            "False",
            reason,
            message,
        ):
            return ()
        # podutil.UpdatePodCondition keeps lastTransitionTime when the status is unchanged
        since = current.last_transition_time if current and current.status == "False" else None
        condition = Condition("PodScheduled", "False", reason, message, since)
        conditions = tuple(c for c in pod.status.conditions if c.type != "PodScheduled")
        body = replace(pod, status=replace(pod.status, conditions=(*conditions, condition)))
        request = Request(
            self.identity,
            "update",
            "pods",
            pod.metadata.namespace,
            pod.metadata.name,
            subresource="status",
            body=body,
        )
        return (Outgoing(request, object_key(pod), StatusTag(reason)),)

    def _done(
        self, memory: SchedulerMemory, requests: tuple[Outgoing, ...], now: int
    ) -> Reconciled:
        after, every = sq.timers(memory.queue, now, SCHEDULE)
        requeue = (SCHEDULE,) if sq.has_active(memory.queue) else ()
        return Reconciled(memory, requests, requeue, after, every)

    # --- the end of the binding cycle ------------------------------------------------------

    def on_response(
        self, memory: SchedulerMemory, sent: Outgoing, response: Response, view: View
    ) -> Reconciled:
        tag, key = sent.tag, sent.key
        if not isinstance(tag, BindTag):
            return Reconciled(memory)
        assumed = memory.assumed.get(key)
        if response.ok:
            # finishBinding: the assumed pod stays until the informer shows it bound
            if assumed is not None:
                memory = replace(
                    memory, assumed=memory.assumed.set(key, replace(assumed, binding_finished=True))
                )
            return self._done(memory, (), view.now)
        # handleBindingCycleError: ForgetPod; its freed resources count as AssignedPodDelete
        if assumed is not None and assumed.pod.spec.node_name == tag.node:
            memory = replace(memory, assumed=memory.assumed.without(key))
            memory = self._moved(memory, (sq.ASSIGNED_POD_DELETE,), view.now)
        # FailureHandler: dropped if the informer's copy is gone or bound, else backoff (an
        # error has no rejector plugins); PodScheduled=False with reason SchedulerError
        cached = view.get("pods", key)
        if cached is not None and not cached.spec.node_name:
            queue = sq.requeue_failed(
                memory.queue, key, tag.queued, now=view.now, rejectors=frozenset()
            )
            memory = replace(memory, queue=queue)
        message = response.status.message if response.status is not None else ""
        return self._done(memory, self._condition(cached, SCHEDULER_ERROR, message), view.now)
