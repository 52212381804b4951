"""What the Deployment and ReplicaSet controllers create, and how they name it.

A Deployment's ReplicaSet is named ``<deployment>-<pod-template-hash>`` and its pods
``<replicaset>-<5 characters>``. Upstream hashes the Go struct of the template with FNV-32a
(``controller.ComputeHash``) and the pod suffix is random (``generateName``); the model hashes a
canonical form of its own template the same way and derives the suffix from the hash of the
ReplicaSet name and the pod's index (upstream: rand.String(5)), so names look like upstream's
and are repeatable.

>>> from kubeproof.model.objects import *
>>> template = PodTemplateSpec(ObjectMeta(labels=FrozenMap(app="nginx")),
...                            PodSpec(containers=(Container("nginx", "nginx"),)))
>>> deployment = Deployment(ObjectMeta(name="nginx", namespace="default", uid="uid-1"),
...                         DeploymentSpec(LabelSelector(FrozenMap(app="nginx")), template, 2))
>>> rs = new_replicaset(deployment)
>>> rs.metadata.name.startswith("nginx-"), len(pods_for_replicaset(rs, 2))
(True, 2)
"""

from __future__ import annotations

import dataclasses
from typing import Any

from kubeproof.model.objects import (
    Deployment,
    FrozenMap,
    LabelSelector,
    ObjectMeta,
    OwnerReference,
    Pod,
    PodStatus,
    PodTemplateSpec,
    ReplicaSet,
    ReplicaSetSpec,
)

__all__ = [
    "DESIRED_REPLICAS",
    "MAX_REPLICAS",
    "POD_TEMPLATE_HASH",
    "REVISION",
    "REVISION_HISTORY",
    "SKIPPED_ANNOTATIONS",
    "new_replicaset",
    "pod_from_template",
    "pod_template_hash",
    "pods_for_replicaset",
    "replica_names",
    "safe_encode",
]

POD_TEMPLATE_HASH = "pod-template-hash"  # upstream: apps/v1 DefaultDeploymentUniqueLabelKey
# upstream: pkg/controller/deployment/util/deployment_util.go, the annotations the Deployment
# controller keeps on its ReplicaSets (and the revision on the Deployment itself)
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
# upstream: deployment_util.go annotationsToSkip: never copied from a Deployment to its RS
SKIPPED_ANNOTATIONS = frozenset(
    (
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        REVISION_HISTORY,
        DESIRED_REPLICAS,
        MAX_REPLICAS,
        "deprecated.deployment.rollback.to",
    )
)

# upstream: staging/src/k8s.io/apimachinery/pkg/util/rand/rand.go alphanums (no vowels, no
# confusable characters, so generated names never spell words)
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"


def safe_encode(text: str) -> str:
    """upstream rand.SafeEncodeString: each byte mapped into the safe alphabet."""
    return "".join(_ALPHANUMS[ord(c) % len(_ALPHANUMS)] for c in text)


def _fnv32a(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def _canonical(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        fields = [f.name for f in dataclasses.fields(value) if f.compare]
        return (type(value).__name__, *((f, _canonical(getattr(value, f))) for f in fields))
    if isinstance(value, FrozenMap):
        return tuple(sorted((k, _canonical(v)) for k, v in value.items()))
    if isinstance(value, tuple):
        return tuple(_canonical(v) for v in value)
    return value


def pod_template_hash(template: PodTemplateSpec, collision_count: int | None = None) -> str:
    """The pod-template-hash label value for a template."""
    # upstream: pkg/controller/controller_utils.go ComputeHash (FNV-32a of the template, then
    # of the collision count, printed in decimal and safe-encoded)
    data = repr(_canonical(template)).encode()
    if collision_count is not None:
        data += collision_count.to_bytes(4, "little")
    return safe_encode(str(_fnv32a(data)))


def new_replicaset(
    deployment: Deployment,
    replicas: int | None = None,
    *,
    revision: int | None = None,
    max_surge: int | None = None,
) -> ReplicaSet:
    """The ReplicaSet the Deployment controller creates for the Deployment's current template.

    The hash includes ``status.collision_count``. With ``revision`` the ReplicaSet carries the
    annotations the controller sets on a new ReplicaSet: the Deployment's own (but the skipped
    ones), the revision, and, with ``max_surge``, desired-replicas and max-replicas.
    """
    # upstream: pkg/controller/deployment/sync.go getNewReplicaSet, and deployment_util.go
    # SetNewReplicaSetAnnotations (copyDeploymentAnnotationsToReplicaSet, SetReplicasAnnotations)
    spec = deployment.spec
    hash_ = pod_template_hash(spec.template, deployment.status.collision_count)
    template = dataclasses.replace(
        spec.template,
        metadata=dataclasses.replace(
            spec.template.metadata,
            labels=spec.template.metadata.labels.set(POD_TEMPLATE_HASH, hash_),
        ),
    )
    selector = spec.selector or LabelSelector()
    selector = dataclasses.replace(
        selector, match_labels=selector.match_labels.set(POD_TEMPLATE_HASH, hash_)
    )
    owner = OwnerReference(
        Deployment.API_VERSION,
        Deployment.KIND,
        deployment.metadata.name,
        deployment.metadata.uid,
        controller=True,
        block_owner_deletion=True,
    )
    count = spec.replicas if replicas is None else replicas
    annotations = FrozenMap()
    if revision is not None:
        annotations = FrozenMap(
            (k, v)
            for k, v in deployment.metadata.annotations.items()
            if k not in SKIPPED_ANNOTATIONS
        ).set(REVISION, str(revision))
        if max_surge is not None:
            desired = 1 if spec.replicas is None else spec.replicas
            annotations = annotations.set(DESIRED_REPLICAS, str(desired))
            annotations = annotations.set(MAX_REPLICAS, str(desired + max_surge))
    metadata = ObjectMeta(
        name=f"{deployment.metadata.name}-{hash_}",
        namespace=deployment.metadata.namespace,
        labels=template.metadata.labels,
        annotations=annotations,
        owner_references=(owner,),
    )
    rs_spec = ReplicaSetSpec(selector, template, 1 if count is None else count)
    return ReplicaSet(
        metadata, dataclasses.replace(rs_spec, min_ready_seconds=spec.min_ready_seconds)
    )


def pod_from_template(replicaset: ReplicaSet, name: str = "") -> Pod:
    """A pod the ReplicaSet controller creates: the template, owned by the ReplicaSet."""
    # upstream: pkg/controller/controller_utils.go GetPodFromTemplate
    owner = OwnerReference(
        ReplicaSet.API_VERSION,
        ReplicaSet.KIND,
        replicaset.metadata.name,
        replicaset.metadata.uid,
        controller=True,
        block_owner_deletion=True,
    )
    template = replicaset.spec.template
    metadata = ObjectMeta(
        name=name,
        generate_name=f"{replicaset.metadata.name}-",
        namespace=replicaset.metadata.namespace,
        labels=template.metadata.labels,
        annotations=template.metadata.annotations,
        finalizers=template.metadata.finalizers,
        owner_references=(owner,),
    )
    return Pod(metadata, template.spec, PodStatus(phase="Pending"))


def replica_names(replicaset: ReplicaSet, count: int) -> tuple[str, ...]:
    """The names of ``count`` pods of the ReplicaSet, as generateName would name them."""
    prefix = f"{replicaset.metadata.name}-"
    names: dict[str, None] = {}
    for index in range(count):
        attempt = 0
        while True:
            number = _fnv32a(f"{prefix}{index}/{attempt}".encode())
            name = prefix + "".join(_ALPHANUMS[number // 27**i % 27] for i in range(5))
            if name not in names:
                break
            attempt += 1
        names[name] = None
    return tuple(names)


def pods_for_replicaset(replicaset: ReplicaSet, count: int) -> tuple[Pod, ...]:
    """``count`` pods of the ReplicaSet, named as generateName would name them."""
    return tuple(pod_from_template(replicaset, name) for name in replica_names(replicaset, count))
