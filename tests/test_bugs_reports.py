"""reports/bugs/ID.md are up to date: each page is regenerated from its trace
(reports/bugs/ID.json) and compared with the checked-in file, and the trace still shows the
violation.

A failure means an entry, the model or the renderer changed since the pages were written;
refresh them with ``python -m kubeproof.properties.bugs.report --write reports/bugs`` (name ids
to refresh only some) and commit the result. The generator runs the seeded search; this test
does not (its result depends on the modules loaded, see properties/bugs/report.py), and
tests/test_bugs.py checks that the search finds every entry.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproof.properties.bugs import BUGS, Bug
from kubeproof.properties.bugs.report import REFRESH, page
from kubeproof.properties.replay import replay
from kubeproof.properties.trace import read_trace

REPORTS = Path(__file__).resolve().parent.parent / "reports" / "bugs"


@pytest.mark.parametrize("entry", BUGS, ids=[b.id for b in BUGS])
def test_the_checked_in_page_is_what_the_generator_writes_from_its_trace(entry: Bug):
    md, js = REPORTS / f"{entry.id}.md", REPORTS / f"{entry.id}.json"
    refresh = f"run {REFRESH} {entry.id}"
    assert md.exists(), f"reports/bugs/{md.name} is missing: {refresh}"
    trace = read_trace(str(js))[0] if js.exists() else None
    if trace is not None:
        again = replay(trace, entry.buggy)
        assert again.recurs, f"reports/bugs/{js.name} no longer shows the violation: {refresh}"
    assert md.read_text(encoding="utf-8") == page(entry, trace), (
        f"reports/bugs/{md.name} is stale: {refresh}"
    )


def test_every_entry_has_a_trace_and_every_page_an_entry():
    ids = {b.id for b in BUGS}
    assert {p.stem for p in REPORTS.glob("*.json")} == ids
    strays = sorted(p.name for p in REPORTS.glob("*.md") if p.stem not in ids)
    assert not strays, f"pages of no catalogue entry: {strays}"


def test_a_page_tells_the_story_the_switch_and_the_fix_and_shows_the_trace():
    entry = BUGS[0]
    text = (REPORTS / f"{entry.id}.md").read_text(encoding="utf-8")
    for part in (entry.story, entry.switch, entry.fix, entry.property, REFRESH):
        assert part in text
    assert "```mermaid" in text and "```diff" in text
    assert f"kubeproof replay reports/bugs/{entry.id}.json" in text
