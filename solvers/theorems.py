"""The theorems about a scheduler profile, each an enumeration of bounded symbolic instances.

A theorem is proved within a :class:`Bound` by showing, for every shape the bound allows, that
the instance's ``violation`` (the profile's behaviour together with the negated
specification from :mod:`kubeproof.solvers.specs`) has no model. ``holds_concretely`` decides
the same statement on concrete objects with the concrete plugins (``cycle.schedule_one``), so a
counterexample can be replayed without z3's help.

The filter is the profile's: every filter plugin's PreFilter and Filter on a snapshot of the
one node with its pods (:func:`~kubeproof.solvers.symbolic.profile_feasible`). InterPodAffinity
and PodTopologySpread are in it, but the bound gives pods no inter-pod affinity terms and no
spread constraints, so their PreFilter skips the pod: they key their counts by concrete label
values and cannot run on a node with symbolic labels. The score theorems run every score
plugin of the profile the same way (T4 needs InterPodAffinity's PreScore to accept symbolic
labels, which it does not yet).

Shapes are enumerated in full up to the bound (every operator, every arity API validation
accepts, every sequence of them), which grows fast: T2 has 132 shapes at the default bound
and about four million at twice it. Each theorem's ``scope`` says what it ranges over.

>>> [t.name for t in THEOREMS]
['T1', 'T2', 'T3', 'T4', 'T5a', 'T5b', 'T6']
>>> sum(1 for _ in T1.shapes(Bound()))
9
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import z3

from kubeproof.model.logic import all_of, ite
from kubeproof.model.objects import FrozenMap, Pod
from kubeproof.model.scheduler.cycle import schedule_one
from kubeproof.model.scheduler.framework import MAX_NODE_SCORE, SKIP, NodeInfo, Snapshot
from kubeproof.model.scheduler.plugins import plugin_class
from kubeproof.model.scheduler.profile import Profile
from kubeproof.solvers import specs
from kubeproof.solvers.symbolic import (
    Builder,
    NodeShape,
    PodShape,
    RequirementShape,
    TermShape,
    filter_verdicts,
    profile_feasible,
    profile_scores,
    symbolic_node_info,
    symbolic_pod,
)

__all__ = ["DOMAIN", "THEOREMS", "Bound", "Instance", "Theorem", "theorem"]

# What every symbolic string and number ranges over (the api-server's validation; see
# symbolic.py), stated with every result.
DOMAIN = (
    "objects the api-server accepts: node names, label keys and values, taint and toleration "
    "fields any strings validation allows (label keys qualified names of at most 253 "
    "characters), In/NotIn values any strings, Gt/Lt values signed decimal integers, resource "
    "amounts any integers >= 0"
)


@dataclass(frozen=True, slots=True)
class Bound:
    """How large the symbolic objects get. Each count is a maximum: every smaller structure
    is enumerated too."""

    taints: int = 2  # node taints
    tolerations: int = 2  # pod tolerations
    labels: int = 2  # node label slots, each present or absent, keys any qualified name
    node_selector: int = 1  # pod nodeSelector entries
    terms: int = 1  # required / preferred node affinity terms
    expressions: int = 1  # matchExpressions per term
    fields: int = 1  # matchFields (metadata.name) per term
    values: int = 1  # values per In / NotIn expression
    containers: int = 1  # app containers per pod (at least one)
    init_containers: int = 1  # init containers, each regular or a sidecar
    pods: int = 1  # pods already on a node (one container each)
    host_ports: int = 1  # port entries of the pod's first container (T6)
    resources: tuple[str, ...] = ("cpu", "memory", "example.com/gpu")

    def doubled(self) -> Bound:
        """Every count twice as large (the resources stay)."""
        counts = {f: 2 * getattr(self, f) for f in self.__dataclass_fields__ if f != "resources"}
        return replace(self, **counts)

    def describe(self) -> str:
        return (
            f"taints<={self.taints}, tolerations<={self.tolerations}, "
            f"node label slots={self.labels}, nodeSelector<={self.node_selector}, "
            f"affinity terms<={self.terms} x (matchExpressions<={self.expressions}, "
            f"matchFields<={self.fields}, values<={self.values}), "
            f"containers 1..{self.containers}, init containers<={self.init_containers}, "
            f"pods on the node<={self.pods}, host ports<={self.host_ports}, "
            f"resources {', '.join(self.resources)}"
        )


@dataclass(frozen=True, slots=True)
class Instance:
    """One bounded shape of a theorem: the symbolic pod and nodes, their well-formedness and
    the formula whose models are counterexamples."""

    shape: str
    pod: Pod
    nodes: tuple[NodeInfo, ...]
    constraints: tuple[Any, ...]
    violation: Any
    # Formulas that together cover the violation (a model of it is a model of one of them),
    # each smaller: all unsatisfiable decides the shape without solving the violation itself.
    lemmas: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Theorem:
    """A named statement, the shapes it ranges over, and how to build and replay it."""

    name: str
    statement: str
    scope: Callable[[Bound], str]  # what the bound means for this theorem
    shapes: Callable[[Bound], Iterator[Any]]
    build: Callable[[Profile, Bound, Any], Instance]
    holds_concretely: Callable[[Profile, Pod, Sequence[NodeInfo]], bool] = field(repr=False)

    def instances(self, profile: Profile, bound: Bound) -> Iterator[Instance]:
        for shape in self.shapes(bound):
            yield self.build(profile, bound, shape)


# --- shape enumeration ---------------------------------------------------------------------


def _sequences(items: Sequence[Any], low: int, high: int) -> Iterator[tuple[Any, ...]]:
    for n in range(low, high + 1):
        yield from itertools.product(items, repeat=n)


def _expression_shapes(bound: Bound) -> list[RequirementShape]:
    # The arities API validation accepts (ValidateNodeSelectorRequirement).
    shapes = [RequirementShape(op, n) for op in ("In", "NotIn") for n in range(1, bound.values + 1)]
    shapes += [RequirementShape("Exists"), RequirementShape("DoesNotExist")]
    return [*shapes, RequirementShape("Gt", 1), RequirementShape("Lt", 1)]


def _term_shapes(bound: Bound, fields: bool = True) -> list[TermShape]:
    field_shapes = [RequirementShape("In", 1), RequirementShape("NotIn", 1)]
    return [
        TermShape(e, f)
        for e in _sequences(_expression_shapes(bound), 0, bound.expressions)
        for f in _sequences(field_shapes, 0, bound.fields if fields else 0)
    ]


def _required_shapes(bound: Bound) -> list[tuple[TermShape, ...] | None]:
    # API validation wants at least one term when required affinity is set.
    return [None, *_sequences(_term_shapes(bound), 1, bound.terms)]


def _init_shapes(bound: Bound) -> list[tuple[bool, ...]]:
    return list(_sequences((False, True), 0, bound.init_containers))


def _node_pods(bound: Bound, n: int) -> tuple[PodShape, ...]:
    return tuple(PodShape(resources=bound.resources) for _ in range(n))


def _describe(**parts: Any) -> str:
    return ", ".join(f"{k}={v}" for k, v in parts.items())


# --- concrete replay helpers ---------------------------------------------------------------


def _concrete_feasible(profile: Profile, pod: Pod, info: NodeInfo) -> bool:
    decision = schedule_one(profile, pod, Snapshot((info,)))
    return decision.nodes[0].feasible


def _single(
    profile: Profile, b: Builder, pod: Pod, info: NodeInfo, shape: str, claim: Any
) -> Instance:
    feasible = profile_feasible(profile, pod, Snapshot((info,)), info)
    violation = z3.And(_as_bool(feasible), z3.Not(claim))
    return Instance(shape, pod, (info,), tuple(b.constraints), violation)


def _as_bool(value: Any) -> Any:
    return value if z3.is_expr(value) else z3.BoolVal(bool(value))


def _filter_theorem_replay(spec: Callable[[Pod, NodeInfo], Any]):
    def holds(profile: Profile, pod: Pod, nodes: Sequence[NodeInfo]) -> bool:
        info = nodes[0]
        if not _concrete_feasible(profile, pod, info):
            return True
        return z3.is_true(z3.simplify(spec(pod, info)))

    return holds


# --- T1 ------------------------------------------------------------------------------------


def _t1_shapes(bound: Bound) -> Iterator[tuple[int, int]]:
    yield from itertools.product(range(bound.taints + 1), range(bound.tolerations + 1))


def _t1_build(profile: Profile, bound: Bound, shape: tuple[int, int]) -> Instance:
    taints, tolerations = shape
    b = Builder()
    info = symbolic_node_info(
        b, NodeShape(taints=taints, labels=bound.labels, resources=bound.resources), "node"
    )
    pod = symbolic_pod(b, PodShape(tolerations=tolerations, resources=bound.resources), "pod")
    claim = specs.taints_tolerated(pod, info.node)
    return _single(profile, b, pod, info, _describe(taints=taints, tolerations=tolerations), claim)


T1 = Theorem(
    "T1",
    "If the profile's filter passes, every NoSchedule and NoExecute taint of the node is "
    "tolerated by one of the pod's tolerations (empty or equal effect, empty or equal key, "
    "Exists or an equal value).",
    lambda b: (
        f"taints 0..{b.taints}, tolerations 0..{b.tolerations}; node with "
        f"{b.labels} label slots and allocatable {', '.join(b.resources)}, pods; one container"
    ),
    _t1_shapes,
    _t1_build,
    _filter_theorem_replay(lambda pod, info: specs.taints_tolerated(pod, info.node)),
)


# --- T2 ------------------------------------------------------------------------------------


def _t2_shapes(bound: Bound) -> Iterator[tuple[int, Any, int]]:
    yield from itertools.product(
        range(bound.node_selector + 1), _required_shapes(bound), range(bound.tolerations + 1)
    )


def _required_text(required: tuple[TermShape, ...] | None) -> str:
    if required is None:
        return "none"

    def req(r: RequirementShape) -> str:
        return f"{r.operator}/{r.values}" if r.operator in ("In", "NotIn") else r.operator

    return " | ".join(
        "{"
        + " & ".join([req(e) for e in t.expressions] + [f"name {f.operator}" for f in t.fields])
        + "}"
        for t in required
    )


def _t2_build(profile: Profile, bound: Bound, shape: tuple[int, Any, int]) -> Instance:
    selector, required, tolerations = shape
    b = Builder()
    info = symbolic_node_info(b, NodeShape(labels=bound.labels, resources=bound.resources), "node")
    pod_shape = PodShape(
        tolerations=tolerations,
        node_selector=selector,
        required=required,
        resources=bound.resources,
    )
    pod = symbolic_pod(b, pod_shape, "pod")
    claim = specs.placement_holds(pod, info.node)
    text = _describe(
        nodeSelector=selector, required=_required_text(required), tolerations=tolerations
    )
    return _single(profile, b, pod, info, text, claim)


T2 = Theorem(
    "T2",
    "If the profile's filter passes, every nodeSelector entry is a label of the node, the "
    "pod's required node affinity holds (some non-empty term whose expressions hold on the "
    "node's labels and whose metadata.name fields hold), and the node is schedulable or the "
    "pod tolerates node.kubernetes.io/unschedulable:NoSchedule.",
    lambda b: (
        f"nodeSelector 0..{b.node_selector}; required affinity none or 1..{b.terms} "
        f"terms of 0..{b.expressions} expressions (In/NotIn with 1..{b.values} values, Exists, "
        f"DoesNotExist, Gt, Lt) and 0..{b.fields} metadata.name fields (In/NotIn); tolerations "
        f"0..{b.tolerations}; node with {b.labels} label slots, symbolic name and unschedulable"
    ),
    _t2_shapes,
    _t2_build,
    _filter_theorem_replay(lambda pod, info: specs.placement_holds(pod, info.node)),
)


# --- T3 ------------------------------------------------------------------------------------


def _t3_shapes(bound: Bound) -> Iterator[tuple[int, tuple[bool, ...], bool, int]]:
    yield from itertools.product(
        range(1, bound.containers + 1),
        _init_shapes(bound),
        (False, True),
        range(bound.pods + 1),
    )


def _t3_build(profile: Profile, bound: Bound, shape: Any) -> Instance:
    containers, inits, overhead, pods = shape
    b = Builder()
    info = symbolic_node_info(
        b,
        NodeShape(labels=bound.labels, resources=bound.resources, pods=_node_pods(bound, pods)),
        "node",
    )
    pod_shape = PodShape(
        containers=containers,
        init_containers=inits,
        overhead=overhead,
        resources=bound.resources,
    )
    pod = symbolic_pod(b, pod_shape, "pod")
    claim = specs.resources_fit(pod, info, bound.resources)
    sidecars = "".join("S" if s else "I" for s in inits) or "-"
    text = _describe(containers=containers, init=sidecars, overhead=overhead, pods_on_node=pods)
    return _single(profile, b, pod, info, text, claim)


def _t3_replay(profile: Profile, pod: Pod, nodes: Sequence[NodeInfo]) -> bool:
    info = nodes[0]
    if not _concrete_feasible(profile, pod, info):
        return True
    names = {n for c in (*pod.spec.containers, *pod.spec.init_containers) for n in c.requests}
    names |= set(pod.spec.overhead) | set(info.node.status.allocatable)
    names.discard("pods")
    return z3.is_true(z3.simplify(specs.resources_fit(pod, info, sorted(names))))


T3 = Theorem(
    "T3",
    "If the profile's filter passes, then for every resource the pod requests, its effective "
    "request (max of app containers plus sidecars and the init peak, plus overhead) plus what "
    "the node's pods request is at most the node's allocatable, and the pod count stays within "
    "allocatable pods.",
    lambda b: (
        f"containers 1..{b.containers}; init containers 0..{b.init_containers}, each "
        f"regular or sidecar; overhead absent or present; pods on the node 0..{b.pods} with one "
        f"container; every container requests {', '.join(b.resources)} (any amount >= 0); "
        "allocatable has each of them and pods"
    ),
    _t3_shapes,
    _t3_build,
    _t3_replay,
)


# --- T4 ------------------------------------------------------------------------------------


def _t4_shapes(bound: Bound) -> Iterator[Any]:
    yield from itertools.product(
        range(bound.taints + 1),
        range(bound.tolerations + 1),
        [(), *_sequences(_term_shapes(bound, fields=False)[1:], 1, bound.terms)],
        range(bound.pods + 1),
    )


def _t4_build(profile: Profile, bound: Bound, shape: Any) -> Instance:
    taints, tolerations, preferred, pods = shape
    b = Builder()
    node_shape = NodeShape(
        taints=taints,
        labels=bound.labels,
        resources=bound.resources,
        pods=_node_pods(bound, pods),
        images=1,
    )
    infos = tuple(symbolic_node_info(b, node_shape, f"node{i}") for i in range(2))
    b.require(infos[0].node.metadata.name != infos[1].node.metadata.name)
    pod_shape = PodShape(tolerations=tolerations, preferred=preferred, resources=bound.resources)
    pod = symbolic_pod(b, pod_shape, "pod")
    snapshot = Snapshot(infos)
    weights = sum(w for _, w in profile.scores)
    per_plugin, totals = [], [0, 0]
    for scores in profile_scores(profile, pod, snapshot, infos):
        counted = z3.Not(_as_bool(scores.skipped))
        for i, value in enumerate(scores.normalized):
            per_plugin.append(z3.And(counted, z3.Or(value < 0, value > MAX_NODE_SCORE)))
            totals[i] = totals[i] + z3.If(counted, value * scores.weight, 0)
    bad = per_plugin + [z3.Or(t < 0, t > MAX_NODE_SCORE * weights) for t in totals]
    text = _describe(
        taints=taints,
        tolerations=tolerations,
        preferred=_required_text(preferred) if preferred else "none",
        pods_on_node=pods,
    )
    # A total out of range needs some plugin's score out of range (weights are >= 0): the
    # per-plugin, per-node range violations cover the whole violation, and are far smaller.
    lemmas = tuple(per_plugin)
    return Instance(text, pod, infos, tuple(b.constraints), z3.Or(bad), lemmas)


def _t4_replay(profile: Profile, pod: Pod, nodes: Sequence[NodeInfo]) -> bool:
    weights = sum(w for _, w in profile.scores)
    try:
        decision = schedule_one(profile, pod, Snapshot(tuple(nodes)), score_all=True)
    except ValueError:  # the cycle refuses a normalized score outside [0, 100]
        return False
    return all(0 <= e.total <= MAX_NODE_SCORE * weights for e in decision.nodes)


T4 = Theorem(
    "T4",
    "Every score plugin's normalized score of every node is in [0, 100], and every node's "
    "weighted total is in [0, 100 x the sum of the weights].",
    lambda b: (
        f"two nodes of one shape: taints 0..{b.taints}, pods 0..{b.pods}, one image, "
        f"{b.labels} label slots, allocatable {', '.join(b.resources)}, pods; pod with "
        f"tolerations 0..{b.tolerations} and 0..{b.terms} preferred terms of 1..{b.expressions} "
        "expressions (any weight 1..100); all nodes scored, feasible or not"
    ),
    _t4_shapes,
    _t4_build,
    _t4_replay,
)


# --- T5a -----------------------------------------------------------------------------------


def _score_plugin(profile: Profile, name: str) -> Any:
    found = next((p for p, _ in profile.scores if p.name == name), None)
    return found if found is not None else plugin_class(name).from_args({})


def _normalized(plugin: Any, pod: Pod, infos: Sequence[NodeInfo]) -> tuple[Any, Any, Any]:
    """(skipped, normalized scores) of one plugin over ``infos``."""
    snapshot = Snapshot(tuple(infos))
    pre = plugin.pre_score(pod, snapshot, tuple(infos))
    if pre.status.code == SKIP:
        return True, (0,) * len(infos), pre
    skipped = plugin.skipped(pre.state) if hasattr(plugin, "skipped") else False
    raw = [plugin.score(pre.state, pod, info) for info in infos]
    return skipped, tuple(plugin.normalize(pre.state, pod, raw)), pre


def _renamed(info: NodeInfo, name: Any, **spec_changes: Any) -> NodeInfo:
    node = info.node
    node = replace(
        node,
        metadata=replace(node.metadata, name=name),
        spec=replace(node.spec, **spec_changes),
    )
    pods = tuple(replace(p, spec=replace(p.spec, node_name=name)) for p in info.pods)
    return NodeInfo(node, pods)


def _t5a_shapes(bound: Bound) -> Iterator[tuple[int, int, int]]:
    taints = range(bound.taints + 1)
    yield from itertools.product(taints, taints, range(bound.tolerations + 1))


def _t5a_build(profile: Profile, bound: Bound, shape: tuple[int, int, int]) -> Instance:
    taints_a, taints_b, tolerations = shape
    b = Builder()
    a = symbolic_node_info(
        b, NodeShape(taints=taints_a, labels=bound.labels, resources=bound.resources), "nodeA"
    )
    other = symbolic_node_info(b, NodeShape(taints=taints_b, labels=0, resources=()), "nodeB")
    b.require(a.node.metadata.name != other.node.metadata.name)
    node_b = _renamed(a, other.node.metadata.name, taints=other.node.spec.taints)
    pod = symbolic_pod(b, PodShape(tolerations=tolerations, resources=bound.resources), "pod")
    plugin = _score_plugin(profile, "TaintToleration")
    _, (score_a, score_b), _ = _normalized(plugin, pod, (a, node_b))
    fewer = specs.intolerable_prefer_no_schedule(
        pod, a.node
    ) <= specs.intolerable_prefer_no_schedule(pod, node_b.node)
    violation = z3.And(fewer, score_a < score_b)
    text = _describe(taints_a=taints_a, taints_b=taints_b, tolerations=tolerations)
    return Instance(text, pod, (a, node_b), tuple(b.constraints), violation)


def _t5a_replay(profile: Profile, pod: Pod, nodes: Sequence[NodeInfo]) -> bool:
    plugin = _score_plugin(profile, "TaintToleration")
    _, (score_a, score_b), _ = _normalized(plugin, pod, nodes)
    count_a, count_b = (
        z3.simplify(specs.intolerable_prefer_no_schedule(pod, n.node)).as_long() for n in nodes
    )
    return not (count_a <= count_b and score_a < score_b)


T5A = Theorem(
    "T5a",
    "Of two nodes differing only in their taints, the one with at most as many "
    "PreferNoSchedule taints the pod does not tolerate never gets a lower normalized "
    "TaintToleration score.",
    lambda b: (
        f"taints 0..{b.taints} on each node, tolerations 0..{b.tolerations}; "
        "normalized over the two nodes"
    ),
    _t5a_shapes,
    _t5a_build,
    _t5a_replay,
)


# --- T5b -----------------------------------------------------------------------------------


def _t5b_shapes(bound: Bound) -> Iterator[tuple[int, tuple[bool, ...], int]]:
    yield from itertools.product(
        range(1, bound.containers + 1), _init_shapes(bound), range(bound.pods + 1)
    )


def _more_free(b: Builder, a: NodeInfo, name: Any) -> NodeInfo:
    """A copy of node ``a`` named ``name`` with at most a's allocatable cpu and memory and pods
    requesting at least as much cpu and memory (so ``a`` has at least as much free)."""

    def less(amounts: FrozenMap, path: str) -> FrozenMap:
        out = {}
        for r, v in amounts.items():
            if r in ("cpu", "memory"):
                w = b.int(f"{path}[{r}]", low=0)
                b.require(w <= v)
                out[r] = w
            else:
                out[r] = v
        return FrozenMap(out)

    def more(amounts: FrozenMap, path: str) -> FrozenMap:
        out = {}
        for r, v in amounts.items():
            if r in ("cpu", "memory"):
                w = b.int(f"{path}[{r}]", low=0)
                b.require(w >= v)
                out[r] = w
            else:
                out[r] = v
        return FrozenMap(out)

    node = a.node
    alloc = less(node.status.allocatable, "nodeB.allocatable")
    b.require(alloc["cpu"] > 0, alloc["memory"] > 0)
    pods = []
    for i, p in enumerate(a.pods):
        containers = tuple(
            replace(c, requests=more(c.requests, f"nodeB.pods[{i}].containers[{j}].requests"))
            for j, c in enumerate(p.spec.containers)
        )
        pods.append(replace(p, spec=replace(p.spec, containers=containers, node_name=name)))
    node = replace(
        node,
        metadata=replace(node.metadata, name=name),
        status=replace(node.status, allocatable=alloc),
    )
    return NodeInfo(node, tuple(pods))


def _t5b_build(profile: Profile, bound: Bound, shape: Any) -> Instance:
    containers, inits, pods = shape
    b = Builder()
    node_shape = NodeShape(
        labels=bound.labels, resources=bound.resources, pods=_node_pods(bound, pods)
    )
    a = symbolic_node_info(b, node_shape, "nodeA")
    name_b = b.string("nodeB.name", "subdomain")
    b.require(name_b != a.node.metadata.name)
    node_b = _more_free(b, a, name_b)
    pod_shape = PodShape(containers=containers, init_containers=inits, resources=bound.resources)
    pod = symbolic_pod(b, pod_shape, "pod")
    plugin = _score_plugin(profile, "NodeResourcesFit")
    skipped, (score_a, score_b), _ = _normalized(plugin, pod, (a, node_b))
    violation = z3.And(z3.Not(_as_bool(skipped)), score_a < score_b)
    sidecars = "".join("S" if s else "I" for s in inits) or "-"
    text = _describe(containers=containers, init=sidecars, pods_on_node=pods)
    return Instance(text, pod, (a, node_b), tuple(b.constraints), violation)


def _t5b_replay(profile: Profile, pod: Pod, nodes: Sequence[NodeInfo]) -> bool:
    plugin = _score_plugin(profile, "NodeResourcesFit")
    skipped, (score_a, score_b), _ = _normalized(plugin, pod, nodes)
    return bool(skipped) or score_a >= score_b


T5B = Theorem(
    "T5b",
    "With the profile's NodeResourcesFit scoring (LeastAllocated by default), a node with at "
    "least as much allocatable cpu and memory and whose pods request at most as much of "
    "them, otherwise identical, never scores lower (nodes reporting non-zero allocatable cpu "
    "and memory).",
    lambda b: (
        f"containers 1..{b.containers}, init containers 0..{b.init_containers}; pods "
        f"on each node 0..{b.pods} (same shape, amounts differ); resources "
        f"{', '.join(b.resources)}"
    ),
    _t5b_shapes,
    _t5b_build,
    _t5b_replay,
)


# --- T6 ------------------------------------------------------------------------------------


def _t6_shapes(bound: Bound) -> Iterator[Any]:
    # The renaming touches names only: the required affinity (its matchFields) is enumerated
    # in full; taints, tolerations, nodeSelector entries and host ports come all or none.
    extras = range(
        min(1, bound.taints, bound.tolerations, bound.node_selector, bound.host_ports) + 1
    )
    yield from itertools.product(_required_shapes(bound), range(min(bound.pods, 1) + 1), extras)


def _swap(value: Any, a: Any, b: Any) -> Any:
    return ite(value == a, b, ite(value == b, a, value))


def _renamed_pod(pod: Pod, a: Any, b: Any) -> Pod:
    """The pod with every mention of node name ``a`` made ``b`` and vice versa (spec.nodeName,
    matchFields metadata.name values)."""
    spec = replace(pod.spec, node_name=_swap(pod.spec.node_name, a, b))
    affinity = spec.affinity
    if affinity is not None and affinity.node_affinity and affinity.node_affinity.required:
        required = affinity.node_affinity.required
        terms = tuple(
            replace(
                t,
                match_fields=tuple(
                    replace(f, values=tuple(_swap(v, a, b) for v in f.values))
                    for f in t.match_fields
                ),
            )
            for t in required.node_selector_terms
        )
        node_affinity = replace(
            affinity.node_affinity, required=replace(required, node_selector_terms=terms)
        )
        spec = replace(spec, affinity=replace(affinity, node_affinity=node_affinity))
    return replace(pod, spec=spec)


def _t6_build(profile: Profile, bound: Bound, shape: Any) -> Instance:
    required, pods, extras = shape
    taints = tolerations = selector = ports = extras
    b = Builder()
    node_shape = NodeShape(
        taints=taints,
        labels=bound.labels,
        resources=bound.resources,
        pods=tuple(PodShape(resources=bound.resources, host_ports=ports) for _ in range(pods)),
    )
    info = symbolic_node_info(b, node_shape, "node")
    name, other = info.node.metadata.name, b.string("renamed", "subdomain")
    renamed = _renamed(info, other)
    pod_shape = PodShape(
        tolerations=tolerations,
        node_selector=selector,
        required=required,
        resources=bound.resources,
        host_ports=ports,
    )
    pod = symbolic_pod(b, pod_shape, "pod")
    before = filter_verdicts(profile, pod, Snapshot((info,)), info)
    moved = _renamed_pod(pod, name, other)
    after = filter_verdicts(profile, moved, Snapshot((renamed,)), renamed)
    violation = _as_bool(all_of(v for _, v in before)) != _as_bool(all_of(v for _, v in after))
    # If no plugin's verdict changes, the conjunction does not either.
    lemmas = tuple(
        _as_bool(v) != _as_bool(w)
        for (_, v), (_, w) in zip(before, after, strict=True)
        if not _as_bool(v).eq(_as_bool(w))  # the very same term: nothing to prove
    )
    text = _describe(
        required=_required_text(required),
        pods_on_node=pods,
        taints_tolerations_nodeSelector_host_ports=extras,
    )
    return Instance(text, pod, (info, renamed), tuple(b.constraints), violation, lemmas)


def _t6_replay(profile: Profile, pod: Pod, nodes: Sequence[NodeInfo]) -> bool:
    info, renamed = nodes
    moved = _renamed_pod(pod, info.name, renamed.name)
    return _concrete_feasible(profile, pod, info) == _concrete_feasible(profile, moved, renamed)


T6 = Theorem(
    "T6",
    "Renaming a node (together with every mention of its name in the pod: spec.nodeName and "
    "matchFields metadata.name values, and its pods' nodeName) never changes the profile's "
    "filter verdict.",
    lambda b: (
        f"required affinity as in T2 ({b.terms} terms); pods on the node 0..1; one "
        "taint, one toleration, one nodeSelector entry and one host port (on the pod and on the "
        f"node's pods), or none of them; {b.labels} label slots"
    ),
    _t6_shapes,
    _t6_build,
    _t6_replay,
)


THEOREMS: tuple[Theorem, ...] = (T1, T2, T3, T4, T5A, T5B, T6)


def theorem(name: str) -> Theorem:
    """The theorem called ``name`` (T1 ... T6)."""
    for t in THEOREMS:
        if t.name.lower() == name.lower():
            return t
    from kubeproof.model.errors import KubeproofError

    known = ", ".join(t.name for t in THEOREMS)
    raise KubeproofError(f"unknown theorem {name!r}: the theorems are {known}")
