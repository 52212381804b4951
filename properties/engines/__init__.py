"""The two engines that search a suite's runs for violations, behind one call.

``check_suite(suite, engine)`` returns a :class:`~kubeproof.properties.core.Report`: one verdict
per property, with the shortest violating trace found. ``"hypothesis"`` walks random
interleavings (with swarm-selected faults) and shrinks a failure to a short trace;
``"exhaustive"`` visits every canonical state breadth-first within a bound, so its traces are
the shortest there are, and it finds cycles. Both check properties the same way (see
:class:`Checks`): invariants on every state, transition properties on every step, eventually
properties on quiescent states (after the faults stop, the fair run of ``model.run.run``).

>>> from kubeproof.properties.core import Suite
>>> from kubeproof.model.scenarios import scenario
>>> suite = Suite("journey", "", lambda: scenario("journey"), ())
>>> check_suite(suite, "exhaustive", max_states=5).states
5
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields

from kubeproof.model.cluster import Faults
from kubeproof.model.errors import KubeproofError
from kubeproof.properties.core import EVENTUALLY, INVARIANT, TRANSITION, Report, Suite, Violation

__all__ = [
    "ENGINES",
    "NO_ENDLESS_CYCLE",
    "Checks",
    "Progress",
    "UnknownEngine",
    "check_suite",
    "fault_kinds",
    "rare_collections",
]

ENGINES = ("hypothesis", "exhaustive")

# The name of the "no endless cycle" property: the exhaustive engine gives it the verdict of its
# cycle detection (the Hypothesis engine runs its check, e.g. bounded creations per object).
NO_ENDLESS_CYCLE = "no-endless-cycle"

Progress = Callable[[int, int, str], None]  # (done, total, note)


class UnknownEngine(KubeproofError):
    """An engine name that is neither "hypothesis" nor "exhaustive"."""


class Checks:
    """A suite's properties by kind; each method returns the violations of properties not yet
    violated (``found`` keeps the first violation of each), so a property costs nothing once
    it has failed."""

    def __init__(self, suite: Suite) -> None:
        by_kind = {k: [] for k in (INVARIANT, TRANSITION, EVENTUALLY)}
        for p in suite.properties:
            by_kind[p.kind].append(p)
        self.invariants = tuple(by_kind[INVARIANT])
        self.transitions = tuple(by_kind[TRANSITION])
        self.eventually = tuple(p for p in by_kind[EVENTUALLY] if p.name != NO_ENDLESS_CYCLE)
        self.found: dict[str, Violation] = {}
        self._active: dict[str, tuple[Callable[..., Violation | None], ...]] = {}
        self._found_then = -1  # len(found) when _active was taken

    def _run(self, kind: str, *args) -> list[Violation]:
        if len(self.found) != self._found_then:
            self._found_then = len(self.found)
            self._active = {
                k: tuple(p.check for p in props if p.name not in self.found)
                for k, props in (
                    (INVARIANT, self.invariants),
                    (TRANSITION, self.transitions),
                    (EVENTUALLY, self.eventually),
                )
            }
        return [v for check in self._active[kind] if (v := check(*args)) is not None]

    def state(self, state) -> list[Violation]:
        """The invariants violated in ``state``."""
        return self._run(INVARIANT, state)

    def step(self, before, action, after) -> list[Violation]:
        """The transition properties violated by one step."""
        return self._run(TRANSITION, before, action, after)

    def quiescent(self, state) -> list[Violation]:
        """The eventually properties violated in a quiescent state."""
        return self._run(EVENTUALLY, state)


def fault_kinds(faults: Faults) -> tuple[str, ...]:
    """The fault kinds with a nonzero budget, in declaration order."""
    return tuple(f.name for f in fields(Faults) if getattr(faults, f.name))


@contextmanager
def rare_collections() -> Iterator[None]:
    """The cyclic garbage collector run every 100,000 allocations instead of 700 for a while.

    A search allocates millions of immutable, acyclic objects (states, and the memo and
    Hypothesis's records that keep many alive) that reference counting frees; scanning them
    for cycles every 700 allocations made a Hypothesis search 6-17% slower on the bug
    catalogue."""
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], 100_000), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


def check_suite(
    suite: Suite,
    engine: str = "hypothesis",
    *,
    examples: int | None = None,
    steps: int | None = None,
    seed: int | None = None,
    database=None,
    max_states: int | None = None,
    max_depth: int | None = None,
    progress: Progress | None = None,
) -> Report:
    """Search ``suite`` with ``engine``; unset bounds come from ``suite.budget``.

    Hypothesis takes ``examples``, ``steps`` (per example), ``seed`` and ``database`` (None: the
    directory ``.kubeproof/examples``; a path; ``"redis://host:port/db"``; ``":memory:"``); the
    exhaustive engine takes ``max_states`` and ``max_depth``."""
    if engine == "hypothesis":
        from kubeproof.properties.engines.hypothesis_engine import explore

        return explore(
            suite,
            examples=examples,
            steps=steps,
            seed=seed,
            database=database,
            progress=progress,
        )
    if engine == "exhaustive":
        from kubeproof.properties.engines.exhaustive import search

        return search(suite, max_states=max_states, max_depth=max_depth, progress=progress)
    raise UnknownEngine(f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")
