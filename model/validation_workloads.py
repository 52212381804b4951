"""The api-server's validation of Deployments and ReplicaSets (part of validation.py's
``validate``).

Rules and messages follow upstream pkg/apis/apps/validation/validation.go.

>>> from kubeproof.model.objects import ObjectMeta, ReplicaSet, ReplicaSetSpec
>>> rs = ReplicaSet(ObjectMeta(name="web", namespace="default"), ReplicaSetSpec(replicas=-1))
>>> [e.path for e in replica_set_errors(rs)][:1]
['spec.replicas']
"""

from __future__ import annotations

import re

from kubeproof.model.objects import (
    Deployment,
    DeploymentStrategy,
    LabelSelector,
    PodTemplateSpec,
    ReplicaSet,
)
from kubeproof.model.validation import (
    Errors,
    FieldError,
    _invalid,
    _label_selector,
    _labels,
    _nonnegative,
    _not_supported,
    _regex_error,
    _required,
    selector_matches,
)
from kubeproof.model.validation_pods import pod_spec_errors

__all__ = ["deployment_errors", "replica_set_errors"]


# --- workloads (upstream: pkg/apis/apps/validation/validation.go) --------------------------


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
    yield from pod_spec_errors(template.spec, f"{path}.spec")
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


def deployment_errors(d: Deployment) -> Errors:
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


def replica_set_errors(rs: ReplicaSet) -> Errors:
    yield from _nonnegative(rs.spec.replicas, "spec.replicas")
    yield from _nonnegative(rs.spec.min_ready_seconds, "spec.minReadySeconds")
    yield from _template(rs.spec.selector, rs.spec.template, "spec.template")
