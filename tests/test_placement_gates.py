"""Pods with scheduling gates (solvers/placement/problem.py): upstream's SchedulingGates
PreEnqueue keeps them out of the scheduling queue, so the placement leaves them out of the
pending pods and says so, in the explanation and in the text report."""

from __future__ import annotations

import pytest

from kubeproof.model.manifests import from_manifest
from kubeproof.report_place import PlaceReport, place_json, place_lines
from kubeproof.solvers.placement import PlacementError, Placer, feasible, problem_from_objects

GATES = [{"name": "example.com/quota"}]
POD_LINE = (
    "Left out: Pod default/gated has scheduling gates (spec.schedulingGates: example.com/quota); "
    "the scheduler does not consider it until they are removed."
)


def node(name, pods="1"):
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": pods}},
    }


def pod(name, **spec):
    box = {"name": "c", "image": "app", "resources": {"requests": {"cpu": "1"}}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [box], **spec},
    }


def deployment(name, replicas, **spec):
    labels = {"app": name}
    box = {"name": "c", "image": "app", "resources": {"requests": {"cpu": "1"}}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [box], **spec}},
        },
    }


def problem(*docs):
    return problem_from_objects([from_manifest(d) for d in docs])


def test_a_gated_pod_is_not_pending_and_takes_no_room():
    """One pod of room: the ungated pod fits, the gated one is left out, not placed."""
    p = problem(node("n1"), pod("a"), pod("gated", schedulingGates=GATES))
    assert [str(t.workload) for t in p.templates] == ["Pod default/a"]
    assert [str(t.workload) for t in p.gated] == ["Pod default/gated"]
    answer = feasible(p, timeout=30)
    assert answer.feasible is True
    assert answer.assignment == {"default/a": "n1"}
    assert answer.explanation == (POD_LINE,)


def test_the_left_out_line_follows_the_conflicting_facts():
    p = problem(node("n1"), pod("a"), pod("b"), pod("gated", schedulingGates=GATES))
    answer = feasible(p, timeout=30)
    assert answer.feasible is False
    assert answer.explanation[-1] == POD_LINE
    assert POD_LINE not in answer.explanation[:-1]


def test_a_gated_deployment_is_left_out_with_its_replica_count():
    p = problem(node("n1", pods="9"), deployment("web", 3, schedulingGates=GATES))
    answer = feasible(p, timeout=30)
    assert answer.feasible is True and answer.assignment == {}
    assert answer.explanation == (
        "Left out: Deployment default/web's 3 replicas have scheduling gates "
        "(spec.template.spec.schedulingGates: example.com/quota); the scheduler does not "
        "consider them until they are removed.",
    )


def test_a_query_about_a_gated_workload_is_a_user_error_naming_the_gates():
    p = problem(node("n1"), deployment("web", 1, schedulingGates=GATES))
    with pytest.raises(PlacementError, match="Deployment default/web is not pending: its pods"):
        Placer(p).capacity("web")


def test_the_text_report_says_what_was_left_out_apart_from_the_facts():
    feasible_problem = problem(node("n1"), pod("a"), pod("gated", schedulingGates=GATES))
    lines = list(place_lines(PlaceReport(feasible_problem, feasible(feasible_problem))))
    assert lines[0].startswith("Feasible: the 1 pending pod of 1 workload fits on 1 of 1 node")
    assert lines[1] == POD_LINE
    report = PlaceReport(feasible_problem, feasible(feasible_problem))
    assert place_json(report)["explanation"] == [POD_LINE]
    stuck = problem(node("n1"), pod("a"), pod("b"), pod("gated", schedulingGates=GATES))
    lines = list(place_lines(PlaceReport(stuck, feasible(stuck))))
    assert lines[0].endswith("These facts conflict:")
    assert lines[-1] == POD_LINE
    assert all(line.startswith("  - ") for line in lines[1:-1])
