"""Traces: JSON that round-trips and replays, and the terminal, Markdown and JUnit renderings."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from functools import cache

import pytest

from kubeproof.model.cluster import Crash, Deliver, Faults, Relist, Tick, Timeout
from kubeproof.model.run import run
from kubeproof.model.scenarios import listed, scenario
from kubeproof.properties.core import (
    INVARIANT,
    TRANSITION,
    Property,
    Report,
    Suite,
    Trace,
    Verdict,
    Violation,
)
from kubeproof.properties.replay import replay
from kubeproof.properties.trace import (
    VERSION,
    TraceError,
    junit_xml,
    mermaid,
    read_trace,
    render_markdown,
    render_text,
    summary,
    trace_from_json,
    trace_to_json,
    write_trace,
)


def _at_most_one_pod(state):
    pods = listed(state, "pods")
    if len(pods) > 1:
        return Violation(
            "at-most-one-pod", f"{len(pods)} pods exist", (("pods", len(pods)), ("pod", pods[1]))
        )
    return None


AT_MOST_ONE = Property("at-most-one-pod", "at most one pod exists", INVARIANT, _at_most_one_pod)
NEVER_TICKS = Property(
    "clock-never-moves",
    "the clock never moves",
    TRANSITION,
    lambda before, action, after: (
        Violation("clock-never-moves", "it moved") if isinstance(action, Tick) else None
    ),
)
SUITE = Suite("journey", "test suite", lambda: scenario("journey"), (AT_MOST_ONE, NEVER_TICKS))


@cache
def _journey_actions():
    return run(scenario("journey")).actions


def _trace(prefix: int = 400, property: str = "at-most-one-pod") -> Trace:
    return Trace(
        "journey", Faults(crash=1), _journey_actions()[:prefix], Violation(property, "x"), seed=3
    )


def test_json_round_trip_keeps_suite_faults_actions_seed_and_violation():
    trace = Trace(
        "journey",
        Faults(crash=1, timeout=2),
        (Deliver("scheduler", "pods"), Relist("deployment", "pods", 4), Timeout("rs", False)),
        Violation("p", "went wrong", (("count", 3), ("nodes", ("a", "b")))),
        seed=11,
    )
    assert trace_from_json(trace_to_json(trace)) == trace


def test_json_names_the_version_and_each_action_by_class_and_fields():
    doc = json.loads(trace_to_json(Trace("journey", Faults(), (Crash("kubelet-node-1", True),))))
    assert doc["version"] == VERSION
    assert doc["actions"] == [
        {"action": "Crash", "process": "kubelet-node-1", "node_failure": True}
    ]


def test_json_writes_objects_in_the_evidence_as_manifests():
    pod = listed(run(scenario("journey")).state, "pods")[0]
    doc = json.loads(
        trace_to_json(Trace("journey", Faults(), (), Violation("p", "m", (("pod", pod),))))
    )
    assert doc["violation"]["evidence"][0][1]["kind"] == "Pod"


def test_write_and_read_a_trace_file_with_its_suite_file(tmp_path):
    path = write_trace(_trace(10), str(tmp_path / "t.json"), suite_file="my_suites.py")
    trace, suite_file = read_trace(path)
    assert trace.actions == _journey_actions()[:10] and suite_file == "my_suites.py"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{not json", "not JSON"),
        ('{"kubeproof": "trace", "version": 2, "suite": "journey", "actions": []}', "version 2"),
        ('{"kubeproof": "journey"}', "not a kubeproof trace"),
        (
            '{"kubeproof": "trace", "version": 1, "suite": "j", "actions": [{"action": "Fly"}]}',
            "actions[0]: not a known action",
        ),
        (
            '{"kubeproof": "trace", "version": 1, "suite": "j", '
            '"actions": [{"action": "Deliver", "component": "x"}]}',
            "actions[0]: Deliver",
        ),
        ('{"kubeproof": "trace", "version": 1, "suite": "j"}', "malformed"),
        (
            '{"kubeproof": "trace", "version": 1, "suite": "j", "actions": [], '
            '"faults": {"meteor": 1}}',
            "malformed",
        ),
    ],
)
def test_a_bad_trace_file_is_one_line_error(text, says):
    with pytest.raises(TraceError) as err:
        trace_from_json(text, "t.json")
    message = str(err.value)
    assert says in message and "\n" not in message and message.startswith("t.json: ")


def test_a_missing_trace_file_is_an_error(tmp_path):
    with pytest.raises(TraceError, match="cannot read"):
        read_trace(str(tmp_path / "absent.json"))


def test_replay_shows_the_recorded_violation_at_the_step_it_happens():
    r = replay(_trace(400), SUITE)
    assert r.recurs and r.violation.property == "at-most-one-pod"
    assert r.at == r.traced and len(listed(r.states[r.at], "pods")) == 2
    assert len(listed(r.states[r.at - 1], "pods")) == 1


def test_replay_finds_a_transition_violation():
    r = replay(_trace(400, "clock-never-moves"), SUITE)
    assert r.recurs and isinstance(r.actions[r.at - 1], Tick)


def test_replay_of_a_trace_that_no_longer_fails():
    holds = Suite("journey", "", lambda: scenario("journey"), ())
    r = replay(_trace(50), holds)
    assert not r.recurs and r.violation is None and r.quiescent
    assert "no longer fails" in summary(r, holds)


def test_replay_reports_an_action_that_can_no_longer_be_taken():
    trace = Trace("journey", Faults(), (Deliver("nobody", "pods"),), Violation("p", "m"))
    r = replay(trace, SUITE)
    assert not r.recurs and "step 1 (Deliver) can no longer be taken" in r.error


def test_text_shows_summary_and_marks_the_violating_step():
    text = render_text(replay(_trace(400), SUITE), SUITE, last=5)
    lines = text.splitlines()
    assert lines[0] == "kubeproof trace: suite journey: at-most-one-pod violated"
    assert "violates `at-most-one-pod` (at most one pod exists)" in text
    assert lines[-1].endswith("<-- violated here") and "earlier steps" in text


def test_markdown_has_summary_evidence_diagram_and_each_step_with_diff_and_view():
    r = replay(_trace(400), SUITE)
    md = render_markdown(r, SUITE, "reports/t.json")
    assert md.startswith("# kubeproof: `at-most-one-pod` violated in suite `journey`\n\n")
    assert "kubeproof replay reports/t.json" in md
    assert "## Evidence" in md and "kind: Pod" in md
    assert "```mermaid\nsequenceDiagram" in md
    violating = next(line for line in md.splitlines() if "**violated here**" in line)
    assert violating.startswith(f"{r.at}. `replicaset`: send create pods")
    assert "view rv" in violating and "etcd rv" in violating
    assert "+++ pods/default/" in md and "+kind: Pod" in md


def test_markdown_shows_how_stale_a_view_was():
    md = render_markdown(replay(_trace(400), SUITE), SUITE)
    assert any("behind), etcd rv" in line for line in md.splitlines())


def test_mermaid_has_a_participant_per_actor_and_the_violation_note():
    diagram = mermaid(replay(_trace(400), SUITE))
    assert "participant replicaset as replicaset" in diagram
    assert "Note over replicaset:" in diagram and "violated: at-most-one-pod" in diagram


def test_junit_has_one_case_per_suite_and_property_and_a_failure_with_the_trace():
    failing = Verdict("at-most-one-pod", False, _trace(10))
    reports = [
        Report("journey", "hypothesis", (failing, Verdict("other", True)), examples=5, seconds=1.5),
        Report("scale", "exhaustive", (Verdict("other", True),), states=99),
    ]
    root = ET.fromstring(junit_xml(reports, {("journey", "at-most-one-pod"): "r/t.json"}))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["journey", "scale"]
    assert suites[0].get("failures") == "1" and suites[0].get("tests") == "2"
    cases = root.findall(".//testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("kubeproof.journey", "at-most-one-pod"),
        ("kubeproof.journey", "other"),
        ("kubeproof.scale", "other"),
    ]
    failure = cases[0].find("failure")
    assert failure.get("message") == "x" and "kubeproof replay r/t.json" in failure.text
    assert cases[1].find("failure") is None
