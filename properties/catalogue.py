"""The property catalogue: every built-in property by name, with its statement and kind.

Areas: placement (properties/placement.py), workloads (properties/workloads.py), the api-server
and its watch streams (properties/apiserver.py), liveness (properties/eventually.py), Services
and namespaces (properties/services.py); what they read of states and steps is in
properties/reading.py. Leader election has no property of its
own: two overlapping leaders show through the others (two ReplicaSet controllers that both lead
create too many pods, which replicaset-never-exceeds-replicas catches; see
tests/test_catalogue.py).

``UPSTREAM_RACES`` are properties upstream does not guarantee; they document known upstream
behaviour (each definition says which) and are left out of the built-in suites.

>>> prop("pod-node-name-never-changes").kind
'transition'
>>> len(CATALOGUE) == len({p.name for p in CATALOGUE})
True
"""

from __future__ import annotations

from kubeproof.model.errors import KubeproofError
from kubeproof.properties.apiserver import (
    NO_FORBIDDEN_REQUEST_SUCCEEDS,
    RESOURCE_VERSIONS_INCREASE,
    WATCH_IN_ORDER,
)
from kubeproof.properties.core import Property
from kubeproof.properties.eventually import (
    BOUNDED_CREATIONS,
    DEPLOYMENT_CONVERGES,
    PENDING_ONLY_WHEN_UNSCHEDULABLE,
)
from kubeproof.properties.placement import (
    BINDING_RESPECTS_AFFINITY_IN_ETCD,
    BINDING_RESPECTS_TAINTS_IN_ETCD,
    KUBELET_WITHIN_ALLOCATABLE,
    NODE_NAME_NEVER_CHANGES,
    SCHEDULER_RESPECTS_AFFINITY_IN_VIEW,
    SCHEDULER_RESPECTS_TAINTS_IN_VIEW,
)
from kubeproof.properties.services import (
    ENDPOINTS_CONVERGE,
    ENDPOINTSLICES_SELECT,
    NAMESPACES_EMPTIED,
    PROXY_FORWARDS_LISTED,
    ZERO_DOWNTIME,
)
from kubeproof.properties.workloads import (
    GC_SPARES_LIVE_OWNERS,
    REPLICASET_WITHIN_REPLICAS,
    ROLLOUT_WITHIN_SURGE,
    ROLLOUT_WITHIN_SURGE_COUNTING_TERMINATING,
    ROLLOUT_WITHIN_UNAVAILABLE,
)

__all__ = ["CATALOGUE", "PLACEMENT", "SAFETY", "UPSTREAM_RACES", "UnknownProperty", "prop"]

PLACEMENT = (
    SCHEDULER_RESPECTS_TAINTS_IN_VIEW,
    SCHEDULER_RESPECTS_AFFINITY_IN_VIEW,
    NODE_NAME_NEVER_CHANGES,
    KUBELET_WITHIN_ALLOCATABLE,
)

# what every built-in suite checks on every state and step
SAFETY = (
    *PLACEMENT,
    REPLICASET_WITHIN_REPLICAS,
    ROLLOUT_WITHIN_SURGE,
    ROLLOUT_WITHIN_UNAVAILABLE,
    GC_SPARES_LIVE_OWNERS,
    RESOURCE_VERSIONS_INCREASE,
    WATCH_IN_ORDER,
    NO_FORBIDDEN_REQUEST_SUCCEEDS,
    PROXY_FORWARDS_LISTED,
    ENDPOINTSLICES_SELECT,
)

# zero downtime depends on every kube-proxy catching up before a pod's containers get SIGTERM,
# which nothing bounds (reports/zero-downtime.md)
UPSTREAM_RACES = (
    BINDING_RESPECTS_TAINTS_IN_ETCD,
    BINDING_RESPECTS_AFFINITY_IN_ETCD,
    ROLLOUT_WITHIN_SURGE_COUNTING_TERMINATING,
    ZERO_DOWNTIME,
)

CATALOGUE: tuple[Property, ...] = (
    *SAFETY,
    DEPLOYMENT_CONVERGES,
    PENDING_ONLY_WHEN_UNSCHEDULABLE,
    BOUNDED_CREATIONS,
    ENDPOINTS_CONVERGE,
    NAMESPACES_EMPTIED,
    *UPSTREAM_RACES,
)

_BY_NAME = {p.name: p for p in CATALOGUE}


class UnknownProperty(KubeproofError):
    """A property name the catalogue does not have."""


def prop(name: str) -> Property:
    """A catalogue property by name."""
    found = _BY_NAME.get(name)
    if found is None:
        raise UnknownProperty(f"unknown property {name!r} (known: {', '.join(_BY_NAME)})")
    return found
