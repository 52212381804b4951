"""The api-server's validation of the fields the model uses, as one list of field errors.

Rules and messages follow upstream: pkg/apis/core/validation/validation.go (pods, nodes,
namespaces), pkg/apis/apps/validation/validation.go (Deployments, ReplicaSets),
pkg/apis/coordination/validation (Leases) and apimachinery's metav1 and util/validation (names,
labels, selectors). Pod specs (validation_pods.py), Deployments and ReplicaSets
(validation_workloads.py), Services and EndpointSlices (validation_services.py) have modules
of their own, built on this one's helpers.
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
    Deployment,
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
    PodSpec,
    ReplicaSet,
    Service,
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


_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


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


def _nonnegative(value: int | None, path: str) -> Errors:
    if value is not None and value < 0:  # upstream: ValidateNonnegativeField
        yield _invalid(path, value, "must be greater than or equal to 0")


def _port_number(value: int, path: str) -> Errors:
    if not 1 <= value <= 65535:  # upstream: IsValidPortNum
        yield _invalid(path, value, "must be between 1 and 65535, inclusive")


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
    # imported here: the modules of pods, workloads and Services build on this one's helpers
    from kubeproof.model.validation_pods import pod_spec_errors
    from kubeproof.model.validation_services import endpoint_slice_errors, service_errors
    from kubeproof.model.validation_workloads import deployment_errors, replica_set_errors

    if isinstance(obj, Pod):
        yield from _meta(obj.metadata, is_dns1123_subdomain, True)
        yield from pod_spec_errors(obj.spec, "spec")
    elif isinstance(obj, Deployment):
        yield from _meta(obj.metadata, is_dns1123_subdomain, True)
        yield from deployment_errors(obj)
    elif isinstance(obj, ReplicaSet):
        yield from _meta(obj.metadata, is_dns1123_subdomain, True)
        yield from replica_set_errors(obj)
    elif isinstance(obj, Node):
        yield from _meta(obj.metadata, is_dns1123_subdomain, False)
        yield from _node(obj)
    elif isinstance(obj, Namespace):
        yield from _meta(obj.metadata, is_dns1123_label, False)
    elif isinstance(obj, Lease):
        yield from _meta(obj.metadata, is_dns1123_subdomain, True)
        yield from _lease(obj)
    elif isinstance(obj, Service | EndpointSlice):
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
