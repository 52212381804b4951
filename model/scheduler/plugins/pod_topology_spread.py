"""PodTopologySpread: DoNotSchedule constraints as a filter, ScheduleAnyway ones as a score.

upstream: pkg/scheduler/framework/plugins/podtopologyspread/{common.go,filtering.go,scoring.go,
plugin.go}, with the default feature gates (NodeInclusionPolicyInPodTopologySpread and
MatchLabelKeysInPodTopologySpread on; InPlacePodVerticalScaling's deferred-resize skip is not
modelled).

Counting: a pod counts toward its node's domain when it is in the incoming pod's namespace, is not
terminating and matches the constraint's selector; an *empty* selector (``{}``) counts nothing
(countPodsMatchSelector), a nil one matches nothing, yet the incoming pod's self-match uses the
selector as it is (``{}`` matches it). The pod's ``matchLabelKeys`` are ANDed into the selector
here too (idempotent with the api-server's merge).

Default constraints (pods without any constraint): ``defaultingType: System`` gives hostname/3 and
zone/5, ``List`` gives ``defaultConstraints``; their selector is upstream's DefaultSelector over
``Snapshot.workloads``: Services (``spec.selector``) in the pod's namespace that
select the pod, and the pod's controlling ReplicationController, ReplicaSet or StatefulSet.

What may be symbolic: ``feasible`` and ``score`` read the node's labels through the logic
connectives; the counts are sums of ``ite`` over the existing pods, so the incoming pod's labels,
namespace, selector values, node selector and tolerations may be z3 terms too (domain existence
and minimums then become terms). Topology keys, selector shapes, the snapshot's nodes and pods
and the args are concrete. The score is a z3 Real rounded with ``ToInt(x + 1/2)`` when symbolic
(the ``ln`` weights are float constants, taken as exact rationals). ``normalize`` expects the
scores in the order of the feasible nodes given to ``pre_score``.

>>> from kubeproof.model.objects import (FrozenMap, LabelSelector, Node, ObjectMeta, Pod,
...     PodSpec, TopologySpreadConstraint)
>>> from kubeproof.model.scheduler.framework import NodeInfo, Snapshot
>>> spread = TopologySpreadConstraint(1, "zone", "DoNotSchedule", LabelSelector(FrozenMap(app="w")))
>>> web = lambda name, node: Pod(ObjectMeta(name=name, labels=FrozenMap(app="w")),
...     PodSpec(node_name=node, topology_spread_constraints=(spread,)))
>>> a = NodeInfo(Node(ObjectMeta(name="a", labels=FrozenMap(zone="z1"))), (web("w1", "a"),))
>>> b = NodeInfo(Node(ObjectMeta(name="b", labels=FrozenMap(zone="z2"))))
>>> plugin = PodTopologySpread()
>>> state = plugin.pre_filter(web("w2", ""), Snapshot((a, b))).state
>>> plugin.filter(state, web("w2", ""), a).code, plugin.filter(state, web("w2", ""), b).code
('Unschedulable', 'Success')
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from kubeproof.model.errors import KubeproofError
from kubeproof.model.logic import (
    all_of,
    any_of,
    count_if,
    div,
    has_key,
    implies,
    is_in,
    is_symbolic,
    ite,
    max_of,
    min_of,
    not_,
    sum_of,
)
from kubeproof.model.objects import (
    FrozenMap,
    GenericObject,
    LabelSelector,
    LabelSelectorRequirement,
    Pod,
    ReplicaSet,
    Service,
    TopologySpreadConstraint,
)
from kubeproof.model.scheduler.framework import (
    SKIP,
    SUCCESS_STATUS,
    UNSCHEDULABLE,
    UNSCHEDULABLE_AND_UNRESOLVABLE,
    FeasibleNodes,
    NodeInfo,
    PreResult,
    Snapshot,
    Status,
    label_signature,
)
from kubeproof.model.scheduler.matching import (
    label_selector_matches,
    required_node_affinity_matches,
    taint_tolerated,
)
from kubeproof.model.scheduler.topology import domain_count, go_round, summed_domains

__all__ = ["PodTopologySpread"]

# upstream: podtopologyspread/plugin.go ErrReason*
ERR_CONSTRAINTS = "node(s) didn't match pod topology spread constraints"
ERR_MISSING_LABEL = ERR_CONSTRAINTS + " (missing required label)"
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
MAX_INT32 = 2**31 - 1

# upstream: plugin.go systemDefaultConstraints
SYSTEM_DEFAULTS = (
    TopologySpreadConstraint(3, HOSTNAME, "ScheduleAnyway"),
    TopologySpreadConstraint(5, ZONE, "ScheduleAnyway"),
)


@dataclass(frozen=True, slots=True)
class _Constraint:
    """upstream: common.go topologySpreadConstraint (selector parsed, policies defaulted)."""

    max_skew: int
    topology_key: str
    selector: LabelSelector | None
    min_domains: int
    node_affinity_policy: str
    node_taints_policy: str

    def included(self, pod: Pod, node_info: NodeInfo) -> Any:
        # upstream: common.go matchNodeInclusionPolicies
        node = node_info.node
        honor_affinity = self.node_affinity_policy == "Honor"
        honor_taints = self.node_taints_policy == "Honor"
        return all_of(
            (
                not honor_affinity or required_node_affinity_matches(pod, node),
                not honor_taints
                or all_of(
                    implies(
                        is_in(t.effect, ("NoSchedule", "NoExecute")),
                        taint_tolerated(t, pod.spec.tolerations),
                    )
                    for t in node.spec.taints
                ),
            )
        )

    def count(self, pods: Sequence[Pod], namespace: Any) -> Any:
        return _count(self.selector, pods, namespace)

    def counts_nothing(self) -> bool:
        """A nil or empty selector: no pod counts (countPodsMatchSelector)."""
        s = self.selector
        return s is None or (not s.match_labels and not s.match_expressions)

    def plain(self, namespace: Any) -> tuple | None:
        """The (non-empty) selector and the namespace as plain tuples, the memo key of
        ``_matching_pods``; ``None`` when some part is symbolic."""
        s = self.selector
        labels = tuple(s.match_labels.items())
        exprs = tuple((r.key, r.operator, r.values) for r in s.match_expressions)
        strings = (namespace, *(x for pair in labels for x in pair))
        strings += tuple(x for key, op, values in exprs for x in (key, op, *values))
        if any(is_symbolic(x) for x in strings):
            return None
        return labels, exprs, namespace

    def counter(self, namespace: Any) -> Callable[[NodeInfo], Any]:
        """``info -> count(info.pods, namespace)``, memoized on each NodeInfo when the selector
        and namespace are concrete (their plain form is the memo key)."""
        if self.counts_nothing():
            return lambda info: 0
        plain = self.plain(namespace)
        if plain is None:
            return lambda info: self.count(info.pods, namespace)
        return lambda info: info.memo(_matching_pods, plain)

    def always_included(self, pod: Pod) -> bool:
        """Whether ``included`` holds for every node: no node affinity or taints to honor."""
        affinity = pod.spec.affinity
        required = affinity.node_affinity.required if affinity and affinity.node_affinity else None
        selector = pod.spec.node_selector  # a symbolic one (solvers/) cannot be sized
        has_selector = hasattr(selector, "symbolic_has") or bool(selector)
        honored = self.node_affinity_policy == "Honor" and (has_selector or required is not None)
        return not honored and self.node_taints_policy != "Honor"


def _count(selector: LabelSelector | None, pods: Sequence[Pod], namespace: Any) -> Any:
    # upstream: common.go countPodsMatchSelector: an empty selector counts nothing
    s = selector
    if s is None or (not s.match_labels and not s.match_expressions):
        return 0
    return count_if(
        all_of((p.metadata.namespace == namespace, label_selector_matches(s, p.metadata.labels)))
        for p in pods
        if p.metadata.deletion_timestamp is None
    )


def _matching_pods(info: NodeInfo, plain: tuple) -> int:
    """``_count`` of a selector in its plain form (see ``_Constraint.counter``)."""
    labels, exprs, namespace = plain
    requirements = tuple(LabelSelectorRequirement(k, op, values) for k, op, values in exprs)
    return _count(LabelSelector(FrozenMap(labels), requirements), info.pods, namespace)


def _with_match_label_keys(c: TopologySpreadConstraint, labels: Any) -> LabelSelector | None:
    # upstream: common.go filterTopologySpreadConstraints / mergeLabelSetWithSelector
    selector = c.label_selector
    keys = [k for k in c.match_label_keys if k in labels]
    if selector is None or not keys:
        return selector
    extra = tuple(LabelSelectorRequirement(k, "In", (labels[k],)) for k in keys)
    return LabelSelector(selector.match_labels, extra + selector.match_expressions)


def _constraints(
    specs: Sequence[TopologySpreadConstraint], labels: Any, action: str
) -> tuple[_Constraint, ...]:
    return tuple(
        _Constraint(
            c.max_skew,
            c.topology_key,
            _with_match_label_keys(c, labels),
            1 if c.min_domains is None else c.min_domains,
            c.node_affinity_policy or "Honor",
            c.node_taints_policy or "Ignore",
        )
        for c in specs
        if c.when_unsatisfiable == action
    )


def _generic_selector(body: Any) -> LabelSelector | None:
    spec = body.get("spec") or FrozenMap()
    raw = spec.get("selector")
    if raw is None:
        return None
    exprs = tuple(
        LabelSelectorRequirement(e["key"], e["operator"], tuple(e.get("values") or ()))
        for e in raw.get("matchExpressions") or ()
    )
    return LabelSelector(FrozenMap(raw.get("matchLabels") or {}), exprs)


def _kind(obj: Any) -> tuple[str, str]:
    if isinstance(obj, GenericObject):
        return obj.api_version, obj.kind
    return obj.API_VERSION, obj.KIND


def _default_selector(pod: Pod, workloads: Sequence[Any]) -> LabelSelector:
    """upstream: plugins/helper/spread.go DefaultSelector (concrete pod and objects)."""
    meta = pod.metadata
    match: dict[str, Any] = {}
    exprs: tuple[LabelSelectorRequirement, ...] = ()
    same_ns = [w for w in workloads if w.metadata.namespace == meta.namespace]
    for svc in same_ns:
        if _kind(svc) != ("v1", "Service"):
            continue
        if isinstance(svc, Service):  # an empty selector is none (GetPodServices skips it)
            chosen = svc.spec.selector or None
        else:
            chosen = (svc.body.get("spec") or FrozenMap()).get("selector")
        if chosen is not None and all(meta.labels.get(k) == v for k, v in chosen.items()):
            match.update(chosen)
    owner = next((r for r in meta.owner_references if r.controller), None)
    if owner is not None:
        kind = (owner.api_version, owner.kind)
        for w in same_ns:
            if w.metadata.name != owner.name or _kind(w) != kind:
                continue
            if kind == ("v1", "ReplicationController"):
                match.update((w.body.get("spec") or FrozenMap()).get("selector") or {})
            elif kind in (("apps/v1", "ReplicaSet"), ("apps/v1", "StatefulSet")):
                other = w.spec.selector if isinstance(w, ReplicaSet) else _generic_selector(w.body)
                if other is not None:
                    exprs += tuple(
                        LabelSelectorRequirement(k, "In", (v,))
                        for k, v in other.match_labels.items()
                    )
                    exprs += other.match_expressions
            break
    return LabelSelector(FrozenMap(match), exprs)


@dataclass(frozen=True, slots=True)
class _FilterState:
    constraints: tuple[_Constraint, ...]
    # per constraint: domain value -> (exists, matching pods)
    domains: tuple[Mapping[Any, tuple[Any, Any]], ...]


def _ignored(require_all: bool, constraints: Sequence[_Constraint], info: NodeInfo) -> bool:
    """Whether scoring ignores the node: the pod's own constraints (or List defaults) require
    every topology key, and the node lacks one."""
    # upstream: scoring.go PreScore: requireAllTopologies, nodeLabelsMatchSpreadConstraints
    return require_all and not {c.topology_key for c in constraints} <= set(
        info.node.metadata.labels
    )


def _matching_in_domain(
    info: NodeInfo, key: str, required: frozenset[str], plain: tuple
) -> dict[str, int]:
    """``{the node's value at key: its pods matching the selector}`` (``plain`` as in
    ``_Constraint.plain``); nothing for a node without pods or one scoring ignores."""
    if not info.pods:
        return {}
    labels = info.node.metadata.labels
    if required and not required <= set(labels):
        return {}
    return {labels.get(key, ""): info.memo(_matching_pods, plain)}


@dataclass(frozen=True, slots=True)
class _ScoreState:
    constraints: tuple[_Constraint, ...]
    require_all: bool
    counts: tuple[Mapping[Any, Any], ...]
    weights: tuple[float, ...]
    ignored: tuple[bool, ...]  # per feasible node, in the order given to pre_score


def _parse_default(raw: Mapping[str, Any], i: int) -> TopologySpreadConstraint:
    where = f"PodTopologySpread: defaultConstraints[{i}]"
    if raw.get("labelSelector") is not None:
        raise KubeproofError(f"{where}.labelSelector: must not be set for default constraints")
    skew, key, when = raw.get("maxSkew"), raw.get("topologyKey"), raw.get("whenUnsatisfiable")
    if not isinstance(skew, int) or skew < 1:
        raise KubeproofError(f"{where}.maxSkew: must be greater than zero")
    if not key or not isinstance(key, str):
        raise KubeproofError(f"{where}.topologyKey: can not be empty")
    if when not in ("DoNotSchedule", "ScheduleAnyway"):
        raise KubeproofError(f"{where}.whenUnsatisfiable: must be DoNotSchedule or ScheduleAnyway")
    return TopologySpreadConstraint(skew, key, when)


@dataclass(frozen=True, slots=True)
class PodTopologySpread:
    """The PodTopologySpread plugin (args: PodTopologySpreadArgs)."""

    name: ClassVar[str] = "PodTopologySpread"

    default_constraints: tuple[TopologySpreadConstraint, ...] = SYSTEM_DEFAULTS
    defaulting_type: str = "System"

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> PodTopologySpread:
        # upstream: apis/config/v1/defaults.go SetDefaults_PodTopologySpreadArgs,
        # validation/validation_pluginargs.go ValidatePodTopologySpreadArgs
        unknown = set(args) - {"defaultConstraints", "defaultingType"}
        if unknown:
            raise KubeproofError(f"PodTopologySpread: unknown args {sorted(unknown)}")
        kind = args.get("defaultingType") or "System"
        raw = args.get("defaultConstraints") or ()
        if kind not in ("System", "List"):
            raise KubeproofError("PodTopologySpread: defaultingType must be System or List")
        if kind == "System":
            if raw:
                raise KubeproofError(
                    "PodTopologySpread: defaultConstraints must be empty with defaultingType System"
                )
            return cls(SYSTEM_DEFAULTS, "System")
        parsed = tuple(_parse_default(c, i) for i, c in enumerate(raw))
        pairs = [(c.topology_key, c.when_unsatisfiable) for c in parsed]
        if len(set(pairs)) != len(pairs):
            raise KubeproofError("PodTopologySpread: defaultConstraints has a duplicate constraint")
        return cls(parsed, "List")

    def _constraints_for(self, pod: Pod, snapshot: Snapshot, action: str) -> tuple:
        # upstream: common.go / plugin.go getConstraints, buildDefaultConstraints
        if pod.spec.topology_spread_constraints:
            return _constraints(pod.spec.topology_spread_constraints, pod.metadata.labels, action)
        defaults = _constraints(self.default_constraints, pod.metadata.labels, action)
        if not defaults:
            return ()
        selector = _default_selector(pod, snapshot.workloads)
        if not selector.match_labels and not selector.match_expressions:
            return ()
        return tuple(
            _Constraint(c.max_skew, c.topology_key, selector, c.min_domains, "Honor", "Ignore")
            for c in defaults
        )

    # --- Filter ------------------------------------------------------------------------------

    def pre_filter(self, pod: Pod, snapshot: Snapshot) -> PreResult:
        # upstream: filtering.go PreFilter, calPreFilterState
        constraints = self._constraints_for(pod, snapshot, "DoNotSchedule")
        if not constraints:
            return PreResult(Status(SKIP))
        keys = {c.topology_key for c in constraints}
        eligible = [i for i in snapshot.nodes if keys <= set(i.node.metadata.labels)]
        domains = []
        for c in constraints:
            found: dict[Any, tuple[Any, Any]] = {}
            always, count_on = c.always_included(pod), c.counter(pod.metadata.namespace)
            for info in eligible:
                value = info.node.metadata.labels[c.topology_key]
                included = True if always else c.included(pod, info)
                exists, count = found.get(value, (False, 0))
                found[value] = (
                    any_of((exists, included)),
                    sum_of((count, ite(included, count_on(info), 0))),
                )
            domains.append(found)
        return PreResult(SUCCESS_STATUS, _FilterState(constraints, tuple(domains)))

    def _skew_ok(self, state: _FilterState, i: int, pod: Pod, labels: Any) -> Any:
        # upstream: filtering.go Filter: matchNum + selfMatch - globalMin <= maxSkew, where the
        # global minimum is 0 with fewer than minDomains domains and MaxInt32 with none.
        c, found = state.constraints[i], state.domains[i]
        existing = tuple(found.values())
        num_domains = count_if(exists for exists, _ in existing)
        minimum = min_of((ite(exists, n, MAX_INT32) for exists, n in existing), MAX_INT32)
        global_min = ite(num_domains < c.min_domains, 0, minimum)
        counts = {(c.topology_key, v): ite(e, n, 0) for v, (e, n) in found.items()}
        match_num = domain_count(counts, c.topology_key, labels)
        self_match = ite(label_selector_matches(c.selector, pod.metadata.labels), 1, 0)
        return match_num + self_match - global_min <= c.max_skew

    def feasible(self, state: _FilterState, pod: Pod, node_info: NodeInfo) -> Any:
        labels = node_info.node.metadata.labels
        return all_of(
            all_of((has_key(labels, c.topology_key), self._skew_ok(state, i, pod, labels)))
            for i, c in enumerate(state.constraints)
        )

    def filter(self, state: _FilterState, pod: Pod, node_info: NodeInfo) -> Status:
        labels = node_info.node.metadata.labels
        for i, c in enumerate(state.constraints):
            if not has_key(labels, c.topology_key):
                return Status(UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_MISSING_LABEL,))
            if not self._skew_ok(state, i, pod, labels):
                return Status(UNSCHEDULABLE, (ERR_CONSTRAINTS,))
        return SUCCESS_STATUS

    # --- Score -------------------------------------------------------------------------------

    def pre_score(self, pod: Pod, snapshot: Snapshot, feasible: Sequence[NodeInfo]) -> PreResult:
        # upstream: scoring.go PreScore, initPreScoreState
        if not snapshot.nodes:
            return PreResult(Status(SKIP))
        constraints = self._constraints_for(pod, snapshot, "ScheduleAnyway")
        if not constraints:
            return PreResult(Status(SKIP))
        require_all = bool(pod.spec.topology_spread_constraints) or self.defaulting_type != "System"
        if require_all:
            ignored = tuple(_ignored(require_all, constraints, info) for info in feasible)
            scored = [info for info, skip in zip(feasible, ignored, strict=True) if not skip]
        else:
            ignored, scored = (False,) * len(feasible), list(feasible)
        # FeasibleNodes (the incremental cycle, concrete): the domains and their counts from the
        # snapshot's node sums, when fewer nodes are excluded than feasible
        excluded = feasible.excluded if isinstance(feasible, FeasibleNodes) else None
        summed = excluded is not None and len(excluded) <= len(feasible)
        required = frozenset(c.topology_key for c in constraints) if require_all else frozenset()
        counts: list[dict[Any, Any]] = []
        weights = []
        for c in constraints:
            # A missing label reads as "": with system defaults that is a domain of its own.
            found = {}
            if c.topology_key != HOSTNAME and summed:
                found = summed_domains(snapshot, excluded, c.topology_key, required)
            elif c.topology_key != HOSTNAME:
                found = {info.node.metadata.labels.get(c.topology_key, ""): 0 for info in scored}
            size = len(scored) if c.topology_key == HOSTNAME else len(found)
            weights.append(math.log(size + 2))  # upstream: topologyNormalizingWeight
            # A node without pods adds 0 (hostname domains are counted in Score instead).
            always, namespace = c.always_included(pod), pod.metadata.namespace
            if not found or (summed and c.counts_nothing()):
                counts.append(found)
                continue
            if summed and always and (plain := c.plain(namespace)) is not None:
                matching = snapshot.node_sum(_matching_in_domain, c.topology_key, required, plain)
                counts.append({value: matching.get(value, 0) for value in found})
                continue
            count_on = c.counter(namespace)
            for info in snapshot.nodes:
                if not info.pods:
                    continue
                value = info.node.metadata.labels.get(c.topology_key, "")
                if value not in found or _ignored(require_all, constraints, info):
                    continue
                amount = count_on(info)
                included = True if always else c.included(pod, info)
                found[value] = sum_of((found[value], ite(included, amount, 0)))
            counts.append(found)
        state = _ScoreState(constraints, require_all, tuple(counts), tuple(weights), ignored)
        return PreResult(SUCCESS_STATUS, state)

    def score(self, state: _ScoreState, pod: Pod, node_info: NodeInfo) -> Any:
        # upstream: scoring.go Score, scoreForCount: sum of cnt * weight + (maxSkew - 1)
        labels = node_info.node.metadata.labels
        present = [has_key(labels, c.topology_key) for c in state.constraints]
        parts = []
        for i, c in enumerate(state.constraints):
            if c.topology_key == HOSTNAME:
                cnt = c.count(node_info.pods, pod.metadata.namespace)
            else:
                by_pair = {(c.topology_key, v): n for v, n in state.counts[i].items()}
                cnt = domain_count(by_pair, c.topology_key, labels)
            parts.append(ite(present[i], cnt * state.weights[i] + float(c.max_skew - 1), 0.0))
        ignored = all_of((state.require_all, any_of(not_(p) for p in present)))
        return ite(ignored, 0, go_round(sum_of(parts)))

    def node_signature_key(self, state: Any, pod: Pod) -> Any:
        """The filter reads the labels at the topology keys; the score reads them too, except
        that for a hostname constraint it reads only whether the label is there, and counts
        the node's matching pods instead."""
        keys = tuple(c.topology_key for c in state.constraints)
        namespace = pod.metadata.namespace
        if any(is_symbolic(k) for k in keys) or is_symbolic(namespace):
            return None
        if isinstance(state, _FilterState):
            return "filter", keys
        hostname = tuple(c if c.topology_key == HOSTNAME else None for c in state.constraints)
        return "score", hostname, keys, namespace

    def node_signature(self, key: Any, node_info: NodeInfo) -> Any:
        labels = node_info.node.metadata.labels
        if key[0] == "filter":
            return label_signature(labels, key[1])
        _, hostname_constraints, keys, namespace = key
        return tuple(
            label_signature(labels, (k,))
            if c is None
            else (k in labels, c.count(node_info.pods, namespace))
            for c, k in zip(hostname_constraints, keys, strict=True)
        )

    def normalize_classes(
        self, state: _ScoreState, pod: Pod, infos: Sequence[NodeInfo], scores: Sequence[Any]
    ) -> tuple[Any, ...]:
        """``normalize`` over classes of nodes (see ``framework``): the minimum and maximum
        are those of the set of scores, and a class's nodes share their labels at the
        topology keys (the score signature holds them), hence whether they are ignored."""
        ignored = tuple(_ignored(state.require_all, state.constraints, info) for info in infos)
        return self.normalize(replace(state, ignored=ignored), pod, scores)

    def normalize(self, state: _ScoreState, pod: Pod, scores: Sequence[Any]) -> tuple[Any, ...]:
        """Fewer matching pods score higher; ignored nodes get 0."""
        # upstream: scoring.go NormalizeScore
        if len(scores) != len(state.ignored):
            raise ValueError("normalize: scores must follow the feasible nodes of pre_score")
        kept = [s for s, skip in zip(scores, state.ignored, strict=True) if not skip]
        if not kept:
            return tuple(0 for _ in scores)
        if all(type(s) is int and s >= 0 for s in kept):  # concrete: floor is Go's truncation
            low, high = min(kept), max(kept)
            if high == 0:
                return tuple(0 if skip else 100 for skip in state.ignored)
            return tuple(
                0 if skip else 100 * (high + low - s) // high
                for s, skip in zip(scores, state.ignored, strict=True)
            )
        low, high = min_of(kept), max_of(kept, 0)
        if not is_symbolic(high) and high == 0:
            return tuple(0 if skip else 100 for skip in state.ignored)
        return tuple(
            0 if skip else ite(high == 0, 100, div(100 * (high + low - s), high))
            for s, skip in zip(scores, state.ignored, strict=True)
        )
