"""reports/bugs/ID.md: one page per catalogue entry, generated, for a Kubernetes engineer.

Each page has the upstream story in two sentences, the switch that restores the bug, the
property it violates, what upstream changed, and the trace ``kubeproof check --bug ID`` finds
with the Hypothesis engine and a fixed seed (properties/trace.py's Markdown: summary, evidence,
Mermaid sequence diagram, every step with its YAML diff); the trace's JSON goes beside it, so
``kubeproof replay reports/bugs/ID.json`` shows it again. The pages are checked in; a test
(tests/test_bugs_reports.py) regenerates each page from its JSON trace and fails when one is
stale (the entry, the model or the renderer changed). Refresh with::

    python -m kubeproof.properties.bugs.report --write reports/bugs [ID ...]

The search itself is run by the generator, not by that test: Hypothesis draws about one value
in twenty from constants it collects in the loaded source modules, so the same seed can
shrink to another (equally short) trace in a process that has imported other modules, such
as a pytest session or ``kubeproof check``. tests/test_bugs.py checks that the search finds
every entry.

>>> github_link("kubernetes/kubernetes#8138")
'[kubernetes/kubernetes#8138](https://github.com/kubernetes/kubernetes/issues/8138)'
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
from collections.abc import Sequence
from functools import cache

from kubeproof.properties.bugs import BUGS, Bug, bug
from kubeproof.properties.core import Report, Trace
from kubeproof.properties.engines import check_suite
from kubeproof.properties.replay import replay
from kubeproof.properties.trace import render_markdown, trace_to_json

__all__ = [
    "REFRESH",
    "REPORT_DIR",
    "REPORT_SEED",
    "counterexample",
    "found_trace",
    "github_link",
    "main",
    "page",
    "pages",
    "write_pages",
]

REPORT_DIR = "reports/bugs"
REPORT_SEED = 0
REFRESH = f"python -m kubeproof.properties.bugs.report --write {REPORT_DIR}"
_REF = re.compile(r"^([\w.-]+/[\w.-]+)#(\d+)$")


@cache
def counterexample(bug_id: str) -> Report:
    """The Hypothesis engine's report on the entry's buggy suite: its default budget, seed
    :data:`REPORT_SEED`, no example database (remembered per process: the pages and the
    catalogue's tests share one search per entry)."""
    return check_suite(bug(bug_id).buggy, "hypothesis", seed=REPORT_SEED, database=":memory:")


def found_trace(entry: Bug) -> Trace | None:
    """The trace violating the entry's property in :func:`counterexample`, if any."""
    for verdict in counterexample(entry.id).verdicts:
        if verdict.property == entry.property and not verdict.holds:
            return verdict.trace
    return None


def github_link(ref: str) -> str:
    """``owner/repo#N`` as a Markdown link (GitHub sends issues/N on to a pull request); a
    URL as a link to itself; anything else as it is."""
    m = _REF.match(ref)
    if m:
        return f"[{ref}](https://github.com/{m.group(1)}/issues/{m.group(2)})"
    if ref.startswith(("http://", "https://")) or re.match(r"^[\w-]+(\.[\w-]+)+/", ref):
        url = ref if ref.startswith("http") else f"https://{ref}"
        return f"[{ref}]({url})"
    return ref


def _demoted(markdown: str) -> str:
    """The trace's Markdown under this page's headings: its title dropped (the page has one),
    every other heading one level deeper, code blocks left alone."""
    lines = markdown.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    out, fenced = [], False
    for line in lines:
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            line = "#" + line
        out.append(line)
    return "\n".join(out).strip() + "\n"


def _faults(entry: Bug) -> str:
    budget = dataclasses.asdict(entry.buggy.faults)
    return ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in budget.items() if n) or "none"


def page(entry: Bug, trace: Trace | None) -> str:
    """The Markdown page of one entry, with the trace its suite's search found."""
    prop = next(p for p in entry.buggy.properties if p.name == entry.property)
    switch = entry.switch or "none: this is upstream's behaviour today"
    fixed = (
        f"`kubeproof check --bug {entry.id} --fixed` runs the same suite without the bug (exit 0)"
        if entry.fixed is not None
        else "none: upstream behaves so today"
    )
    out = [
        f"# `{entry.id}`: {entry.title}",
        "",
        f"<!-- generated: {REFRESH} {entry.id} (tests/test_bugs_reports.py checks it) -->",
        "",
        f"- **Upstream**: {', '.join(github_link(r) for r in entry.upstream)}",
        f"- **Switch**: {switch}",
        f"- **Property**: `{prop.name}`: {prop.statement}",
        f"- **Scenario**: {entry.buggy.description} (fault budget: {_faults(entry)})",
        f"- **Find it**: `kubeproof check --bug {entry.id}` (exit 1, trace written)",
        f"- **Fixed suite**: {fixed}",
        "",
        "## What happened upstream",
        "",
        entry.story,
        "",
        "## What upstream changed",
        "",
        entry.fix,
        "",
    ]
    if prop.definition:
        out += [
            "<details><summary>How the property is defined</summary>",
            "",
            prop.definition,
            "",
            "</details>",
            "",
        ]
    out += ["## The trace kubeproof finds", ""]
    if trace is None:
        out += [
            f"The buggy suite's search (seed {REPORT_SEED}) found no violation of "
            f"`{prop.name}` within its budget.",
        ]
        return "\n".join(out) + "\n"
    replayed = replay(trace, entry.buggy)
    if trace.actions:
        how = (
            f"shrunk to {len(trace.actions)} drawn steps; then the cluster runs fairly "
            "(every component in turn, no faults) until the violation shows"
        )
    else:
        how = (
            "shrunk to no drawn step at all: the fair run (every component in turn, no "
            f"faults) reaches the violation by itself, in {len(replayed.actions)} steps"
        )
    out += [
        f"Found by the Hypothesis engine (seed {REPORT_SEED}, the suite's budget) when this "
        f"page was generated; {how}.",
        "",
    ]
    rendered = render_markdown(replayed, entry.buggy, f"{REPORT_DIR}/{entry.id}.json")
    out.append(_demoted(rendered).rstrip())
    return "\n".join(out) + "\n"


def pages(entry: Bug) -> dict[str, str]:
    """File name -> text: the entry's page and, when its search found one, its trace's JSON
    (the search runs here: :func:`counterexample`)."""
    trace = found_trace(entry)
    files = {f"{entry.id}.md": page(entry, trace)}
    if trace is not None:
        files[f"{entry.id}.json"] = trace_to_json(trace)
    return files


def write_pages(directory: str, ids: Sequence[str] = ()) -> list[str]:
    """Write the pages (every entry's, or those of ``ids``) into ``directory``; the paths."""
    entries = [bug(i) for i in ids] if ids else list(BUGS)
    os.makedirs(directory, exist_ok=True)
    written = []
    for entry in entries:
        for name, text in pages(entry).items():
            path = os.path.join(directory, name)
            with open(path, "w", encoding="utf-8") as file:
                file.write(text)
            written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``--write DIR [ID ...]``: regenerate the pages."""
    parser = argparse.ArgumentParser(
        prog="python -m kubeproof.properties.bugs.report", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--write", metavar="DIR", required=True, help="e.g. reports/bugs")
    parser.add_argument("ids", nargs="*", metavar="ID", help="default: every entry")
    args = parser.parse_args(argv)
    for path in write_pages(args.write, args.ids):
        sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
