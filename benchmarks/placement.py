"""Placement benchmark: ``kubeproof.solvers.placement`` against the naive z3 and CP-SAT encodings.

For every size (nodes/pods) and variant of placement_gen (feasible, gpu_short, aa_short,
spread_taint, binpack), each with and without residual pods (every node's free capacity
different), in one run:

- solver: ``problem_from_objects`` then ``feasible`` on the objects, as ``kubeproof place``
  does after reading the manifests; seconds to the answer, its explanation included when
  infeasible (median of ``--runs``);
- naive z3 and naive CP-SAT (placement_naive): seconds to build and solve, one run, within
  ``--timeout``: "timeout" when the budget ran out, "not built" when the model would have more
  than ``--max-pairs`` Booleans (17-31 M at 5,000 nodes);
- every answer is compared with the instance's known answer, and every assignment is checked
  pod by pod by placement_check (the default profile's filter plugins over the final state); a
  wrong answer or a failed check stops the run.

Then drain what-ifs on a warm ``Placer`` at the largest size (see ``drain_lines``).

>>> times = solver_times(cluster(10, 30, "binpack"), runs=1, timeout=30, verify=True)
>>> times.verdict, any("jobs/batch" in line for line in times.explanation)
('infeasible', True)

Usage::

    python benchmarks/placement.py --timeout 60 --runs 3 --out /tmp/placement.md
    python benchmarks/placement.py --sizes 10/30 100/300 --variants feasible binpack
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from placement_check import assignment_violations
from placement_gen import VARIANTS, Instance, cluster
from placement_naive import ENGINES, NaiveAnswer, naive_answer

SIZES = ("10/30", "100/300", "1000/3000", "5000/10000")
_LABELS = {"z3": "naive z3", "cpsat": "naive CP-SAT"}


@dataclass(frozen=True)
class SolverTimes:
    """The solver's verdict, median seconds (the explanation included), and explanation."""

    verdict: str
    answer: float
    explanation: tuple[str, ...]


def _check(instance: Instance, verdict: str, assignment, who: str, verify: bool) -> None:
    """SystemExit on a wrong answer, or (with ``verify``) on an assignment that breaks a rule."""
    if verdict in ("timeout", "too_large"):
        return
    if verdict != ("feasible" if instance.expected_feasible else "infeasible"):
        raise SystemExit(f"{instance.name}: {who} says {verdict}; expected: {instance.reason}")
    if assignment is not None and verify:
        problems = assignment_violations(instance.objects, assignment)
        if problems:
            raise SystemExit(f"{instance.name}: {who}'s assignment fails: {problems[:3]}")


def solver_times(instance: Instance, runs: int, timeout: float, verify: bool) -> SolverTimes:
    """The solver from the objects, as ``kubeproof place`` runs it: ``problem_from_objects``
    then ``feasible`` (whose infeasible answer carries the explanation)."""
    from kubeproof.solvers.placement import feasible, problem_from_objects

    totals, answers = [], []
    for _ in range(runs):
        start = time.perf_counter()
        answer = feasible(problem_from_objects(instance.objects), timeout)
        totals.append(time.perf_counter() - start)
        answers.append(answer)
    answer = answers[0]
    verdict = {True: "feasible", False: "infeasible", None: "timeout"}[answer.feasible]
    _check(instance, verdict, answer.assignment or None, "the solver", verify)
    return SolverTimes(verdict, statistics.median(totals), answer.explanation)


_CHILD_OBJECTS: tuple = ()  # the instance a forked child's naive run reads (not pickled)


def _naive_in_child(engine: str, timeout: float, max_pairs: int) -> NaiveAnswer:
    return naive_answer(_CHILD_OBJECTS, engine, timeout, max_pairs)


def naive_times(
    instance: Instance, engine: str, timeout: float, max_pairs: int, verify: bool
) -> NaiveAnswer:
    """One naive run, its answer checked. It runs in a forked child: the millions of solver
    objects a naive model leaves behind slowed every later measurement of this process (the
    solver's 0.060 s became 0.079 s after the naive runs of the previous row)."""
    global _CHILD_OBJECTS
    _CHILD_OBJECTS = instance.objects
    with multiprocessing.get_context("fork").Pool(1) as pool:
        answer = pool.apply(_naive_in_child, (engine, timeout, max_pairs))
    _check(instance, answer.status, answer.assignment, _LABELS[engine], verify)
    return answer


def _naive_cell(answer: NaiveAnswer, solver: SolverTimes, timeout: float) -> str:
    """Seconds (build + solve) and how many times the solver's: "≥" where it ran out."""
    if answer.status == "too_large":
        return f"not built ({answer.pairs / 1e6:.0f} M pairs)"
    if answer.status == "timeout":
        phase = "solving" if answer.solve_seconds else "building"
        return f"timeout while {phase} (≥ {_times(timeout / solver.answer)})"
    seconds = answer.build_seconds + answer.solve_seconds
    return f"{seconds:.3g} ({_times(seconds / solver.answer)})"


def _times(ratio: float) -> str:
    return f"{ratio:.1f}×" if ratio < 10 else f"{ratio:,.0f}×"


def _row(instance: Instance, solver: SolverTimes, naive: list[NaiveAnswer], timeout: float) -> str:
    free = "all different" if instance.existing else "per pool"
    cells = [
        f"{len(instance.nodes):,} / {instance.pending_count:,}",
        instance.name.split()[1],
        free,
        solver.verdict,
        f"{solver.answer:.3f}",
        *(_naive_cell(a, solver, timeout) for a in naive),
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| nodes / pods | variant | free capacity | answer | solver s (with explanation) "
    "| naive z3 s (× solver) | naive CP-SAT s (× solver) |\n"
    "|---|---|---|---|---:|---:|---:|"
)


def drain_lines(nodes: int, pods: int, timeout: float) -> list[str]:
    """Drain what-ifs on one warm ``Placer`` (after its ``feasible``): nine that are possible
    (the first general node, the last infra node, the first highmem node, five general nodes
    at once, five single nodes across the pools), then every gpu node at once (impossible: the
    trainers have nowhere else to go); against one drain on a cold ``Placer``."""
    from kubeproof.solvers.placement import Placer, problem_from_objects

    lines = []
    for residual in (False, True):
        instance = cluster(nodes, pods, residual=residual)
        placer = Placer(problem_from_objects(instance.objects))
        start = time.perf_counter()
        placer.feasible(timeout)
        warm_up = time.perf_counter() - start
        names = [n.metadata.name for n in instance.nodes]
        queries = [names[:1], names[-1:], names[nodes // 2 : nodes // 2 + 1], names[1:6]]
        queries += [[names[i]] for i in range(10, 10 + 5 * (nodes // 10), nodes // 10)]
        answers = [placer.drain(query, timeout=timeout) for query in queries]
        gpus = [name for name in names if name.startswith("gpu-")]
        impossible = placer.drain(gpus, timeout=timeout)
        start = time.perf_counter()
        Placer(problem_from_objects(instance.objects)).drain(queries[0], timeout=timeout)
        cold = time.perf_counter() - start
        seconds = [a.seconds for a in answers]
        lines.append(
            f"| {nodes:,} / {pods:,} | {'all different' if residual else 'per pool'} "
            f"| {warm_up:.3f} | {seconds[0]:.3f} | {statistics.median(seconds[1:]):.3f} "
            f"| {max(seconds):.3f} | {sum(bool(a.possible) for a in answers)} of {len(answers)} "
            f"| {impossible.seconds:.3f} ({_possible(impossible.possible)}) | {cold:.3f} |"
        )
    return lines


def _possible(possible: bool | None) -> str:
    return {True: "possible", False: "impossible", None: "timeout"}[possible]


DRAIN_HEADER = (
    "| nodes / pods | free capacity | warm-up `feasible` s | first drain s | later drains, "
    "median s | slowest s | possible | every gpu node s | one drain, cold `Placer` s |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|"
)


def _warm_up(timeout: float) -> None:
    """One untimed run of each, so that no timing includes importing z3 or OR-tools."""
    instance = cluster(10, 30)
    solver_times(instance, 1, timeout, verify=False)
    for engine in ENGINES:
        naive_answer(instance.objects, engine, timeout)


def _size(text: str) -> tuple[int, int]:
    nodes, pods = text.split("/")
    return int(nodes), int(pods)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES))
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--residual", choices=("no", "yes", "both"), default="both")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per answer")
    parser.add_argument("--runs", type=int, default=3, help="solver runs (median)")
    parser.add_argument("--max-pairs", type=int, default=5_000_000, help="naive model size cap")
    parser.add_argument(
        "--verify-nodes", type=int, default=1000, help="check assignments up to this many nodes"
    )
    parser.add_argument("--no-naive", action="store_true", help="the solver column only")
    parser.add_argument("--no-drain", action="store_true")
    parser.add_argument("--out", type=Path, help="also write the Markdown here")
    args = parser.parse_args(argv)
    residuals = {"no": (False,), "yes": (True,), "both": (False, True)}[args.residual]
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; `python benchmarks/placement.py "
        f"{' '.join(sys.argv[1:] if argv is None else argv)}`",
        "",
        HEADER,
    ]
    print("\n".join(lines), flush=True)
    _warm_up(args.timeout)
    explained: dict[str, tuple[str, ...]] = {}
    for size in args.sizes:
        nodes, pods = _size(size)
        verify = nodes <= args.verify_nodes
        for variant in args.variants:
            for residual in residuals:
                instance = cluster(nodes, pods, variant, residual=residual)
                solver = solver_times(instance, args.runs, args.timeout, verify)
                naive = (
                    []
                    if args.no_naive
                    else [
                        naive_times(instance, e, args.timeout, args.max_pairs, verify)
                        for e in ENGINES
                    ]
                )
                lines.append(_row(instance, solver, naive, args.timeout))
                print(lines[-1], flush=True)
                if size == args.sizes[-1] and solver.explanation:
                    explained[instance.name] = solver.explanation
    lines += ["", f"Explanations at {args.sizes[-1]}, as `feasible` returned them:", ""]
    for name, explanation in explained.items():
        lines += [f"- {name}:", *(f"  - {line}" for line in explanation)]
    print("\n".join(lines[-sum(len(e) + 1 for e in explained.values()) - 1 :]), flush=True)
    if not args.no_drain:
        nodes, pods = _size(args.sizes[-1])
        lines += ["", DRAIN_HEADER, *drain_lines(nodes, pods, args.timeout)]
        print("\n".join(lines[-4:]), flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
