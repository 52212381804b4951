"""The caches the exhaustive search relies on give the answers of the functions they stand for.

``model.memo.Memo`` against ``cluster.enabled`` and ``cluster.step``, and the canonicalizer's
remembered keys against a fresh canonicalizer's, compared by canonical key (which, unlike
state equality, sees the order of a map's entries), along the journey's fair run with every
fault enabled and one step off it.
"""

from __future__ import annotations

from itertools import islice

import pytest

from kubeproof.model.cluster import Faults, Relist, enabled, step
from kubeproof.model.memo import Memo
from kubeproof.model.run import run
from kubeproof.model.scenarios import scenario
from kubeproof.properties.canonical import Canonicalizer, canonical_key
from kubeproof.properties.engines import Checks
from kubeproof.properties.engines.exhaustive import endless_cycle, explore_states
from kubeproof.properties.suites import suite

EVERY_FAULT = Faults(1, 1, 1, 1, 1, 1)


@pytest.fixture(scope="module")
def journey_states():
    """Every 8th state of the journey's fair run (its first 800 steps): listing, scheduling,
    binding and running, with timers, outboxes and writes."""
    return list(islice(run(scenario("journey")).states(), 0, 800, 8))


def test_memo_lists_the_actions_enabled_lists(journey_states):
    memo = Memo()
    for state in journey_states:
        assert memo.enabled(state, EVERY_FAULT) == enabled(state, EVERY_FAULT)
        assert memo.enabled(state, EVERY_FAULT) == enabled(state, EVERY_FAULT)  # remembered


def test_memo_steps_to_the_states_step_reaches(journey_states):
    memo, keys, other_keys = Memo(), Canonicalizer(), Canonicalizer()
    for state in journey_states[::3]:
        for action in enabled(state, EVERY_FAULT):
            after = step(state, action)
            for _ in range(2):  # computed, then remembered
                got = memo.step(state, action)
                assert got == after and keys.key(got) == other_keys.key(after)


def test_a_remembered_step_shares_the_component_it_computed():
    s = scenario("journey").initial_state()
    first, second = enabled(s)[1:3]
    assert isinstance(first, Relist) and first.component != second.component
    memo = Memo()
    one = memo.step(memo.step(s, first), second)
    other = memo.step(memo.step(s, second), first)
    assert one == other and one is not other
    assert all(one.components[n] is other.components[n] for n in one.components)


def test_remembered_keys_are_the_keys_of_a_fresh_canonicalizer(journey_states):
    keys = Canonicalizer()
    for state in journey_states:
        for action in enabled(state, EVERY_FAULT)[:4]:
            after = step(state, action)
            assert keys.key(after) == keys.key(after) == canonical_key(after)


def test_a_state_rebuilt_from_the_same_parts_keeps_its_key():
    s = scenario("journey").initial_state()
    keys = Canonicalizer()
    rebuilt = step(s, enabled(s)[1])
    again = type(rebuilt)(
        rebuilt.api,
        type(rebuilt.components)(rebuilt.components.items()),
        rebuilt.clients,
        rebuilt.faults_used,
        rebuilt.controllers,
    )
    assert keys.key(again) == keys.key(rebuilt) != keys.key(s)


def test_the_order_of_a_map_still_tells_states_apart():
    s = scenario("journey").initial_state()
    reordered = type(s.components)(reversed(list(s.components.items())))
    turned = type(s)(s.api, reordered, s.clients, s.faults_used, s.controllers)
    assert turned == s
    keys = Canonicalizer()
    assert keys.key(turned) != keys.key(s)


def test_cycle_detection_answers_none_on_an_acyclic_graph_without_building_it():
    journey = suite("journey")
    graph, _ = explore_states(journey, Checks(journey), 300, 10**9)
    assert graph.edges and endless_cycle(graph) is None
