"""The taint eviction controller: deletes the pods of a node tainted NoExecute that do not
tolerate its taints, at once or once their tolerationSeconds are over.

For each pod on a node with NoExecute taints (``processPodOnNode``): a taint no toleration
tolerates means delete now; tolerations without seconds mean never; otherwise the pod is deleted
at first-observed + min(tolerationSeconds) of the tolerations used. That deadline is a timer in
memory: a restart forgets it and starts counting again (#108268). Eviction is a plain DELETE
(no PodDisruptionBudget). A separate controller since v1.29 (SeparateTaintEvictionController).

Simplification: since v1.31 upstream first adds a DisruptionTarget condition through
pods/status (PodDisruptionConditions); the model sends only the DELETE.

upstream: pkg/controller/tainteviction/taint_eviction.go (PodUpdated, NodeUpdated,
handlePodUpdate, handleNodeUpdate, processPodOnNode, getMinTolerationTime, deletePodHandler),
timed_workers.go (TimedWorkerQueue: AddWork keeps an existing item, CancelWork),
pkg/apis/core/v1/helper GetMatchingTolerations.

>>> from kubeproof.model.objects import Taint, Toleration
>>> unreachable = Taint("node.kubernetes.io/unreachable", "NoExecute")
>>> default = Toleration("node.kubernetes.io/unreachable", "Exists", "", "NoExecute", 300)
>>> matching_tolerations((unreachable,), (default,))
(True, (Toleration(key='node.kubernetes.io/unreachable', operator='Exists', value='', \
effect='NoExecute', toleration_seconds=300),))
>>> min_toleration_seconds((default,)), min_toleration_seconds((Toleration(operator="Exists"),))
(300, None)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kubeproof.model.apiserver.rbac import CONTROLLER_MANAGER
from kubeproof.model.apiserver.server import Request, Response
from kubeproof.model.controllers.protocol import Delta, Outgoing, Reconciled, View
from kubeproof.model.objects import EMPTY, FrozenMap, Node, Pod, Taint, Toleration
from kubeproof.model.scheduler.matching import tolerates

__all__ = [
    "EVICT",
    "Scheduled",
    "TaintEvictionController",
    "TaintEvictionMemory",
    "matching_tolerations",
    "min_toleration_seconds",
    "no_execute_taints",
]

EVICT = "evict:"
RETRIES = 5  # upstream: deletePodHandler tries the delete 5 times


@dataclass(frozen=True, slots=True, order=True)
class Scheduled:
    """A TimedWorker: when the eviction was first scheduled, and when it fires."""

    created_at: int
    fire_at: int


@dataclass(frozen=True, slots=True)
class TaintEvictionMemory:
    scheduled: FrozenMap = EMPTY  # pod key -> Scheduled (the taintEvictionQueue)


def no_execute_taints(node: Node | None) -> tuple[Taint, ...]:
    """upstream: getNoExecuteTaints."""
    return () if node is None else tuple(t for t in node.spec.taints if t.effect == "NoExecute")


def matching_tolerations(
    taints: tuple[Taint, ...], tolerations: tuple[Toleration, ...]
) -> tuple[bool, tuple[Toleration, ...]]:
    """Whether every taint is tolerated, and the first toleration that tolerates each."""
    # upstream: pkg/apis/core/v1/helper/helpers.go GetMatchingTolerations
    used = []
    for taint in taints:
        first = next((t for t in tolerations if tolerates(t, taint)), None)
        if first is None:
            return False, ()
        used.append(first)
    return True, tuple(used)


def min_toleration_seconds(used: tuple[Toleration, ...]) -> int | None:
    """The least tolerationSeconds (0 for none used or any <= 0), None when all are forever."""
    # upstream: getMinTolerationTime
    if not used:
        return 0
    seconds = [t.toleration_seconds for t in used if t.toleration_seconds is not None]
    if not seconds:
        return None
    return max(0, min(seconds))


def _delete(key: str, attempt: int) -> Outgoing:
    namespace, name = key.split("/", 1)
    request = Request(CONTROLLER_MANAGER, "delete", "pods", namespace, name)
    return Outgoing(request, key, ("evict", key, attempt))


@dataclass(frozen=True)
class TaintEvictionController:
    """kube-controller-manager's taint-eviction-controller."""

    name: str = "tainteviction"
    identity: str = CONTROLLER_MANAGER
    process: str = "kube-controller-manager"
    resources: tuple[str, ...] = ("nodes", "pods")

    def initial_memory(self) -> TaintEvictionMemory:
        return TaintEvictionMemory()

    def keys(self, delta: Delta, view: View) -> tuple[str, ...]:
        obj, old = delta.object, delta.old
        if delta.resource == "nodes":
            # upstream: NodeUpdated: only a change of the NoExecute taints matters
            unchanged = old is not None and no_execute_taints(old) == no_execute_taints(obj)
            return () if delta.type == "MODIFIED" and unchanged else ("node:" + delta.key,)
        # upstream: PodUpdated: only a change of the tolerations or of the node matters
        unchanged = old is not None and (old.spec.tolerations, old.spec.node_name) == (
            obj.spec.tolerations,
            obj.spec.node_name,
        )
        return () if delta.type == "MODIFIED" and unchanged else ("pod:" + delta.key,)

    def observe(self, memory, delta: Delta, view: View):
        return memory

    def reconcile(self, view: View, key: str, memory: TaintEvictionMemory) -> Reconciled:
        if key.startswith("node:"):
            return self._node(view, key.removeprefix("node:"), memory)
        if key.startswith("pod:"):
            return self._pod(view, key.removeprefix("pod:"), memory)
        if key.startswith(EVICT):
            # the timer of a scheduled eviction: fire it unless it was cancelled or moved
            pod_key = key.removeprefix(EVICT)
            work = memory.scheduled.get(pod_key)
            if work is None or work.fire_at > view.now:
                return Reconciled(memory)
            memory = replace(memory, scheduled=memory.scheduled.without(pod_key))
            return Reconciled(memory, (_delete(pod_key, 1),))
        return Reconciled(memory)

    def _node(self, view: View, name: str, memory: TaintEvictionMemory) -> Reconciled:
        # upstream: handleNodeUpdate (a deleted node only forgets its taints)
        node = view.get("nodes", name)
        if node is None:
            return Reconciled(memory)
        taints = no_execute_taints(node)
        pods = [p for p in view.list("pods") if p.spec.node_name == name]
        if not taints:  # every eviction of the node's pods cancelled
            scheduled = memory.scheduled
            for pod in pods:
                scheduled = scheduled.without(_key(pod))
            return Reconciled(replace(memory, scheduled=scheduled))
        result = Reconciled(memory)
        for pod in pods:
            result = _merge(result, self._process(view, result.memory, pod, taints))
        return result

    def _pod(self, view: View, key: str, memory: TaintEvictionMemory) -> Reconciled:
        # upstream: handlePodUpdate
        pod = view.get("pods", key)
        if pod is None:  # deleted: its eviction is cancelled
            return Reconciled(replace(memory, scheduled=memory.scheduled.without(key)))
        taints = no_execute_taints(view.get("nodes", pod.spec.node_name))
        if not pod.spec.node_name or not taints:
            return Reconciled(memory)
        return self._process(view, memory, pod, taints)

    def _process(
        self, view: View, memory: TaintEvictionMemory, pod: Pod, taints: tuple[Taint, ...]
    ) -> Reconciled:
        # upstream: processPodOnNode
        key, now = _key(pod), view.now
        tolerated, used = matching_tolerations(taints, pod.spec.tolerations)
        cancelled = replace(memory, scheduled=memory.scheduled.without(key))
        if not tolerated:
            return Reconciled(cancelled, (_delete(key, 1),))
        seconds = min_toleration_seconds(used)
        if seconds is None:
            return Reconciled(cancelled)  # tolerated forever
        work = memory.scheduled.get(key)
        if work is not None and work.created_at < now:
            return Reconciled(memory)  # the first-observed deadline stands
        if seconds == 0:
            return Reconciled(cancelled, (_delete(key, 1),))
        scheduled = memory.scheduled.set(key, Scheduled(now, now + seconds))
        return Reconciled(replace(memory, scheduled=scheduled), after=((EVICT + key, seconds),))

    def on_response(
        self, memory: TaintEvictionMemory, sent: Outgoing, response: Response, view: View
    ) -> Reconciled:
        tag = sent.tag
        if response.ok or response.code == 404 or not isinstance(tag, tuple):
            return Reconciled(memory)
        _, key, attempt = tag
        if attempt < RETRIES:
            return Reconciled(memory, (_delete(key, attempt + 1),))
        return Reconciled(memory)  # given up until the next pod or node update


def _key(pod: Pod) -> str:
    return f"{pod.metadata.namespace}/{pod.metadata.name}"


def _merge(a: Reconciled, b: Reconciled) -> Reconciled:
    """``b`` (computed from ``a``'s memory) after ``a``: their requests and timers together."""
    return Reconciled(b.memory, a.requests + b.requests, a.requeue + b.requeue, a.after + b.after)
