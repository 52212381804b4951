"""The Hypothesis engine's settling and its smallest example (properties/engines/settling.py).

The smallest example (every fault off, nothing drawn, the fair run settles) is checked before
Hypothesis starts: for every catalogue entry whose violation Hypothesis shrinks to that example,
the trace must be the one Hypothesis itself reports, and it must replay. The engine's memo must
change nothing a report says.
"""

from __future__ import annotations

import weakref

import pytest
from test_engines import HYPOTHESIS, labeler_suite, replicaset_suite

from kubeproof.model.cluster import NO_FAULTS, Faults, enabled, step
from kubeproof.model.run import run
from kubeproof.model.scenarios import scenario
from kubeproof.properties.bugs import BUGS, bug
from kubeproof.properties.engines import hypothesis_engine
from kubeproof.properties.engines.hypothesis_engine import explore
from kubeproof.properties.engines.settling import (
    ExampleMemo,
    fair_run_violations,
    settle,
    settled_violations,
)
from kubeproof.properties.replay import replay

# the entries whose Hypothesis traces shrink to 0 drawn steps (reports/benchmarks.md)
SHRINK_TO_NOTHING = (
    "scheduler-no-assume",
    "deployment-surge-ignores-terminating",
    "recreate-overlap",
    "nodename-noexecute-loop",
    "spread-scale-infeasible",
    "terminating-endpoint-no-prestop",
)


class Unremembered:
    """``cluster.enabled`` and ``cluster.step`` themselves, in place of the engine's memo."""

    def enabled(self, state, faults=NO_FAULTS):
        return enabled(state, faults)

    def step(self, state, action):
        return step(state, action)

    def settled(self, state, checks):
        return settled_violations(state, self, checks)


def test_the_smallest_example_violates_exactly_the_entries_that_shrink_to_nothing():
    violating = {b.id for b in BUGS if b.property in fair_run_violations(b.buggy)}
    assert violating == set(SHRINK_TO_NOTHING)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("entry", SHRINK_TO_NOTHING)
def test_the_smallest_example_reports_what_hypothesis_shrinks_to(entry, seed):
    suite = bug(entry).buggy
    fast = explore(suite, seed=seed, database=":memory:")
    plain = explore(suite, seed=seed, database=":memory:", _fair_run_first=False)
    assert fast.verdicts == plain.verdicts
    trace = next(v.trace for v in fast.verdicts if v.property == bug(entry).property)
    assert trace.actions == () and trace.seed == seed
    assert all(getattr(trace.faults, k) == 0 for k in hypothesis_engine.fault_kinds(suite.faults))


@pytest.mark.parametrize("entry", SHRINK_TO_NOTHING)
def test_the_smallest_examples_trace_replays_to_its_violation(entry):
    suite = bug(entry).buggy
    trace = next(
        v.trace
        for v in explore(suite, seed=0, database=":memory:").verdicts
        if v.property == bug(entry).property
    )
    replayed = replay(trace, suite)
    assert replayed.recurs and replayed.violation == trace.violation


def test_a_loop_that_never_quiesces_is_checked_only_up_to_its_violation():
    suite = bug("nodename-noexecute-loop").buggy
    stats = {"examples": 0, "steps": 0}
    (violation,) = fair_run_violations(suite, stats=stats).values()
    replayed = replay(explore(suite, seed=0, database=":memory:").verdicts[0].trace, suite)
    assert replayed.violation == violation
    assert stats == {"examples": 1, "steps": replayed.at}


def test_settling_visits_the_fair_runs_steps_and_ends_in_its_state():
    journey = scenario("journey")
    fair = run(journey)
    assert len(fair.steps) > 1000  # several slices
    visited = []

    def visit(before, action, after):
        assert not visited or visited[-1][2] is before
        visited.append((before, action, after))
        return False

    end = settle(journey.initial_state(), ExampleMemo(), visit)
    assert tuple(a for _, a, _ in visited) == fair.actions
    assert end == fair.state == visited[-1][2]


def test_settling_stops_when_the_visit_says_so():
    visited = []
    end = settle(
        scenario("journey").initial_state(),
        ExampleMemo(),
        lambda *s: visited.append(s) or len(visited) == 300,
    )
    assert end is None and len(visited) == 300


MEMO_CASES = {
    "rs-no-expectations": (bug("rs-no-expectations").buggy, {}),
    "rs-expectations-after-list": (bug("rs-expectations-after-list").buggy, {}),
    "spread-scale-infeasible": (bug("spread-scale-infeasible").buggy, {}),
    # every fault kind but node failure: swarm switches, stale lists, timeouts, compaction
    "labeler-every-fault": (labeler_suite(Faults(1, 1, 1, 1, 1)), HYPOTHESIS),
    "replicaset-crash": (replicaset_suite(Faults(crash=1)), HYPOTHESIS),
}


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("case", list(MEMO_CASES))
def test_the_memo_changes_nothing_a_report_says(case, seed, monkeypatch):
    suite, budget = MEMO_CASES[case]
    budget = {**budget, "seed": seed, "database": ":memory:"}
    remembered = explore(suite, **budget)
    monkeypatch.setattr(hypothesis_engine, "ExampleMemo", Unremembered)
    unremembered = explore(suite, **budget)
    assert remembered.verdicts == unremembered.verdicts
    assert (remembered.examples, remembered.steps) == (unremembered.examples, unremembered.steps)


def test_a_search_frees_its_memo_when_it_returns(monkeypatch):
    made = []

    class Recorded(ExampleMemo):
        def __init__(self):
            super().__init__()
            made.append(weakref.ref(self))

    monkeypatch.setattr(hypothesis_engine, "ExampleMemo", Recorded)
    explore(bug("rs-no-expectations").buggy, seed=0, database=":memory:")
    # freed when the search returns, not at a later full collection of cyclic garbage
    assert made and all(r() is None for r in made)
