"""How ``kubeproof place`` shows its answers: text for a terminal, or one JSON document.

The JSON document (``place_json``)::

    {"feasible": true | false | null,
     "assignment": {"ns/pod": "node"},
     "explanation": [str, ...],
     "capacity": {"workload": "ns/name", "max_replicas": int | null, "at_least": int | null,
                  "explanation": [str, ...]} | null,
     "isolation": {"workload": "ns/name", "selector": str, "possible": bool,
                   "witness": {"node": str, "labels": {str: str}} | null,
                   "explanation": [str, ...]} | null,
     "drain": {"nodes": [str, ...], "cordon": bool, "possible": bool | null,
               "moves": {"ns/pod": "node"}, "explanation": [str, ...]} | null,
     "greedy": {"pending": ["ns/pod", ...], "scheduler": {"ns/pod": "node" | null},
                "complete": {"ns/pod": "node"} | null, "complete_feasible": bool | null,
                "reasons": {"ns/pod": str}, "finished": bool} | null,
     "seconds": float}

``feasible`` null means the time ran out (never reported feasible). The text form is a summary
line, then the explanation or a table of what goes where: one row per node, or per group of
nodes whose row would be the same, with each workload's replicas counted.

>>> from kubeproof.model.objects import FrozenMap, Node, NodeStatus, ObjectMeta, Pod
>>> from kubeproof.model.quantity import parse_quantity as q
>>> from kubeproof.solvers.placement import feasible, problem_from_objects
>>> node = Node(ObjectMeta(name="n1"), status=NodeStatus(allocatable=FrozenMap(pods=q("9"))))
>>> problem = problem_from_objects([node, Pod(ObjectMeta(name="p"))])
>>> report = PlaceReport(problem, feasible(problem))
>>> place_json(report)["assignment"]
{'default/p': 'n1'}
>>> print(next(place_lines(report)).split(" (")[0])
Feasible: the 1 pending pod of 1 workload fits on 1 of 1 node, verified pod by pod
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from kubeproof.model.scheduler.resources import (
    CPU,
    MEMORY,
    PODS,
    allocatable_of,
    pod_requests,
    requested_of,
)
from kubeproof.report_schedule import group_label
from kubeproof.solvers.placement import (
    Answer,
    CapacityAnswer,
    DrainAnswer,
    GreedyAnswer,
    IsolationAnswer,
    Problem,
)

__all__ = ["PlaceReport", "place_json", "place_lines"]

ZONE = "topology.kubernetes.io/zone"


@dataclass(frozen=True)
class PlaceReport:
    """Every answer of one ``kubeproof place`` run, over one problem."""

    problem: Problem
    answer: Answer
    capacity: CapacityAnswer | None = None
    isolation: IsolationAnswer | None = None
    drain: DrainAnswer | None = None
    cordon: bool = False
    greedy: GreedyAnswer | None = None
    seconds: float = 0.0

    @property
    def known(self) -> bool:
        """Whether every query was answered before the time ran out."""
        return (
            self.answer.feasible is not None
            and (self.capacity is None or self.capacity.feasible is not None)
            and (self.drain is None or self.drain.possible is not None)
            and (self.greedy is None or self.greedy.known)
        )


# --- JSON ---------------------------------------------------------------------------------


def place_json(report: PlaceReport) -> dict:
    """The report as the JSON document of the module docstring."""
    answer, capacity, isolation = report.answer, report.capacity, report.isolation
    drain, greedy = report.drain, report.greedy
    witness = None
    if isolation is not None and isolation.witness is not None:
        info = report.problem.snapshot.nodes[report.problem.node_index(isolation.witness)]
        witness = {"node": isolation.witness, "labels": dict(info.node.metadata.labels)}
    return {
        "feasible": answer.feasible,
        "assignment": dict(answer.assignment),
        "explanation": list(answer.explanation),
        "capacity": None
        if capacity is None
        else {
            "workload": capacity.workload,
            "max_replicas": capacity.max_replicas,
            "at_least": capacity.at_least,
            "explanation": list(capacity.explanation),
        },
        "isolation": None
        if isolation is None
        else {
            "workload": isolation.workload,
            "selector": isolation.selector,
            "possible": isolation.possible,
            "witness": witness,
            "explanation": list(isolation.explanation),
        },
        "drain": None
        if drain is None
        else {
            "nodes": list(drain.nodes),
            "cordon": report.cordon,
            "possible": drain.possible,
            "moves": dict(drain.moves),
            "explanation": list(drain.explanation),
        },
        "greedy": None
        if greedy is None
        else {
            "pending": list(greedy.pending),
            "scheduler": dict(greedy.scheduler),
            "complete": None if greedy.complete is None else dict(greedy.complete),
            "complete_feasible": greedy.complete_feasible,
            "reasons": dict(greedy.reasons),
            "finished": greedy.finished,
        },
        "seconds": round(report.seconds, 3),
    }


# --- text ---------------------------------------------------------------------------------


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _explained(lines: Sequence[str]) -> Iterator[str]:
    for line in lines:
        yield f"  - {line}"


def _workload_of(problem: Problem) -> dict[str, str]:
    """Each pending pod's workload, ``namespace/name``."""
    return {k: t.workload.key for t in problem.templates for k in t.pod_keys()}


def place_lines(report: PlaceReport) -> Iterator[str]:
    """The report as text: the feasibility answer, then each query asked."""
    yield from _feasible_lines(report.problem, report.answer)
    if report.capacity is not None:
        yield ""
        yield from _capacity_lines(report.capacity)
    if report.isolation is not None:
        yield ""
        yield from _isolation_lines(report.isolation)
    if report.drain is not None:
        yield ""
        yield from _drain_lines(report.problem, report.drain, report.cordon)
    if report.greedy is not None:
        yield ""
        yield from _greedy_lines(report.problem, report.greedy)


def _feasible_lines(problem: Problem, answer: Answer) -> Iterator[str]:
    pods = sum(t.replicas for t in problem.templates)
    nodes = len(problem.snapshot.nodes)
    what = f"{_plural(pods, 'pending pod')} of {_plural(len(problem.templates), 'workload')}"
    took = f"{answer.seconds:.2f} s" + (f", {answer.method}" if answer.method else "")
    # the explanation ends with one "Left out:" line per gated workload (Answer)
    kept = len(answer.explanation) - len(problem.gated)
    facts, left_out = answer.explanation[:kept], answer.explanation[kept:]
    if answer.feasible is None:
        yield f"Unknown: the time ran out before deciding whether the {what} fit ({took})."
        yield from _explained(facts)
        yield from left_out
        return
    if not answer.feasible:
        yield f"Infeasible: the {what} cannot all be placed ({took}). These facts conflict:"
        yield from _explained(facts)
        yield from left_out
        return
    if not pods:
        yield f"Feasible: no pod is pending on the {_plural(nodes, 'node')} ({took})."
        yield from left_out
        return
    used = len(set(answer.assignment.values()))
    verb = "fits" if pods == 1 else "fit"
    yield (
        f"Feasible: the {what} {verb} on {used:,} of {_plural(nodes, 'node')}, verified pod by pod "
        f"({took})."
    )
    yield from left_out
    yield ""
    yield from _table(problem, answer.assignment)


def _amount(name: str, value: int) -> str:
    """An amount as a person reads it: cores for cpu, Gi or Mi for bytes."""
    if name == CPU:
        return f"{value / 1000:.2f}".rstrip("0").rstrip(".")
    if (name == MEMORY or name.endswith("storage")) and value:
        for unit, size in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
            if value >= size or unit == "Ki":
                return f"{value / size:.1f}".rstrip("0").rstrip(".") + unit
    return str(value)


def _usage(name: str, used: int, allocatable: int) -> str:
    if not used and not allocatable:
        return "-"
    share = f" ({100 * used // allocatable}%)" if allocatable else ""
    return f"{_amount(name, used)}/{_amount(name, allocatable)}{share}"


def _table(problem: Problem, assignment: Mapping[str, str]) -> Iterator[str]:
    """One row per node receiving pods (nodes with the same row share one), with what the
    node's pods request against its allocatable once the pending pods are placed."""
    template_of = {k: t for t, x in enumerate(problem.templates) for k in x.pod_keys()}
    placed: dict[str, Counter] = {}
    for key, node in assignment.items():
        placed.setdefault(node, Counter())[template_of[key]] += 1
    requests = [pod_requests(t.pod) for t in problem.templates]
    extra = sorted(
        {n for r in requests for n in r if n not in (CPU, MEMORY, PODS)} - {"ephemeral-storage"}
    )
    header = ["NODE", "ZONE", "PODS", "CPU", "MEMORY", *(n.upper() for n in extra), "PLACED"]
    rows: dict[tuple, list[str]] = {}
    for info in problem.snapshot.nodes:
        counts = placed.get(info.name)
        if not counts:
            continue
        allocatable, before = allocatable_of(info), requested_of(info)
        used = dict(before)
        for t, k in counts.items():
            for name, value in requests[t].items():
                used[name] = used.get(name, 0) + k * value
        pods = len(info.pods) + sum(counts.values())
        cells = (
            info.node.metadata.labels.get(ZONE, "-"),
            f"{pods}/{allocatable.get(PODS, 0)}",
            *(_usage(n, used.get(n, 0), allocatable.get(n, 0)) for n in (CPU, MEMORY, *extra)),
            ", ".join(
                f"{problem.templates[t].workload.key} ×{k}" for t, k in sorted(counts.items())
            ),
        )
        rows.setdefault(cells, []).append(info.name)
    table = [header] + [[group_label(names, shown=2), *cells] for cells, names in rows.items()]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        yield "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1]
    idle = len(problem.snapshot.nodes) - len(placed)
    if idle:
        verb = "receives" if idle == 1 else "receive"
        yield f"({_plural(idle, 'other node')} {verb} no pending pod.)"


def _capacity_lines(capacity: CapacityAnswer) -> Iterator[str]:
    took = f"{capacity.seconds:.2f} s"
    if capacity.max_replicas is not None:
        yield (
            f"Capacity of {capacity.workload}: at most {capacity.max_replicas} replicas fit "
            f"with every other workload in place ({took}). One more does not, because:"
        )
    elif capacity.feasible is False:
        yield f"Capacity of {capacity.workload}: none ({took}):"
    else:
        low = "" if capacity.at_least is None else f"; at least {capacity.at_least} fit"
        yield f"Capacity of {capacity.workload}: unknown, the time ran out{low} ({took})."
    yield from _explained(capacity.explanation)


def _isolation_lines(isolation: IsolationAnswer) -> Iterator[str]:
    verdict = (
        f"possible, e.g. on {isolation.witness}"
        if isolation.possible
        else "never, proved for every replica"
    )
    yield (
        f"Isolation of {isolation.workload} from nodes matching {isolation.selector}: "
        f"{verdict} ({isolation.seconds:.2f} s)."
    )
    yield from _explained(isolation.explanation)


def _origin(problem: Problem) -> dict[str, tuple[str, str]]:
    """Each running pod's node and workload (its controller's name, or its own)."""
    out = {}
    for info in problem.snapshot.nodes:
        for pod in info.pods:
            meta = pod.metadata
            owner = next((o.name for o in meta.owner_references if o.controller), meta.name)
            out[f"{meta.namespace}/{meta.name}"] = (info.name, f"{meta.namespace}/{owner}")
    return out


def _drain_lines(problem: Problem, drain: DrainAnswer, cordon: bool) -> Iterator[str]:
    what = "Cordon" if cordon else "Drain"
    nodes, took = ", ".join(drain.nodes), f"{drain.seconds:.2f} s"
    if drain.possible is None:
        yield f"{what} of {nodes}: unknown, the time ran out ({took})."
    elif not drain.possible:
        yield f"{what} of {nodes}: not possible ({took}). These facts conflict:"
    elif cordon:
        yield f"{what} of {nodes}: possible, every pending pod still fits elsewhere ({took})."
    else:
        yield (
            f"{what} of {nodes}: possible, {_plural(len(drain.moves), 'pod')} move, every "
            f"pending pod placed too ({took}):"
        )
        origin = _origin(problem)
        moves = Counter((*origin[pod], node) for pod, node in drain.moves.items())
        for (source, workload, target), count in sorted(moves.items()):
            yield f"  {workload} ×{count}: {source} -> {target}"
    yield from _explained(drain.explanation)


def _greedy_lines(problem: Problem, greedy: GreedyAnswer) -> Iterator[str]:
    took = f"{greedy.seconds:.2f} s"
    if not greedy.finished:
        pods = sum(t.replicas for t in problem.templates)
        yield (
            f"Greedy gap: unknown, the time ran out while the scheduler ran, after "
            f"{len(greedy.scheduler):,} of {_plural(pods, 'pending pod')} ({took})."
        )
        return
    stranded = sum(1 for node in greedy.scheduler.values() if node is None)
    head = (
        f"Greedy gap: the scheduler, one pod at a time in queue order, leaves "
        f"{_plural(stranded, 'pod')} of {len(greedy.scheduler):,} Pending"
    )
    if greedy.complete_feasible is None:
        yield f"{head}; the time ran out before the complete placement ({took})."
    elif not greedy.complete_feasible:
        yield f"{head}; no complete placement places every pod either ({took})."
    elif len(greedy.pending) == stranded > 0:
        yield f"{head}; the complete placement places all of them ({took}):"
    elif greedy.pending:
        yield (
            f"{head}; the complete placement places {len(greedy.pending):,} of them, the "
            f"others wait for their scheduling gates ({took}):"
        )
    elif stranded:
        yield f"{head}, each waiting for its scheduling gates: no gap ({took})."
    else:
        yield f"{head}: no gap, both place every pod ({took})."
    workload_of = _workload_of(problem)
    left: dict[str, list[str]] = {}
    for key in greedy.scheduler:
        if greedy.scheduler[key] is None:
            left.setdefault(workload_of.get(key, key), []).append(key)
    for workload, keys in left.items():
        example = keys[0]
        yield f"  {workload} ×{len(keys)} Pending, e.g. {example}: {greedy.reasons[example]}"
    if greedy.complete:
        yield from _side_by_side(greedy, workload_of)


def _side_by_side(greedy: GreedyAnswer, workload_of: Mapping[str, str]) -> Iterator[str]:
    """Replicas per workload and node where the two placements differ (nodes alike share one
    row)."""
    ours = Counter((workload_of.get(k, k), n) for k, n in greedy.scheduler.items() if n)
    theirs = Counter((workload_of.get(k, k), n) for k, n in (greedy.complete or {}).items())
    rows: dict[tuple[str, int, int], list[str]] = {}
    for workload, node in sorted(ours.keys() | theirs.keys()):
        a, b = ours[(workload, node)], theirs[(workload, node)]
        if a != b:
            rows.setdefault((workload, a, b), []).append(node)
    if not rows:
        return
    table = [("WORKLOAD", "SCHEDULER", "COMPLETE", "NODES")] + [
        (workload, str(a), str(b), group_label(nodes, shown=2))
        for (workload, a, b), nodes in rows.items()
    ]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    yield "  Side by side, where the placements differ (replicas per node):"
    for row in table:
        yield "    " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
