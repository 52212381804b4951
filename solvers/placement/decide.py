"""How ``feasible`` decides, every answer exact:

0. A template with replicas that no node admits and no rule involves (``_stranded``) is
   infeasible by its eligibility alone, explained without a model (a drain of every node a
   workload may use: seconds of encoding saved at 5,000 nodes).
1. z3 on the class-level relaxation (one cell per node group; milliseconds at any size). UNSAT
   is a proof: a preferred minimal conflict among its Facts is the explanation (``explain``).
2. SAT: first-fit decreasing packs each group's share onto its nodes (``construct``); a group
   it cannot pack has its load capped at what did pack and z3 is asked again (a few rounds).
3. Still not packed: z3 on the pattern relaxation (``patterns.bounding_cells``: per group, the
   fills of its largest node); UNSAT there is a bin packing proved and explained on a few
   patterns. Else the exact model (per node, or per class of identical nodes with patterns),
   with CP-SAT when OR-tools is installed and the model has more than ``CPSAT_ABOVE``
   variables, else z3; z3 explains its UNSAT.
4. Every assignment is verified pod by pod (``check.verify``) before it is returned. A timeout
   at any step gives ``feasible=None``, never a feasibility claim.

>>> import time
>>> from kubeproof.model.objects import FrozenMap, Node, NodeStatus, ObjectMeta, Pod
>>> from kubeproof.model.quantity import parse_quantity as q
>>> from kubeproof.solvers.placement.problem import problem_from_objects
>>> node = Node(ObjectMeta(name="n1"), status=NodeStatus(allocatable=FrozenMap(pods=q("9"))))
>>> outcome = decide(problem_from_objects([node, Pod(ObjectMeta(name="a"))]), time.monotonic() + 9)
>>> outcome.feasible, dict(outcome.counts), outcome.method
(True, {(0, 0): 1}, 'z3 class-level relaxation + first-fit packing')
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace

from kubeproof.model.scheduler.framework import Snapshot
from kubeproof.solvers.placement import cpsat
from kubeproof.solvers.placement.check import verify
from kubeproof.solvers.placement.construct import node_counts
from kubeproof.solvers.placement.encode import encode, group_cells
from kubeproof.solvers.placement.explain import explanation, phrase
from kubeproof.solvers.placement.model import ELIGIBLE, REPLICAS, Fact
from kubeproof.solvers.placement.patterns import bounding_cells, exact_cells
from kubeproof.solvers.placement.problem import Problem
from kubeproof.solvers.placement.z3backend import SAT, UNKNOWN, UNSAT, Z3Model

__all__ = ["CPSAT_ABOVE", "PACKING_ROUNDS", "Outcome", "decide", "exact_at_least", "left"]

PACKING_ROUNDS = 8
# Variables (integers and Booleans) of the exact model above which CP-SAT solves it, when
# installed. On a tight packing with a cell per node z3 decides 91 variables in 0.05 s, less
# than loading OR-tools takes (0.3 s); above, its search grows steeply (0.6 s at 101, 4 s at
# 151, 18 s at 251, over 60 s at 501) where CP-SAT takes 0.3 to 0.7 s (2.6 s at 501; README).
CPSAT_ABOVE = 96


@dataclass(frozen=True)
class Outcome:
    """What ``decide`` found: feasible with verified node counts (and the final snapshot
    checked), infeasible with an explanation, or unknown; ``method`` says what decided it."""

    feasible: bool | None
    counts: Mapping[tuple[int, int], int]
    explanation: tuple[str, ...]
    method: str
    final: Snapshot | None = None  # the verified final snapshot, when feasible


def left(deadline: float) -> float:
    """Seconds until the deadline (a ``time.monotonic`` reading)."""
    return deadline - time.monotonic()


def _unknown(method: str) -> Outcome:
    return Outcome(None, {}, ("The time limit ran out before an answer.",), method)


def _relaxed(
    problem: Problem, solver: Z3Model, encoding, deadline: float
) -> dict[tuple[int, int], int] | None:
    """Node counts packed from the relaxation's model; where a group would not pack, z3 is
    asked again with that group's load capped at what did pack (a heuristic steer, not a
    fact: it only ever leads to an assignment, which is verified), a few times. None when
    that does not succeed."""
    analysis = problem.analysis
    counts, short = node_counts(analysis, encoding, solver.values(), solver.booleans())
    templates = range(len(problem.templates))
    rounds = 0
    solver.push()
    try:
        while short and rounds < PACKING_ROUNDS and left(deadline) > 0:
            cells = {c for (_, c), k in short.items() if k}
            if not cells:
                break
            for c in cells:
                _cap_load(analysis, solver, encoding, c, counts, templates)
            if solver.check(solver.facts, left(deadline)) != SAT:
                break
            counts, short = node_counts(analysis, encoding, solver.values(), solver.booleans())
            rounds += 1
    finally:
        solver.pop()
    return None if short else counts


def _cap_load(analysis, solver: Z3Model, encoding, c: int, counts, templates) -> None:
    """Cap a cell's load, per resource and in pods, at what the packing placed there."""
    nodes = set(encoding.cells[c])
    here = [(t, encoding.x[(t, c)]) for t in templates if (t, c) in encoding.x]
    placed = {t: 0 for t in templates}
    for (t, n), k in counts.items():
        if n in nodes:
            placed[t] += k
    for r in range(len(analysis.resources)):
        terms = [(analysis.requests[t][r], var) for t, var in here]
        solver.add(terms, None, sum(analysis.requests[t][r] * k for t, k in placed.items()))
    solver.add([(1, var) for _, var in here], None, sum(placed.values()))


def _solve_exact(
    problem: Problem, deadline: float, at_least: int = -1, restricted: bool = True
) -> tuple[str, dict[tuple[int, int], int], str, object]:
    """The exact model (a cell per node, or per class of identical nodes with patterns) solved:
    CP-SAT when installed and the model has more than ``CPSAT_ABOVE`` variables, else z3.
    ``(status, counts, method, (cells, patterns))``; ``at_least`` lets that template take
    more than its replicas."""
    analysis = problem.analysis
    replicas = [t.replicas for t in problem.templates]
    cells, patterns = exact_cells(analysis)
    encoding = encode(
        analysis, replicas, cells, patterns=patterns, at_least=at_least, restricted=restricted
    )
    size = len(encoding.model.bounds) + encoding.model.booleans
    if size > CPSAT_ABOVE and cpsat.available():
        method = "CP-SAT exact model"
        status, values = cpsat.solve(encoding.model, max(left(deadline), 0.01))
    else:
        method = "z3 exact model"
        solver = Z3Model(encoding.model)
        status = solver.check(solver.facts, max(left(deadline), 0.001))
        values = solver.values() if status == SAT else []
    counts = encoding.node_counts(values) if status == SAT else {}
    return status, counts, method, (cells, patterns)


def exact_at_least(problem: Problem, template: int, deadline: float) -> tuple[str, dict]:
    """Whether at least the problem's replicas of ``template`` fit (the others as they are),
    by the exact model: ``(status, counts)`` with counts placing some number at least that."""
    status, counts, _, _ = _solve_exact(problem, deadline, at_least=template)
    return status, counts


def _bounded(
    problem: Problem, deadline: float, explain: bool, restricted: bool = True
) -> Outcome | None:
    """Infeasible, explained, when the pattern relaxation (``patterns.bounding_cells``)
    refutes the placement: a bin packing proved on a few patterns per group rather than on
    every node; None when it does not."""
    analysis = problem.analysis
    cells, patterns = bounding_cells(analysis)
    if not patterns:
        return None
    replicas = [t.replicas for t in problem.templates]
    encoding = encode(
        analysis, replicas, cells, explain=True, patterns=patterns, restricted=restricted
    )
    solver = Z3Model(encoding.model)
    if solver.check(solver.facts, max(left(deadline), 0.001)) != UNSAT:
        return None
    lines = explanation(problem, solver, solver.core(), deadline) if explain else ()
    return Outcome(False, {}, lines, "z3 pattern relaxation")


def _exact(problem: Problem, deadline: float, explain: bool, restricted: bool = True) -> Outcome:
    """The exact model decides; z3 explains an UNSAT."""
    status, counts, method, (cells, patterns) = _solve_exact(
        problem, deadline, restricted=restricted
    )
    if status == SAT:
        return Outcome(True, counts, (), method)
    if status == UNKNOWN:
        return _unknown(method)
    if not explain:
        return Outcome(False, {}, (), method)
    analysis = problem.analysis
    replicas = [t.replicas for t in problem.templates]
    traced = encode(
        analysis, replicas, cells, explain=True, patterns=patterns, restricted=restricted
    )
    solver = Z3Model(traced.model)
    status = solver.check(solver.facts, max(left(deadline), 0.001))
    if status == SAT:
        raise AssertionError(f"internal error: z3 satisfies the exact model {method} refuted")
    if status == UNKNOWN:
        lines = (
            "No packing of the nodes' free capacity places every replica (the exact model is "
            "infeasible); the time limit ran out before z3 named the conflicting facts.",
        )
        return Outcome(False, {}, lines, method)
    return Outcome(False, {}, explanation(problem, solver, solver.core(), deadline), method)


def decide(problem: Problem, deadline: float, explain: bool = True, exact: bool = True) -> Outcome:
    """Feasible with verified node counts, infeasible with an explanation, or unknown.

    ``exact`` False stops where first-fit cannot pack the relaxation's answer (unknown then):
    the cheap half, for searches that prove their bounds otherwise. Where required pod
    affinity runs in a cycle, infeasible under the restricted reading (``rules.Affinity``)
    is only reported when the final-state reading refutes it too; else unknown.
    """
    outcome = _decide(problem, deadline, explain, exact)
    if outcome.feasible is False and any(a.mates for a in problem.analysis.rules.affinities):
        return _permissive(problem, deadline, explain) or _cycle_unknown(problem)
    return outcome


def _decide(problem: Problem, deadline: float, explain: bool, exact: bool) -> Outcome:
    relaxation = "z3 class-level relaxation"
    if left(deadline) <= 0:
        return _unknown(relaxation)
    analysis = problem.analysis
    stranded = _stranded(problem)
    if stranded is not None:
        lines = phrase(problem, stranded) if explain else ()
        return Outcome(False, {}, lines, "static filters: a workload no node admits")
    replicas = [t.replicas for t in problem.templates]
    encoding = encode(analysis, replicas, group_cells(analysis), explain=True)
    solver = Z3Model(encoding.model)
    status = solver.check(solver.facts, max(left(deadline), 0.001))
    if status == UNKNOWN:
        return _unknown(relaxation)
    if status == UNSAT:
        lines = explanation(problem, solver, solver.core(), deadline) if explain else ()
        return Outcome(False, {}, lines, relaxation)
    counts = _relaxed(problem, solver, encoding, deadline)
    if counts is None and (left(deadline) <= 0 or not exact):
        return _unknown(relaxation)
    if counts is not None:
        outcome = Outcome(True, counts, (), f"{relaxation} + first-fit packing")
    else:
        outcome = _bounded(problem, deadline, explain) or _exact(problem, deadline, explain)
    if outcome.feasible:
        outcome = replace(outcome, final=verify(problem, outcome.counts))
    return outcome


def _stranded(problem: Problem) -> list[Fact] | None:
    """The Facts of the first template with replicas that no node admits and that takes part
    in no rule (its replicas and its exclusion from every group): the relaxation's preferred
    minimal conflict when z3's core names that template alone, found without a model (a
    drain of every node a workload may use gives it); None when there is none."""
    analysis = problem.analysis
    rules = analysis.rules
    ruled = {s.template for s in rules.spreads} | {u for s in rules.spreads for u in s.counted}
    ruled |= {u for a in rules.antis for u in (a.owner, a.first, a.second)}
    ruled |= {u for a in rules.affinities for u in (a.template, *a.targets, *a.mates)}
    ruled |= {u for p in rules.ports for u in (p.first, p.second)}
    for t, template in enumerate(problem.templates):
        row = analysis.exclusions[t]
        if template.replicas <= 0 or t in ruled or any(e is None for e in row):
            continue
        groups = {analysis.group_of[n]: e.plugin for n, e in enumerate(row)}
        return [Fact(REPLICAS, t), *(Fact(ELIGIBLE, t, g, p) for g, p in groups.items())]
    return None


def _permissive(problem: Problem, deadline: float, explain: bool) -> Outcome | None:
    """Infeasible even when every target counts (the final-state reading, which admits every
    placement a scheduler reaches): a proof the restricted reading of affinity cycles did not
    need; None when it is not refuted."""
    analysis = problem.analysis
    replicas = [t.replicas for t in problem.templates]
    encoding = encode(analysis, replicas, group_cells(analysis), explain=True, restricted=False)
    solver = Z3Model(encoding.model)
    status = solver.check(solver.facts, max(left(deadline), 0.001))
    if status == UNSAT:
        lines = explanation(problem, solver, solver.core(), deadline) if explain else ()
        return Outcome(False, {}, lines, "z3 class-level relaxation")
    if status == UNKNOWN:
        return None
    refuted = _bounded(problem, deadline, explain, restricted=False)
    if refuted is None:
        refuted = _exact(problem, deadline, explain, restricted=False)
    return refuted if refuted.feasible is False else None


def _cycle_unknown(problem: Problem) -> Outcome:
    """Unknown: only reaching the placement one pod at a time is in doubt (see the rules)."""
    cycles = {
        tuple(sorted({a.template, *a.mates})) for a in problem.analysis.rules.affinities if a.mates
    }
    names = "; ".join(
        " and ".join(str(problem.templates[t].workload) for t in cycle) for cycle in sorted(cycles)
    )
    line = (
        f"Required pod affinity runs in a cycle ({names}): a placement exists where each "
        "finds the other, but whether a scheduler placing one pod at a time can reach one is "
        "not decided here."
    )
    return Outcome(None, {}, (line,), "z3 relaxations of pod affinity cycles")
