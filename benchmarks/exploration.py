"""Exploration throughput on the journey scope, both engines, every property of the suite on.

- Hypothesis: steps per second (drawn steps and the settling fair run's steps, each checked
  against every invariant and transition property), over ``--examples`` examples of up to
  ``--steps`` drawn steps;
- exhaustive: distinct states per second and transitions per second of a search bounded at
  ``--states`` states, and bytes per state: the graph kept per state after the search
  (tracemalloc, current) and the peak during it (frontier of real states and the search's
  caches included), in a separate run under tracemalloc;
- each engine ``--runs`` times in this process: the median, and the first run apart (it
  alone pays for what a process does once: imports warmed, caches of strings filled);
  wall-clock and CPU time (``time.process_time``) both, since a shared machine stretches
  the first;
- where the exhaustive search's time goes: CPU time per distinct state in each phase
  (successors, steps, canonical keys, properties), each call timed;
- a cProfile of each engine, by function (cumulative).

Usage::

    python benchmarks/exploration.py --examples 3 --steps 150 --states 3000 --runs 5
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
import tracemalloc

from machine import machine

from kubeproof.model.memo import Memo
from kubeproof.properties.canonical import Canonicalizer
from kubeproof.properties.engines import Checks, check_suite
from kubeproof.properties.engines.exhaustive import explore_states
from kubeproof.properties.suites import suite as builtin_suite

# where the time goes: the functions whose cumulative time the report lists
WATCHED = (
    ("model", "cluster.py", "_enabled"),
    ("model", "cluster.py", "transition"),
    ("model", "memo.py", "step"),
    ("model", "run.py", "run"),
    ("model", "etcd.py", "first_event_since"),
    ("properties", "engines/__init__.py", "_run"),
    ("properties", "canonical.py", "key"),
    ("hypothesis", "conjecture/data.py", "draw"),
)


def _profile(call) -> tuple[object, dict[str, float], float]:
    profiler = cProfile.Profile()
    started = time.perf_counter()
    result = profiler.runcall(call)
    total = time.perf_counter() - started
    stats = pstats.Stats(profiler, stream=io.StringIO())
    times = {}
    for (filename, _, name), (_, _, _, cum, _) in stats.stats.items():
        for _, file, fn in WATCHED:
            if name == fn and filename.endswith(file):
                times[f"{file}:{fn}"] = times.get(f"{file}:{fn}", 0.0) + cum
    return result, times, total


def _timed(call) -> dict:
    """The report's counts with the wall-clock and CPU seconds of ``call``."""
    cpu = time.process_time()
    report = call()
    return {
        "steps": report.steps,
        "examples": report.examples,
        "states": report.states,
        "transitions": report.transitions,
        "seconds": report.seconds,
        "cpu": time.process_time() - cpu,
    }


def hypothesis_run(suite, examples: int, steps: int) -> dict:
    return _timed(
        lambda: check_suite(
            suite, "hypothesis", examples=examples, steps=steps, seed=0, database=":memory:"
        )
    )


def exhaustive_run(suite, states: int) -> dict:
    return _timed(lambda: check_suite(suite, "exhaustive", max_states=states))


# the exhaustive search's phases: (label, class, method) whose CPU time _phases adds up
PHASES = (
    ("successors: `Memo.enabled`", Memo, "enabled"),
    ("steps: `Memo.step`", Memo, "step"),
    ("canonical keys: `Canonicalizer.key`", Canonicalizer, "key"),
    ("transition properties: `Checks.step`", Checks, "step"),
    ("invariants: `Checks.state`", Checks, "state"),
)


def _phases(suite, states: int) -> tuple[dict[str, float], float]:
    """CPU microseconds per distinct state spent in each of PHASES (each call timed with
    ``time.process_time``), and in the whole search."""
    spent = dict.fromkeys([label for label, _, _ in PHASES], 0.0)

    def timed(label, method):
        def call(*args):
            started = time.process_time()
            try:
                return method(*args)
            finally:
                spent[label] += time.process_time() - started

        return call

    originals = [(cls, name, getattr(cls, name)) for _, cls, name in PHASES]
    for (label, cls, name), (_, _, method) in zip(PHASES, originals, strict=True):
        setattr(cls, name, timed(label, method))
    try:
        started = time.process_time()
        graph, _ = explore_states(suite, Checks(suite), states, 10**9)
        total = time.process_time() - started
    finally:
        for cls, name, method in originals:
            setattr(cls, name, method)
    n = len(graph.parent)
    return {k: v * 1e6 / n for k, v in spent.items()}, total * 1e6 / n


def bytes_per_state(suite, states: int) -> tuple[float, float]:
    """(kept, peak) bytes per distinct state, under tracemalloc."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    graph, _ = explore_states(suite, Checks(suite), states, 10**9)
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n = len(graph.parent)
    return (kept - base) / n, (peak - base) / n


def _rates(runs: list[dict], unit: str) -> tuple[float, float, float, float]:
    """(median wall, median CPU, first wall, first CPU) of ``unit`` per second."""
    wall = [r[unit] / r["seconds"] for r in runs]
    cpu = [r[unit] / r["cpu"] for r in runs]
    return statistics.median(wall), statistics.median(cpu), wall[0], cpu[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="journey")
    parser.add_argument("--examples", type=int, default=3)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--states", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    suite = builtin_suite(args.suite)

    exh = [exhaustive_run(suite, args.states) for _ in range(args.runs)]
    hyp = [hypothesis_run(suite, args.examples, args.steps) for _ in range(args.runs)]
    kept, peak = bytes_per_state(suite, min(args.states, 1000))
    phases, per_state = _phases(suite, args.states)
    rest = per_state - sum(phases.values())
    _, hyp_prof, hyp_total = _profile(lambda: hypothesis_run(suite, 2, args.steps))
    _, exh_prof, exh_total = _profile(lambda: exhaustive_run(suite, min(args.states, 1000)))

    h_wall, h_cpu, h_first, h_first_cpu = _rates(hyp, "steps")
    e_wall, e_cpu, e_first, e_first_cpu = _rates(exh, "states")
    t_wall = statistics.median(r["transitions"] / r["seconds"] for r in exh)
    command = "python benchmarks/exploration.py " + " ".join(sys.argv[1:] if argv is None else argv)
    lines = [
        "## Exploration",
        "",
        f"Generated by `{command}` on {machine()}, load average "
        f"{os.getloadavg()[0]:.1f}. Suite `{suite.name}`: {len(suite.properties)} properties "
        f"on, faults {suite.faults}. Each engine ran {args.runs} times in one process "
        "(exhaustive first): medians, and the first run apart.",
        "",
        "| engine | work per run | median wall | median CPU | first run (wall, CPU) | target |",
        "|---|---:|---:|---:|---:|---:|",
        f"| hypothesis | {hyp[0]['examples']} examples, {hyp[0]['steps']} steps | "
        f"{h_wall:,.0f} steps/s | {h_cpu:,.0f} steps/s | {h_first:,.0f}, {h_first_cpu:,.0f} | "
        "3,000 steps/s |",
        f"| exhaustive | {exh[0]['states']} states, {exh[0]['transitions']} transitions | "
        f"{e_wall:,.0f} states/s ({t_wall:,.0f} transitions/s) | {e_cpu:,.0f} states/s | "
        f"{e_first:,.0f}, {e_first_cpu:,.0f} | 10,000 states/s |",
        "",
        f"Bytes per distinct state (exhaustive, {min(args.states, 1000)} states, tracemalloc): "
        f"{kept:,.0f} kept after the search (keys, parent pointers, the cycle graph), "
        f"{peak:,.0f} at the peak (the frontier's real states, the search's caches).",
        "",
        f"Where the exhaustive search's time goes ({args.states} states, CPU µs per distinct "
        "state, each call of a phase timed):",
        "",
        "| phase | µs per state | share |",
        "|---|---:|---:|",
        *(f"| {k} | {v:.1f} | {v / per_state:.0%} |" for k, v in phases.items()),
        f"| the rest (quiescence, graph, frontier, timing) | {rest:.1f} | {rest / per_state:.0%} |",
        f"| total | {per_state:.1f} | 100% |",
        "",
        "And by function (cProfile, cumulative seconds; nested entries overlap):",
        "",
        f"| function | hypothesis (2 examples) | exhaustive ({min(args.states, 1000)} states) |",
        "|---|---:|---:|",
    ]
    for _, file, fn in WATCHED:
        k = f"{file}:{fn}"
        lines.append(f"| `{k}` | {hyp_prof.get(k, 0.0):.2f} | {exh_prof.get(k, 0.0):.2f} |")
    lines.append(f"| total | {hyp_total:.2f} | {exh_total:.2f} |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
