"""``kubeproof prove``: decide each theorem about a scheduler profile within a bound.

For every shape the bound allows, z3 looks for a model of the instance's violation under the
objects' well-formedness. None for any shape: *proved* (within the bound). A model: a
*counterexample*, rendered as concrete Pod and Node objects (and as YAML manifests). A solver
timeout, the time budget running out, or a plugin failing on symbolic values: *unknown* —
never *proved*.

How a shape is decided, cheapest first (each step sound for *unsat* only; a model is always
searched for over the whole instance before it is reported):

- an instance's *lemmas*, when it has them (T4: one per plugin and node; T6: one per filter
  plugin), each refuted on its own;
- the violation with z3's ``str.to_int`` replaced by plain integer variables (node affinity's
  Gt and Lt parse labels; the string solver is slow at it, and proofs only need that one string
  gives one integer);
- only the well-formedness constraints that share variables with the query; a query seen
  before (z3 terms are hash-consed) is not solved again; integer-only queries (scores) go to
  z3's nonlinear arithmetic tactic.

>>> from kubeproof.solvers.theorems import Bound
>>> result = next(prove(["T1"], bound=Bound(taints=1, tolerations=1)))
>>> result.name, result.verdict
('T1', 'proved')
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import z3
from z3 import z3core as C

from kubeproof.model.objects import Node, Pod
from kubeproof.model.scheduler.framework import NodeInfo
from kubeproof.model.scheduler.profile import Profile, default_profile
from kubeproof.solvers.symbolic import concretize
from kubeproof.solvers.theorems import DOMAIN, THEOREMS, Bound, Instance, Theorem, theorem

__all__ = ["COUNTEREXAMPLE", "PROVED", "UNKNOWN", "Result", "prove"]

PROVED, COUNTEREXAMPLE, UNKNOWN = "proved", "counterexample", "unknown"
DEFAULT_TIMEOUT_SECONDS = 60.0
# Integer-only queries (scores, with truncating divisions) go to these in turn, each with a
# growing share of the time: z3's nonlinear heuristics are erratic, and one that stalls on a
# query is often instant with another.
_ARITHMETIC = (
    z3.Then("simplify", "propagate-values", "solve-eqs", "qfnia"),
    z3.Then(
        z3.With("simplify", arith_lhs=True, som=True),
        "propagate-values",
        "solve-eqs",
        "elim-term-ite",
        "qfnia",
    ),
    z3.Then("simplify", "propagate-values", "solve-eqs", "smt"),
)
_ARITHMETIC_SLICES = (0.5, 0.5, 0.5, 2.0, 2.0, 2.0)  # seconds; then the rest, to the first


@dataclass(frozen=True, slots=True)
class Result:
    """One theorem's verdict. A counterexample carries the pod and the nodes (with the pods on
    them); ``node`` is the first node."""

    name: str
    statement: str
    bound: str
    verdict: str
    seconds: float
    shapes: int = 0  # how many shapes were decided
    note: str = ""  # the counterexample's shape, or why the verdict is unknown
    pod: Pod | None = None
    nodes: tuple[NodeInfo, ...] = ()

    @property
    def node(self) -> Node | None:
        return self.nodes[0].node if self.nodes else None

    def objects(self) -> tuple[Any, ...]:
        """The counterexample's objects: the pod, the nodes, then the pods on the nodes."""
        if self.pod is None:
            return ()
        bound = tuple(p for info in self.nodes for p in info.pods)
        return (self.pod, *(info.node for info in self.nodes), *bound)

    def manifests(self) -> str:
        """The counterexample as multi-document YAML ("" when there is none)."""
        from kubeproof.model.manifests import dump_objects

        return dump_objects(self.objects()) if self.pod is not None else ""


def _theorems(names: Iterable[str | Theorem] | None) -> list[Theorem]:
    if names is None:
        return list(THEOREMS)
    return [n if isinstance(n, Theorem) else theorem(n) for n in names]


class _Terms:
    """What the solver needs to know of a term, read straight from z3's C API (the Python
    wrappers are too slow for terms of many thousand nodes): its variables and its str.to_int
    applications. Results are remembered by AST id; the terms are kept alive so that no id
    is reused while this object lives."""

    def __init__(self) -> None:
        self.ctx = z3.main_ctx()
        self.variables: dict[int, frozenset[int]] = {}
        self.arithmetic: set[int] = set()  # the Int and Bool variables
        self.to_int: dict[int, frozenset[int]] = {}
        self.asts: dict[int, Any] = {}  # id -> raw AST of every str.to_int application
        self.alive: list[Any] = []

    def _visit(self, term: Any) -> int:
        ref = self.ctx.ref()
        root = term.as_ast()
        stack = [(root, False)]
        while stack:
            ast, expanded = stack.pop()
            key = C.Z3_get_ast_id(ref, ast)
            if key in self.variables:
                continue
            if C.Z3_get_ast_kind(ref, ast) != z3.Z3_APP_AST:
                self.variables[key] = self.to_int[key] = frozenset()
                continue
            app = C.Z3_to_app(ref, ast)
            n = C.Z3_get_app_num_args(ref, app)
            kind = C.Z3_get_decl_kind(ref, C.Z3_get_app_decl(ref, app))
            if n == 0:
                unknown = kind == z3.Z3_OP_UNINTERPRETED
                self.variables[key] = frozenset((key,)) if unknown else frozenset()
                sort = C.Z3_get_sort_kind(ref, C.Z3_get_sort(ref, ast))
                if unknown and sort in (z3.Z3_INT_SORT, z3.Z3_BOOL_SORT):
                    self.arithmetic.add(key)
                self.to_int[key] = frozenset()
            elif expanded:
                ids = [C.Z3_get_ast_id(ref, C.Z3_get_app_arg(ref, app, i)) for i in range(n)]
                self.variables[key] = frozenset().union(*(self.variables[i] for i in ids))
                to_int = frozenset().union(*(self.to_int[i] for i in ids))
                if kind == z3.Z3_OP_STR_TO_INT:
                    to_int |= {key}
                    self.asts[key] = ast
                self.to_int[key] = to_int
            else:
                stack.append((ast, True))
                stack.extend((C.Z3_get_app_arg(ref, app, i), False) for i in range(n))
        self.alive.append(term)
        return C.Z3_get_ast_id(ref, root)

    def vars_of(self, term: Any) -> frozenset[int]:
        return self.variables[self._visit(term)]

    def without_str_to_int(self, term: Any) -> Any:
        """``term`` with every ``str.to_int(s)`` replaced by an integer variable (one per
        distinct ``s``): an over-approximation, so *unsat* carries over to ``term``. z3's
        string solver is slow on str.to_int, which only node affinity's Gt and Lt use, and a
        proof rarely needs more than that the same string gives the same integer."""
        found = self.to_int[self._visit(term)]
        if not found:
            return term
        pairs = [(z3.IntNumRef(self.asts[k], self.ctx), z3.Int(f"str.to_int!{k}")) for k in found]
        return z3.substitute(term, *pairs)


class _Solver:
    """Solves queries with a deadline. A query is the formula and the well-formedness
    constraints that share variables with it (transitively): the others constrain variables
    it does not mention and cannot make it unsatisfiable. Unsat answers are remembered by the
    query's terms (z3 terms are hash-consed, so equal ids are equal terms): a plugin whose
    score does not read a part of the shape gives the same query for every shape."""

    def __init__(self, deadline: float):
        self.deadline = deadline
        self.terms = _Terms()
        self.unsat: set[tuple[int, frozenset[int]]] = set()

    def _timeout_ms(self) -> int:
        return max(1, int((self.deadline - time.monotonic()) * 1000))

    def _relevant(self, formula: Any, constraints: tuple[Any, ...]) -> list[Any]:
        wanted = set(self.terms.vars_of(formula))
        entries = [(c, self.terms.vars_of(c)) for c in constraints]
        chosen, changed = [], True
        while changed:
            changed, rest = False, []
            for entry in entries:
                if entry[1] & wanted:
                    chosen.append(entry[0])
                    wanted |= entry[1]
                    changed = True
                else:
                    rest.append(entry)
            entries = rest
        return chosen

    def refuted(self, formula: Any, constraints: tuple[Any, ...]) -> bool:
        """Whether ``formula`` is unsatisfiable under the constraints (False: sat or unknown),
        trying it with str.to_int abstracted first."""
        for candidate in (self.terms.without_str_to_int(formula), formula):
            relevant = self._relevant(candidate, constraints)
            key = (candidate.get_id(), frozenset(c.get_id() for c in relevant))
            if key in self.unsat:
                return True
            variables = self.terms.vars_of(candidate).union(
                *(self.terms.vars_of(c) for c in relevant)
            )
            if variables <= self.terms.arithmetic:
                answer = self._arithmetic(relevant, candidate)
            else:
                solver = z3.Solver()
                solver.set(timeout=self._timeout_ms())
                solver.add(*relevant, candidate)
                answer = solver.check()
            if answer == z3.unsat:
                self.unsat.add(key)
                return True
            if candidate is formula:
                return False
        return False

    def _arithmetic(self, relevant: list[Any], formula: Any) -> Any:
        """An integer-only query through the tactics of ``_ARITHMETIC`` in turn."""
        slices = [*_ARITHMETIC_SLICES, None]
        for i, seconds in enumerate(slices):
            tactic = _ARITHMETIC[i % len(_ARITHMETIC)]
            budget = self._timeout_ms() if seconds is None else int(seconds * 1000)
            solver = tactic.solver()
            solver.set(timeout=max(1, min(budget, self._timeout_ms())))
            solver.add(*relevant, formula)
            answer = solver.check()
            if answer != z3.unknown or time.monotonic() >= self.deadline:
                return answer
        return z3.unknown

    def find(self, formula: Any, constraints: tuple[Any, ...]) -> tuple[Any, Any]:
        """(sat, model) over every constraint, so that the model is a whole world; (unsat,
        None) or (unknown, reason)."""
        solver = z3.Solver()
        solver.set(timeout=self._timeout_ms())
        solver.add(*constraints, formula)
        answer = solver.check()
        if answer == z3.sat:
            return answer, solver.model()
        return answer, solver.reason_unknown() if answer == z3.unknown else None


def _solve(solver: _Solver, instance: Instance) -> tuple[Any, Any]:
    """(sat, model), (unsat, None) or (unknown, reason) for one instance."""
    constraints = tuple(instance.constraints)
    if instance.lemmas and all(solver.refuted(lemma, constraints) for lemma in instance.lemmas):
        return z3.unsat, None
    if solver.refuted(instance.violation, constraints):
        return z3.unsat, None
    return solver.find(instance.violation, constraints)


def _decide(theorem_: Theorem, profile: Profile, bound: Bound, timeout: float) -> Result:
    start = time.monotonic()
    deadline = start + timeout
    statement, scope = theorem_.statement, f"{theorem_.scope(bound)}; {DOMAIN}"
    shapes, unknown = 0, ""

    def result(verdict: str, **extra: Any) -> Result:
        seconds = round(time.monotonic() - start, 3)
        return Result(theorem_.name, statement, scope, verdict, seconds, shapes, **extra)

    instances = theorem_.instances(profile, bound)
    solver = _Solver(deadline)
    while True:
        if time.monotonic() >= deadline:
            total = sum(1 for _ in theorem_.shapes(bound))
            note = f"time budget of {timeout:g}s ran out after {shapes} of {total} shapes"
            return result(UNKNOWN, note=note)
        try:
            instance = next(instances, None)
        except Exception as err:  # a plugin that cannot run on symbolic values
            return result(UNKNOWN, note=f"could not build the symbolic instance: {err!r}")
        if instance is None:
            break
        try:
            answer, model = _solve(solver, instance)
        except z3.Z3Exception as err:
            answer, model = z3.unknown, f"z3 failed: {err}"
        if answer == z3.sat:
            pod = concretize(instance.pod, model)
            nodes = tuple(concretize(info, model) for info in instance.nodes)
            return result(COUNTEREXAMPLE, note=instance.shape, pod=pod, nodes=nodes)
        if answer == z3.unknown:
            unknown = unknown or f"{instance.shape}: {model}"
        else:
            shapes += 1
    if unknown:
        return result(UNKNOWN, note=unknown)
    return result(PROVED)


def prove(
    theorems: Iterable[str | Theorem] | None = None,
    profile: Profile | None = None,
    bound: Bound | None = None,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> Iterator[Result]:
    """Decide each theorem (all by default) about ``profile`` (the default profile) within
    ``bound`` (``Bound()``), each within ``timeout_seconds``; yield the results in order."""
    profile = default_profile() if profile is None else profile
    bound = Bound() if bound is None else bound
    for theorem_ in _theorems(theorems):
        yield _decide(theorem_, profile, bound, timeout_seconds)
