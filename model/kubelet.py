"""The kubelet, one per node: registration, heartbeats, pod admission, containers, pod status.

On start the kubelet creates its Node (AlreadyExists after a restart is fine), then renews its
Lease in kube-node-lease every 10 s and reports node status when it changed or every 5 minutes.
Pods bound to its node are admitted in creation order against the kubelet's *own* view: the
pods it admitted that are still active (HandlePodAdditions); a pod it rejects is written Failed
with upstream's reason (OutOfcpu, NodeAffinity, TaintToleration...). An admitted pod runs in
the container runtime (model/runtime.py); the status manager writes its status through
pods/status. A pod being deleted gets its containers stopped within its grace period, a
terminal phase, then the kubelet's final DELETE (grace 0, UID precondition).

The checks are the scheduler's own filters, run on a NodeInfo of the kubelet's admitted pods.

upstream: pkg/kubelet/kubelet.go (HandlePodAdditions, canAdmitPod, rejectPod),
pkg/kubelet/lifecycle/predicate.go, pkg/kubelet/kubelet_node_status.go (registerWithAPIServer,
initialNode, tryUpdateNodeStatus), pkg/kubelet/nodestatus/setters.go,
pkg/kubelet/nodelease (component-helpers/apimachinery/lease/controller.go),
pkg/kubelet/status/status_manager.go (syncPod, canBeDeleted).

>>> from kubeproof.model.objects import Container, FrozenMap, Node, NodeStatus, ObjectMeta
>>> from kubeproof.model.objects import Pod, PodSpec
>>> from kubeproof.model.quantity import parse_quantity as q
>>> node = Node(ObjectMeta(name="node-1"),
...             status=NodeStatus(allocatable=FrozenMap(cpu=q("1"), pods=q("110"))))
>>> def pod(cpu):
...     return Pod(ObjectMeta(name="p"), PodSpec(
...         containers=(Container("c", "nginx", requests=FrozenMap(cpu=q(cpu))),)))
>>> admission_failure(pod("600m"), node, (pod("600m"),))
('OutOfcpu', "Node didn't have enough resource: cpu, requested: 600, used: 600, capacity: 1000")
>>> kubelet = Kubelet(node)
>>> kubelet.name, kubelet.identity, kubelet.start_keys
('kubelet-node-1', 'system:node:node-1', ('register',))
"""

from __future__ import annotations

import ipaddress
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from itertools import islice
from typing import ClassVar

from kubeproof.model import runtime
from kubeproof.model.apiserver.rbac import kubelet_name
from kubeproof.model.apiserver.server import Preconditions, Request, Response
from kubeproof.model.controllers.protocol import Delta, Outgoing, Reconciled, View
from kubeproof.model.objects import (
    EMPTY,
    Condition,
    ContainerImage,
    FrozenMap,
    Lease,
    LeaseSpec,
    Node,
    NodeStatus,
    ObjectMeta,
    OwnerReference,
    Pod,
    Taint,
    object_key,
)
from kubeproof.model.scheduler.framework import NodeInfo
from kubeproof.model.scheduler.matching import taint_tolerated
from kubeproof.model.scheduler.plugins.image_locality import normalized_image_name
from kubeproof.model.scheduler.plugins.node_affinity import ERR_REASON_POD, NodeAffinity
from kubeproof.model.scheduler.plugins.node_name import NodeName
from kubeproof.model.scheduler.plugins.node_ports import NodePorts
from kubeproof.model.scheduler.plugins.node_resources_fit import NodeResourcesFit
from kubeproof.model.scheduler.resources import (
    PODS,
    allowed_pod_number,
    is_extended_resource_name,
    node_allocatable,
    node_requested,
    pod_requests,
)

__all__ = ["Kubelet", "KubeletMemory", "PodRecord", "admission_failure"]

REGISTER, NODE_STATUS, LEASE = "register", "node-status", "lease"  # never "namespace/name"
NODE_LEASE_NAMESPACE = "kube-node-lease"
ADMITTED, REJECTED, SKIPPED = "admitted", "rejected", "skipped"
DEFAULT_POD_CIDR = "10.88.0.0/16"  # containerd's default bridge network (no podCIDR assigned)
MB = 1024 * 1024


# --- admission (upstream: pkg/kubelet/lifecycle/predicate.go) -------------------------------


def _without_missing_extended(pod: Pod, node: Node) -> Pod:
    """removeMissingExtendedResources: extended resources the node does not report at all are
    not checked (cluster-level resources)."""

    def strip(containers):
        return tuple(
            replace(
                c,
                requests=FrozenMap(
                    (n, v)
                    for n, v in c.requests.items()
                    if not is_extended_resource_name(n) or n in node.status.allocatable
                ),
            )
            for c in containers
        )

    spec = replace(
        pod.spec,
        containers=strip(pod.spec.containers),
        init_containers=strip(pod.spec.init_containers),
    )
    return replace(pod, spec=spec)


def _insufficient(reason: str, pod: Pod, node: Node, pods: tuple[Pod, ...]) -> tuple[str, str]:
    """A NodeResourcesFit reason as the kubelet reports it: OutOf<resource> and
    InsufficientResourceError's message."""
    if reason == "Too many pods":
        name, requested, used, capacity = PODS, 1, len(pods), allowed_pod_number(node)
    else:
        name = reason.removeprefix("Insufficient ")
        requested = pod_requests(pod).get(name, 0)
        used = node_requested(pods).get(name, 0)
        capacity = node_allocatable(node).get(name, 0)
    message = (
        f"Node didn't have enough resource: {name}, requested: {requested}, used: {used}, "
        f"capacity: {capacity}"
    )
    return f"OutOf{name}", message


def _failures(pod: Pod, node: Node, pods: tuple[Pod, ...]) -> list[tuple[str, str]]:
    """generalFilter: every failure as (reason, message), in upstream's order: resources,
    NodeAffinity, NodeName, NodePorts (scheduler.AdmissionCheck), then NoExecute taints."""
    info = NodeInfo(node, pods)
    checked = _without_missing_extended(pod, node)
    fit = NodeResourcesFit()
    status = fit.filter(fit.pre_filter(checked, None).state, checked, info)
    out = [_insufficient(r, checked, node, pods) for r in status.reasons]
    for plugin in (NodeAffinity(), NodeName(), NodePorts()):
        pre = plugin.pre_filter(pod, None)
        if pre.status.code == "Skip":
            continue
        status = plugin.filter(pre.state, pod, info)
        if not status.is_success:
            out.append((plugin.name, f"Predicate {plugin.name} failed: {status.reasons[0]}"))
    # the kubelet only cares about NoExecute taints (static pods, exempt upstream, are not modelled)
    if any(
        t.effect == "NoExecute" and not taint_tolerated(t, pod.spec.tolerations)
        for t in node.spec.taints
    ):
        desc = (
            "node(s) had taints that the pod didn't tolerate"  # tainttoleration ErrReasonNotMatch
        )
        out.append(("TaintToleration", f"Predicate TaintToleration failed: {desc}"))
    return out


def admission_failure(
    pod: Pod,
    node: Node,
    pods: Iterable[Pod],
    live_node: Callable[[], Node | None] | None = None,
) -> tuple[str, str] | None:
    """Why the kubelet on ``node`` rejects ``pod`` next to the active ``pods`` it admitted:
    (reason, message) of the first failure, or None to admit.

    When node affinity is the only failure, the node is fetched again (``live_node``) and the
    checks rerun: the cached node may predate a label change.
    """
    # upstream: predicate.go predicateAdmitHandler.Admit and generalFilter
    pods = tuple(pods)
    failures = _failures(pod, node, pods)
    affinity = f"Predicate NodeAffinity failed: {ERR_REASON_POD}"
    if failures and all(m == affinity for _, m in failures) and live_node is not None:
        fresh = live_node()
        if fresh is not None:
            failures = _failures(pod, fresh, pods)
    return failures[0] if failures else None


# --- memory --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PodRecord:
    """What the kubelet knows of one pod: the pod (as last seen), its admission verdict
    (admitted; rejected with a reason; skipped: already terminal when first seen) and, when
    admitted, its containers."""

    pod: Pod
    verdict: str
    runtime: runtime.Runtime | None = None
    reason: str = ""
    message: str = ""

    @property
    def active(self) -> bool:
        """Admitted and not yet terminated: it holds its share of the node."""
        return (
            self.verdict == ADMITTED
            and self.runtime is not None
            and self.runtime.state != runtime.TERMINATED
        )


@dataclass(frozen=True, slots=True)
class KubeletMemory:
    registered: bool = False
    register_attempts: int = 0
    lease: Lease | None = None  # the Lease as last written (upstream latestLease)
    last_report: int | None = None  # when node status was last reported
    armed: FrozenMap = EMPTY  # periodic key -> when its timer fires
    pulled: tuple[str, ...] = ()  # images pulled since start (normalized names)
    pods: FrozenMap = EMPTY  # pod key -> PodRecord
    inflight: frozenset[str] = frozenset()  # pod keys with a status write or delete in flight


# --- the controller ------------------------------------------------------------------------


def _pre_stop(pod: Pod) -> int:
    """How long the pod's preStop hooks sleep: the longest of its containers' (the model stops a
    pod's containers together; upstream kills them in parallel, each after its own hook)."""
    hooks = (c.lifecycle.pre_stop for c in pod.spec.containers if c.lifecycle is not None)
    return max((h.sleep_seconds for h in hooks if h is not None), default=0)


@dataclass(frozen=True)
class Kubelet:
    """The kubelet of ``node`` (the Node it registers: labels, taints, capacity, allocatable,
    images it already holds); durations in seconds."""

    node: Node
    image_pull_seconds: int = 5  # per image the node does not hold
    container_stop_seconds: int = 1  # how long containers take to exit after SIGTERM
    image_size_bytes: int = 100 * MB  # the size reported for a pulled image
    address: str = ""  # the node's InternalIP (hostIP); derived from the name when empty
    lease_duration_seconds: int = 40  # upstream: kubelet config nodeLeaseDurationSeconds
    node_status_update_frequency: int = 10  # upstream: nodeStatusUpdateFrequency
    node_status_report_frequency: int = 300  # upstream: nodeStatusReportFrequency

    resources: ClassVar[tuple[str, ...]] = ("pods", "nodes")
    start_keys: ClassVar[tuple[str, ...]] = (REGISTER,)

    @property
    def node_name(self) -> str:
        return self.node.metadata.name

    @property
    def name(self) -> str:
        return f"kubelet-{self.node_name}"

    @property
    def identity(self) -> str:
        return kubelet_name(self.node_name)

    @property
    def process(self) -> str:
        return f"kubelet-{self.node_name}"

    @property
    def host_ip(self) -> str:
        if self.address:
            return self.address
        return f"192.168.0.{1 + zlib.crc32(self.node_name.encode()) % 250}"

    @property
    def lease_renew_interval(self) -> int:
        # upstream: kubelet.go nodeLeaseRenewIntervalFraction 0.25 of the lease duration
        return max(1, self.lease_duration_seconds // 4)

    def initial_memory(self) -> KubeletMemory:
        return KubeletMemory()

    # --- events ----------------------------------------------------------------------------

    def _ours(self, pod: Pod | None) -> bool:
        return pod is not None and pod.spec.node_name == self.node_name

    def keys(self, delta: Delta, view: View) -> tuple[str, ...]:
        """A pod bound to this node (upstream watches with fieldSelector spec.nodeName); node
        events change what admission reads, but start no work."""
        if delta.resource == "pods" and (self._ours(delta.object) or self._ours(delta.old)):
            return (delta.key,)
        return ()

    def observe(self, memory: KubeletMemory, delta: Delta, view: View) -> KubeletMemory:
        """A deleted pod's last state (its deletion grace period) is kept for the kill."""
        record = memory.pods.get(delta.key)
        if delta.resource != "pods" or delta.type != "DELETED" or record is None:
            return memory
        if record.pod.metadata.uid != delta.object.metadata.uid:
            return memory
        return replace(memory, pods=memory.pods.set(delta.key, replace(record, pod=delta.object)))

    def reconcile(self, view: View, key: str, memory: KubeletMemory) -> Reconciled:
        if key == REGISTER:
            return self._register(view, memory)
        if key == NODE_STATUS:
            return self._sync_node_status(view, memory)
        if key == LEASE:
            return self._renew_lease(view, memory)
        return self._sync_pod(view, key, memory)

    def on_response(
        self, memory: KubeletMemory, sent: Outgoing, response: Response, view: View
    ) -> Reconciled:
        tag = sent.tag
        if tag == REGISTER:
            exists = response.status is not None and response.status.reason == "AlreadyExists"
            if response.ok or exists:
                memory = replace(memory, registered=True, last_report=view.now)
                return Reconciled(memory, requeue=(NODE_STATUS, LEASE))
            # upstream: registerWithAPIServer retries with a backoff doubling up to 7 s
            attempts = memory.register_attempts + 1
            memory = replace(memory, register_attempts=attempts)
            return Reconciled(memory, after=((REGISTER, min(2 ** (attempts - 1), 7)),))
        if tag == LEASE:
            # a failed renewal fetches the lease afresh next time
            lease = response.object if response.ok else None
            return Reconciled(replace(memory, lease=lease))
        if tag == NODE_STATUS:
            return Reconciled(replace(memory, last_report=view.now) if response.ok else memory)
        # a pod's status write or final delete
        kind, key = tag
        memory = replace(memory, inflight=memory.inflight - {key})
        if response.code == 404 or (kind == "delete" and response.ok):
            return Reconciled(memory)
        if response.ok or response.code in (409, 504):
            return Reconciled(memory, requeue=(key,))
        # upstream: the status manager retries unsynced statuses every 10 s (syncBatch)
        return Reconciled(memory, after=((key, 10),))

    # --- node registration, status and lease -----------------------------------------------

    def _periodic(self, memory: KubeletMemory, key: str, period: int, now: int):
        """Arm the periodic timer of ``key`` unless it is already armed for later."""
        due = memory.armed.get(key)
        if due is not None and due > now:
            return memory, ()
        return replace(memory, armed=memory.armed.set(key, now + period)), ((key, period),)

    def _images(self, view: View, memory: KubeletMemory) -> tuple[str, ...]:
        """The images on the node: the configured ones, those its status lists, those pulled."""
        names: dict[str, None] = {}
        cached = view.get("nodes", self.node_name)
        for node in (self.node, cached):
            for image in () if node is None else node.status.images:
                names.update(dict.fromkeys(image.names))
        names.update(dict.fromkeys(memory.pulled))
        return tuple(names)

    def node_status(self, old: NodeStatus, now: int, pulled: tuple[str, ...]) -> NodeStatus:
        """The status the kubelet reports: capacity, allocatable, healthy conditions, images."""
        # upstream: nodestatus/setters.go MachineInfo, MemoryPressureCondition,
        # DiskPressureCondition, PIDPressureCondition, ReadyCondition, Images
        conditions = (
            Condition(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            Condition(
                "DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"
            ),
            Condition(
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            Condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        )
        previous = {c.type: c for c in old.conditions}

        def timed(c: Condition) -> Condition:
            before = previous.get(c.type)
            same = before is not None and before.status == c.status
            return replace(c, last_transition_time=before.last_transition_time if same else now)

        configured = self.node.status
        known = {n for image in configured.images for n in image.names}
        images = configured.images + tuple(
            ContainerImage((n,), self.image_size_bytes) for n in pulled if n not in known
        )
        return NodeStatus(
            capacity=configured.capacity,
            allocatable=configured.allocatable or configured.capacity,
            conditions=tuple(timed(c) for c in conditions),
            images=images,
        )

    def initial_node(self, now: int, pulled: tuple[str, ...] = ()) -> Node:
        """The Node the kubelet registers (upstream initialNode)."""
        # upstream: kubelet_node_status.go initialNode, updateDefaultLabels
        defaults = {
            "kubernetes.io/hostname": self.node_name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
        }
        meta = self.node.metadata
        labels = FrozenMap({**defaults, **dict(meta.labels)})
        spec = self.node.spec
        unschedulable = Taint("node.kubernetes.io/unschedulable", "NoSchedule")
        if spec.unschedulable and all(t.key != unschedulable.key for t in spec.taints):
            spec = replace(spec, taints=(*spec.taints, unschedulable))  # #63897
        meta = ObjectMeta(name=self.node_name, labels=labels, annotations=meta.annotations)
        return Node(meta, spec, self.node_status(NodeStatus(), now, pulled))

    def _register(self, view: View, memory: KubeletMemory) -> Reconciled:
        # upstream: kubelet_node_status.go registerWithAPIServer / tryRegisterWithAPIServer
        if memory.registered:
            return Reconciled(memory)
        body = self.initial_node(view.now, memory.pulled)
        request = Request("", "create", "nodes", body=body)
        return Reconciled(memory, (Outgoing(request, REGISTER, REGISTER),))

    def _sync_node_status(self, view: View, memory: KubeletMemory) -> Reconciled:
        # upstream: kubelet_node_status.go tryUpdateNodeStatus: GET the node, compute the
        # status, PATCH it when it changed or nodeStatusReportFrequency has passed
        memory, every = self._periodic(
            memory, NODE_STATUS, self.node_status_update_frequency, view.now
        )
        live = view.live_get("nodes", "", self.node_name)
        if not memory.registered or live is None:
            return Reconciled(memory, every=every)
        status = self.node_status(live.status, view.now, memory.pulled)
        due = (
            memory.last_report is None
            or view.now - memory.last_report >= self.node_status_report_frequency
        )
        if status == live.status and not due:
            return Reconciled(memory, every=every)
        # the live resourceVersion guards the write (upstream patches only the status)
        request = Request(
            "",
            "update",
            "nodes",
            "",
            self.node_name,
            subresource="status",
            body=replace(live, status=status),
        )
        return Reconciled(memory, (Outgoing(request, NODE_STATUS, NODE_STATUS),), every=every)

    def _renew_lease(self, view: View, memory: KubeletMemory) -> Reconciled:
        # upstream: component-helpers/apimachinery/lease/controller.go sync, ensureLease,
        # retryUpdateLease, newLease; kubelet.go setNodeOwnerFunc
        memory, every = self._periodic(memory, LEASE, self.lease_renew_interval, view.now)
        name, now = self.node_name, view.now
        base = memory.lease or view.live_get("leases", NODE_LEASE_NAMESPACE, name)
        node = view.live_get("nodes", "", name)
        meta = (
            base.metadata
            if base is not None
            else ObjectMeta(name=name, namespace=NODE_LEASE_NAMESPACE)
        )
        if not meta.owner_references and node is not None:
            owner = OwnerReference("v1", "Node", name, node.metadata.uid)
            meta = replace(meta, owner_references=(owner,))
        spec = LeaseSpec(
            holder_identity=name, lease_duration_seconds=self.lease_duration_seconds, renew_time=now
        )
        if base is not None:
            spec = replace(
                base.spec,
                holder_identity=name,
                lease_duration_seconds=self.lease_duration_seconds,
                renew_time=now,
            )
        lease = Lease(meta, spec)
        if base is None:
            request = Request("", "create", "leases", NODE_LEASE_NAMESPACE, body=lease)
        else:
            request = Request("", "update", "leases", NODE_LEASE_NAMESPACE, name, body=lease)
        return Reconciled(memory, (Outgoing(request, LEASE, LEASE),), every=every)

    # --- pods ------------------------------------------------------------------------------

    def _node_view(self, view: View) -> Node:
        """The node admission checks against: the cached Node, else the one it would register
        (upstream getNodeAnyWay)."""
        cached = view.get("nodes", self.node_name)
        return cached if cached is not None else self.initial_node(view.now)

    def _pod_cidr(self, view: View) -> str:
        cached = view.get("nodes", self.node_name)
        return (
            (cached.spec.pod_cidr if cached is not None else "")
            or self.node.spec.pod_cidr
            or DEFAULT_POD_CIDR
        )

    def _free_ip(self, view: View, records: FrozenMap) -> str:
        """The lowest free address of the pod CIDR, the first (the gateway) excepted."""
        used = {r.runtime.pod_ip for r in records.values() if r.active}
        network = ipaddress.ip_network(self._pod_cidr(view), strict=False)
        return next(str(ip) for ip in islice(network.hosts(), 1, None) if str(ip) not in used)

    def _pull_seconds(self, pod: Pod, local: tuple[str, ...]) -> tuple[int, tuple[str, ...]]:
        """How long pulling the pod's missing images takes (serially), and which they are."""
        wanted = [c.image for c in pod.spec.init_containers + pod.spec.containers if c.image]
        missing = tuple(
            dict.fromkeys(n for n in map(normalized_image_name, wanted) if n not in local)
        )
        return self.image_pull_seconds * len(missing), missing

    def _handle_additions(
        self, view: View, memory: KubeletMemory
    ) -> tuple[KubeletMemory, tuple[str, ...]]:
        """Admit every pod of this node seen for the first time, oldest first, each against
        the active pods admitted before it (after a restart: all of them, again)."""
        # upstream: kubelet.go HandlePodAdditions (sorted by creation time), canAdmitPod
        new = [p for p in view.list("pods") if self._ours(p) and object_key(p) not in memory.pods]
        new.sort(key=lambda p: (p.metadata.creation_timestamp or 0, object_key(p)))
        node = self._node_view(view)
        local = self._images(view, memory)
        records = memory.pods
        for pod in new:
            key, status = object_key(pod), pod.status
            if runtime.is_terminal(status.phase):  # terminal pods are not admitted again
                record = PodRecord(pod, SKIPPED)
            elif pod.metadata.deletion_timestamp is not None and status.phase != "Running":
                record = PodRecord(pod, ADMITTED, runtime.never_started())
            else:
                active = tuple(r.pod for r in records.values() if r.active)
                failure = admission_failure(
                    pod, node, active, lambda: view.live_get("nodes", "", self.node_name)
                )
                if failure is not None:
                    record = PodRecord(pod, REJECTED, reason=failure[0], message=failure[1])
                elif status.phase == "Running" and status.pod_ip:
                    # the kubelet restarted: the runtime still runs the pod's containers
                    record = PodRecord(pod, ADMITTED, runtime.running(status.pod_ip))
                else:
                    seconds, _ = self._pull_seconds(pod, local)
                    ip = status.pod_ip or self._free_ip(view, records)
                    record = PodRecord(pod, ADMITTED, runtime.start(view.now, ip, seconds))
            records = records.set(key, record)
        return replace(memory, pods=records), tuple(object_key(p) for p in new)

    def _grace(self, pod: Pod) -> int:
        # upstream: pod_workers.go calculateEffectiveGracePeriod
        meta = pod.metadata
        if meta.deletion_grace_period_seconds is not None:
            return meta.deletion_grace_period_seconds
        return pod.spec.termination_grace_period_seconds or 0

    def _advance(self, view: View, rt: runtime.Runtime, pod: Pod, memory: KubeletMemory):
        """One step of the runtime; a finished pull adds the pod's images to the node."""
        after = runtime.advance(rt, view.now)
        if rt.state == runtime.PULLING and after.state != runtime.PULLING:
            _, missing = self._pull_seconds(pod, self._images(view, memory))
            pulled = tuple(dict.fromkeys(memory.pulled + missing))
            memory = replace(memory, pulled=pulled)
        return after, memory

    def _wait(self, key: str, rt: runtime.Runtime | None, now: int) -> dict:
        if rt is None or rt.due is None:
            return {}
        if rt.due <= now:
            return {"requeue": (key,)}
        return {"after": ((key, rt.due - now),)}

    def _sync_removed(
        self, view: View, key: str, record: PodRecord, memory: KubeletMemory
    ) -> Reconciled:
        """The pod left the API (or was replaced by one of the same name): kill what runs,
        then forget it (upstream HandlePodRemoves, SyncPodKill)."""
        rt = record.runtime
        if rt is not None and rt.state != runtime.TERMINATED:
            pod = record.pod
            rt = runtime.stop(
                rt, view.now, self._grace(pod), self.container_stop_seconds, _pre_stop(pod)
            )
            rt, memory = self._advance(view, rt, record.pod, memory)
        if rt is None or rt.state == runtime.TERMINATED:
            memory = replace(memory, pods=memory.pods.without(key))
            again = (key,) if view.get("pods", key) is not None else ()
            return Reconciled(memory, requeue=again)
        memory = replace(memory, pods=memory.pods.set(key, replace(record, runtime=rt)))
        return Reconciled(memory, **self._wait(key, rt, view.now))

    def _sync_pod(self, view: View, key: str, memory: KubeletMemory) -> Reconciled:
        # upstream: kubelet.go SyncPod / SyncTerminatingPod / SyncTerminatedPod, driven by
        # the pod workers; the status manager's syncPod writes the status
        now = view.now
        pod = view.get("pods", key)
        pod = pod if self._ours(pod) else None
        record = memory.pods.get(key)
        if record is not None and (pod is None or pod.metadata.uid != record.pod.metadata.uid):
            return self._sync_removed(view, key, record, memory)
        if pod is None:
            return Reconciled(memory)
        requeue: tuple[str, ...] = ()
        if record is None:
            memory, seen = self._handle_additions(view, memory)
            requeue = tuple(k for k in seen if k != key)
            record = memory.pods[key]
        record = replace(record, pod=pod)
        rt = record.runtime
        if rt is not None:
            stopping = pod.metadata.deletion_timestamp is not None or runtime.is_terminal(
                pod.status.phase
            )
            if stopping and rt.state != runtime.TERMINATED:
                rt = runtime.stop(
                    rt, now, self._grace(pod), self.container_stop_seconds, _pre_stop(pod)
                )
            rt, memory = self._advance(view, rt, pod, memory)
            record = replace(record, runtime=rt)
        memory = replace(memory, pods=memory.pods.set(key, record))
        wait = self._wait(key, rt, now)
        requeue += wait.pop("requeue", ())
        memory, requests = self._status_manager(view, key, record, memory)
        return Reconciled(memory, requests, requeue=requeue, **wait)

    def _status_manager(self, view: View, key: str, record: PodRecord, memory: KubeletMemory):
        """Write the pod's status when the api-server's differs; once it is terminal, the
        containers stopped and the pod being deleted, the final DELETE."""
        # upstream: status_manager.go syncPod (GET, UID check, mergePodStatus, patch) and
        # canBeDeleted; the live resourceVersion guards the write, where upstream patches
        if key in memory.inflight:
            return memory, ()
        ns, name = key.split("/", 1)
        live = view.live_get("pods", ns, name)
        uid = record.pod.metadata.uid
        if live is None or live.metadata.uid != uid:
            return memory, ()
        if record.verdict == REJECTED:
            status = runtime.rejected_status(live, record.reason, record.message, view.now)
        elif record.verdict == ADMITTED:
            status = runtime.pod_status(live, record.runtime, view.now, self.host_ip)
        else:
            status = live.status
        if status != live.status:
            body = replace(live, status=status)
            request = Request("", "update", "pods", ns, name, subresource="status", body=body)
            outgoing = Outgoing(request, key, ("status", key))
        elif (
            live.metadata.deletion_timestamp is not None
            and runtime.is_terminal(live.status.phase)
            and not record.active
        ):
            request = Request(
                "",
                "delete",
                "pods",
                ns,
                name,
                preconditions=Preconditions(uid=uid),
                grace_period_seconds=0,
            )
            outgoing = Outgoing(request, key, ("delete", key))
        else:
            return memory, ()
        return replace(memory, inflight=memory.inflight | {key}), (outgoing,)
