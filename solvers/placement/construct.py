"""From the relaxation's counts per group to counts per node, by first-fit decreasing.

The relaxation (``encode`` over groups) already decides everything that spans groups: how many
replicas of each template each group takes, the spread minima, the affinity seeds. What is left
is packing each group's share onto its nodes, which differ only in free capacity: a bin
packing with a few per-node rules (one replica per node, no two conflicting templates on a node,
hostname spread bounds, pod affinity to a target on the same node). Templates go in decreasing
size, each filling nodes in order. This is a heuristic: when it fails the exact model decides
(``queries``); when it succeeds the result is still verified pod by pod (``verify``).

>>> from kubeproof.model.objects import FrozenMap, Node, NodeStatus, ObjectMeta, Pod
>>> from kubeproof.model.quantity import parse_quantity as q
>>> from kubeproof.solvers.placement.problem import problem_from_objects
>>> from kubeproof.solvers.placement.encode import encode, group_cells
>>> from kubeproof.solvers.placement.z3backend import Z3Model
>>> nodes = [Node(ObjectMeta(name=f"n{i}"), status=NodeStatus(
...     allocatable=FrozenMap(pods=q("1")))) for i in range(2)]
>>> problem = problem_from_objects([*nodes, Pod(ObjectMeta(name="p"))])
>>> encoding = encode(problem.analysis, (1,), group_cells(problem.analysis))
>>> solver = Z3Model(encoding.model)
>>> solver.check(solver.facts, 5)
'sat'
>>> node_counts(problem.analysis, encoding, solver.values(), solver.booleans())
({(0, 0): 1}, {})
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from kubeproof.solvers.placement.analysis import Analysis
from kubeproof.solvers.placement.encode import Encoding

__all__ = ["node_counts"]


class _Group:
    """One group's nodes as the packing fills them."""

    def __init__(self, analysis: Analysis, nodes: Sequence[int]):
        self.a = analysis
        self.nodes = list(nodes)
        self.free = {n: list(analysis.capacity[n]) for n in nodes}
        self.room = {n: analysis.room[n] for n in nodes}
        self.placed: dict[int, dict[int, int]] = {n: {} for n in nodes}

    def fits(self, t: int, n: int) -> int:
        """Replicas of ``t`` that node ``n`` still takes by capacity and pod room."""
        most = self.room[n]
        for need, free in zip(self.a.requests[t], self.free[n], strict=True):
            if need > 0:
                most = min(most, free // need)
        return most

    def place(self, t: int, n: int, count: int) -> None:
        """Put ``count`` replicas of ``t`` on ``n``."""
        free = self.free[n]
        for r, need in enumerate(self.a.requests[t]):
            free[r] -= need * count
        self.room[n] -= count
        self.placed[n][t] = self.placed[n].get(t, 0) + count


class _Packer:
    """The per-node rules of a problem, and the relaxation's values they are read with."""

    def __init__(self, analysis: Analysis, minimum: dict[int, int]):
        rules = analysis.rules
        self.a = analysis
        self.spreads = [
            (s, minimum.get(i, 0)) for i, s in enumerate(rules.spreads) if s.unique and s.domains
        ]
        self.affinities = [r for r in rules.affinities if any(r.unique)]

    def count(self, spread, group: _Group, n: int) -> int:
        """The node's count for a hostname spread rule (running and placed pods)."""
        d = spread.node_domain[n]
        placed = group.placed[n]
        return spread.existing[d] + sum(placed.get(u, 0) for u in spread.counted)

    def room_for(self, t: int, n: int, group: _Group, seed_free: bool) -> int:
        """How many more replicas of ``t`` node ``n`` takes under the per-node rules."""
        most = group.fits(t, n)
        placed = group.placed[n]
        capped, excluded = self.a.rules.per_node(self.a.labels[n])
        if t in capped:
            most = min(most, 1 - placed.get(t, 0))
        if any(placed.get(u) for u in excluded.get(t, ())):
            return 0
        for spread, low in self.spreads:
            # a node holding the rule's template: its count (plus the replica's own match
            # where the node is not counted) stays within max_skew of the minimum
            owner = spread.template == t
            if not owner and not (placed.get(spread.template) and t in spread.counted):
                continue
            top = low + spread.max_skew - spread.host_extra[n]
            if spread.node_domain[n] < 0:
                most = most if top >= 0 else 0
            elif t in spread.counted:
                most = min(most, top - self.count(spread, group, n))
            elif self.count(spread, group, n) > top:
                most = 0
        for rule in self.affinities:
            if rule.template != t:
                continue
            labels = self.a.labels[n]
            covered = all(
                rule.existing[j].get(labels.get(key), 0) > 0
                for j, key in enumerate(rule.keys)
                if rule.unique[j]
            )
            anchors = rule.anchors(restricted=True)
            if not covered and not any(placed.get(u) for u in anchors) and not seed_free:
                return 0
        return max(most, 0)

    def order(
        self, wanted: dict[int, int], free: Sequence[int], even: bool, capped: Collection[int]
    ) -> list[int]:
        """Targets of per-node affinity first, then templates a hostname spread must put on
        every node, then (``even``) templates allowed one replica per node (``capped``), then
        by decreasing dominant share of the group's free capacity."""
        targets = {u for r in self.affinities if wanted.get(r.template) for u in r.anchors(True)}
        spread = {u for s, low in self.spreads if low for u in s.counted}

        def share(t: int) -> float:
            return max(
                (need / top for need, top in zip(self.a.requests[t], free, strict=True) if top),
                default=0.0,
            )

        def key(t: int) -> tuple:
            return (t not in targets, t not in spread, even and t not in capped, -share(t))

        return sorted(wanted, key=key)

    def pack(
        self, nodes: Sequence[int], wanted: dict[int, int], seeds: Collection[int]
    ) -> tuple[_Group, dict[int, int]]:
        """One group packed: first-fit decreasing, and round-robin over the nodes if that
        leaves replicas over; the packing and what it left over per template."""
        best = None
        for even in (False, True):
            group = _Group(self.a, nodes)
            left = self._pack(group, wanted, seeds, even)
            if best is None or sum(left.values()) < sum(best[1].values()):
                best = (group, left)
            if not left:
                break
        assert best is not None
        return best

    def fill(self, group: _Group, t: int, left: int, seed_free: bool, step: int) -> int:
        """Place up to ``left`` replicas of ``t``, ``step`` per node per round; what is left."""
        while left:
            before = left
            for n in group.nodes:
                if not left:
                    break
                take = min(left, step, self.room_for(t, n, group, seed_free))
                if take > 0:
                    group.place(t, n, take)
                    left -= take
                    seed_free = seed_free and self._has_target(t, n, group)
            if left == before or step >= before:
                break
        return left

    def _pack(
        self, group: _Group, wanted: dict[int, int], seeds: Collection[int], even: bool
    ) -> dict[int, int]:
        nodes = group.nodes
        free = [sum(self.a.capacity[n][r] for n in nodes) for r in range(len(self.a.resources))]
        over = {}
        capped = self.a.rules.per_node(self.a.labels[nodes[0]])[0] if nodes else frozenset()
        for t in self.order(wanted, free, even, capped):
            left = wanted[t]
            for spread, low in self.spreads:  # first lift every node to the spread's minimum
                if t not in spread.counted or not low:
                    continue
                for n in nodes:
                    if left and spread.node_domain[n] >= 0:
                        need = low - self.count(spread, group, n)
                        take = min(need, left, self.room_for(t, n, group, False))
                        if take > 0:
                            group.place(t, n, take)
                            left -= take
            left = self.fill(group, t, left, t in seeds, 1 if even else left)
            if left:
                over[t] = left
        return over

    def short_of_minimum(self, group: _Group) -> bool:
        """Whether a node of the group counts fewer pods than a hostname spread's minimum."""
        return any(
            spread.node_domain[n] >= 0 and self.count(spread, group, n) < low
            for spread, low in self.spreads
            for n in group.nodes
        )

    def _has_target(self, t: int, n: int, group: _Group) -> bool:
        """Whether ``t`` on ``n`` found a target there (so no seed was spent)."""
        for rule in self.affinities:
            anchors = rule.anchors(restricted=True)
            if rule.template == t and not any(group.placed[n].get(u) for u in anchors):
                labels = self.a.labels[n]
                return all(
                    rule.existing[j].get(labels.get(key), 0) > 0
                    for j, key in enumerate(rule.keys)
                    if rule.unique[j]
                )
        return True


def node_counts(
    analysis: Analysis, encoding: Encoding, values: Sequence[int], true: Collection[int]
) -> tuple[dict[tuple[int, int], int], dict[tuple[int, int], int]]:
    """Replicas per (template, node) from a solution of the relaxation (``values`` of its
    integers, ``true`` Booleans), and the shortfall: per (template, cell) how many replicas
    the relaxation put in the cell that could not be packed there or moved to a group with the
    same domains (empty: the counts place every replica)."""
    minimum = {rule: values[var] for rule, var in encoding.minimum.items()}
    packer = _Packer(analysis, minimum)
    wanted: list[dict[int, int]] = [{} for _ in encoding.cells]
    for (t, c), var in encoding.x.items():
        if values[var] > 0:
            wanted[c][t] = values[var]
    seeds: list[set[int]] = [set() for _ in encoding.cells]
    for (t, c), literal in encoding.seeds.items():
        if literal in true:
            seeds[c].add(t)
    groups: list[_Group] = []
    over: list[tuple[int, int, int]] = []
    for c, cell in enumerate(encoding.cells):
        group, left = packer.pack(cell, wanted[c], seeds[c])
        groups.append(group)
        over += [(t, c, k) for t, k in left.items()]
    short: dict[tuple[int, int], int] = {}
    domains = [analysis.groups[analysis.group_of[cell[0]]].domains for cell in encoding.cells]
    for t, c, left in over:
        # the same domains of every rule: moving replicas there changes no domain count
        for other, group in enumerate(groups):
            admits = analysis.exclusions[t][encoding.cells[other][0]] is None
            if left and other != c and domains[other] == domains[c] and admits:
                left = packer.fill(group, t, left, False, left)
        if left:
            short[(t, c)] = left
    for c, group in enumerate(groups):
        if packer.short_of_minimum(group):
            short.update({(t, c): 0 for t in wanted[c]})
    counts = {
        (t, n): k for group in groups for n in group.nodes for t, k in group.placed[n].items()
    }
    return counts, short
