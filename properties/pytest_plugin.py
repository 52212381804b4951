"""Property suites as pytest tests: one test per suite, so pytest-xdist spreads suites over cores,
and each suite's Hypothesis state machine as a test class, for HypoFuzz.

In a test module of your own (``tests/test_suites.py``)::

    from kubeproof.properties.pytest_plugin import machine_tests, suite_tests
    from kubeproof.properties.suites import SUITES

    test_suite = suite_tests(SUITES.values())  # test_suite[journey], test_suite[scale], ...
    globals().update(machine_tests(SUITES.values()))  # TestMachine_journey, ... (HypoFuzz)

then ``pytest -n auto tests/test_suites.py``. A failing suite test fails with the trace as text
and writes its Markdown and JSON to ``report_dir`` (``kubeproof replay`` re-runs the JSON).
``KUBEPROOF_DATABASE`` (a directory or ``redis://host:port/db``) sets the Hypothesis example
database, so many runners share counterexamples.

>>> from kubeproof.properties.suites import suite
>>> suite_tests([suite("journey")]).__name__
'test_suite'
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import pytest

from kubeproof.properties.core import Report, Suite

__all__ = ["check_or_fail", "machine_tests", "suite_test", "suite_tests"]

DEFAULT_REPORT_DIR = "kubeproof-report"


def check_or_fail(
    suite: Suite,
    engine: str = "hypothesis",
    report_dir: str = DEFAULT_REPORT_DIR,
    suite_file: str | None = None,
    **options,
) -> Report:
    """Check ``suite``; on a violation write its trace and fail the test with it."""
    from kubeproof.check import write_trace_report
    from kubeproof.properties.engines import check_suite
    from kubeproof.properties.replay import replay
    from kubeproof.properties.trace import render_text

    if (
        engine == "hypothesis"
        and "database" not in options
        and os.environ.get("KUBEPROOF_DATABASE")
    ):
        options["database"] = os.environ["KUBEPROOF_DATABASE"]
    report = check_suite(suite, engine, **options)
    failed = [v for v in report.verdicts if not v.holds and v.trace is not None]
    if failed:
        texts = []
        for verdict in failed:
            md, js, _ = write_trace_report(verdict.trace, suite, report_dir, suite_file)
            texts.append(render_text(replay(verdict.trace, suite), suite, last=15))
            texts.append(f"trace: {md} (replay: kubeproof replay {js})")
        pytest.fail("\n".join(texts), pytrace=False)
    return report


def suite_test(suite: Suite, engine: str = "hypothesis", **options):
    """A pytest test function (``test_<suite>``) that checks one suite."""

    def test() -> None:
        check_or_fail(suite, engine, **options)

    test.__name__ = "test_" + suite.name.replace("-", "_")
    test.__doc__ = f"Suite {suite.name}: {suite.description}"
    return test


def suite_tests(suites: Iterable[Suite], engine: str = "hypothesis", **options):
    """One parametrized pytest test, a case per suite (its id is the suite's name)."""
    chosen = list(suites)

    @pytest.mark.parametrize("suite", chosen, ids=[s.name for s in chosen])
    def test_suite(suite: Suite) -> None:
        check_or_fail(suite, engine, **options)

    return test_suite


def machine_tests(suites: Iterable[Suite]) -> dict[str, type]:
    """Each suite's Hypothesis state machine as a unittest TestCase class, by test name
    (``TestMachine_<suite>``): pytest runs them with the active Hypothesis settings profile's
    examples and the suite's steps per example, and HypoFuzz can fuzz them."""
    from hypothesis import HealthCheck, settings

    from kubeproof.properties.engines.hypothesis_engine import example_database, machine_for

    database = os.environ.get("KUBEPROOF_DATABASE")
    shared = {"database": example_database(database)} if database else {}
    out = {}
    for s in suites:
        name = "TestMachine_" + s.name.replace("-", "_")
        case = machine_for(s).TestCase
        # the active profile's examples; the suite's steps per example; no deadline (a step's
        # time grows with the state)
        chosen = settings(
            deadline=None,
            suppress_health_check=list(HealthCheck),
            stateful_step_count=s.budget.steps,
            **shared,
        )
        out[name] = type(name, (case,), {"__module__": case.__module__, "settings": chosen})
    return out
