"""The Hypothesis engine: a RuleBasedStateMachine built from ``enabled`` and ``step``.

Per example the machine first draws which of the suite's fault kinds are switched on (swarm
testing: a run with only crashes explores differently from one where every fault competes),
then each step draws one index into the enabled actions, ordered so that index 0 is the action
the fair run (``model.run.run``: round-robin over the actors, faults never) would take next and
the others follow in ``enabled`` order. Shrinking drives indices to 0 and fault switches to off,
so a shrunk trace reads as a normal run with a few deviations. Invariants are checked after
every step with the transition properties; at teardown the cluster settles (the fair run with
the faults stopped, its steps checked too) and the eventually properties are checked on the
quiescent state.

A violation raises an exception of a class made for its property, so Hypothesis shrinks each
property's failure separately; the exception carries the actions of the run that raised it, and
Hypothesis raises it last from the minimal example, so the trace is the shrunk run.

Before Hypothesis starts, ``explore`` checks the smallest example there is, the one every
shrink heads for: every fault kind switched off, nothing drawn, then the settling run. A
property that fails there gets that example's trace at once (what Hypothesis would report after
shrinking), and Hypothesis searches only for the others. Every step of every example comes
from one memo per search (``settling.ExampleMemo``: exactly ``enabled`` and ``step``,
remembered), so the prefixes that examples share are taken once.

>>> from kubeproof.properties.core import INVARIANT, Property, Suite, Violation
>>> from kubeproof.model.objects import Namespace, ObjectMeta
>>> from kubeproof.model.scenarios import scenario_from_manifests
>>> scope = lambda: scenario_from_manifests([Namespace(ObjectMeta(name="team"))])
>>> first = scope().initial_state().api.store.revision
>>> unwritten = Property("no-writes", "etcd is never written", INVARIANT,
...     lambda s: None if s.api.store.revision == first else Violation("no-writes", "written"))
>>> r = explore(Suite("ns", "", scope, (unwritten,)), examples=5, steps=10, seed=1,
...     database=":memory:")
>>> r.holds, r.verdicts[0].trace.actions  # nothing drawn: the settling run fails
(False, ())
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from kubeproof.model.cluster import NO_FAULTS, Faults, State, Tick
from kubeproof.model.errors import KubeproofError
from kubeproof.model.memo import Memo
from kubeproof.model.run import actor_of, is_fault
from kubeproof.properties.core import Report, Suite, Trace, Verdict, Violation
from kubeproof.properties.engines import Checks, Progress, fault_kinds, rare_collections
from kubeproof.properties.engines.settling import ExampleMemo, fair_run_violations

__all__ = [
    "CI_PROFILE",
    "DEFAULT_DATABASE",
    "BadDatabase",
    "PropertyViolated",
    "example_database",
    "explore",
    "fair_first",
    "machine_for",
    "switched_faults",
]

DEFAULT_DATABASE = os.path.join(".kubeproof", "examples")
CI_PROFILE = "kubeproof-ci"
_CLIENT, _SCRIPT = "kubectl", "script"

# The CI profile: derandomized (the same examples on every run, so CI is reproducible), no
# deadline (a step's time depends on the state's size), no shrink-time limit surprises.
settings.register_profile(
    CI_PROFILE,
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)


class BadDatabase(KubeproofError):
    """A --database value that cannot be used."""


class PropertyViolated(AssertionError):
    """A property failed in a run: the violation and the actions that led to it."""

    def __init__(self, violation: Violation, actions: tuple, faults: Faults) -> None:
        super().__init__(f"{violation.property}: {violation.message}")
        self.violation = violation
        self.actions = actions
        self.faults = faults


def example_database(database) -> ExampleDatabase | None:
    """The example database for a ``database`` argument (see ``check_suite``)."""
    if isinstance(database, ExampleDatabase):
        return database
    if database is False or database == ":memory:":
        return None
    if database is None:
        return DirectoryBasedExampleDatabase(DEFAULT_DATABASE)
    text = str(database)
    if text.startswith(("redis://", "rediss://", "unix://")):
        try:
            import redis
            from hypothesis.extra.redis import RedisExampleDatabase
        except ImportError as err:
            raise BadDatabase(
                "a Redis example database needs the redis package: pip install 'kubeproof[redis]'"
            ) from err
        try:
            return RedisExampleDatabase(redis.Redis.from_url(text))
        except ValueError as err:
            raise BadDatabase(f"bad Redis URL {text!r}: {err}") from err
    return DirectoryBasedExampleDatabase(str(Path(text)))


def fair_first(state: State, actions: tuple, last: int, actors: list[str]) -> int:
    """The index in ``actions`` of what the fair run would do next, given that ``actors[last]``
    acted last (upstream of this: model/run.py run); 0 when it would stop."""
    first: dict[str, int] = {}
    tick = None
    for i, action in enumerate(actions):
        if isinstance(action, Tick):
            tick = i
        elif not is_fault(action):
            first.setdefault(actor_of(action), i)
    for offset in range(1, len(actors) + 1):
        i = first.get(actors[(last + offset) % len(actors)])
        if i is not None:
            return i
    return tick if tick is not None else 0


def switched_faults(faults: Faults, on: dict[str, bool]) -> Faults:
    """``faults`` with each kind in ``on`` kept or, where ``on`` says False, set to 0."""
    return replace(faults, **{k: getattr(faults, k) if kept else 0 for k, kept in on.items()})


def machine_for(
    suite: Suite, stats: dict | None = None, memo: Memo | None = None
) -> type[RuleBasedStateMachine]:
    """The state machine of ``suite``; ``stats`` (if given) counts ``examples`` and ``steps``;
    ``memo`` takes every step of every example: the caller's, held weakly (the caller keeps it
    while the machine runs), or the machine's own.

    Usable directly under pytest or HypoFuzz: ``TestJourney = machine_for(suite).TestCase``."""
    # Hypothesis keeps every state machine class it has run (stateful.py
    # _setup_state_per_class): a class holding a search's memo would keep all its states
    memo = ExampleMemo() if memo is None else weakref.proxy(memo)
    initial = suite.scenario().initial_state()
    kinds = fault_kinds(suite.faults)
    stats = {"examples": 0, "steps": 0} if stats is None else stats
    exceptions = {
        p.name: type(f"Violated_{p.name.replace('-', '_')}", (PropertyViolated,), {})
        for p in suite.properties
    }

    class SuiteMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.state = initial
            self.faults = NO_FAULTS
            self.actions: list = []
            self.actors = [_CLIENT, *initial.components, _SCRIPT]
            self.last = len(self.actors) - 1
            self.checks = Checks(suite)
            self.failed = False
            stats["examples"] += 1

        def _raise(self, violations: Sequence[Violation], actions: tuple | None = None) -> None:
            if violations:
                v = violations[0]
                self.failed = True  # teardown must not replace this failure with another
                actions = tuple(self.actions) if actions is None else actions
                raise exceptions[v.property](v, actions, self.faults)

        @initialize(switched=st.fixed_dictionaries({k: st.booleans() for k in kinds}))
        def choose_faults(self, switched: dict[str, bool]) -> None:
            self.faults = switched_faults(suite.faults, switched)
            self._raise(self.checks.state(self.state))

        @rule(data=st.data())
        def act(self, data) -> None:
            actions = memo.enabled(self.state, self.faults)
            if not actions:
                return
            fair = fair_first(self.state, actions, self.last, self.actors)
            drawn = data.draw(st.integers(0, len(actions) - 1), label="action")
            # 0 is the fair choice; the others keep their order in ``enabled``
            index = fair if drawn == 0 else (drawn - 1 if drawn <= fair else drawn)
            action = actions[index]
            self._take(action)

        def _take(self, action) -> None:
            before = self.state
            self.state = memo.step(before, action)
            self.actions.append(action)
            stats["steps"] += 1
            actor = actor_of(action)
            if actor in self.actors:
                self.last = self.actors.index(actor)
            self._raise(self.checks.step(before, action, self.state))
            self._raise(self.checks.state(self.state))

        def teardown(self) -> None:
            checks = self.checks
            if self.failed or not (checks.eventually or checks.invariants or checks.transitions):
                return
            # the faults stop: the fair run settles the cluster, checked on the way (a trace
            # holds only the drawn actions; replay settles the same way); a run that never
            # settles is for the exhaustive engine's cycle detection
            violations, steps = memo.settled(self.state, checks)
            stats["steps"] += steps
            self._raise(violations, tuple(self.actions))

    SuiteMachine.__name__ = SuiteMachine.__qualname__ = f"Suite_{suite.name.replace('-', '_')}"
    # the example database keys a state machine by a digest of its class: name the suite
    digest = f"kubeproof:{suite.name}:{suite.faults}:{[p.name for p in suite.properties]}"
    SuiteMachine._hypothesis_internal_add_digest = digest.encode()
    return SuiteMachine


def _run(machine, config: settings, suite: str, seed: int | None) -> dict[str, Trace]:
    """Run ``machine``; the trace of the first violation it found of each property."""
    traces: dict[str, Trace] = {}
    try:
        run_state_machine_as_test(machine, settings=config)
    except BaseException as err:  # only violations are kept; anything else re-raises
        for v in _violations(err):
            trace = Trace(suite, v.faults, v.actions, v.violation, seed)
            traces.setdefault(v.violation.property, trace)
    return traces


def _violations(err: BaseException) -> list[PropertyViolated]:
    if isinstance(err, PropertyViolated):
        return [err]
    if isinstance(err, BaseExceptionGroup):
        return [v for e in err.exceptions for v in _violations(e)]
    raise err


def explore(
    suite: Suite,
    *,
    examples: int | None = None,
    steps: int | None = None,
    seed: int | None = None,
    database=None,
    progress: Progress | None = None,
    profile: str | None = None,
    _fair_run_first: bool = True,
) -> Report:
    """Run ``suite``'s state machine for ``examples`` examples of up to ``steps`` steps (the
    suite's budget by default) and report a verdict per property. ``profile`` names a registered
    Hypothesis settings profile to start from (e.g. :data:`CI_PROFILE`).

    A property the smallest example already violates (see the module docstring) gets that
    example's trace without Hypothesis; ``_fair_run_first=False`` (for tests) leaves it to
    Hypothesis to shrink to it."""
    examples = suite.budget.examples if examples is None else examples
    steps = suite.budget.steps if steps is None else steps
    base = settings.get_profile(profile) if profile else settings()
    config = settings(
        base,
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        database=example_database(database),
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        report_multiple_bugs=True,
        # no explain phase: with it, every run after the first failure (all of shrinking) is
        # traced line by line to annotate Hypothesis's own report, which kubeproof does not
        # print; shrinking took 5x as long
        phases=tuple(p for p in Phase if p is not Phase.explain),
        print_blob=False,
    )
    stats: dict = {"examples": 0, "steps": 0}
    started = time.perf_counter()
    memo = ExampleMemo()
    found: dict[str, Trace] = {}
    with rare_collections():
        if _fair_run_first:
            off = switched_faults(suite.faults, dict.fromkeys(fault_kinds(suite.faults), False))
            for name, v in fair_run_violations(suite, memo, stats).items():
                found[name] = Trace(suite.name, off, (), v, seed)
        # Hypothesis stops at the first failure it finds: run again without the properties
        # already violated, so one failing property does not hide another
        while len(found) < len(suite.properties):
            rest = replace(
                suite, properties=tuple(p for p in suite.properties if p.name not in found)
            )
            machine = machine_for(rest, stats, memo)
            if progress is not None:
                machine = _with_progress(machine, stats, examples, progress)
            if seed is not None:
                machine = hypothesis_seed(seed)(machine)
            before = len(found)
            for name, trace in _run(machine, config, suite.name, seed).items():
                found.setdefault(name, trace)
            if len(found) == before:
                break
    # Hypothesis leaves cyclic garbage holding frames, and a frame holds its caller's: this
    # frame may outlive the call until a rare full collection, and must not keep the memo
    del memo
    verdicts = [Verdict(p.name, p.name not in found, found.get(p.name)) for p in suite.properties]
    return Report(
        suite.name,
        "hypothesis",
        tuple(verdicts),
        examples=stats["examples"],
        steps=stats["steps"],
        seconds=time.perf_counter() - started,
    )


def _with_progress(machine, stats: dict, total: int, progress: Progress):
    class WithProgress(machine):
        def teardown(self) -> None:
            try:
                super().teardown()
            finally:
                done = stats["examples"] % total or total
                progress(done, total, f"{stats['examples']} examples, {stats['steps']} steps")

    WithProgress.__name__ = WithProgress.__qualname__ = machine.__name__
    WithProgress._hypothesis_internal_add_digest = machine._hypothesis_internal_add_digest
    return WithProgress
