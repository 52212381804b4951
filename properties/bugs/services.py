"""Bug catalogue entries: Services, EndpointSlices and kube-proxy.

``terminating-endpoint-no-prestop``: a rolling update (maxSurge 1, maxUnavailable 0) behind a
NodePort Service, with no preStop hook. When an old pod is deleted the kubelet sends SIGTERM at
its next sync, while the endpoint's removal still has to go through the EndpointSlice
controller, the api-server and every kube-proxy: for a while kube-proxy forwards requests to a
pod that takes no connection. Still upstream behaviour (reports/zero-downtime.md, row 1).

>>> [(b.id, b.fixed, b.property) for b in BUGS]
[('terminating-endpoint-no-prestop', None, 'zero-downtime')]
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from kubeproof.model.cluster import NO_FAULTS
from kubeproof.model.scenarios import Scenario, rolling_update_service
from kubeproof.properties.bugs import Bug
from kubeproof.properties.bugs.clusters import settled
from kubeproof.properties.core import Budget, Suite
from kubeproof.properties.services import ZERO_DOWNTIME

__all__ = ["BUGS", "COMPONENTS", "no_prestop_scenario"]

# the rollout's path and the endpoint's path: node lifecycle, taint eviction and the garbage
# collector take no part (fewer components, shorter traces); the three nodes stay, as the
# scenario's guards wait for every kube-proxy to forward the NodePort
COMPONENTS = ("deployment", "replicaset", "scheduler", "endpointslice")


@cache
def no_prestop_scenario() -> Scenario:
    """The rolling-update-service scenario without a preStop hook and with only the rollout's
    and the endpoints' components, settled with the Service served on every node; its runs
    start at ``kubectl set image``."""
    full = rolling_update_service(pre_stop=0)
    controllers = tuple(
        c
        for c in full.controllers
        if c.name in COMPONENTS or c.name.startswith(("kubelet-", "kube-proxy-"))
    )
    full = replace(full, controllers=controllers)
    return settled(replace(full, clients=full.clients[:2]), full.clients[2:])


BUGS: tuple[Bug, ...] = (
    Bug(
        "terminating-endpoint-no-prestop",
        "a rolling update with maxUnavailable 0 drops requests: a pod without a preStop delay "
        "gets SIGTERM while kube-proxy still forwards to it",
        ("kubernetes/kubernetes#43576", "kubernetes/kubernetes#86280"),
        "",
        "Deleting a pod fans out to two watchers that do not wait for each other: the kubelet, "
        "which runs the preStop hook and then sends SIGTERM, and the EndpointSlice controller, "
        "whose update must still reach every kube-proxy and be programmed. Without a preStop "
        "delay the kubelet wins even in a fair run, so some requests to the Service reach a "
        "pod that has stopped listening and are refused, though readiness gating and "
        "maxUnavailable 0 kept enough pods Ready throughout.",
        "None: upstream still behaves so. The documented workaround is a preStop sleep "
        "(lifecycle.preStop.sleep.seconds since 1.30, KEP-3960; exec sleep before) longer than "
        "the endpoint's whole propagation to the slowest kube-proxy (watch latency, the "
        "EndpointSlice controller's sync, minSyncPeriod): a latency budget, not a guarantee. "
        "ProxyTerminatingEndpoints (KEP-1669) does not help here: it falls back to serving "
        "terminating endpoints only when a Service has no ready one, and during a "
        "maxUnavailable 0 rollout there always is one.",
        ZERO_DOWNTIME.name,
        Suite(
            "terminating-endpoint-no-prestop",
            "The journey's Deployment behind a NodePort Service, rolled to a new image with "
            "maxUnavailable 0 and no preStop hook",
            no_prestop_scenario,
            (ZERO_DOWNTIME,),
            NO_FAULTS,
            # the fair run fails by itself: any example finds it, each settles to the violation
            Budget(examples=5, steps=1),
        ),
        None,
    ),
)
