"""What a scheduling cycle reports: each node's filter statuses and scores, and the decision.

A cycle that evaluated classes of equivalent nodes once each (``incremental``) reports its nodes
as :class:`NodeEvaluations`: the classes, each node's ``NodeEvaluation`` built only when read
(the JSON output reads every node; the text output reads only the groups).

>>> from kubeproof.model.scheduler.framework import SUCCESS_STATUS
>>> ok, scored = (("NodeName", SUCCESS_STATUS),), (("X", PluginScore(1, 2, 4)),)
>>> nodes = NodeEvaluations(("a", "b", "c"), [(ok, (), (0, 2)), (ok, scored, (1,))])
>>> [(n.name, n.total) for n in nodes], nodes[1] == NodeEvaluation("b", ok, nodes[1].scores)
([('a', 0), ('b', 4), ('c', 0)], True)
>>> [(group.name, names) for group, names in nodes.groups()]
[('a', ('a', 'c')), ('b', ('b',))]
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from kubeproof.model.objects import Pod
from kubeproof.model.scheduler.framework import (
    MAX_NODE_SCORE,
    MIN_NODE_SCORE,
    SKIP,
    SUCCESS,
    UNSCHEDULABLE_AND_UNRESOLVABLE,
    Status,
)

__all__ = [
    "Decision",
    "Filters",
    "NodeEvaluation",
    "NodeEvaluations",
    "PluginScore",
    "Scores",
    "check_normalized",
    "first_failure",
    "items_at",
    "outside_status",
    "unschedulable_message",
]

Filters = tuple[tuple[str, Status], ...]  # each filter plugin's status, in profile order


@dataclass(frozen=True, slots=True)
class PluginScore:
    """One score plugin's scores of one node: raw, normalized to [0, 100], times its weight."""

    raw: int
    normalized: int
    weighted: int


Scores = tuple[tuple[str, PluginScore], ...]  # each score plugin's scores, in profile order


def first_failure(filters: Filters) -> Status | None:
    """The status upstream reports: the first plugin that did not pass."""
    return next((s for _, s in filters if s.code not in (SUCCESS, SKIP)), None)


@dataclass(frozen=True, slots=True)
class NodeEvaluation:
    """One node's verdict: each filter plugin's status in profile order, then its scores."""

    name: str
    filters: Filters
    scores: Scores = ()

    @property
    def feasible(self) -> bool:
        return self.first_failure is None

    @property
    def first_failure(self) -> Status | None:
        """The status upstream reports: the first plugin that did not pass."""
        return first_failure(self.filters)

    @property
    def total(self) -> int:
        return sum(score.weighted for _, score in self.scores)


class NodeEvaluations(Sequence[NodeEvaluation]):
    """Every node's evaluation, from classes of nodes that share their filters and scores.

    ``classes`` holds ``(filters, scores, indices)`` with the node indices ascending; every
    node is in exactly one class. Equal to (and hashed as) the tuple of its NodeEvaluations.
    """

    __slots__ = ("_classes", "_names", "_nodes")

    def __init__(self, names: Sequence[str], classes: list[tuple[Filters, Scores, Sequence[int]]]):
        self._names = names
        self._classes = classes
        self._nodes: tuple[NodeEvaluation, ...] | None = None

    def _built(self) -> tuple[NodeEvaluation, ...]:
        if self._nodes is None:
            rows: list[Any] = [None] * len(self._names)
            for filters, scores, indices in self._classes:
                for i in indices:
                    rows[i] = NodeEvaluation(self._names[i], filters, scores)
            self._nodes = tuple(rows)
        return self._nodes

    def __len__(self) -> int:
        return len(self._names)

    def __getitem__(self, index: Any) -> Any:
        return self._built()[index]

    def __iter__(self) -> Iterator[NodeEvaluation]:
        return iter(self._built())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, NodeEvaluations):
            other = other._built()
        return isinstance(other, tuple) and self._built() == other

    def __hash__(self) -> int:
        return hash(self._built())

    def __repr__(self) -> str:
        return f"NodeEvaluations({self._built()!r})"

    def groups(self) -> list[tuple[NodeEvaluation, tuple[str, ...]]]:
        """The nodes grouped by equal evaluation, in node order: each group's first node's
        evaluation and every name in it."""
        merged: dict[tuple[Filters, Scores], list[Sequence[int]]] = {}
        for filters, scores, indices in self._classes:
            merged.setdefault((filters, scores), []).append(indices)
        out = []
        for (filters, scores), parts in merged.items():
            indices = parts[0] if len(parts) == 1 else sorted(itertools.chain(*parts))
            names = items_at(self._names, indices)
            out.append((indices[0], NodeEvaluation(names[0], filters, scores), names))
        out.sort(key=lambda group: group[0])
        return [(evaluation, names) for _, evaluation, names in out]


def items_at(items: Sequence[Any], indices: Sequence[int]) -> tuple[Any, ...]:
    """``tuple(items[i] for i in indices)``, gathered in C (one ``itemgetter`` call)."""
    if len(indices) == 1:  # itemgetter gives a bare item for one index
        return (items[indices[0]],)
    return itemgetter(*indices)(items) if indices else ()


@dataclass(frozen=True, slots=True)
class Decision:
    """Where one pod goes (``selected``, or ``None``) and why, node by node."""

    pod: Pod
    selected: str | None
    message: str
    nodes: Sequence[NodeEvaluation]


def outside_status(plugin_name: str) -> Status:
    """The status of a node outside a plugin's PreFilterResult."""
    # upstream: schedule_one.go findNodesThatFitPod: nodes outside a PreFilterResult are not
    # evaluated and count as UnschedulableAndUnresolvable.
    reason = f"node(s) didn't satisfy plugin(s) [{plugin_name}]"
    return Status(UNSCHEDULABLE_AND_UNRESOLVABLE, (reason,))


def check_normalized(plugin: Any, normalized: Sequence[int]) -> None:
    """Refuse a normalized score outside [0, 100]."""
    for n in normalized:
        if not MIN_NODE_SCORE <= n <= MAX_NODE_SCORE:
            raise ValueError(f"{plugin.name} normalized score {n} is outside [0, 100]")


def unschedulable_message(
    node_count: int, failures: Sequence[tuple[Status | None, int]], pre_failure: Status | None
) -> str:
    """Upstream's message for a pod no node fits: each first failure with how many nodes had
    it (``failures``), or the PreFilter failure that ruled out every node."""
    # upstream: pkg/scheduler/framework/types.go FitError.Error
    message = f"0/{node_count} nodes are available:"
    if pre_failure is not None:
        return f"{message} {', '.join(pre_failure.reasons)}."
    reasons: Counter[str] = Counter()
    for failure, count in failures:
        for reason in failure.reasons if failure else ():
            reasons[reason] += count
    histogram = sorted(f"{count} {reason}" for reason, count in reasons.items())
    return f"{message} {', '.join(histogram)}." if histogram else message
