"""Bug catalogue entries: leader election (two instances of a component acting at once).

``scheduler-split-brain`` (kubernetes#65257): two kube-scheduler instances behind the lease
kube-system/kube-scheduler, two nodes. The leader's process stops for longer than the lease and
the other instance takes over; the old leader has not run since, so it still believes it leads.
Two pods that must not share a node (required pod anti-affinity on kubernetes.io/hostname)
arrive: each instance schedules from its own cache, neither sees the other's decision in time,
and both bindings land on one node.

The property is defined here: required pod anti-affinity, checked in etcd at the moment a
binding lands (the catalogue's placement properties cover taints and node affinity only).

>>> BUGS[0].id, BUGS[0].fixed
('scheduler-split-brain', None)
>>> [c.name for c in split_brain_scenario().controllers]
['scheduler-a', 'scheduler-b']
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import Any

from kubeproof.model.apiserver.server import Request
from kubeproof.model.cluster import NO_FAULTS, State, Tick, enabled, step
from kubeproof.model.controllers.leaderelection import LeaderElected
from kubeproof.model.controllers.scheduler import Scheduler
from kubeproof.model.objects import (
    Affinity,
    Container,
    FrozenMap,
    LabelSelector,
    Node,
    ObjectMeta,
    Pod,
    PodAffinity,
    PodAffinityTerm,
    PodSpec,
)
from kubeproof.model.run import is_fault
from kubeproof.model.scenarios import Scenario
from kubeproof.model.scheduler.matching import label_selector_matches
from kubeproof.properties.bugs import Bug
from kubeproof.properties.bugs.clusters import (
    ADMIN,
    HOSTNAME,
    Settled,
    api_with_nodes,
    node,
    settled,
)
from kubeproof.properties.core import TRANSITION, Budget, Property, Suite, Violation
from kubeproof.properties.reading import get, is_active, landed_binding, stored

__all__ = [
    "BINDING_RESPECTS_POD_ANTI_AFFINITY_IN_ETCD",
    "BUGS",
    "anti_affinity_conflicts",
    "paused_until_taken_over",
    "split_brain_scenario",
    "web_pod",
]


# --- the property ----------------------------------------------------------------------------

_NAME = "binding-respects-pod-anti-affinity-in-etcd"


def _term_selects(owner: Pod, term: PodAffinityTerm, pod: Pod, state: State) -> bool:
    """Whether ``owner``'s affinity term selects ``pod``: its namespace listed (the owner's own
    when the term names none and has no namespaceSelector) or selected, and its labels match.
    upstream: framework/types.go AffinityTerm.Matches."""
    namespace = pod.metadata.namespace
    default = () if term.namespace_selector is not None else (owner.metadata.namespace,)
    listed = term.namespaces or default
    selected = False
    if term.namespace_selector is not None:
        ns = get(state, "namespaces", "", namespace)
        labels = ns.metadata.labels if ns is not None else FrozenMap()
        selected = bool(label_selector_matches(term.namespace_selector, labels))
    in_namespace = namespace in listed or selected
    return in_namespace and bool(label_selector_matches(term.label_selector, pod.metadata.labels))


def _anti_terms(pod: Pod) -> tuple[PodAffinityTerm, ...]:
    affinity = pod.spec.affinity
    group = affinity.pod_anti_affinity if affinity is not None else None
    return group.required if group is not None else ()


def _same_domain(key: str, a: Node | None, b: Node | None) -> bool:
    # a node without the topology key is in no domain (upstream: nodes without the key never
    # match a term's topology)
    if a is None or b is None or key not in a.metadata.labels:
        return False
    return a.metadata.labels.get(key) == b.metadata.labels.get(key)


def anti_affinity_conflicts(state: State, pod: Pod) -> tuple[tuple[str, str, str], ...]:
    """The active bound pods that ``pod`` (bound) may not share a topology domain with, by
    either side's required anti-affinity: (other pod, whose term, topology key)."""
    nodes = {n.metadata.name: n for n in stored(state, "nodes")}
    mine = nodes.get(pod.spec.node_name)
    found = []
    for other in stored(state, "pods"):
        if other.metadata.uid == pod.metadata.uid or not other.spec.node_name:
            continue
        if not is_active(other):
            continue
        theirs = nodes.get(other.spec.node_name)
        name = f"{other.metadata.namespace}/{other.metadata.name}"
        for owner, target, whose in ((pod, other, "its own"), (other, pod, name)):
            for term in _anti_terms(owner):
                if _same_domain(term.topology_key, mine, theirs) and _term_selects(
                    owner, term, target, state
                ):
                    found.append((name, whose, term.topology_key))
    return tuple(dict.fromkeys(found))


def _binding_conflicts(before: State, action: Any, after: State) -> Violation | None:
    landed = landed_binding(before, action, after)
    if landed is None:
        return None
    request, _, bound = landed
    conflicts = anti_affinity_conflicts(after, bound)
    if not conflicts:
        return None
    key = f"{request.namespace}/{request.name}"
    other, whose, topology = conflicts[0]
    return Violation(
        _NAME,
        f"the binding of {key} to {bound.spec.node_name} landed in the same {topology} domain "
        f"as {other}, which {whose} required anti-affinity forbids",
        (
            ("pod", key),
            ("node", bound.spec.node_name),
            ("binder", request.user),
            ("conflicts", conflicts),
            ("revision", after.api.store.revision),
        ),
    )


BINDING_RESPECTS_POD_ANTI_AFFINITY_IN_ETCD = Property(
    _NAME,
    "no binding lands in a topology domain that holds an active bound pod which the pod's "
    "required anti-affinity, or that pod's own, forbids",
    TRANSITION,
    _binding_conflicts,
    "Checked when a pods/binding request writes etcd, against the pods and nodes as stored at "
    "that revision; both directions, as the InterPodAffinity filter checks them (the incoming "
    "pod's requiredDuringScheduling anti-affinity terms against the existing pods, and the "
    "existing pods' terms against the incoming pod). A term selects a pod in its namespaces "
    "(the owner's own by default, or a namespaceSelector's) whose labels match; a domain is "
    "the nodes sharing the term's topologyKey value. Only the moment of binding is judged: "
    "the rule is IgnoredDuringExecution, so labels changed later do not count. Upstream's "
    "binding subresource does not check it (pkg/registry/core/pod/storage/storage.go "
    "BindingREST) and the kubelet does not re-check it (#65303 was declined): the "
    "scheduler's filter on its own cache is the only guard.",
)


# --- the scenario ----------------------------------------------------------------------------

# each process breaks ties between equal nodes with its own random source (upstream:
# reservoir sampling in selectHost); these seeds make the two instances differ on web-a
SEEDS = {"a": 0, "b": 2}


def web_pod(name: str) -> Pod:
    """An unbound pod labelled app=web that must not share a host with another app=web pod."""
    term = PodAffinityTerm(HOSTNAME, LabelSelector(FrozenMap(app="web")))
    return Pod(
        ObjectMeta(name=name, namespace="default", labels=FrozenMap(app="web")),
        PodSpec(
            containers=(Container("nginx", "nginx"),),
            affinity=Affinity(pod_anti_affinity=PodAffinity(required=(term,))),
        ),
    )


def _leading(state: State, name: str) -> bool:
    return state.components[name].memory.election.leading


def paused_until_taken_over(state: State, paused: str, successor: str) -> State:
    """The cluster runs on while ``paused`` takes no step at all (a stopped process: its renew
    timer comes due and does not fire), until ``successor`` leads: the first enabled action of
    any other actor each time, the clock moving when nothing else can."""
    for _ in range(10_000):
        if _leading(state, successor):
            return state
        actions = [
            a for a in enabled(state) if not is_fault(a) and getattr(a, "component", None) != paused
        ]
        ticks = [a for a in actions if isinstance(a, Tick)]
        others = [a for a in actions if not isinstance(a, Tick)]
        if not others and not ticks:
            break
        state = step(state, others[0] if others else ticks[0])
    raise ValueError(f"{successor} does not take over while {paused} is stopped")


@cache
def split_brain_scenario() -> Scenario:
    """Two nodes and two kube-scheduler instances a and b behind one lease (upstream's
    default flags); a leads. a's process stops for longer than the lease, so b takes the lease
    over; a has not run since and still believes it leads. Then two pods web-a and web-b that
    must not share a node (app=web, required anti-affinity on the hostname for app=web)."""
    nodes = (node("node-1", 1), node("node-2", 2))
    a, b = (
        LeaderElected(
            # pods and nodes are all these pods' plugins read: no Services or ReplicaSets
            # select them (PodTopologySpread's defaults) and their terms name no namespace
            replace(Scheduler(seed=seed), resources=("pods", "nodes")),
            instance,
        )
        for instance, seed in SEEDS.items()
    )
    base = Scenario(
        "scheduler-split-brain",
        "Two kube-scheduler instances a and b share the lease kube-system/kube-scheduler "
        "(leaseDuration 15s, renewDeadline 10s, retryPeriod 2s) on two nodes; a leads. a's "
        "process stops (a GC pause, CPU starvation) before it renews; after 15s b takes the "
        "lease over, while a, not yet run again, still believes it leads. Then two pods "
        "web-a and web-b that must not share a node (required pod anti-affinity on "
        "kubernetes.io/hostname). No kubelets: the bindings in etcd are the story.",
        (a, b),
        api_with_nodes(nodes),
    )
    start = paused_until_taken_over(settled(base).start, a.name, b.name)
    create = tuple(
        Request(ADMIN, "create", "pods", "default", body=web_pod(name))
        for name in ("web-a", "web-b")
    )
    return Settled(
        base.name,
        base.description,
        base.controllers,
        base.api,
        create,
        start=replace(start, clients=create),
    )


BUGS: tuple[Bug, ...] = (
    Bug(
        "scheduler-split-brain",
        "after a lost lease the old scheduler's binding lands beside the new leader's and "
        "breaks required anti-affinity",
        (
            "kubernetes/kubernetes#65257",
            "kubernetes/kubernetes#81306",
            "kubernetes/kubernetes#65303",
        ),
        "",
        "Scheduler A failed to renew its lease but did not stop at once: it bound pod PA to "
        "node NA and only then quit, while B, which had taken the lease, bound PB to NA from a "
        "cache that had not seen PA's binding, so two pods with required anti-affinity shared "
        "a node (#65257, v1.5). Nothing after the scheduler's own filter checks inter-pod "
        "anti-affinity: the binding subresource does not, and a kubelet admission check "
        "(#65303) was declined in favour of a fix on the leader-election side.",
        "None closes it. Since #81306 (v1.16) losing the lease is fatal for the scheduler "
        "(OnStoppedLeading exits; before, it could keep scheduling), its scheduling loop runs "
        "on the leader's context, it releases the lease on shutdown (#100305), and a leader "
        "past its lease fails its health check (#70819). But client-go does not fence "
        '(leaderelection.go: it "does not guarantee that only one client is acting as a '
        'leader"): a leader that was stopped learns of the loss only when its renew loop runs '
        "again, and even after it reads the new holder it keeps leading until that renew "
        "round's deadline (renewDeadline, 10 s) passes; a binding it decides then, or one "
        "still in flight, lands next to the new leader's. The model finds this with today's "
        "behaviour, so the entry has no switch and no fixed suite.",
        BINDING_RESPECTS_POD_ANTI_AFFINITY_IN_ETCD.name,
        Suite(
            "scheduler-split-brain",
            "Two scheduler instances behind one lease: a's process stopped past its lease and "
            "b took over, a still believes it leads; then two anti-affine pods, two nodes",
            split_brain_scenario,
            (BINDING_RESPECTS_POD_ANTI_AFFINITY_IN_ETCD,),
            NO_FAULTS,
            Budget(examples=200, steps=30),
        ),
        None,
    ),
)
