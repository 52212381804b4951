"""The naive placement encodings, the baselines of benchmarks/placement.py.

One Boolean per eligible (pending pod, node) pair (../shared/research/placement.md §3 (a), (c)):
exactly one node per pod; per node, the pods' requests within what the bound pods leave of each
resource, and the pods count within ``allocatable.pods``; per topology domain, at most one pod of
a workload with required anti-affinity to itself; per pair of domains of a DoNotSchedule
topology spread, the counts within maxSkew (at most maxSkew per domain while there are fewer
domains than minDomains). Taints, node selectors, required node affinity, unschedulable nodes,
single-pod fit, and anti-affinity with bound pods are decided in Python before encoding: a pair
that fails them has no variable. z3 takes this as PbEq, PbLe and AtMost; CP-SAT as ExactlyOne,
AtMostOne and linear constraints. A feature the encoding cannot express exactly (required pod
affinity, host ports, a spread or anti-affinity selector that matches other pods than the
workload's own) raises ValueError rather than give a wrong answer.

>>> from placement_gen import cluster
>>> answer = naive_answer(cluster(10, 30).objects, "z3", timeout=30)
>>> answer.status, len(answer.assignment), answer.pairs
('feasible', 30, 158)
>>> naive_answer(cluster(10, 30, "aa_short").objects, "cpsat", timeout=30).status
'infeasible'
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from kubeproof.model.objects import FrozenMap, Object, Pod, Taint, object_key
from kubeproof.model.scheduler.framework import NodeInfo
from kubeproof.model.scheduler.matching import (
    label_selector_matches,
    required_node_affinity_matches,
    taint_tolerated,
)
from kubeproof.model.scheduler.resources import (
    is_scalar_resource_name,
    node_allocatable,
    node_requested,
    pod_requests,
)
from kubeproof.model.scheduler.simulate import cluster_from_objects

__all__ = ["ENGINES", "NaiveAnswer", "naive_answer"]

ENGINES = ("z3", "cpsat")
_FIT_RESOURCES = ("cpu", "memory", "ephemeral-storage")
# upstream: pkg/scheduler/framework/plugins/nodeunschedulable: tolerating this taint lets a pod
# onto a node with spec.unschedulable.
_UNSCHEDULABLE_TAINT = Taint("node.kubernetes.io/unschedulable", "NoSchedule")


@dataclass(frozen=True)
class NaiveAnswer:
    """What a naive encoding said: feasible (with the assignment), infeasible, timeout (the
    budget ran out while building or solving), or too_large (more pairs than ``max_pairs``)."""

    engine: str
    status: str
    assignment: FrozenMap | None
    pairs: int
    build_seconds: float
    solve_seconds: float


class _Deadline(Exception):
    """The time budget ran out while building or solving."""


@dataclass
class _Model:
    """The encoding-neutral model: pair i is (pods[pair_pod[i]], nodes[pair_node[i]])."""

    pods: list[str]
    nodes: list[str]
    pair_pod: list[int] = field(default_factory=list)
    pair_node: list[int] = field(default_factory=list)
    exactly_one: list[list[int]] = field(default_factory=list)
    at_most: list[tuple[list[int], int]] = field(default_factory=list)
    at_least: list[tuple[list[int], int]] = field(default_factory=list)
    linear_le: list[tuple[list[tuple[int, int]], int]] = field(default_factory=list)


def _tolerated(pod: Pod, info: NodeInfo) -> bool:
    hard = (t for t in info.node.spec.taints if t.effect in ("NoSchedule", "NoExecute"))
    return all(taint_tolerated(t, pod.spec.tolerations) for t in hard)


def _unsupported(pod: Pod) -> str:
    affinity = pod.spec.affinity
    if affinity and affinity.pod_affinity and affinity.pod_affinity.required:
        return "required pod affinity"
    terms = affinity.pod_anti_affinity.required if affinity and affinity.pod_anti_affinity else ()
    if any(t.namespace_selector or t.match_label_keys or t.mismatch_label_keys for t in terms):
        return "an anti-affinity namespaceSelector or matchLabelKeys"
    if any(c.match_label_keys for c in pod.spec.topology_spread_constraints):
        return "a topology spread matchLabelKeys"
    ports = pod.spec.containers + pod.spec.init_containers
    if any(port.host_port for c in ports for port in c.ports):
        return "host ports"
    return ""


def _anti_terms(pod: Pod) -> tuple:
    affinity = pod.spec.affinity
    return affinity.pod_anti_affinity.required if affinity and affinity.pod_anti_affinity else ()


def _spreads(pod: Pod) -> tuple:
    return tuple(
        c for c in pod.spec.topology_spread_constraints if c.when_unsatisfiable == "DoNotSchedule"
    )


def _term_matches(term, holder: Pod, other: Pod) -> bool:
    namespaces = term.namespaces or (holder.metadata.namespace,)
    return other.metadata.namespace in namespaces and label_selector_matches(
        term.label_selector, other.metadata.labels
    )


def _blocked_domains(pod: Pod, infos: tuple[NodeInfo, ...]) -> set[tuple[str, str]]:
    """The (key, value) domains where a bound pod rules the pod out by anti-affinity, either
    way round (upstream InterPodAffinity counts existing pods' terms too)."""
    out = set()
    for info in infos:
        labels = info.node.metadata.labels
        for other in info.pods:
            for term in _anti_terms(pod):
                if term.topology_key in labels and _term_matches(term, pod, other):
                    out.add((term.topology_key, labels[term.topology_key]))
            for term in _anti_terms(other):
                if term.topology_key in labels and _term_matches(term, other, pod):
                    out.add((term.topology_key, labels[term.topology_key]))
    return out


def _eligible(pod: Pod, infos, free, blocked) -> list[int]:
    """The nodes the pod passes alone: taints, selectors, affinity, fit, spread keys."""
    requests = {r: v for r, v in pod_requests(pod).items() if v}
    keys = [c.topology_key for c in _spreads(pod)]
    blocked_keys = {key for key, _ in blocked}
    out = []
    for j, info in enumerate(infos):
        labels = info.node.metadata.labels
        if info.node.spec.unschedulable and not taint_tolerated(
            _UNSCHEDULABLE_TAINT, pod.spec.tolerations
        ):
            continue
        if not (_tolerated(pod, info) and required_node_affinity_matches(pod, info.node)):
            continue
        if any(k not in labels for k in keys) or free[j].get("pods", 0) < 1:
            continue
        if any(v > free[j].get(r, 0) for r, v in requests.items() if r in free[j]["checked"]):
            continue
        if any((key, labels.get(key)) in blocked for key in blocked_keys):
            continue
        out.append(j)
    return out


def _free(info: NodeInfo, names: set[str]) -> dict:
    allocatable, used = node_allocatable(info.node), node_requested(info.pods)
    out = {r: allocatable.get(r, 0) - used.get(r, 0) for r in names}
    out["pods"] = allocatable.get("pods", 0) - len(info.pods)
    out["checked"] = {r for r in names if r in _FIT_RESOURCES or is_scalar_resource_name(r)}
    return out


def _check_deadline(deadline: float) -> None:
    if time.perf_counter() > deadline:
        raise _Deadline


def _own_selection(holders: list[int], pods: list[Pod], matches) -> bool:
    """Whether ``matches(pod)`` selects exactly the holders' pods among all pending pods."""
    own = set(holders)
    return all(bool(matches(pod)) == (i in own) for i, pod in enumerate(pods))


def _domains(pairs: Iterable[int], model: _Model, infos, key: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for v in pairs:
        out[infos[model.pair_node[v]].node.metadata.labels[key]].append(v)
    return out


def _spread_domains(pod: Pod, constraint, infos) -> set[str]:
    """The values of the constraint's key that count as domains for the pod: nodes with every
    key of its constraints, matching its node affinity (nodeAffinityPolicy Honor, the default)
    and, under nodeTaintsPolicy Honor, whose taints it tolerates."""
    # upstream: pkg/scheduler/framework/plugins/podtopologyspread/filtering.go
    # calPreFilterState, and common.go matchNodeInclusionPolicies
    keys = [c.topology_key for c in _spreads(pod)]
    out = set()
    for info in infos:
        labels = info.node.metadata.labels
        if any(k not in labels for k in keys):
            continue
        if constraint.node_affinity_policy != "Ignore" and not required_node_affinity_matches(
            pod, info.node
        ):
            continue
        if constraint.node_taints_policy == "Honor" and not _tolerated(pod, info):
            continue
        out.add(labels[constraint.topology_key])
    return out


def _model(objects: Iterable[Object], deadline: float, max_pairs: int) -> _Model | int:
    """The model, or the number of pairs when it exceeds ``max_pairs``."""
    cluster = cluster_from_objects(objects)
    infos, pods = cluster.snapshot.nodes, list(cluster.pending)
    model = _Model([object_key(p) for p in pods], [i.name for i in infos])
    templates: dict[tuple, list[int]] = defaultdict(list)
    for i, pod in enumerate(pods):
        templates[(pod.metadata.namespace, pod.metadata.labels, pod.spec)].append(i)
    names = {r for pod in pods for r in pod_requests(pod)}
    free = [_free(info, names) for info in infos]
    eligible = {}
    for members in templates.values():
        pod = pods[members[0]]
        if problem := _unsupported(pod):
            raise ValueError(f"naive encoding: {object_key(pod)} has {problem}")
        eligible[members[0]] = _eligible(pod, infos, free, _blocked_domains(pod, infos))
        _check_deadline(deadline)
    pairs = sum(len(eligible[m[0]]) * len(m) for m in templates.values())
    if pairs > max_pairs:
        return pairs
    by_node: list[list[int]] = [[] for _ in infos]
    for members in templates.values():
        for i in members:
            group = []
            for j in eligible[members[0]]:
                group.append(len(model.pair_pod))
                by_node[j].append(len(model.pair_pod))
                model.pair_pod.append(i)
                model.pair_node.append(j)
            model.exactly_one.append(group)
        _check_deadline(deadline)
    requests = [pod_requests(pod) for pod in pods]
    for j, pairs_here in enumerate(by_node):
        for r in sorted(free[j]["checked"]):
            terms = [(v, requests[model.pair_pod[v]].get(r, 0)) for v in pairs_here]
            terms = [(v, c) for v, c in terms if c]
            if sum(c for _, c in terms) > free[j][r]:
                # divided by the coefficients' gcd (exact for integers): z3's PbLe takes C ints
                g = math.gcd(*(c for _, c in terms))
                model.linear_le.append(([(v, c // g) for v, c in terms], free[j][r] // g))
        if len(pairs_here) > free[j]["pods"]:
            model.at_most.append((pairs_here, free[j]["pods"]))
    _check_deadline(deadline)
    for members in templates.values():
        _workload_constraints(model, infos, pods, members)
        _check_deadline(deadline)
    return model


def _workload_constraints(model: _Model, infos, pods: list[Pod], members: list[int]) -> None:
    """Anti-affinity to itself, and DoNotSchedule topology spread, of one workload."""
    pod, own = pods[members[0]], set(members)
    pairs = [v for v, i in enumerate(model.pair_pod) if i in own]
    for term in _anti_terms(pod):
        if not _own_selection(members, pods, lambda p, t=term: _term_matches(t, pod, p)):
            raise ValueError(f"naive encoding: {object_key(pod)}: anti-affinity beyond itself")
        keyed = [
            v for v in pairs if term.topology_key in infos[model.pair_node[v]].node.metadata.labels
        ]
        for group in _domains(keyed, model, infos, term.topology_key).values():
            if len(group) > 1:
                model.at_most.append((group, 1))
    for constraint in _spreads(pod):
        selector = constraint.label_selector

        def matches(p: Pod, s=selector) -> bool:
            return p.metadata.namespace == pod.metadata.namespace and label_selector_matches(
                s, p.metadata.labels
            )

        bound = [p for info in infos for p in info.pods]
        if not _own_selection(members, pods, matches) or any(map(matches, bound)):
            raise ValueError(f"naive encoding: {object_key(pod)}: spread beyond itself")
        domains = dict.fromkeys(sorted(_spread_domains(pod, constraint, infos)), ())
        domains.update(_domains(pairs, model, infos, constraint.topology_key))
        skew, count = constraint.max_skew, len(domains)
        if count < (constraint.min_domains or 1):
            # upstream: the global minimum is 0 while there are fewer domains than minDomains
            model.at_most += [(list(d), skew) for d in domains.values() if d]
        elif skew == 1:
            # Every replica lands in a domain, so max - min <= 1 means each domain holds
            # floor(R/D) or ceil(R/D): pure cardinality bounds, far easier for z3 than the
            # pairwise differences below (research: 0.25 s against a timeout at 100 nodes).
            for d in domains.values():
                model.at_most.append((list(d), -(-len(members) // count)))
                model.at_least.append((list(d), len(members) // count))
        else:
            for a, in_a in domains.items():
                for b, in_b in domains.items():
                    if a != b and in_a:
                        terms = [(v, 1) for v in in_a] + [(v, -1) for v in in_b]
                        model.linear_le.append((terms, skew))


def _z3_answer(model: _Model, deadline: float) -> tuple[str, list[int] | None, float]:
    """The verdict, the chosen pairs, and the seconds spent in ``check``."""
    import z3

    xs = [z3.Bool(f"x{v}") for v in range(len(model.pair_pod))]
    solver = z3.Solver()
    for group in model.exactly_one:
        solver.add(z3.PbEq([(xs[v], 1) for v in group], 1))
        _check_deadline(deadline)
    for group, k in model.at_most:
        if group:
            solver.add(z3.AtMost(*(xs[v] for v in group), k))
    for group, k in model.at_least:
        solver.add(z3.AtLeast(*(xs[v] for v in group), k) if group else z3.BoolVal(k <= 0))
    _check_deadline(deadline)
    for terms, k in model.linear_le:
        solver.add(z3.PbLe([(xs[v], c) for v, c in terms], k))
    _check_deadline(deadline)
    solver.set("timeout", max(1, int((deadline - time.perf_counter()) * 1000)))
    start = time.perf_counter()
    result = solver.check()
    seconds = time.perf_counter() - start
    if result == z3.unsat:
        return "infeasible", None, seconds
    if result == z3.unknown:
        return "timeout", None, seconds
    chosen = solver.model()
    return "feasible", [v for v, x in enumerate(xs) if z3.is_true(chosen.eval(x))], seconds


def _cpsat_answer(model: _Model, deadline: float) -> tuple[str, list[int] | None, float]:
    """The verdict, the chosen pairs, and the seconds spent in ``solve``."""
    from ortools.sat.python import cp_model

    cp = cp_model.CpModel()
    xs = [cp.new_bool_var(f"x{v}") for v in range(len(model.pair_pod))]
    _check_deadline(deadline)
    for group in model.exactly_one:
        cp.add_exactly_one(xs[v] for v in group)
    for group, k in model.at_most:
        if k == 1:
            cp.add_at_most_one(xs[v] for v in group)
        else:
            cp.add(cp_model.LinearExpr.sum([xs[v] for v in group]) <= k)
    for group, k in model.at_least:
        cp.add(cp_model.LinearExpr.sum([xs[v] for v in group]) >= k)
    _check_deadline(deadline)
    for terms, k in model.linear_le:
        cp.add(
            cp_model.LinearExpr.weighted_sum([xs[v] for v, _ in terms], [c for _, c in terms]) <= k
        )
    _check_deadline(deadline)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.001, deadline - time.perf_counter())
    solver.parameters.num_workers = 2
    start = time.perf_counter()
    status = solver.solve(cp)
    seconds = time.perf_counter() - start
    if status == cp_model.INFEASIBLE:
        return "infeasible", None, seconds
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        if status == cp_model.MODEL_INVALID:
            raise RuntimeError(f"CP-SAT: invalid model: {cp.validate()}")
        return "timeout", None, seconds
    return "feasible", [v for v, x in enumerate(xs) if solver.boolean_value(x)], seconds


def naive_answer(
    objects: Iterable[Object], engine: str, timeout: float = 60.0, max_pairs: int = 5_000_000
) -> NaiveAnswer:
    """Whether the pending pods of ``objects`` fit, by the naive encoding on ``engine`` (z3 or
    cpsat), within ``timeout`` seconds for building and solving together."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; one of {', '.join(ENGINES)}")
    start = time.perf_counter()
    deadline = start + timeout
    pairs = 0
    try:
        model = _model(objects, deadline, max_pairs)
        if isinstance(model, int):
            return NaiveAnswer(engine, "too_large", None, model, time.perf_counter() - start, 0.0)
        pairs = len(model.pair_pod)
        encode = _z3_answer if engine == "z3" else _cpsat_answer
        status, chosen, solve = encode(model, deadline)
    except _Deadline:
        return NaiveAnswer(engine, "timeout", None, pairs, time.perf_counter() - start, 0.0)
    build = time.perf_counter() - start - solve
    assignment = None
    if chosen is not None:
        assignment = FrozenMap(
            (model.pods[model.pair_pod[v]], model.nodes[model.pair_node[v]]) for v in chosen
        )
    return NaiveAnswer(engine, status, assignment, pairs, build, solve)
