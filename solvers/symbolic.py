"""Symbolic pods and nodes: the model's own dataclasses holding z3 terms, of a bounded shape.

A *shape* fixes the structure (how many taints, tolerations, containers, terms, expressions;
the selector operators; which resources appear); a :class:`Builder` fills every string, integer
and flag of that structure with a fresh z3 variable and records what makes the object one the
api-server accepts (label keys are qualified names, a toleration with no key uses Exists, ...).
The plugins then run on these objects unchanged and return z3 terms. ``concretize`` turns a
symbolic object back into a concrete one under a z3 model (a counterexample) or an assignment.

Node labels are a :class:`SymbolicMap`: a fixed number of slots, each with a presence flag, a
key and a value, all symbolic, so "the node has at most k labels, with any keys" is one shape.
A pod's nodeSelector is a concrete FrozenMap whose keys and values are z3 terms, since matching
iterates it. Resource maps keep concrete resource names and hold z3 Ints that already are
amounts (millicores for cpu, base units otherwise), as ``model/scheduler/resources`` expects.

>>> import z3
>>> b = Builder()
>>> info = symbolic_node_info(b, NodeShape(taints=1, labels=1), "n")
>>> pod = symbolic_pod(b, PodShape(tolerations=1), "p")
>>> from kubeproof.model.scheduler.plugins.taint_toleration import TaintToleration
>>> verdict = TaintToleration().feasible(None, pod, info)
>>> s = z3.Solver(); s.add(*b.constraints, z3.Not(verdict)); s.check()
sat
>>> concrete = concretize(info.node, s.model())
>>> concrete.spec.taints[0].effect in ("NoSchedule", "NoExecute")
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any

import z3
from z3 import z3core
from z3.z3 import _to_expr_ref

from kubeproof.model.logic import all_of, is_in, is_symbolic
from kubeproof.model.objects import (
    Affinity,
    Container,
    ContainerImage,
    ContainerPort,
    FrozenMap,
    Node,
    NodeAffinity,
    NodeSelector,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    NodeSpec,
    NodeStatus,
    ObjectMeta,
    Pod,
    PodSpec,
    PreferredSchedulingTerm,
    Taint,
    Toleration,
)
from kubeproof.model.quantity import Quantity
from kubeproof.model.scheduler.framework import SKIP, NodeInfo, Snapshot
from kubeproof.model.scheduler.resources import is_extended_resource_name

__all__ = [
    "EFFECTS",
    "Builder",
    "NodeShape",
    "PluginScores",
    "PodShape",
    "RequirementShape",
    "SymbolicMap",
    "TermShape",
    "Variable",
    "assignment_evaluator",
    "concretize",
    "filter_verdicts",
    "profile_feasible",
    "profile_scores",
    "symbolic_node_info",
    "symbolic_pod",
]

EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")  # upstream: core/v1 TaintEffect
TOLERATION_OPERATORS = ("", "Equal", "Exists")  # validation.go ValidateTolerations (Lt/Gt: alpha)
RESOURCE_FIELDS = frozenset({"requests", "limits", "overhead", "allocatable", "capacity"})


# --- string languages (upstream: apimachinery pkg/util/validation/validation.go) -----------


def _alnum() -> z3.ReRef:
    return z3.Union(z3.Range("a", "z"), z3.Range("A", "Z"), z3.Range("0", "9"))


def _name_re() -> z3.ReRef:
    """The name part of a qualified name, 1 to 63 characters: ([A-Za-z0-9][-A-Za-z0-9_.]*)?
    [A-Za-z0-9]."""
    inner = z3.Union(_alnum(), z3.Re("-"), z3.Re("_"), z3.Re("."))
    return z3.Concat(_alnum(), z3.Option(z3.Concat(z3.Loop(inner, 0, 61), _alnum())))


def _subdomain_re() -> z3.ReRef:
    """An RFC 1123 subdomain (its 253-character limit is a separate length constraint)."""
    lower = z3.Union(z3.Range("a", "z"), z3.Range("0", "9"))
    label = z3.Concat(lower, z3.Option(z3.Concat(z3.Star(z3.Union(lower, z3.Re("-"))), lower)))
    return z3.Concat(label, z3.Star(z3.Concat(z3.Re("."), label)))


def _in_language(term: z3.SeqRef, language: str) -> z3.BoolRef:
    if language == "qualified":  # IsQualifiedName, keys of at most 253 characters
        prefixed = z3.Concat(_subdomain_re(), z3.Re("/"), _name_re())
        return z3.And(z3.InRe(term, z3.Union(_name_re(), prefixed)), z3.Length(term) <= 253)
    if language == "label_value":  # IsValidLabelValue
        return z3.InRe(term, z3.Option(_name_re()))
    if language == "subdomain":  # IsDNS1123Subdomain (node names)
        return z3.And(z3.InRe(term, _subdomain_re()), z3.Length(term) <= 253)
    if language == "integer":  # Gt/Lt values: what the model's validation accepts
        digits = z3.Plus(z3.Range("0", "9"))
        return z3.InRe(term, z3.Concat(z3.Option(z3.Union(z3.Re("+"), z3.Re("-"))), digits))
    if language.endswith("_or_empty"):
        return z3.Or(term == "", _in_language(term, language.removesuffix("_or_empty")))
    if language == "free":
        return z3.BoolVal(True)
    raise ValueError(f"unknown string language {language!r}")


# --- symbolic maps -------------------------------------------------------------------------


class SymbolicMap:
    """A string map of at most ``len(slots)`` entries: each slot is ``(present, key, value)``.

    Only ``logic.has_key`` and ``logic.value_at`` may read it (through ``symbolic_has`` and
    ``symbolic_get``). It is deliberately not a Mapping: iterating it, ``in`` or ``len`` would
    have to decide which slots are present, which only the solver knows, so they raise.
    """

    __slots__ = ("slots",)

    def __init__(self, slots: Iterable[tuple[Any, Any, Any]]):
        self.slots = tuple(slots)

    def symbolic_has(self, key: Any) -> Any:
        return z3.Or([z3.And(present, k == key) for present, k, _ in self.slots])

    def symbolic_get(self, key: Any, default: Any = "") -> Any:
        result = default
        for present, k, value in reversed(self.slots):
            result = z3.If(z3.And(present, k == key), value, result)
        return result

    def _refuse(self, *_: Any) -> Any:
        raise TypeError(
            "a SymbolicMap cannot be iterated, sized or searched with `in`: use logic.has_key "
            "and logic.value_at"
        )

    __iter__ = __len__ = __contains__ = __getitem__ = _refuse
    keys = items = values = get = _refuse

    def __hash__(self) -> int:
        return hash(tuple(term.hash() for slot in self.slots for term in slot))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SymbolicMap) or len(self.slots) != len(other.slots):
            return False
        return all(
            a.eq(b)
            for s, o in zip(self.slots, other.slots, strict=True)
            for a, b in zip(s, o, strict=True)
        )

    def __repr__(self) -> str:
        return f"SymbolicMap({len(self.slots)} slots)"


# --- variables -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Variable:
    """One z3 variable of a symbolic object: its sort (``string``, ``int``, ``bool``), and what
    values it may take: a ``language`` for strings, ``choices``, or ``low``..``high`` for ints."""

    term: Any
    sort: str
    language: str = "free"
    choices: tuple[Any, ...] | None = None
    low: int | None = None
    high: int | None = None


class Builder:
    """Makes fresh, uniquely named z3 variables and collects the well-formedness constraints
    (API validation) of the objects built from them."""

    def __init__(self, prefix: str = ""):
        self.prefix = prefix
        self.variables: list[Variable] = []
        self.constraints: list[Any] = []
        self._names: set[str] = set()

    def _name(self, name: str) -> str:
        full = f"{self.prefix}{name}"
        if full in self._names:
            raise ValueError(f"duplicate symbolic variable {full!r}")
        self._names.add(full)
        return full

    def string(
        self, name: str, language: str = "free", choices: Sequence[str] | None = None
    ) -> Any:
        term = z3.String(self._name(name))
        if choices is not None:
            self.constraints.append(z3.Or([term == c for c in choices]))
        else:
            self.constraints.append(_in_language(term, language))
        self.variables.append(
            Variable(term, "string", language, None if choices is None else tuple(choices))
        )
        return term

    def int(self, name: str, low: int | None = 0, high: int | None = None) -> Any:
        term = z3.Int(self._name(name))
        if low is not None:
            self.constraints.append(term >= low)
        if high is not None:
            self.constraints.append(term <= high)
        self.variables.append(Variable(term, "int", low=low, high=high))
        return term

    def bool(self, name: str) -> Any:
        term = z3.Bool(self._name(name))
        self.variables.append(Variable(term, "bool"))
        return term

    def require(self, *constraints: Any) -> None:
        self.constraints.extend(c for c in constraints if c is not True)


# --- shapes --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequirementShape:
    """A selector requirement's operator and how many values it has."""

    operator: str
    values: int = 0


@dataclass(frozen=True, slots=True)
class TermShape:
    """A node selector term: its matchExpressions and matchFields (metadata.name)."""

    expressions: tuple[RequirementShape, ...] = ()
    fields: tuple[RequirementShape, ...] = ()


@dataclass(frozen=True, slots=True)
class PodShape:
    """The structure of a pod; every string and amount in it is symbolic.

    ``init_containers`` lists, per init container, whether it is a sidecar (restartPolicy
    Always). Every container requests every resource in ``resources`` (an amount of 0 allowed).
    The first container has ``host_ports`` port entries (a hostPort of 0 is no host port).
    """

    tolerations: int = 0
    node_selector: int = 0
    required: tuple[TermShape, ...] | None = None
    preferred: tuple[TermShape, ...] = ()
    containers: int = 1
    init_containers: tuple[bool, ...] = ()
    resources: tuple[str, ...] = ("cpu", "memory")
    overhead: bool = False
    host_ports: int = 0


@dataclass(frozen=True, slots=True)
class NodeShape:
    """The structure of a node and of the pods already on it. ``labels`` is the number of
    label slots (each present or not, with any key); allocatable holds ``resources`` and pods;
    ``images`` entries in status.images have one name each."""

    taints: int = 0
    labels: int = 2
    resources: tuple[str, ...] = ("cpu", "memory")
    pods: tuple[PodShape, ...] = ()
    images: int = 0


# --- builders ------------------------------------------------------------------------------


def _resource_map(b: Builder, resources: Sequence[str], path: str) -> FrozenMap:
    return FrozenMap((r, b.int(f"{path}[{r}]", low=0)) for r in resources)


IMAGE = "registry.example/app:1"  # every container's image (ImageLocality compares names)
HOST_IPS = ("", "0.0.0.0", "10.0.0.1", "127.0.0.1")


def _port(b: Builder, path: str) -> ContainerPort:
    return ContainerPort(
        container_port=b.int(f"{path}.containerPort", low=1, high=65535),
        host_port=b.int(f"{path}.hostPort", low=0, high=65535),
        protocol=b.string(f"{path}.protocol", choices=("", "TCP", "UDP", "SCTP")),
        host_ip=b.string(f"{path}.hostIP", choices=HOST_IPS),
    )


def _container(
    b: Builder, name: str, resources: Sequence[str], path: str, sidecar=None, ports: int = 0
) -> Container:
    requests = _resource_map(b, resources, f"{path}.requests")
    # Extended resources cannot be overcommitted: validation wants limits equal to requests.
    limits = FrozenMap((r, a) for r, a in requests.items() if is_extended_resource_name(r))
    port_list = tuple(_port(b, f"{path}.ports[{i}]") for i in range(ports))
    return Container(name, IMAGE, requests, limits, port_list, restart_policy=sidecar)


def _toleration(b: Builder, path: str) -> Toleration:
    # upstream: pkg/apis/core/validation/validation.go ValidateTolerations
    key = b.string(f"{path}.key", "qualified_or_empty")
    operator = b.string(f"{path}.operator", choices=TOLERATION_OPERATORS)
    value = b.string(f"{path}.value", "label_value")
    effect = b.string(f"{path}.effect", choices=("", *EFFECTS))
    b.require(
        z3.Implies(key == "", operator == "Exists"),
        z3.Implies(operator == "Exists", value == ""),
    )
    return Toleration(key=key, operator=operator, value=value, effect=effect)


def _requirement(b: Builder, shape: RequirementShape, path: str, field: bool):
    if field:  # matchFields: only metadata.name, values are node names
        values = tuple(b.string(f"{path}.values[{i}]", "subdomain") for i in range(shape.values))
        return NodeSelectorRequirement("metadata.name", shape.operator, values)
    language = "integer" if shape.operator in ("Gt", "Lt") else "free"
    key = b.string(f"{path}.key", "qualified")
    values = tuple(b.string(f"{path}.values[{i}]", language) for i in range(shape.values))
    return NodeSelectorRequirement(key, shape.operator, values)


def _term(b: Builder, shape: TermShape, path: str) -> NodeSelectorTerm:
    return NodeSelectorTerm(
        tuple(
            _requirement(b, r, f"{path}.matchExpressions[{i}]", False)
            for i, r in enumerate(shape.expressions)
        ),
        tuple(
            _requirement(b, r, f"{path}.matchFields[{i}]", True) for i, r in enumerate(shape.fields)
        ),
    )


def _distinct(b: Builder, keys: Sequence[Any], present: Sequence[Any] | None = None) -> None:
    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            both = True if present is None else z3.And(present[i], present[j])
            b.require(z3.Implies(both, keys[i] != keys[j]))


def symbolic_pod(
    b: Builder, shape: PodShape, path: str, *, name: str = "pod", node_name: Any = None
) -> Pod:
    """A pod of ``shape``; ``node_name`` None makes spec.nodeName symbolic ("" or a node name)."""
    if node_name is None:
        node_name = b.string(f"{path}.nodeName", "subdomain_or_empty")
    selector_keys = [
        b.string(f"{path}.nodeSelector[{i}].key", "qualified") for i in range(shape.node_selector)
    ]
    _distinct(b, selector_keys)
    selector = FrozenMap(
        (key, b.string(f"{path}.nodeSelector[{i}].value", "label_value"))
        for i, key in enumerate(selector_keys)
    )
    required = None
    if shape.required is not None:
        required = NodeSelector(
            tuple(_term(b, t, f"{path}.required[{i}]") for i, t in enumerate(shape.required))
        )
    preferred = tuple(
        PreferredSchedulingTerm(
            b.int(f"{path}.preferred[{i}].weight", low=1, high=100),
            _term(b, t, f"{path}.preferred[{i}]"),
        )
        for i, t in enumerate(shape.preferred)
    )
    affinity = None
    if required is not None or preferred:
        affinity = Affinity(node_affinity=NodeAffinity(required, preferred))
    containers = tuple(
        _container(
            b,
            f"c{i}",
            shape.resources,
            f"{path}.containers[{i}]",
            ports=shape.host_ports if i == 0 else 0,
        )
        for i in range(shape.containers)
    )
    inits = tuple(
        _container(
            b, f"i{i}", shape.resources, f"{path}.initContainers[{i}]", "Always" if side else None
        )
        for i, side in enumerate(shape.init_containers)
    )
    overhead = _resource_map(b, shape.resources, f"{path}.overhead") if shape.overhead else None
    spec = PodSpec(
        containers=containers,
        init_containers=inits,
        node_name=node_name,
        node_selector=selector,
        affinity=affinity,
        tolerations=tuple(
            _toleration(b, f"{path}.tolerations[{i}]") for i in range(shape.tolerations)
        ),
        overhead=overhead if overhead is not None else FrozenMap(),
    )
    return Pod(ObjectMeta(name=name, namespace="default"), spec)


def symbolic_node_info(
    b: Builder, shape: NodeShape, path: str, *, name: Any = None, labels: Any = None
) -> NodeInfo:
    """A node of ``shape`` with its pods. ``name`` and ``labels`` may be shared with another
    node (for theorems about otherwise identical nodes)."""
    if name is None:
        name = b.string(f"{path}.name", "subdomain")
        b.require(name != "")
    if labels is None:
        slots = []
        for i in range(shape.labels):
            present = b.bool(f"{path}.labels[{i}].present")
            key = b.string(f"{path}.labels[{i}].key", "qualified")
            slots.append((present, key, b.string(f"{path}.labels[{i}].value", "label_value")))
        _distinct(b, [s[1] for s in slots], [s[0] for s in slots])
        labels = SymbolicMap(slots)
    taints = []
    for i in range(shape.taints):
        p = f"{path}.taints[{i}]"
        taints.append(
            Taint(
                key=b.string(f"{p}.key", "qualified"),
                effect=b.string(f"{p}.effect", choices=EFFECTS),
                value=b.string(f"{p}.value", "label_value"),
            )
        )
    # upstream: validation.go validateNodeTaints: no two taints with the same key and effect
    for i, t in enumerate(taints):
        for u in taints[i + 1 :]:
            b.require(z3.Or(t.key != u.key, t.effect != u.effect))
    allocatable = _resource_map(b, (*shape.resources, "pods"), f"{path}.allocatable")
    images = tuple(
        ContainerImage(
            (b.string(f"{path}.images[{i}].name", choices=(IMAGE, "registry.example/other:1")),),
            b.int(f"{path}.images[{i}].sizeBytes", low=0, high=2**40),
        )
        for i in range(shape.images)
    )
    node = Node(
        ObjectMeta(name=name, labels=labels),
        NodeSpec(taints=tuple(taints), unschedulable=b.bool(f"{path}.unschedulable")),
        NodeStatus(allocatable=allocatable, images=images),
    )
    pods = tuple(
        symbolic_pod(b, s, f"{path}.pods[{i}]", name=f"{path}-pod{i}", node_name=name)
        for i, s in enumerate(shape.pods)
    )
    return NodeInfo(node, pods)


# --- running a profile on symbolic objects -------------------------------------------------


def filter_verdicts(
    profile: Any, pod: Pod, snapshot: Snapshot, node_info: NodeInfo
) -> tuple[tuple[str, Any], ...]:
    """Each filter plugin's verdict on one node, as ``cycle.schedule_one`` reaches it: True
    when its PreFilter skips it, False when its PreFilter fails, else the node being among any
    node names its PreFilter restricted the cycle to and its Filter passing."""
    # upstream: pkg/scheduler/schedule_one.go findNodesThatPassFilters (and cycle._filter_node)
    verdicts = []
    for plugin in profile.filters:
        pre = plugin.pre_filter(pod, snapshot)
        if pre.status.code == SKIP:
            verdict: Any = True
        elif not pre.status.is_success:
            verdict = False
        else:
            named = True if pre.node_names is None else is_in(node_info.name, tuple(pre.node_names))
            verdict = all_of((named, plugin.feasible(pre.state, pod, node_info)))
        verdicts.append((plugin.name, verdict))
    return tuple(verdicts)


def profile_feasible(profile: Any, pod: Pod, snapshot: Snapshot, node_info: NodeInfo) -> Any:
    """The profile's filter verdict for one node: every filter plugin's (see
    :func:`filter_verdicts`)."""
    return all_of(v for _, v in filter_verdicts(profile, pod, snapshot, node_info))


@dataclass(frozen=True, slots=True)
class PluginScores:
    """One score plugin over the nodes: ``skipped`` is when PreScore skips it (a logic value:
    a plugin may only know symbolically, through its ``skipped(state)``), then the raw and the
    normalized scores."""

    name: str
    weight: int
    skipped: Any
    raw: tuple[Any, ...]
    normalized: tuple[Any, ...]


def profile_scores(
    profile: Any, pod: Pod, snapshot: Snapshot, infos: Sequence[NodeInfo]
) -> tuple[PluginScores, ...]:
    """Every score plugin PreScore does not skip outright, over ``infos`` (as
    ``cycle._score_nodes`` computes them)."""
    out = []
    for plugin, weight in profile.scores:
        pre = plugin.pre_score(pod, snapshot, tuple(infos))
        if pre.status.code == SKIP:
            continue
        skipped = plugin.skipped(pre.state) if hasattr(plugin, "skipped") else False
        raw = tuple(plugin.score(pre.state, pod, info) for info in infos)
        normalized = tuple(plugin.normalize(pre.state, pod, raw))
        out.append(PluginScores(plugin.name, weight, skipped, raw, normalized))
    return tuple(out)


# --- back to concrete objects --------------------------------------------------------------


def _python(value: Any) -> Any:
    if z3.is_string_value(value):
        return value.as_string()
    if z3.is_int_value(value):
        return value.as_long()
    if z3.is_true(value):
        return True
    if z3.is_false(value):
        return False
    raise ValueError(f"not a concrete value: {value}")


def assignment_evaluator(pairs: Sequence[tuple[Any, Any]]) -> Callable[[Any], Any]:
    """An evaluator substituting z3 values for variables (``(variable, value)`` pairs) and
    simplifying: ``z3.simplify(z3.substitute(term, *pairs))``, through the C API with the
    pairs prepared once (the Python wrapper re-checks every pair on every call)."""
    ctx = z3.main_ctx()
    pairs = tuple(pairs)
    sources, targets = (z3.Ast * len(pairs))(), (z3.Ast * len(pairs))()
    for i, (variable, value) in enumerate(pairs):
        sources[i], targets[i] = variable.as_ast(), value.as_ast()

    def evaluate(term: Any) -> Any:
        substituted = z3core.Z3_substitute(ctx.ref(), term.as_ast(), len(pairs), sources, targets)
        held = _to_expr_ref(substituted, ctx)  # holds a reference before simplifying
        return _to_expr_ref(z3core.Z3_simplify(ctx.ref(), held.as_ast()), ctx)

    evaluate.pairs = pairs  # type: ignore[attr-defined]  (keeps the values alive)
    return evaluate


def concretize(value: Any, model: Any) -> Any:
    """``value`` with every z3 term evaluated: under a z3 model, or an evaluator function (see
    :func:`assignment_evaluator`). A SymbolicMap becomes a FrozenMap of its present slots, an
    amount in a resource map a Quantity."""
    evaluate = model if callable(model) else (lambda t: model.eval(t, model_completion=True))

    def walk(v: Any, resource_map: bool = False) -> Any:
        if is_symbolic(v):
            return _python(evaluate(v))
        if isinstance(v, SymbolicMap):
            return FrozenMap((walk(k), walk(val)) for present, k, val in v.slots if walk(present))
        if isinstance(v, FrozenMap):
            if resource_map:
                return FrozenMap((k, _quantity(k, walk(a))) for k, a in v.items())
            return FrozenMap((walk(k), walk(val)) for k, val in v.items())
        if isinstance(v, tuple):
            return tuple(walk(x) for x in v)
        if is_dataclass(v) and not isinstance(v, type):
            changes = {
                f.name: walk(getattr(v, f.name), f.name in RESOURCE_FIELDS)
                for f in fields(v)
                if f.name != "raw"
            }
            return replace(v, **changes)
        return v

    return walk(value)


def _quantity(resource: str, amount: Any) -> Any:
    if isinstance(amount, Quantity):
        return amount
    return Quantity.from_milli(amount) if resource == "cpu" else Quantity.from_int(amount)
