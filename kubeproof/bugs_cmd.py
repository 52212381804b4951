"""``kubeproof bugs``: the bug catalogue, known Kubernetes bugs that ``kubeproof check`` finds.

One line per entry (id, upstream issue, the property its suite violates, title), or with
``--format json`` every field: id, title, upstream, switch, story, fix, property, the buggy
suite's name and the fixed suite's (null where the behaviour is upstream's today).
``kubeproof check --bug ID`` runs an entry.

>>> rows = catalogue_rows()
>>> rows[0]["id"], rows[0]["buggy suite"]
('rs-no-expectations', 'rs-no-expectations')
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["catalogue_rows", "catalogue_table", "cmd_bugs", "register"]


def catalogue_rows() -> list[dict]:
    """Every catalogue entry as a JSON-ready dict, in catalogue order."""
    from kubeproof.properties.bugs import BUGS

    return [
        {
            "id": b.id,
            "title": b.title,
            "upstream": list(b.upstream),
            "switch": b.switch,
            "story": b.story,
            "fix": b.fix,
            "property": b.property,
            "buggy suite": b.buggy.name,
            "fixed suite": b.fixed.name if b.fixed is not None else None,
        }
        for b in BUGS
    ]


def _short(ref: str) -> str:
    """kubernetes/kubernetes#N as #N; a web page as its host."""
    if ref.startswith("kubernetes/kubernetes#"):
        return ref.removeprefix("kubernetes/kubernetes")
    head = ref.removeprefix("https://").split("/")[0]
    return head if "." in head else ref


def catalogue_table(rows: list[dict]) -> str:
    """An aligned text table: id, upstream references (short), property, title."""
    head = ("id", "upstream", "property", "title")
    lines = [head]
    for r in rows:
        upstream = ",".join(_short(ref) for ref in r["upstream"])
        lines.append((r["id"], upstream, r["property"], r["title"]))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head) - 1)]
    return "".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line[:-1], widths, strict=True))
        + f"  {line[-1]}\n"
        for line in lines
    )


def cmd_bugs(args: argparse.Namespace) -> int:
    """Print the catalogue."""
    rows = catalogue_rows()
    if args.format == "json":
        sys.stdout.write(json.dumps(rows, indent=1) + "\n")
    else:
        sys.stdout.write(catalogue_table(rows))
        sys.stdout.write(
            "\nkubeproof check --bug ID finds one (exit 1, trace written); --bug ID --fixed "
            "checks upstream's fix holds\n"
        )
    return 0


def register(commands) -> None:
    """Add ``bugs`` to the command line's subparsers."""
    bugs = commands.add_parser(
        "bugs",
        help="list the bug catalogue: known Kubernetes controller bugs that check finds again",
        description=(
            "Known Kubernetes bugs, each with the component switch that restores it, a suite "
            "that finds it and the property it violates. Run one with kubeproof check --bug ID."
        ),
    )
    bugs.add_argument("--format", choices=("text", "json"), default="text")
    bugs.set_defaults(run=cmd_bugs)
