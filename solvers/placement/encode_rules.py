"""The rules' part of the placement model (``encode``): node- and domain-exclusive pairs
(host ports, anti-affinity), DoNotSchedule spread, required pod affinity.

Written as a mixin of ``encode``'s builder, over its state: ``m`` (the Model), ``cells``,
``x[(template, cell)]``, ``a`` (the Analysis), ``replicas``, ``patterns``, ``restricted``, and
the ``minimum`` and ``seeds`` it fills in. A cell of one node is encoded exactly; a cell of a
group by sound averages (see ``encode``).

>>> from kubeproof.model.objects import (FrozenMap, LabelSelector, Node, NodeStatus, ObjectMeta,
...     Pod, PodSpec, TopologySpreadConstraint)
>>> from kubeproof.model.quantity import parse_quantity as q
>>> from kubeproof.solvers.placement.encode import encode, group_cells
>>> from kubeproof.solvers.placement.problem import problem_from_objects
>>> spread = TopologySpreadConstraint(1, "zone", "DoNotSchedule", LabelSelector(FrozenMap(a="w")))
>>> web = Pod(ObjectMeta(name="w", labels=FrozenMap(a="w")),
...     PodSpec(topology_spread_constraints=(spread,)))
>>> nodes = [Node(ObjectMeta(name=z, labels=FrozenMap(zone=z)),
...     status=NodeStatus(allocatable=FrozenMap(pods=q("9")))) for z in "ab"]
>>> problem = problem_from_objects([*nodes, web])
>>> list(encode(problem.analysis, (1,), group_cells(problem.analysis)).minimum)
[0]
"""

from __future__ import annotations

from typing import Any

from kubeproof.solvers.placement.model import AFFINITY, CAPACITY, SPREAD, Fact, Model

__all__ = ["RuleEncodings"]


class RuleEncodings:
    """The rule encodings, a mixin of ``encode``'s builder (see the module docstring)."""

    a: Any
    m: Model
    cells: tuple[tuple[int, ...], ...]
    x: dict[tuple[int, int], int]
    replicas: Any
    patterns: Any
    restricted: bool
    minimum: dict[int, int]
    seeds: dict[tuple[int, int], int]
    group: list[int]
    by_value: dict[str, dict[str, list[int]]]

    def max_fit(self, t: int, c: int) -> int: ...

    def capacity_fact(self, c: int) -> Fact:
        """The CAPACITY Fact of cell ``c``'s group."""
        return Fact(CAPACITY, group=self.group[c])

    def values(self, key: str) -> dict[str, list[int]]:
        """The cells of each value of a shared key."""
        found = self.by_value.get(key)
        if found is None:
            found = {}
            for c, cell in enumerate(self.cells):
                value = self.a.labels[cell[0]].get(key)
                if value is not None:
                    found.setdefault(value, []).append(c)
            self.by_value[key] = found
        return found

    def node_exclusive(self, first: int, second: int, fact: Fact, key: str | None = None) -> None:
        """No node holds pods of both (``first == second``: at most one per node); with a
        ``key``, only on the nodes carrying it (``Rules.per_node``)."""
        m = self.m
        for c, cell in enumerate(self.cells):
            one, two = self.x.get((first, c)), self.x.get((second, c))
            if one is None or two is None or c in self.patterns:
                continue  # a pattern cell's patterns keep the rule already
            if key is not None and key not in self.a.labels[cell[0]]:
                continue  # a cell's nodes agree on which unique keys they carry (groups)
            if first == second:
                m.linear(((1, one),), None, len(cell), facts=(fact,))
            elif len(cell) == 1:
                z = m.boolean()
                m.linear(((1, one),), None, 0, enforce=-z, facts=(fact,))
                m.linear(((1, two),), None, 0, enforce=z, facts=(fact,))
            else:
                # nodes holding ``first`` and nodes holding ``second`` are at most the group
                cap_one, cap_two = self.max_fit(first, c), self.max_fit(second, c)
                m.linear(
                    ((cap_two, one), (cap_one, two)),
                    None,
                    cap_one * cap_two * len(cell),
                    facts=(fact, self.capacity_fact(c)),
                )

    def domain_exclusive(self, first: int, second: int, key: str, fact: Fact) -> None:
        """No domain of a shared key holds pods of both (or two of ``first == second``)."""
        m = self.m
        for cells in self.values(key).values():
            one = [(1, self.x[(first, c)]) for c in cells if (first, c) in self.x]
            two = [(1, self.x[(second, c)]) for c in cells if (second, c) in self.x]
            if first == second:
                m.linear(one, None, 1, facts=(fact,))
            elif one and two:
                z = m.boolean()
                m.linear(one, None, 0, enforce=-z, facts=(fact,))
                m.linear(two, None, 0, enforce=z, facts=(fact,))

    def spread(self, index: int) -> None:
        """The spread rule ``index``: where the template has replicas, each domain's count
        within ``max_skew`` of the least domain's."""
        rule = self.a.rules.spreads[index]
        if not rule.domains:
            return  # upstream: no domain at all, the global minimum is MaxInt32: always passes
        m, t = self.m, rule.template
        fact = (Fact(SPREAD, t, detail=index),)
        most = max(rule.existing) + sum(self.replicas)
        low = m.integer(0, most) if len(rule.domains) >= rule.min_domains else None
        if low is not None:
            self.minimum[index] = low
        minus_low = [(-1, low)] if low is not None else []
        if rule.unique:
            self.spread_unique(rule, fact, minus_low)
            return
        counts: list[list[tuple[int, int]]] = [[] for _ in rule.domains]
        hosts: dict[tuple[int, int], list[int]] = {}
        for c, cell in enumerate(self.cells):
            n = cell[0]
            if rule.node_domain[n] >= 0:
                counts[rule.node_domain[n]] += [
                    (1, self.x[(u, c)]) for u in rule.counted if (u, c) in self.x
                ]
            if (t, c) in self.x:
                hosts.setdefault((rule.host_domain[n], rule.host_extra[n]), []).append(c)
        if low is not None:
            for d, terms in enumerate(counts):
                m.linear([*terms, *minus_low], -rule.existing[d], None, facts=fact)
        for (d, extra), cells in hosts.items():
            used = m.boolean()
            m.linear([(1, self.x[(t, c)]) for c in cells], None, 0, enforce=-used, facts=fact)
            terms, existing = (counts[d], rule.existing[d]) if d >= 0 else ([], 0)
            bound = rule.max_skew - extra - existing
            m.linear([*terms, *minus_low], None, bound, enforce=used, facts=fact)

    def spread_unique(self, rule, fact: tuple[Fact, ...], minus_low: list) -> None:
        """A spread over single-node domains (hostname): per node, or averaged per group."""
        m, t = self.m, rule.template
        for c, cell in enumerate(self.cells):
            n, size = cell[0], len(cell)
            counted = rule.node_domain[n] >= 0
            existing = rule.existing[rule.node_domain[n]] if counted else 0
            terms = [(1, self.x[(u, c)]) for u in rule.counted if (u, c) in self.x]
            if counted and minus_low:
                # the minimum is at most every node's count, so at most the group's average
                scaled = [(-size, minus_low[0][1])]
                m.linear([*terms, *scaled], -size * existing, None, facts=fact)
            if (t, c) not in self.x:
                continue
            used = m.boolean()
            m.linear(((1, self.x[(t, c)]),), None, 0, enforce=-used, facts=fact)
            bound = rule.max_skew - rule.host_extra[n] - existing
            if size == 1:
                own = terms if counted else []
                m.linear([*own, *minus_low], None, bound, enforce=used, facts=fact)
                continue
            m.linear(minus_low, None, bound, enforce=used, facts=fact)
            if counted and t in rule.counted:
                scaled = [(-size, v) for _, v in minus_low]
                m.linear(
                    [(1, self.x[(t, c)]), *scaled], None, size * bound, enforce=used, facts=fact
                )

    def one_seed_per_cycle(self) -> None:
        """Of templates requiring affinity to each other, one at most starts a group."""
        rules = self.a.rules.affinities
        for rule in rules:
            if not rule.mates or rule.template > min(rule.mates):
                continue  # one constraint per cycle, from its smallest template
            members = {rule.template, *rule.mates}
            seeds = [literal for (t, _), literal in self.seeds.items() if t in members]
            facts = tuple(Fact(AFFINITY, t) for t in sorted(members))
            self.m.at_most_one_of(seeds, facts=facts)

    def affinity(self, index: int) -> None:
        """The affinity rule ``index``: every domain holding replicas has a target, or the seed."""
        rule = self.a.rules.affinities[index]
        m, t = self.m, rule.template
        fact = (Fact(AFFINITY, t),)
        own = [c for c in range(len(self.cells)) if (t, c) in self.x]
        if rule.seed:
            for c in own:
                seed = self.seeds[(t, c)] = m.boolean()
                m.linear(((1, self.x[(t, c)]),), 1, None, enforce=seed, facts=fact)
            m.at_most_one_of([self.seeds[(t, c)] for c in own], facts=fact)
        for j, key in enumerate(rule.keys):
            if rule.unique[j]:
                units = [(self.a.labels[self.cells[c][0]].get(key), [c]) for c in own]
            else:
                units = list(self.values(key).items())
            for value, cells in units:
                if rule.existing[j].get(value, 0) > 0:
                    continue
                mine = [(1, self.x[(t, c)]) for c in cells if (t, c) in self.x]
                if not mine:
                    continue
                targets = [
                    (1, self.x[(u, c)])
                    for u in rule.anchors(self.restricted)
                    for c in cells
                    if (u, c) in self.x
                ]
                seeds = [self.seeds[(t, c)] for c in cells if (t, c) in self.seeds]
                if not targets and not seeds:
                    m.linear(mine, None, 0, facts=fact)
                    continue
                used = m.boolean()
                m.linear(mine, None, 0, enforce=-used, facts=fact)
                literals = [-used, *seeds]
                if targets:
                    found = m.boolean()
                    m.linear(targets, 1, None, enforce=found, facts=fact)
                    literals.append(found)
                m.clause(literals, facts=fact)
