"""The topology checks of ``check.verify``: PodTopologySpread and InterPodAffinity on the final
snapshot, by the plugins' own PreFilter counts (see ``check``), and the error they raise.

>>> from kubeproof.model.objects import Pod, PodSpec
>>> has_terms(Pod()), term_keys(Pod())
(False, set())
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kubeproof.model.objects import FrozenMap, Node, ObjectMeta, Pod
from kubeproof.model.scheduler.framework import SKIP, NodeInfo, Snapshot
from kubeproof.model.scheduler.matching import label_selector_matches
from kubeproof.solvers.placement.problem import Problem

__all__ = [
    "VerificationError",
    "anti_keys",
    "bound",
    "failure",
    "has_pod_affinity",
    "has_terms",
    "inter_pod",
    "spread",
    "term_keys",
]

SPREAD, POD_AFFINITY = "PodTopologySpread", "InterPodAffinity"


class VerificationError(AssertionError):
    """The solver produced an assignment that breaks a rule: a bug, never an answer."""


def bound(pod: Pod, node: str) -> Pod:
    """The pod with ``spec.nodeName`` set."""
    return replace(pod, spec=replace(pod.spec, node_name=node))


def failure(problem: Problem, t: int, n: int, why: str) -> VerificationError:
    """The internal error for a replica of template ``t`` on node ``n``."""
    workload = problem.templates[t].workload
    node = problem.snapshot.nodes[n].name
    return VerificationError(f"internal error: a replica of {workload} on {node}: {why}")


def spread(problem: Problem, final: Snapshot, t: int, nodes: list[int]) -> None:
    """PodTopologySpread for the template's replicas on ``nodes``, from the final counts with
    each replica's own pod taken out."""
    plugin = next((p for p in problem.profile.filters if p.name == SPREAD), None)
    pod = problem.templates[t].pod
    if plugin is None:
        return
    pre = plugin.pre_filter(pod, final)
    if pre.status.code == SKIP:
        return
    state = pre.state
    namespace = pod.metadata.namespace
    keys = {c.topology_key for c in state.constraints}
    for c, found in zip(state.constraints, state.domains, strict=True):
        counts = sorted(n for exists, n in found.values() if exists)
        self_match = 1 if label_selector_matches(c.selector, pod.metadata.labels) else 0
        counted = c.count((pod,), namespace)
        for n in nodes:
            info = final.nodes[n]
            labels = info.node.metadata.labels
            if not keys <= set(labels):
                raise failure(problem, t, n, f"PodTopologySpread: no label {c.topology_key}")
            exists, count = found.get(labels[c.topology_key], (False, 0))
            mine = counted if exists and bool(c.included(pod, info)) else 0
            if not counts:
                continue  # upstream: no domain, the minimum is MaxInt32
            if len(counts) < c.min_domains:
                low = 0
            else:  # the least count with this replica taken out of its domain
                others = (
                    counts[1] if exists and counts[0] == count and len(counts) > 1 else counts[0]
                )
                low = min(others, count - mine) if exists else counts[0]
            if count - mine + self_match - low > c.max_skew:
                raise failure(
                    problem, t, n, f"PodTopologySpread: skew over {c.max_skew} on {c.topology_key}"
                )


def _probe(problem: Problem, t: int, plugin: Any) -> Any:
    """InterPodAffinity's PreFilter for a replica against one node holding one replica: its
    terms matched against itself, per key."""
    pod = problem.templates[t].pod
    keys = {
        term.topology_key
        for group in (pod.spec.affinity.pod_affinity, pod.spec.affinity.pod_anti_affinity)
        if group is not None
        for term in group.required
    }
    node = Node(ObjectMeta(name="probe", labels=FrozenMap((k, "probe") for k in keys)))
    snapshot = Snapshot((NodeInfo(node, (bound(pod, "probe"),)),), problem.snapshot.namespaces)
    return plugin.pre_filter(pod, snapshot).state


def term_keys(pod: Pod) -> set[str]:
    """The topology keys of the pod's required (anti-)affinity terms."""
    affinity = pod.spec.affinity
    groups = (affinity.pod_affinity, affinity.pod_anti_affinity) if affinity else ()
    return {term.topology_key for g in groups if g is not None for term in g.required}


def anti_keys(snapshot: Snapshot) -> set[str]:
    """The topology keys of every required anti-affinity term of the snapshot's pods."""
    return {
        term.topology_key
        for info in snapshot.nodes
        for p in info.pods
        if p.spec.affinity is not None and p.spec.affinity.pod_anti_affinity is not None
        for term in p.spec.affinity.pod_anti_affinity.required
    }


def has_terms(pod: Pod, anti_only: bool = False) -> bool:
    """Whether the pod has required pod (anti-)affinity terms (``anti_only``: anti-affinity)."""
    affinity = pod.spec.affinity
    if affinity is None:
        return False
    groups = (
        (affinity.pod_anti_affinity,)
        if anti_only
        else (affinity.pod_affinity, affinity.pod_anti_affinity)
    )
    return any(g is not None and g.required for g in groups)


def _near(snapshot: Snapshot, hosts: list[int], keys: set[str]) -> Snapshot:
    """The snapshot cut down to the nodes sharing a domain of one of ``keys`` with a host:
    the only nodes whose pods the inter-pod counts of the hosts' domains read."""
    infos = snapshot.nodes
    values = {k: {infos[h].node.metadata.labels.get(k) for h in hosts} - {None} for k in keys}
    near = tuple(
        info
        for info in infos
        if any(info.node.metadata.labels.get(k) in v for k, v in values.items())
    )
    return replace(snapshot, nodes=near)


def inter_pod(
    problem: Problem,
    final: Snapshot,
    t: int,
    nodes: list[int],
    own: dict,
    keys: set[str],
    mates: tuple[int, ...] = (),
) -> bool:
    """InterPodAffinity for the template's replicas on ``nodes``, the final snapshot cut down
    to the nodes near them (``_near``: the counts are read in their domains only; ``keys``
    are the snapshot's anti-affinity keys, ``anti_keys``); a pod without terms of its own is
    checked against the pods with anti-affinity terms only (upstream walks only those too:
    HavePodsWithRequiredAntiAffinityList). ``own`` are the replica counts per (template,
    node); ``mates`` the templates whose pods are no targets for it (``rules.Affinity``).
    Whether its replicas started their group (no target where the first of them went)."""
    plugin = next((p for p in problem.profile.filters if p.name == POD_AFFINITY), None)
    pod = problem.templates[t].pod
    if plugin is None or not nodes:
        return False
    own_terms = has_terms(pod)
    near = _near(final, nodes, keys | (term_keys(pod) if own_terms else set()))
    if not own_terms:
        near = replace(
            near,
            nodes=tuple(
                NodeInfo(i.node, tuple(p for p in i.pods if has_terms(p, anti_only=True)))
                for i in near.nodes
            ),
        )
    pre = plugin.pre_filter(pod, near)
    if pre.status.code == SKIP:
        return False
    state = pre.state
    probe = _probe(problem, t, plugin) if pod.spec.affinity is not None else None
    own_keys = {term.topology_key for term in state.anti_affinity_terms}
    existing_keys = {
        key for (key, _), count in state.existing_anti_affinity_counts.items() if count
    }
    for n in nodes:
        labels = final.nodes[n].node.metadata.labels
        for key in own_keys & set(labels):
            own_count = probe.anti_affinity_counts.get((key, "probe"), 0)
            if state.anti_affinity_counts.get((key, labels[key]), 0) - own_count > 0:
                raise failure(problem, t, n, f"its anti-affinity on {key} finds another pod")
        for key in existing_keys & set(labels):
            count = state.existing_anti_affinity_counts.get((key, labels[key]), 0)
            own_count = probe.existing_anti_affinity_counts.get((key, "probe"), 0) if probe else 0
            if count - own_count > 0:
                raise failure(problem, t, n, f"another pod's anti-affinity on {key} matches it")
    if not state.affinity_terms:
        return False
    if mates:  # the counts again, without the mates' pods: they are no targets here
        others = {id(problem.templates[u].pod) for u in mates}
        near = replace(
            near,
            nodes=tuple(
                NodeInfo(i.node, tuple(p for p in i.pods if id(p) not in others))
                for i in near.nodes
            ),
        )
        state = plugin.pre_filter(pod, near).state
    return _affinity(problem, final, t, nodes, state, probe, own, plugin)


def _affinity(problem, final, t, nodes, state, probe, own, plugin) -> bool:
    """Each replica's domain holds a target of another template or a running one, or the
    template starts its group (see the module docstring); whether it started one."""
    keys = [term.topology_key for term in state.affinity_terms]
    matches_itself = any(probe.affinity_counts.get((k, "probe"), 0) > 0 for k in keys)
    original = plugin.pre_filter(problem.templates[t].pod, problem.snapshot).state
    running = any(n > 0 for n in original.affinity_counts.values())
    mine: dict[tuple[str, str], int] = {}
    for n in nodes:
        labels = final.nodes[n].node.metadata.labels
        for key in keys:
            if key not in labels:
                raise failure(problem, t, n, f"pod affinity: no label {key}")
            mine[(key, labels[key])] = mine.get((key, labels[key]), 0) + own[(t, n)]
    unanchored = set()
    for key, value in mine:
        others = state.affinity_counts.get((key, value), 0)
        if matches_itself:
            others -= mine[(key, value)] * keys.count(key)
        if others <= 0:
            unanchored.add((key, value))
    if not unanchored:
        return False
    if running or not matches_itself:
        key, value = next(iter(unanchored))
        raise failure(problem, t, nodes[0], f"pod affinity: no target in {key}={value}")
    for n in nodes:
        labels = final.nodes[n].node.metadata.labels
        if all(labels.get(k) == v for k, v in unanchored):
            return True
    raise failure(problem, t, nodes[0], "pod affinity: replicas without a target in two domains")


def has_pod_affinity(pod: Pod) -> bool:
    """Whether the pod has required pod affinity terms."""
    affinity = pod.spec.affinity
    return (
        affinity is not None
        and affinity.pod_affinity is not None
        and bool(affinity.pod_affinity.required)
    )
