"""``kubeproof place``: does it all fit, what stops it, how many fit, where the scheduler falls
short; placement queries on manifests, decided by z3 (and CP-SAT when installed).

``kubeproof place FILE ... [--capacity WORKLOAD] [--isolation WORKLOAD --on SELECTOR]
[--drain NODE,... [--cordon]] [--greedy] [--format text|json] [--timeout S]``

The files are read as ``kubeproof schedule`` reads them; pods with ``nodeName`` are running,
every other pod and every replica of a Deployment or ReplicaSet is pending. Feasibility is
always decided; each flag adds one query, all sharing one solver and one time limit. A
WORKLOAD is ``namespace/name`` (or ``name`` in ``default``) of a pending Deployment, ReplicaSet
or Pod; a SELECTOR is a label selector as ``kubectl -l`` takes it. ``--format json`` prints one
document, ``{"feasible", "assignment", "explanation", "capacity", "isolation", "drain",
"greedy", "seconds"}``, a query not asked being null (the schema: ``kubeproof.report_place``).

Exit status: 0 for an answer (feasible or not), 3 when the time ran out before some answer
(never reported feasible), 2 for bad input.

>>> drained_nodes("node-a, node-b")
('node-a', 'node-b')
>>> from kubeproof.cli import main
>>> main(["place", "examples/placement/cluster", "examples/placement/feasible"])  # doctest: +SKIP
Feasible: the 21 pending pods of 5 workloads fit on 10 of 12 nodes, verified pod by pod ...
0
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from kubeproof.model.errors import KubeproofError
from kubeproof.model.manifests import load_paths

__all__ = ["cmd_place", "drained_nodes", "register"]

EXIT_ANSWER, EXIT_UNKNOWN = 0, 3
DEFAULT_TIMEOUT = 60.0  # seconds, as solvers.placement.DEFAULT_TIMEOUT


def drained_nodes(text: str) -> tuple[str, ...]:
    """The node names of ``--drain a,b``; KubeproofError for an empty list or name."""
    names = tuple(name.strip() for name in text.split(","))
    if not all(names):
        raise KubeproofError(f"--drain {text!r}: expected node names separated by commas")
    return names


def _checked(args: argparse.Namespace) -> None:
    """Refuse flag combinations that ask nothing sensible, before reading any file."""
    if args.on is not None and args.isolation is None:
        raise KubeproofError("--on SELECTOR needs --isolation WORKLOAD")
    if args.isolation is not None and args.on is None:
        raise KubeproofError("--isolation WORKLOAD needs --on SELECTOR (the nodes to check)")
    if args.cordon and args.drain is None:
        raise KubeproofError("--cordon needs --drain NODE,... (the nodes to cordon)")
    if args.timeout < 0:
        raise KubeproofError(f"--timeout {args.timeout:g}: must be 0 or more seconds")


def cmd_place(args: argparse.Namespace) -> int:
    """Answer the queries; print text or JSON; exit 0, or 3 when some answer is unknown."""
    # imported here: z3 and the solver load only for this subcommand
    from kubeproof.report_place import PlaceReport, place_json, place_lines
    from kubeproof.solvers.placement import Placer, greedy, parse_selector, problem_from_objects

    _checked(args)
    start = time.perf_counter()
    objects = load_paths(args.paths)
    problem = problem_from_objects(objects)
    # every name and selector is checked before any solving, so bad input fails at once
    if args.capacity is not None:
        problem.template_index(args.capacity)
    selector = None
    if args.isolation is not None:
        problem.template_index(args.isolation)
        selector = parse_selector(args.on)
    nodes = drained_nodes(args.drain) if args.drain is not None else None
    for name in nodes or ():
        problem.node_index(name)

    deadline = time.monotonic() + args.timeout  # for the queries: reading files is not timed

    def left() -> float:
        return max(deadline - time.monotonic(), 0.0)

    placer = Placer(problem)
    answer = placer.feasible(left())
    capacity = placer.capacity(args.capacity, left()) if args.capacity is not None else None
    isolation = placer.isolation(args.isolation, selector) if selector is not None else None
    drain = placer.drain(nodes, args.cordon, left()) if nodes is not None else None
    gap = greedy(objects, left(), placer=placer) if args.greedy else None
    report = PlaceReport(
        problem,
        answer,
        capacity,
        isolation,
        drain,
        args.cordon,
        gap,
        time.perf_counter() - start,
    )
    out = sys.stdout
    if args.format == "json":
        out.write(json.dumps(place_json(report)) + "\n")
    else:
        out.write("\n".join(place_lines(report)) + "\n")
    out.flush()  # a closed pipe surfaces here, where the command line handles it
    return EXIT_ANSWER if report.known else EXIT_UNKNOWN


def register(commands) -> None:
    """Add the ``place`` subcommand to the command line's subparsers."""
    place = commands.add_parser(
        "place",
        help="placement queries on manifests: does it all fit, why not, how many fit, drain "
        "what-ifs, where the scheduler falls short",
        description=(
            "Decide whether every pending pod of the manifests can be placed at once, meeting "
            "every hard constraint of the scheduler's filters (an assignment, verified pod by "
            "pod, or a minimal set of conflicting facts); each flag adds a query. Exit 0 for "
            "an answer, 3 when the time ran out first, 2 for bad input."
        ),
    )
    place.add_argument("paths", nargs="+", metavar="FILE|DIR")
    place.add_argument(
        "--capacity",
        metavar="WORKLOAD",
        help="the most replicas of this workload (namespace/name) that fit beside the others",
    )
    place.add_argument(
        "--isolation",
        metavar="WORKLOAD",
        help="can any pod of this workload ever run on a node matching --on",
    )
    place.add_argument(
        "--on", metavar="SELECTOR", help="with --isolation: a label selector, as kubectl -l"
    )
    place.add_argument(
        "--drain",
        metavar="NODE,...",
        help="could these nodes' pods go elsewhere, with every pending pod placed too",
    )
    place.add_argument(
        "--cordon",
        action="store_true",
        help="with --drain: only cordon the nodes (their pods stay, nothing new goes there)",
    )
    place.add_argument(
        "--greedy",
        action="store_true",
        help="run the scheduler one pod at a time and list the pods it leaves Pending that the "
        "complete placement places",
    )
    place.add_argument("--format", choices=("text", "json"), default="text")
    place.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=f"seconds for all the queries together (default {DEFAULT_TIMEOUT:g})",
    )
    place.set_defaults(run=cmd_place)
