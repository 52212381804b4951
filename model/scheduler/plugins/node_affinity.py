"""NodeAffinity: a pod goes only where its nodeSelector and required node affinity (and the
profile's ``addedAffinity``) match, and prefers nodes matching its weighted preferred terms.

upstream: pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go, over
component-helpers scheduling/corev1/nodeaffinity/nodeaffinity.go (``matching`` here).

>>> from kubeproof.model.objects import FrozenMap, Node, ObjectMeta, Pod, PodSpec
>>> from kubeproof.model.scheduler.framework import NodeInfo
>>> pod = Pod(spec=PodSpec(node_selector=FrozenMap(disk="ssd")))
>>> plugin = NodeAffinity.from_args({})
>>> plugin.filter(None, pod, NodeInfo(Node(ObjectMeta(name="n1")))).reasons
("node(s) didn't match Pod's node affinity/selector",)
>>> plugin.pre_filter(Pod(), None).status.code, plugin.normalize(None, pod, (0, 2, 5))
('Skip', (0, 40, 100))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from kubeproof.model.codec import FieldDecodeError, Fields
from kubeproof.model.codec_pods import _node_affinity as decode_node_affinity
from kubeproof.model.errors import KubeproofError
from kubeproof.model.logic import all_of, any_of, is_symbolic, ite, sum_of
from kubeproof.model.objects import NodeAffinity as NodeAffinitySpec
from kubeproof.model.objects import (
    NodeSelector,
    NodeSelectorTerm,
    Pod,
    PreferredSchedulingTerm,
)
from kubeproof.model.scheduler.framework import (
    SKIP,
    SUCCESS_STATUS,
    UNSCHEDULABLE_AND_UNRESOLVABLE,
    NodeInfo,
    PreResult,
    Snapshot,
    Status,
    default_normalize_score,
    label_signature,
)
from kubeproof.model.scheduler.matching import (
    label_key_problem,
    label_value_problem,
    node_selector_term_matches,
    node_selector_term_valid,
    required_node_affinity_matches,
)
from kubeproof.model.scheduler.plugins.base import NormalizedByValue

__all__ = ["NodeAffinity"]

# upstream: node_affinity.go ErrReasonPod, errReasonEnforced, errReasonConflict
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_ENFORCED = "node(s) didn't match scheduler-enforced node affinity"
ERR_REASON_CONFLICT = "pod affinity terms conflict"
ERROR = "Error"  # upstream: framework.Error, a plugin's internal error (here: a broken term)


def _is_empty(term: NodeSelectorTerm) -> bool:
    return not term.match_expressions and not term.match_fields


def _selector_matches(node: Any, selector: NodeSelector) -> Any:
    # upstream: nodeaffinity.go NodeSelector.Match: terms ORed, empty terms dropped
    return any_of(node_selector_term_matches(node, t) for t in selector.node_selector_terms)


def _term_problems(term: NodeSelectorTerm, path: str) -> list[str]:
    """Upstream-like parse errors of a concrete term (``[]`` when it parses or is symbolic)."""
    if is_symbolic(node_selector_term_valid(term)) or node_selector_term_valid(term):
        return []
    problems = []
    for j, req in enumerate(term.match_expressions):
        where = f"{path}.matchExpressions[{j}]"
        if not is_symbolic(req.key) and label_key_problem(req.key):
            problems.append(
                f'{where}.key: Invalid value: "{req.key}": {label_key_problem(req.key)}'
            )
        for k, value in enumerate(req.values):
            if not is_symbolic(value) and label_value_problem(value):
                problem = label_value_problem(value)
                problems.append(f'{where}.values[{k}]: Invalid value: "{value}": {problem}')
    # Anything else (an operator, a count of values): one general line.
    return problems or [f"{path}: invalid node selector term"]


def _preferred_score(node: Any, terms: tuple[PreferredSchedulingTerm, ...]) -> Any:
    # upstream: nodeaffinity.go PreferredSchedulingTerms.Score: weight 0 and empty terms skipped
    return sum_of(
        ite(node_selector_term_matches(node, t.preference), t.weight, 0)
        for t in terms
        if not _is_empty(t.preference)
    )


def _pod_node_affinity(pod: Pod) -> NodeAffinitySpec | None:
    affinity = pod.spec.affinity
    return None if affinity is None else affinity.node_affinity


@dataclass(frozen=True, slots=True)
class NodeAffinity(NormalizedByValue):
    """Filter and Score; args: ``addedAffinity`` (a NodeAffinity), applied to every pod."""

    name: ClassVar[str] = "NodeAffinity"

    added_affinity: NodeAffinitySpec | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> NodeAffinity:
        unknown = set(args) - {"addedAffinity"}
        if unknown:
            raise KubeproofError(f"NodeAffinityArgs has no field {sorted(unknown)[0]!r}")
        if args.get("addedAffinity") is None:
            return cls()
        try:
            added = decode_node_affinity(Fields(args["addedAffinity"], "addedAffinity"))
        except FieldDecodeError as err:
            raise KubeproofError(f"NodeAffinityArgs: {err}") from None
        # upstream: validation.ValidateNodeAffinityArgs: every term must parse
        terms = [
            ("requiredDuringSchedulingIgnoredDuringExecution", i, t)
            for i, t in enumerate(added.required.node_selector_terms if added.required else ())
            if not _is_empty(t)
        ]
        terms += [
            ("preferredDuringSchedulingIgnoredDuringExecution", i, p.preference)
            for i, p in enumerate(added.preferred)
            if p.weight != 0 and not _is_empty(p.preference)
        ]
        for field, i, term in terms:
            problems = _term_problems(term, f"addedAffinity.{field}[{i}]")
            if problems:
                raise KubeproofError(f"NodeAffinityArgs: {problems[0]}")
        return cls(added)

    @property
    def _added_required(self) -> NodeSelector | None:
        return None if self.added_affinity is None else self.added_affinity.required

    def pre_filter(self, pod: Pod, snapshot: Snapshot) -> PreResult:
        # upstream: PreFilter
        node_affinity = _pod_node_affinity(pod)
        required = None if node_affinity is None else node_affinity.required
        if required is None and self._added_required is None and not pod.spec.node_selector:
            return PreResult(Status(SKIP))
        if required is None or not required.node_selector_terms:
            return PreResult()
        # Terms naming nodes (matchFields metadata.name In) restrict the cycle to those nodes:
        # the union over terms of the intersection within a term. A symbolic name: no restriction.
        names: set = set()
        for term in required.node_selector_terms:
            term_names = None
            for req in term.match_fields:
                if is_symbolic(req.key) or any(is_symbolic(v) for v in req.values):
                    return PreResult()
                if req.key == "metadata.name" and req.operator == "In":
                    values = set(req.values)
                    term_names = values if term_names is None else term_names & values
            if term_names is None:
                return PreResult()
            names |= term_names
        if not names:
            return PreResult(Status(UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_REASON_CONFLICT,)))
        return PreResult(node_names=frozenset(names))

    def _added_matches(self, node: Any) -> Any:
        added = self._added_required
        return True if added is None else _selector_matches(node, added)

    def feasible(self, state: Any, pod: Pod, node_info: NodeInfo) -> Any:
        node = node_info.node
        return all_of((self._added_matches(node), required_node_affinity_matches(pod, node)))

    def filter(self, state: Any, pod: Pod, node_info: NodeInfo) -> Status:
        # upstream: Filter: the added affinity first, then the pod's (parse errors ignored)
        if not self._added_matches(node_info.node):
            return Status(UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_REASON_ENFORCED,))
        if not required_node_affinity_matches(pod, node_info.node):
            return Status(UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_REASON_POD,))
        return SUCCESS_STATUS

    def pre_score(self, pod: Pod, snapshot: Snapshot, feasible: Sequence[NodeInfo]) -> PreResult:
        # upstream: PreScore: a pod's preferred term that does not parse is an Error
        node_affinity = _pod_node_affinity(pod)
        preferred = () if node_affinity is None else node_affinity.preferred
        problems = []
        for i, term in enumerate(preferred):
            weighted = is_symbolic(term.weight) or term.weight != 0
            if weighted and not _is_empty(term.preference):
                problems += _term_problems(term.preference, f"[{i}]")
        if problems:
            message = problems[0] if len(problems) == 1 else f"[{', '.join(problems)}]"
            return PreResult(Status(ERROR, (message,)))
        added = () if self.added_affinity is None else self.added_affinity.preferred
        if not preferred and not added:
            return PreResult(Status(SKIP))
        return PreResult(state=preferred)

    def score(self, state: Any, pod: Pod, node_info: NodeInfo) -> Any:
        # upstream: Score: the added preferred terms' weights plus the pod's
        node = node_info.node
        node_affinity = _pod_node_affinity(pod)
        preferred = () if node_affinity is None else node_affinity.preferred
        added = () if self.added_affinity is None else self.added_affinity.preferred
        return sum_of((_preferred_score(node, added), _preferred_score(node, preferred)))

    def normalize(self, state: Any, pod: Pod, scores: Sequence[Any]) -> tuple[Any, ...]:
        # upstream: NormalizeScore: DefaultNormalizeScore(MaxNodeScore, reverse=false)
        return default_normalize_score(scores)

    def node_signature_key(self, state: Any, pod: Pod) -> Any:
        """The label keys the pod's and the profile's selectors name, and whether a term reads
        the node's name (matchFields); ``None`` for a symbolic key."""
        terms = []
        for affinity in (_pod_node_affinity(pod), self.added_affinity):
            if affinity is not None:
                required = affinity.required.node_selector_terms if affinity.required else ()
                terms += [*required, *(p.preference for p in affinity.preferred)]
        keys = [*pod.spec.node_selector, *(r.key for t in terms for r in t.match_expressions)]
        if any(is_symbolic(k) for k in keys):
            return None
        return tuple(sorted(set(keys))), any(t.match_fields for t in terms)

    def node_signature(self, key: Any, node_info: NodeInfo) -> Any:
        keys, reads_name = key
        meta = node_info.node.metadata
        return label_signature(meta.labels, keys), meta.name if reads_name else None
