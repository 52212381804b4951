"""Check an assignment pod by pod with the concrete plugins, independently of the encoding.

``verify`` raises ``VerificationError`` (an internal error: a bug in the solver, never an
answer) unless, for every placed replica:

- every filter of the profile other than NodeResourcesFit, PodTopologySpread and
  InterPodAffinity passes on its node as the node is now (their PreFilter run on the real
  snapshot, their Filter on the node);
- NodeResourcesFit's sums hold on the final node: for every resource a placed replica
  requests, all pods' requests (``resources.pod_requests``) within allocatable, and the pod
  count; NodePorts passes with every other pod of the final placement on the node (for sums
  and port clashes the order of placing is moot);
- PodTopologySpread passes with the final counts, the replica's own pod taken out: PreFilter
  runs on the final snapshot, so upstream decides what counts;
- InterPodAffinity: no anti-affinity term (its own, or another pod's matching it) finds another
  pod in its domain; each required affinity term finds, in the replica's domain, a target pod
  that is not of its own template (nor of a template requiring affinity to it in turn:
  ``rules.Affinity.mates``), except where the template starts the group: no running pod is a
  target, it matches its own terms, and every replica without a target shares the domains of
  one seed replica (the first placed); of templates requiring affinity to each other, one at
  most starts a group.

``replay`` (its own module) checks the same assignment the slow way, as the scheduler would
build it. The topology checks are in ``check_topology``.

>>> from kubeproof.model.objects import FrozenMap, Node, NodeStatus, ObjectMeta, Pod
>>> from kubeproof.model.quantity import parse_quantity as q
>>> from kubeproof.solvers.placement.problem import problem_from_objects
>>> node = Node(ObjectMeta(name="n1"), status=NodeStatus(allocatable=FrozenMap(pods=q("1"))))
>>> problem = problem_from_objects([node, Pod(ObjectMeta(name="a")), Pod(ObjectMeta(name="b"))])
>>> try:
...     verify(problem, {(0, 0): 1, (1, 0): 1})
... except VerificationError as error:
...     print(error)
internal error: a replica of Pod default/a on n1: Too many pods
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from kubeproof.model.objects import Pod
from kubeproof.model.scheduler.framework import SKIP, NodeInfo, Snapshot
from kubeproof.model.scheduler.resources import PODS, node_allocatable, pod_requests, requested_of
from kubeproof.solvers.placement.analysis import checked_resources
from kubeproof.solvers.placement.check_topology import (
    VerificationError,
    anti_keys,
    failure,
    has_pod_affinity,
    inter_pod,
    spread,
)
from kubeproof.solvers.placement.problem import Problem
from kubeproof.solvers.placement.whatif import Displacement

__all__ = ["VerificationError", "final_snapshot", "verify"]

FIT, SPREAD, POD_AFFINITY, PORTS = (
    "NodeResourcesFit",
    "PodTopologySpread",
    "InterPodAffinity",
    "NodePorts",
)


def final_snapshot(
    problem: Problem,
    counts: Mapping[tuple[int, int], int],
    reuse: Mapping[int, NodeInfo] | None = None,
) -> Snapshot:
    """The snapshot with every placed replica on its node.

    A replica is its template's pod itself, one object repeated: the plugins read a node's pods
    from the NodeInfo, never their ``nodeName``. Nodes that receive nothing keep their NodeInfo
    (and what the plugins memoized on it), as do the nodes in ``reuse`` (known to hold the same
    pods already).
    """
    snapshot = problem.snapshot
    reuse = reuse or {}
    added: dict[int, list[Pod]] = {}
    for (t, n), k in counts.items():
        if k and n not in reuse:
            added.setdefault(n, []).extend([problem.templates[t].pod] * k)
    nodes = list(snapshot.nodes)
    for n, info in reuse.items():
        nodes[n] = info
    for n, pods in added.items():
        nodes[n] = NodeInfo(nodes[n].node, nodes[n].pods + tuple(pods))
    return replace(snapshot, nodes=tuple(nodes))


def _totals(problem: Problem, counts: Mapping[tuple[int, int], int]) -> None:
    placed = [0] * len(problem.templates)
    for (t, n), k in counts.items():
        if k < 0 or not 0 <= n < len(problem.snapshot.nodes):
            raise VerificationError(f"internal error: {k} replicas on node index {n}")
        placed[t] += k
    for t, template in enumerate(problem.templates):
        if placed[t] != template.replicas:
            raise VerificationError(
                f"internal error: {template.workload} has {placed[t]} of "
                f"{template.replicas} replicas placed"
            )


def _static(problem: Problem, pairs: Iterable[tuple[int, int]]) -> None:
    """Every filter but the three the encoding decides, on the node as it is now; a verdict
    is shared by nodes with equal signatures for the plugin (its contract, ``framework``)."""
    snapshot = problem.snapshot
    plugins = [p for p in problem.profile.filters if p.name not in (FIT, SPREAD, POD_AFFINITY)]
    pre: dict[tuple[int, str], Any] = {}
    seen: dict[tuple, Any] = {}
    for t, n in pairs:
        pod, info = problem.templates[t].pod, snapshot.nodes[n]
        for plugin in plugins:
            result = pre.get((t, plugin.name))
            if result is None:
                result = pre[(t, plugin.name)] = plugin.pre_filter(pod, snapshot)
            if result.status.code == SKIP:
                continue
            if not result.status.is_success:
                raise failure(problem, t, n, f"{plugin.name} PreFilter: {result.status.reasons}")
            if result.node_names is not None and info.name not in result.node_names:
                raise failure(problem, t, n, f"{plugin.name}: not among the nodes it allows")
            sign = getattr(plugin, "node_signature_key", None)
            key = None if sign is None else sign(result.state, pod)
            memo = None if key is None else (t, plugin.name, plugin.node_signature(key, info))
            status = seen.get(memo) if memo is not None else None
            if status is None:
                status = plugin.filter(result.state, pod, info)
                if memo is not None:
                    seen[memo] = status
            if not status.is_success:
                raise failure(problem, t, n, f"{plugin.name}: {status.reasons}")


def _fits(problem: Problem, counts: Mapping[tuple[int, int], int]) -> None:
    """NodeResourcesFit's sums on each node: for every resource a placed replica requests,
    the running pods' requests (``requested_of``, memoized on the node) and the placed
    replicas' stay within allocatable; and the pod count."""
    if not any(p.name == FIT for p in problem.profile.filters):
        return
    own = [pod_requests(t.pod) for t in problem.templates]
    by_node: dict[int, list[tuple[int, int]]] = {}
    for (t, n), k in counts.items():
        by_node.setdefault(n, []).append((t, k))
    allocatables: dict = {}  # nodes of a pool share their allocatable
    for n, placed in by_node.items():
        info = problem.snapshot.nodes[n]
        listed = info.node.status.allocatable
        if listed not in allocatables:
            allocatables[listed] = node_allocatable(info.node)
        requested = dict(requested_of(info))
        for t, k in placed:
            for name, amount in own[t].items():
                requested[name] = requested.get(name, 0) + amount * k
        allocatable = allocatables[listed]
        first = placed[0][0]
        if len(info.pods) + sum(k for _, k in placed) > allocatable.get(PODS, 0):
            raise failure(problem, first, n, "Too many pods")
        wanted = {name for t, _ in placed for name, amount in own[t].items() if amount > 0}
        for name in checked_resources(problem.profile, sorted(wanted)):
            if requested.get(name, 0) > allocatable.get(name, 0):
                raise failure(problem, first, n, f"Insufficient {name}")


def _ports(problem: Problem, final: Snapshot, pairs: list) -> None:
    """NodePorts with every other final pod on the node (the replica checked as the last one
    placed: for port clashes the order is moot)."""
    plugin = next((p for p in problem.profile.filters if p.name == PORTS), None)
    if plugin is None:
        return
    pre = {}
    for t, n in pairs:
        pod, info = problem.templates[t].pod, final.nodes[n]
        result = pre.get(t)
        if result is None:
            result = pre[t] = plugin.pre_filter(pod, final)
        if result.status.code == SKIP:
            continue
        others = list(info.pods)
        del others[next(i for i, p in enumerate(others) if p is pod)]
        status = plugin.filter(result.state, pod, NodeInfo(info.node, tuple(others)))
        if not status.is_success:
            raise failure(problem, t, n, f"{plugin.name}: {status.reasons}")


def _moved(counts: Mapping[tuple[int, int], int], since: Displacement) -> tuple[set[int], set[int]]:
    """The nodes whose placed replicas differ from the placement before the drain, and the
    templates that moved: had replicas on the drained nodes, or are new (the evicted pods)."""
    before: dict[int, dict[int, int]] = {}
    after: dict[int, dict[int, int]] = {}
    for (t, n), k in since.counts.items():
        if k:
            before.setdefault(n, {})[t] = k
    for (t, n), k in counts.items():
        after.setdefault(n, {})[t] = k
    nodes = {n for n in before.keys() | after.keys() if before.get(n, {}) != after.get(n, {})}
    first_new = len(since.problem.templates)
    templates = {t for (t, _) in counts if t >= first_new}
    templates |= {t for (t, n), k in since.counts.items() if k and n in since.nodes}
    return nodes, templates


def verify(
    problem: Problem, counts: Mapping[tuple[int, int], int], since: Displacement | None = None
) -> Snapshot:
    """Raise VerificationError unless placing ``counts[(template, node)]`` replicas keeps
    every rule (see the module docstring); the final snapshot it checked.

    ``since``: ``problem`` is ``whatif.drained`` of ``since.problem``, whose placement
    ``since.counts`` this function passed (with ``since.final`` its final snapshot), and
    ``counts`` keeps it but for the nodes it changes. Then what cannot have changed is not
    checked again: the static filters, sums and ports of the nodes whose replicas are as
    before (their node and pods are), and inter-pod rules between replicas that stayed where
    they were (their domains did not change); each pair with a moved replica is checked from
    its side, both ways, and every template's spread and pod affinity is checked anew.
    """
    counts = {key: k for key, k in counts.items() if k}
    _totals(problem, counts)
    pairs = sorted(counts)
    moved: set[int] | None = None
    changed: set[int] = set()
    reuse: dict[int, NodeInfo] = {}
    if since is not None:
        changed, moved = _moved(counts, since)
        pairs = [(t, n) for t, n in pairs if n in changed]
        reuse = {
            n: since.final.nodes[n]
            for (_, n) in counts
            if n not in changed and n not in since.nodes
        }
    _static(problem, pairs)
    _fits(problem, {pair: counts[pair] for pair in pairs})
    final = final_snapshot(problem, counts, reuse)
    _ports(problem, final, pairs)
    by_template: dict[int, list[int]] = {}
    for t, n in sorted(counts):
        by_template.setdefault(t, []).append(n)
    keys = anti_keys(final)
    mates = {}
    if any(has_pod_affinity(template.pod) for template in problem.templates):
        # a drain's evicted templates take part in no affinity rule: the cycles are as before
        rules = (since.problem if since is not None else problem).analysis.rules
        mates = {a.template: a.mates for a in rules.affinities}
    started = set()
    for t, nodes in by_template.items():
        spread(problem, final, t, nodes)
        pod = problem.templates[t].pod
        if moved is not None and not has_pod_affinity(pod):
            if t not in moved:
                continue  # stayed: its pairs with moved replicas are checked from their side
            nodes = [n for n in nodes if n in changed]
        if inter_pod(problem, final, t, nodes, counts, keys, mates.get(t, ())):
            started.add(t)
    for t in started:
        if started & set(mates.get(t, ())):
            raise failure(problem, t, 0, "pod affinity: two templates of a cycle start groups")
    return final
