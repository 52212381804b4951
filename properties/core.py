"""What a property is, what a violation says, and what a suite binds together.

A property has a name, a one-line statement and a check. Its kind says when the check runs:

- ``invariant``: on every state; ``check(state) -> Violation | None``;
- ``transition``: on every step; ``check(before, action, after) -> Violation | None``;
- ``eventually``: on every quiescent state reached after the faults stop;
  ``check(state) -> Violation | None``.

A violation carries the evidence (objects, nodes, numbers) as named values, so a trace can show
it. A suite binds a scenario, a fault budget, properties and an exploration budget; the engines
(properties/engines) search its runs for violations.

>>> p = Property("no-pods", "there are no pods", INVARIANT, lambda state: None)
>>> p.holds_in(None), p.kind
(True, 'invariant')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubeproof.model.cluster import NO_FAULTS, Faults
from kubeproof.model.scenarios import Scenario

__all__ = [
    "EVENTUALLY",
    "INVARIANT",
    "TRANSITION",
    "Budget",
    "Property",
    "Report",
    "Suite",
    "Trace",
    "Verdict",
    "Violation",
]

INVARIANT, TRANSITION, EVENTUALLY = "invariant", "transition", "eventually"


@dataclass(frozen=True, slots=True)
class Violation:
    """What went wrong, in one sentence, and the evidence: (name, value) pairs."""

    property: str
    message: str
    evidence: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Property:
    """A named statement about the cluster and the function that checks it (see the module
    docstring for the check's signature by kind). ``definition`` says how the property
    defines its terms where upstream's own definition matters (what counts as a pod)."""

    name: str
    statement: str
    kind: str
    check: Callable[..., Violation | None] = field(compare=False)
    definition: str = ""

    def __post_init__(self) -> None:
        if self.kind not in (INVARIANT, TRANSITION, EVENTUALLY):
            raise ValueError(f"property {self.name}: unknown kind {self.kind!r}")

    def holds_in(self, *args: Any) -> bool:
        """Whether the check finds nothing wrong."""
        return self.check(*args) is None


@dataclass(frozen=True, slots=True)
class Budget:
    """How far an engine looks: Hypothesis examples and steps per example; the exhaustive
    engine's bound on distinct states and on depth."""

    examples: int = 100
    steps: int = 400
    states: int = 20_000
    depth: int = 400


@dataclass(frozen=True, slots=True)
class Suite:
    """A scenario, the faults that may strike it, what must hold, and how far to look."""

    name: str
    description: str
    scenario: Callable[[], Scenario] = field(compare=False)
    properties: tuple[Property, ...]
    faults: Faults = NO_FAULTS
    budget: Budget = Budget()


@dataclass(frozen=True, slots=True)
class Trace:
    """A run that can be replayed: the suite, its fault budget and the actions in order (the
    scenario's initial state plus ``model.cluster.step`` over these actions gives every state).
    ``violation`` is what the run showed when it was recorded."""

    suite: str
    faults: Faults
    actions: tuple[Any, ...]
    violation: Violation | None = None
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """One property's result in one suite: it held over everything explored, or here is the
    shortest violating trace found."""

    property: str
    holds: bool
    trace: Trace | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """What an engine found for a suite, and how much it looked at."""

    suite: str
    engine: str  # "hypothesis" or "exhaustive"
    verdicts: tuple[Verdict, ...]
    examples: int = 0  # Hypothesis examples run
    steps: int = 0  # actions taken in all
    states: int = 0  # distinct states (exhaustive)
    transitions: int = 0  # distinct transitions (exhaustive)
    seconds: float = 0.0

    @property
    def holds(self) -> bool:
        return all(v.holds for v in self.verdicts)
