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

import json
from collections.abc import Iterable, Iterator

from kubeproof.model.objects import object_key
from kubeproof.model.scheduler.cycle import Decision, NodeEvaluation

__all__ = ["decision_json", "decision_lines", "decisions_json"]


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


def _node_line(node: NodeEvaluation, width: int) -> str:
    failure = node.first_failure
    verdict = "feasible" if failure is None else failure.code
    line = f"  {node.name:<{width}}  {verdict:<28}"
    if node.scores:
        parts = " ".join(f"{p}={s.raw}/{s.normalized}/{s.weighted}" for p, s in node.scores)
        line += f" total={node.total:<5} {parts}"
    for plugin, status in node.filters:
        if status.reasons and not status.is_success:
            line += f"\n  {'':<{width}}    {plugin}: {', '.join(status.reasons)}"
    return line


def decision_lines(decision: Decision) -> Iterator[str]:
    """The text form of one decision: the verdict, then one line per node with its filter
    verdict, its total and each score as raw/normalized/weighted, then the reason of every
    filter that failed."""
    target = decision.selected or "unschedulable"
    yield f"{object_key(decision.pod)} -> {target}: {decision.message}"
    width = max((len(node.name) for node in decision.nodes), default=0)
    for node in decision.nodes:
        yield _node_line(node, width)
