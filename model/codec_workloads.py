"""Conversion of Deployments, ReplicaSets, Namespaces and Leases between manifest JSON and
the model's dataclasses (k8s.io/api apps/v1, core/v1 and coordination/v1 JSON names).

>>> d = decode_deployment(Fields({"spec": {"replicas": 3}}, ""))
>>> d.spec.replicas, encode_deployment(d, {})["spec"]["replicas"]
(3, 3)
"""

from __future__ import annotations

from kubeproof.model.codec import (
    Fields,
    base_of,
    decode_conditions,
    decode_label_selector,
    decode_meta,
    encode_conditions,
    encode_label_selector,
    encode_meta,
    encode_time,
    put,
)
from kubeproof.model.codec_pods import decode_pod_template, encode_pod_template
from kubeproof.model.objects import (
    Deployment,
    DeploymentSpec,
    DeploymentStatus,
    DeploymentStrategy,
    Lease,
    LeaseSpec,
    Namespace,
    NamespaceSpec,
    NamespaceStatus,
    ReplicaSet,
    ReplicaSetSpec,
    ReplicaSetStatus,
    RollingUpdateDeployment,
)

__all__ = [
    "decode_deployment",
    "decode_lease",
    "decode_namespace",
    "decode_replica_set",
    "encode_deployment",
    "encode_lease",
    "encode_namespace",
    "encode_replica_set",
]


def _empty(path: str) -> Fields:
    return Fields({}, path)


def _encode_status_counts(status: object, base: dict, names: dict[str, str]) -> dict:
    """Integer status fields (camelCase name -> attribute); zero or None is omitted."""
    for key, attribute in names.items():
        value = getattr(status, attribute)
        put(base, key, value, not value)
    return base


# --- deployments ---------------------------------------------------------------------------


def _strategy(f: Fields | None) -> DeploymentStrategy | None:
    if f is None:
        return None
    rolling = f.sub("rollingUpdate")
    return DeploymentStrategy(
        type=f.string("type"),
        rolling_update=None
        if rolling is None
        else RollingUpdateDeployment(
            max_surge=rolling.int_or_string("maxSurge"),
            max_unavailable=rolling.int_or_string("maxUnavailable"),
        ),
    )


def _encode_strategy(s: DeploymentStrategy) -> dict:
    out: dict = {}
    put(out, "type", s.type, not s.type)
    if s.rolling_update is not None:
        rolling: dict = {}
        surge, unavailable = s.rolling_update.max_surge, s.rolling_update.max_unavailable
        put(rolling, "maxSurge", surge, surge is None)
        put(rolling, "maxUnavailable", unavailable, unavailable is None)
        out["rollingUpdate"] = rolling
    return out


_DEPLOYMENT_COUNTS = {
    "observedGeneration": "observed_generation",
    "replicas": "replicas",
    "updatedReplicas": "updated_replicas",
    "readyReplicas": "ready_replicas",
    "availableReplicas": "available_replicas",
    "unavailableReplicas": "unavailable_replicas",
}


def decode_deployment(f: Fields) -> Deployment:
    """An apps/v1 Deployment."""
    spec = f.sub("spec") or _empty(f.at("spec"))
    status = f.sub("status") or _empty(f.at("status"))
    return Deployment(
        metadata=decode_meta(f.sub("metadata")),
        spec=DeploymentSpec(
            selector=decode_label_selector(spec.sub("selector")),
            template=decode_pod_template(spec.sub("template")),
            replicas=spec.opt_integer("replicas"),
            strategy=_strategy(spec.sub("strategy")),
            min_ready_seconds=spec.integer("minReadySeconds"),
            revision_history_limit=spec.opt_integer("revisionHistoryLimit"),
            progress_deadline_seconds=spec.opt_integer("progressDeadlineSeconds"),
            paused=spec.boolean("paused"),
        ),
        status=DeploymentStatus(
            observed_generation=status.integer("observedGeneration"),
            replicas=status.integer("replicas"),
            updated_replicas=status.integer("updatedReplicas"),
            ready_replicas=status.integer("readyReplicas"),
            available_replicas=status.integer("availableReplicas"),
            unavailable_replicas=status.integer("unavailableReplicas"),
            terminating_replicas=status.opt_integer("terminatingReplicas"),
            conditions=decode_conditions(status),
            collision_count=status.opt_integer("collisionCount"),
        ),
    )


def encode_deployment(d: Deployment, base: dict) -> dict:
    """An apps/v1 Deployment as JSON."""
    base["metadata"] = encode_meta(d.metadata, base_of(base, "metadata"))
    spec, s = base_of(base, "spec"), d.spec
    put(spec, "replicas", s.replicas, s.replicas is None)
    put(
        spec,
        "selector",
        None
        if s.selector is None
        else encode_label_selector(s.selector, base_of(spec, "selector")),
        s.selector is None,
    )
    spec["template"] = encode_pod_template(s.template, base_of(spec, "template"))
    put(
        spec,
        "strategy",
        None if s.strategy is None else _encode_strategy(s.strategy),
        s.strategy is None,
    )
    put(spec, "minReadySeconds", s.min_ready_seconds, not s.min_ready_seconds)
    limit, deadline = s.revision_history_limit, s.progress_deadline_seconds
    put(spec, "revisionHistoryLimit", limit, limit is None)
    put(spec, "progressDeadlineSeconds", deadline, deadline is None)
    put(spec, "paused", True, not s.paused)
    base["spec"] = spec
    status = _encode_status_counts(d.status, base_of(base, "status"), _DEPLOYMENT_COUNTS)
    terminating, collisions = d.status.terminating_replicas, d.status.collision_count
    put(status, "terminatingReplicas", terminating, terminating is None)
    put(status, "collisionCount", collisions, collisions is None)
    conditions = encode_conditions(d.status.conditions, status.get("conditions"))
    put(status, "conditions", conditions, not conditions)
    put(base, "status", status, not status)
    return base


# --- replica sets --------------------------------------------------------------------------

_REPLICA_SET_COUNTS = {
    "replicas": "replicas",
    "fullyLabeledReplicas": "fully_labeled_replicas",
    "readyReplicas": "ready_replicas",
    "availableReplicas": "available_replicas",
    "observedGeneration": "observed_generation",
}


def decode_replica_set(f: Fields) -> ReplicaSet:
    """An apps/v1 ReplicaSet."""
    spec = f.sub("spec") or _empty(f.at("spec"))
    status = f.sub("status") or _empty(f.at("status"))
    return ReplicaSet(
        metadata=decode_meta(f.sub("metadata")),
        spec=ReplicaSetSpec(
            selector=decode_label_selector(spec.sub("selector")),
            template=decode_pod_template(spec.sub("template")),
            replicas=spec.opt_integer("replicas"),
            min_ready_seconds=spec.integer("minReadySeconds"),
        ),
        status=ReplicaSetStatus(
            replicas=status.integer("replicas"),
            fully_labeled_replicas=status.integer("fullyLabeledReplicas"),
            ready_replicas=status.integer("readyReplicas"),
            available_replicas=status.integer("availableReplicas"),
            terminating_replicas=status.opt_integer("terminatingReplicas"),
            observed_generation=status.integer("observedGeneration"),
            conditions=decode_conditions(status),
        ),
    )


def encode_replica_set(rs: ReplicaSet, base: dict) -> dict:
    """An apps/v1 ReplicaSet as JSON."""
    base["metadata"] = encode_meta(rs.metadata, base_of(base, "metadata"))
    spec, s = base_of(base, "spec"), rs.spec
    put(spec, "replicas", s.replicas, s.replicas is None)
    put(
        spec,
        "selector",
        None
        if s.selector is None
        else encode_label_selector(s.selector, base_of(spec, "selector")),
        s.selector is None,
    )
    spec["template"] = encode_pod_template(s.template, base_of(spec, "template"))
    put(spec, "minReadySeconds", s.min_ready_seconds, not s.min_ready_seconds)
    base["spec"] = spec
    status = _encode_status_counts(rs.status, base_of(base, "status"), _REPLICA_SET_COUNTS)
    terminating = rs.status.terminating_replicas
    put(status, "terminatingReplicas", terminating, terminating is None)
    conditions = encode_conditions(rs.status.conditions, status.get("conditions"))
    put(status, "conditions", conditions, not conditions)
    put(base, "status", status, not status)
    return base


# --- namespaces and leases -----------------------------------------------------------------


def decode_namespace(f: Fields) -> Namespace:
    """A v1 Namespace."""
    spec = f.sub("spec") or _empty(f.at("spec"))
    status = f.sub("status") or _empty(f.at("status"))
    return Namespace(
        metadata=decode_meta(f.sub("metadata")),
        spec=NamespaceSpec(finalizers=spec.strings("finalizers")),
        status=NamespaceStatus(phase=status.string("phase"), conditions=decode_conditions(status)),
    )


def encode_namespace(ns: Namespace, base: dict) -> dict:
    """A v1 Namespace as JSON."""
    base["metadata"] = encode_meta(ns.metadata, base_of(base, "metadata"))
    spec = base_of(base, "spec")
    put(spec, "finalizers", list(ns.spec.finalizers), not ns.spec.finalizers)
    put(base, "spec", spec, not spec and "spec" not in base)
    status = base_of(base, "status")
    put(status, "phase", ns.status.phase, not ns.status.phase)
    conditions = encode_conditions(ns.status.conditions, status.get("conditions"))
    put(status, "conditions", conditions, not conditions)
    put(base, "status", status, not status and "status" not in base)
    return base


def decode_lease(f: Fields) -> Lease:
    """A coordination.k8s.io/v1 Lease (MicroTime fields truncated to whole seconds)."""
    spec = f.sub("spec") or _empty(f.at("spec"))
    return Lease(
        metadata=decode_meta(f.sub("metadata")),
        spec=LeaseSpec(
            holder_identity=spec.opt_string("holderIdentity"),
            lease_duration_seconds=spec.opt_integer("leaseDurationSeconds"),
            acquire_time=spec.time("acquireTime"),
            renew_time=spec.time("renewTime"),
            lease_transitions=spec.opt_integer("leaseTransitions"),
        ),
    )


def encode_lease(lease: Lease, base: dict) -> dict:
    """A coordination.k8s.io/v1 Lease as JSON."""
    base["metadata"] = encode_meta(lease.metadata, base_of(base, "metadata"))
    spec, s = base_of(base, "spec"), lease.spec
    put(spec, "holderIdentity", s.holder_identity, s.holder_identity is None)
    put(spec, "leaseDurationSeconds", s.lease_duration_seconds, s.lease_duration_seconds is None)
    for key, value in (("acquireTime", s.acquire_time), ("renewTime", s.renew_time)):
        put(spec, key, None if value is None else encode_time(value, micro=True), value is None)
    put(spec, "leaseTransitions", s.lease_transitions, s.lease_transitions is None)
    put(base, "spec", spec, not spec and "spec" not in base)
    return base
