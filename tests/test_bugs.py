"""The bug catalogue: every entry's buggy suite violates its property within its default budget
(seeded), its fixed suite holds, and the command line lists and runs them (exit 1, 0, 2).

Parametrized over ``BUGS``, so an entry added later is covered without touching this file. The
buggy searches are properties/bugs/report.py's ``counterexample`` (seed 0, no example
database, remembered per process).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from kubeproof.cli import main
from kubeproof.properties import bugs as catalogue
from kubeproof.properties.bugs import BUGS, Bug, UnknownBug, bug
from kubeproof.properties.bugs.report import REPORT_SEED, counterexample, found_trace
from kubeproof.properties.engines import check_suite
from kubeproof.properties.replay import replay
from kubeproof.properties.trace import read_trace

IDS = [b.id for b in BUGS]
REF = re.compile(r"^[\w.-]+/[\w.-]+#\d+$|^https?://|^[\w-]+(\.[\w-]+)+/")
# a fast entry for the command-line tests (found in a second, its fixed suite holds in two)
FAST = "rs-no-expectations"


# --- the entries ---------------------------------------------------------------------------


def test_the_catalogue_has_the_issues_entries_once_each():
    wanted = {
        "rs-no-expectations",
        "rs-expectations-after-list",
        "rs-expectations-expire",
        "scheduler-no-assume",
        "deployment-surge-ignores-terminating",
        "adopt-without-recheck",
        "recreate-overlap",
    }
    assert wanted <= set(IDS)
    assert len(IDS) == len(set(IDS))


@pytest.mark.parametrize("entry", BUGS, ids=IDS)
def test_an_entry_names_its_suites_property_and_upstream_issues(entry: Bug):
    assert entry.buggy.name == entry.id
    assert entry.property in [p.name for p in entry.buggy.properties]
    assert entry.upstream and all(REF.match(ref) for ref in entry.upstream), entry.upstream
    assert entry.title and entry.story and entry.fix
    if entry.fixed is not None:
        # the same search: same property and fault budget, another component behaviour
        assert entry.fixed.name != entry.buggy.name
        assert [p.name for p in entry.fixed.properties] == [p.name for p in entry.buggy.properties]
        assert entry.fixed.faults == entry.buggy.faults
        assert entry.fixed.scenario().controllers != entry.buggy.scenario().controllers


@pytest.mark.parametrize("entry", BUGS, ids=IDS)
def test_the_buggy_suite_violates_its_property_within_its_budget(entry: Bug):
    counterexample(entry.id)  # seed REPORT_SEED, the suite's own budget
    trace = found_trace(entry)
    assert trace is not None, f"{entry.id}: no violation of {entry.property} (seed {REPORT_SEED})"
    again = replay(trace, entry.buggy)
    assert again.recurs and again.violation.property == entry.property


FIXED = [b for b in BUGS if b.fixed is not None]


@pytest.mark.parametrize("entry", FIXED, ids=[b.id for b in FIXED])
def test_the_fixed_suite_holds(entry: Bug):
    report = check_suite(entry.fixed, "hypothesis", seed=REPORT_SEED, database=":memory:")
    assert report.holds, [v.trace.violation for v in report.verdicts if not v.holds]


def test_the_buggy_trace_no_longer_fails_on_the_fixed_suite():
    """The way a fix is confirmed: the bug's trace replayed against the fixed components."""
    entry = bug(FAST)
    trace = found_trace(entry)
    assert replay(trace, entry.buggy).recurs
    assert not replay(trace, entry.fixed).recurs


def test_an_unknown_id_is_a_user_error_naming_the_known_ones():
    with pytest.raises(UnknownBug, match="rs-no-expectations"):
        bug("no-such-bug")


# --- kubeproof bugs ------------------------------------------------------------------------


def test_bugs_lists_every_entry_with_upstream_and_property(capsys):
    assert main(["bugs"]) == 0
    out = capsys.readouterr().out
    for entry in BUGS:
        line = next(x for x in out.splitlines() if x.startswith(entry.id + " "))
        assert entry.property in line and entry.title in line


def test_bugs_as_json_has_every_field(capsys):
    assert main(["bugs", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == IDS
    first = rows[0]
    assert first["upstream"] == list(BUGS[0].upstream)
    assert first["buggy suite"] == BUGS[0].id and first["property"] == BUGS[0].property
    assert set(first) >= {"title", "switch", "story", "fix", "fixed suite"}


# --- kubeproof check --bug -----------------------------------------------------------------


def _check(tmp_path, *extra: str) -> int:
    return main(
        [
            "check",
            *extra,
            "--seed",
            "0",
            "--database",
            ":memory:",
            "--report-dir",
            str(tmp_path / "report"),
        ]
    )


def test_check_bug_exits_1_and_prints_where_the_trace_is(tmp_path, capsys):
    assert _check(tmp_path, "--bug", FAST) == 1
    out = capsys.readouterr().out
    written = re.search(r"trace written to (\S+\.md) and (\S+\.json)", out)
    assert written is not None, out
    trace, _ = read_trace(written.group(2))
    assert trace.suite == FAST and trace.violation.property == bug(FAST).property
    # the trace of a bug's suite replays from the command line
    assert main(["replay", written.group(2)]) == 1


def test_check_bug_fixed_exits_0(tmp_path, capsys):
    assert _check(tmp_path, "--bug", FAST, "--fixed") == 0
    assert "all 1 properties hold" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv,says",
    [
        (["--bug", "no-such-bug"], "unknown bug 'no-such-bug'"),
        (["--fixed"], "--fixed needs --bug"),
        (["journey", "--bug", FAST], "--bug runs the entry's own suite"),
    ],
)
def test_check_bug_bad_input_exits_2_with_one_line(argv, says, tmp_path, capsys):
    assert _check(tmp_path, *argv) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1


def test_check_bug_fixed_of_an_upstream_behaviour_exits_2(tmp_path, capsys, monkeypatch):
    upstream = replace(bug(FAST), id="still-upstream", fixed=None)
    monkeypatch.setattr(catalogue, "BUGS", (*BUGS, upstream))
    assert _check(tmp_path, "--bug", "still-upstream", "--fixed") == 2
    assert "has no fixed suite" in capsys.readouterr().err
