"""Bug catalogue entries: the scheduler binding from a cache that does not count its own
decisions.

``scheduler-no-assume``: a scheduler that does not assume a pod in its cache before binding it
(or, as upstream did until 2022, lets the assumed pod expire before the informer has shown the
binding) places the next pod as if the first were not there; on a node with room for one the
kubelet admits the first and rejects the second for lack of CPU. The property this violates is
defined here: :data:`KUBELET_NEVER_REJECTS_FOR_RESOURCES`.

``bind-timeout-forget``: today's scheduler, whose binding times out although the api-server
applied it. The scheduler forgets the pod it had assumed and, before its informer shows the
pod bound, places the next one as if the first were not there: two pods with required
anti-affinity share a node (``binding-respects-pod-anti-affinity-in-etcd``).

>>> [b.id for b in BUGS]
['scheduler-no-assume', 'bind-timeout-forget']
>>> KUBELET_NEVER_REJECTS_FOR_RESOURCES.kind
'transition'
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache, partial
from typing import Any

from kubeproof.model.apiserver.server import Request
from kubeproof.model.cluster import NO_FAULTS, Faults, State
from kubeproof.model.controllers.scheduler import Scheduler
from kubeproof.model.objects import Container, FrozenMap, ObjectMeta, Pod, PodSpec
from kubeproof.model.quantity import parse_quantity
from kubeproof.model.run import actor_of
from kubeproof.model.scenarios import Scenario
from kubeproof.properties.bugs import Bug
from kubeproof.properties.bugs.clusters import (
    ADMIN,
    api_for,
    api_with_nodes,
    components,
    node,
    settled,
)
from kubeproof.properties.bugs.leader import BINDING_RESPECTS_POD_ANTI_AFFINITY_IN_ETCD, web_pod
from kubeproof.properties.core import TRANSITION, Budget, Property, Suite, Violation
from kubeproof.properties.reading import changed, is_active, stored

__all__ = [
    "BUGS",
    "KUBELET_NEVER_REJECTS_FOR_RESOURCES",
    "bind_timeout_scenario",
    "two_pods_one_fits",
]


def _rejected(pod: Pod) -> bool:
    return pod.status.phase == "Failed" and pod.status.reason.startswith("OutOf")


def _rejection(before: State, action: Any, after: State) -> Violation | None:
    for event in changed(before, after, "pods"):
        if event.type != "PUT" or event.prev_kv is None:
            continue
        old, new = event.prev_kv.value, event.kv.value
        if not _rejected(new) or _rejected(old):
            continue
        meta, where = new.metadata, new.spec.node_name
        others = tuple(
            sorted(
                p.metadata.name
                for p in stored(after, "pods", meta.namespace)
                if p.spec.node_name == where and is_active(p) and p.metadata.uid != meta.uid
            )
        )
        return Violation(
            "kubelet-never-rejects-for-resources",
            f"the kubelet of {where} rejected {meta.namespace}/{meta.name}: "
            f"{new.status.reason}, {new.status.message}",
            (
                ("pod", f"{meta.namespace}/{meta.name}"),
                ("node", where),
                ("reason", new.status.reason),
                ("message", new.status.message),
                ("pods running there", others),
                ("writer", actor_of(action)),
            ),
        )
    return None


KUBELET_NEVER_REJECTS_FOR_RESOURCES = Property(
    "kubelet-never-rejects-for-resources",
    "no kubelet rejects a pod the scheduler bound to its node for lack of resources",
    TRANSITION,
    _rejection,
    "Checked on every etcd write of a pod: a status update that makes it Failed with an "
    "OutOf<resource> reason (kubelet.go rejectPod with the NodeResourcesFit predicate's "
    "reason: OutOfcpu, OutOfmemory, OutOfpods) while it was not so before. The kubelet "
    "re-runs the scheduler's resource check against the pods it admitted, so a rejection "
    "means the scheduler placed a pod on a node its own cache should have shown full; the "
    "scheduler's cache counts a pod from the moment it is assumed (schedule_one.go assume) "
    "until the informer reports it bound. A pod created with nodeName set skips the "
    "scheduler and can be rejected upstream too; the scenario here has none.",
)


def _pod(name: str, cpu: str) -> Pod:
    requests = FrozenMap(cpu=parse_quantity(cpu))
    container = Container("nginx", "nginx", requests=requests)
    return Pod(ObjectMeta(name=name, namespace="default"), PodSpec(containers=(container,)))


@cache
def two_pods_one_fits(assume: bool) -> Scenario:
    """One node of 2 CPUs, registered and Ready; then two pods of 1500m CPU each are
    created (``kubectl run``); the kubelet and the scheduler (assuming pods or not)."""
    nodes = (node("node-1", 1, cpu="2"),)
    controllers = tuple(
        Scheduler(assume=assume) if isinstance(c, Scheduler) else c
        for c in components(nodes, "scheduler")
    )
    base = Scenario(
        "two-pods-one-fits",
        "One node of 2 CPUs and two pods of 1500m CPU: only one fits.",
        controllers,
        api_for(nodes),
    )
    pods = tuple(
        Request(ADMIN, "create", "pods", "default", body=_pod(n, "1500m")) for n in ("a", "b")
    )
    return settled(base, pods, base.description)


def _suite(name: str, description: str, assume: bool) -> Suite:
    return Suite(
        name,
        description,
        partial(two_pods_one_fits, assume),
        (KUBELET_NEVER_REJECTS_FOR_RESOURCES,),
        NO_FAULTS,
        Budget(examples=100, steps=40, states=20_000, depth=60),
    )


@cache
def bind_timeout_scenario() -> Scenario:
    """Two nodes and today's kube-scheduler alone (no kubelets: the bindings in etcd are the
    story); then two pods web-a and web-b that must not share a node (app=web, required
    anti-affinity on the hostname for app=web)."""
    nodes = (node("node-1", 1), node("node-2", 2))
    # pods and nodes are all these pods' plugins read (see leader.split_brain_scenario)
    scheduler = replace(Scheduler(), resources=("pods", "nodes"))
    base = Scenario(
        "bind-timeout-forget",
        "Today's kube-scheduler on two nodes; then two pods web-a and web-b that must not "
        "share a node (required pod anti-affinity on kubernetes.io/hostname). One request "
        "may time out, applied or not.",
        (scheduler,),
        api_with_nodes(nodes),
    )
    create = tuple(
        Request(ADMIN, "create", "pods", "default", body=web_pod(name))
        for name in ("web-a", "web-b")
    )
    return settled(base, create, base.description)


BUGS: tuple[Bug, ...] = (
    Bug(
        "scheduler-no-assume",
        "a scheduler that does not count the pod it is binding puts a second pod on a full "
        "node, and the kubelet rejects it",
        (
            "kubernetes/kubernetes#38503",
            "kubernetes/kubernetes#106361",
            "kubernetes/kubernetes#110925",
        ),
        "Scheduler(assume=False): the Binding is sent without AssumePod, so the next cycle's "
        "snapshot lacks the pod until the informer delivers its nodeName (the same gap an "
        "assumed pod left when it expired before the informer caught up)",
        "Binding is asynchronous: the scheduler decides, sends the Binding and goes on to the "
        "next pod before its informer shows the first one bound, so its cache must count the "
        "first pod in the meantime (assume), or it sees a free node and overcommits it. "
        "Upstream's assumed pods used to expire 30 s after binding (#38503 kept them until "
        "the binding returned); under a slow api-server the informer lagged past that and a "
        "second pod landed on a full node, which the kubelet rejected with OutOfcpu "
        "(#106361).",
        "The scheduler assumes every pod before binding it (pkg/scheduler/schedule_one.go "
        "assume, backend/cache AssumePod) and, since kubernetes/kubernetes#110925 (v1.25), an "
        "assumed pod never expires: it leaves the cache only when the informer reports it "
        "(Added) or the binding fails (ForgetPod).",
        KUBELET_NEVER_REJECTS_FOR_RESOURCES.name,
        _suite(
            "scheduler-no-assume",
            "Two pods of 1500m CPU, one node of 2 CPUs, a scheduler that does not assume",
            assume=False,
        ),
        _suite(
            "scheduler-no-assume-fixed",
            "Two pods of 1500m CPU, one node of 2 CPUs, today's scheduler",
            assume=True,
        ),
    ),
    Bug(
        "bind-timeout-forget",
        "a binding that times out but lands: the scheduler forgets the pod and puts an "
        "anti-affine pod beside it",
        (
            "kubernetes/kubernetes#100140",
            "kubernetes/kubernetes#106361",
            "kubernetes/kubernetes#138546",
        ),
        "",
        "A binding request timed out at the scheduler (etcd was slow) although the api-server "
        "stored it; the scheduler treated it as failed, forgot the assumed pod, and its "
        "informer, held up by the same slow etcd, had not yet shown the pod bound, so the next "
        "replica's anti-affinity saw an empty node and landed beside it (#100140, v1.19). The "
        "same window opens whenever a binding's outcome is unknown to the scheduler.",
        "None. Since kubernetes/kubernetes#110925 (v1.25) an assumed pod no longer expires "
        "(the half of #106361 that scheduler-no-assume restores), but a failed binding, a "
        "timeout included, still ends in ForgetPod (pkg/scheduler/schedule_one.go "
        "handleBindingCycleError, backend/cache ForgetPod): the pod leaves the cache until "
        "the informer reports it. #100140 was closed without a fix, and #138546 (2026) "
        "reports required anti-affinity broken again under slow binding responses. The "
        "entry has no switch and no fixed suite.",
        BINDING_RESPECTS_POD_ANTI_AFFINITY_IN_ETCD.name,
        Suite(
            "bind-timeout-forget",
            "Today's scheduler, two anti-affine pods, two nodes; one request may time out",
            bind_timeout_scenario,
            (BINDING_RESPECTS_POD_ANTI_AFFINITY_IN_ETCD,),
            Faults(timeout=1),
            Budget(examples=200, steps=30, states=20_000, depth=60),
        ),
        None,
    ),
)
