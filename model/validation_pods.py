"""The api-server's validation of a pod spec: affinity, tolerations, topology spread,
container resources, containers (part of validation.py's ``validate``).

Rules and messages follow upstream pkg/apis/core/validation/validation.go; paths are manifest
paths, prefixed by the caller (``spec`` for a Pod, ``spec.template.spec`` for a workload).

>>> from kubeproof.model.objects import Container, PodSpec, Toleration
>>> spec = PodSpec(containers=(Container("web", "nginx"),),
...                tolerations=(Toleration(key="k", operator="Exists", value="v"),))
>>> [e.path for e in pod_spec_errors(spec, "spec")]
['spec.tolerations[0].operator']
"""

from __future__ import annotations

from kubeproof.model.objects import (
    Affinity,
    Container,
    PodAffinityTerm,
    PodSpec,
    Toleration,
    TopologySpreadConstraint,
)
from kubeproof.model.validation import (
    _EFFECTS,
    Errors,
    FieldError,
    _duplicate,
    _each,
    _invalid,
    _is_hugepages,
    _label_selector,
    _labels,
    _node_selector_term,
    _not_supported,
    _overcommit_allowed,
    _port_number,
    _quantities,
    _required,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
)

__all__ = ["pod_spec_errors"]


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


def pod_spec_errors(spec: PodSpec, path: str) -> Errors:
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
