"""The matching rules several plugins share: tolerations, node selectors, label selectors.

Written over ``kubeproof.model.logic``, so each works on concrete objects and on z3 terms.

>>> from kubeproof.model.objects import FrozenMap, Taint, Toleration
>>> tolerates(Toleration(key="gpu", operator="Exists"), Taint(key="gpu", effect="NoSchedule"))
True
>>> label_selector_matches(labels_selector(FrozenMap(app="web", tier="1")), FrozenMap(app="web"))
False
"""

from __future__ import annotations

import re
from typing import Any

from kubeproof.model.logic import (
    all_of,
    any_of,
    has_key,
    is_in,
    is_symbolic,
    not_,
    parse_int,
    value_at,
)
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
    "label_key_problem",
    "label_selector_matches",
    "label_value_problem",
    "labels_selector",
    "node_selector_term_matches",
    "node_selector_term_valid",
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


# upstream: apimachinery pkg/util/validation/validation.go (qualifiedNameFmt, labelValueFmt,
# dns1123SubdomainFmt) and their error texts.
_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_NAME_RE = re.compile(_NAME_FMT)
_DNS1123_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an"
    f" alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for"
    f" validation is '{_NAME_FMT}')"
)
_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or"
    " '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or"
    f" 'my_value',  or '12345', regex used for validation is '({_NAME_FMT})?')"
)


def label_key_problem(key: str) -> str:
    """Why a concrete label key is not a qualified name ("" when it is)."""
    # upstream: apimachinery pkg/util/validation/validation.go IsQualifiedName
    parts = key.split("/")
    if len(parts) > 2:
        return (
            f"a qualified name {_NAME_MSG} with an optional DNS subdomain prefix and '/'"
            " (e.g. 'example.com/MyName')"
        )
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            return "prefix part must be non-empty"
        if len(prefix) > 253 or not _DNS1123_RE.fullmatch(prefix):
            return "prefix part a lowercase RFC 1123 subdomain is invalid"
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _NAME_RE.fullmatch(name):
        return f"name part {_NAME_MSG}"
    return ""


def label_value_problem(value: str) -> str:
    """Why a concrete string is not a valid label value ("" when it is)."""
    # upstream: apimachinery pkg/util/validation/validation.go IsValidLabelValue
    problems = []
    if len(value) > 63:
        problems.append("must be no more than 63 characters")
    if value and not _NAME_RE.fullmatch(value):
        problems.append(_VALUE_MSG)
    return "; ".join(problems)


def _z3_label_regexes():
    import z3

    alnum = z3.Union(z3.Range("a", "z"), z3.Range("A", "Z"), z3.Range("0", "9"))
    inner = z3.Union(alnum, z3.Re("-"), z3.Re("_"), z3.Re("."))
    name = z3.Concat(z3.Option(z3.Concat(alnum, z3.Star(inner))), alnum)
    lower = z3.Union(z3.Range("a", "z"), z3.Range("0", "9"))
    label = z3.Concat(lower, z3.Option(z3.Concat(z3.Star(z3.Union(lower, z3.Re("-"))), lower)))
    subdomain = z3.Concat(label, z3.Star(z3.Concat(z3.Re("."), label)))
    return z3, name, subdomain


def _label_key_valid(key: Any) -> Any:
    if not is_symbolic(key):
        return label_key_problem(key) == ""
    z3, name, subdomain = _z3_label_regexes()
    slash = z3.IndexOf(key, "/", 0)
    prefix = z3.SubString(key, 0, slash)
    rest = z3.SubString(key, slash + 1, z3.Length(key) - slash - 1)
    bare = z3.And(z3.InRe(key, name), z3.Length(key) <= 63)
    prefixed = z3.And(
        slash >= 0,
        z3.InRe(prefix, subdomain),
        z3.Length(prefix) <= 253,
        z3.InRe(rest, name),
        z3.Length(rest) <= 63,
    )
    return z3.Or(bare, prefixed)


def _label_value_valid(value: Any) -> Any:
    if not is_symbolic(value):
        return label_value_problem(value) == ""
    z3, name, _ = _z3_label_regexes()
    return z3.And(z3.InRe(value, z3.Option(name)), z3.Length(value) <= 63)


def _requirement_parses(req: NodeSelectorRequirement) -> Any:
    # upstream: apimachinery pkg/labels/selector.go NewRequirement: the key must be a qualified
    # name and every value (Gt and Lt included) a valid label value.
    return all_of((_label_key_valid(req.key), all_of(_label_value_valid(v) for v in req.values)))


def _requirement_matches(labels: FrozenMap, req: NodeSelectorRequirement) -> Any:
    # upstream: component-helpers scheduling/corev1/nodeaffinity/nodeaffinity.go and
    # apimachinery pkg/labels/selector.go Requirement.Matches. A requirement that does not parse
    # (In/NotIn without values, Exists/DoesNotExist with values, Gt/Lt without one integer, an
    # unknown operator, an invalid key or value) never matches.
    present = has_key(labels, req.key)
    value = value_at(labels, req.key)
    op, values = req.operator, req.values
    if op == "In":
        matched = all_of((len(values) > 0, present, is_in(value, values)))
    elif op == "NotIn":
        matched = all_of((len(values) > 0, any_of((not_(present), not_(is_in(value, values))))))
    elif op == "Exists":
        matched = all_of((len(values) == 0, present))
    elif op == "DoesNotExist":
        matched = all_of((len(values) == 0, not_(present)))
    elif op in ("Gt", "Lt") and len(values) == 1:
        bound_ok, bound = parse_int(values[0])
        label_ok, label = parse_int(value)
        compared = label > bound if op == "Gt" else label < bound
        matched = all_of((bound_ok, present, label_ok, compared))
    else:
        return False
    return all_of((_requirement_parses(req), matched))


def _field_requirement_matches(node: Node, req: NodeSelectorRequirement) -> Any:
    # upstream: nodeaffinity.go nodeSelectorTerm.match: only metadata.name with In or NotIn and
    # exactly one value parses; a node without a name skips matchFields.
    if req.key != "metadata.name" or req.operator not in ("In", "NotIn") or len(req.values) != 1:
        return False
    same = node.metadata.name == req.values[0]
    return same if req.operator == "In" else not_(same)


def node_selector_term_valid(term: NodeSelectorTerm) -> Any:
    """Whether a term parses (upstream newNodeSelectorTerm sets no parseErr); one that does not
    never matches."""
    return all_of(
        (
            all_of(_requirement_valid(req) for req in term.match_expressions),
            all_of(_field_requirement_parses(req) for req in term.match_fields),
        )
    )


def _requirement_valid(req: NodeSelectorRequirement) -> Any:
    # upstream: nodeaffinity.go nodeSelectorRequirementsAsSelector and labels.NewRequirement
    op, values = req.operator, req.values
    if op in ("In", "NotIn"):
        shape = len(values) > 0
    elif op in ("Exists", "DoesNotExist"):
        shape = len(values) == 0
    elif op in ("Gt", "Lt"):
        shape = all_of((len(values) == 1, all_of(parse_int(v)[0] for v in values)))
    else:
        return False
    return all_of((shape, _requirement_parses(req)))


def _field_requirement_parses(req: NodeSelectorRequirement) -> bool:
    # upstream: nodeaffinity.go nodeSelectorRequirementsAsFieldSelector
    return req.operator in ("In", "NotIn") and len(req.values) == 1


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
