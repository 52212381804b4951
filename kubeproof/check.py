"""``kubeproof check`` and ``kubeproof replay``: run property suites, write and replay traces.

``check`` runs each suite with an engine (properties/engines), shows a progress bar (rich on a
terminal, plain lines otherwise), then a table: suite, property, verdict, examples or states
explored, seconds. ``check --bug ID`` runs the buggy suite of a bug catalogue entry
(properties/bugs), ``--bug ID --fixed`` the same suite without the bug. Exit 0 when every
property holds; 1 on a violation, whose trace is written to the report directory as Markdown
and JSON (the paths are printed); 2 on bad input. ``replay`` re-runs a trace's JSON (a bug's
trace too): exit 1 when the violation recurs, 0 when the trace no longer fails.

>>> parse_faults("crash,timeout=2")
Faults(crash=1, drop_watch=0, compact=0, stale_list=0, timeout=2, node_failure=0)
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kubeproof.model.errors import KubeproofError
from kubeproof.model.faults import Faults

if TYPE_CHECKING:  # the engines and the cluster model load only when a command runs
    from kubeproof.properties.core import Report, Suite, Trace

__all__ = ["bug_suite", "cmd_check", "cmd_replay", "parse_faults", "register", "resolve_suites"]

EXIT_OK, EXIT_VIOLATION, EXIT_USAGE = 0, 1, 2
FAULT_KINDS = tuple(f.name for f in dataclasses.fields(Faults))
DEFAULT_SUITE = "journey"


def parse_faults(text: str) -> Faults:
    """A fault budget from ``crash,drop-watch=2`` (a kind alone means 1), ``none`` or ``all``."""
    text = text.strip()
    if text in ("none", ""):
        return Faults()
    if text == "all":
        return Faults(**dict.fromkeys(FAULT_KINDS, 1))
    counts: dict[str, int] = {}
    for item in text.split(","):
        kind, _, count = item.strip().partition("=")
        kind = kind.strip().replace("-", "_")
        if kind not in FAULT_KINDS:
            known = ", ".join(k.replace("_", "-") for k in FAULT_KINDS)
            raise KubeproofError(f"--faults: unknown fault {kind!r} (known: {known}, none, all)")
        try:
            counts[kind] = int(count) if count else 1
        except ValueError:
            raise KubeproofError(
                f"--faults: {item.strip()!r}: the count must be a number"
            ) from None
        if counts[kind] < 0:
            raise KubeproofError(f"--faults: {item.strip()!r}: the count must not be negative")
    return Faults(**counts)


def resolve_suites(names: list[str], suite_file: str | None) -> list[Suite]:
    """The suites to run: by name from the suite file or the built-ins; with a suite file and
    no names, every suite it defines; with neither, the journey suite."""
    from kubeproof.properties import suites as builtin

    if suite_file is not None:
        defined = {s.name: s for s in builtin.load_suite_file(suite_file)}
        if not names:
            return list(defined.values())
        unknown = [n for n in names if n not in defined and n not in builtin.SUITES]
        if unknown:
            known = ", ".join([*defined, *builtin.SUITES])
            raise KubeproofError(f"unknown suite {unknown[0]!r} (known: {known})")
        return [defined[n] if n in defined else builtin.suite(n) for n in names]
    return [builtin.suite(n) for n in names or [DEFAULT_SUITE]]


def bug_suite(bug_id: str, fixed: bool = False) -> Suite:
    """The buggy suite of a bug catalogue entry, or with ``fixed`` the suite without the bug."""
    from kubeproof.properties.bugs import bug

    entry = bug(bug_id)
    if not fixed:
        return entry.buggy
    if entry.fixed is None:
        raise KubeproofError(
            f"--fixed: bug {bug_id!r} has no fixed suite (the behaviour is upstream's today)"
        )
    return entry.fixed


def _bug_suites() -> dict[str, Suite]:
    from kubeproof.properties.bugs import BUGS

    return {s.name: s for b in BUGS for s in (b.buggy, b.fixed) if s is not None}


def _suite_for_trace(trace: Trace, suite_file: str | None, trace_path: str) -> Suite:
    from kubeproof.properties import suites as builtin

    if suite_file is None:
        # a trace of ``check --bug`` names a suite of the bug catalogue
        return _bug_suites().get(trace.suite) or builtin.suite(trace.suite)
    path = suite_file
    beside = Path(trace_path).parent / suite_file
    if not os.path.exists(path) and beside.exists():
        path = str(beside)
    for s in builtin.load_suite_file(path):
        if s.name == trace.suite:
            return s
    raise KubeproofError(f"{suite_file}: defines no suite {trace.suite!r}")


# --- progress and the table --------------------------------------------------------------------


class _Plain:
    """Progress as plain lines, at most one per tenth of the work (stdout is not a terminal)."""

    def __init__(self, out) -> None:
        self.out = out

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def callback(self, name: str) -> Callable[[int, int, str], None]:
        shown = [-1]

        def progress(done: int, total: int, note: str = "") -> None:
            tenth = 10 * done // total if total else 0
            if tenth != shown[0]:
                shown[0] = tenth
                self.out.write(f"{name}: {done}/{total} {note}".rstrip() + "\n")
                self.out.flush()

        return progress


class _Rich:
    """Progress as a rich bar per suite."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self.progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def callback(self, name: str) -> Callable[[int, int, str], None]:
        task = self.progress.add_task(name, total=None)

        def progress(done: int, total: int, note: str = "") -> None:
            described = f"{name} {note}".rstrip()
            self.progress.update(task, completed=done, total=total, description=described)

        return progress


def _progress(out):
    if out.isatty():
        try:
            return _Rich()
        except ImportError:
            pass
    return _Plain(out)


def _rows(reports: list[Report]) -> list[tuple[str, ...]]:
    rows = []
    for r in reports:
        explored = f"{r.states} states" if r.engine == "exhaustive" else f"{r.examples} examples"
        for v in r.verdicts:
            steps = f" ({len(v.trace.actions)} steps)" if v.trace is not None else ""
            verdict = "holds" if v.holds else f"VIOLATED{steps}"
            rows.append((r.suite, v.property, verdict, explored, f"{r.seconds:.1f}"))
    return rows


def table(reports: list[Report]) -> str:
    """The results as an aligned plain-text table."""
    head = ("suite", "property", "verdict", "explored", "seconds")
    rows = [head, *_rows(reports)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _print_table(reports: list[Report], out) -> None:
    if out.isatty():
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            pass
        else:
            t = Table("suite", "property", "verdict", "explored", "seconds")
            for row in _rows(reports):
                style = "red" if row[2].startswith("VIOLATED") else "green"
                t.add_row(*row[:2], f"[{style}]{row[2]}[/{style}]", *row[3:])
            Console(file=out).print(t)
            return
    out.write(table(reports))


# --- the commands ------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)


def write_trace_report(
    trace: Trace, suite: Suite, directory: str, suite_file: str | None = None
) -> tuple[str, str, bool]:
    """Write the trace as JSON and Markdown into ``directory``; returns both paths and whether
    the replay showed the violation again."""
    from kubeproof.properties.replay import replay
    from kubeproof.properties.trace import render_markdown, write_trace

    os.makedirs(directory, exist_ok=True)
    name = _slug(f"{trace.suite}-{trace.violation.property if trace.violation else 'trace'}")
    json_path = os.path.join(directory, f"{name}.json")
    md_path = os.path.join(directory, f"{name}.md")
    write_trace(trace, json_path, suite_file)
    replayed = replay(trace, suite)
    with open(md_path, "w", encoding="utf-8") as file:
        file.write(render_markdown(replayed, suite, json_path))
    return md_path, json_path, replayed.recurs


def _check_options(args: argparse.Namespace) -> dict:
    for name in ("examples", "steps", "max_states", "max_depth"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise KubeproofError(f"--{name.replace('_', '-')} must be at least 1")
    options = {"engine": args.engine}
    for name in ("examples", "steps", "seed", "database", "max_states", "max_depth"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    return options


def cmd_check(args: argparse.Namespace) -> int:
    """Run the suites; print the table; write traces of violations."""
    from kubeproof.properties.engines import check_suite

    options = _check_options(args)
    faults = parse_faults(args.faults) if args.faults is not None else None
    if args.bug is not None:
        if args.suites or args.suite_file:
            raise KubeproofError("--bug runs the entry's own suite: give no SUITE or --suite-file")
        suites = [bug_suite(args.bug, args.fixed)]
    elif args.fixed:
        raise KubeproofError("--fixed needs --bug ID")
    else:
        suites = resolve_suites(args.suites, args.suite_file)
    if faults is not None:
        suites = [dataclasses.replace(s, faults=faults) for s in suites]
    out = sys.stdout
    reports: list[Report] = []
    started = time.monotonic()
    with _progress(out) as bar:
        for s in suites:
            reports.append(check_suite(s, progress=bar.callback(s.name), **options))
    _print_table(reports, out)
    paths: dict[tuple[str, str], str] = {}
    by_name = {s.name: s for s in suites}
    for report in reports:
        for verdict in report.verdicts:
            if verdict.holds or verdict.trace is None:
                continue
            md, js, recurs = write_trace_report(
                verdict.trace, by_name[report.suite], args.report_dir, args.suite_file
            )
            paths[(report.suite, verdict.property)] = js
            out.write(f"{report.suite}/{verdict.property}: trace written to {md} and {js}\n")
            if not recurs:
                out.write("  warning: replaying the trace did not show the violation again\n")
    if args.junit:
        from kubeproof.properties.trace import junit_xml

        with open(args.junit, "w", encoding="utf-8") as file:
            file.write(junit_xml(reports, paths))
    failed = sum(not v.holds for r in reports for v in r.verdicts)
    total = sum(len(r.verdicts) for r in reports)
    took = time.monotonic() - started
    if failed:
        out.write(f"{failed} of {total} properties violated ({took:.1f} s)\n")
        return EXIT_VIOLATION
    out.write(f"all {total} properties hold ({took:.1f} s)\n")
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    """Re-run a trace: exit 1 if the violation recurs, 0 if it no longer fails."""
    from kubeproof.properties.replay import replay
    from kubeproof.properties.trace import read_trace, render_markdown, render_text

    trace, suite_file = read_trace(args.trace)
    suite = _suite_for_trace(trace, args.suite_file or suite_file, args.trace)
    replayed = replay(trace, suite)
    if args.format == "markdown":
        sys.stdout.write(render_markdown(replayed, suite, args.trace))
    else:
        sys.stdout.write(render_text(replayed, suite, last=args.last))
    wanted = trace.violation.property if trace.violation else "a violation"
    # with Markdown, stdout is the document alone; the verdict goes to stderr
    out = sys.stderr if args.format == "markdown" else sys.stdout
    if replayed.recurs:
        out.write(f"\nthe trace still fails: {wanted} is violated again\n")
        return EXIT_VIOLATION
    out.write(f"\nthe trace no longer fails: {wanted} is not violated\n")
    return EXIT_OK


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


_BUILTIN_SUITES = "{built-in suites}"


class _SuitesHelpFormatter(argparse.HelpFormatter):
    """Names the built-in suites (properties/suites.SUITES) when the help is shown: loading
    them loads the cluster model, which the command line does only when a command runs."""

    def add_text(self, text: str | None) -> None:
        if text and _BUILTIN_SUITES in text:
            from kubeproof.properties.suites import DEFAULT_SUITE as default
            from kubeproof.properties.suites import SUITES

            names = ", ".join(f"{n} (default)" if n == default else n for n in SUITES)
            text = text.replace(_BUILTIN_SUITES, names)
        super().add_text(text)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        # a suite's name is not broken at its hyphens
        text = " ".join(text.split())
        return textwrap.fill(
            text, width, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
        )


def register(commands) -> None:
    """Add ``check`` and ``replay`` to the command line's subparsers."""
    check = commands.add_parser(
        "check",
        help="run property suites (default: journey); exit 1 on a violation, with its trace",
        description=(
            "Search the runs of each suite for a violation of its properties. Built-in suites: "
            f"{_BUILTIN_SUITES}; --bug ID runs the suite of a known Kubernetes bug."
        ),
        formatter_class=_SuitesHelpFormatter,
    )
    check.add_argument("suites", nargs="*", metavar="SUITE")
    check.add_argument("--engine", choices=("hypothesis", "exhaustive"), default="hypothesis")
    check.add_argument(
        "--faults",
        metavar="LIST",
        help="fault budget instead of the suite's: e.g. crash,drop-watch=2,timeout; none; all "
        f"(kinds: {', '.join(k.replace('_', '-') for k in FAULT_KINDS)})",
    )
    check.add_argument(
        "--examples", type=_integer, metavar="N", help="Hypothesis examples per suite"
    )
    check.add_argument("--steps", type=_integer, metavar="N", help="steps per Hypothesis example")
    check.add_argument(
        "--seed", type=_integer, metavar="N", help="Hypothesis seed (default: random)"
    )
    check.add_argument(
        "--max-states", type=_integer, metavar="N", help="exhaustive: bound on states"
    )
    check.add_argument("--max-depth", type=_integer, metavar="N", help="exhaustive: bound on depth")
    check.add_argument("--suite-file", metavar="FILE", help="a Python module defining suites")
    check.add_argument(
        "--bug",
        metavar="ID",
        help="run the suite of a bug catalogue entry (kubeproof bugs lists them)",
    )
    check.add_argument(
        "--fixed",
        action="store_true",
        help="with --bug: run the same suite without the bug (it must hold)",
    )
    check.add_argument(
        "--report-dir",
        metavar="DIR",
        default="kubeproof-report",
        help="where traces of violations go (default: kubeproof-report)",
    )
    check.add_argument("--junit", metavar="FILE", help="write JUnit XML here")
    check.add_argument(
        "--database",
        metavar="DIR|redis://...",
        help="Hypothesis example database: a directory (default .kubeproof/examples) or "
        "redis://host:port/db",
    )
    check.set_defaults(run=cmd_check)

    replay = commands.add_parser(
        "replay",
        help="re-run a trace: exit 1 if its violation recurs, 0 if it no longer fails",
    )
    replay.add_argument("trace", metavar="TRACE.json")
    replay.add_argument("--suite-file", metavar="FILE", help="the module defining its suite")
    replay.add_argument("--format", choices=("text", "markdown"), default="text")
    replay.add_argument("--last", type=_integer, default=40, help="steps shown (text)")
    replay.set_defaults(run=cmd_replay)
