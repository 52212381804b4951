"""A solver-neutral constraint model: bounded integers, Booleans, linear constraints that may be
enforced by a literal, clauses and at-most-one; each constraint may belong to a ``Fact``.

The encoder (``encode``) writes placements in it once; ``z3backend`` and ``cpsat`` solve it.
A Fact is one statement an explanation can name ("Deployment api wants 76 replicas"): with z3
each Fact is an assumption literal guarding its constraints, so an unsat core is a set of Facts.

A literal is a Boolean's index plus one, negated for its negation (as in DIMACS).

>>> m = Model()
>>> x, y = m.integer(0, 3), m.integer(0, 3)
>>> m.linear(((1, x), (1, y)), 5, 5, facts=(Fact(REPLICAS, 0),))
>>> b = m.boolean()
>>> m.linear(((1, x),), None, 0, enforce=-b)
>>> len(m.linears), m.facts()
(2, [Fact(kind='replicas', template=0, group=-1, detail=None)])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AFFINITY",
    "ANTI",
    "CAPACITY",
    "ELIGIBLE",
    "PORTS",
    "REPLICAS",
    "SPREAD",
    "Fact",
    "Linear",
    "Model",
]

REPLICAS, ELIGIBLE, CAPACITY = "replicas", "eligible", "capacity"
ANTI, SPREAD, AFFINITY, PORTS = "anti", "spread", "affinity", "ports"


@dataclass(frozen=True, slots=True)
class Fact:
    """A statement an explanation can name. ``template`` and ``group`` index the problem's
    templates and the analysis' node groups (-1: none); ``detail`` tells facts of one kind
    apart (ELIGIBLE: the plugin; SPREAD: the rule index; ANTI: the key; PORTS: the other
    template)."""

    kind: str
    template: int = -1
    group: int = -1
    detail: Any = None


@dataclass(frozen=True, slots=True)
class Linear:
    """``lower <= sum(coefficient * variable) <= upper`` (a missing bound is None), enforced
    only where the literal ``enforce`` holds (0: always), and only while all its ``facts`` are
    assumed."""

    terms: tuple[tuple[int, int], ...]
    lower: int | None
    upper: int | None
    enforce: int
    facts: tuple[Fact, ...]


class Model:
    """Variables and constraints, appended by the encoder; the backends read the lists."""

    def __init__(self) -> None:
        self.bounds: list[tuple[int, int]] = []
        self.booleans = 0
        self.linears: list[Linear] = []
        self.clauses: list[tuple[tuple[int, ...], tuple[Fact, ...]]] = []
        self.at_most_one: list[tuple[tuple[int, ...], tuple[Fact, ...]]] = []

    def integer(self, lower: int, upper: int) -> int:
        """A new integer variable in ``[lower, upper]``; its index."""
        self.bounds.append((lower, upper))
        return len(self.bounds) - 1

    def boolean(self) -> int:
        """A new Boolean; its positive literal."""
        self.booleans += 1
        return self.booleans

    def linear(
        self,
        terms: Sequence[tuple[int, int]],
        lower: int | None,
        upper: int | None,
        *,
        enforce: int = 0,
        facts: tuple[Fact, ...] = (),
    ) -> None:
        """Add ``lower <= sum(terms) <= upper``; a constraint without terms must hold as is."""
        terms = tuple((c, v) for c, v in terms if c)
        if not terms and (lower is None or lower <= 0) and (upper is None or upper >= 0):
            return
        self.linears.append(Linear(terms, lower, upper, enforce, facts))

    def clause(self, literals: Sequence[int], facts: tuple[Fact, ...] = ()) -> None:
        """Add: at least one of the literals holds."""
        self.clauses.append((tuple(literals), facts))

    def at_most_one_of(self, literals: Sequence[int], facts: tuple[Fact, ...] = ()) -> None:
        """Add: at most one of the literals holds."""
        if len(literals) > 1:
            self.at_most_one.append((tuple(literals), facts))

    def facts(self) -> list[Fact]:
        """Every Fact some constraint belongs to, in the order first used."""
        seen: dict[Fact, None] = {}
        for item in self.linears:
            seen.update(dict.fromkeys(item.facts))
        for _, facts in (*self.clauses, *self.at_most_one):
            seen.update(dict.fromkeys(facts))
        return list(seen)
