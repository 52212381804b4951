"""The node lifecycle controller: notices silent nodes, taints not-ready ones NoExecute, and
keeps each node's NoSchedule taints in step with its conditions.

Every ``node_monitor_period`` (5 s) it checks each node (``monitorNodeHealth``): a node whose
Lease renewal or Ready condition it has not *itself observed* changing within
``node_monitor_grace_period`` (50 s since v1.32, #126287) gets its conditions set to Unknown
(a node status update) and its pods marked not ready (``MarkPodsNotReady``). From the Ready
condition it observed, it queues the node for the ``node.kubernetes.io/unreachable:NoExecute``
(Unknown) or ``node.kubernetes.io/not-ready:NoExecute`` (False) taint, swaps one for the other
at once when the condition flips, and removes both when Ready is True. Tainting is rate limited
per zone (0.1 node/s; none in a partly disrupted zone of at most 50 nodes, 0.01/s in a larger
one) and stops when every zone is fully disrupted ("master disruption mode", which also removes
the taints). Evicting the pods is the taint eviction controller's work (tainteviction.py).

TaintNodesByCondition (``doNoScheduleTaintingPass``): on every add or update of a node its
conditions map to NoSchedule taints (:data:`CONDITION_TAINTS`: Ready False -> not-ready, Unknown
-> unreachable; MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable True -> the matching
``node.kubernetes.io/*`` key), plus ``node.kubernetes.io/unschedulable`` when
``spec.unschedulable``; the ones missing are added (with timeAdded) and those of these keys no
longer wanted are removed, in one write. Other NoSchedule taints are left alone.

Simplifications. The model's conditions have no lastHeartbeatTime: a change of the Ready
condition that the controller did not write itself stands in for a new heartbeat (the Lease's
renewTime is the main signal, as upstream). The tainting pass runs at the end of each monitor
pass rather than every 100 ms, and a token bucket of burst 1 is one taint per 1/rate seconds.
A write that fails is retried on the next pass rather than at once. A NoSchedule write is one
update of the live node (upstream: an add patch, then a remove patch, each retried on conflict);
on a conflict the node is queued again. Node label reconciliation is not modelled.

upstream: pkg/controller/nodelifecycle/node_lifecycle_controller.go (monitorNodeHealth,
tryUpdateNodeHealth, processTaintBaseEviction, markNodeForTainting, markNodeAsReachable,
doNoExecuteTaintingPass, handleDisruption, ComputeZoneState, processPod,
doNodeProcessingPassWorker, doNoScheduleTaintingPass),
pkg/controller/util/node/controller_utils.go (MarkPodsNotReady, SwapNodeControllerTaint),
pkg/controller/nodelifecycle/scheduler/rate_limited_queue.go (UniqueQueue).

>>> from kubeproof.model.objects import Condition, Node, NodeStatus, ObjectMeta
>>> node = Node(ObjectMeta(name="n1", creation_timestamp=0),
...             status=NodeStatus(conditions=(Condition("Ready", "True", last_transition_time=0),)))
>>> nlc = NodeLifecycleController()
>>> health, observed, current, update = node_health(nlc, 0, node, None, None)
>>> observed.status, update is None
('True', True)
>>> health, observed, current, update = node_health(nlc, 51, node, health, None)
>>> current.status, current.reason, [c.type for c in update.status.conditions]
('Unknown', 'NodeStatusUnknown', ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'])
>>> add, remove = no_schedule_diff(update)
>>> [t.key for t in add], remove
(['node.kubernetes.io/unreachable'], ())
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kubeproof.model.apiserver.rbac import CONTROLLER_MANAGER
from kubeproof.model.apiserver.server import Request, Response
from kubeproof.model.controllers.protocol import Delta, Outgoing, Reconciled, View
from kubeproof.model.objects import EMPTY, Condition, FrozenMap, Lease, Node, Pod, Taint

__all__ = [
    "CONDITION_TAINTS",
    "MONITOR",
    "NOT_READY_TAINT",
    "UNREACHABLE_TAINT",
    "UNSCHEDULABLE_TAINT",
    "NLCMemory",
    "NodeHealth",
    "NodeLifecycleController",
    "compute_zone_state",
    "mark_pods_not_ready",
    "no_schedule_diff",
    "no_schedule_taints",
    "node_health",
    "zone_key",
]

MONITOR = "monitor"
# upstream: node_lifecycle_controller.go UnreachableTaintTemplate, NotReadyTaintTemplate
UNREACHABLE_TAINT = Taint("node.kubernetes.io/unreachable", "NoExecute")
NOT_READY_TAINT = Taint("node.kubernetes.io/not-ready", "NoExecute")
# upstream: node_lifecycle_controller.go nodeConditionToTaintKeyStatusMap: (condition type,
# status) -> the key of the NoSchedule taint (keys from k8s.io/api/core/v1 well_known_taints.go)
CONDITION_TAINTS = FrozenMap(
    {
        ("Ready", "False"): "node.kubernetes.io/not-ready",
        ("Ready", "Unknown"): "node.kubernetes.io/unreachable",
        ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
        ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
        ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable",
        ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
    }
)
# upstream: v1.TaintNodeUnschedulable, for spec.unschedulable
UNSCHEDULABLE_TAINT = Taint("node.kubernetes.io/unschedulable", "NoSchedule")
# the keys the NoSchedule pass owns (upstream: taintKeyToNodeConditionMap, and unschedulable)
_NO_SCHEDULE_KEYS = frozenset((*CONDITION_TAINTS.values(), UNSCHEDULABLE_TAINT.key))
# upstream: the conditions set to Unknown (NodeNetworkUnavailable is the cloud's)
UNKNOWN_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
EXCLUDE_DISRUPTION = "node.kubernetes.io/exclude-disruption"
INITIAL, NORMAL, PARTIAL, FULL = "Initial", "Normal", "PartialDisruption", "FullDisruption"


@dataclass(frozen=True, slots=True)
class NodeHealth:
    """What the controller last observed of a node (upstream nodeHealthData): when it last saw
    a heartbeat (probe) or a Ready transition, the Ready condition it holds for the node, the
    Ready condition its own last write replaced (so that seeing it is no heartbeat), and the
    Lease renewTime it last saw."""

    probe_timestamp: int
    ready_transition_timestamp: int
    ready: Condition | None = None
    overwritten: Condition | None = None
    lease_seen: bool = False
    lease_renew_time: int | None = None


@dataclass(frozen=True, slots=True)
class NLCMemory:
    armed: bool = False  # the monitor loop is running
    known: tuple[str, ...] = ()  # knownNodeSet
    health: FrozenMap = EMPTY  # node -> NodeHealth
    zone_states: FrozenMap = EMPTY  # zone -> Initial, Normal, PartialDisruption, FullDisruption
    taint_set: FrozenMap = EMPTY  # zone -> nodes in the zone's UniqueQueue set
    taint_queue: FrozenMap = EMPTY  # zone -> nodes waiting to be tainted, oldest first
    next_token: FrozenMap = EMPTY  # zone -> when its rate limiter next grants a token
    retry: tuple[str, ...] = ()  # nodesToRetry: MarkPodsNotReady failed


def _condition(conditions: tuple[Condition, ...], kind: str) -> Condition | None:
    return next((c for c in conditions if c.type == kind), None)


def zone_key(node: Node) -> str:
    """upstream: component-helpers/node/topology GetZoneKey: region and zone labels (GA, else
    the deprecated beta ones), "" when neither is set."""
    labels = node.metadata.labels
    region = labels.get("topology.kubernetes.io/region") or labels.get(
        "failure-domain.beta.kubernetes.io/region", ""
    )
    zone = labels.get("topology.kubernetes.io/zone") or labels.get(
        "failure-domain.beta.kubernetes.io/zone", ""
    )
    return "" if not region and not zone else f"{region}:\x00:{zone}"


def _has(node: Node, taint: Taint) -> bool:
    # upstream: taints.TaintExists matches key and effect
    return any(t.key == taint.key and t.effect == taint.effect for t in node.spec.taints)


def no_schedule_taints(node: Node) -> tuple[Taint, ...]:
    """The NoSchedule taints a node's conditions and ``spec.unschedulable`` call for, in
    condition order (upstream: doNoScheduleTaintingPass, "Map node's condition to Taints")."""
    taints = [
        Taint(CONDITION_TAINTS[(c.type, c.status)], "NoSchedule")
        for c in node.status.conditions
        if (c.type, c.status) in CONDITION_TAINTS
    ]
    if node.spec.unschedulable:
        taints.append(UNSCHEDULABLE_TAINT)
    return tuple(taints)


def no_schedule_diff(node: Node) -> tuple[tuple[Taint, ...], tuple[Taint, ...]]:
    """(taints to add, taints to remove): upstream TaintSetDiff of the wanted taints against
    the node's NoSchedule taints of the keys this pass owns (TaintSetFilter), matched on key and
    effect."""
    wanted = no_schedule_taints(node)
    have = tuple(
        t for t in node.spec.taints if t.effect == "NoSchedule" and t.key in _NO_SCHEDULE_KEYS
    )
    add = tuple(t for t in wanted if not _has(node, t))
    remove = tuple(t for t in have if not any(_same(t, w) for w in wanted))
    return add, remove


def node_health(
    config: NodeLifecycleController,
    now: int,
    node: Node,
    health: NodeHealth | None,
    lease: Lease | None,
) -> tuple[NodeHealth, Condition, Condition | None, Node | None]:
    """tryUpdateNodeHealth: (health, the observed Ready condition, the current one, the node
    with its conditions set Unknown when the grace period is over and they changed)."""
    current = _condition(node.status.conditions, "Ready")
    created = node.metadata.creation_timestamp or 0
    saved = None if health is None else health.ready
    if current is None:
        # never posted: a fake Unknown condition, and the startup grace period
        observed = Condition("Ready", "Unknown", last_transition_time=created)
        grace = config.node_startup_grace_period
        if health is None:
            health = NodeHealth(created, created)
    else:
        observed, grace = current, config.node_monitor_grace_period
    if health is None or (saved is None) != (current is None):
        # first sight, a restart with the node already there, or Ready removed
        health = NodeHealth(now, now, current)
    elif current is not None and current not in (saved, health.overwritten):
        # a new heartbeat (upstream: LastHeartbeatTime differs)
        moved = saved.last_transition_time != current.last_transition_time
        transition = now if moved else health.ready_transition_timestamp
        health = NodeHealth(now, transition, current)
    if lease is not None:
        renewed = lease.spec.renew_time
        if not health.lease_seen or (health.lease_renew_time or -1) < (renewed or -1):
            health = replace(health, lease_seen=True, lease_renew_time=renewed, probe_timestamp=now)
    if current is not None and current == health.overwritten:
        # the cache has not caught up with the controller's own write: go by what it wrote
        # (upstream's write from the stale copy fails with a conflict and is retried on a
        # freshly read node)
        return health, health.ready, health.ready, None
    if now <= health.probe_timestamp + grace:
        return health, observed, current, None
    conditions = list(node.status.conditions)
    for kind in UNKNOWN_CONDITIONS:
        c = _condition(node.status.conditions, kind)
        if c is None:
            conditions.append(
                Condition(
                    kind,
                    "Unknown",
                    "NodeStatusNeverUpdated",
                    "Kubelet never posted node status.",
                    now,
                )
            )
        elif c.status != "Unknown":
            unknown = Condition(
                kind, "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.", now
            )
            conditions[conditions.index(c)] = unknown
    updated = replace(node, status=replace(node.status, conditions=tuple(conditions)))
    ready = _condition(updated.status.conditions, "Ready")
    if ready == observed:
        return health, observed, current, None
    health = replace(health, ready_transition_timestamp=now, ready=ready, overwritten=current)
    return health, observed, ready, updated


def compute_zone_state(
    ready_conditions: list[Condition | None], unhealthy_threshold: float
) -> tuple[int, str]:
    """upstream: ComputeZoneState: (not-ready nodes, Normal, PartialDisruption or
    FullDisruption)."""
    ready = sum(1 for c in ready_conditions if c is not None and c.status == "True")
    not_ready = len(ready_conditions) - ready
    if ready == 0 and not_ready > 0:
        return not_ready, FULL
    if not_ready > 2 and not_ready / len(ready_conditions) >= unhealthy_threshold:
        return not_ready, PARTIAL
    return not_ready, NORMAL


def mark_pods_not_ready(now: int, pods: tuple[Pod, ...], node_name: str) -> tuple[Outgoing, ...]:
    """upstream: controller_utils.go MarkPodsNotReady: each pod's Ready condition set False
    through pods/status (an update carrying the cached resourceVersion)."""
    requests = []
    for pod in pods:
        if pod.spec.node_name != node_name:
            continue
        ready = _condition(pod.status.conditions, "Ready")
        if ready is None or ready.status == "False":
            continue  # UpdatePodCondition: nothing to change
        conditions = tuple(
            replace(c, status="False", last_transition_time=now) if c is ready else c
            for c in pod.status.conditions
        )
        body = replace(pod, status=replace(pod.status, conditions=conditions))
        meta = pod.metadata
        request = Request(
            CONTROLLER_MANAGER,
            "update",
            "pods",
            meta.namespace,
            meta.name,
            subresource="status",
            body=body,
        )
        requests.append(
            Outgoing(request, f"{meta.namespace}/{meta.name}", ("podNotReady", node_name))
        )
    return tuple(requests)


def _set_taints(view: View, name: str, add: tuple[Taint, ...], remove: tuple[Taint, ...], tag):
    """SwapNodeControllerTaint / RemoveTaintOffNode on the live node: the write, if any (the
    taints added get timeAdded now, upstream SwapNodeControllerTaint)."""
    node = view.live_get("nodes", "", name)
    if node is None:
        return ()
    taints = tuple(t for t in node.spec.taints if not any(_same(t, r) for r in remove))
    for taint in add:
        if not _has(node, taint):
            taints = (*taints, replace(taint, time_added=view.now))
    if taints == node.spec.taints:
        return ()
    body = replace(node, spec=replace(node.spec, taints=taints))
    return (
        Outgoing(Request(CONTROLLER_MANAGER, "update", "nodes", "", name, body=body), name, tag),
    )


def _same(a: Taint, b: Taint) -> bool:
    return a.key == b.key and a.effect == b.effect


def _without(m: FrozenMap, zone: str, name: str) -> FrozenMap:
    return m.set(zone, tuple(n for n in m.get(zone, ()) if n != name))


@dataclass(frozen=True)
class NodeLifecycleController:
    """kube-controller-manager's node-lifecycle-controller, with its flags' defaults."""

    name: str = "nodelifecycle"
    identity: str = CONTROLLER_MANAGER
    process: str = "kube-controller-manager"
    resources: tuple[str, ...] = ("nodes", "leases", "pods")
    node_monitor_period: int = 5
    node_monitor_grace_period: int = 50  # 40 before v1.32
    node_startup_grace_period: int = 60
    node_eviction_rate: float = 0.1
    secondary_node_eviction_rate: float = 0.01
    large_cluster_size_threshold: int = 50
    unhealthy_zone_threshold: float = 0.55
    # the monitor loop starts with the component (cluster.py start_keys); a node event also
    # starts it, should it not have
    start_keys: tuple[str, ...] = (MONITOR,)

    def initial_memory(self) -> NLCMemory:
        return NLCMemory()

    def keys(self, delta: Delta, view: View) -> tuple[str, ...]:
        if delta.resource == "nodes" and delta.type != "DELETED":
            # upstream: the node informer's AddFunc and UpdateFunc queue the node for
            # doNodeProcessingPassWorker (nodeUpdateQueue); the first one also starts the
            # monitor loop should it not have started
            return ("node:" + delta.key,)
        if delta.resource == "pods" and delta.type != "DELETED":
            # upstream: podUpdated: a pod newly assigned to a node
            pod, old = delta.object, delta.old
            if pod.spec.node_name and (old is None or old.spec.node_name != pod.spec.node_name):
                return ("pod:" + delta.key,)
        return ()

    def observe(self, memory: NLCMemory, delta: Delta, view: View) -> NLCMemory:
        return memory

    def reconcile(self, view: View, key: str, memory: NLCMemory) -> Reconciled:
        if key == MONITOR:
            return self._monitor(view, memory)
        if key.startswith("node:"):
            requests = self._no_schedule_pass(view, key.removeprefix("node:"))
            if memory.armed:
                return Reconciled(memory, requests)
            # upstream: Run starts wait.Until(monitorNodeHealth), which runs at once
            return Reconciled(replace(memory, armed=True), requests, every=((MONITOR, 0),))
        if key.startswith("pod:"):
            return self._process_pod(view, key.removeprefix("pod:"), memory)
        return Reconciled(memory)

    def _no_schedule_pass(self, view: View, name: str) -> tuple[Outgoing, ...]:
        # upstream: doNoScheduleTaintingPass: the cached node (gone: nothing to do), the diff
        # of its NoSchedule taints, then SwapNodeControllerTaint
        node = view.get("nodes", name)
        if node is None:
            return ()
        add, remove = no_schedule_diff(node)
        if not add and not remove:
            return ()
        return _set_taints(view, name, add, remove, ("noschedule", name))

    def _process_pod(self, view: View, key: str, memory: NLCMemory) -> Reconciled:
        # upstream: processPod: a pod assigned to a node that is not Ready is marked not ready
        pod = view.get("pods", key)
        if pod is None:
            return Reconciled(memory)
        health = memory.health.get(pod.spec.node_name)
        if health is None or view.get("nodes", pod.spec.node_name) is None:
            return Reconciled(memory)
        if health.ready is None or health.ready.status == "True":
            return Reconciled(memory)
        return Reconciled(memory, mark_pods_not_ready(view.now, (pod,), pod.spec.node_name))

    def _token_interval(self, memory: NLCMemory, zone: str, size: int) -> int | None:
        """Seconds between two taints in a zone; None when its limiter is stopped."""
        states = memory.zone_states
        if states and all(s == FULL for s in states.values()):
            return None  # master disruption mode
        qps = self.node_eviction_rate
        if states.get(zone, INITIAL) == PARTIAL:  # upstream: ReducedQPSFunc
            if size <= self.large_cluster_size_threshold:
                return None
            qps = self.secondary_node_eviction_rate
        return None if qps <= 0 else max(1, round(1 / qps))

    def _monitor(self, view: View, memory: NLCMemory) -> Reconciled:
        # upstream: monitorNodeHealth
        now, nodes = view.now, view.list("nodes")
        names = {n.metadata.name for n in nodes}
        requests: list[Outgoing] = []
        for node in nodes:  # classifyNodes: new nodes are marked reachable
            if node.metadata.name not in memory.known:
                memory, reqs = self._mark_reachable(view, memory, node)
                requests += reqs
        gone = [n for n in memory.known if n not in names]
        health = memory.health
        for name in gone:
            health = health.without(name)
        memory = replace(
            memory,
            known=tuple(sorted(names)),
            health=health,
            retry=tuple(n for n in memory.retry if n in names),
        )
        zones: dict[str, list[Condition | None]] = {}
        pods = view.list("pods")
        for node in nodes:
            name = node.metadata.name
            lease = view.get("leases", f"kube-node-lease/{name}")
            h, observed, current, updated = node_health(
                self, now, node, memory.health.get(name), lease
            )
            memory = replace(memory, health=memory.health.set(name, h))
            if updated is not None:
                request = Request(
                    CONTROLLER_MANAGER, "update", "nodes", "", name, "status", body=updated
                )
                requests.append(Outgoing(request, name, ("status", name)))
            if EXCLUDE_DISRUPTION not in node.metadata.labels:
                zones.setdefault(zone_key(node), []).append(current)
            if current is None:
                continue
            memory, reqs = self._taint_based_eviction(view, memory, node, observed)
            requests += reqs
            retry = name in memory.retry
            if (current.status != "True" and observed.status == "True") or (
                retry and observed.status != "True"
            ):
                requests += mark_pods_not_ready(now, pods, name)
            memory = replace(memory, retry=tuple(n for n in memory.retry if n != name))
        memory, reqs = self._handle_disruption(view, memory, zones, nodes)
        requests += reqs
        memory, reqs = self._tainting_pass(view, memory, zones)
        requests += reqs
        memory = replace(memory, armed=True)
        # one write each: a new node that is Ready would be marked reachable twice (upstream's
        # second RemoveTaintOffNode re-reads the node and finds nothing to remove)
        requests = list(dict.fromkeys(requests))
        return Reconciled(memory, tuple(requests), every=((MONITOR, self.node_monitor_period),))

    def _taint_based_eviction(self, view: View, memory: NLCMemory, node: Node, observed):
        # upstream: processTaintBaseEviction (from the Ready condition observed before this pass)
        name = node.metadata.name
        if observed.status == "False":
            if _has(node, UNREACHABLE_TAINT):  # swapped at once, not rate limited
                return memory, _set_taints(
                    view, name, (NOT_READY_TAINT,), (UNREACHABLE_TAINT,), ("swap", name)
                )
            return self._mark_for_tainting(memory, node, NOT_READY_TAINT), ()
        if observed.status == "Unknown":
            if _has(node, NOT_READY_TAINT):
                return memory, _set_taints(
                    view, name, (UNREACHABLE_TAINT,), (NOT_READY_TAINT,), ("swap", name)
                )
            return self._mark_for_tainting(memory, node, UNREACHABLE_TAINT), ()
        return self._mark_reachable(view, memory, node)

    def _mark_for_tainting(self, memory: NLCMemory, node: Node, taint: Taint) -> NLCMemory:
        # upstream: markNodeForTainting: Remove (when the taint is missing), then Add
        zone, name = zone_key(node), node.metadata.name
        if not _has(node, taint):
            memory = replace(
                memory,
                taint_set=_without(memory.taint_set, zone, name),
                taint_queue=_without(memory.taint_queue, zone, name),
            )
        if name in memory.taint_set.get(zone, ()):
            return memory  # UniqueQueue.Add: already added (and not removed since)
        return replace(
            memory,
            taint_set=memory.taint_set.set(zone, (*memory.taint_set.get(zone, ()), name)),
            taint_queue=memory.taint_queue.set(zone, (*memory.taint_queue.get(zone, ()), name)),
        )

    def _mark_reachable(self, view: View, memory: NLCMemory, node: Node):
        # upstream: markNodeAsReachable: both NoExecute taints removed, the node dequeued
        zone, name = zone_key(node), node.metadata.name
        memory = replace(
            memory,
            taint_set=_without(memory.taint_set, zone, name),
            taint_queue=_without(memory.taint_queue, zone, name),
        )
        if not (_has(node, UNREACHABLE_TAINT) or _has(node, NOT_READY_TAINT)):
            return memory, ()  # RemoveTaintOffNode checks the cached node first
        taints = (UNREACHABLE_TAINT, NOT_READY_TAINT)
        return memory, _set_taints(view, name, (), taints, ("untaint", name))

    def _handle_disruption(self, view: View, memory: NLCMemory, zones: dict, nodes):
        # upstream: handleDisruption
        new_states = {
            z: compute_zone_state(c, self.unhealthy_zone_threshold)[1] for z, c in zones.items()
        }
        states = FrozenMap(
            (z, memory.zone_states.get(z, INITIAL)) for z in sorted(zones)
        )  # zones no longer seen are forgotten, new ones start Initial
        all_are_full = all(s == FULL for s in new_states.values())
        all_were_full = all(s == FULL for s in states.values())
        requests: list[Outgoing] = []
        if all_are_full and all_were_full:
            return replace(memory, zone_states=states), ()
        if all_are_full:
            # master disruption mode: every node marked reachable, no more tainting
            for node in nodes:
                memory, reqs = self._mark_reachable(view, memory, node)
                requests += reqs
            full = FrozenMap((z, FULL) for z in states)
            return replace(memory, zone_states=full), tuple(requests)
        if all_were_full:
            # leaving it: every node's probe and transition timestamps restart now
            health = memory.health
            for name, h in memory.health.items():
                health = health.set(
                    name, replace(h, probe_timestamp=view.now, ready_transition_timestamp=view.now)
                )
            memory = replace(memory, health=health)
        return replace(memory, zone_states=FrozenMap(new_states)), ()

    def _tainting_pass(self, view: View, memory: NLCMemory, zones: dict):
        # upstream: doNoExecuteTaintingPass over each zone's RateLimitedTimedQueue
        requests: list[Outgoing] = []
        for zone in sorted(memory.taint_queue):
            for name in memory.taint_queue[zone]:
                interval = self._token_interval(memory, zone, len(zones.get(zone, ())))
                if interval is None or view.now < memory.next_token.get(zone, view.now):
                    break  # limiter.TryAccept failed
                memory = replace(
                    memory, next_token=memory.next_token.set(zone, view.now + interval)
                )
                node = view.get("nodes", name)
                ready = None if node is None else _condition(node.status.conditions, "Ready")
                if node is not None and ready is None:
                    continue  # retried later
                memory = replace(memory, taint_queue=_without(memory.taint_queue, zone, name))
                if ready is None or ready.status not in ("False", "Unknown"):
                    continue  # gone, or Ready again
                add, opposite = (
                    (NOT_READY_TAINT, UNREACHABLE_TAINT)
                    if ready.status == "False"
                    else (UNREACHABLE_TAINT, NOT_READY_TAINT)
                )
                requests += _set_taints(view, name, (add,), (opposite,), ("taint", zone, name))
        return memory, tuple(requests)

    def on_response(
        self, memory: NLCMemory, sent: Outgoing, response: Response, view: View
    ) -> Reconciled:
        tag = sent.tag
        if response.ok or response.code == 404 or not isinstance(tag, tuple):
            return Reconciled(memory)
        if tag[0] == "noschedule":
            # upstream: AddOrUpdateTaintOnNode / RemoveTaintOffNode retry a conflict on a fresh
            # read (RetryOnConflict); any other error is only logged (upstream's comment there
            # notes the node is not put back on the queue), the next update of the node queues it
            return Reconciled(memory, requeue=("node:" + tag[1],) if response.code == 409 else ())
        if tag[0] == "taint":
            # the item stays queued (Try re-adds it on failure)
            _, zone, name = tag
            if name in memory.taint_set.get(zone, ()) and name not in memory.taint_queue.get(
                zone, ()
            ):
                queue = memory.taint_queue.set(zone, (*memory.taint_queue.get(zone, ()), name))
                return Reconciled(replace(memory, taint_queue=queue))
        if tag[0] == "podNotReady" and tag[1] not in memory.retry:
            return Reconciled(replace(memory, retry=(*memory.retry, tag[1])))
        return Reconciled(memory)
