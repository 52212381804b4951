"""The api-server's validation of the fields the model uses, as one list of field errors.

Rules and messages follow upstream: pkg/apis/core/validation/validation.go (pods, nodes,
namespaces), pkg/apis/apps/validation/validation.go (Deployments, ReplicaSets),
pkg/apis/coordination/validation (Leases) and apimachinery's metav1 and util/validation (names,
labels, selectors); Services and EndpointSlices have their own module, validation_services.py.
Paths are manifest paths (``spec.template.spec.tolerations[1].operator``). A value upstream
fills in by defaulting before it validates (an empty restartPolicy, strategy type or port
protocol) is accepted here as its default.

>>> from kubeproof.model.objects import ObjectMeta, Pod, PodSpec, Toleration, Container
>>> pod = Pod(ObjectMeta(name="web"), PodSpec(containers=(Container("web", "nginx"),),
...           tolerations=(Toleration(key="k", operator="Equals"),)))
>>> validate(pod)
(FieldError(path='spec.tolerations[0].operator', message='must be one of Exists, Equal'),)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from kubeproof.model.objects import (
    Affinity,
    Container,
    Deployment,
    DeploymentStrategy,
    EndpointSlice,
    FrozenMap,
    GenericObject,
    LabelSelector,
    Lease,
    Namespace,
    Node,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    Object,
    ObjectMeta,
    Pod,
    PodAffinityTerm,
    PodSpec,
    PodTemplateSpec,
    ReplicaSet,
    Service,
    Toleration,
    TopologySpreadConstraint,
)

__all__ = [
    "FieldError",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_qualified_name",
    "is_valid_label_value",
    "selector_matches",
    "validate",
]


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid field: ``path`` as in a manifest (``spec.tolerations[1].operator``)."""

    path: str
    message: str


Errors = Iterator[FieldError]

# --- messages (upstream: apimachinery/pkg/util/validation/field/errors.go) ------------------


def _show(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str | int | float | bool) else repr(value)


def _invalid(path: str, value: Any, detail: str) -> FieldError:
    """field.Invalid; ``value`` None leaves it out of the message."""
    return FieldError(path, detail if value is None else f"invalid value {_show(value)}: {detail}")


def _required(path: str, detail: str = "") -> FieldError:
    """field.Required."""
    return FieldError(path, detail or "required value")


def _not_supported(path: str, supported: Iterable[str]) -> FieldError:
    """field.NotSupported."""
    return FieldError(path, f"must be one of {', '.join(supported)}")


def _duplicate(path: str, value: Any) -> FieldError:
    """field.Duplicate."""
    return FieldError(path, f"duplicate value {_show(value)}")


# --- names, labels (upstream: apimachinery/pkg/util/validation/validation.go) --------------

_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_FMT = _LABEL_FMT + r"(\." + _LABEL_FMT + ")*"
_QUALIFIED_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_VALUE_FMT = "(" + _QUALIFIED_FMT + ")?"
_LABEL_RE = re.compile(_LABEL_FMT)
_SUBDOMAIN_RE = re.compile(_SUBDOMAIN_FMT)
_QUALIFIED_RE = re.compile(_QUALIFIED_FMT)
_VALUE_RE = re.compile(_VALUE_FMT)


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    """upstream: validation.go RegexError (its double space after each example's comma kept)."""
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


_LABEL_MSG = _regex_error(
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character",
    _LABEL_FMT,
    "my-name",
    "123-abc",
)
_SUBDOMAIN_MSG = _regex_error(
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character",
    _SUBDOMAIN_FMT,
    "example.com",
)
_QUALIFIED_MSG = _regex_error(
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character",
    _QUALIFIED_FMT,
    "MyName",
    "my.name",
    "123-abc",
)
_VALUE_MSG = _regex_error(
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character",
    _VALUE_FMT,
    "MyValue",
    "my_value",
    "12345",
)


def is_dns1123_label(value: str) -> list[str]:
    """upstream: IsDNS1123Label; the problems, none when valid."""
    errs = [] if len(value) <= 63 else ["must be no more than 63 characters"]
    return errs if _LABEL_RE.fullmatch(value) else [*errs, _LABEL_MSG]


def is_dns1123_subdomain(value: str) -> list[str]:
    """upstream: IsDNS1123Subdomain; the problems, none when valid."""
    errs = [] if len(value) <= 253 else ["must be no more than 253 characters"]
    return errs if _SUBDOMAIN_RE.fullmatch(value) else [*errs, _SUBDOMAIN_MSG]


def is_qualified_name(value: str) -> list[str]:
    """upstream: IsQualifiedName (label keys, annotation keys, topology keys ...)."""
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
        prefix_errs: list[str] = []
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            prefix_errs = ["prefix part must be non-empty"]
        else:
            prefix_errs = ["prefix part " + m for m in is_dns1123_subdomain(prefix)]
    else:
        return [
            f"a qualified name {_QUALIFIED_MSG} with an optional DNS subdomain prefix and '/' "
            "(e.g. 'example.com/MyName')"
        ]
    if not name:
        return [*prefix_errs, "name part must be non-empty"]
    errs = prefix_errs + (
        [] if len(name) <= 63 else ["name part must be no more than 63 characters"]
    )
    return errs if _QUALIFIED_RE.fullmatch(name) else [*errs, "name part " + _QUALIFIED_MSG]


def is_valid_label_value(value: str) -> list[str]:
    """upstream: IsValidLabelValue."""
    errs = [] if len(value) <= 63 else ["must be no more than 63 characters"]
    return errs if _VALUE_RE.fullmatch(value) else [*errs, _VALUE_MSG]


def _each(path: str, value: str, problems: list[str]) -> Errors:
    for problem in problems:
        yield _invalid(path, value, problem)


def _labels(labels: Mapping[str, str], path: str) -> Errors:
    """upstream: metav1 validation ValidateLabels."""
    for key, value in labels.items():
        yield from _each(path, key, is_qualified_name(key))
        yield from _each(f"{path}[{key}]", value, is_valid_label_value(value))


# --- metadata (upstream: apimachinery/pkg/api/validation/objectmeta.go) --------------------


def _meta(meta: ObjectMeta, name_check: Any, namespaced: bool | None) -> Errors:
    if not meta.name and not meta.generate_name:
        yield _required("metadata.name", "name or generateName is required")
    elif meta.name:
        yield from _each("metadata.name", meta.name, name_check(meta.name))
    if namespaced and meta.namespace:
        yield from _each("metadata.namespace", meta.namespace, is_dns1123_label(meta.namespace))
    yield from _labels(meta.labels, "metadata.labels")
    size = 0
    for key, value in meta.annotations.items():
        yield from _each("metadata.annotations", key, is_qualified_name(key.lower()))
        size += len(key) + len(value)
    if size > 256 * 1024:  # upstream: ValidateAnnotationsSize, TotalAnnotationSizeLimitB
        yield FieldError("metadata.annotations", "must have at most 262144 bytes")
    controllers = 0
    for i, ref in enumerate(meta.owner_references):
        path = f"metadata.ownerReferences[{i}]"
        # upstream: objectmeta.go validateOwnerReference
        for attr, what in (("api_version", "version"), ("kind", "kind"), ("name", "name")):
            if not getattr(ref, attr):
                yield _invalid(f"{path}.{attr.replace('_v', 'V')}", "", f"{what} must not be empty")
        if not ref.uid:
            yield _invalid(f"{path}.uid", "", "uid must not be empty")
        controllers += ref.controller
    if controllers > 1:
        yield _invalid(
            "metadata.ownerReferences", None, "Only one reference can have Controller set to true"
        )
    for i, finalizer in enumerate(meta.finalizers):
        yield from _each(f"metadata.finalizers[{i}]", finalizer, is_qualified_name(finalizer))


def _path_segment_name(name: str) -> list[str]:
    """upstream: path/name.go IsValidPathSegmentName (the least any kind's name must meet)."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in "/%" if c in name]


# --- selectors -----------------------------------------------------------------------------


def _label_selector(selector: LabelSelector | None, path: str) -> Errors:
    """upstream: metav1 validation ValidateLabelSelector and ValidateLabelSelectorRequirement."""
    if selector is None:
        return
    for i, r in enumerate(selector.match_expressions):
        p = f"{path}.matchExpressions[{i}]"
        if r.operator in ("In", "NotIn"):
            if not r.values:
                yield _required(
                    f"{p}.values", "must be specified when `operator` is 'In' or 'NotIn'"
                )
        elif r.operator in ("Exists", "DoesNotExist"):
            if r.values:
                yield FieldError(
                    f"{p}.values",
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
        else:
            yield _invalid(f"{p}.operator", r.operator, "not a valid selector operator")
        yield from _each(f"{p}.key", r.key, is_qualified_name(r.key))
        for j, value in enumerate(r.values):
            yield from _each(f"{p}.values[{j}]", value, is_valid_label_value(value))
    yield from _labels(selector.match_labels, f"{path}.matchLabels")


def selector_matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """Whether a label selector selects ``labels`` (metav1.LabelSelectorAsSelector semantics)."""
    if any(labels.get(k) != v for k, v in selector.match_labels.items()):
        return False
    for r in selector.match_expressions:
        present = r.key in labels
        if r.operator == "In" and not (present and labels[r.key] in r.values):
            return False
        if r.operator == "NotIn" and present and labels[r.key] in r.values:
            return False
        if r.operator == "Exists" and not present:
            return False
        if r.operator == "DoesNotExist" and present:
            return False
    return True


def _node_requirement(r: NodeSelectorRequirement, path: str) -> Errors:
    """upstream: validation.go ValidateNodeSelectorRequirement."""
    if r.operator in ("In", "NotIn"):
        if not r.values:
            yield _required(
                f"{path}.values", "must be specified when `operator` is 'In' or 'NotIn'"
            )
    elif r.operator in ("Exists", "DoesNotExist"):
        if r.values:
            yield FieldError(
                f"{path}.values",
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )
    elif r.operator in ("Gt", "Lt"):
        if len(r.values) != 1:
            yield _required(
                f"{path}.values", "must be specified single value when `operator` is 'Lt' or 'Gt'"
            )
        elif not re.fullmatch(r"[+-]?[0-9]+", r.values[0]):
            # Stricter than the api-server, which stores any single value: the scheduler's
            # labels.NewRequirement rejects a non-integer, so such a term can never match.
            yield _invalid(f"{path}.values[0]", r.values[0], "must be an integer for 'Gt' or 'Lt'")
    else:
        yield _invalid(f"{path}.operator", r.operator, "not a valid selector operator")
    yield from _each(f"{path}.key", r.key, is_qualified_name(r.key))


def _node_field_requirement(r: NodeSelectorRequirement, path: str) -> Errors:
    """upstream: validation.go ValidateNodeFieldSelectorRequirement (only metadata.name)."""
    if r.operator in ("In", "NotIn"):
        if len(r.values) != 1:
            yield _required(
                f"{path}.values",
                "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
            )
    else:
        yield _invalid(f"{path}.operator", r.operator, "not a valid selector operator")
    if r.key != "metadata.name":
        yield _invalid(f"{path}.key", r.key, "not a valid field selector key")
    for j, value in enumerate(r.values):
        yield from _each(f"{path}.values[{j}]", value, is_dns1123_subdomain(value))


def _node_selector_term(term: NodeSelectorTerm, path: str) -> Errors:
    for i, r in enumerate(term.match_expressions):
        yield from _node_requirement(r, f"{path}.matchExpressions[{i}]")
    for i, r in enumerate(term.match_fields):
        yield from _node_field_requirement(r, f"{path}.matchFields[{i}]")


# --- affinity, tolerations, topology spread ------------------------------------------------


def _weight(weight: int, path: str) -> Errors:
    if not 1 <= weight <= 100:
        yield _invalid(path, weight, "must be in the range 1-100")


def _pod_affinity_term(t: PodAffinityTerm, path: str) -> Errors:
    """upstream: validation.go validatePodAffinityTerm."""
    yield from _label_selector(t.label_selector, f"{path}.labelSelector")
    yield from _label_selector(t.namespace_selector, f"{path}.namespaceSelector")
    for i, ns in enumerate(t.namespaces):
        yield from _each(f"{path}.namespaces[{i}]", ns, is_dns1123_label(ns))
    if not t.topology_key:
        yield _required(f"{path}.topologyKey", "can not be empty")
    else:
        yield from _each(f"{path}.topologyKey", t.topology_key, is_qualified_name(t.topology_key))
    # upstream: validateMatchLabelKeysAndMismatchLabelKeys
    for field_name, keys in (
        ("matchLabelKeys", t.match_label_keys),
        ("mismatchLabelKeys", t.mismatch_label_keys),
    ):
        if keys and t.label_selector is None:
            yield FieldError(
                f"{path}.{field_name}", "must not be specified when labelSelector is not set"
            )
        for i, key in enumerate(keys):
            yield from _each(f"{path}.{field_name}[{i}]", key, is_qualified_name(key))
    for i, key in enumerate(t.match_label_keys):
        if key in t.mismatch_label_keys:
            yield _invalid(
                f"{path}.matchLabelKeys[{i}]",
                key,
                "exists in both matchLabelKeys and mismatchLabelKeys",
            )


def _affinity(a: Affinity | None, path: str) -> Errors:
    """upstream: validation.go validateAffinity, validateNodeAffinity, validatePodAffinity."""
    if a is None:
        return
    if a.node_affinity is not None:
        p = f"{path}.nodeAffinity"
        required = a.node_affinity.required
        if required is not None:
            rp = f"{p}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
            if not required.node_selector_terms:
                yield _required(rp, "must have at least one node selector term")
            for i, term in enumerate(required.node_selector_terms):
                yield from _node_selector_term(term, f"{rp}[{i}]")
        for i, pref in enumerate(a.node_affinity.preferred):
            pp = f"{p}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
            yield from _weight(pref.weight, f"{pp}.weight")
            yield from _node_selector_term(pref.preference, f"{pp}.preference")
    for name, pod_affinity in (
        ("podAffinity", a.pod_affinity),
        ("podAntiAffinity", a.pod_anti_affinity),
    ):
        if pod_affinity is None:
            continue
        p = f"{path}.{name}"
        for i, term in enumerate(pod_affinity.required):
            yield from _pod_affinity_term(
                term, f"{p}.requiredDuringSchedulingIgnoredDuringExecution[{i}]"
            )
        for i, weighted in enumerate(pod_affinity.preferred):
            wp = f"{p}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
            yield from _weight(weighted.weight, f"{wp}.weight")
            yield from _pod_affinity_term(weighted.pod_affinity_term, f"{wp}.podAffinityTerm")


_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _tolerations(tolerations: tuple[Toleration, ...], path: str) -> Errors:
    """upstream: validation.go ValidateTolerations."""
    for i, t in enumerate(tolerations):
        p = f"{path}[{i}]"
        if t.key:
            yield from _each(f"{p}.key", t.key, is_qualified_name(t.key))
        # An empty key with operator Exists matches all keys and values.
        if not t.key and t.operator != "Exists":
            yield _invalid(
                f"{p}.operator",
                t.operator,
                'operator must be Exists when `key` is empty, which means "match all values and '
                'all keys"',
            )
        if t.toleration_seconds is not None and t.effect != "NoExecute":
            yield _invalid(
                f"{p}.effect",
                t.effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            )
        if t.operator in ("Equal", ""):
            yield from _each(f"{p}.operator", t.value, is_valid_label_value(t.value))
        elif t.operator == "Exists":
            if t.value:
                yield FieldError(f"{p}.operator", "value must be empty when `operator` is 'Exists'")
        else:
            # Gt and Lt are alpha (feature gate TaintTolerationComparisonOperators, off by default).
            yield _not_supported(f"{p}.operator", ("Exists", "Equal"))
        if t.effect and t.effect not in _EFFECTS:
            yield _not_supported(f"{p}.effect", _EFFECTS)


def _topology_spread(constraints: tuple[TopologySpreadConstraint, ...], path: str) -> Errors:
    """upstream: validation.go validateTopologySpreadConstraints."""
    for i, c in enumerate(constraints):
        p = f"{path}[{i}]"
        if c.max_skew <= 0:
            yield _invalid(f"{p}.maxSkew", c.max_skew, "must be greater than zero")
        if not c.topology_key:
            yield _required(f"{p}.topologyKey", "can not be empty")
        if c.when_unsatisfiable not in ("DoNotSchedule", "ScheduleAnyway"):
            yield _not_supported(f"{p}.whenUnsatisfiable", ("DoNotSchedule", "ScheduleAnyway"))
        for other in constraints[i + 1 :]:
            if (other.topology_key, other.when_unsatisfiable) == (
                c.topology_key,
                c.when_unsatisfiable,
            ):
                yield _duplicate(
                    f"{p}.{{topologyKey, whenUnsatisfiable}}",
                    f"{c.topology_key}, {c.when_unsatisfiable}",
                )
                break
        if c.min_domains is not None:  # upstream: validateMinDomains
            if c.min_domains <= 0:
                yield _invalid(f"{p}.minDomains", c.min_domains, "must be greater than zero")
            if c.when_unsatisfiable != "DoNotSchedule":
                yield _invalid(
                    f"{p}.minDomains",
                    c.min_domains,
                    "can only use minDomains if whenUnsatisfiable=DoNotSchedule, "
                    f"not {c.when_unsatisfiable}",
                )
        for name, policy in (
            ("nodeAffinityPolicy", c.node_affinity_policy),
            ("nodeTaintsPolicy", c.node_taints_policy),
        ):
            if policy is not None and policy not in ("Honor", "Ignore"):
                yield _not_supported(f"{p}.{name}", ("Honor", "Ignore"))
        # upstream: validateMatchLabelKeysInTopologySpread
        if c.match_label_keys and c.label_selector is None:
            yield FieldError(
                f"{p}.matchLabelKeys", "must not be specified when labelSelector is not set"
            )
        selector_keys = set()
        if c.label_selector is not None:
            selector_keys = set(c.label_selector.match_labels) | {
                r.key for r in c.label_selector.match_expressions
            }
        for j, key in enumerate(c.match_label_keys):
            yield from _each(f"{p}.matchLabelKeys[{j}]", key, is_qualified_name(key))
            if key in selector_keys:
                yield _invalid(
                    f"{p}.matchLabelKeys[{j}]",
                    key,
                    "exists in both matchLabelKeys and labelSelector",
                )
        yield from _label_selector(c.label_selector, f"{p}.labelSelector")


# --- resources (upstream: validation.go ValidateResourceRequirements, helper/helpers.go) ---


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _is_hugepages(name: str) -> bool:
    return name.startswith("hugepages-")


def _is_extended(name: str) -> bool:
    return (
        not _is_native(name)
        and not name.startswith("requests.")
        and not is_qualified_name("requests." + name)
    )


def _overcommit_allowed(name: str) -> bool:
    return _is_native(name) and not _is_hugepages(name)


def _resource_name(name: str, path: str, container: bool) -> Errors:
    """upstream: validateResourceName, validateContainerResourceName."""
    problems = is_qualified_name(name)
    yield from _each(path, name, problems)
    if problems:
        return
    standard = name in ("cpu", "memory", "ephemeral-storage") or _is_hugepages(name)
    if "/" not in name and not standard and (container or name not in ("pods", "storage")):
        yield _invalid(
            path,
            name,
            "must be a standard resource for containers"
            if container
            else "must be a standard resource type or fully qualified",
        )
    elif "/" in name and not _is_native(name) and not _is_extended(name):
        yield _invalid(path, name, "doesn't follow extended resource name standard")


def _quantities(amounts: FrozenMap, path: str, container: bool = True) -> Errors:
    """Resource names, and each quantity non-negative (whole for extended resources)."""
    for name, q in amounts.items():
        p = f"{path}[{name}]"
        yield from _resource_name(name, p, container)
        if q.nanos < 0:  # upstream: ValidateNonnegativeQuantity
            yield _invalid(p, str(q), "must be greater than or equal to 0")
        if _is_extended(name) and q.nanos % 10**9:  # upstream: ValidateResourceQuantityValue
            yield _invalid(p, str(q), "must be an integer")


def _container_resources(c: Container, path: str) -> Errors:
    yield from _quantities(c.limits, f"{path}.resources.limits")
    yield from _quantities(c.requests, f"{path}.resources.requests")
    for name, request in c.requests.items():
        p = f"{path}.resources.requests[{name}]"
        limit = c.limits.get(name)
        if limit is None:
            if not _overcommit_allowed(name):
                yield _required(
                    f"{path}.resources.limits[{name}]",
                    "Limit must be set for non overcommitable resources",
                )
        elif request != limit and not _overcommit_allowed(name):
            yield _invalid(p, str(request), f"must be equal to {name} limit of {limit}")
        elif request > limit:
            yield _invalid(
                p, str(request), f"must be less than or equal to {name} limit of {limit}"
            )


def _pod_resources(spec: PodSpec, path: str) -> Errors:
    """upstream: validation.go validatePodResources (PodLevelResources, beta and on since 1.34):
    cpu, memory and hugepages only; requests no more than limits."""
    for field_name, amounts in (("limits", spec.limits), ("requests", spec.requests)):
        for name in amounts:
            if name not in ("cpu", "memory") and not _is_hugepages(name):
                yield _not_supported(
                    f"{path}.{field_name}[{name}]", ("cpu", "memory", "hugepages-*")
                )
        yield from _quantities(amounts, f"{path}.{field_name}")
    for name, request in spec.requests.items():
        limit = spec.limits.get(name)
        if limit is not None and request > limit:
            yield _invalid(
                f"{path}.requests[{name}]",
                str(request),
                f"must be less than or equal to {name} limit of {limit}",
            )


def _port_number(value: int, path: str) -> Errors:
    if not 1 <= value <= 65535:  # upstream: IsValidPortNum
        yield _invalid(path, value, "must be between 1 and 65535, inclusive")


def _containers(spec: PodSpec, path: str) -> Errors:
    """upstream: validation.go validateContainers, validateInitContainers, validateContainerPorts"""
    if not spec.containers:
        yield _required(f"{path}.containers")
    seen: set[str] = set()
    for field_name, containers in (
        ("initContainers", spec.init_containers),
        ("containers", spec.containers),
    ):
        for i, c in enumerate(containers):
            p = f"{path}.{field_name}[{i}]"
            if not c.name:
                yield _required(f"{p}.name")
            elif c.name in seen:
                yield _duplicate(f"{p}.name", c.name)
            else:
                yield from _each(f"{p}.name", c.name, is_dns1123_label(c.name))
            seen.add(c.name)
            if not c.image:
                yield _required(f"{p}.image")
            yield from _container_resources(c, p)
            for j, port in enumerate(c.ports):
                pp = f"{p}.ports[{j}]"
                if port.container_port == 0:
                    yield _required(f"{pp}.containerPort")
                else:
                    yield from _port_number(port.container_port, f"{pp}.containerPort")
                if port.host_port:
                    yield from _port_number(port.host_port, f"{pp}.hostPort")
                    if spec.host_network and port.host_port != port.container_port:
                        yield _invalid(
                            f"{pp}.hostPort",
                            port.host_port,
                            "must match `containerPort` when `hostNetwork` is true",
                        )
                if port.protocol not in ("TCP", "UDP", "SCTP"):
                    yield _not_supported(f"{pp}.protocol", ("TCP", "UDP", "SCTP"))
            if c.restart_policy is not None:
                if field_name == "containers":
                    yield FieldError(f"{p}.restartPolicy", "may not be set for non-init containers")
                elif c.restart_policy != "Always":
                    yield _not_supported(f"{p}.restartPolicy", ("Always",))


def _pod_spec(spec: PodSpec, path: str) -> Errors:
    """upstream: validation.go ValidatePodSpec (the fields the model uses)."""
    yield from _containers(spec, path)
    if spec.restart_policy not in ("", "Always", "OnFailure", "Never"):
        yield _not_supported(f"{path}.restartPolicy", ("Always", "OnFailure", "Never"))
    if spec.node_name:
        yield from _each(f"{path}.nodeName", spec.node_name, is_dns1123_subdomain(spec.node_name))
    yield from _labels(spec.node_selector, f"{path}.nodeSelector")
    yield from _affinity(spec.affinity, f"{path}.affinity")
    yield from _tolerations(spec.tolerations, f"{path}.tolerations")
    yield from _topology_spread(
        spec.topology_spread_constraints, f"{path}.topologySpreadConstraints"
    )
    gates: set[str] = set()
    for i, gate in enumerate(spec.scheduling_gates):  # upstream: validateSchedulingGates
        yield from _each(f"{path}.schedulingGates[{i}]", gate, is_qualified_name(gate))
        if gate in gates:
            yield _duplicate(f"{path}.schedulingGates[{i}]", gate)
        gates.add(gate)
    yield from _quantities(spec.overhead, f"{path}.overhead")
    yield from _pod_resources(spec, f"{path}.resources")
    if spec.priority_class_name:
        yield from _each(
            f"{path}.priorityClassName",
            spec.priority_class_name,
            is_dns1123_subdomain(spec.priority_class_name),
        )


# --- workloads (upstream: pkg/apis/apps/validation/validation.go) --------------------------


def _nonnegative(value: int | None, path: str) -> Errors:
    if value is not None and value < 0:  # upstream: ValidateNonnegativeField
        yield _invalid(path, value, "must be greater than or equal to 0")


def _template(selector: LabelSelector | None, template: PodTemplateSpec, path: str) -> Errors:
    """upstream: ValidateDeploymentSpec / ValidateReplicaSetSpec selector checks and
    ValidatePodTemplateSpecForReplicaSet."""
    if selector is None:
        yield _required("spec.selector")
    else:
        yield from _label_selector(selector, "spec.selector")
        if not selector.match_labels and not selector.match_expressions:
            yield _invalid("spec.selector", None, "empty selector is invalid for deployment.")
        elif not selector_matches(selector, template.metadata.labels):
            yield _invalid(
                f"{path}.metadata.labels", None, "`selector` does not match template `labels`"
            )
    yield from _labels(template.metadata.labels, f"{path}.metadata.labels")
    yield from _pod_spec(template.spec, f"{path}.spec")
    # Replicas are always restarted: upstream allows only Always (an empty policy defaults to it).
    if template.spec.restart_policy not in ("", "Always"):
        yield _not_supported(f"{path}.spec.restartPolicy", ("Always",))


_PERCENT_MSG = _regex_error(
    "a valid percent string must be a numeric string followed by an ending '%'",
    "[0-9]+%",
    "1%",
    "93%",
)


def _percent_or_int(value: int | str | None, path: str) -> Errors:
    """upstream: ValidatePositiveIntOrPercent."""
    if isinstance(value, str):
        if not re.fullmatch(r"[0-9]+%", value):
            yield _invalid(
                path,
                value,
                _PERCENT_MSG,
            )
    else:
        yield from _nonnegative(value, path)


def _percent_value(value: int | str | None, default: int | str) -> int:
    """The number in an IntOrString (a percentage's number), for the "not both 0" rule."""
    value = default if value is None else value
    if isinstance(value, int):
        return value
    return int(value[:-1]) if re.fullmatch(r"[0-9]+%", value) else -1


def _strategy(strategy: DeploymentStrategy | None) -> Errors:
    """upstream: ValidateDeploymentStrategy and ValidateRollingUpdateDeployment; defaults
    (pkg/apis/apps/v1/defaults.go): type RollingUpdate, maxSurge and maxUnavailable 25%."""
    path = "spec.strategy"
    strategy = strategy or DeploymentStrategy()
    if strategy.type == "Recreate":
        if strategy.rolling_update is not None:
            yield FieldError(
                f"{path}.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"
            )
    elif strategy.type in ("RollingUpdate", ""):
        rolling = strategy.rolling_update
        if rolling is None:
            return
        p = f"{path}.rollingUpdate"
        yield from _percent_or_int(rolling.max_unavailable, f"{p}.maxUnavailable")
        yield from _percent_or_int(rolling.max_surge, f"{p}.maxSurge")
        unavailable = _percent_value(rolling.max_unavailable, "25%")
        if unavailable == 0 and _percent_value(rolling.max_surge, "25%") == 0:
            yield _invalid(
                f"{p}.maxUnavailable", rolling.max_unavailable, "may not be 0 when `maxSurge` is 0"
            )
        if isinstance(rolling.max_unavailable, str) and unavailable > 100:
            yield _invalid(
                f"{p}.maxUnavailable", rolling.max_unavailable, "must not be greater than 100%"
            )
    else:
        yield _not_supported(f"{path}.type", ("Recreate", "RollingUpdate"))


def _deployment(d: Deployment) -> Errors:
    s = d.spec
    yield from _nonnegative(s.replicas, "spec.replicas")
    yield from _template(s.selector, s.template, "spec.template")
    yield from _strategy(s.strategy)
    yield from _nonnegative(s.min_ready_seconds, "spec.minReadySeconds")
    yield from _nonnegative(s.revision_history_limit, "spec.revisionHistoryLimit")
    if s.progress_deadline_seconds is not None:
        yield from _nonnegative(s.progress_deadline_seconds, "spec.progressDeadlineSeconds")
        if s.progress_deadline_seconds <= s.min_ready_seconds:
            yield _invalid(
                "spec.progressDeadlineSeconds",
                s.progress_deadline_seconds,
                "must be greater than minReadySeconds",
            )


def _replica_set(rs: ReplicaSet) -> Errors:
    yield from _nonnegative(rs.spec.replicas, "spec.replicas")
    yield from _nonnegative(rs.spec.min_ready_seconds, "spec.minReadySeconds")
    yield from _template(rs.spec.selector, rs.spec.template, "spec.template")


# --- nodes, leases -------------------------------------------------------------------------


def _node(node: Node) -> Errors:
    """upstream: validation.go ValidateNode, validateNodeTaints."""
    seen: set[tuple[str, str]] = set()
    for i, taint in enumerate(node.spec.taints):
        p = f"spec.taints[{i}]"
        yield from _each(f"{p}.key", taint.key, is_qualified_name(taint.key))
        if taint.value:
            yield from _each(f"{p}.value", taint.value, is_valid_label_value(taint.value))
        if not taint.effect:
            yield _required(f"{p}.effect")
        elif taint.effect not in _EFFECTS:
            yield _not_supported(f"{p}.effect", _EFFECTS)
        if (taint.key, taint.effect) in seen:
            yield _duplicate(p, f"{taint.key}:{taint.effect}")
        seen.add((taint.key, taint.effect))
    yield from _quantities(node.status.capacity, "status.capacity", container=False)
    yield from _quantities(node.status.allocatable, "status.allocatable", container=False)


def _lease(lease: Lease) -> Errors:
    """upstream: pkg/apis/coordination/validation ValidateLeaseSpec."""
    duration = lease.spec.lease_duration_seconds
    if duration is not None and duration <= 0:
        yield _invalid("spec.leaseDurationSeconds", duration, "must be greater than 0")
    yield from _nonnegative(lease.spec.lease_transitions, "spec.leaseTransitions")


# --- updates -------------------------------------------------------------------------------

_POD_UPDATE_MSG = (
    "pod updates may not change fields other than `spec.containers[*].image`, "
    "`spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` "
    "(only additions to existing tolerations), `spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)


def _update(obj: Object, old: Object) -> Errors:
    """upstream: ValidateObjectMetaUpdate, ValidatePodUpdate (spec mostly immutable; scheduling
    gates may only be removed; nodeName is set by pods/binding, never by an update), and the
    selector immutability of apps/v1 workloads."""
    for attr in ("name", "namespace", "uid"):
        new_value, old_value = getattr(obj.metadata, attr), getattr(old.metadata, attr)
        # An update that leaves uid empty keeps the stored one (rest.BeforeUpdate).
        if new_value != old_value and (attr != "uid" or new_value):
            yield _invalid(f"metadata.{attr}", new_value, "field is immutable")
    if isinstance(obj, Service | EndpointSlice) and type(old) is type(obj):
        from kubeproof.model.validation_services import (
            endpoint_slice_update_errors,
            service_update_errors,
        )

        rule = service_update_errors if isinstance(obj, Service) else endpoint_slice_update_errors
        yield from rule(obj, old)
    workload = isinstance(obj, Deployment | ReplicaSet) and type(old) is type(obj)
    if workload and obj.spec.selector != old.spec.selector:
        yield _invalid("spec.selector", None, "field is immutable")
    if isinstance(obj, Pod) and isinstance(old, Pod):
        new, before = obj.spec, old.spec
        if not set(before.tolerations) <= set(new.tolerations):
            yield FieldError("spec.tolerations", _POD_UPDATE_MSG)
        if not set(new.scheduling_gates) <= set(before.scheduling_gates):
            yield FieldError(
                "spec.schedulingGates", "only deletion is allowed, but found new scheduling gate"
            )
        if new.node_name != before.node_name:  # only pods/binding sets it (BindingREST)
            yield FieldError("spec.nodeName", _POD_UPDATE_MSG)

        def mutable_cleared(s: PodSpec, images_from: PodSpec) -> PodSpec:
            images = {
                c.name: c.image for c in (*images_from.containers, *images_from.init_containers)
            }
            return replace(
                s,
                containers=tuple(
                    replace(c, image=images.get(c.name, c.image)) for c in s.containers
                ),
                init_containers=tuple(
                    replace(c, image=images.get(c.name, c.image)) for c in s.init_containers
                ),
                tolerations=(),
                scheduling_gates=(),
                node_name="",
                termination_grace_period_seconds=None,
            )

        if mutable_cleared(new, new) != mutable_cleared(before, new):
            yield FieldError("spec", _POD_UPDATE_MSG)


# --- entry point ---------------------------------------------------------------------------


def _errors(obj: Object) -> Errors:
    if isinstance(obj, Pod):
        yield from _meta(obj.metadata, is_dns1123_subdomain, True)
        yield from _pod_spec(obj.spec, "spec")
    elif isinstance(obj, Deployment):
        yield from _meta(obj.metadata, is_dns1123_subdomain, True)
        yield from _deployment(obj)
    elif isinstance(obj, ReplicaSet):
        yield from _meta(obj.metadata, is_dns1123_subdomain, True)
        yield from _replica_set(obj)
    elif isinstance(obj, Node):
        yield from _meta(obj.metadata, is_dns1123_subdomain, False)
        yield from _node(obj)
    elif isinstance(obj, Namespace):
        yield from _meta(obj.metadata, is_dns1123_label, False)
    elif isinstance(obj, Lease):
        yield from _meta(obj.metadata, is_dns1123_subdomain, True)
        yield from _lease(obj)
    elif isinstance(obj, Service | EndpointSlice):
        # imported here: validation_services builds on this module's helpers
        from kubeproof.model.validation_services import endpoint_slice_errors, service_errors

        yield from (service_errors if isinstance(obj, Service) else endpoint_slice_errors)(obj)
    elif isinstance(obj, GenericObject):
        # Each kind has its own name rule; every name must at least be a path segment.
        yield from _meta(obj.metadata, _path_segment_name, None)


def validate(obj: Object, old: Object | None = None) -> tuple[FieldError, ...]:
    """Every field error the api-server would report for ``obj`` (an update when ``old`` is set)."""
    errors = list(_errors(obj))
    if old is not None:
        errors.extend(_update(obj, old))
    return tuple(errors)
