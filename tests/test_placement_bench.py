"""The placement benchmark's generator, independent checker and naive baselines, at small sizes."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from kubeproof.model.manifests import load_paths
from kubeproof.model.objects import (
    Affinity,
    FrozenMap,
    LabelSelector,
    ObjectMeta,
    Pod,
    PodAffinity,
    PodAffinityTerm,
    PodSpec,
)
from kubeproof.model.scheduler.resources import node_allocatable, node_requested
from kubeproof.model.scheduler.simulate import cluster_from_objects

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from placement_check import assignment_from_counts, assignment_violations
from placement_gen import VARIANTS, cluster, manifest_path
from placement_naive import ENGINES, naive_answer


def _with_deployment(instance, name, change):
    """The instance's objects with the Deployment ``name`` changed by ``change``."""
    deployments = tuple(change(d) if d.metadata.name == name else d for d in instance.deployments)
    return (*instance.namespaces, *instance.nodes, *instance.existing, *deployments)


def _template_spec(deployment, **changes):
    template = deployment.spec.template
    template = replace(template, spec=replace(template.spec, **changes))
    return replace(deployment, spec=replace(deployment.spec, template=template))


@pytest.mark.parametrize("variant", VARIANTS)
def test_written_manifest_loads_back_as_the_generated_objects(tmp_path, variant):
    instance = cluster(10, 30, variant, residual=True)
    loaded = load_paths([manifest_path(instance, tmp_path)])
    assert loaded == instance.objects
    scheduled = cluster_from_objects(loaded)
    assert len(scheduled.pending) == instance.pending_count
    assert sum(len(info.pods) for info in scheduled.snapshot.nodes) == 10


def test_nodes_span_three_zones_and_four_pools():
    instance = cluster(100, 300)
    labels = [n.metadata.labels for n in instance.nodes]
    assert {x["topology.kubernetes.io/zone"] for x in labels} == {
        "us-east-1a",
        "us-east-1b",
        "us-east-1c",
    }
    pools = [x["eks.amazonaws.com/nodegroup"] for x in labels]
    assert [pools.count(p) for p in ("general", "highmem", "gpu", "infra")] == [50, 25, 15, 10]
    assert instance.pending_count == 300


def test_residual_pods_leave_every_node_a_different_free_capacity():
    instance = cluster(1000, 3000, residual=True)
    scheduled = cluster_from_objects(instance.objects)
    free = set()
    for info in scheduled.snapshot.nodes:
        allocatable, used = node_allocatable(info.node), node_requested(info.pods)
        free.add(tuple(allocatable[r] - used[r] for r in ("cpu", "memory")))
    assert len(free) == 1000


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("size", [(10, 30), (100, 300)])
def test_witness_of_the_feasible_variant_passes_every_filter_plugin(size, residual):
    instance = cluster(*size, residual=residual)
    assignment = assignment_from_counts(instance.objects, instance.witness)
    assert len(assignment) == instance.pending_count
    assert assignment_violations(instance.objects, assignment) == ()


def test_checker_names_the_plugin_a_moved_pod_breaks():
    instance = cluster(10, 30)
    assignment = assignment_from_counts(instance.objects, instance.witness)
    apis = sorted(k for k in assignment if k.startswith("shop/api-"))
    trainer = next(k for k in assignment if k.startswith("ml/trainer-"))
    broken = {**assignment, apis[1]: assignment[apis[0]], trainer: "general-00"}
    problems = "\n".join(assignment_violations(instance.objects, broken))
    assert "InterPodAffinity: node(s) didn't match pod anti-affinity rules" in problems
    assert f"{trainer} on general-00: NodeAffinity" in problems
    del broken[trainer]
    assert f"{trainer}: not placed" in assignment_violations(instance.objects, broken)


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("variant", VARIANTS)
def test_naive_encodings_agree_with_the_expected_answer(variant, residual):
    instance = cluster(10, 30, variant, residual=residual)
    for engine in ENGINES:
        answer = naive_answer(instance.objects, engine, timeout=60)
        assert answer.status == ("feasible" if instance.expected_feasible else "infeasible")
        if answer.assignment is not None:
            assert assignment_violations(instance.objects, answer.assignment) == ()


@pytest.mark.parametrize("max_skew, expected", [(1, "infeasible"), (2, "feasible")])
def test_naive_encodings_count_a_domain_no_replica_can_reach(max_skew, expected):
    # zone c's general and highmem nodes are tainted: 4 web replicas fit zones a and b only
    # with a skew of 2 against zone c's 0
    instance = cluster(10, 30, "spread_taint")

    def four_replicas(deployment):
        spread = replace(
            deployment.spec.template.spec.topology_spread_constraints[0], max_skew=max_skew
        )
        deployment = _template_spec(deployment, topology_spread_constraints=(spread,))
        return replace(deployment, spec=replace(deployment.spec, replicas=4))

    objects = _with_deployment(instance, "web", four_replicas)
    for engine in ENGINES:
        answer = naive_answer(objects, engine, timeout=60)
        assert answer.status == expected
        if answer.assignment is not None:
            assert assignment_violations(objects, answer.assignment) == ()


def test_naive_encoding_refuses_required_pod_affinity():
    instance = cluster(10, 30)
    term = PodAffinityTerm("kubernetes.io/hostname", LabelSelector())
    objects = _with_deployment(
        instance,
        "batch",
        lambda d: _template_spec(d, affinity=Affinity(pod_affinity=PodAffinity((term,)))),
    )
    with pytest.raises(ValueError, match="required pod affinity"):
        naive_answer(objects, "z3")


def test_naive_encoding_reports_a_budget_spent_while_building_as_timeout():
    answer = naive_answer(cluster(100, 300).objects, "cpsat", timeout=0.0)
    assert (answer.status, answer.assignment) == ("timeout", None)


def test_naive_encoding_reports_too_many_pairs_without_building():
    answer = naive_answer(cluster(100, 300).objects, "z3", max_pairs=1000)
    assert answer.status == "too_large" and answer.pairs > 1000


def test_naive_encodings_keep_pods_out_of_a_running_pods_anti_affinity():
    # a running pod on each highmem node repels jobs/batch: batch has nowhere left to go
    instance = cluster(10, 30)
    term = PodAffinityTerm(
        "kubernetes.io/hostname", LabelSelector(FrozenMap(app="batch")), namespaces=("jobs",)
    )
    guards = tuple(
        Pod(
            ObjectMeta(name=f"guard-{node.metadata.name}", namespace="tenants"),
            PodSpec(
                node_name=node.metadata.name,
                affinity=Affinity(pod_anti_affinity=PodAffinity((term,))),
            ),
        )
        for node in instance.nodes
        if node.metadata.name.startswith("highmem-")
    )
    objects = (*instance.objects, *guards)
    for engine in ENGINES:
        assert naive_answer(objects, engine, timeout=60).status == "infeasible"
