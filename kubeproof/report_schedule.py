"""How ``kubeproof schedule`` shows its decisions: as text for a terminal, or as JSON.

The JSON form, one object for the whole run::

    {"decisions": [{"pod": "ns/name", "selected": "node" | null, "message": str,
                    "nodes": [{"name": str, "feasible": bool,
                               "filters": {"Plugin": {"code": str, "reason": str}},
                               "scores": {"Plugin": {"raw": int, "normalized": int,
                                                     "weighted": int}},
                               "total": int}]}]}
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Sequence

from kubeproof.model.objects import object_key
from kubeproof.model.scheduler.cycle import Decision, NodeEvaluation
from kubeproof.model.scheduler.evaluation import NodeEvaluations

__all__ = ["decision_json", "decision_lines", "decisions_json", "group_label"]


def _node_json(node: NodeEvaluation) -> dict:
    return {
        "name": node.name,
        "feasible": node.feasible,
        "filters": {
            plugin: {"code": status.code, "reason": ", ".join(status.reasons)}
            for plugin, status in node.filters
        },
        "scores": {
            plugin: {"raw": s.raw, "normalized": s.normalized, "weighted": s.weighted}
            for plugin, s in node.scores
        },
        "total": node.total,
    }


def decision_json(decision: Decision) -> dict:
    """One decision in the documented JSON shape."""
    return {
        "pod": object_key(decision.pod),
        "selected": decision.selected,
        "message": decision.message,
        "nodes": [_node_json(node) for node in decision.nodes],
    }


def decisions_json(decisions: Iterable[Decision]) -> str:
    """The whole run as one JSON document."""
    return json.dumps({"decisions": [decision_json(d) for d in decisions]}, indent=2)


def _node_line(node: NodeEvaluation, label: str, width: int) -> str:
    failure = node.first_failure
    verdict = "feasible" if failure is None else failure.code
    line = f"  {label:<{width}}  {verdict:<28}"
    if node.scores:
        parts = " ".join(f"{p}={s.raw}/{s.normalized}/{s.weighted}" for p, s in node.scores)
        line += f" total={node.total:<5} {parts}"
    for plugin, status in node.filters:
        if status.reasons and not status.is_success:
            line += f"\n  {'':<{width}}    {plugin}: {', '.join(status.reasons)}"
    return line


def _groups(nodes: Sequence[NodeEvaluation]) -> list[tuple[NodeEvaluation, Sequence[str]]]:
    """The nodes grouped by equal evaluation (filter statuses and scores), in node order: each
    group's first node's evaluation and the names in it."""
    if isinstance(nodes, NodeEvaluations):
        return nodes.groups()
    # The cycle shares one filters tuple and one scores tuple between equivalent nodes, so
    # grouping by identity first leaves few groups to compare by value.
    by_identity: dict[tuple[int, int], list[int]] = {}
    for index, node in enumerate(nodes):
        by_identity.setdefault((id(node.filters), id(node.scores)), []).append(index)
    by_value: dict[tuple, list[int]] = {}
    for indices in by_identity.values():
        first = nodes[indices[0]]
        by_value.setdefault((first.filters, first.scores), []).extend(indices)
    groups = sorted(by_value.values(), key=lambda indices: indices[0])
    return [(nodes[min(g)], [nodes[i].name for i in sorted(g)]) for g in groups]


def group_label(names: Sequence[str], selected: str | None = None, shown: int = 3) -> str:
    """Names of a group of nodes, the selected one first, the rest counted past ``shown``.

    >>> group_label(["a", "b", "c", "d", "e"], selected="d")
    'd, a, b and 2 more'
    >>> group_label(["a", "b"]), group_label(["a"])
    ('a and b', 'a')
    """
    if selected is not None and selected in names:
        others = (name for name in names if name != selected)
        first = [selected, *itertools.islice(others, shown)]
        count = 1 + len(names) - names.count(selected)
    else:
        first, count = list(names[:shown]), len(names)
    if count <= shown:
        return first[0] if count == 1 else f"{', '.join(first[:-1])} and {first[-1]}"
    return f"{', '.join(first[:shown])} and {count - shown} more"


def decision_lines(decision: Decision) -> Iterator[str]:
    """The text form of one decision: the verdict, then one line per group of nodes with the
    same evaluation (one node, or a few named and the rest counted: ``--format json`` lists
    every node) with its filter verdict, its total and each score as raw/normalized/weighted,
    then the reason of every filter that failed."""
    target = decision.selected or "unschedulable"
    yield f"{object_key(decision.pod)} -> {target}: {decision.message}"
    groups = _groups(decision.nodes)
    labels = [group_label(names, decision.selected) for _, names in groups]
    width = max((len(label) for label in labels), default=0)
    for (first, _), label in zip(groups, labels, strict=True):
        yield _node_line(first, label, width)
