"""What-ifs on a solved problem: the problem after a drain or cordon, and a local repair of a
verified placement that moves only the pods the drain displaces.

``drained(problem, names, cordon_only)`` is what ``kubectl drain`` (or ``cordon``) leaves: the
nodes unschedulable, with the taint the node lifecycle controller adds, and unless cordoned
only their evictable pods pending again, one template per group of identical pods (appended
after the problem's own templates).

``repair`` keeps every replica of a verified placement where it is, except those on the drained
nodes, and finds the displaced ones (and the evicted pods) a node in the same domains of every
rule (so no topology count changes), with room, allowed by the static filters and the
per-node rules. It answers the common what-if in milliseconds; where it cannot (a rule that
reads single nodes, evicted pods with rules of their own or that other rules select, a node
too full) it returns None and the caller solves the drained problem afresh. Its result is
verified like any other (``check.verify`` with ``since``).

As ``kubectl drain --ignore-daemonsets --force``: DaemonSet pods, mirror pods and finished pods
stay; every other pod, a bare one too, is evicted.

>>> from kubeproof.model.objects import FrozenMap, Node, NodeStatus, ObjectMeta, Pod, PodSpec
>>> from kubeproof.model.quantity import parse_quantity as q
>>> from kubeproof.solvers.placement.problem import problem_from_objects
>>> room = NodeStatus(allocatable=FrozenMap(pods=q("9")))
>>> nodes = [Node(ObjectMeta(name=n), status=room) for n in ("a", "b")]
>>> running = Pod(ObjectMeta(name="r", namespace="default"), PodSpec(node_name="a"))
>>> after = drained(problem_from_objects([*nodes, running]), ["a"])
>>> after.snapshot.nodes[0].node.spec.unschedulable, [str(t.workload) for t in after.templates]
(True, ['Pod default/r'])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from kubeproof.model.objects import FrozenMap, Node, ObjectMeta, Pod, Taint
from kubeproof.model.scheduler.framework import SKIP, NodeInfo, Snapshot
from kubeproof.model.scheduler.resources import pod_requests
from kubeproof.solvers.placement.analysis import checked_resources
from kubeproof.solvers.placement.problem import Problem, Template, Workload

__all__ = ["Displacement", "drained", "repair"]

UNSCHEDULABLE_TAINT = Taint("node.kubernetes.io/unschedulable", "NoSchedule")
STATIC_SKIPPED = ("NodeResourcesFit", "PodTopologySpread")


def _evictable(pod: Pod) -> bool:
    """What ``kubectl drain`` moves: not DaemonSet pods, not mirror pods, not finished pods."""
    owner = pod.metadata.controller_ref()
    mirror = "kubernetes.io/config.mirror" in pod.metadata.annotations
    done = pod.status.phase in ("Succeeded", "Failed")
    return not (owner is not None and owner.kind == "DaemonSet") and not mirror and not done


def _evicted_templates(pods: Iterable[Pod]) -> list[Template]:
    """Evicted pods grouped by what the scheduler reads (namespace, labels, spec, owner)."""
    groups: dict[tuple, list[Pod]] = {}
    origins: dict[tuple, list[str]] = {}
    for pod in pods:
        free = replace(pod, spec=replace(pod.spec, node_name=""))
        meta = pod.metadata
        key = (meta.namespace, meta.labels, meta.owner_references, free.spec)
        groups.setdefault(key, []).append(free)
        origins.setdefault(key, []).append(pod.spec.node_name)
    templates = []
    for key, members in groups.items():
        first = members[0]
        owner = first.metadata.controller_ref()
        kind, name = (owner.kind, owner.name) if owner else ("Pod", first.metadata.name)
        workload = Workload(kind, first.metadata.namespace, name, len(members))
        names = tuple(p.metadata.name for p in members)
        templates.append(Template(workload, first, names=names, evicted_from=tuple(origins[key])))
    return templates


def drained(problem: Problem, nodes: Iterable[str], cordon_only: bool = False) -> Problem:
    """The problem after ``kubectl drain`` of the nodes (``cordon_only``: ``kubectl cordon``);
    see the module docstring. Nodes it does not touch keep their NodeInfo objects."""
    names = set(nodes)
    for name in names:
        problem.node_index(name)
    infos, evicted = [], []
    for info in problem.snapshot.nodes:
        if info.name not in names:
            infos.append(info)
            continue
        node = info.node
        taints = node.spec.taints
        if UNSCHEDULABLE_TAINT not in taints:
            taints = (*taints, UNSCHEDULABLE_TAINT)
        node = replace(node, spec=replace(node.spec, unschedulable=True, taints=taints))
        kept = info.pods if cordon_only else tuple(p for p in info.pods if not _evictable(p))
        evicted += [p for p in info.pods if p not in kept]
        infos.append(NodeInfo(node, kept))
    snapshot = replace(problem.snapshot, nodes=tuple(infos))
    templates = problem.templates + tuple(_evicted_templates(evicted))
    return replace(problem, snapshot=snapshot, templates=templates)


@dataclass(frozen=True)
class Displacement:
    """A drain applied to a verified placement: the problem before, its placement and the
    final snapshot ``check.verify`` returned for it, and the drained nodes' indices; what
    ``verify`` needs to check only what moved."""

    problem: Problem
    counts: Mapping[tuple[int, int], int]
    final: Snapshot
    nodes: frozenset[int]


def _probe(problem: Problem, pods: list[Pod], keys: set[str]) -> Snapshot:
    infos = []
    for i, pod in enumerate(pods):
        name = f"probe-{i}"
        node = Node(ObjectMeta(name=name, labels=FrozenMap((k, name) for k in keys)))
        infos.append(NodeInfo(node, (replace(pod, spec=replace(pod.spec, node_name=name)),)))
    return Snapshot(tuple(infos), problem.snapshot.namespaces)


def _quiet(problem: Problem, new: list[Template]) -> bool:
    """Whether the evicted templates take part in no rule: no terms or DoNotSchedule spread
    of their own, no host ports, matched by no template's (anti-)affinity term, counted by no
    spread rule."""
    for template in new:
        spec = template.pod.spec
        affinity = spec.affinity
        groups = (affinity.pod_affinity, affinity.pod_anti_affinity) if affinity else ()
        if any(g is not None and g.required for g in groups):
            return False
        if any(c.when_unsatisfiable == "DoNotSchedule" for c in spec.topology_spread_constraints):
            return False
        if any(p.host_port for c in spec.containers + spec.init_containers for p in c.ports):
            return False
    spread = next((p for p in problem.profile.filters if p.name == "PodTopologySpread"), None)
    if spread is not None and any(
        c.when_unsatisfiable == "DoNotSchedule" for c in spread.default_constraints
    ):
        return False
    rules = problem.analysis.rules
    for s in rules.spreads:
        if any(s.constraint.count((t.pod,), s.namespace) for t in new):
            return False
    plugin = next((p for p in problem.profile.filters if p.name == "InterPodAffinity"), None)
    with_terms = [t for t in problem.templates if t.pod.spec.affinity is not None]
    if plugin is None or not with_terms:
        return True
    keys = {
        term.topology_key
        for t in with_terms
        for g in (t.pod.spec.affinity.pod_affinity, t.pod.spec.affinity.pod_anti_affinity)
        if g is not None
        for term in g.required
    }
    probe = _probe(problem, [t.pod for t in new], keys)
    for template in with_terms:
        pre = plugin.pre_filter(template.pod, probe)
        if pre.status.code == SKIP:
            continue
        state = pre.state
        if any(state.affinity_counts.values()) or any(state.anti_affinity_counts.values()):
            return False
    return True


class _Static:
    """The static filters of the drained problem for the evicted templates, per node,
    evaluated on demand and shared by node signature."""

    def __init__(self, problem: Problem):
        self.problem = problem
        self.plugins = [p for p in problem.profile.filters if p.name not in STATIC_SKIPPED]
        self.pre: dict[tuple[int, str], object] = {}
        self.seen: dict[tuple, bool] = {}

    def allows(self, t: int, n: int) -> bool:
        """Whether the static filters allow template ``t`` on node ``n``."""
        problem = self.problem
        pod, info = problem.templates[t].pod, problem.snapshot.nodes[n]
        for plugin in self.plugins:
            result = self.pre.get((t, plugin.name))
            if result is None:
                result = self.pre[(t, plugin.name)] = plugin.pre_filter(pod, problem.snapshot)
            if result.status.code == SKIP:
                continue
            if not result.status.is_success:
                return False
            if result.node_names is not None and info.name not in result.node_names:
                return False
            sign = getattr(plugin, "node_signature_key", None)
            key = None if sign is None else sign(result.state, pod)
            memo = None if key is None else (t, plugin.name, plugin.node_signature(key, info))
            verdict = self.seen.get(memo) if memo is not None else None
            if verdict is None:
                verdict = plugin.filter(result.state, pod, info).is_success
                if memo is not None:
                    self.seen[memo] = verdict
            if not verdict:
                return False
        return True


def repair(
    base: Problem, counts: Mapping[tuple[int, int], int], after: Problem, nodes: frozenset[int]
) -> dict[tuple[int, int], int] | None:
    """Counts for ``after`` (``drained(base, ...)`` of ``nodes``) that keep ``counts`` (a
    verified placement of ``base``) off the drained nodes and move only what was on them; None
    where the local repair does not apply or finds no room (see the module docstring)."""
    analysis = base.analysis
    rules = analysis.rules
    first_new = len(base.templates)
    new = list(after.templates[first_new:])
    if not _quiet(base, new):
        return None
    if any(s.unique for s in rules.spreads) or any(any(r.unique) for r in rules.affinities):
        return None  # a rule reading single nodes: moving a replica changes its counts
    honor = [s for s in rules.spreads if s.constraint.node_taints_policy == "Honor"]
    if honor and any(s.node_domain[n] >= 0 for s in honor for n in nodes):
        return None  # the cordon's taint takes the node out of the spread's domains
    vectors = [pod_requests(t.pod) for t in new]
    names = sorted({n for vector in vectors for n, amount in vector.items() if amount > 0})
    if not set(checked_resources(base.profile, names)) <= set(analysis.resources):
        return None
    requests = list(analysis.requests)
    requests += [tuple(vector.get(r, 0) for r in analysis.resources) for vector in vectors]
    kept: dict[tuple[int, int], int] = {}
    moving: dict[tuple[int, int], int] = {}  # (template, origin group) -> replicas
    for (t, n), k in counts.items():
        if n in nodes:
            moving[(t, analysis.group_of[n])] = moving.get((t, analysis.group_of[n]), 0) + k
        elif k:
            kept[(t, n)] = k
    for offset, template in enumerate(new):
        moving[(first_new + offset, -1)] = template.replicas  # in no rule: anywhere
    placer = _Placer(base, after, kept, requests, nodes)
    tops = [
        max((c[r] for c in analysis.capacity), default=1) or 1
        for r in range(len(analysis.resources))
    ]

    def share(t: int) -> float:
        return max((need / top for need, top in zip(requests[t], tops, strict=True)), default=0.0)

    for (t, origin), k in sorted(moving.items(), key=lambda item: -share(item[0][0])):
        if not placer.place(t, origin, k):
            return None
    return placer.counts


class _Placer:
    """The kept placement, and the room left on each node, as moved replicas are added."""

    def __init__(self, base, after, kept, requests, drained):
        analysis = base.analysis
        self.base, self.after, self.analysis = base, after, analysis
        self.requests, self.drained = requests, drained
        self.counts = dict(kept)
        self.static = _Static(after)
        self.free = {n: list(c) for n, c in enumerate(analysis.capacity)}
        self.room = list(analysis.room)
        self.on: dict[int, dict[int, int]] = {}
        for (t, n), k in kept.items():
            self._take(t, n, k)

    def _take(self, t: int, n: int, k: int) -> None:
        free = self.free[n]
        for r, need in enumerate(self.requests[t]):
            free[r] -= need * k
        self.room[n] -= k
        here = self.on.setdefault(n, {})
        here[t] = here.get(t, 0) + k

    def _fits(self, t: int, n: int) -> int:
        most = self.room[n]
        for need, free in zip(self.requests[t], self.free[n], strict=True):
            if need > 0:
                most = min(most, free // need)
        here = self.on.get(n, {})
        single, apart = self.analysis.rules.per_node(self.analysis.labels[n])
        if t in single:
            most = min(most, 1 - here.get(t, 0))
        if any(here.get(u) for u in apart.get(t, ())):
            return 0
        return most

    def _allowed(self, t: int, n: int) -> bool:
        if t < len(self.base.templates):
            return self.analysis.exclusions[t][n] is None
        return self.static.allows(t, n)

    def _same_domains(self, t: int, n: int, x: int) -> bool:
        """Whether node ``n`` is, for every rule about ``t``, in the same domain as ``x``."""
        rules = self.analysis.rules
        for spread in rules.spreads:
            if t == spread.template or t in spread.counted:
                here = (spread.node_domain[n], spread.host_domain[n], spread.host_extra[n])
                there = (spread.node_domain[x], spread.host_domain[x], spread.host_extra[x])
                if here != there:
                    return False
        labels, keys = self.analysis.labels, set()
        for anti in rules.antis:
            if not anti.unique and t in (anti.first, anti.second):
                keys.add(anti.key)
        for affinity in rules.affinities:
            if t == affinity.template or t in affinity.targets:
                keys.update(affinity.keys)
        return all(labels[n].get(k) == labels[x].get(k) for k in keys)

    def place(self, t: int, origin: int, k: int) -> bool:
        """Place ``k`` replicas of ``t`` on nodes in the same domains as the origin group's
        for every rule about ``t`` (anywhere for ``origin`` -1), first fit."""
        analysis = self.analysis
        x = analysis.groups[origin].nodes[0] if origin >= 0 else -1
        for group in analysis.groups:
            if x >= 0 and not self._same_domains(t, group.nodes[0], x):
                continue
            for n in group.nodes:
                if n in self.drained or not self._allowed(t, n):
                    continue
                take = min(k, self._fits(t, n))
                if take > 0:
                    self._take(t, n, take)
                    self.counts[(t, n)] = self.counts.get((t, n), 0) + take
                    k -= take
                    if not k:
                        return True
        return False
