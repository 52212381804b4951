"""Safety properties of placement: the scheduler's decisions, bindings, nodeName, the kubelet.

The scheduler's decisions are checked against its own view (taints, node affinity and
nodeSelector); the same rules are checked against etcd when the binding lands (upstream's race,
see the definitions); a pod's nodeName never changes once set; and a kubelet never runs pods
requesting more than its node's allocatable. Each check returns a ``Violation`` with its
evidence, or None.

>>> from kubeproof.model.run import run
>>> from kubeproof.model.scenarios import scenario
>>> r = run(scenario("journey"))
>>> KUBELET_WITHIN_ALLOCATABLE.check(r.state) is None
True
"""

from __future__ import annotations

from typing import Any

from kubeproof.model.apiserver.server import key_of
from kubeproof.model.cluster import Reconcile, State
from kubeproof.model.kubelet import Kubelet, KubeletMemory
from kubeproof.model.objects import Node, Pod
from kubeproof.model.run import actor_of
from kubeproof.model.scheduler.matching import required_node_affinity_matches, taint_tolerated
from kubeproof.model.scheduler.resources import (
    PODS,
    is_extended_resource_name,
    node_allocatable,
    node_requested,
)
from kubeproof.properties.core import INVARIANT, TRANSITION, Property, Violation
from kubeproof.properties.reading import (
    changed,
    components_of,
    fmt_taint,
    fmt_toleration,
    get,
    landed_binding,
)

__all__ = [
    "BINDING_RESPECTS_AFFINITY_IN_ETCD",
    "BINDING_RESPECTS_TAINTS_IN_ETCD",
    "KUBELET_WITHIN_ALLOCATABLE",
    "NODE_NAME_NEVER_CHANGES",
    "SCHEDULER_RESPECTS_AFFINITY_IN_VIEW",
    "SCHEDULER_RESPECTS_TAINTS_IN_VIEW",
    "untolerated_taints",
]


def untolerated_taints(pod: Pod, node: Node) -> tuple[str, ...]:
    """The node's NoSchedule and NoExecute taints the pod does not tolerate (PreferNoSchedule
    never filters). upstream: plugins/tainttoleration/taint_toleration.go Filter."""
    return tuple(
        fmt_taint(t)
        for t in node.spec.taints
        if t.effect in ("NoSchedule", "NoExecute") and not taint_tolerated(t, pod.spec.tolerations)
    )


def _placement_evidence(pod: Pod, node: Node, **more: Any) -> tuple[tuple[str, Any], ...]:
    meta = pod.metadata
    return (
        ("pod", f"{meta.namespace}/{meta.name}"),
        ("pod uid", meta.uid),
        ("node", node.metadata.name),
        ("node resourceVersion", node.metadata.resource_version),
        *more.items(),
    )


# --- the scheduler's decisions, in its own view ------------------------------------------------


def _decided_bindings(before: State, action: Any, after: State):
    """(scheduler, pod, node name, node or None) for each binding a component decided on in
    this step, pod and node as its informer caches held them when it decided."""
    if not isinstance(action, Reconcile):
        return
    b, a = before.components.get(action.component), after.components.get(action.component)
    if b is None or a is None or len(a.outbox) <= len(b.outbox):
        return
    pods, nodes = b.informers.get("pods"), b.informers.get("nodes")
    for out in a.outbox[len(b.outbox) :]:
        request = out.request
        if request.resource != "pods" or request.subresource != "binding":
            continue
        target = request.body.target_node
        pod = pods.cache.get(f"{request.namespace}/{request.name}") if pods else None
        node = nodes.cache.get(target) if nodes else None
        if pod is not None:
            yield action.component, pod, target, node


def _view_violation(name: str, what: str, problem):
    def check(before: State, action: Any, after: State) -> Violation | None:
        for scheduler, pod, target, node in _decided_bindings(before, action, after):
            key = f"{pod.metadata.namespace}/{pod.metadata.name}"
            if node is None:
                return Violation(
                    name,
                    f"{scheduler} bound {key} to {target}, a node not in its own view",
                    (("pod", key), ("node", target), ("scheduler", scheduler)),
                )
            found = problem(pod, node)
            if found:
                view_rv = before.components[scheduler].informers["nodes"].resource_version
                return Violation(
                    name,
                    f"{scheduler} bound {key} to {target} although its own view of the node "
                    f"shows {what}",
                    _placement_evidence(
                        pod, node, scheduler=scheduler, view_revision=view_rv, **found
                    ),
                )
        return None

    return check


def _taint_problem(pod: Pod, node: Node) -> dict:
    taints = untolerated_taints(pod, node)
    if not taints:
        return {}
    return {
        "untolerated taints": taints,
        "tolerations": tuple(map(fmt_toleration, pod.spec.tolerations)),
    }


def _affinity_problem(pod: Pod, node: Node) -> dict:
    if required_node_affinity_matches(pod, node):
        return {}
    affinity = pod.spec.affinity
    required = affinity.node_affinity.required if affinity and affinity.node_affinity else None
    return {
        "nodeSelector": dict(pod.spec.node_selector),
        "required node affinity": required,
        "node labels": dict(node.metadata.labels),
    }


_VIEW = (
    "The view is the scheduler's informer caches when it decides: the step whose action is its "
    "Reconcile of the scheduling key and which puts a pods/binding request in its outbox (the "
    "decision context travels in the Outgoing's BindTag). Binding is asynchronous upstream "
    "(schedule_one.go bindingCycle runs in a goroutine and does not filter again), so the "
    "scheduler's cache may learn of a taint between its decision and the Send of the binding; "
    "checking at the decision isolates the scheduler's logic from that race, which "
    "binding-respects-taints-in-etcd covers."
)

SCHEDULER_RESPECTS_TAINTS_IN_VIEW = Property(
    "scheduler-respects-taints-in-its-view",
    "the scheduler never binds a pod to a node whose NoSchedule or NoExecute taint, in its own "
    "view at that moment, the pod does not tolerate",
    TRANSITION,
    _view_violation("scheduler-respects-taints-in-its-view", "taints", _taint_problem),
    _VIEW,
)

SCHEDULER_RESPECTS_AFFINITY_IN_VIEW = Property(
    "scheduler-respects-node-affinity-in-its-view",
    "the scheduler never binds a pod to a node whose labels, in its own view at that moment, "
    "fail the pod's nodeSelector or required node affinity",
    TRANSITION,
    _view_violation(
        "scheduler-respects-node-affinity-in-its-view",
        "labels the pod's nodeSelector or required node affinity rejects",
        _affinity_problem,
    ),
    _VIEW,
)


# --- bindings as they land in etcd ---------------------------------------------------------


def _etcd_violation(name: str, what: str, problem):
    def check(before: State, action: Any, after: State) -> Violation | None:
        landed = landed_binding(before, action, after)
        if landed is None:
            return None
        request, pod, bound = landed
        target = request.body.target_node
        if bound.spec.node_name != target:
            return None
        node = get(before, "nodes", "", target)
        key = f"{request.namespace}/{request.name}"
        if node is None:
            return Violation(
                name,
                f"{key} was bound to {target}, a node etcd does not hold",
                (("pod", key), ("node", target), ("revision", after.api.store.revision)),
            )
        found = problem(pod, node)
        if not found:
            return None
        return Violation(
            name,
            f"the binding of {key} to {target} landed while etcd's node shows {what}",
            _placement_evidence(
                pod, node, binder=request.user, revision=after.api.store.revision, **found
            ),
        )

    return check


_ETCD = (
    "The node as stored in etcd at the revision where the binding is written. Upstream "
    "(pkg/registry/core/pod/storage/storage.go BindingREST, setPodNodeAndMetadata) checks only "
    "that the pod is unbound, not being deleted and ungated; the scheduler filters against its "
    "informer cache. A taint (or label change) written after the scheduler's snapshot, such as "
    "node.kubernetes.io/unreachable from the node lifecycle controller or `kubectl taint`, "
    "races with the binding and the pod lands on the tainted node (a NoExecute taint then "
    "evicts it). Where the model finds this it is upstream behaviour, not a model bug: the "
    "property is in the catalogue to document the race and is left out of the built-in suites."
)

BINDING_RESPECTS_TAINTS_IN_ETCD = Property(
    "binding-respects-taints-in-etcd",
    "no binding lands on a node whose NoSchedule or NoExecute taint, as stored in etcd at that "
    "moment, the pod does not tolerate (upstream does not guarantee this)",
    TRANSITION,
    _etcd_violation(
        "binding-respects-taints-in-etcd", "taints the pod does not tolerate", _taint_problem
    ),
    _ETCD,
)

BINDING_RESPECTS_AFFINITY_IN_ETCD = Property(
    "binding-respects-node-affinity-in-etcd",
    "no binding lands on a node whose labels, as stored in etcd at that moment, fail the pod's "
    "nodeSelector or required node affinity (upstream does not guarantee this)",
    TRANSITION,
    _etcd_violation(
        "binding-respects-node-affinity-in-etcd",
        "labels the pod's nodeSelector or required node affinity rejects",
        _affinity_problem,
    ),
    _ETCD,
)


def _node_name_changes(before: State, action: Any, after: State) -> Violation | None:
    for event in changed(before, after, "pods"):
        if event.type != "PUT" or event.prev_kv is None:
            continue
        old, new = event.prev_kv.value, event.kv.value
        if old.spec.node_name and new.spec.node_name != old.spec.node_name:
            meta = new.metadata
            return Violation(
                "pod-node-name-never-changes",
                f"{meta.namespace}/{meta.name} moved from {old.spec.node_name} to "
                f"{new.spec.node_name or '(none)'}",
                (
                    ("pod", f"{meta.namespace}/{meta.name}"),
                    ("pod uid", meta.uid),
                    ("nodeName before", old.spec.node_name),
                    ("nodeName after", new.spec.node_name),
                    ("revision", event.kv.mod_revision),
                    ("writer", actor_of(action)),
                ),
            )
    return None


NODE_NAME_NEVER_CHANGES = Property(
    "pod-node-name-never-changes",
    "a pod's nodeName never changes once set",
    TRANSITION,
    _node_name_changes,
    "Checked on every etcd write of a pod: a PUT whose previous value had a nodeName must keep "
    "it. A pod deleted and created again under the same name is a new object (a new uid).",
)


# --- the kubelet ---------------------------------------------------------------------------


def _kubelet_overcommit(state: State) -> Violation | None:
    for name in components_of(state, Kubelet):
        component = state.components[name]
        if not component.running or not isinstance(component.memory, KubeletMemory):
            continue
        admitted = tuple(r.pod for r in component.memory.pods.values() if r.active)
        if not admitted:
            continue
        kubelet = state.controllers[name]
        kubelet = getattr(kubelet, "inner", kubelet)
        kv = state.api.store.get(key_of("nodes", "", kubelet.node_name))
        allocatable = node_allocatable(kv.value if kv is not None else kubelet.node)
        requested = dict(node_requested(admitted))
        over = {
            r: (amount, allocatable.get(r, 0))
            for r, amount in requested.items()
            if amount > allocatable.get(r, 0)
            # upstream: predicate.go removeMissingExtendedResources: not checked on this node
            and not (is_extended_resource_name(r) and r not in allocatable)
        }
        if len(admitted) > allocatable.get(PODS, 0):  # resources.allowed_pod_number
            over[PODS] = (len(admitted), allocatable.get(PODS, 0))
        if over:
            what = ", ".join(f"{r} {a} > {b}" for r, (a, b) in over.items())
            return Violation(
                "kubelet-admits-within-allocatable",
                f"{name} admitted pods requesting more than {kubelet.node_name}'s allocatable: "
                f"{what}",
                (
                    ("kubelet", name),
                    ("node", kubelet.node_name),
                    (
                        "admitted pods",
                        tuple(sorted(k for k, r in component.memory.pods.items() if r.active)),
                    ),
                    ("requested", requested),
                    ("allocatable", dict(allocatable)),
                ),
            )
    return None


KUBELET_WITHIN_ALLOCATABLE = Property(
    "kubelet-admits-within-allocatable",
    "the pods a kubelet admitted and still runs never request more than its node's allocatable",
    INVARIANT,
    _kubelet_overcommit,
    "The kubelet's own memory: its admitted pods not yet terminated (PodRecord.active), summed "
    "with the scheduler's request arithmetic (resources.pod_requests, node_requested); the pod "
    "count against allocatable pods. Extended resources the node does not report are not "
    "checked, as the kubelet does not (predicate.go removeMissingExtendedResources).",
)
