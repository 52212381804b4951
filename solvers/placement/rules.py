"""The constraints that tie pending templates together, read from the concrete plugins.

- ``Spread``: a template's DoNotSchedule topology spread constraint, with its domains (the
  values of its key on the nodes upstream counts, after nodeAffinityPolicy and nodeTaintsPolicy),
  the running pods each domain already counts, and the templates whose pods it counts.
- ``Anti``: two templates (or one with itself) whose pods may not share a domain of a key,
  because one's required anti-affinity term matches the other.
- ``Affinity``: a template's required pod affinity: the running pods and the other templates
  that are targets, and whether its first replica may start a group (no running target and it
  matches its own terms: upstream's exception for the first pod of a group).
- ``Ports``: two templates (or one with itself) whose host ports conflict on one node.

Which template's term matches which template's pods is asked of the plugins themselves, on a
probe snapshot: one node per template, holding one of its pods, in domains of its own for every
key. A key is *unique* when no two nodes carrying it share a value (``kubernetes.io/hostname``):
its domains are single nodes. A node without a key is in no domain of it: anti-affinity over
the key does not bind there, spread and pod affinity keep their template off it and count no
pod on it.

Semantics are final-state (see the package docstring): an assignment satisfies a Spread when
every domain holding replicas of its template counts at most ``max_skew`` more pods than the
least-counted domain (than 0 with fewer than ``min_domains`` domains), counting every pod the
plugin would, running or placed.

>>> from kubeproof.model.objects import (Affinity, FrozenMap, LabelSelector, Node, ObjectMeta,
...     Pod, PodAffinity, PodAffinityTerm, PodSpec)
>>> from kubeproof.solvers.placement.problem import problem_from_objects
>>> apart = PodAffinityTerm("kubernetes.io/hostname", LabelSelector(FrozenMap(app="api")))
>>> api = Pod(ObjectMeta(name="api", labels=FrozenMap(app="api")),
...     PodSpec(affinity=Affinity(pod_anti_affinity=PodAffinity((apart,)))))
>>> node = Node(ObjectMeta(name="n1", labels=FrozenMap({"kubernetes.io/hostname": "n1"})))
>>> problem_from_objects([node, api]).analysis.rules.antis
(Anti(owner=0, key='kubernetes.io/hostname', unique=True, first=0, second=0),)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from kubeproof.model.objects import FrozenMap, Node, ObjectMeta
from kubeproof.model.scheduler.framework import SKIP, NodeInfo, Snapshot
from kubeproof.model.scheduler.matching import label_selector_matches

if TYPE_CHECKING:
    from kubeproof.solvers.placement.problem import Problem

__all__ = ["Affinity", "Anti", "Ports", "Rules", "Spread", "rules_of"]

SPREAD, POD_AFFINITY, PORTS = "PodTopologySpread", "InterPodAffinity", "NodePorts"


@dataclass(frozen=True, slots=True)
class Spread:
    """A DoNotSchedule constraint of ``template`` (``index`` into its topologySpreadConstraints;
    -1 for a profile default). ``node_domain[n]`` is the domain that counts node ``n``'s pods,
    or -1; ``host_domain[n]`` the domain a replica on ``n`` is checked against (-1: a value no
    counted node has, whose count is 0) and ``host_extra[n]`` 1 where the replica matches the
    selector but ``n`` is not counted (its own pod then adds to the check, not the count).
    ``constraint`` is the plugin's parsed constraint (``constraint.count((pod,), namespace)``
    says whether a pod counts)."""

    template: int
    index: int
    key: str
    max_skew: int
    min_domains: int
    unique: bool
    selector_text: str
    domains: tuple[str, ...]
    existing: tuple[int, ...]
    counted: tuple[int, ...]
    node_domain: tuple[int, ...]
    host_domain: tuple[int, ...]
    host_extra: tuple[int, ...]
    constraint: Any
    namespace: str


@dataclass(frozen=True, slots=True)
class Anti:
    """Pods of ``first`` and ``second`` may not share a domain of ``key`` (``first == second``:
    at most one replica per domain) because of ``owner``'s required anti-affinity on ``key``;
    ``unique``: the domains are single nodes (a node without the key is in none)."""

    owner: int
    key: str
    unique: bool
    first: int
    second: int


@dataclass(frozen=True, slots=True)
class Affinity:
    """``template``'s required pod affinity: per term, its key and the running target pods per
    domain value; the other templates whose pods are targets; whether a first replica may
    start the group where no target runs yet.

    ``mates``: the templates that require affinity to it in turn, directly or through others
    (its strongly connected component in "is a target of", less itself). Their pods are
    targets a scheduler may never get to place first: the *restricted* reading counts no
    mate as a target and lets one template per component start a group, so that every
    placement it admits can be reached one pod at a time."""

    template: int
    keys: tuple[str, ...]
    unique: tuple[bool, ...]
    existing: tuple[Mapping[str, int], ...]
    targets: tuple[int, ...]
    seed: bool
    mates: tuple[int, ...] = ()

    def anchors(self, restricted: bool) -> tuple[int, ...]:
        """The target templates a replica may lean on (the mates not, when restricted)."""
        return tuple(u for u in self.targets if u not in self.mates) if restricted else self.targets


@dataclass(frozen=True, slots=True)
class Ports:
    """Pods of ``first`` and ``second`` want a conflicting host port: never on one node."""

    first: int
    second: int


@dataclass(frozen=True)
class Rules:
    """Every rule of a problem, and the topology keys they read (unique: one node each)."""

    spreads: tuple[Spread, ...] = ()
    antis: tuple[Anti, ...] = ()
    affinities: tuple[Affinity, ...] = ()
    ports: tuple[Ports, ...] = ()
    unique_keys: frozenset[str] = frozenset()
    shared_keys: tuple[str, ...] = ()
    _per_node: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    def per_node(
        self, labels: Mapping[str, str]
    ) -> tuple[frozenset[int], Mapping[int, frozenset[int]]]:
        """On a node with these labels: the templates allowed one replica, and per template
        the templates never beside it. Host ports bind on every node; anti-affinity over a
        unique key only where the node carries the key. Memoized per set of keys carried."""
        present = frozenset(k for k in self.unique_keys if k in labels)
        found = self._per_node.get(present)
        if found is None:
            # upstream: interpodaffinity/filtering.go satisfyPodAntiAffinity and
            # getExistingAntiAffinityCounts skip a node without the term's topology key
            pairs = [(p.first, p.second) for p in self.ports]
            pairs += [(x.first, x.second) for x in self.antis if x.unique and x.key in present]
            apart: dict[int, set[int]] = {}
            for one, two in pairs:
                apart.setdefault(one, set()).add(two)
                apart.setdefault(two, set()).add(one)
            single = frozenset(one for one, two in pairs if one == two)
            others = {t: frozenset(us - {t}) for t, us in apart.items()}
            found = self._per_node[present] = (single, others)
        return found

    def node_keys(self, infos: Sequence[NodeInfo]) -> list[tuple]:
        """Per node, everything the rules read of it (for grouping nodes)."""
        unique = sorted(self.unique_keys)
        out = []
        for n, info in enumerate(infos):
            labels = info.node.metadata.labels
            key: list[Any] = [labels.get(k) for k in self.shared_keys]
            key += [k in labels for k in unique]
            for s in self.spreads:
                count = s.existing[s.node_domain[n]] if s.unique and s.node_domain[n] >= 0 else 0
                key.append((s.node_domain[n] >= 0, s.host_domain[n] >= 0, s.host_extra[n], count))
            for a in self.affinities:
                key += [
                    a.existing[j].get(labels.get(k), 0) > 0
                    for j, k in enumerate(a.keys)
                    if a.unique[j]
                ]
            out.append(tuple(key))
        return out


def _unique_keys(keys: set[str], infos: Sequence[NodeInfo]) -> frozenset[str]:
    """The keys whose values no two nodes carrying them share (nodes without one are in no
    domain of it: every per-node rule over it skips them, ``Rules.per_node``)."""
    unique = set()
    for key in keys:
        values = [i.node.metadata.labels[key] for i in infos if key in i.node.metadata.labels]
        if len(values) == len(set(values)):
            unique.add(key)
    return frozenset(unique)


def _spec_index(pod: Any, constraint: Any) -> int:
    """The index in the pod's topologySpreadConstraints of a parsed DoNotSchedule constraint."""
    for i, c in enumerate(pod.spec.topology_spread_constraints):
        if c.when_unsatisfiable == "DoNotSchedule" and c.topology_key == constraint.topology_key:
            return i
    return -1


def _selector_text(selector: Any) -> str:
    from kubeproof.solvers.placement.selector import selector_text

    return "nothing" if selector is None else (selector_text(selector) or "everything")


def _spreads(problem: Problem, states: list[dict], unique: frozenset[str]) -> list[Spread]:
    infos = problem.snapshot.nodes
    templates = problem.templates
    out = []
    for t, state in enumerate(states):
        filter_state = state.get(SPREAD)
        if filter_state is None:
            continue
        pod = templates[t].pod
        namespace = pod.metadata.namespace
        keys = {c.topology_key for c in filter_state.constraints}
        for c, found in zip(filter_state.constraints, filter_state.domains, strict=True):
            domains = tuple(v for v, (exists, _) in found.items() if exists)
            index = {v: i for i, v in enumerate(domains)}
            existing = tuple(found[v][1] for v in domains)
            counted = tuple(
                u for u, other in enumerate(templates) if c.count((other.pod,), namespace)
            )
            matches = bool(label_selector_matches(c.selector, pod.metadata.labels))
            always = c.always_included(pod)
            node_domain, host_domain, host_extra = [], [], []
            for info in infos:
                labels = info.node.metadata.labels
                has_keys = keys <= set(labels)
                included = has_keys and (always or bool(c.included(pod, info)))
                value = index.get(labels.get(c.topology_key), -1) if has_keys else -1
                node_domain.append(value if included else -1)
                host_domain.append(value)
                counts_itself = included and t in counted
                host_extra.append(int(has_keys and matches and not counts_itself))
            out.append(
                Spread(
                    t,
                    _spec_index(pod, c),
                    c.topology_key,
                    c.max_skew,
                    c.min_domains,
                    c.topology_key in unique,
                    _selector_text(c.selector),
                    domains,
                    existing,
                    counted,
                    tuple(node_domain),
                    tuple(host_domain),
                    tuple(host_extra),
                    c,
                    namespace,
                )
            )
    return out


def _probe(problem: Problem, keys: Sequence[str], chosen: Sequence[int]) -> Snapshot:
    """One node per chosen template, in a domain of its own (``probe-<t>``) for every key,
    holding one of its pods."""
    infos = []
    for t in chosen:
        name = f"probe-{t}"
        node = Node(ObjectMeta(name=name, labels=FrozenMap((k, name) for k in keys)))
        pod = problem.templates[t].pod
        infos.append(NodeInfo(node, (replace(pod, spec=replace(pod.spec, node_name=name)),)))
    return Snapshot(tuple(infos), problem.snapshot.namespaces)


def _terms_of(pod: Any, kinds: Sequence[str]) -> tuple:
    affinity = pod.spec.affinity
    groups = [getattr(affinity, kind) for kind in kinds] if affinity is not None else []
    return tuple(term for g in groups if g is not None for term in g.required)


def _inter_pod(
    problem: Problem, states: list[dict], unique: frozenset[str]
) -> tuple[list[Anti], list[Affinity]]:
    plugin = next((p for p in problem.profile.filters if p.name == POD_AFFINITY), None)
    templates = problem.templates
    own = [_terms_of(x.pod, ("pod_affinity", "pod_anti_affinity")) for x in templates]
    if plugin is None or not any(own):
        return [], []
    keys = sorted({term.topology_key for terms in own for term in terms})
    everyone = _probe(problem, keys, range(len(templates)))
    # a template without terms of its own is matched only by others' anti-affinity terms
    anti = [t for t, x in enumerate(templates) if _terms_of(x.pod, ("pod_anti_affinity",))]
    anti_only = _probe(problem, keys, anti)
    antis: dict[tuple, Anti] = {}
    affinities = []
    for t, template in enumerate(templates):
        pre = plugin.pre_filter(template.pod, everyone if own[t] else anti_only)
        if pre.status.code == SKIP:
            continue
        state = pre.state
        found = [(t, k, v) for (k, v), n in state.anti_affinity_counts.items() if n > 0]
        found += [
            (int(v.split("-")[1]), k, v)  # the other template's term matches t
            for (k, v), n in state.existing_anti_affinity_counts.items()
            if n > 0
        ]
        for owner, k, where in found:
            u = int(where.split("-")[1])
            pair = (min(t, u), max(t, u), k)
            antis.setdefault(pair, Anti(owner, k, k in unique, pair[0], pair[1]))
        real = states[t].get(POD_AFFINITY)
        if real is None or not real.affinity_terms:
            continue
        term_keys = tuple(term.topology_key for term in real.affinity_terms)
        matching = [
            u
            for u in range(len(templates))
            if any(state.affinity_counts.get((k, f"probe-{u}"), 0) > 0 for k in term_keys)
        ]
        existing = tuple(
            FrozenMap((v, n) for (key, v), n in real.affinity_counts.items() if key == k and n > 0)
            for k in term_keys
        )
        no_target = all(n == 0 for n in real.affinity_counts.values())
        affinities.append(
            Affinity(
                t,
                term_keys,
                tuple(k in unique for k in term_keys),
                existing,
                tuple(u for u in matching if u != t),
                no_target and t in matching,
            )
        )
    return list(antis.values()), _with_mates(affinities)


def _with_mates(affinities: list[Affinity]) -> list[Affinity]:
    """The affinity rules with their ``mates``: the templates each reaches through "requires
    affinity to" and that reach it back."""
    edges: dict[int, set[int]] = {}
    for a in affinities:
        edges.setdefault(a.template, set()).update(a.targets)

    def reach(start: int) -> set[int]:
        seen, todo = set(), [start]
        while todo:
            for u in edges.get(todo.pop(), ()):
                if u not in seen:
                    seen.add(u)
                    todo.append(u)
        return seen

    reached = {a.template: reach(a.template) for a in affinities}
    return [
        replace(
            a,
            mates=tuple(
                sorted(
                    u
                    for u in reached[a.template]
                    if u != a.template and a.template in reached.get(u, ())
                )
            ),
        )
        for a in affinities
    ]


def _ports(problem: Problem) -> list[Ports]:
    plugin = next((p for p in problem.profile.filters if p.name == PORTS), None)
    if plugin is None:
        return []
    templates = problem.templates
    wanting = [(t, plugin.pre_filter(x.pod, None)) for t, x in enumerate(templates)]
    wanting = [(t, pre) for t, pre in wanting if pre.status.code != SKIP]
    out = []
    for i, (t, pre) in enumerate(wanting):
        for u, _ in wanting[i:]:
            other = templates[u].pod
            info = NodeInfo(Node(ObjectMeta(name="probe")), (other,))
            if not plugin.filter(pre.state, templates[t].pod, info).is_success:
                out.append(Ports(t, u))
    return out


def rules_of(problem: Problem, states: list[dict]) -> Rules:
    """The rules of a problem, given each template's PreFilter states on the real snapshot
    (``analysis``: PodTopologySpread's and InterPodAffinity's, where they did not skip)."""
    infos = problem.snapshot.nodes
    keys: set[str] = set()
    for state in states:
        if SPREAD in state:
            keys |= {c.topology_key for c in state[SPREAD].constraints}
    for template in problem.templates:
        affinity = template.pod.spec.affinity
        for group in (affinity.pod_affinity, affinity.pod_anti_affinity) if affinity else ():
            keys |= {t.topology_key for t in group.required} if group else set()
    unique = _unique_keys(keys, infos)
    antis, affinities = _inter_pod(problem, states, unique)
    return Rules(
        tuple(_spreads(problem, states, unique)),
        tuple(antis),
        tuple(affinities),
        tuple(_ports(problem)),
        unique,
        tuple(sorted(keys - unique)),
    )
