"""What the scheduler's filters and scores must do, stated independently of the plugin code.

Each specification is the documented Kubernetes rule written directly in z3: it does not call
``model/scheduler/matching.py``, the plugins or ``model/logic.py``, so a proof that the plugins
imply it checks one reading of the rule against another. Every function takes symbolic or
concrete objects alike (a concrete value becomes a z3 constant) and returns a z3 term, so the
same statement decides a rendered counterexample (``z3.simplify`` gives ``True``/``False``).

Sources of the rules: the Kubernetes documentation on taints and tolerations, node affinity and
resource management, as implemented upstream in staging/src/k8s.io/api/core/v1/toleration.go,
component-helpers scheduling/corev1/nodeaffinity/nodeaffinity.go, component-helpers
resource/helpers.go and pkg/scheduler/framework/plugins/noderesources/fit.go.

>>> from kubeproof.model.objects import Node, NodeSpec, ObjectMeta, Pod, PodSpec, Taint
>>> from kubeproof.model.objects import Toleration
>>> node = Node(ObjectMeta(name="n1"), NodeSpec(taints=(Taint("gpu", "NoSchedule"),)))
>>> z3.simplify(taints_tolerated(Pod(), node))
False
>>> pod = Pod(spec=PodSpec(tolerations=(Toleration(key="gpu", operator="Exists"),)))
>>> z3.simplify(taints_tolerated(pod, node))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import z3

from kubeproof.model.objects import FrozenMap, Node, NodeSelectorRequirement, Pod, Taint, Toleration
from kubeproof.model.quantity import Quantity, resource_amount
from kubeproof.model.scheduler.framework import NodeInfo

__all__ = [
    "UNSCHEDULABLE_TAINT_KEY",
    "effective_request",
    "intolerable_prefer_no_schedule",
    "node_selector_holds",
    "placement_holds",
    "required_affinity_holds",
    "resources_fit",
    "schedulable_or_tolerated",
    "taints_tolerated",
    "toleration_matches",
]

UNSCHEDULABLE_TAINT_KEY = "node.kubernetes.io/unschedulable"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _str(value: Any) -> Any:
    return value if z3.is_expr(value) else z3.StringVal(value)


def _bool(value: Any) -> Any:
    return value if z3.is_expr(value) else z3.BoolVal(bool(value))


def _amount(resource: str, value: Any) -> Any:
    if isinstance(value, Quantity):
        return z3.IntVal(resource_amount(resource, value))
    return value if z3.is_expr(value) else z3.IntVal(value)


# --- T1: taints and tolerations ------------------------------------------------------------


def toleration_matches(toleration: Toleration, key: Any, value: Any, effect: Any) -> Any:
    """A toleration matches a taint when its effect is empty or equal, its key is empty or
    equal, and its operator is Exists, or Equal (or empty) with an equal value. Lt and Gt are
    alpha (off): they match nothing."""
    # upstream: staging/src/k8s.io/api/core/v1/toleration.go ToleratesTaint
    t_key, t_op = _str(toleration.key), _str(toleration.operator)
    t_value, t_effect = _str(toleration.value), _str(toleration.effect)
    return z3.And(
        z3.Or(t_effect == "", t_effect == _str(effect)),
        z3.Or(t_key == "", t_key == _str(key)),
        z3.Or(t_op == "Exists", z3.And(z3.Or(t_op == "Equal", t_op == ""), t_value == _str(value))),
    )


def _tolerated(tolerations: Sequence[Toleration], taint: Taint) -> Any:
    return z3.Or([toleration_matches(t, taint.key, taint.value, taint.effect) for t in tolerations])


def taints_tolerated(pod: Pod, node: Node) -> Any:
    """T1: every NoSchedule and NoExecute taint of the node is tolerated by some toleration."""
    return z3.And(
        [
            z3.Implies(
                z3.Or(_str(taint.effect) == "NoSchedule", _str(taint.effect) == "NoExecute"),
                _tolerated(pod.spec.tolerations, taint),
            )
            for taint in node.spec.taints
        ]
    )


def intolerable_prefer_no_schedule(pod: Pod, node: Node) -> Any:
    """How many PreferNoSchedule taints of the node no toleration with an empty or
    PreferNoSchedule effect tolerates (what TaintToleration's score counts)."""
    # upstream: tainttoleration/taint_toleration.go getAllTolerationPreferNoSchedule
    terms = []
    for taint in node.spec.taints:
        tolerated = z3.Or(
            [
                z3.And(
                    z3.Or(_str(t.effect) == "", _str(t.effect) == "PreferNoSchedule"),
                    toleration_matches(t, taint.key, taint.value, taint.effect),
                )
                for t in pod.spec.tolerations
            ]
        )
        counted = z3.And(_str(taint.effect) == "PreferNoSchedule", z3.Not(tolerated))
        terms.append(z3.If(counted, 1, 0))
    return z3.Sum(terms) if terms else z3.IntVal(0)


# --- T2: nodeSelector, required node affinity, unschedulable -------------------------------


def _label(labels: Any, key: Any) -> tuple[Any, Any]:
    """(present, value) of ``key`` in a node's labels: a FrozenMap or a SymbolicMap (slots)."""
    key = _str(key)
    slots = getattr(labels, "slots", None)
    if slots is None:
        assert isinstance(labels, FrozenMap)
        slots = tuple((z3.BoolVal(True), _str(k), _str(v)) for k, v in labels.items())
    present = z3.Or([z3.And(p, k == key) for p, k, _ in slots])
    value = z3.StringVal("")
    for p, k, v in reversed(slots):
        value = z3.If(z3.And(p, k == key), v, value)
    return present, value


def _go_int(text: Any) -> tuple[Any, Any]:
    """(parses, value) for Go's strconv.ParseInt(text, 10, 64): an optional sign, then
    decimal digits, within int64."""
    text = _str(text)
    sign = z3.Or(z3.PrefixOf("+", text), z3.PrefixOf("-", text))
    digits = z3.If(sign, z3.SubString(text, 1, z3.Length(text) - 1), text)
    syntax = z3.Concat(z3.Option(z3.Union(z3.Re("-"), z3.Re("+"))), z3.Plus(z3.Range("0", "9")))
    magnitude = z3.StrToInt(digits)
    value = z3.If(z3.PrefixOf("-", text), -magnitude, magnitude)
    ok = z3.And(z3.InRe(text, syntax), value >= INT64_MIN, value <= INT64_MAX)
    return ok, value


def _expression_holds(labels: Any, req: NodeSelectorRequirement) -> Any:
    # The documented semantics of a node selector requirement (In, NotIn, Exists,
    # DoesNotExist, Gt, Lt); a requirement of the wrong arity matches nothing.
    present, value = _label(labels, req.key)
    values = [_str(v) for v in req.values]
    member = z3.Or([value == v for v in values])
    n = len(values)
    if req.operator == "In":
        return z3.And(n > 0, present, member)
    if req.operator == "NotIn":
        return z3.And(n > 0, z3.Or(z3.Not(present), z3.Not(member)))
    if req.operator == "Exists":
        return z3.And(n == 0, present)
    if req.operator == "DoesNotExist":
        return z3.And(n == 0, z3.Not(present))
    if req.operator in ("Gt", "Lt") and n == 1:
        label_ok, label = _go_int(value)
        bound_ok, bound = _go_int(values[0])
        compared = label > bound if req.operator == "Gt" else label < bound
        return z3.And(present, label_ok, bound_ok, compared)
    return z3.BoolVal(False)


def _field_holds(node: Node, req: NodeSelectorRequirement) -> Any:
    # matchFields: metadata.name In/NotIn exactly one name
    if req.key != "metadata.name" or len(req.values) != 1:
        return z3.BoolVal(False)
    same = _str(node.metadata.name) == _str(req.values[0])
    return {"In": same, "NotIn": z3.Not(same)}.get(req.operator, z3.BoolVal(False))


def node_selector_holds(pod: Pod, node: Node) -> Any:
    """Every nodeSelector entry is a label of the node with exactly that value."""
    conjuncts = []
    for key, value in pod.spec.node_selector.items():
        present, actual = _label(node.metadata.labels, key)
        conjuncts.append(z3.And(present, actual == _str(value)))
    return z3.And(conjuncts)


def required_affinity_holds(pod: Pod, node: Node) -> Any:
    """No required node affinity, or some non-empty term whose every expression holds on the
    node's labels and whose every field requirement holds on its name (skipped for a node
    without a name)."""
    affinity = pod.spec.affinity
    node_affinity = affinity.node_affinity if affinity else None
    if node_affinity is None or node_affinity.required is None:
        return z3.BoolVal(True)
    named = _str(node.metadata.name) != ""
    terms = []
    for term in node_affinity.required.node_selector_terms:
        if not term.match_expressions and not term.match_fields:
            continue
        expressions = z3.And(
            [_expression_holds(node.metadata.labels, r) for r in term.match_expressions]
        )
        fields = z3.And([_field_holds(node, r) for r in term.match_fields])
        terms.append(z3.And(expressions, z3.Implies(named, fields)))
    return z3.Or(terms)


def schedulable_or_tolerated(pod: Pod, node: Node) -> Any:
    """The node is not cordoned, or the pod tolerates node.kubernetes.io/unschedulable
    (NoSchedule)."""
    tolerated = z3.Or(
        [
            toleration_matches(t, UNSCHEDULABLE_TAINT_KEY, "", "NoSchedule")
            for t in pod.spec.tolerations
        ]
    )
    return z3.Or(z3.Not(_bool(node.spec.unschedulable)), tolerated)


def placement_holds(pod: Pod, node: Node) -> Any:
    """T2: nodeSelector and required node affinity hold, and the node is schedulable or the
    pod tolerates its being cordoned."""
    return z3.And(
        node_selector_holds(pod, node),
        required_affinity_holds(pod, node),
        schedulable_or_tolerated(pod, node),
    )


# --- T3: resources -------------------------------------------------------------------------


def _request(container: Any, resource: str) -> Any:
    value = container.requests.get(resource)
    return z3.IntVal(0) if value is None else _amount(resource, value)


def _max(a: Any, b: Any) -> Any:
    return z3.If(a >= b, a, b)


def effective_request(pod: Pod, resource: str) -> Any:
    """The pod's request of one resource: the larger of what its app containers and sidecars
    need together and what the init phase peaks at (each init container plus the sidecars
    started before it), plus the pod overhead."""
    # upstream: staging/src/k8s.io/component-helpers/resource/helpers.go PodRequests (KEP-753)
    spec = pod.spec
    running = z3.Sum([_request(c, resource) for c in spec.containers] + [z3.IntVal(0)])
    sidecars, peak = z3.IntVal(0), z3.IntVal(0)
    for init in spec.init_containers:
        request = _request(init, resource)
        if init.restart_policy == "Always":
            sidecars = sidecars + request
            running = running + request
            peak = _max(peak, sidecars)
        else:
            peak = _max(peak, sidecars + request)
    overhead = spec.overhead.get(resource)
    extra = z3.IntVal(0) if overhead is None else _amount(resource, overhead)
    return _max(running, peak) + extra


def resources_fit(pod: Pod, node_info: NodeInfo, resources: Sequence[str]) -> Any:
    """T3: for every resource the pod requests (a non-zero amount), its request plus what the
    node's pods request is at most the node's allocatable (0 when not reported); and one more
    pod stays within allocatable pods."""
    # upstream: pkg/scheduler/framework/plugins/noderesources/fit.go fitsRequest
    allocatable = node_info.node.status.allocatable
    conjuncts = []
    for resource in resources:
        wanted = effective_request(pod, resource)
        used = z3.Sum([effective_request(p, resource) for p in node_info.pods] + [z3.IntVal(0)])
        alloc = allocatable.get(resource)
        alloc = z3.IntVal(0) if alloc is None else _amount(resource, alloc)
        conjuncts.append(z3.Implies(wanted > 0, wanted + used <= alloc))
    pods = allocatable.get("pods")
    pods = z3.IntVal(0) if pods is None else _amount("pods", pods)
    conjuncts.append(len(node_info.pods) + 1 <= pods)
    return z3.And(conjuncts)
