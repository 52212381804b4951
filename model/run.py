"""A fair, deterministic run of the cluster to quiescence.

``run(scenario)`` takes enabled actions round-robin over the actors (the users, each component in
the scenario's order, the scripted node failures): each turn goes to the next actor after the
last one served that has something to do, and it does the first thing ``enabled`` lists for it
(informer work first, then its work queue, outbox and timers). Firing timers is work. The clock
ticks only when nothing else is enabled, and only while the run is held open: a non-periodic timer
pending (a workqueue AddAfter, an image pull, a backoff), a user request waiting for its guard, a
scripted failure still to come or still settling. Periodic timers (heartbeats, monitor loops) hold
nothing open. Faults are never taken: the run ends when nothing but faults is enabled.

>>> from kubeproof.model.scenarios import scenario
>>> r = run(scenario("journey"))
>>> r.reason, r.failed_facts()
('quiescent', ())
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kubeproof.model.cluster import (
    NO_FAULTS,
    Action,
    ClientRequest,
    Compact,
    Crash,
    DropWatch,
    Entry,
    Faults,
    Relist,
    Restart,
    State,
    Tick,
    Timeout,
    enabled,
    transition,
)
from kubeproof.model.memo import Memo
from kubeproof.model.scenarios import Failure, Scenario

__all__ = ["Run", "Step", "actor_of", "is_fault", "run"]

CLIENT, SCRIPT = "kubectl", "script"


@dataclass(frozen=True, slots=True)
class Step:
    """One action of the run and its journal entries."""

    action: Action
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Run:
    """Where a run started, every step, and where it ended (``reason``: "quiescent", or
    "max_steps" when the bound was reached first)."""

    initial: State
    state: State
    steps: tuple[Step, ...]
    reason: str
    scenario: Scenario | None = None

    @property
    def actions(self) -> tuple[Action, ...]:
        return tuple(s.action for s in self.steps)

    @property
    def journal(self) -> tuple[Entry, ...]:
        return tuple(e for s in self.steps for e in s.entries)

    def states(self) -> Iterator[State]:
        """The state before each step, then the final state (replayed)."""
        state = self.initial
        for s in self.steps:
            yield state
            state = transition(state, s.action)[0]
        yield state

    def failed_facts(self) -> tuple[str, ...]:
        return () if self.scenario is None else self.scenario.failed_facts(self.state)


def is_fault(action: Action) -> bool:
    """Whether an action is a fault (never taken by a fair run unless scripted)."""
    if isinstance(action, Relist):
        return action.revision is not None  # a stale list
    return isinstance(action, Crash | DropWatch | Compact | Timeout)


def actor_of(action: Action) -> str:
    """Who acts: the users (kubectl), a component, a process, or the clock."""
    if isinstance(action, ClientRequest):
        return CLIENT
    if isinstance(action, Tick):
        return "clock"
    if isinstance(action, Crash | Restart):
        return action.process
    if isinstance(action, Compact):
        return "etcd"
    return action.component


def _held_open(state: State, failures: tuple[Failure, ...], settle_until: int) -> bool:
    if state.clients or failures or state.api.now < settle_until:
        return True
    return any(not t.periodic for c in state.components.values() if c.running for t in c.timers)


def run(
    scenario_or_state: Scenario | State,
    faults: Faults = NO_FAULTS,
    max_steps: int = 20_000,
    *,
    memo: Memo | None = None,
) -> Run:
    """Run fairly until quiescent (see the module docstring) or for ``max_steps`` steps.

    With ``memo``, ``enabled`` and ``step`` come from it (the same answers, remembered across
    runs that share states) and the steps carry no journal entries."""
    if isinstance(scenario_or_state, Scenario):
        scenario, state = scenario_or_state, scenario_or_state.initial_state()
        pending = scenario.failures
    else:
        scenario, state, pending = None, scenario_or_state, ()
    initial = state
    # a process that is not itself a component (kube-controller-manager) restarts as an actor
    processes = dict.fromkeys(
        c.process for c in state.controllers.values() if c.process not in state.components
    )
    actors = [CLIENT, *state.components, *processes, SCRIPT]
    failed: set[str] = set()  # processes failed by the script: never restarted
    settle_until = 0
    last = len(actors) - 1
    steps: list[Step] = []
    reason = "max_steps"
    while len(steps) < max_steps:
        first: dict[str, Action] = {}
        tick = None
        for action in (enabled if memo is None else memo.enabled)(state, faults):
            if isinstance(action, Tick):
                tick = action
            elif not is_fault(action) and not (
                isinstance(action, Restart) and action.process in failed
            ):
                first.setdefault(actor_of(action), action)
        if pending and pending[0].when(state):
            first[SCRIPT] = Crash(pending[0].process, node_failure=True)
        chosen = None
        for offset in range(1, len(actors) + 1):
            index = (last + offset) % len(actors)
            chosen = first.get(actors[index])
            if chosen is not None:
                last = index
                break
        if chosen is None:
            if tick is None or not _held_open(state, pending, settle_until):
                reason = "quiescent"
                break
            chosen = tick
        if isinstance(chosen, Crash):
            failed.add(pending[0].process)
            settle_until = state.api.now + pending[0].settle_seconds
            pending = pending[1:]
        if memo is None:
            state, entries = transition(state, chosen)
        else:
            state, entries = memo.step(state, chosen), ()
        steps.append(Step(chosen, entries))
    return Run(initial, state, tuple(steps), reason, scenario)
