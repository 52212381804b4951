"""Replay a trace: the suite's initial state, ``model.cluster.transition`` over its actions, and
the suite's properties checked on the way, as the engines check them (properties/engines).

Invariants are checked on every state, transition properties on every step. When the actions
end, the cluster settles: a fair run with no faults (``model.run.run``) to quiescence, whose
steps are checked too (it adds none when the trace already ends quiescent); the eventually
properties are checked on the quiescent state. Checking stops at the violation the trace
recorded (or at the first one, for a trace that recorded none).

>>> from kubeproof.model.scenarios import scenario
>>> from kubeproof.properties.core import Suite, Trace
>>> s = Suite("journey", "", lambda: scenario("journey"), ())
>>> r = replay(Trace("journey", s.faults, ()), s)
>>> r.recurs, r.quiescent, len(r.states) > 1000
(False, True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

from kubeproof.model.cluster import NO_FAULTS, Action, Entry, State, transition
from kubeproof.model.run import run
from kubeproof.properties.core import EVENTUALLY, INVARIANT, TRANSITION, Suite, Trace, Violation

__all__ = ["Replay", "replay"]


@dataclass(frozen=True)
class Replay:
    """What re-running a trace showed: every state (the initial one, then one after each
    step), each step's action and journal entries, how many steps the trace itself had (the
    rest are the settling run), the violations found (the first of each property, in order),
    where the first was found (a state index) and, if an action of the trace can no longer be
    taken, why."""

    trace: Trace
    states: tuple[State, ...]
    actions: tuple[Action, ...]
    entries: tuple[tuple[Entry, ...], ...]
    traced: int
    violations: tuple[Violation, ...]
    found_at: tuple[int, ...] = ()  # the state index of each violation
    quiescent: bool = False
    error: str = ""

    def _shown(self) -> int | None:
        wanted = self.trace.violation
        for i, v in enumerate(self.violations):
            if wanted is None or v.property == wanted.property:
                return i
        return 0 if self.violations else None

    @property
    def violation(self) -> Violation | None:
        """The recorded property's violation if it recurred, else the first one found."""
        i = self._shown()
        return None if i is None else self.violations[i]

    @property
    def at(self) -> int | None:
        """The index of the state (or of the step leading to it) where ``violation`` showed."""
        i = self._shown()
        return None if i is None else self.found_at[i]

    @property
    def recurs(self) -> bool:
        """Whether the trace still fails: the recorded property is violated again (any
        property, for a trace that recorded none)."""
        wanted = self.trace.violation
        if wanted is None:
            return bool(self.violations)
        return any(v.property == wanted.property for v in self.violations)


class _Checker:
    """Runs the suite's checks, keeping the first violation of each property."""

    def __init__(self, suite: Suite, wanted: str | None) -> None:
        self.by_kind = {
            kind: [p for p in suite.properties if p.kind == kind]
            for kind in (INVARIANT, TRANSITION, EVENTUALLY)
        }
        self.wanted = wanted
        self.found: dict[str, tuple[Violation, int]] = {}

    def done(self) -> bool:
        if self.wanted is None:
            return bool(self.found)
        return self.wanted in self.found

    def check(self, kind: str, index: int, *args) -> None:
        for p in self.by_kind[kind]:
            if p.name in self.found:
                continue
            v = p.check(*args)
            if v is not None:
                self.found[p.name] = (v, index)


def replay(trace: Trace, suite: Suite, settle: bool = True, max_settle: int = 20_000) -> Replay:
    """Re-run ``trace`` from ``suite``'s scenario, checking ``suite``'s properties."""
    wanted = trace.violation.property if trace.violation is not None else None
    checker = _Checker(suite, wanted)
    state = suite.scenario().initial_state()
    states, actions, entries = [state], [], []
    checker.check(INVARIANT, 0, state)
    error = ""
    for i, action in enumerate(trace.actions, start=1):
        if checker.done():
            break
        try:
            after, journal = transition(state, action)
        except ValueError as err:
            error = f"step {i} ({type(action).__name__}) can no longer be taken: {err}"
            break
        checker.check(TRANSITION, i, state, action, after)
        checker.check(INVARIANT, i, after)
        state = after
        states.append(state)
        actions.append(action)
        entries.append(journal)
    traced = len(actions)
    quiescent = False
    if settle and not error and not checker.done():
        settled = run(state, NO_FAULTS, max_steps=max_settle)
        for s in settled.steps:
            if checker.done():
                break
            after, journal = transition(state, s.action)
            index = len(states)
            checker.check(TRANSITION, index, state, s.action, after)
            checker.check(INVARIANT, index, after)
            state = after
            states.append(state)
            actions.append(s.action)
            entries.append(journal)
        quiescent = settled.reason == "quiescent" and len(actions) - traced == len(settled.steps)
        if quiescent and not checker.done():
            checker.check(EVENTUALLY, len(states) - 1, state)
    return Replay(
        trace,
        tuple(states),
        tuple(actions),
        tuple(entries),
        traced,
        tuple(v for v, _ in checker.found.values()),
        tuple(i for _, i in checker.found.values()),
        quiescent,
        error,
    )
