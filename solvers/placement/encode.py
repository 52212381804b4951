"""Placements as a ``Model``: how many replicas of each template go to each cell.

A *cell* is a set of nodes of one group. With one node per cell, or a class of identical
nodes as one cell of per-node patterns (``patterns``), the model is exact: a solution is an
assignment up to the naming of replicas. With one cell per group it is the class-level
relaxation: capacities are summed over the group, tightened by cuts valid on every node (how
many replicas of a template fit a node alone; a node's capacity divided by one template's
request and rounded down, Chvatal-Gomory; the room left beside a template allowed one replica
per node), the per-node rules are averaged, and the topology rules over shared keys (zones)
stay exact because a group lies inside one domain of every shared key. The relaxation can call
an unpackable instance feasible, never a packable one infeasible: its UNSAT is a proof, its
SAT only a start.

Every constraint belongs to the Facts it relies on (``model.Fact``); with ``explain`` the
static eligibility becomes Facts too (a variable for every pair, forced to 0 by its Fact), so
an unsat core can name the taint or selector that keeps a template off a pool.

>>> from kubeproof.model.objects import FrozenMap, Node, NodeStatus, ObjectMeta, Pod
>>> from kubeproof.model.quantity import parse_quantity as q
>>> from kubeproof.solvers.placement.problem import problem_from_objects
>>> nodes = [Node(ObjectMeta(name=f"n{i}"), status=NodeStatus(
...     allocatable=FrozenMap(pods=q("1")))) for i in range(2)]
>>> problem = problem_from_objects([*nodes, Pod(ObjectMeta(name="p"))])
>>> encoding = encode(problem.analysis, (1,), group_cells(problem.analysis))
>>> len(encoding.x), len(encoding.model.facts())
(1, 2)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from kubeproof.solvers.placement.analysis import Analysis
from kubeproof.solvers.placement.encode_rules import RuleEncodings
from kubeproof.solvers.placement.model import (
    ANTI,
    ELIGIBLE,
    PORTS,
    REPLICAS,
    Fact,
    Model,
)

__all__ = ["Encoding", "encode", "group_cells"]


@dataclass(frozen=True)
class Encoding:
    """The model, its cells, and where to read the answer: ``x[(template, cell)]`` (absent
    where a template cannot go), each spread rule's minimum and each affinity seed; for a
    pattern cell, ``w[(cell, i)]`` nodes take its ``patterns[cell]`` fill ``i``."""

    model: Model
    cells: tuple[tuple[int, ...], ...]
    x: dict[tuple[int, int], int]
    minimum: dict[int, int]
    seeds: dict[tuple[int, int], int]
    w: dict[tuple[int, int], int]
    patterns: Mapping[int, tuple]

    def node_counts(self, values: Sequence[int]) -> dict[tuple[int, int], int]:
        """Replicas per (template, node) from a solution of an exact model: a node cell's
        count, or a pattern cell's nodes taking their patterns in order."""
        counts: dict[tuple[int, int], int] = {}
        for (t, c), var in self.x.items():
            if c not in self.patterns and values[var]:
                counts[(t, self.cells[c][0])] = values[var]
        for c, (templates, fills) in self.patterns.items():
            nodes = iter(self.cells[c])
            for i, fill in enumerate(fills):
                for _ in range(values[self.w[(c, i)]]):
                    node = next(nodes)
                    counts.update({(t, node): k for t, k in zip(templates, fill, strict=True) if k})
        return counts


def group_cells(analysis: Analysis) -> tuple[tuple[int, ...], ...]:
    """One cell per node group: the relaxation."""
    return tuple(g.nodes for g in analysis.groups)


class _Builder(RuleEncodings):
    """The model under construction: variables and capacity here, the rules in the mixin."""

    def __init__(
        self,
        analysis: Analysis,
        replicas: Sequence[int],
        cells,
        explain: bool,
        patterns,
        restricted: bool,
    ):
        self.a, self.replicas, self.cells, self.explain = analysis, replicas, cells, explain
        self.patterns, self.restricted = patterns, restricted
        self.w: dict[tuple[int, int], int] = {}
        self.fits: dict[tuple, int] = {}
        self.m = Model()
        self.group = [analysis.group_of[cell[0]] for cell in cells]
        self.x: dict[tuple[int, int], int] = {}
        self.minimum: dict[int, int] = {}
        self.seeds: dict[tuple[int, int], int] = {}
        self.maxfit: dict[tuple[int, int], int] = {}
        self.by_value: dict[str, dict[str, list[int]]] = {}

    def fit(self, t: int, n: int) -> int:
        """``Analysis.fit``, once per template and free capacity (a pool's nodes share it)."""
        key = (t, self.a.capacity[n], self.a.room[n])
        found = self.fits.get(key)
        if found is None:
            found = self.fits[key] = self.a.fit(t, n)
        return found

    # --- variables, replicas, eligibility, capacity ---------------------------------------

    def variables(self, at_least: int) -> None:
        """The counts ``x[(template, cell)]``, the replicas, and (explaining) eligibility."""
        a, m = self.a, self.m
        for t, wanted in enumerate(self.replicas):
            row = a.exclusions[t]
            terms = []
            for c, cell in enumerate(self.cells):
                exclusion = row[cell[0]]
                if exclusion is not None and not self.explain:
                    continue
                total = self.room_for(t, cell, None if t == at_least else wanted)
                upper = total if t == at_least else min(total, wanted)
                if self.explain:
                    upper = max(upper, wanted)
                if upper <= 0:
                    continue
                var = self.x[(t, c)] = m.integer(0, upper)
                terms.append((1, var))
                if exclusion is not None:
                    fact = Fact(ELIGIBLE, t, self.group[c], exclusion.plugin)
                    m.linear(((1, var),), None, 0, facts=(fact,))
                elif self.explain and len(cell) > 1:
                    m.linear(((1, var),), None, total, facts=(self.capacity_fact(c),))
            lower, upper = (wanted, None) if t == at_least else (wanted, wanted)
            m.linear(terms, lower, upper, facts=(Fact(REPLICAS, t),))

    def room_for(self, t: int, cell: Sequence[int], enough: int | None) -> int:
        """Replicas of ``t`` the cell's nodes take, each alone; counting stops at ``enough``
        (more is never asked: a template's replicas bound its variables)."""
        total = 0
        for n in cell:
            total += self.fit(t, n)
            if enough is not None and total >= enough:
                break
        return total

    def max_fit(self, t: int, c: int) -> int:
        """The most replicas of ``t`` one node of cell ``c`` takes alone."""
        found = self.maxfit.get((t, c))
        if found is None:
            found = self.maxfit[(t, c)] = max(self.fit(t, n) for n in self.cells[c])
        return found

    def capacity(self) -> None:
        """Each cell's capacity: summed resources and pods with the cuts, or its patterns."""
        a, m = self.a, self.m
        templates = range(len(self.replicas))
        for c, cell in enumerate(self.cells):
            here = [(t, self.x[(t, c)]) for t in templates if (t, c) in self.x]
            if c in self.patterns:
                self.pattern_cell(c)
                continue
            if not here:
                continue
            fact = (self.capacity_fact(c),)
            for r in range(len(a.resources)):
                terms = [(a.requests[t][r], var) for t, var in here]
                if any(coefficient for coefficient, _ in terms):
                    free = sum(a.capacity[n][r] for n in cell)
                    m.linear(terms, None, free, facts=fact)
            m.linear([(1, var) for _, var in here], None, sum(a.room[n] for n in cell), facts=fact)
            if len(cell) > 1:
                self.rounding_cuts(cell, here, fact)

    def pattern_cell(self, c: int) -> None:
        """How many nodes of the class take each pattern, and the replicas that makes."""
        m = self.m
        templates, fills = self.patterns[c]
        size = len(self.cells[c])
        involved = set(templates)
        rules = self.a.rules
        labels = self.a.labels[self.cells[c][0]]
        facts = [self.capacity_fact(c)]
        facts += [
            Fact(PORTS, p.first, detail=p.second)
            for p in rules.ports
            if {p.first, p.second} & involved
        ]
        facts += [
            Fact(ANTI, x.owner, detail=x.key)
            for x in rules.antis
            if x.unique and x.key in labels and {x.first, x.second} & involved
        ]
        facts = tuple(dict.fromkeys(facts))
        counts = [m.integer(0, size) for _ in fills]
        for index, var in enumerate(counts):
            self.w[(c, index)] = var
        m.linear([(1, var) for var in counts], size, size, facts=facts)
        for i, t in enumerate(templates):
            terms = [(-fill[i], w) for fill, w in zip(fills, counts, strict=True) if fill[i]]
            var = self.x.get((t, c))  # none: no replica of it may go here
            m.linear([(1, var), *terms] if var is not None else terms, 0, 0, facts=facts)

    def single_cuts(self) -> None:
        """Where a template takes at most one replica per node (hostname anti-affinity, a host
        port), a node holding it has less room for another template ``t``: with ``k0`` and
        ``k1`` the replicas of ``t`` a node takes without and with it, ``x_t + d * x_u <=
        sum(k0)`` over the group, ``d`` the least ``k0 - k1`` of its nodes."""
        m, rules = self.m, self.a.rules
        reasons = [
            (p.first, Fact(PORTS, p.first, detail=p.first), None)
            for p in rules.ports
            if p.first == p.second
        ]
        reasons += [
            (x.first, Fact(ANTI, x.owner, detail=x.key), x.key)
            for x in rules.antis
            if x.unique and x.first == x.second
        ]
        templates = range(len(self.replicas))
        for c, cell in enumerate(self.cells):
            if len(cell) == 1 or c in self.patterns:
                continue
            labels = self.a.labels[cell[0]]  # a group's nodes carry the same unique keys
            single = {u: fact for u, fact, key in reasons if key is None or key in labels}
            for u, why in single.items():
                one = self.x.get((u, c))
                if one is None:
                    continue
                for t in templates:
                    other = self.x.get((t, c))
                    if other is None or t == u or self.replicas[t] < 2:
                        continue  # a lone replica gains nothing from a cut over the group
                    alone = [self.fit(t, n) for n in cell]
                    beside = [self._fit_beside(t, u, n) for n in cell]
                    least = min(k0 - k1 for k0, k1 in zip(alone, beside, strict=True))
                    if least > 0:
                        facts = (self.capacity_fact(c), why)
                        m.linear(((1, other), (least, one)), None, sum(alone), facts=facts)

    def _fit_beside(self, t: int, u: int, n: int) -> int:
        """Replicas of ``t`` node ``n`` takes next to one of ``u``."""
        a = self.a
        most = a.room[n] - 1
        for need, own, free in zip(a.requests[t], a.requests[u], a.capacity[n], strict=True):
            if need > 0:
                most = min(most, (free - own) // need)
        return max(most, 0)

    def symmetry_cuts(self) -> None:
        """Nodes of one class (``Analysis``: same group, same usable capacity and room) that
        are cells of their own are interchangeable in every Fact's constraints, so ordering
        them by one template's replicas keeps every subset of Facts as satisfiable as it was
        (an unsat core stays one): a search then never tries two orders of the same nodes."""
        single = [
            c for c, cell in enumerate(self.cells) if len(cell) == 1 and c not in self.patterns
        ]
        if len(single) < 2:
            return
        class_of = {
            n: (g, i)
            for g, group in enumerate(self.a.groups)
            for i, members in enumerate(group.classes)
            for n in members
        }
        by_class: dict[tuple[int, int], list[int]] = {}
        for c in single:
            by_class.setdefault(class_of[self.cells[c][0]], []).append(c)
        for cells in by_class.values():
            if len(cells) < 2:
                continue
            ordered = next(
                (t for t in range(len(self.replicas)) if all((t, c) in self.x for c in cells)),
                None,
            )
            if ordered is None:
                continue
            for one, two in pairwise(cells):
                self.m.linear(((1, self.x[(ordered, one)]), (-1, self.x[(ordered, two)])), 0, None)

    def rounding_cuts(self, cell, here, fact) -> None:
        """Per node, ``sum_u req_u * z_u <= free`` divided by a template's request and rounded
        down stays valid (a Chvatal-Gomory cut); summed over the group it is what the summed
        capacity misses: a 1.5-cpu pod on an 8-cpu node wastes half a cpu."""
        a, m = self.a, self.m
        for r in range(len(a.resources)):
            divisors = sorted({a.requests[t][r] for t, _ in here if a.requests[t][r] > 0})
            for divisor in divisors:
                terms = [(a.requests[u][r] // divisor, var) for u, var in here]
                bound = sum(a.capacity[n][r] // divisor for n in cell)
                m.linear(terms, None, bound, facts=fact)


def encode(
    analysis: Analysis,
    replicas: Sequence[int],
    cells: Sequence[Sequence[int]],
    *,
    explain: bool = False,
    at_least: int = -1,
    patterns: Mapping[int, tuple] | None = None,
    restricted: bool = True,
) -> Encoding:
    """The placement of ``replicas[t]`` pods of each template over the cells (see the module
    docstring); ``at_least`` names a template that may take more than its replicas (capacity);
    ``patterns`` makes some cells pattern cells (``patterns.exact_cells``); ``restricted``
    reads cycles of required pod affinity as ``rules.Affinity`` says (False: every target
    counts, the final-state reading, which may admit placements no scheduler reaches).
    """
    patterns = patterns or {}
    cells = tuple(tuple(c) for c in cells)
    builder = _Builder(analysis, replicas, cells, explain, patterns, restricted)
    builder.variables(at_least)
    builder.capacity()
    builder.single_cuts()
    rules = analysis.rules
    for p in rules.ports:
        builder.node_exclusive(p.first, p.second, Fact(PORTS, p.first, detail=p.second))
    for a in rules.antis:
        fact = Fact(ANTI, a.owner, detail=a.key)
        if a.unique:
            builder.node_exclusive(a.first, a.second, fact, a.key)
        else:
            builder.domain_exclusive(a.first, a.second, a.key, fact)
    for index in range(len(rules.spreads)):
        builder.spread(index)
    for index in range(len(rules.affinities)):
        builder.affinity(index)
    if restricted:
        builder.one_seed_per_cycle()
    builder.symmetry_cuts()
    return Encoding(
        builder.m, cells, builder.x, builder.minimum, builder.seeds, builder.w, patterns
    )
