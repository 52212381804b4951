"""The placement queries: feasible, capacity, isolation, drain; and ``Placer``, which keeps what
one problem's queries share (its analysis, its verified placement for drain what-ifs).

>>> from kubeproof.model.objects import FrozenMap, Node, NodeStatus, ObjectMeta, Pod
>>> from kubeproof.model.quantity import parse_quantity as q
>>> from kubeproof.solvers.placement.problem import problem_from_objects
>>> room = NodeStatus(allocatable=FrozenMap(cpu=q("2"), pods=q("9")))
>>> nodes = [Node(ObjectMeta(name=n), status=room) for n in ("a", "b")]
>>> placer = Placer(problem_from_objects([*nodes, Pod(ObjectMeta(name="p"))]))
>>> placer.feasible().feasible, placer.drain(["a"]).possible, placer.drain(["a", "b"]).possible
(True, True, False)
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kubeproof.model.objects import LabelSelector, Pod
from kubeproof.model.scheduler.framework import SKIP, NodeInfo
from kubeproof.solvers.placement.check import verify
from kubeproof.solvers.placement.decide import Outcome, decide, exact_at_least, left
from kubeproof.solvers.placement.encode import encode, group_cells
from kubeproof.solvers.placement.explain import gated_lines, pools_text, why_nodes
from kubeproof.solvers.placement.problem import Problem
from kubeproof.solvers.placement.selector import parse_selector, selector_matches, selector_text
from kubeproof.solvers.placement.whatif import Displacement, drained, repair
from kubeproof.solvers.placement.z3backend import SAT, UNKNOWN, UNSAT, Z3Model

__all__ = [
    "DEFAULT_TIMEOUT",
    "Answer",
    "CapacityAnswer",
    "DrainAnswer",
    "IsolationAnswer",
    "Placer",
    "capacity",
    "drain",
    "feasible",
    "isolation",
]

DEFAULT_TIMEOUT = 60.0
ISOLATION_PLUGINS = ("TaintToleration", "NodeAffinity", "NodeName")


@dataclass(frozen=True)
class Answer:
    """Does everything fit: ``feasible`` True (with the ``assignment`` of every pending pod,
    ``namespace/name`` to node), False (with the ``explanation``, a minimal set of conflicting
    facts, one per line) or None (out of time). ``method`` says what decided it. The
    explanation ends with a ``Left out:`` line per workload whose pods have scheduling gates
    (``explain.gated_lines``), whatever the answer."""

    feasible: bool | None
    assignment: Mapping[str, str]
    explanation: tuple[str, ...]
    seconds: float
    method: str = ""


@dataclass(frozen=True)
class CapacityAnswer:
    """The most replicas of ``workload`` that fit with every other workload in place
    (``max_replicas``, with an ``assignment`` at that count), and why one more does not.
    ``feasible`` is False when the others do not fit even with no replica of it, None when time
    ran out (``max_replicas`` is then None; ``at_least`` is the most a verified assignment,
    given, placed by then)."""

    workload: str
    max_replicas: int | None
    feasible: bool | None
    assignment: Mapping[str, str]
    explanation: tuple[str, ...]
    seconds: float
    at_least: int | None = None


@dataclass(frozen=True)
class IsolationAnswer:
    """Can a pod of ``workload`` ever run on a node matching ``selector``, by taints, node
    selector and node affinity (and nodeName)? ``witness`` is such a node when ``possible``."""

    workload: str
    selector: str
    possible: bool
    witness: str | None
    explanation: tuple[str, ...]
    seconds: float


@dataclass(frozen=True)
class DrainAnswer:
    """Could the pods of ``nodes`` (kept there when ``cordon_only``) go elsewhere, with every
    pending workload placed too: ``moves`` maps each evicted pod to its new node,
    ``assignment`` every pod to place (pending and evicted)."""

    nodes: tuple[str, ...]
    possible: bool | None
    moves: Mapping[str, str]
    assignment: Mapping[str, str]
    explanation: tuple[str, ...]
    seconds: float


def _assignment(problem: Problem, counts: Mapping[tuple[int, int], int]) -> dict[str, str]:
    """Each pending pod's node: replicas named in order over the template's nodes in order."""
    nodes = problem.snapshot.nodes
    targets: list[list[str]] = [[] for _ in problem.templates]
    for (t, n), k in sorted(counts.items()):
        targets[t] += [nodes[n].name] * k
    out: dict[str, str] = {}
    for t, template in enumerate(problem.templates):
        out.update(zip(template.pod_keys(), targets[t], strict=True))
    return out


# --- the queries ------------------------------------------------------------------------------


class Placer:
    """The queries over one problem, sharing its analysis (computed once, on first use) and
    its placement: a drain what-if moves only what the drained nodes held, from the verified
    placement ``feasible`` found (``whatif.repair``), and solves afresh only when that does
    not apply."""

    def __init__(self, problem: Problem):
        self.problem = problem
        self._placed: Outcome | None = None

    def _placement(self, deadline: float) -> Outcome:
        if self._placed is None or self._placed.feasible is None:
            self._placed = decide(self.problem, deadline)
        return self._placed

    def feasible(self, timeout: float = DEFAULT_TIMEOUT) -> Answer:
        """Does every pending pod fit (see ``Answer``)."""
        start = time.perf_counter()
        outcome = self._placement(time.monotonic() + timeout)
        assignment = _assignment(self.problem, outcome.counts) if outcome.feasible else {}
        lines = outcome.explanation + gated_lines(self.problem)
        seconds = time.perf_counter() - start
        return Answer(outcome.feasible, assignment, lines, seconds, outcome.method)

    def capacity(self, workload: str, timeout: float = DEFAULT_TIMEOUT) -> CapacityAnswer:
        """The most replicas of ``workload`` (``namespace/name``) that fit with the others.

        "At least k fit" only gets harder as k grows, so the answer is found by bisection: the
        relaxation bounds it from above (a proof), first-fit packings from below (verified
        placements), and the exact model closes the gap one proof at a time.
        """
        start, deadline = time.perf_counter(), time.monotonic() + timeout
        problem = self.problem
        t = problem.template_index(workload)
        key = problem.templates[t].workload.key

        def answer(most, fits, counts, lines, low=None) -> CapacityAnswer:
            chosen = problem.with_replicas(t, most if most is not None else low or 0)
            assignment = _assignment(chosen, counts) if counts else {}
            seconds = time.perf_counter() - start
            return CapacityAnswer(key, most, fits, assignment, lines, seconds, low)

        out_of_time = ("The time limit ran out before an answer.",)
        if left(deadline) <= 0:  # before the analysis and the model, which take seconds
            return answer(None, None, {}, out_of_time)
        top = self._most(t, deadline)
        if top is None:
            return answer(None, None, {}, out_of_time)
        best = decide(problem.with_replicas(t, 0), deadline)
        if not best.feasible:
            if best.feasible is None:
                return answer(None, None, {}, best.explanation)
            lines = (f"Even with no replica of {key}, the other workloads do not fit:",)
            return answer(None, False, {}, lines + best.explanation)
        low, high = 0, top + 1  # low fits (best places it); at least high does not
        probe = high  # first-fit alone, cheaply, below the proved bound
        while probe - low > 1:
            middle = (low + probe) // 2
            outcome = decide(problem.with_replicas(t, middle), deadline, False, exact=False)
            if outcome.feasible:
                low, best = middle, outcome
            else:
                probe = middle  # not packed (or refuted for exactly that many): look lower
        while high - low > 1:  # the exact model, by bisection: do at least this many fit?
            middle = (low + high) // 2
            status, counts = exact_at_least(problem.with_replicas(t, middle), t, deadline)
            if status == UNSAT:
                high = middle
            elif status == SAT:
                placed = sum(k for (u, _), k in counts.items() if u == t)
                final = verify(problem.with_replicas(t, placed), counts)
                low, best = placed, Outcome(True, counts, (), "exact model", final)
            else:
                lines = (
                    f"At least {low} replicas of {key} fit (the assignment places them) and at "
                    f"most {high - 1} can; the time limit ran out before the exact maximum.",
                )
                return answer(None, None, best.counts, lines, low)
        quarter = time.monotonic() + max(left(deadline), 0.0) / 4  # a bounded explanation
        why = decide(problem.with_replicas(t, low + 1), min(deadline, quarter)).explanation
        return answer(low, True, best.counts, why, low)

    def _most(self, t: int, deadline: float) -> int | None:
        """The largest count of template ``t`` the relaxation admits (-1: not even 0; None:
        out of time), by binary search on one warm z3 solver."""
        analysis = self.problem.analysis
        replicas = [x.replicas for x in self.problem.templates]
        replicas[t] = 0
        encoding = encode(analysis, replicas, group_cells(analysis), at_least=t)
        solver = Z3Model(encoding.model)
        terms = [(1, v) for (u, _), v in encoding.x.items() if u == t]
        low, high = -1, sum(analysis.fit(t, n) for n in range(len(analysis.room)))
        while low < high:
            middle = (low + high + 1) // 2
            solver.push()
            solver.add(terms, middle, None)
            status = solver.check(solver.facts, max(left(deadline), 0.001))
            solver.pop()
            if status == UNKNOWN:
                return None
            low, high = (middle, high) if status == SAT else (low, middle - 1)
        return low

    def isolation(self, workload: str, selector: str | LabelSelector) -> IsolationAnswer:
        """Can a pod of ``workload`` ever run on a node matching ``selector`` (see
        ``IsolationAnswer``)? Decided for every matching node by the concrete plugins; all
        replicas share one pod template, so the answer holds for every replica."""
        start = time.perf_counter()
        problem = self.problem
        t = problem.template_index(workload)
        template = problem.templates[t]
        chosen = parse_selector(selector) if isinstance(selector, str) else selector
        text = selector if isinstance(selector, str) else selector_text(selector)
        infos = problem.snapshot.nodes
        matching = [
            n for n, i in enumerate(infos) if selector_matches(chosen, i.node.metadata.labels)
        ]
        plugins = [p for p in problem.profile.filters if p.name in ISOLATION_PLUGINS]
        pre = [(p, p.pre_filter(template.pod, problem.snapshot)) for p in plugins]
        refused: dict[str, list[int]] = {}
        allowed = []
        for n in matching:
            plugin = _refusing(pre, template.pod, infos[n])
            if plugin is None:
                allowed.append(n)
            else:
                refused.setdefault(plugin, []).append(n)
        key = template.workload.key
        if not matching:
            lines = (f"No node matches {text}.",)
            return IsolationAnswer(key, text, False, None, lines, time.perf_counter() - start)
        if allowed:
            witness = infos[allowed[0]].name
            lines = (
                f"{template.workload} can run on {len(allowed)} of the {len(matching)} nodes "
                f"matching {text}: {pools_text(problem, allowed)}, e.g. {witness}; it tolerates "
                f"their taints and matches their labels (so can every one of its "
                f"{template.replicas} replicas: they share one pod template).",
            )
            return IsolationAnswer(key, text, True, witness, lines, time.perf_counter() - start)
        reasons = "; ".join(why_nodes(problem, t, plugin, n) for plugin, n in refused.items())
        lines = (
            f"{template.workload} never runs on the {len(matching)} nodes matching {text}: "
            f"{reasons} (proved for all {template.replicas} replicas: they share one pod "
            "template).",
        )
        return IsolationAnswer(key, text, False, None, lines, time.perf_counter() - start)

    def drain(
        self, nodes: Iterable[str], cordon_only: bool = False, timeout: float = DEFAULT_TIMEOUT
    ) -> DrainAnswer:
        """Could the pods of ``nodes`` move elsewhere, with every pending pod placed too?"""
        start, deadline = time.perf_counter(), time.monotonic() + timeout
        names = tuple(nodes)
        problem = drained(self.problem, names, cordon_only)
        indices = frozenset(self.problem.node_index(name) for name in names)
        outcome = None
        placed = self._placement(deadline)
        if placed.feasible:
            counts = repair(self.problem, placed.counts, problem, indices)
            if counts is not None:
                since = Displacement(self.problem, placed.counts, placed.final, indices)
                final = verify(problem, counts, since)
                outcome = Outcome(True, counts, (), "local repair of the placement", final)
        if outcome is None:
            outcome = decide(problem, deadline)
        assignment = _assignment(problem, outcome.counts) if outcome.feasible else {}
        moved = {k for t in problem.templates[len(self.problem.templates) :] for k in t.pod_keys()}
        moves = {k: v for k, v in assignment.items() if k in moved}
        seconds = time.perf_counter() - start
        return DrainAnswer(names, outcome.feasible, moves, assignment, outcome.explanation, seconds)


def _refusing(pre: list, pod: Pod, info: NodeInfo) -> str | None:
    """The first plugin that refuses the pod on the node, or None."""
    for plugin, result in pre:
        if result.status.code == SKIP:
            continue
        outside = result.node_names is not None and info.name not in result.node_names
        if not result.status.is_success or outside:
            return plugin.name
        if not plugin.filter(result.state, pod, info).is_success:
            return plugin.name
    return None


def feasible(problem: Problem, timeout: float = DEFAULT_TIMEOUT) -> Answer:
    """Does every pending pod fit (``Placer(problem).feasible``)."""
    return Placer(problem).feasible(timeout)


def capacity(problem: Problem, workload: str, timeout: float = DEFAULT_TIMEOUT) -> CapacityAnswer:
    """The most replicas of a workload that fit with the others (``Placer.capacity``)."""
    return Placer(problem).capacity(workload, timeout)


def isolation(problem: Problem, workload: str, selector: str | LabelSelector) -> IsolationAnswer:
    """Can the workload ever run on a node matching the selector (``Placer.isolation``)."""
    return Placer(problem).isolation(workload, selector)


def drain(
    problem: Problem,
    nodes: Iterable[str],
    cordon_only: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> DrainAnswer:
    """Could the nodes be drained (``Placer.drain``)."""
    return Placer(problem).drain(nodes, cordon_only, timeout)
