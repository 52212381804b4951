"""InterPodAffinity: required pod (anti-)affinity as a filter, preferred terms as a score.

upstream: pkg/scheduler/framework/plugins/interpodaffinity/{filtering.go,scoring.go,plugin.go}.

Selectors are taken as stored: the api-server merges ``matchLabelKeys`` / ``mismatchLabelKeys``
into ``labelSelector`` when the pod is created (``MatchLabelKeysInPodAffinity``), and the
scheduler never reads those two fields, so neither does this plugin.

What may be symbolic: ``feasible`` and ``score`` read the node's labels (its domains) and the
incoming pod's labels and namespace through the logic connectives; the counts from the existing
pods are built in ``pre_filter`` / ``pre_score`` with ``count_if``-style sums, so they become z3
Ints when the incoming pod's labels or namespace are symbolic. Topology keys, selector shapes and
the existing pods' structure are concrete. ``normalize`` is exact for concrete scores (Go's
float ratio and truncation); for symbolic scores it uses exact integer division, which can differ
from Go's float rounding by one in rare cases (e.g. 29/100: Go gives 28).

>>> from kubeproof.model.objects import (Affinity, FrozenMap, LabelSelector, Node, ObjectMeta,
...     Pod, PodAffinity, PodAffinityTerm, PodSpec)
>>> from kubeproof.model.scheduler.framework import NodeInfo, Snapshot
>>> term = PodAffinityTerm("zone", LabelSelector(FrozenMap(app="db")))
>>> pod = Pod(ObjectMeta(name="web"), PodSpec(affinity=Affinity(pod_affinity=PodAffinity((term,)))))
>>> db = Pod(ObjectMeta(name="db", labels=FrozenMap(app="db")), PodSpec(node_name="a"))
>>> a = NodeInfo(Node(ObjectMeta(name="a", labels=FrozenMap(zone="z1"))), (db,))
>>> b = NodeInfo(Node(ObjectMeta(name="b", labels=FrozenMap(zone="z2"))))
>>> plugin = InterPodAffinity()
>>> state = plugin.pre_filter(pod, Snapshot((a, b))).state
>>> plugin.filter(state, pod, a).code, plugin.filter(state, pod, b).reasons
('Success', ("node(s) didn't match pod affinity rules",))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from kubeproof.model.errors import KubeproofError
from kubeproof.model.logic import (
    all_of,
    any_of,
    div,
    has_key,
    is_in,
    is_symbolic,
    ite,
    max_of,
    min_of,
    not_,
    sum_of,
)
from kubeproof.model.objects import EMPTY, LabelSelector, Namespace, Pod, PodAffinityTerm
from kubeproof.model.scheduler.framework import (
    SKIP,
    SUCCESS_STATUS,
    UNSCHEDULABLE,
    UNSCHEDULABLE_AND_UNRESOLVABLE,
    NodeInfo,
    PreResult,
    Snapshot,
    Status,
    label_signature,
)
from kubeproof.model.scheduler.matching import label_selector_matches
from kubeproof.model.scheduler.plugins.base import NormalizedByValue
from kubeproof.model.scheduler.topology import domain_count, in_domain, is_concrete_labels

__all__ = ["InterPodAffinity"]

# upstream: interpodaffinity/filtering.go ErrReason*
ERR_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
ERR_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"


def _is_empty(selector: LabelSelector | None) -> bool:
    return selector is not None and not selector.match_labels and not selector.match_expressions


@dataclass(frozen=True, slots=True)
class _Term:
    """A parsed PodAffinityTerm (upstream: framework AffinityTerm): the owner's namespace is
    filled in, and for the incoming pod the namespaceSelector is resolved against the
    snapshot's namespaces (mergeAffinityTermNamespacesIfNotEmpty)."""

    topology_key: str
    selector: LabelSelector | None
    namespaces: tuple[Any, ...]
    namespace_selector: LabelSelector | None
    weight: int = 0

    def matches(self, pod: Pod, namespace_match: Any) -> Any:
        """AffinityTerm.Matches: the pod's namespace is listed or selected, and its labels
        match. ``namespace_match(selector, pod)`` decides the namespaceSelector part."""
        meta = pod.metadata
        in_namespace = any_of(
            (is_in(meta.namespace, self.namespaces), namespace_match(self.namespace_selector, pod))
        )
        return all_of((in_namespace, label_selector_matches(self.selector, meta.labels)))


def _term(owner: Pod, term: PodAffinityTerm, weight: int = 0) -> _Term:
    # upstream: framework/types.go newAffinityTerm, getNamespacesFromPodAffinityTerm
    namespaces = term.namespaces
    if not namespaces and term.namespace_selector is None:
        namespaces = (owner.metadata.namespace,)
    return _Term(
        term.topology_key, term.label_selector, namespaces, term.namespace_selector, weight
    )


def _resolved(term: _Term, namespaces: tuple[Namespace, ...]) -> _Term:
    # upstream: interpodaffinity/plugin.go mergeAffinityTermNamespacesIfNotEmpty. An empty
    # selector (all namespaces) is kept; any other is replaced by the names it lists now.
    if term.namespace_selector is None or _is_empty(term.namespace_selector):
        return term
    listed = tuple(
        ns.metadata.name
        for ns in namespaces
        if label_selector_matches(term.namespace_selector, ns.metadata.labels)
    )
    return _Term(term.topology_key, term.selector, term.namespaces + listed, None, term.weight)


def _selector_only(selector: LabelSelector | None, pod: Pod) -> Any:
    # For the incoming pod's resolved terms: only an empty selector is left (all namespaces).
    return _is_empty(selector)


def _against_namespace_labels(namespaces: tuple[Namespace, ...]):
    """How an existing pod's namespaceSelector is matched against the incoming pod's namespace:
    its labels from the snapshot, or no labels when the namespace is unknown
    (upstream: plugin.go GetNamespaceLabelsSnapshot)."""

    def match(selector: LabelSelector | None, pod: Pod) -> Any:
        if selector is None:
            return False
        ns = pod.metadata.namespace
        names = tuple(n.metadata.name for n in namespaces)
        return any_of(
            (
                *(
                    all_of(
                        (ns == n.metadata.name, label_selector_matches(selector, n.metadata.labels))
                    )
                    for n in namespaces
                ),
                all_of((not_(is_in(ns, names)), label_selector_matches(selector, EMPTY))),
            )
        )

    return match


def _terms(owner: Pod, kind: str, which: str) -> tuple[_Term, ...]:
    affinity = owner.spec.affinity
    group = getattr(affinity, kind, None) if affinity else None
    if group is None:
        return ()
    if which == "required":
        return tuple(_term(owner, t) for t in group.required)
    return tuple(_term(owner, w.pod_affinity_term, w.weight) for w in group.preferred)


def _add(counts: dict, node_info: NodeInfo, key: str, amount: Any) -> None:
    # upstream: filtering.go topologyToMatchedTermCount.update: only nodes with the key count.
    labels = node_info.node.metadata.labels
    if key in labels:
        pair = (key, labels[key])
        counts[pair] = sum_of((counts.get(pair, 0), amount))


def _pods_with_required_anti_affinity(info: NodeInfo) -> dict[str, int]:
    """``{"pods": n}``: the node's pods with a required anti-affinity term (none: empty)."""
    n = sum(1 for p in info.pods if _terms(p, "pod_anti_affinity", "required"))
    return {"pods": n} if n else {}


def _pods_with_affinity(info: NodeInfo) -> dict[str, int]:
    """``{"pods": n}``: the node's pods with any affinity (none: empty)."""
    n = sum(1 for p in info.pods if p.spec.affinity is not None)
    return {"pods": n} if n else {}


def _all_zero(counts: Mapping) -> Any:
    # Go deletes an entry that drops to 0, so "the map is empty" is "every count is 0" here.
    return all_of(n == 0 for n in counts.values())


@dataclass(frozen=True, slots=True)
class _FilterState:
    affinity_terms: tuple[_Term, ...]
    anti_affinity_terms: tuple[_Term, ...]
    affinity_counts: Mapping[tuple[str, Any], Any]
    anti_affinity_counts: Mapping[tuple[str, Any], Any]
    existing_anti_affinity_counts: Mapping[tuple[str, Any], Any]


@dataclass(frozen=True, slots=True)
class _ScoreState:
    topology_score: Mapping[tuple[str, Any], Any]


@dataclass(frozen=True, slots=True)
class InterPodAffinity(NormalizedByValue):
    """The InterPodAffinity plugin (args: InterPodAffinityArgs)."""

    name: ClassVar[str] = "InterPodAffinity"

    hard_pod_affinity_weight: int = 1
    ignore_preferred_terms_of_existing_pods: bool = False

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> InterPodAffinity:
        # upstream: apis/config/validation/validation_pluginargs.go ValidateInterPodAffinityArgs
        unknown = set(args) - {"hardPodAffinityWeight", "ignorePreferredTermsOfExistingPods"}
        if unknown:
            raise KubeproofError(f"InterPodAffinity: unknown args {sorted(unknown)}")
        weight = args.get("hardPodAffinityWeight", 1)
        if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= 100:
            raise KubeproofError("InterPodAffinity: hardPodAffinityWeight must be in 0..100")
        ignore = args.get("ignorePreferredTermsOfExistingPods", False)
        if not isinstance(ignore, bool):
            raise KubeproofError(
                "InterPodAffinity: ignorePreferredTermsOfExistingPods must be a bool"
            )
        return cls(weight, ignore)

    # --- Filter ------------------------------------------------------------------------------

    def pre_filter(self, pod: Pod, snapshot: Snapshot) -> PreResult:
        # upstream: filtering.go PreFilter, getExistingAntiAffinityCounts,
        # getIncomingAffinityAntiAffinityCounts
        affinity = tuple(
            _resolved(t, snapshot.namespaces) for t in _terms(pod, "pod_affinity", "required")
        )
        anti = tuple(
            _resolved(t, snapshot.namespaces) for t in _terms(pod, "pod_anti_affinity", "required")
        )
        if not affinity and not anti and not snapshot.node_sum(_pods_with_required_anti_affinity):
            # upstream: only the nodes in HavePodsWithRequiredAntiAffinityList are walked; with
            # none, and no terms of the pod's own, every count is empty
            return PreResult(Status(SKIP), _FilterState((), (), {}, {}, {}))
        existing_match = _against_namespace_labels(snapshot.namespaces)
        affinity_counts: dict = {}
        anti_counts: dict = {}
        existing_counts: dict = {}
        for info in snapshot.nodes:
            for existing in info.pods:
                for term in _terms(existing, "pod_anti_affinity", "required"):
                    _add(
                        existing_counts,
                        info,
                        term.topology_key,
                        ite(term.matches(pod, existing_match), 1, 0),
                    )
                if affinity:
                    matches_all = all_of(t.matches(existing, _selector_only) for t in affinity)
                    for term in affinity:
                        _add(affinity_counts, info, term.topology_key, ite(matches_all, 1, 0))
                for term in anti:
                    _add(
                        anti_counts,
                        info,
                        term.topology_key,
                        ite(term.matches(existing, _selector_only), 1, 0),
                    )
        state = _FilterState(affinity, anti, affinity_counts, anti_counts, existing_counts)
        if not affinity and not anti and _all_zero(existing_counts) is True:
            return PreResult(Status(SKIP), state)
        return PreResult(SUCCESS_STATUS, state)

    def _affinity_ok(self, state: _FilterState, pod: Pod, labels: Any) -> Any:
        # upstream: filtering.go satisfyPodAffinity, with the first-pod-of-a-group exception
        terms = state.affinity_terms
        if not terms:
            return True
        keys_present = all_of(has_key(labels, t.topology_key) for t in terms)
        pods_exist = all_of(
            domain_count(state.affinity_counts, t.topology_key, labels) > 0 for t in terms
        )
        none_anywhere = _all_zero(state.affinity_counts)
        self_match = all_of(t.matches(pod, _selector_only) for t in terms)
        return all_of((keys_present, any_of((pods_exist, all_of((none_anywhere, self_match))))))

    def _anti_affinity_ok(self, state: _FilterState, labels: Any) -> Any:
        # upstream: filtering.go satisfyPodAntiAffinity
        return not_(
            any_of(
                domain_count(state.anti_affinity_counts, t.topology_key, labels) > 0
                for t in state.anti_affinity_terms
            )
        )

    def _existing_ok(self, state: _FilterState, labels: Any) -> Any:
        # upstream: filtering.go satisfyExistingPodsAntiAffinity: any label pair of the node
        counts = state.existing_anti_affinity_counts
        if is_concrete_labels(labels):  # as upstream: look up the node's own label pairs
            return not_(any_of(counts.get(pair, 0) > 0 for pair in labels.items()))
        pairs = counts.items()
        return not_(any_of(all_of((n > 0, in_domain(labels, k, v))) for (k, v), n in pairs))

    def feasible(self, state: _FilterState, pod: Pod, node_info: NodeInfo) -> Any:
        labels = node_info.node.metadata.labels
        return all_of(
            (
                self._affinity_ok(state, pod, labels),
                self._anti_affinity_ok(state, labels),
                self._existing_ok(state, labels),
            )
        )

    def filter(self, state: _FilterState, pod: Pod, node_info: NodeInfo) -> Status:
        # upstream: filtering.go Filter (the checks in this order)
        labels = node_info.node.metadata.labels
        if not self._affinity_ok(state, pod, labels):
            return Status(UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_AFFINITY,))
        if not self._anti_affinity_ok(state, labels):
            return Status(UNSCHEDULABLE, (ERR_ANTI_AFFINITY,))
        if not self._existing_ok(state, labels):
            return Status(UNSCHEDULABLE, (ERR_EXISTING_ANTI_AFFINITY,))
        return SUCCESS_STATUS

    # --- Score -------------------------------------------------------------------------------

    def pre_score(self, pod: Pod, snapshot: Snapshot, feasible: Sequence[NodeInfo]) -> PreResult:
        # upstream: scoring.go PreScore, processExistingPod
        preferred = _terms(pod, "pod_affinity", "preferred")
        preferred_anti = _terms(pod, "pod_anti_affinity", "preferred")
        if self.ignore_preferred_terms_of_existing_pods and not preferred and not preferred_anti:
            return PreResult(Status(SKIP))
        if not preferred and not preferred_anti and not snapshot.node_sum(_pods_with_affinity):
            # upstream: a pod without terms looks only at HavePodsWithAffinityList; with no
            # such pod no term matches anywhere
            return PreResult(Status(SKIP))
        preferred = tuple(_resolved(t, snapshot.namespaces) for t in preferred)
        preferred_anti = tuple(_resolved(t, snapshot.namespaces) for t in preferred_anti)
        existing_match = _against_namespace_labels(snapshot.namespaces)
        scores: dict = {}
        recorded = []

        def process(term: _Term, weight: int, target: Pod, match, info: NodeInfo) -> None:
            # scoring.go scoreMap.processTerm: a matching term adds its weight to the domain
            if term.topology_key in info.node.metadata.labels:
                hit = term.matches(target, match)
                recorded.append(hit)
                _add(scores, info, term.topology_key, ite(hit, weight, 0))

        for info in snapshot.nodes:
            # upstream skips a node without labels; no term can match there anyway (process
            # requires the term's topology key), and a symbolic node's labels cannot be tested
            # for emptiness, so only nodes without pods are skipped here
            for existing in info.pods:
                for t in preferred:
                    process(t, t.weight, existing, _selector_only, info)
                for t in preferred_anti:
                    process(t, -t.weight, existing, _selector_only, info)
                if existing.spec.affinity is None:  # no terms of its own
                    continue
                if self.hard_pod_affinity_weight > 0:
                    for t in _terms(existing, "pod_affinity", "required"):
                        process(t, self.hard_pod_affinity_weight, pod, existing_match, info)
                for t in _terms(existing, "pod_affinity", "preferred"):
                    process(t, t.weight, pod, existing_match, info)
                for t in _terms(existing, "pod_anti_affinity", "preferred"):
                    process(t, -t.weight, pod, existing_match, info)
        if any_of(recorded) is False:
            return PreResult(Status(SKIP))
        return PreResult(SUCCESS_STATUS, _ScoreState(scores))

    def score(self, state: _ScoreState, pod: Pod, node_info: NodeInfo) -> Any:
        # upstream: scoring.go Score: the sum over the node's domains
        labels = node_info.node.metadata.labels
        return sum_of(
            ite(in_domain(labels, k, v), n, 0) for (k, v), n in state.topology_score.items()
        )

    def node_signature_key(self, state: Any, pod: Pod) -> Any:
        """The label keys the filter or the score reads: the topology keys of the terms and of
        the counts; ``None`` where one is symbolic."""
        if isinstance(state, _FilterState):
            counts = (
                state.affinity_counts,
                state.anti_affinity_counts,
                state.existing_anti_affinity_counts,
            )
            terms = state.affinity_terms + state.anti_affinity_terms
            keys = {t.topology_key for t in terms} | {k for c in counts for k, _ in c}
        else:
            keys = {k for k, _ in state.topology_score}
        if any(is_symbolic(k) for k in keys):
            return None
        return tuple(sorted(keys))

    def node_signature(self, key: Any, node_info: NodeInfo) -> Any:
        return label_signature(node_info.node.metadata.labels, key)

    def normalize(self, state: _ScoreState, pod: Pod, scores: Sequence[Any]) -> tuple[Any, ...]:
        """Min-max to [0, 100]; see the module docstring for symbolic scores."""
        # upstream: scoring.go NormalizeScore
        if not scores:
            return ()
        low, high = min_of(scores), max_of(scores)
        spread = high - low
        if not any(is_symbolic(s) for s in scores):
            if spread <= 0:
                return tuple(0 for _ in scores)
            return tuple(int(100.0 * ((s - low) / spread)) for s in scores)
        return tuple(ite(spread > 0, div(100 * (s - low), spread), 0) for s in scores)
