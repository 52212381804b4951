"""The matching rules several plugins share: tolerations, node selectors, label selectors.

Written over ``kubeproof.model.logic``, so each works on concrete objects and on z3 terms.

>>> from kubeproof.model.objects import FrozenMap, Taint, Toleration
>>> tolerates(Toleration(key="gpu", operator="Exists"), Taint(key="gpu", effect="NoSchedule"))
True
>>> label_selector_matches(labels_selector(FrozenMap(app="web", tier="1")), FrozenMap(app="web"))
False
"""

from __future__ import annotations

from typing import Any

from kubeproof.model.logic import all_of, any_of, has_key, is_in, not_, parse_int, value_at
from kubeproof.model.objects import (
    FrozenMap,
    LabelSelector,
    LabelSelectorRequirement,
    Node,
    NodeSelector,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    Pod,
    Taint,
    Toleration,
)

__all__ = [
    "label_selector_matches",
    "labels_selector",
    "node_selector_term_matches",
    "required_node_affinity_matches",
    "taint_tolerated",
    "tolerates",
]


def tolerates(toleration: Toleration, taint: Taint) -> Any:
    """Whether one toleration tolerates one taint.

    The comparison operators Lt and Gt (KEP-5471) are alpha and off by default: they never match.
    """
    # upstream: staging/src/k8s.io/api/core/v1/toleration.go ToleratesTaint
    return all_of(
        (
            any_of((toleration.effect == "", toleration.effect == taint.effect)),
            any_of((toleration.key == "", toleration.key == taint.key)),
            any_of(
                (
                    toleration.operator == "Exists",
                    all_of(
                        (
                            is_in(toleration.operator, ("", "Equal")),
                            toleration.value == taint.value,
                        )
                    ),
                )
            ),
        )
    )


def taint_tolerated(taint: Taint, tolerations: tuple[Toleration, ...]) -> Any:
    """Whether any of the tolerations tolerates the taint."""
    # upstream: component-helpers scheduling/corev1/helpers.go TolerationsTolerateTaint
    return any_of(tolerates(toleration, taint) for toleration in tolerations)


def _requirement_matches(labels: FrozenMap, req: NodeSelectorRequirement) -> Any:
    # upstream: component-helpers scheduling/corev1/nodeaffinity/nodeaffinity.go and
    # apimachinery pkg/labels/selector.go Requirement.Matches. A requirement that does not parse
    # (In/NotIn without values, Exists/DoesNotExist with values, Gt/Lt without one integer, an
    # unknown operator) never matches.
    present = has_key(labels, req.key)
    value = value_at(labels, req.key)
    op, values = req.operator, req.values
    if op == "In":
        return all_of((len(values) > 0, present, is_in(value, values)))
    if op == "NotIn":
        return all_of((len(values) > 0, any_of((not_(present), not_(is_in(value, values))))))
    if op == "Exists":
        return all_of((len(values) == 0, present))
    if op == "DoesNotExist":
        return all_of((len(values) == 0, not_(present)))
    if op in ("Gt", "Lt") and len(values) == 1:
        bound_ok, bound = parse_int(values[0])
        label_ok, label = parse_int(value)
        compared = label > bound if op == "Gt" else label < bound
        return all_of((bound_ok, present, label_ok, compared))
    return False


def _field_requirement_matches(node: Node, req: NodeSelectorRequirement) -> Any:
    # upstream: nodeaffinity.go nodeSelectorTerm.match: only metadata.name with In or NotIn and
    # exactly one value parses; a node without a name skips matchFields.
    if req.key != "metadata.name" or req.operator not in ("In", "NotIn") or len(req.values) != 1:
        return False
    same = node.metadata.name == req.values[0]
    return same if req.operator == "In" else not_(same)


def node_selector_term_matches(node: Node, term: NodeSelectorTerm) -> Any:
    """Whether a node matches one term: every expression and every field requirement.

    An empty term matches nothing (upstream drops it).
    """
    # upstream: nodeaffinity.go newNodeSelectorTerm / nodeSelectorTerm.match
    if not term.match_expressions and not term.match_fields:
        return False
    labels = node.metadata.labels
    fields_apply = node.metadata.name != ""
    return all_of(
        (
            all_of(_requirement_matches(labels, req) for req in term.match_expressions),
            any_of(
                (
                    not_(fields_apply),
                    all_of(_field_requirement_matches(node, req) for req in term.match_fields),
                )
            ),
        )
    )


def _node_selector_matches(node: Node, selector: NodeSelector) -> Any:
    # Terms are ORed; no terms match nothing.
    return any_of(node_selector_term_matches(node, t) for t in selector.node_selector_terms)


def required_node_affinity_matches(pod: Pod, node: Node) -> Any:
    """Whether the node meets the pod's nodeSelector and required node affinity."""
    # upstream: component-helpers nodeaffinity.go RequiredNodeAffinity.Match
    labels = node.metadata.labels
    selector_ok = all_of(
        all_of((has_key(labels, key), value_at(labels, key) == value))
        for key, value in pod.spec.node_selector.items()
    )
    affinity = pod.spec.affinity
    required = affinity.node_affinity.required if affinity and affinity.node_affinity else None
    affinity_ok = True if required is None else _node_selector_matches(node, required)
    return all_of((selector_ok, affinity_ok))


def labels_selector(labels: FrozenMap) -> LabelSelector:
    """The selector that matches exactly these labels (labels.SelectorFromSet)."""
    return LabelSelector(match_labels=labels)


def _label_requirement_matches(labels: FrozenMap, req: LabelSelectorRequirement) -> Any:
    # upstream: apimachinery pkg/apis/meta/v1/helpers.go LabelSelectorAsSelector, labels Requirement
    present = has_key(labels, req.key)
    value = value_at(labels, req.key)
    if req.operator == "In":
        return all_of((present, is_in(value, req.values)))
    if req.operator == "NotIn":
        return any_of((not_(present), not_(is_in(value, req.values))))
    if req.operator == "Exists":
        return present
    if req.operator == "DoesNotExist":
        return not_(present)
    return False


def label_selector_matches(selector: LabelSelector | None, labels: FrozenMap) -> Any:
    """Whether the labels match a metav1.LabelSelector: ``None`` matches nothing, an empty
    selector everything."""
    if selector is None:
        return False
    return all_of(
        (
            all_of(
                all_of((has_key(labels, key), value_at(labels, key) == value))
                for key, value in selector.match_labels.items()
            ),
            all_of(_label_requirement_matches(labels, req) for req in selector.match_expressions),
        )
    )
