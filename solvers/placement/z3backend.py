"""z3 over a ``Model``: satisfiability under assumed Facts, models, unsat cores, minimal cores.

The model is written as SMT-LIB text and parsed by z3 in one call (building tens of thousands
of terms through the Python API costs seconds; the text costs milliseconds). Each Fact becomes
a Boolean ``f<i>``; a constraint with Facts is asserted as ``(=> (and f...) constraint)``, so
checking under a set of Facts is checking under those assumptions, and an unsat core is a set
of Facts. ``preferred_core`` finds a minimal unsatisfiable subset, preferring some Facts.

>>> from kubeproof.solvers.placement.model import Fact, Model, REPLICAS, CAPACITY
>>> m = Model()
>>> x = m.integer(0, 10)
>>> m.linear(((1, x),), 5, None, facts=(Fact(REPLICAS, 0),))
>>> m.linear(((2, x),), None, 8, facts=(Fact(CAPACITY, group=0),))
>>> solver = Z3Model(m)
>>> solver.check(solver.facts, timeout=5), sorted(f.kind for f in solver.core())
('unsat', ['capacity', 'replicas'])
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import z3

from kubeproof.solvers.placement.model import Fact, Model

__all__ = ["SAT", "UNKNOWN", "UNSAT", "Z3Model"]

SAT, UNSAT, UNKNOWN = "sat", "unsat", "unknown"


def _literal(literal: int) -> str:
    return f"b{literal}" if literal > 0 else f"(not b{-literal})"


def _sum(terms: Sequence[tuple[int, int]]) -> str:
    parts = [
        f"x{v}" if c == 1 else f"(* {c} x{v})" if c > 0 else f"(* (- {-c}) x{v})" for c, v in terms
    ]
    if not parts:
        return "0"
    return parts[0] if len(parts) == 1 else f"(+ {' '.join(parts)})"


class Z3Model:
    """A z3 solver holding a Model; ``facts`` lists the Model's Facts."""

    def __init__(self, model: Model):
        self.facts: list[Fact] = model.facts()
        self._names = {fact: f"f{i}" for i, fact in enumerate(self.facts)}
        self._by_name = {name: fact for fact, name in self._names.items()}
        self._literals = {fact: z3.Bool(name) for fact, name in self._names.items()}
        self.solver = z3.Solver()
        self.solver.from_string(self._text(model))
        self._model: z3.ModelRef | None = None
        self._sat = False
        self._core: list[Fact] = []
        self.size = len(model.bounds)

    def _guard(self, facts: tuple[Fact, ...], enforce: int, text: str) -> str:
        conditions = [self._names[f] for f in facts]
        if enforce:
            conditions.append(_literal(enforce))
        if not conditions:
            return f"(assert {text})\n"
        premise = conditions[0] if len(conditions) == 1 else f"(and {' '.join(conditions)})"
        return f"(assert (=> {premise} {text}))\n"

    def _text(self, model: Model) -> str:
        out = [f"(declare-const {name} Bool)\n" for name in self._by_name]
        for i, (lower, upper) in enumerate(model.bounds):
            out.append(
                f"(declare-const x{i} Int)\n(assert (and (<= {lower} x{i}) (<= x{i} {upper})))\n"
            )
        out += [f"(declare-const b{i} Bool)\n" for i in range(1, model.booleans + 1)]
        for item in model.linears:
            total = _sum(item.terms)
            if item.lower is not None and item.lower == item.upper:
                text = f"(= {total} {item.upper})"
            elif item.lower is None:
                text = f"(<= {total} {item.upper})"
            elif item.upper is None:
                text = f"(>= {total} {item.lower})"
            else:
                text = f"(and (>= {total} {item.lower}) (<= {total} {item.upper}))"
            out.append(self._guard(item.facts, item.enforce, text))
        for literals, facts in model.clauses:
            text = " ".join(map(_literal, literals))
            out.append(self._guard(facts, 0, f"(or {text})" if len(literals) > 1 else text))
        for literals, facts in model.at_most_one:
            text = f"((_ at-most 1) {' '.join(map(_literal, literals))})"
            out.append(self._guard(facts, 0, text))
        return "".join(out)

    def push(self) -> None:
        """Open a scope: constraints added until ``pop`` are then dropped."""
        self.solver.push()

    def pop(self) -> None:
        """Close the scope ``push`` opened."""
        self.solver.pop()

    def add(self, terms: Sequence[tuple[int, int]], lower: int | None, upper: int | None) -> None:
        """Assert ``lower <= sum(terms) <= upper`` (no Fact: it holds in every check)."""
        total = z3.Sum([c * z3.Int(f"x{v}") for c, v in terms]) if terms else z3.IntVal(0)
        if lower is not None:
            self.solver.add(total >= lower)
        if upper is not None:
            self.solver.add(total <= upper)

    def check(self, facts: Iterable[Fact], timeout: float) -> str:
        """``sat``, ``unsat`` or ``unknown`` (out of time), assuming the Facts."""
        self.solver.set("timeout", max(1, int(min(timeout, 2**31 // 1000) * 1000)))
        result = self.solver.check(*[self._literals[f] for f in facts])
        self._sat = result == z3.sat
        self._model = None  # fetched when asked for: a search for a core never needs it
        if result == z3.unsat:
            self._core = [self._by_name[str(c)] for c in self.solver.unsat_core()]
        return SAT if result == z3.sat else UNSAT if result == z3.unsat else UNKNOWN

    def _last_model(self) -> z3.ModelRef:
        if not self._sat:
            raise ValueError("no model: the last check was not sat")
        if self._model is None:
            self._model = self.solver.model()
        return self._model

    def values(self) -> list[int]:
        """Every integer variable's value in the last model (0 where z3 left it free)."""
        values = [0] * self.size
        model = self._last_model()
        for decl in model.decls():
            name = decl.name()
            if name[0] == "x":
                values[int(name[1:])] = model[decl].as_long()
        return values

    def booleans(self) -> set[int]:
        """The Boolean variables true in the last model (as positive literals)."""
        model = self._last_model()
        return {
            int(d.name()[1:]) for d in model.decls() if d.name()[0] == "b" and z3.is_true(model[d])
        }

    def core(self) -> list[Fact]:
        """The Facts of the last unsat core."""
        return list(self._core)

    def preferred_core(self, facts: Sequence[Fact], deadline: float) -> tuple[list[Fact], bool]:
        """A minimal unsatisfiable subset of ``facts`` (which must be unsatisfiable together),
        the preferred one for their order (earlier facts are kept in preference to later
        ones), by QuickXplain (Junker, AAAI 2004); and whether it is proved minimal (False when
        time ran out: then all of ``facts``)."""

        class _OutOfTime(Exception):
            pass

        def unsat(assumed: list[Fact]) -> bool:
            left = deadline - time.monotonic()
            result = self.check(assumed, left) if left > 0 else UNKNOWN
            if result == UNKNOWN:
                raise _OutOfTime
            return result == UNSAT

        def explain(background: list[Fact], added: bool, candidates: list[Fact]) -> list[Fact]:
            if added and unsat(background):
                return []
            if len(candidates) == 1:
                return list(candidates)
            half = len(candidates) // 2
            first, second = candidates[:half], candidates[half:]
            kept_second = explain(background + first, bool(first), second)
            kept_first = explain(background + kept_second, bool(kept_second), first)
            return kept_first + kept_second

        try:
            return explain([], False, list(facts)), True
        except _OutOfTime:
            return list(facts), False
