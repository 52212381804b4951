"""``kubeproof prove``: the theorems about the scheduler's plugins, decided by z3.

Prints a table (theorem, bound, verdict, seconds); writes each counterexample as a Pod and Node
manifest to ``--out``. Exit 0 when every theorem is proved, 1 on any counterexample, 3 when
none failed but some are unknown (a timeout is never "proved").
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from kubeproof.model.errors import KubeproofError

__all__ = ["cmd_prove", "register", "scaled_bound"]

EXIT_PROVED, EXIT_COUNTEREXAMPLE, EXIT_UNKNOWN = 0, 1, 3


def scaled_bound(factor: int):
    """The default bound with every count multiplied by ``factor`` (1: the default)."""
    from kubeproof.solvers.theorems import Bound

    if factor < 1:
        raise KubeproofError("--bound must be a whole number of at least 1")
    default = Bound()
    counts = {
        f.name: getattr(default, f.name) * factor
        for f in dataclasses.fields(default)
        if isinstance(getattr(default, f.name), int)
    }
    return dataclasses.replace(default, **counts)


def cmd_prove(args: argparse.Namespace) -> int:
    """Decide the theorems; print the table; write counterexamples."""
    from kubeproof.cli import load_profiles
    from kubeproof.solvers.prove import COUNTEREXAMPLE, PROVED, prove
    from kubeproof.solvers.theorems import THEOREMS

    known = {t.name for t in THEOREMS}
    unknown_names = [n for n in args.theorems if n not in known]
    if unknown_names:
        raise KubeproofError(
            f"unknown theorem {unknown_names[0]!r}: the theorems are {', '.join(sorted(known))}"
        )
    (profile, *_) = load_profiles(args.config)
    bound = scaled_bound(args.bound)
    out = Path(args.out) if args.out else None
    print(f"bound: {bound.describe()}")
    print(f"{'theorem':<8} {'verdict':<15} {'seconds':>8}  statement")
    verdicts = []
    for result in prove(args.theorems or None, profile, bound, args.timeout):
        verdicts.append(result.verdict)
        print(f"{result.name:<8} {result.verdict:<15} {result.seconds:>8.1f}  {result.statement}")
        if result.note:
            print(f"{'':<8} {result.note}")
        if result.verdict == COUNTEREXAMPLE and out is not None:
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"{result.name}.yaml"
            path.write_text(result.manifests(), encoding="utf-8")
            print(f"{'':<8} counterexample written to {path}")
        elif result.verdict == COUNTEREXAMPLE:
            sys.stdout.write(result.manifests())
    if COUNTEREXAMPLE in verdicts:
        return EXIT_COUNTEREXAMPLE
    return EXIT_PROVED if all(v == PROVED for v in verdicts) else EXIT_UNKNOWN


def register(commands) -> None:
    """Add the ``prove`` subcommand to the command line's subparsers."""
    prove = commands.add_parser(
        "prove",
        help="prove with z3 that the scheduler's plugins never violate taints, affinity or "
        "resources",
        description=(
            "Decide theorems T1-T6 about the filter and score plugins of a scheduler profile "
            "for every pod and node within the bound; exit 0 all proved, 1 a counterexample, "
            "3 some unknown (timed out)."
        ),
    )
    prove.add_argument("theorems", nargs="*", metavar="THEOREM", help="T1 ... T6 (default: all)")
    prove.add_argument(
        "--config",
        metavar="SCHEDULER_CONFIG",
        help="a KubeSchedulerConfiguration file (default: the default profile)",
    )
    prove.add_argument(
        "--bound",
        type=int,
        default=1,
        metavar="N",
        help="the default bound with every count multiplied by N (default 1)",
    )
    prove.add_argument("--out", metavar="DIR", help="write counterexamples as YAML here")
    prove.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds per theorem before its verdict is unknown (default 60)",
    )
    prove.set_defaults(run=cmd_prove)
