"""The user-controller example (examples/controllers): the replicas operator follows its
ConfigMap; the buggy one drops a 409 Conflict, and kubeproof catches and replays it."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from kubeproof.cli import main
from kubeproof.model.apiserver.server import Request, Response, Status
from kubeproof.model.controllers.protocol import Delta, Outgoing
from kubeproof.model.run import run
from kubeproof.model.scenarios import kubectl_create_deployment
from kubeproof.properties.replay import replay
from kubeproof.properties.suites import load_suite_file
from kubeproof.properties.trace import read_trace

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "controllers"
SUITE_FILE = str(EXAMPLES / "suites.py")
TRACE = str(EXAMPLES.parent.parent / "reports" / "replicas-operator-buggy.json")
SUITES = {s.name: s for s in load_suite_file(SUITE_FILE)}
operator = sys.modules["replicas_operator"]  # imported by the suite file


def _deployment(generation: int, replicas: int = 1):
    d = kubectl_create_deployment("nginx", "nginx", replicas)
    return replace(d, metadata=replace(d.metadata, generation=generation))


def test_status_only_updates_do_not_wake_the_operator():
    delta = Delta("deployments", "MODIFIED", _deployment(1), old=_deployment(1))
    assert operator.ReplicasOperator().keys(delta, None) == ()


def test_spec_changes_and_creations_wake_the_operator():
    changed = Delta("deployments", "MODIFIED", _deployment(2), old=_deployment(1))
    added = Delta("deployments", "ADDED", _deployment(1))
    assert operator.ReplicasOperator().keys(changed, None) == ("default/nginx",)
    assert operator.ReplicasOperator().keys(added, None) == ("default/nginx",)


def _conflict_and_timeout():
    sent = Outgoing(Request("admin", "update", "deployments", "default", "nginx"), "default/nginx")
    conflict = Response(409, Status(409, "Conflict", "the object has been modified"))
    timeout = Response(504, Status(504, "Timeout", "timed out"))
    return sent, conflict, timeout


def test_the_operator_retries_a_conflict_and_the_buggy_one_forgets_it():
    sent, conflict, _ = _conflict_and_timeout()
    good = operator.ReplicasOperator().on_response(None, sent, conflict, None)
    bad = operator.BuggyReplicasOperator().on_response(None, sent, conflict, None)
    assert good.after == (("default/nginx", 1),)
    assert bad.after == () and bad.requeue == ()


def test_both_operators_retry_a_timeout():
    sent, _, timeout = _conflict_and_timeout()
    bad = operator.BuggyReplicasOperator().on_response(None, sent, timeout, None)
    assert bad.after == (("default/nginx", 1),)


@pytest.mark.parametrize("name", ["replicas-operator", "replicas-operator-buggy"])
def test_a_fair_run_scales_the_deployment_to_the_configmap_count(name):
    chosen = SUITES[name].scenario()
    assert chosen.failed_facts(run(chosen).state) == ()


def test_the_shipped_trace_shows_the_buggy_operator_losing_a_conflict():
    trace, _ = read_trace(TRACE)
    r = replay(trace, SUITES["replicas-operator-buggy"])
    assert r.recurs and r.quiescent
    assert r.violation.message == "Deployment nginx has spec.replicas 1, the ConfigMap asks for 2"
    sent = [e for step in r.entries for e in step if e.actor == "replicas-operator"]
    assert [e.code for e in sent if e.action == "send"] == [409]


def test_the_same_trace_no_longer_fails_with_the_fixed_operator():
    trace, _ = read_trace(TRACE)
    r = replay(replace(trace, suite="replicas-operator"), SUITES["replicas-operator"])
    assert not r.recurs and r.quiescent and r.error == ""


def test_kubeproof_replay_of_the_shipped_trace_exits_1(capsys):
    assert main(["replay", TRACE, "--suite-file", SUITE_FILE]) == 1
    out = capsys.readouterr().out
    assert "-> 409" in out and "replicas-follow-configmap is violated again" in out


def test_kubeproof_check_catches_the_bug_with_a_short_trace(tmp_path, monkeypatch, capsys):
    from hypothesis.internal.conjecture import engine

    # keep the test short: Hypothesis otherwise shrinks for up to five minutes
    monkeypatch.setattr(engine, "MAX_SHRINKING_SECONDS", 20)
    status = main(
        [
            "check",
            "--suite-file",
            SUITE_FILE,
            "replicas-operator-buggy",
            "--seed",
            "1",
            "--database",
            str(tmp_path / "db"),
            "--report-dir",
            str(tmp_path / "report"),
        ]
    )
    out = capsys.readouterr().out
    assert status == 1 and "VIOLATED" in out
    (found,) = (tmp_path / "report").glob("*.json")
    trace, suite_file = read_trace(str(found))
    assert suite_file == SUITE_FILE and len(trace.actions) <= 150
    assert replay(trace, SUITES["replicas-operator-buggy"]).recurs
