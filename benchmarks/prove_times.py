"""Proof time per theorem at the default bound and at twice the bound.

Runs ``kubeproof.solvers.prove.prove([name], bound=...)`` for every theorem, at ``Bound()`` and
at ``Bound().doubled()``, ``--runs`` times each, and reports the median wall-clock seconds, the
verdict and how many shapes were decided. The issue's target: every theorem at the default
bound within 30 s together.

Usage::

    python benchmarks/prove_times.py --runs 3 [--timeout 120] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def measure(name: str, bound, runs: int, timeout: float) -> dict:
    from kubeproof.solvers.prove import prove

    seconds, results = [], []
    for _ in range(runs):
        start = time.perf_counter()
        (result,) = prove([name], bound=bound, timeout_seconds=timeout)
        seconds.append(time.perf_counter() - start)
        results.append(result)
    last = results[-1]
    return {
        "theorem": name,
        "bound": bound.describe(),
        "verdicts": sorted({r.verdict for r in results}),
        "shapes": last.shapes,
        "median_s": statistics.median(seconds),
        "samples_s": seconds,
        "note": last.note,
    }


def main(argv: list[str] | None = None) -> int:
    from kubeproof.solvers.theorems import THEOREMS, Bound

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120.0, help="per theorem, seconds")
    parser.add_argument("--theorems", nargs="*", help="default: all")
    parser.add_argument("--no-double", action="store_true", help="only the default bound")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args(argv)
    names = args.theorems or [t.name for t in THEOREMS]
    bounds = [("default", Bound())] + ([] if args.no_double else [("2x", Bound().doubled())])
    rows = []
    for label, bound in bounds:
        total = 0.0
        for name in names:
            row = measure(name, bound, args.runs, args.timeout) | {"bound_label": label}
            total += row["median_s"]
            rows.append(row)
            print(
                f"{label:>7} {name:<4} {'/'.join(row['verdicts']):<15} {row['shapes']:>5} shapes"
                f"  {row['median_s']:8.2f} s",
                flush=True,
            )
        print(f"{label:>7} all  {'':<15} {'':>11}  {total:8.2f} s (sum of medians)", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
