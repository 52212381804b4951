"""The exact model's cells: a class of identical nodes as one cell of per-node patterns.

Nodes of one class (same group, same free capacity) are interchangeable, so an exact placement
on them is how many nodes take each *pattern*: a per-node fill (replicas per template) that
fits the node's free capacity and pod room and keeps the per-node rules (one replica per node,
no two conflicting templates). With few templates per class the patterns are few and the model
does not grow with the number of nodes: z3 proves a bin packing infeasible in milliseconds
where one integer per node leaves it a pigeonhole search (research/placement.md, b3). A class
with too many patterns, or whose templates meet a rule that reads single nodes (hostname
spread, pod affinity on a unique key), is one cell per node instead.

>>> from kubeproof.model.objects import FrozenMap, Node, NodeStatus, ObjectMeta, Pod
>>> from kubeproof.model.quantity import parse_quantity as q
>>> from kubeproof.solvers.placement.problem import problem_from_objects
>>> nodes = [Node(ObjectMeta(name=f"n{i}"), status=NodeStatus(
...     allocatable=FrozenMap(pods=q("2")))) for i in range(3)]
>>> analysis = problem_from_objects([*nodes, Pod(ObjectMeta(name="p"))]).analysis
>>> cells, patterns = exact_cells(analysis)
>>> cells, patterns[0]
(((0, 1, 2),), ((0,), ((0,), (1,), (2,))))
"""

from __future__ import annotations

from kubeproof.solvers.placement.analysis import Analysis

__all__ = ["PATTERN_LIMIT", "bounding_cells", "exact_cells", "node_patterns"]

PATTERN_LIMIT = 2000


def _local(analysis: Analysis) -> set[int]:
    """The templates a rule reading single nodes involves."""
    rules = analysis.rules
    local = {u for s in rules.spreads if s.unique for u in (s.template, *s.counted)}
    local |= {u for r in rules.affinities if any(r.unique) for u in (r.template, *r.targets)}
    return local


def node_patterns(
    analysis: Analysis,
    node: int,
    templates: tuple[int, ...],
    free: tuple[int, ...],
    room: int,
    limit: int = PATTERN_LIMIT,
) -> tuple[tuple[int, ...], ...] | None:
    """Every fill of a node with this free capacity and pod room (replicas per template, in
    ``templates`` order) the per-node rules of ``node`` allow (``Rules.per_node``: its group
    shares them); None when there are more than ``limit``."""
    single, apart = analysis.rules.per_node(analysis.labels[node])
    requests = analysis.requests
    found: list[tuple[int, ...]] = []

    def fill(i: int, chosen: list[int], free: list[int], room: int) -> bool:
        if i == len(templates):
            found.append(tuple(chosen))
            return len(found) <= limit
        t = templates[i]
        most = 1 if t in single else room
        if any(c and u in apart.get(t, ()) for u, c in zip(templates, chosen, strict=False)):
            most = 0
        for k in range(min(most, room) + 1):
            left = [f - need * k for f, need in zip(free, requests[t], strict=True)]
            if min(left, default=0) < 0:
                break
            if not fill(i + 1, [*chosen, k], left, room - k):
                return False
        return True

    if not fill(0, [], list(free), room):
        return None
    return tuple(found)


Fills = tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]  # (templates, patterns)


def _templates(analysis: Analysis, node: int) -> tuple[int, ...]:
    """The templates the node's static filters allow."""
    return tuple(t for t, row in enumerate(analysis.exclusions) if row[node] is None)


def exact_cells(
    analysis: Analysis, limit: int = PATTERN_LIMIT
) -> tuple[tuple[tuple[int, ...], ...], dict[int, Fills]]:
    """The exact model's cells, and for each pattern cell (by index) its templates and
    patterns; every other cell is one node."""
    local = _local(analysis)
    cells: list[tuple[int, ...]] = []
    patterns: dict[int, Fills] = {}
    for group in analysis.groups:
        for members in group.classes:
            first = members[0]
            templates = _templates(analysis, first)
            fills = None
            if len(members) > 1 and not local & set(templates):
                free, room = analysis.capacity[first], analysis.room[first]
                fills = node_patterns(analysis, first, templates, free, room, limit)
            if fills is None:
                cells += [(n,) for n in members]
            else:
                patterns[len(cells)] = (templates, fills)
                cells.append(tuple(members))
    return tuple(cells), patterns


def bounding_cells(
    analysis: Analysis, limit: int = PATTERN_LIMIT
) -> tuple[tuple[tuple[int, ...], ...], dict[int, Fills]]:
    """A relaxation that still sees bin packing: one cell per group whose patterns are those
    of a node with the group's largest free capacity and room in every resource (every node's
    fill is one of them, so the model admits every real placement); a group with too many
    patterns, or rules reading single nodes, stays a summed cell of the relaxation."""
    local = _local(analysis)
    cells = tuple(group.nodes for group in analysis.groups)
    patterns: dict[int, Fills] = {}
    for c, nodes in enumerate(cells):
        templates = _templates(analysis, nodes[0])
        if local & set(templates):
            continue
        free = tuple(
            max(values) for values in zip(*(analysis.capacity[n] for n in nodes), strict=True)
        )
        room = max(analysis.room[n] for n in nodes)
        fills = node_patterns(analysis, nodes[0], templates, free, room, limit)
        if fills is not None:
            patterns[c] = (templates, fills)
    return cells, patterns
