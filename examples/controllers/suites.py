"""Suites for the replicas operator (replicas_operator.py), for ``kubeproof check --suite-file``.

``replicas-operator`` runs the correct operator and ``replicas-operator-buggy`` the one that
drops a 409 Conflict; both on one node, with a Deployment of 1 replica and a ConfigMap asking
for 2, under crashes, dropped watches, compaction, stale lists and request timeouts. The
property says that once the cluster settles, the Deployment has the ConfigMap's count.

    kubeproof check --suite-file examples/controllers/suites.py replicas-operator-buggy

>>> [s.name for s in SUITES]
['replicas-operator', 'replicas-operator-buggy']
"""

from __future__ import annotations

from dataclasses import replace

# kubeproof check --suite-file puts this file's directory on sys.path while it loads it
import replicas_operator as operator

from kubeproof.model.apiserver.server import Request, default_users, read
from kubeproof.model.apiserver.server import initial_state as api_state
from kubeproof.model.cluster import Faults, Guarded
from kubeproof.model.objects import FrozenMap, GenericObject, Node, NodeStatus, ObjectMeta
from kubeproof.model.quantity import parse_quantity
from kubeproof.model.scenarios import (
    ADMIN,
    Fact,
    Scenario,
    builtin_controllers,
    kubectl_create_deployment,
    nodes_ready,
)
from kubeproof.properties.core import EVENTUALLY, Budget, Property, Suite, Violation

__all__ = ["SUITES", "replicas_follow_configmap", "replicas_scenario"]


def _node(name: str) -> Node:
    capacity = FrozenMap(
        cpu=parse_quantity("2"), memory=parse_quantity("4Gi"), pods=parse_quantity("110")
    )
    return Node(ObjectMeta(name=name), status=NodeStatus(capacity=capacity, allocatable=capacity))


def replicas_scenario(buggy: bool = False) -> Scenario:
    """One node; ``kubectl create deployment nginx --replicas 1``, then the ConfigMap
    ``replicas`` with ``nginx: "2"``; the operator (buggy or not) among the built-ins."""
    nodes = (_node("node-1"),)
    # the components this story needs: the kubelet, the Deployment and ReplicaSet controllers
    # (the Deployment controller's status writes are what the operator races with) and the
    # scheduler; fewer components make shorter runs and traces
    controllers = tuple(
        c
        for c in builtin_controllers(nodes)
        if c.name.startswith("kubelet") or c.name in ("deployment", "replicaset", "scheduler")
    )
    chosen = operator.BuggyReplicasOperator() if buggy else operator.ReplicasOperator()
    deployment = kubectl_create_deployment("nginx", "nginx", 1)
    # a short progress deadline (upstream default 600 s): the Deployment controller rechecks
    # progress after it and a run waits for that timer, so this keeps every run short
    spec = replace(deployment.spec, progress_deadline_seconds=30)
    deployment = replace(deployment, spec=spec)
    configmap = GenericObject(
        "v1",
        "ConfigMap",
        ObjectMeta("replicas", namespace="default"),
        FrozenMap(data=FrozenMap(nginx="2")),
    )
    clients = (
        Guarded(
            nodes_ready(1),
            Request(ADMIN, "create", "deployments", "default", body=deployment),
            "1 node Ready",
        ),
        Request(ADMIN, "create", "configmaps", "default", body=configmap),
    )
    return Scenario(
        "replicas-operator" + ("-buggy" if buggy else ""),
        "A Deployment of 1 replica and a ConfigMap asking for 2: the replicas operator scales it.",
        (*controllers, chosen),
        api_state(default_users(nodes=("node-1",))),
        clients,
        facts=(Fact("nginx has 2 replicas", lambda s: _replicas(s) == 2),),
    )


def _replicas(state) -> int | None:
    d = read(state.api.store, "deployments", "default", "nginx")
    return None if d is None else d.spec.replicas


def _follows(state) -> Violation | None:
    configmap = read(state.api.store, "configmaps", "default", "replicas")
    d = read(state.api.store, "deployments", "default", "nginx")
    want = operator.wanted_replicas(configmap, "nginx")
    if d is None or want is None or d.spec.replicas == want:
        return None
    return Violation(
        "replicas-follow-configmap",
        f"Deployment nginx has spec.replicas {d.spec.replicas}, the ConfigMap asks for {want}",
        (("deployment", d), ("configmap", configmap), ("wanted", want)),
    )


replicas_follow_configmap = Property(
    "replicas-follow-configmap",
    "once the cluster settles, each Deployment named in ConfigMap replicas has that count",
    EVENTUALLY,
    _follows,
)

FAULTS = Faults(crash=1, drop_watch=1, compact=1, stale_list=1, timeout=1)
BUDGET = Budget(examples=40, steps=150, states=20_000, depth=400)

SUITES = [
    Suite(
        "replicas-operator",
        "The replicas operator keeps nginx at the ConfigMap's count.",
        replicas_scenario,
        (replicas_follow_configmap,),
        FAULTS,
        BUDGET,
    ),
    Suite(
        "replicas-operator-buggy",
        "The replicas operator that drops a 409 Conflict.",
        lambda: replicas_scenario(buggy=True),
        (replicas_follow_configmap,),
        FAULTS,
        BUDGET,
    ),
]
