"""What every placement query needs, computed once per problem with the concrete plugins.

- **Eligibility**: for each template and node, whether the filters that do not depend on the
  other pending pods let a replica run there (NodeUnschedulable, NodeName, TaintToleration,
  NodeAffinity, NodePorts against the running pods, the label keys PodTopologySpread and pod
  affinity need, and required anti-affinity against the running pods), with the first failing
  plugin's reason. Each plugin runs once per node signature (``framework``), not per node.
- **Capacity**: per node and resource, allocatable minus what the running pods request
  (never below 0), and the pods that still fit; per template, its request vector. Only what
  NodeResourcesFit checks is counted (cpu, memory, ephemeral-storage, scalar resources not
  ignored by the profile).
- **Rules** between templates: ``rules``.
- **Groups**: nodes that no constraint tells apart (eligibility, the topology domains and
  existing counts the rules read); within a group nodes differ only in free capacity.
  **Classes** split groups further by pod room and the free capacity replicas can use,
  exactly: each resource's free amount rounded down to a multiple of the greatest common
  divisor of the templates' requests for it, since any replicas' sum is such a multiple (free
  10.07 and 10.02 cpu take the same fills of 2, 3 and 5 cpu pods), and capped at what the
  pod room's worth of the largest request needs (more is never used).

>>> from kubeproof.model.objects import FrozenMap, Node, NodeStatus, ObjectMeta, Pod
>>> from kubeproof.model.quantity import parse_quantity as q
>>> from kubeproof.solvers.placement.problem import problem_from_objects
>>> nodes = [Node(ObjectMeta(name=f"n{i}"), status=NodeStatus(
...     allocatable=FrozenMap(cpu=q("2"), pods=q("110")))) for i in range(3)]
>>> analysis = problem_from_objects([*nodes, Pod(ObjectMeta(name="p"))]).analysis
>>> len(analysis.groups), analysis.room
(1, (110, 110, 110))
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from kubeproof.model.scheduler.framework import (
    SKIP,
    UNSCHEDULABLE_AND_UNRESOLVABLE,
    NodeInfo,
    Snapshot,
    Status,
)
from kubeproof.model.scheduler.plugins.pod_topology_spread import ERR_MISSING_LABEL
from kubeproof.model.scheduler.resources import (
    CPU,
    EPHEMERAL_STORAGE,
    MEMORY,
    PODS,
    is_extended_resource_name,
    is_scalar_resource_name,
    node_allocatable,
    pod_requests,
    requested_of,
)
from kubeproof.solvers.placement.rules import Rules, rules_of

if TYPE_CHECKING:
    from kubeproof.solvers.placement.problem import Problem

__all__ = ["Analysis", "Exclusion", "Group", "analyse", "checked_resources"]

# The filters whose verdict depends on where the other pending pods go: the encoding decides
# them. Their parts that do not (label keys, running pods) are eligibility.
FIT, SPREAD, POD_AFFINITY = "NodeResourcesFit", "PodTopologySpread", "InterPodAffinity"
UNLIMITED = 10**9  # the pod room of a node when the profile has no NodeResourcesFit
MISSING_AFFINITY_KEY = "node(s) didn't have the label key of a required pod affinity term"


@dataclass(frozen=True, slots=True)
class Exclusion:
    """Why a template may not use a node whatever else is placed: a filter's verdict."""

    plugin: str
    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Group:
    """Nodes no constraint tells apart; ``classes`` splits them by free capacity.
    ``domains`` is what the rules read of its nodes (``Rules.node_keys``): groups with equal
    ``domains`` differ only in which templates they admit."""

    nodes: tuple[int, ...]
    classes: tuple[tuple[int, ...], ...]
    domains: tuple


@dataclass(frozen=True)
class Analysis:
    """Per node, template and group: see the module docstring. Nodes are indexed as in the
    snapshot (``labels`` are theirs), templates as in the problem."""

    labels: tuple[Mapping[str, str], ...]
    resources: tuple[str, ...]
    requests: tuple[tuple[int, ...], ...]
    capacity: tuple[tuple[int, ...], ...]
    room: tuple[int, ...]
    exclusions: tuple[tuple[Exclusion | None, ...], ...]
    rules: Rules
    groups: tuple[Group, ...]
    group_of: tuple[int, ...]

    def eligible(self, template: int) -> list[int]:
        """The nodes the template's static filters allow."""
        return [n for n, e in enumerate(self.exclusions[template]) if e is None]

    def fit(self, template: int, node: int) -> int:
        """How many replicas of the template fit on the node alone (capacity and pod room)."""
        most = self.room[node]
        for need, free in zip(self.requests[template], self.capacity[node], strict=True):
            if need > 0:
                most = min(most, free // need)
        return most


def checked_resources(profile: Any, names: Sequence[str]) -> list[str]:
    """The resource names NodeResourcesFit checks among ``names``, in upstream's order."""
    plugin = next((p for p in profile.filters if p.name == FIT), None)
    if plugin is None:
        return []

    def ignored(name: str) -> bool:
        # upstream: noderesources/fit.go fitsRequest: ignoredResources, ignoredResourceGroups
        if not is_extended_resource_name(name):
            return False
        groups = plugin.ignored_resource_groups
        return name in plugin.ignored_resources or name.split("/")[0] in groups

    natives = [n for n in (CPU, MEMORY, EPHEMERAL_STORAGE) if n in names]
    scalars = sorted(n for n in names if is_scalar_resource_name(n) and not ignored(n))
    return natives + scalars


def _resources(problem: Problem) -> tuple[tuple[str, ...], list, list, list]:
    """(resources, requests per template, free per node, pod room per node)."""
    vectors = [pod_requests(t.pod) for t in problem.templates]
    wanted = {name for v in vectors for name, amount in v.items() if amount > 0}
    names = tuple(checked_resources(problem.profile, sorted(wanted)))
    requests = [tuple(v.get(name, 0) for name in names) for v in vectors]
    has_fit = any(p.name == FIT for p in problem.profile.filters)
    capacity, room = [], []
    allocatables: dict[Any, Mapping[str, int]] = {}  # nodes of a pool share theirs
    for info in problem.snapshot.nodes:
        listed = info.node.status.allocatable
        allocatable = allocatables.get(listed)
        if allocatable is None:
            allocatable = allocatables[listed] = node_allocatable(info.node)
        requested = requested_of(info)  # memoized on the NodeInfo: a drain's problem reuses it
        capacity.append(tuple(max(allocatable.get(n, 0) - requested.get(n, 0), 0) for n in names))
        # upstream: fit.go: a node that does not report allocatable pods allows none
        free = max(allocatable.get(PODS, 0) - len(info.pods), 0)
        room.append(free if has_fit else UNLIMITED)
    return names, requests, capacity, room


class _Signatures:
    """Each plugin's node signatures for all nodes, once per (plugin, signature key), as class
    ids: nodes with equal signatures share an id; ``first[id]`` is one such node."""

    def __init__(self, infos: Sequence[NodeInfo]):
        self.infos = infos
        self.cache: dict[tuple[str, Any], tuple[list[int], list[int]]] = {}

    def classes(self, plugin: Any, key: Any) -> tuple[list[int], list[int]]:
        found = self.cache.get((plugin.name, key))
        if found is None:
            ids: dict[Any, int] = {}
            column = [
                ids.setdefault(plugin.node_signature(key, info), len(ids)) for info in self.infos
            ]
            first = [0] * len(ids)
            for n in reversed(range(len(column))):
                first[column[n]] = n
            found = self.cache[(plugin.name, key)] = (column, first)
        return found


def _verdicts(
    plugin: Any,
    pre: Any,
    pod: Any,
    infos: Sequence[NodeInfo],
    verdict: list,
    signatures: _Signatures,
    intern: dict,
) -> None:
    """Fill ``verdict`` (None where still eligible) with the plugin's failures."""

    def exclusion(status: Any) -> Exclusion | None:
        if status.is_success:
            return None
        key = (plugin.name, status.reasons[0] if status.reasons else status.code, "")
        return intern.setdefault(key, Exclusion(*key))

    if pre.status.code == SKIP:
        return
    if not pre.status.is_success:
        failed = exclusion(pre.status)
        verdict[:] = [failed if v is None else v for v in verdict]
        return
    sign = getattr(plugin, "node_signature_key", None)
    key = None if sign is None else sign(pre.state, pod)
    if key is None:
        column, first = list(range(len(infos))), list(range(len(infos)))
    else:
        column, first = signatures.classes(plugin, key)
    by_class = [exclusion(plugin.filter(pre.state, pod, infos[n])) for n in first]
    if pre.node_names is not None:
        outside = exclusion(
            Status(
                UNSCHEDULABLE_AND_UNRESOLVABLE,
                (f"node(s) didn't satisfy plugin(s) [{plugin.name}]",),
            )
        )
        names = pre.node_names
        by_node = [
            by_class[c] if i.name in names else outside for c, i in zip(column, infos, strict=True)
        ]
        verdict[:] = [v if v is not None else b for v, b in zip(verdict, by_node, strict=True)]
        return
    verdict[:] = [v if v is not None else by_class[c] for v, c in zip(verdict, column, strict=True)]


def _missing_keys(
    plugin_name: str, reason: str, keys: Sequence[str], infos: Sequence[NodeInfo], verdict: list
) -> None:
    """Exclude the nodes lacking one of ``keys`` (topology keys a rule needs on the node)."""
    made: dict[str, Exclusion] = {}
    for n, info in enumerate(infos):
        if verdict[n] is None:
            labels = info.node.metadata.labels
            missing = next((k for k in keys if k not in labels), None)
            if missing is not None:
                verdict[n] = made.setdefault(missing, Exclusion(plugin_name, reason, missing))


def _required(pod: Any, kind: str) -> bool:
    """Whether the pod has required pod affinity (``kind``: or anti-affinity) terms."""
    affinity = pod.spec.affinity
    group = getattr(affinity, kind) if affinity is not None else None
    return group is not None and bool(group.required)


def _static_key(pod: Any, labelled: bool) -> tuple:
    """What the filters but NodeResourcesFit, and the rules, read of a pod: all but its
    resource requests (and its labels and owners, unless ``labelled``: inter-pod affinity or a
    spread constraint may read them). Pods with equal keys get equal verdicts on every node."""
    spec, meta = pod.spec, pod.metadata
    ports = tuple((c.restart_policy, c.ports) for c in spec.init_containers)
    ports += tuple(c.ports for c in spec.containers)
    return (
        meta.namespace,
        meta.labels if labelled else None,
        meta.owner_references if labelled else None,
        meta.deletion_timestamp,
        spec.node_name,
        spec.node_selector,
        spec.affinity,
        spec.tolerations,
        spec.topology_spread_constraints,
        spec.host_network,
        ports,
    )


def _exclusions(problem: Problem) -> tuple[list[list], list[dict]]:
    """Per template, each node's Exclusion (or None); and per template the PreFilter states of
    the plugins the encoding decides (for the rules)."""
    snapshot: Snapshot = problem.snapshot
    infos = snapshot.nodes
    signatures, intern = _Signatures(infos), {}
    rows, states = [], []
    running_anti = any(_required(p, "pod_anti_affinity") for info in infos for p in info.pods)
    seen: dict[tuple, tuple[list, dict]] = {}
    spread = next((p for p in problem.profile.filters if p.name == SPREAD), None)
    spread_defaults = spread is not None and any(
        c.when_unsatisfiable == "DoNotSchedule" for c in spread.default_constraints
    )
    for template in problem.templates:
        pod = template.pod
        inter_pod = running_anti or any(
            _required(pod, kind) for kind in ("pod_affinity", "pod_anti_affinity")
        )
        labelled = inter_pod or spread_defaults or bool(pod.spec.topology_spread_constraints)
        key = _static_key(pod, labelled)
        if key in seen:  # a drain's evicted pods often differ in their requests only
            rows.append(seen[key][0])
            states.append(seen[key][1])
            continue
        verdict: list = [None] * len(infos)
        state: dict[str, Any] = {}
        for plugin in problem.profile.filters:
            if plugin.name == FIT or (plugin.name == POD_AFFINITY and not inter_pod):
                continue  # InterPodAffinity would skip: no terms, no running anti-affinity
            pre = plugin.pre_filter(pod, snapshot)
            if plugin.name == SPREAD:
                if pre.status.code != SKIP:
                    state[SPREAD] = pre.state
                    keys = [c.topology_key for c in pre.state.constraints]
                    _missing_keys(SPREAD, ERR_MISSING_LABEL, keys, infos, verdict)
                continue
            if plugin.name == POD_AFFINITY and pre.status.is_success:
                state[POD_AFFINITY] = pre.state
                keys = [t.topology_key for t in pre.state.affinity_terms]
                _missing_keys(POD_AFFINITY, MISSING_AFFINITY_KEY, keys, infos, verdict)
                # the anti-affinity parts against running pods: the affinity terms are rules
                pre = replace(pre, state=replace(pre.state, affinity_terms=(), affinity_counts={}))
            _verdicts(plugin, pre, pod, infos, verdict, signatures, intern)
        rows.append(verdict)
        states.append(state)
        seen[key] = (verdict, state)
    return rows, states


def _usable(
    requests: Sequence[tuple[int, ...]], capacity: list, room: list
) -> list[tuple[int, ...]]:
    """Per node, the free amounts replicas can use (see the module docstring): a node's
    fills (replicas per template within its free capacity and pod room) are those of its
    usable amounts."""
    columns = list(zip(*requests, strict=True))
    steps = [math.gcd(*column) or 1 for column in columns]
    largest = [max(column) for column in columns]
    seen: dict[tuple, tuple[int, ...]] = {}
    out = []
    for free, pods in zip(capacity, room, strict=True):
        found = seen.get((free, pods))
        if found is None:
            found = seen[(free, pods)] = tuple(
                min(f - f % step, pods * most)
                for f, step, most in zip(free, steps, largest, strict=True)
            )
        out.append(found)
    return out


def _groups(
    exclusions: list[list], rules: Rules, infos: Sequence[NodeInfo], capacity: list, room: list
) -> tuple[tuple[Group, ...], tuple[int, ...]]:
    """The groups, their classes keyed on ``capacity`` (``_usable``) and room."""
    ids: dict[int, int] = {}
    distinct = list({id(row): row for row in exclusions}.values())  # templates share rows
    columns = [[ids.setdefault(id(e), len(ids)) for e in row] for row in distinct]
    per_node_rules = rules.node_keys(infos)
    by_key: dict[tuple, list[int]] = {}
    for n in range(len(infos)):
        key = (tuple(column[n] for column in columns), per_node_rules[n])
        by_key.setdefault(key, []).append(n)
    groups, group_of = [], [0] * len(infos)
    for index, ((_, domains), nodes) in enumerate(by_key.items()):
        classes: dict[tuple, list[int]] = {}
        for n in nodes:
            group_of[n] = index
            classes.setdefault((capacity[n], room[n]), []).append(n)
        groups.append(Group(tuple(nodes), tuple(tuple(c) for c in classes.values()), domains))
    return tuple(groups), tuple(group_of)


def analyse(problem: Problem) -> Analysis:
    """The analysis of a problem (see the module docstring)."""
    names, requests, capacity, room = _resources(problem)
    exclusions, states = _exclusions(problem)
    rules = rules_of(problem, states)
    usable = _usable(requests, capacity, room)
    groups, group_of = _groups(exclusions, rules, problem.snapshot.nodes, usable, room)
    return Analysis(
        tuple(info.node.metadata.labels for info in problem.snapshot.nodes),
        names,
        tuple(requests),
        tuple(capacity),
        tuple(room),
        tuple(tuple(row) for row in exclusions),
        rules,
        groups,
        group_of,
    )
