"""Minimal conflicting Facts, phrased in the user's terms and pointing at manifest fields.

``explanation`` finds a minimal conflicting set of Facts (``Z3Model.preferred_core``) and phrases
it, one line per statement, e.g.::

    Deployment default/api wants 76 replicas (spec.replicas).
    Deployment default/api: its required anti-affinity on kubernetes.io/hostname allows one
    replica per node (spec.template.spec.affinity.podAntiAffinity).
    Deployment default/api can run on at most 75 nodes: general (50) and highmem (25); gpu (15)
    and infra (10) carry taints it does not tolerate (spec.template.spec.tolerations).

Nodes are named by pool: the first of the usual node-pool labels a node has (``pool``,
``cloud.google.com/gke-nodepool``, ``eks.amazonaws.com/nodegroup``, ...), else its name without
a trailing number.

>>> pool_of({"cloud.google.com/gke-nodepool": "default-pool"}, "gke-a-1"), pool_of({}, "gpu-12")
('default-pool', 'gpu')
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from kubeproof.model.scheduler.matching import taint_tolerated
from kubeproof.solvers.placement.model import (
    AFFINITY,
    ANTI,
    CAPACITY,
    ELIGIBLE,
    PORTS,
    REPLICAS,
    SPREAD,
    Fact,
)
from kubeproof.solvers.placement.problem import Problem
from kubeproof.solvers.placement.z3backend import Z3Model

__all__ = ["explanation", "gated_lines", "phrase", "pool_of", "pools_text", "why_nodes"]

POOL_LABELS = (
    "pool",
    "nodepool",
    "node-pool",
    "agentpool",
    "kubernetes.azure.com/agentpool",
    "cloud.google.com/gke-nodepool",
    "eks.amazonaws.com/nodegroup",
    "karpenter.sh/nodepool",
    "node.kubernetes.io/instance-type",
)
HOSTNAME = "kubernetes.io/hostname"
_ORDER = (REPLICAS, ELIGIBLE, ANTI, SPREAD, AFFINITY, PORTS, CAPACITY)


def pool_of(labels: Mapping[str, str], name: str) -> str:
    """The pool a node belongs to, for explanations (see the module docstring)."""
    for key in POOL_LABELS:
        if labels.get(key):
            return labels[key]
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    if roles and roles[0]:
        return roles[0]
    return re.sub(r"[-_.]?\d+$", "", name) or name


def _join(items: Sequence[str], word: str = "and") -> str:
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {word} {items[-1]}"


def pools_text(problem: Problem, nodes: Iterable[int]) -> str:
    """``gpu (15) and infra (5 of 10)``: the nodes by pool."""
    pools = problem.pools
    total = Counter(pools)
    chosen = Counter(pools[n] for n in nodes)
    parts = [
        f"{pool} ({count})" if count == total[pool] else f"{pool} ({count} of {total[pool]})"
        for pool, count in sorted(chosen.items(), key=lambda item: (-item[1], item[0]))
    ]
    return _join(parts) if parts else "no nodes"


def _nodes(problem: Problem, groups: Iterable[int]) -> list[int]:
    analysis = problem.analysis
    return [n for g in sorted(set(groups)) for n in analysis.groups[g].nodes]


def _amount(resource: str, value: int) -> str:
    """An amount as a person reads it: cores, or bytes in Gi/Mi (rounded down to a tenth)."""
    if resource == "cpu":
        return f"{value / 1000:g}"
    if resource in ("memory", "ephemeral-storage") or resource.startswith("hugepages-"):
        for unit, size in (("Gi", 2**30), ("Mi", 2**20)):
            if value >= size:
                return f"{int(value * 10 / size) / 10:g}{unit}"
    return str(value)


def why_nodes(problem: Problem, t: int, plugin: str, nodes: list[int]) -> str:
    """Why a filter plugin keeps the template off these nodes, and the field to look at."""
    template = problem.templates[t]
    spec = template.workload.pod_spec_path
    where = pools_text(problem, nodes)
    infos = problem.snapshot.nodes
    if plugin == "TaintToleration":
        tolerations = template.pod.spec.tolerations
        by_taints: dict[tuple[str, ...], list[int]] = {}
        for n in nodes:
            blocking = tuple(
                f"{x.key}={x.value}:{x.effect}" if x.value else f"{x.key}:{x.effect}"
                for x in infos[n].node.spec.taints
                if x.effect in ("NoSchedule", "NoExecute") and not taint_tolerated(x, tolerations)
            )
            by_taints.setdefault(blocking, []).append(n)
        parts = [
            f"{pools_text(problem, members)} carry {'taint' if len(taints) == 1 else 'taints'} "
            f"{_join(list(taints))}"
            for taints, members in sorted(by_taints.items())
        ]
        some = "it" if len(parts) == 1 and len(by_taints) == 1 else "any of them"
        return f"{'; '.join(parts)}, and it does not tolerate {some} ({spec}.tolerations)"
    if plugin == "NodeAffinity":
        pod = template.pod
        if pod.spec.node_selector and not (pod.spec.affinity and pod.spec.affinity.node_affinity):
            wanted = ",".join(f"{k}={v}" for k, v in pod.spec.node_selector.items())
            return f"{where} do not match its nodeSelector {wanted} ({spec}.nodeSelector)"
        return (
            f"{where} do not match its nodeSelector or required node affinity "
            f"({spec}.nodeSelector, {spec}.affinity.nodeAffinity)"
        )
    if plugin == "NodeUnschedulable":
        return f"{where} are cordoned or drained (spec.unschedulable of the Node)"
    if plugin == "NodeName":
        named = template.pod.spec.node_name
        return f"{where} are not the node it names ({spec}.nodeName: {named})"
    if plugin == "NodePorts":
        return f"{where} already run pods using its host ports ({spec}.containers[*].ports)"
    exclusion = problem.analysis.exclusions[t][nodes[0]]
    detail = exclusion.detail if exclusion is not None else ""
    if plugin == "PodTopologySpread":
        field = f"{spec}.topologySpreadConstraints"
        return f"{where} lack the label {detail} its topology spread needs ({field})"
    if plugin == "InterPodAffinity" and detail:
        field = f"{spec}.affinity.podAffinity"
        return f"{where} lack the label {detail} its pod affinity needs ({field})"
    if plugin == "InterPodAffinity":
        return (
            f"{where} run pods its required anti-affinity excludes, or whose anti-affinity "
            f"excludes it ({spec}.affinity.podAntiAffinity)"
        )
    reason = exclusion.reason if exclusion is not None else plugin
    return f"{where}: {plugin} rejects it ({reason})"


def _eligibility(problem: Problem, t: int) -> str:
    """Where the template may run, and why not on every other node: the nodes its static
    filters allow, and all the others by the filter that refuses them (not only those of the
    core's Facts, which may leave out nodes it could not use anyway)."""
    analysis = problem.analysis
    allowed = analysis.eligible(t)
    refused: dict[tuple[str, str], list[int]] = {}
    for n, exclusion in enumerate(analysis.exclusions[t]):
        if exclusion is not None:
            refused.setdefault((exclusion.plugin, exclusion.detail), []).append(n)
    noun = "node" if len(allowed) == 1 else "nodes"
    head = f"{problem.templates[t].workload} can run on at most {len(allowed)} {noun}"
    head += f": {pools_text(problem, allowed)}" if allowed else ""
    reasons = "; ".join(
        why_nodes(problem, t, plugin, nodes) for (plugin, _), nodes in refused.items()
    )
    return f"{head}; {reasons}."


def _replicas(problem: Problem, t: int) -> str:
    template = problem.templates[t]
    workload = template.workload
    count = workload.replicas
    if template.evicted_from:
        nodes = _join(list(dict.fromkeys(template.evicted_from)))
        if workload.kind == "Pod" and count == 1:
            return f"{workload} must move off {nodes}."
        pods = "a pod" if count == 1 else f"{count} pods"
        return f"{workload} has {pods} to move off {nodes}."
    if workload.kind == "Pod":
        return f"{workload} is waiting for a node." if count == 1 else f"{workload}: {count} pods."
    noun = "replica" if count == 1 else "replicas"
    return f"{workload} wants {count} {noun} (spec.replicas)."


def gated_lines(problem: Problem) -> tuple[str, ...]:
    """One line per workload left out for its scheduling gates (``Problem.gated``)."""
    lines = []
    for template in problem.gated:
        workload = template.workload
        gates = ", ".join(template.pod.spec.scheduling_gates)
        field = f"{workload.pod_spec_path}.schedulingGates: {gates}"
        if workload.kind == "Pod":
            what, them = f"{workload} has", "it"
        else:
            count = workload.replicas
            noun = "replica has" if count == 1 else "replicas have"
            what, them = f"{workload}'s {count} {noun}", "it" if count == 1 else "them"
        lines.append(
            f"Left out: {what} scheduling gates ({field}); the scheduler does not consider "
            f"{them} until they are removed."
        )
    return tuple(lines)


def _anti(problem: Problem, owner: int, key: str) -> str:
    template = problem.templates[owner]
    rules = [a for a in problem.analysis.rules.antis if a.owner == owner and a.key == key]
    per = "node" if key == HOSTNAME else f"{key} domain"
    effects = []
    for a in rules:
        if a.first == a.second:
            name = "" if a.first == owner else f" of {problem.templates[a.first].workload}"
            effects.append(f"allows one replica{name} per {per}")
        else:
            other = a.second if a.first == owner else a.first
            effects.append(f"keeps it off any {per} running {problem.templates[other].workload}")
    field = f"{template.workload.pod_spec_path}.affinity.podAntiAffinity"
    return f"{template.workload}: its required anti-affinity on {key} {_join(effects)} ({field})."


def _spread(problem: Problem, index: int) -> str:
    rule = problem.analysis.rules.spreads[index]
    workload = problem.templates[rule.template].workload
    field = f"{workload.pod_spec_path}.topologySpreadConstraints"
    field += f"[{rule.index}]" if rule.index >= 0 else " (a default constraint of the profile)"
    domains = len(rule.domains)
    listed = _join(list(rule.domains)) if domains <= 6 else f"{domains} {rule.key} values"
    text = (
        f"{workload}: its topology spread (maxSkew {rule.max_skew} over {rule.key}, "
        f"DoNotSchedule, selecting {rule.selector_text}) counts {domains} "
        f"{'domain' if domains == 1 else 'domains'}: {listed}"
    )
    reached = {rule.host_domain[n] for n in problem.analysis.eligible(rule.template)}
    unreached = [v for d, v in enumerate(rule.domains) if d not in reached]
    if unreached:
        where = _join(unreached, "or") if len(unreached) <= 6 else f"{len(unreached)} of them"
        text += f"; it can run on no node of {where}"
    if rule.min_domains > 1:
        text += f"; minDomains {rule.min_domains}"
    running = [f"{v} {n}" for v, n in zip(rule.domains, rule.existing, strict=True) if n]
    if running and len(running) <= 6:
        text += f"; matching pods already running: {', '.join(running)}"
    return f"{text} ({field})."


def _affinity(problem: Problem, t: int) -> str:
    rule = next(r for r in problem.analysis.rules.affinities if r.template == t)
    workload = problem.templates[t].workload
    targets = [str(problem.templates[u].workload) for u in rule.targets]
    whom = f"a pod of {_join(targets)} or a running match" if targets else "a running matching pod"
    keys = _join(sorted(set(rule.keys)))
    text = f"{workload}: its required pod affinity needs {whom} in the same {keys} domain"
    if rule.seed:
        text += "; no matching pod runs yet, so its first replica may start one group"
    return f"{text} ({workload.pod_spec_path}.affinity.podAffinity)."


def _ports(problem: Problem, first: int, second: int) -> str:
    one = problem.templates[first].workload
    field = f"{one.pod_spec_path}.containers[*].ports"
    if first == second:
        return f"{one} uses a host port: at most one replica per node ({field})."
    two = problem.templates[second].workload
    return f"{one} and {two} use the same host port: never on one node ({field})."


def _wasted(analysis, t: int, n: int) -> bool:
    """Whether the replicas of ``t`` that fit on ``n`` leave a fraction of one unused."""
    shares = [
        free / need
        for need, free in zip(analysis.requests[t], analysis.capacity[n], strict=True)
        if need > 0
    ]
    return (
        bool(shares) and min(shares) > analysis.fit(t, n) and analysis.fit(t, n) < analysis.room[n]
    )


def _capacity(problem: Problem, groups: list[int], templates: set[int]) -> str:
    analysis = problem.analysis
    wanted = [
        r
        for r, _ in enumerate(analysis.resources)
        if any(analysis.requests[t][r] for t in templates)
    ] or list(range(len(analysis.resources)))
    pools = problem.pools
    by_pool: dict[str, list[int]] = {}
    for n in _nodes(problem, groups):
        by_pool.setdefault(pools[n], []).append(n)
    parts = []
    for pool, nodes in sorted(by_pool.items()):
        amounts = []
        for r in wanted:
            name = analysis.resources[r]
            values = sorted(analysis.capacity[n][r] for n in nodes)
            low, high = _amount(name, values[0]), _amount(name, values[-1])
            amounts.append(f"{low} {name}" if low == high else f"{low}-{high} {name}")
        rooms = sorted(analysis.room[n] for n in nodes)
        if rooms[0] < 20:
            amounts.append(
                f"{rooms[0]} pods" if rooms[0] == rooms[-1] else f"{rooms[0]}-{rooms[-1]} pods"
            )
        each = "1 node" if len(nodes) == 1 else f"{len(nodes)} nodes, each"
        rooms_for = []  # where whole replicas leave capacity unused: how many fit
        for t in sorted(templates):
            allowed = [n for n in nodes if analysis.exclusions[t][n] is None]
            fits = sorted(analysis.fit(t, n) for n in allowed)
            if fits and any(_wasted(analysis, t, n) for n in allowed):
                most = f"{fits[0]}" if fits[0] == fits[-1] else f"{fits[0]}-{fits[-1]}"
                rooms_for.append(f"{most} of {problem.templates[t].workload.key}")
        room = f" (room for {_join(rooms_for)})" if rooms_for else ""
        parts.append(f"{pool} ({each}) {', '.join(amounts)}{room}")
    return f"Free (allocatable minus running pods' requests): {'; '.join(parts)}."


# What an explanation should rather name, first: a rule of the workload (its spread, its
# anti-affinity) says more than the pools' free capacity.
_PREFERRED = (SPREAD, ANTI, AFFINITY, PORTS, REPLICAS, ELIGIBLE, CAPACITY)


def explanation(
    problem: Problem, solver: Z3Model, core: Sequence[Fact], deadline: float
) -> tuple[str, ...]:
    """The phrased preferred minimal conflict (``_PREFERRED``) among the Facts of the
    templates in the unsat core and of the node groups, so the core z3 happened to find does
    not decide which reason is given when there are several; the core itself, with a line
    saying it may not be minimal, when time runs out."""
    involved = {f.template for f in core}
    pool = {f for f in solver.facts if f.template in involved or f.template < 0}
    minimal, proved = solver.preferred_core(sorted(pool, key=_rank), deadline)
    if not proved:
        note = "(The time limit ran out before this set was shrunk to a minimal one.)"
        return (*phrase(problem, core), note)
    return phrase(problem, minimal)


def _rank(fact: Fact) -> tuple:
    return (_PREFERRED.index(fact.kind), fact.template, fact.group, str(fact.detail))


def phrase(problem: Problem, facts: Iterable[Fact]) -> tuple[str, ...]:
    """One line per statement of a set of Facts, templates in problem order."""
    facts = sorted(
        set(facts), key=lambda f: (_ORDER.index(f.kind), f.template, f.group, str(f.detail))
    )
    lines = []
    eligibility: set[int] = set()
    capacity = [f.group for f in facts if f.kind == CAPACITY]
    for fact in facts:
        if fact.kind == REPLICAS:
            lines.append(_replicas(problem, fact.template))
        elif fact.kind == ELIGIBLE:
            eligibility.add(fact.template)
        elif fact.kind == ANTI:
            lines.append(_anti(problem, fact.template, fact.detail))
        elif fact.kind == SPREAD:
            lines.append(_spread(problem, fact.detail))
        elif fact.kind == AFFINITY:
            lines.append(_affinity(problem, fact.template))
        elif fact.kind == PORTS:
            lines.append(_ports(problem, fact.template, fact.detail))
    lines += [_eligibility(problem, t) for t in sorted(eligibility)]
    if not problem.snapshot.nodes:
        lines.append("The input has no nodes.")
    if capacity:
        involved = {f.template for f in facts if f.template >= 0}
        lines.append(_capacity(problem, capacity, involved))
    return tuple(lines)
