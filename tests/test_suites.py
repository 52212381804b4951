"""Suites: the built-ins, their fault-free runs, and users' suite files.

The fault-free fair run of every built-in scenario must satisfy every property of its suite:
invariants on every state, transition properties on every step, eventually-properties on the
quiescent end. Each test names the behaviour it checks.
"""

from __future__ import annotations

import textwrap

import pytest

from kubeproof.model.errors import KubeproofError
from kubeproof.model.run import run
from kubeproof.properties.catalogue import SAFETY, UPSTREAM_RACES
from kubeproof.properties.core import EVENTUALLY, INVARIANT, TRANSITION, Suite
from kubeproof.properties.suites import (
    DEFAULT_SUITE,
    SUITES,
    SuiteFileError,
    UnknownSuite,
    load_suite_file,
    suite,
)
from kubeproof.properties.workloads import ROLLOUT_WITHIN_SURGE_COUNTING_TERMINATING


def _violations(r, properties):
    """Every property's first violation along the run ``r``."""
    found = {}
    states = list(r.states())
    for i, s in enumerate(r.steps):
        before, after = states[i], states[i + 1]
        for p in properties:
            if p.name in found:
                continue
            if p.kind == INVARIANT:
                v = p.check(after)
            elif p.kind == TRANSITION:
                v = p.check(before, s.action, after)
            else:
                continue
            if v is not None:
                found[p.name] = v
    for p in properties:
        if p.kind == INVARIANT and p.name not in found and p.check(states[0]) is not None:
            found[p.name] = p.check(states[0])
        if p.kind == EVENTUALLY and p.name not in found and p.check(r.state) is not None:
            found[p.name] = p.check(r.state)
    return found


@pytest.fixture(scope="module")
def runs():
    return {name: run(s.scenario()) for name, s in SUITES.items()}


# --- the built-in suites -----------------------------------------------------------------------


def test_the_built_in_suites_and_the_default():
    assert list(SUITES) == [
        "journey",
        "rolling-update",
        "scale",
        "node-failure",
        "cascade-delete",
        "rolling-update-service",
        "namespace-delete",
    ]
    assert DEFAULT_SUITE == "journey" and suite() is SUITES["journey"]
    assert suite("cascade-delete").scenario().name == "cascading-delete"


@pytest.mark.parametrize("name", list(SUITES))
def test_every_suite_runs_with_each_fault_kind_and_the_safety_properties(name):
    s = suite(name)
    f = s.faults
    assert min(f.crash, f.drop_watch, f.compact, f.stale_list, f.timeout) >= 1
    assert max(f.crash, f.drop_watch, f.compact, f.stale_list, f.timeout) <= 2  # small budgets
    assert (f.node_failure > 0) == (name == "node-failure")
    names = {p.name for p in s.properties}
    assert {p.name for p in SAFETY} <= names
    assert {"deployment-converges", "pending-only-when-unschedulable", "no-endless-cycle"} <= names
    assert not names & {p.name for p in UPSTREAM_RACES}


def test_an_unknown_suite_is_a_one_line_user_error():
    with pytest.raises(UnknownSuite, match=r"unknown suite 'nope' \(known: journey, "):
        suite("nope")
    assert issubclass(UnknownSuite, KubeproofError)


@pytest.mark.parametrize("name", list(SUITES))
def test_the_fault_free_run_satisfies_every_property_of_its_suite(runs, name):
    r = runs[name]
    assert r.reason == "quiescent" and not r.failed_facts()
    found = _violations(r, suite(name).properties)
    assert not found, {k: v.message for k, v in found.items()}


def test_the_fault_free_rolling_update_shows_upstreams_surge_with_terminating_pods(runs):
    # kubernetes#95498: a new pod starts while an old one is still terminating
    found = _violations(runs["rolling-update"], (ROLLOUT_WITHIN_SURGE_COUNTING_TERMINATING,))
    v = found[ROLLOUT_WITHIN_SURGE_COUNTING_TERMINATING.name]
    assert dict(v.evidence)["terminating"]
    assert len(dict(v.evidence)["pods"]) > 4


# --- users' suite files ------------------------------------------------------------------------


def _file(tmp_path, text, name="my_suites.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


HEADER = """
from kubeproof.model.scenarios import scenario
from kubeproof.properties.core import INVARIANT, Property, Suite

NOTHING = Property("nothing", "nothing goes wrong", INVARIANT, lambda state: None)
"""


def test_a_suite_file_with_a_suites_list_gives_those_suites(tmp_path):
    path = _file(
        tmp_path,
        HEADER
        + """
a = Suite("a", "", lambda: scenario("journey"), (NOTHING,))
b = Suite("b", "", lambda: scenario("scale"), (NOTHING,))
SUITES = [b]
""",
    )
    assert [s.name for s in load_suite_file(path)] == ["b"]


def test_a_suite_file_without_a_list_gives_every_suite_it_defines(tmp_path):
    path = _file(
        tmp_path,
        HEADER
        + """
a = Suite("a", "", lambda: scenario("journey"), (NOTHING,))
b = Suite("b", "", lambda: scenario("scale"), (NOTHING,))
also_a = a
""",
    )
    suites = load_suite_file(path)
    assert [s.name for s in suites] == ["a", "b"] and all(isinstance(s, Suite) for s in suites)
    assert suites[0].scenario().name == "journey"


def test_a_suite_file_imports_the_users_controller_beside_it(tmp_path):
    _file(tmp_path, "NAME = 'from a sibling module'\n", name="my_controller.py")
    path = _file(
        tmp_path,
        HEADER
        + """
from my_controller import NAME
mine = Suite("mine", NAME, lambda: scenario("journey"), (NOTHING,))
""",
    )
    assert load_suite_file(path)[0].description == "from a sibling module"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("def broken(:\n", r"my_suites\.py:1: syntax error"),
        (
            "x = 1\nraise RuntimeError('boom\\nsecond line')\n",
            r"my_suites\.py:2: RuntimeError: boom$",
        ),
        ("import no_such_module_here\n", r"ModuleNotFoundError: No module named"),
        ("x = 1\n", r"defines no suite"),
        ("SUITES = ['journey']\n", r"SUITES must be a list of Suite values"),
        (
            HEADER + "a = Suite('a', '', None, ())\nb = Suite('a', '', None, ())\n",
            r"two suites are named 'a'",
        ),
    ],
)
def test_a_bad_suite_file_is_a_one_line_user_error(tmp_path, text, message):
    path = _file(tmp_path, text)
    with pytest.raises(SuiteFileError, match=message) as caught:
        load_suite_file(path)
    assert "\n" not in str(caught.value) and issubclass(SuiteFileError, KubeproofError)


def test_a_missing_suite_file_is_a_one_line_user_error(tmp_path):
    with pytest.raises(SuiteFileError, match="no such file"):
        load_suite_file(str(tmp_path / "absent.py"))
