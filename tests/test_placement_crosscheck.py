"""The placement solver against the model's scheduler on small random clusters.

Hypothesis draws a few nodes (zones, pools, taints, capacities, some cordoned, some without a
zone label), a few workloads (tolerations, node selectors, requests, host ports, hostname or
zone anti-affinity, required pod affinity to themselves or to an earlier workload, DoNotSchedule
spread with minDomains and node inclusion policies) and some running replicas. The scheduler
(``schedule_all``: filter, score, select, assume, in queue order) places every pod only if
``feasible`` says True, and its placement passes the solver's own verification; ``feasible``
says False only if the scheduler leaves a pod Pending.

Each workload's spread and anti-affinity select its own pods, and pod affinity points only at
itself or at an earlier workload: the cases where ``solvers/placement`` reads the final state
(a selector matching pending pods without the constraint, two workloads requiring each other)
are left out, as its docstring says.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeproof.model.manifests import from_manifest
from kubeproof.model.scheduler.profile import default_profile
from kubeproof.model.scheduler.simulate import cluster_from_objects, schedule_all
from kubeproof.solvers.placement import feasible, problem_from_objects, verify
from kubeproof.solvers.placement.problem import pod_key

ZONE, HOST = "topology.kubernetes.io/zone", "kubernetes.io/hostname"
TAINTS = (
    {"key": "dedicated", "value": "batch", "effect": "NoSchedule"},
    {"key": "gpu", "value": "present", "effect": "NoSchedule"},
)
CPUS = ("250m", "500m", "1", "1500m", "2")


@st.composite
def nodes(draw, count: int) -> list[dict]:
    out = []
    for i in range(count):
        name = f"n{i}"
        labels = {HOST: name, "pool": draw(st.sampled_from(("general", "batch")))}
        zone = draw(st.sampled_from(("a", "b", "c", "a", "b", None)))
        if zone is not None:
            labels[ZONE] = zone
        taints = draw(st.lists(st.sampled_from(TAINTS), max_size=2, unique_by=lambda t: t["key"]))
        allocatable = {
            "cpu": draw(st.sampled_from(("1", "2", "3", "4"))),
            "memory": "8Gi",
            "pods": draw(st.sampled_from(("2", "3", "110"))),
        }
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": name, "labels": labels},
                "spec": {
                    "taints": taints,
                    "unschedulable": draw(st.sampled_from([False] * 7 + [True])),
                },
                "status": {"allocatable": allocatable},
            }
        )
    return out


def _selector(app: str) -> dict:
    return {"matchLabels": {"app": app}}


@st.composite
def pod_spec(draw, app: str, earlier: list[str]) -> dict:
    container = {
        "name": "main",
        "image": "registry.example.com/app:1",
        "resources": {"requests": {"cpu": draw(st.sampled_from(CPUS)), "memory": "256Mi"}},
    }
    if draw(st.integers(0, 5)) == 0:
        container["ports"] = [{"containerPort": 8080, "hostPort": 8080}]
    spec: dict = {"containers": [container]}
    tolerated = draw(st.lists(st.sampled_from(TAINTS), max_size=2, unique_by=lambda t: t["key"]))
    if tolerated:
        spec["tolerations"] = [
            {"key": t["key"], "operator": "Exists", "effect": "NoSchedule"} for t in tolerated
        ]
    if draw(st.integers(0, 3)) == 0:
        spec["nodeSelector"] = {"pool": draw(st.sampled_from(("general", "batch")))}
    affinity = {}
    anti_key = draw(st.sampled_from((None, None, HOST, ZONE)))
    if anti_key:
        term = {"topologyKey": anti_key, "labelSelector": _selector(app)}
        affinity["podAntiAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
    target = draw(st.sampled_from((None, None, None, app, *earlier)))
    if target:
        key = draw(st.sampled_from((HOST, ZONE)))
        term = {"topologyKey": key, "labelSelector": _selector(target)}
        affinity["podAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
    if affinity:
        spec["affinity"] = affinity
    if draw(st.booleans()):
        constraint = {
            "maxSkew": draw(st.integers(1, 2)),
            "topologyKey": draw(st.sampled_from((ZONE, HOST))),
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": _selector(app),
        }
        if draw(st.integers(0, 3)) == 0:
            constraint["minDomains"] = draw(st.integers(2, 4))
        if draw(st.integers(0, 3)) == 0:
            constraint["nodeTaintsPolicy"] = "Honor"
        if draw(st.integers(0, 3)) == 0:
            constraint["nodeAffinityPolicy"] = "Ignore"
        spec["topologySpreadConstraints"] = [constraint]
    return spec


@st.composite
def instances(draw) -> list[dict]:
    """Manifests: nodes, then running replicas, then the workloads to place."""
    node_docs = draw(nodes(draw(st.integers(1, 4))))
    running, workloads, apps = [], [], []
    for i in range(draw(st.integers(1, 3))):
        app = f"w{i}"
        spec = draw(pod_spec(app, apps))
        labels = {"app": app}
        if draw(st.integers(0, 2)) == 0:
            metadata = {"name": app, "namespace": "default", "labels": labels}
            workloads.append(
                {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}
            )
        else:
            workloads.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": app, "namespace": "default"},
                    "spec": {
                        "replicas": draw(st.integers(1, 4)),
                        "selector": {"matchLabels": labels},
                        "template": {"metadata": {"labels": labels}, "spec": spec},
                    },
                }
            )
        for j in range(draw(st.integers(0, 1))):
            node = draw(st.sampled_from(node_docs))["metadata"]["name"]
            metadata = {"name": f"{app}-running-{j}", "namespace": "default", "labels": labels}
            running.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": metadata,
                    "spec": {**spec, "nodeName": node},
                }
            )
        apps.append(app)
    return node_docs + running + workloads


def scheduler_counts(problem, decisions) -> dict[tuple[int, int], int]:
    """The scheduler's placement as the solver's counts per (template, node)."""
    template_of = {
        k: t for t, template in enumerate(problem.templates) for k in template.pod_keys()
    }
    node_of = {info.name: n for n, info in enumerate(problem.snapshot.nodes)}
    return dict(Counter((template_of[pod_key(d.pod)], node_of[d.selected]) for d in decisions))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(instances())
def test_scheduler_placing_every_pod_implies_feasible_and_infeasible_implies_a_pending_pod(docs):
    objects = [from_manifest(d) for d in docs]
    decisions = list(schedule_all(default_profile(), cluster_from_objects(objects)))
    everyone_placed = all(d.selected is not None for d in decisions)
    problem = problem_from_objects(objects)
    answer = feasible(problem, timeout=60)
    assert answer.feasible is not None, "a tiny instance must not time out"
    if everyone_placed:
        assert answer.feasible is True, answer.explanation
        verify(problem, scheduler_counts(problem, decisions))  # raises if it disagrees
    if answer.feasible is False:
        assert not everyone_placed
        assert answer.explanation


def test_zone_anti_affinity_does_not_limit_nodes_without_a_zone_label():
    """Found by the test above: upstream's anti-affinity ignores a node that lacks the term's
    topology key (``satisfyPodAntiAffinity`` and the existing pods' counts look the key up and
    skip the node without it), so two replicas can share the zone-less node; three zones with
    one node each must not make the zone key act as one-per-node for it."""
    # upstream: pkg/scheduler/framework/plugins/interpodaffinity/filtering.go
    # satisfyPodAntiAffinity, getExistingAntiAffinityCounts
    docs = [_node("n0", "a"), _node("n1", "b"), _node("n2", "c"), _node("n3", None)]
    spec = {
        "containers": [
            {"name": "main", "image": "app", "resources": {"requests": {"cpu": "250m"}}}
        ],
        "affinity": {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"topologyKey": ZONE, "labelSelector": _selector("w0")}
                ]
            }
        },
    }
    docs.append(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "w0", "namespace": "default"},
            "spec": {
                "replicas": 5,
                "selector": {"matchLabels": {"app": "w0"}},
                "template": {"metadata": {"labels": {"app": "w0"}}, "spec": spec},
            },
        }
    )
    objects = [from_manifest(d) for d in docs]
    decisions = list(schedule_all(default_profile(), cluster_from_objects(objects)))
    assert sorted(d.selected for d in decisions) == ["n0", "n1", "n2", "n3", "n3"]
    answer = feasible(problem_from_objects(objects), timeout=60)
    assert answer.feasible is True, answer.explanation


def _node(name: str, zone: str | None) -> dict:
    labels = {HOST: name} | ({ZONE: zone} if zone else {})
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "status": {"allocatable": {"cpu": "1", "memory": "8Gi", "pods": "2"}},
    }
