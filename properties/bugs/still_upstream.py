"""Bug catalogue entries: behaviour that is still upstream's today (no switch, no fixed suite).

``nodename-noexecute-loop``: a Deployment whose template presets ``nodeName`` onto a node with
a NoExecute taint it does not tolerate. The pod bypasses the scheduler; the kubelet rejects it
and the taint eviction controller deletes it; the ReplicaSet controller makes another one, for
ever. ``spread-scale-infeasible``: a Deployment spread over zones and hosts with DoNotSchedule
constraints, scaled from 5 to 6 on three nodes in two zones: no node can take the sixth pod,
and no placement of six pods meets both constraints.

>>> [(b.id, b.fixed) for b in BUGS]
[('nodename-noexecute-loop', None), ('spread-scale-infeasible', None)]
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from kubeproof.model.apiserver.server import Request, read
from kubeproof.model.cluster import NO_FAULTS, Guarded, State
from kubeproof.model.controllers.deployment_util import MAX_INT32
from kubeproof.model.objects import FrozenMap, LabelSelector, Taint, TopologySpreadConstraint
from kubeproof.model.scenarios import Scenario, kubectl_create_deployment, nodes_ready
from kubeproof.properties.bugs import Bug
from kubeproof.properties.bugs.clusters import (
    ADMIN,
    HOSTNAME,
    api_for,
    components,
    node,
    settled,
)
from kubeproof.properties.core import INVARIANT, Budget, Property, Suite, Violation
from kubeproof.properties.eventually import (
    BOUNDED_CREATIONS,
    DEPLOYMENT_CONVERGES,
    PENDING_ONLY_WHEN_UNSCHEDULABLE,
)

__all__ = [
    "BUGS",
    "CREATIONS_STAY_BOUNDED",
    "ZONE",
    "nodename_loop_scenario",
    "spread_scale_scenario",
]

ZONE = "topology.kubernetes.io/zone"
TAINT = Taint("dedicated", "NoExecute", "infra")


def _creations_exceeded(state: State) -> Violation | None:
    found = BOUNDED_CREATIONS.check(state)
    return None if found is None else replace(found, property="creations-stay-bounded")


CREATIONS_STAY_BOUNDED = Property(
    "creations-stay-bounded",
    "no owner creates more dependents, and no name is created more often, than the "
    "no-endless-cycle bound allows, at any moment",
    INVARIANT,
    _creations_exceeded,
    "The bound of no-endless-cycle (properties/eventually.py bounded_creations: 2 x the "
    "owner's largest spec.replicas + 2 per fault used + 2 creations per owner, counted over "
    "etcd's history) checked on every state. A create-delete loop keeps the cluster busy, so "
    "the run never quiesces and an eventually property is never asked; checked on every state "
    "the bound is a safety property, and the loop breaks it after a few turns.",
)


# --- nodename-noexecute-loop -----------------------------------------------------------------


@cache
def nodename_loop_scenario() -> Scenario:
    """node-1, registered with the taint dedicated=infra:NoExecute and Ready; then ``kubectl
    create`` of a Deployment of 1 replica whose template sets ``nodeName: node-1`` and no
    toleration."""
    nodes = (node("node-1", 1, taints=(TAINT,)),)
    deployment = kubectl_create_deployment("pinned", "nginx")
    template = deployment.spec.template
    template = replace(template, spec=replace(template.spec, node_name="node-1"))
    deployment = replace(deployment, spec=replace(deployment.spec, template=template))
    base = Scenario(
        "nodename-noexecute-loop",
        "node-1 is tainted dedicated=infra:NoExecute (kubelet --register-with-taints); a "
        "Deployment pins its pods there with spec.template.spec.nodeName and does not tolerate "
        "the taint. No scheduler runs: a pod with nodeName set never goes through one.",
        components(nodes, "deployment", "replicaset", "tainteviction"),
        api_for(nodes),
    )
    return settled(base, (Request(ADMIN, "create", "deployments", "default", body=deployment),))


NODENAME_LOOP = Bug(
    "nodename-noexecute-loop",
    "a pod template with nodeName on a node with an untolerated NoExecute taint: endless "
    "create, reject, replace",
    ("kubernetes/kubernetes#131116", "kubernetes/kubernetes#75913", "kubernetes/kubernetes#72593"),
    "",
    "A pod whose nodeName is set at creation skips the scheduler, so nothing checks the node's "
    "taints before the kubelet rejects it (TaintToleration) and the taint eviction controller "
    "deletes it; the ReplicaSet controller counts it gone and creates the next one at once, "
    "and the loop never ends. A fix in the ReplicaSet controller (#75914) was declined: many "
    "reasons can make a node reject a pod, and a controller should back off instead (#72593).",
    "None: upstream still behaves so. The ReplicaSet controller has no backoff for pods that "
    "fail at once; the documented remedy is to let the scheduler place the pod (nodeSelector "
    "or node affinity instead of nodeName) or to add the toleration.",
    CREATIONS_STAY_BOUNDED.name,
    Suite(
        "nodename-noexecute-loop",
        "A Deployment pinned by nodeName to a node whose NoExecute taint it does not tolerate",
        nodename_loop_scenario,
        (CREATIONS_STAY_BOUNDED,),
        NO_FAULTS,
        # the loop needs no deviation from a fair run; each run that does not break the
        # bound in its drawn steps settles for 20,000 fair steps (the loop never quiesces)
        Budget(examples=5, steps=1),
    ),
    None,
)


# --- spread-scale-infeasible -----------------------------------------------------------------


def _spread(key: str) -> TopologySpreadConstraint:
    return TopologySpreadConstraint(1, key, "DoNotSchedule", LabelSelector(FrozenMap(app="spread")))


@cache
def spread_scale_scenario() -> Scenario:
    """node-1 and node-2 in zone-a, node-3 in zone-b; a Deployment of 5 pods with zone and
    hostname spread constraints (maxSkew 1, DoNotSchedule) rolled out; then ``kubectl scale
    --replicas 6``."""
    nodes = (
        node("node-1", 1, {ZONE: "zone-a"}),
        node("node-2", 2, {ZONE: "zone-a"}),
        node("node-3", 3, {ZONE: "zone-b"}),
    )
    deployment = kubectl_create_deployment("spread", "nginx", 5)
    template = deployment.spec.template
    constraints = (_spread(ZONE), _spread(HOSTNAME))
    template = replace(
        template, spec=replace(template.spec, topology_spread_constraints=constraints)
    )
    # no progress deadline (MaxInt32): with one, a scale-up that cannot complete is rechecked
    # for ever (progress.go requeueStuckDeployment, a rate-limited requeue; every second in
    # the model), so no run would settle
    spec = replace(deployment.spec, template=template, progress_deadline_seconds=MAX_INT32)
    deployment = replace(deployment, spec=spec)
    create = Request(ADMIN, "create", "deployments", "default", body=deployment)
    base = Scenario(
        "spread-scale-infeasible",
        "Three nodes in two zones (node-1 and node-2 in zone-a, node-3 in zone-b); a "
        "Deployment of 5 pods spread by zone and by hostname, maxSkew 1, DoNotSchedule (and no "
        "progress deadline), rolled out 2/1/2; then `kubectl scale deployment spread "
        "--replicas 6`.",
        components(nodes, "deployment", "replicaset", "scheduler"),
        api_for(nodes),
        (Guarded(nodes_ready(3), create, "3 nodes Ready"),),
    )
    live = read(settled(base).start.api.store, "deployments", "default", "spread")
    scale = Request(
        ADMIN,
        "update",
        "deployments",
        "default",
        "spread",
        body=replace(live, spec=replace(live.spec, replicas=6)),
    )
    return settled(base, (scale,))


SPREAD_SCALE = Bug(
    "spread-scale-infeasible",
    "scaling a zone- and host-spread Deployment from 5 to 6 on three nodes in two zones "
    "leaves a pod no node can take",
    ("kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints",),
    "",
    "With maxSkew 1 by zone and by hostname, 5 pods on node-1 and node-2 (zone-a) and node-3 "
    "(zone-b) can only sit 2/1/2 or 1/2/2 (3 in zone-a, 2 in zone-b); wherever the sixth pod "
    "goes one constraint breaks (the zone-a node with one pod makes the zones 4/2, any other "
    "node holds 3 beside a node with 1), so PodTopologySpread rejects every node and the pod "
    "stays Pending. No placement of six pods exists at all: the zones must hold 3 and 3, so "
    "node-3 holds 3 while node-1 and node-2 share 3, a host skew of at least 2.",
    "None: upstream behaves as specified. DoNotSchedule constraints are hard: the pod stays "
    "Pending with PodScheduled=False (Unschedulable) and nothing in the control plane moves "
    "running pods to make room (the descheduler, an add-on, can). whenUnsatisfiable: "
    "ScheduleAnyway on one of the constraints, or a third zone, lets six pods fit.",
    DEPLOYMENT_CONVERGES.name,
    Suite(
        "spread-scale-infeasible",
        "A zone- and host-spread Deployment scaled from 5 to 6 on three nodes in two zones",
        spread_scale_scenario,
        (DEPLOYMENT_CONVERGES, PENDING_ONLY_WHEN_UNSCHEDULABLE),
        NO_FAULTS,
        Budget(examples=20, steps=10),
    ),
    None,
)

BUGS: tuple[Bug, ...] = (NODENAME_LOOP, SPREAD_SCALE)
