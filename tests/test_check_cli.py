"""``kubeproof check`` and ``kubeproof replay``: exit codes, the table, the written traces."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kubeproof.check import parse_faults, resolve_suites, table
from kubeproof.cli import main
from kubeproof.model.cluster import Faults
from kubeproof.properties.core import Report, Verdict
from kubeproof.properties.suites import suite

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "controllers"

# a suite file of the kind users write: the replicas operator's small scenario, with a property
# that fails within four steps (a kubelet registers its Node) and one that always holds
SUITE_FILE = f"""
import sys
sys.path.insert(0, {str(EXAMPLES)!r})
from suites import replicas_scenario
from kubeproof.model.cluster import Faults
from kubeproof.model.scenarios import listed
from kubeproof.properties.core import INVARIANT, Budget, Property, Suite, Violation

def no_node(state):
    nodes = listed(state, "nodes")
    return Violation("no-node", "a Node registered", (("node", nodes[0]),)) if nodes else None

NO_NODE = Property("no-node", "no Node ever registers", INVARIANT, no_node)
ALWAYS = Property("no-node", "no Node ever registers", INVARIANT, lambda state: None)
BUDGET = Budget(examples=2, steps=10, states=3000)
SUITES = [
    Suite("nodes", "", replicas_scenario, (NO_NODE,), Faults(crash=1), BUDGET),
    Suite("nodes-fixed", "", replicas_scenario, (ALWAYS,), Faults(crash=1), BUDGET),
]
"""


@pytest.fixture
def suite_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_suites.py").write_text(SUITE_FILE)
    return "my_suites.py"


def test_parse_faults_reads_kinds_counts_none_and_all():
    assert parse_faults("crash,drop-watch=2") == Faults(crash=1, drop_watch=2)
    assert parse_faults("none") == Faults()
    assert parse_faults("all") == Faults(1, 1, 1, 1, 1, 1)


@pytest.mark.parametrize("text", ["meteor", "crash=x", "crash=-1"])
def test_parse_faults_rejects_bad_lists(text):
    with pytest.raises(Exception, match="--faults"):
        parse_faults(text)


def test_bare_check_runs_the_journey_suite():
    assert resolve_suites([], None) == [suite("journey")]


def test_table_has_suite_property_verdict_explored_and_seconds():
    report = Report("journey", "hypothesis", (Verdict("p", True),), examples=7, seconds=1.25)
    lines = table([report]).splitlines()
    assert lines[0].split() == ["suite", "property", "verdict", "explored", "seconds"]
    assert lines[1].split() == ["journey", "p", "holds", "7", "examples", "1.2"]


def test_a_violation_exits_1_and_writes_markdown_json_and_junit(suite_file, capsys):
    status = main(
        [
            "check",
            "nodes",
            "--suite-file",
            suite_file,
            "--engine",
            "exhaustive",
            "--report-dir",
            "out",
            "--junit",
            "junit.xml",
        ]
    )
    out = capsys.readouterr().out
    assert status == 1
    assert "VIOLATED (4 steps)" in out and "3000 states" in out
    assert "nodes/no-node: trace written to out/nodes-no-node.md and out/nodes-no-node.json" in out
    doc = json.loads(Path("out/nodes-no-node.json").read_text())
    assert doc["version"] == 1 and doc["suite_file"] == "my_suites.py" and len(doc["actions"]) == 4
    assert Path("out/nodes-no-node.md").read_text().startswith("# kubeproof: `no-node` violated")
    case = ET.parse("junit.xml").getroot().find(".//testcase")
    assert case.get("name") == "no-node" and case.find("failure") is not None


def test_replay_exits_1_when_the_violation_recurs(suite_file, capsys):
    main(["check", "nodes", "--suite-file", suite_file, "--engine", "exhaustive"])
    capsys.readouterr()
    assert main(["replay", "kubeproof-report/nodes-no-node.json"]) == 1
    assert "the trace still fails: no-node is violated again" in capsys.readouterr().out


def test_replay_exits_0_once_the_trace_no_longer_fails(suite_file, capsys):
    main(["check", "nodes", "--suite-file", suite_file, "--engine", "exhaustive"])
    path = Path("kubeproof-report/nodes-no-node.json")
    doc = json.loads(path.read_text())
    doc["suite"] = "nodes-fixed"  # the same trace against the fixed suite
    path.write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["replay", str(path)]) == 0
    assert "the trace no longer fails" in capsys.readouterr().out


def test_replay_can_render_markdown(suite_file, capsys):
    main(["check", "nodes", "--suite-file", suite_file, "--engine", "exhaustive"])
    capsys.readouterr()
    main(["replay", "kubeproof-report/nodes-no-node.json", "--format", "markdown"])
    assert "```mermaid" in capsys.readouterr().out


def test_the_hypothesis_engine_passes_a_holding_suite_with_exit_0(suite_file, capsys):
    status = main(
        ["check", "nodes-fixed", "--suite-file", suite_file, "--seed", "1", "--database", "db"]
    )
    out = capsys.readouterr().out
    assert status == 0 and "all 1 properties hold" in out
    assert "nodes-fixed: 2/2" in out  # the plain progress lines (stdout is not a terminal)


def test_faults_override_the_suite_budget(suite_file, capsys):
    main(
        [
            "check",
            "nodes",
            "--suite-file",
            suite_file,
            "--engine",
            "exhaustive",
            "--faults",
            "timeout",
        ]
    )
    doc = json.loads(Path("kubeproof-report/nodes-no-node.json").read_text())
    assert doc["faults"]["crash"] == 0 and doc["faults"]["timeout"] == 1


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["check", "no-such-suite"], "unknown suite 'no-such-suite'"),
        (["check", "--faults", "meteor"], "unknown fault 'meteor'"),
        (["check", "--examples", "0"], "--examples must be at least 1"),
        (["check", "--suite-file", "absent.py"], "absent.py"),
        (["replay", "absent.json"], "absent.json: cannot read"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, says, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1


def test_a_trace_of_an_unknown_version_exits_2(tmp_path, capsys):
    path = tmp_path / "t.json"
    path.write_text('{"kubeproof": "trace", "version": 9, "suite": "journey", "actions": []}')
    assert main(["replay", str(path)]) == 2
    assert "trace version 9 is not supported" in capsys.readouterr().err


def test_check_help_names_every_built_in_suite(capsys):
    from kubeproof.properties.suites import SUITES

    assert main(["check", "--help"]) == 0
    words = capsys.readouterr().out.replace(",", " ").replace(";", " ").split()
    assert [n for n in SUITES if n not in words] == []
    assert "journey" in words and "(default)" in words


def test_a_usage_error_exits_2(capsys):
    assert main(["check", "--engine", "random"]) == 2


# --- the pytest integration (properties/pytest_plugin.py) --------------------------------------


def _suites(suite_file):
    from kubeproof.properties.suites import load_suite_file

    return {s.name: s for s in load_suite_file(suite_file)}


def test_suite_tests_make_one_parametrized_case_per_suite(suite_file):
    from kubeproof.properties.pytest_plugin import suite_tests

    test = suite_tests(_suites(suite_file).values(), engine="exhaustive")
    (mark,) = test.pytestmark
    assert mark.name == "parametrize" and mark.kwargs["ids"] == ["nodes", "nodes-fixed"]


def test_a_failing_suite_test_fails_with_the_trace_and_writes_it(suite_file):
    from kubeproof.properties.pytest_plugin import check_or_fail, suite_test

    suites = _suites(suite_file)
    assert suite_test(suites["nodes"]).__name__ == "test_nodes"
    with pytest.raises(pytest.fail.Exception) as failed:
        check_or_fail(suites["nodes"], "exhaustive", report_dir="out")
    assert "no-node violated" in str(
        failed.value
    ) and "kubeproof replay out/nodes-no-node.json" in str(failed.value)
    assert check_or_fail(suites["nodes-fixed"], "exhaustive").holds


def test_machine_tests_expose_each_suite_as_a_hypothesis_test_case(suite_file):
    import unittest

    from kubeproof.properties.pytest_plugin import machine_tests

    classes = machine_tests(_suites(suite_file).values())
    assert list(classes) == ["TestMachine_nodes", "TestMachine_nodes_fixed"]
    assert all(issubclass(c, unittest.TestCase) for c in classes.values())
