"""The greedy gap (solvers/placement/greedy_gap.py): the model's scheduler, one pod at a time in
queue order, beside the complete placement."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

from kubeproof.model.manifests import from_manifest, load_paths
from kubeproof.solvers.placement import GreedyAnswer, Placer, greedy, problem_from_objects

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "placement"
GATE_MESSAGE = "Scheduling is blocked due to non-empty scheduling gates"


def node(name, cpu, **extra):
    return from_manifest(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "10", **extra}},
        }
    )


def pod(name, cpu, **spec):
    container = {"name": "c", "image": "app", "resources": {"requests": {"cpu": cpu}}}
    return from_manifest(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [container], **spec},
        }
    )


def small_and_big():
    """A 1-cpu and a 2-cpu node: the scheduler puts a 1-cpu pod on the emptier big node, where
    a 2-cpu pod queued after it needed to go."""
    return [node("small", "1"), node("big", "2")]


def test_a_pod_the_scheduler_strands_is_in_the_gap_with_both_placements():
    answer = greedy([*small_and_big(), pod("a", "1"), pod("b", "2")])
    assert isinstance(answer, GreedyAnswer) and answer.known
    assert answer.pending == ("default/b",)
    assert answer.scheduler == {"default/a": "big", "default/b": None}
    assert answer.complete == {"default/a": "small", "default/b": "big"}
    assert answer.complete_feasible is True
    assert answer.reasons["default/b"].startswith("0/2 nodes are available:")


def test_queue_order_follows_priority_so_the_big_pod_first_leaves_no_gap():
    objects = [*small_and_big(), pod("a", "1"), pod("b", "2", priority=1000)]
    answer = greedy(objects)
    assert answer.pending == () and answer.reasons == {}
    assert answer.scheduler == {"default/b": "big", "default/a": "small"}


def test_no_gap_when_the_scheduler_places_every_pod():
    answer = greedy([node("n1", "4"), pod("a", "1"), pod("b", "1")])
    assert answer.pending == () and answer.known
    assert set(answer.scheduler) == {"default/a", "default/b"}
    assert all(answer.scheduler.values())


def test_when_nothing_places_every_pod_there_is_no_gap_and_no_complete_placement():
    answer = greedy([node("n1", "1"), pod("a", "1"), pod("b", "1")])
    assert answer.complete_feasible is False and answer.complete is None
    assert answer.pending == () and answer.known
    assert list(answer.scheduler.values()) == ["n1", None]
    assert "Insufficient cpu" in answer.reasons["default/b"]


def test_a_gated_pod_is_pending_for_its_gates_not_for_the_scheduler():
    gated = pod("gated", "1", schedulingGates=[{"name": "example.com/quota"}])
    answer = greedy([node("n1", "4"), gated])
    assert answer.scheduler == {"default/gated": None}
    assert answer.reasons == {"default/gated": GATE_MESSAGE}
    assert answer.pending == ()


def test_out_of_time_before_the_complete_placement_is_unknown():
    answer = greedy([*small_and_big(), pod("a", "1"), pod("b", "2")], timeout=0)
    assert answer.complete_feasible is None and answer.complete is None
    assert answer.pending == () and not answer.known


def test_out_of_time_during_the_scheduler_run_is_unknown_with_the_pods_decided_so_far():
    objects = [node("n1", "4"), *(pod(f"p{i}", "100m") for i in range(5))]
    placer = Placer(problem_from_objects(objects))
    assert placer.feasible().feasible is True  # kept by the placer: no time needed again
    answer = greedy(objects, timeout=0, placer=placer)
    assert answer.complete_feasible is True
    assert not answer.finished and not answer.known
    assert 1 <= len(answer.scheduler) < 5


def test_a_placer_shares_its_complete_placement():
    objects = [*small_and_big(), pod("a", "1"), pod("b", "2")]
    placer = Placer(problem_from_objects(objects))
    assert greedy(objects, placer=placer).complete == placer.feasible().assignment


def test_deployment_replicas_are_named_as_the_solver_names_them():
    deployment = from_manifest(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "web"}]},
                },
            },
        }
    )
    answer = greedy([node("n1", "4"), deployment])
    assert answer.complete is not None and set(answer.scheduler) == set(answer.complete)
    assert all(key.startswith("shop/web-") for key in answer.scheduler)


def test_the_example_cluster_strands_its_batch_jobs_behind_the_web_front_end():
    """examples/placement/feasible: the scheduler spreads web and api onto the highmem nodes
    (LeastAllocated favours their free memory) and leaves no 2 cpu there for batch."""
    objects = load_paths([EXAMPLES / "cluster", EXAMPLES / "feasible"])
    answer = greedy(objects)
    assert answer.known and answer.complete_feasible is True
    assert len(answer.pending) == 3
    assert all(key.startswith("jobs/batch-") for key in answer.pending)
    assert all("Insufficient cpu" in answer.reasons[key] for key in answer.pending)
    assert {answer.complete[key] for key in answer.pending} == {
        "ip-10-0-17-68.eu-west-1.compute.internal",
        "ip-10-0-18-71.eu-west-1.compute.internal",
        "ip-10-0-19-74.eu-west-1.compute.internal",
    }


def test_the_module_has_a_name_of_its_own_and_its_example_runs():
    """The package's ``greedy`` is the function; its module is ``greedy_gap``, which no
    attribute of the package hides."""
    module = importlib.import_module("kubeproof.solvers.placement.greedy_gap")
    assert greedy is module.greedy and callable(greedy)
    assert doctest.testmod(module).failed == 0
