"""Settling: the fair run with the faults stopped, checked step by step as it is taken, and the
smallest example of the Hypothesis engine (properties/engines/hypothesis_engine.py).

Every Hypothesis example ends by settling the cluster: ``model.run.run`` from where the drawn
actions left it, with no faults, its steps checked and, once it quiesces, the eventually
properties. The smallest example draws nothing (every fault kind switched off) and only settles:
a property it violates needs no search, and its trace is the empty one every shrink heads for.
Examples share prefixes, so their steps come from an :class:`ExampleMemo`, which also
remembers what settling showed from each state an example ended in (shrinking replays many
examples that end in the very state of an earlier one: 4-9% of a shrinking check).

>>> from kubeproof.model.objects import Namespace, ObjectMeta
>>> from kubeproof.model.scenarios import scenario_from_manifests
>>> from kubeproof.properties.core import INVARIANT, Property, Suite, Violation
>>> scope = lambda: scenario_from_manifests([Namespace(ObjectMeta(name="team"))])
>>> first = scope().initial_state().api.store.revision
>>> unwritten = Property("no-writes", "etcd is never written", INVARIANT,
...     lambda s: None if s.api.store.revision == first else Violation("no-writes", "written"))
>>> fair_run_violations(Suite("ns", "", scope, (unwritten,)))
{'no-writes': Violation(property='no-writes', message='written', evidence=())}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubeproof.model.cluster import NO_FAULTS, Action, Faults, State
from kubeproof.model.memo import Memo
from kubeproof.model.run import run
from kubeproof.properties.core import Suite, Violation
from kubeproof.properties.engines import Checks

__all__ = ["SETTLE_STEPS", "ExampleMemo", "fair_run_violations", "settle", "settled_violations"]

# the settling run's bound: model/run.py run's default, as properties/replay.py replay settles
SETTLE_STEPS = 20_000
# settle() takes the fair run a slice at a time, doubling from this many steps
_FIRST_SLICE = 128


class ExampleMemo(Memo):
    """A :class:`~kubeproof.model.memo.Memo` that also remembers each whole step and each
    ``enabled`` answer by the identity of the state: the examples Hypothesis generates and
    shrinks share prefixes, and with this they share the very states of a prefix, so a prefix
    met again costs a lookup per step."""

    def __init__(self) -> None:
        super().__init__()
        self._after: dict[tuple, tuple[State, State]] = {}
        self._enabled: dict[tuple, tuple[State, tuple[Action, ...]]] = {}
        self._settled: dict[tuple, tuple[State, tuple[tuple[Violation, ...], int]]] = {}

    def enabled(self, state: State, faults: Faults = NO_FAULTS) -> tuple[Action, ...]:
        """``cluster.enabled(state, faults)``."""
        return self._remembered(self._enabled, state, faults, super().enabled)

    def step(self, state: State, action: Action) -> State:
        """``cluster.step(state, action)``."""
        return self._remembered(self._after, state, action, super().step)

    def settled(self, state: State, checks: Checks) -> tuple[tuple[Violation, ...], int]:
        """:func:`settled_violations` of ``state`` and ``checks`` (none violated yet),
        remembered by the state and the names of the properties checked: shrinking replays
        examples that end in the very states of earlier ones."""
        names = tuple(p.name for p in (*checks.invariants, *checks.transitions, *checks.eventually))
        return self._remembered(
            self._settled, state, names, lambda s, _: settled_violations(s, self, checks)
        )

    def _remembered(self, table: dict, state: State, arg: Any, compute: Callable) -> Any:
        """``compute(state, arg)``, remembered by the state's identity (the entry holds the
        state, so its identity is not reused while the entry lives)."""
        key = (id(state), arg)
        hit = table.get(key)
        if hit is not None and hit[0] is state:
            return hit[1]
        if len(table) >= self.limit:
            table.clear()
        value = compute(state, arg)
        table[key] = (state, value)
        return value


def settle(state: State, memo: Memo, visit: Callable[[State, Action, State], bool]) -> State | None:
    """Take the fair run from ``state`` with the faults stopped (model/run.py run), calling
    ``visit(before, action, after)`` on each step until it returns True; the quiescent state
    the run ends in, or None if it never quiesces or ``visit`` stopped it.

    The run is taken a slice at a time, each twice as long as the last: ``run`` is
    deterministic, so the run bounded by 2n steps begins with the run bounded by n, and a
    violation early in a run that never quiesces (a create-delete loop) is seen without first
    taking all its ``SETTLE_STEPS`` steps."""
    current, done, bound = state, 0, _FIRST_SLICE
    while True:
        settled = run(state, NO_FAULTS, min(bound, SETTLE_STEPS), memo=memo)
        for s in settled.steps[done:]:
            after = memo.step(current, s.action)
            if visit(current, s.action, after):
                return None
            current = after
        done = len(settled.steps)
        if settled.reason == "quiescent":
            return current
        if bound >= SETTLE_STEPS:
            return None
        bound *= 2


def settled_violations(
    state: State, memo: Memo, checks: Checks
) -> tuple[tuple[Violation, ...], int]:
    """What settling from ``state`` shows first, and the steps it took to show it: the
    violations of the first step of the fair run that has any (its transition properties',
    else its invariants'), else the eventually properties' on the quiescent state; [] when it
    shows none or never quiesces."""
    found: list[Violation] = []
    steps = 0

    def visit(before: State, action: Action, after: State) -> bool:
        nonlocal steps
        steps += 1
        found.extend(checks.step(before, action, after) or checks.state(after))
        return bool(found)

    quiescent = settle(state, memo, visit)
    if quiescent is not None:
        found.extend(checks.quiescent(quiescent))
    return tuple(found), steps


def fair_run_violations(
    suite: Suite, memo: Memo | None = None, stats: dict | None = None
) -> dict[str, Violation]:
    """The first violation of each of ``suite``'s properties in the smallest example: every
    fault kind switched off, nothing drawn, then the fair run settles, checked as the state
    machine checks it; ``stats`` (if given) counts it as an example and its steps."""
    memo = ExampleMemo() if memo is None else memo
    checks = Checks(suite)
    wanted = len(checks.invariants) + len(checks.transitions) + len(checks.eventually)
    if stats is not None:
        stats["examples"] += 1

    def record(violations: list[Violation]) -> bool:
        for v in violations:
            checks.found.setdefault(v.property, v)
        return len(checks.found) == wanted

    if record(checks.state(initial := suite.scenario().initial_state())):
        return checks.found

    def visit(before: State, action: Action, after: State) -> bool:
        if stats is not None:
            stats["steps"] += 1
        record(checks.step(before, action, after))
        return record(checks.state(after))

    if wanted:
        quiescent = settle(initial, memo, visit)
        if quiescent is not None:
            record(checks.quiescent(quiescent))
    return checks.found
