"""Placement queries beyond feasibility: capacity, isolation, drain, the warm Placer, label
selectors as ``kubectl -l`` takes them, and the user errors."""

from __future__ import annotations

import random

import pytest
from test_placement import anti, deployment, node, pod, problem, spread

from kubeproof.model.errors import KubeproofError
from kubeproof.model.objects import FrozenMap
from kubeproof.solvers.placement import (
    PlacementError,
    Placer,
    SelectorError,
    capacity,
    drain,
    feasible,
    isolation,
    parse_selector,
    selector_text,
    verify,
)
from kubeproof.solvers.placement.replay import replay
from kubeproof.solvers.placement.selector import selector_matches
from kubeproof.solvers.placement.whatif import drained

TEAM_B = {"key": "team", "value": "b", "effect": "NoSchedule"}


# --- capacity -----------------------------------------------------------------------------


def test_capacity_is_what_is_left_after_the_others():
    p = problem(node("a"), node("b"), deployment("web", 3, cpu="1"), deployment("batch", 1))
    answer = capacity(p, "default/batch")
    assert answer.max_replicas == 5 and answer.feasible is True
    assert len(answer.assignment) == 3 + 5
    assert "Deployment default/batch wants 6 replicas (spec.replicas)." in answer.explanation


def test_capacity_below_the_relaxation_bound_is_proved_by_the_exact_model():
    """Two 10-cpu nodes, two 6-cpu pods placed: 8 cpu are free in total, yet 4 on each node,
    so no 5-cpu pod fits (the relaxation allows one)."""
    p = problem(
        node("a", cpu="10"), node("b", cpu="10"), deployment("six", 2, cpu="6"), pod("five", "5")
    )
    answer = capacity(p, "five")
    assert answer.max_replicas == 0 and answer.feasible is True
    assert any("10 cpu" in line for line in answer.explanation)


def test_capacity_searches_below_a_loose_relaxation_bound():
    """Twenty 10-cpu nodes each keep 4 cpu beside a 6-cpu pod: no 5-cpu pod fits anywhere,
    though the summed capacity admits 16; and where 3-cpu pods do fit, one per node."""
    nodes = [node(f"n{i}", cpu="10") for i in range(20)]
    p = problem(*nodes, deployment("six", 20, cpu="6"), deployment("five", 1, cpu="5"))
    assert capacity(p, "five").max_replicas == 0
    p = problem(*nodes, deployment("six", 20, cpu="6"), deployment("three", 1, cpu="3"))
    answer = capacity(p, "three")
    assert answer.max_replicas == 20 and len(answer.assignment) == 40


def test_capacity_when_the_others_do_not_fit():
    p = problem(node("a", cpu="1"), deployment("big", 1, cpu="2"), deployment("web", 1))
    answer = capacity(p, "web")
    assert answer.max_replicas is None and answer.feasible is False
    assert answer.explanation[0] == (
        "Even with no replica of default/web, the other workloads do not fit:"
    )


def test_capacity_out_of_time_answers_unknown_before_analysing_the_problem():
    """With no time left, the deadline is checked first: the analysis (seconds on a large
    cluster) is not computed, and the answer is unknown."""
    p = problem(node("a"), deployment("web", 3, cpu="1"))
    answer = Placer(p).capacity("default/web", timeout=0)
    assert answer.max_replicas is None and answer.feasible is None
    assert answer.explanation == ("The time limit ran out before an answer.",)
    assert "analysis" not in p.__dict__


# --- isolation ----------------------------------------------------------------------------


def _teams():
    return (
        node("a", labels={"team": "a"}),
        node("b1", labels={"team": "b"}, taints=[TEAM_B]),
        node("b2", labels={"team": "b"}, taints=[TEAM_B]),
    )


def test_isolation_proves_untolerated_nodes_never_run_the_workload():
    answer = isolation(problem(*_teams(), deployment("web", 3)), "web", "team=b")
    assert answer.possible is False and answer.witness is None
    assert answer.explanation == (
        "Deployment default/web never runs on the 2 nodes matching team=b: b (2) carry taint "
        "team=b:NoSchedule, and it does not tolerate it (spec.template.spec.tolerations) (proved "
        "for all 3 replicas: they share one pod template).",
    )


def test_isolation_gives_a_witness_node_when_possible():
    tolerating = deployment("ops", 2, tolerations=[{"key": "team", "operator": "Exists"}])
    answer = isolation(problem(*_teams(), tolerating), "ops", "team in (b)")
    assert answer.possible is True and answer.witness == "b1"
    selected = deployment("web", 1, nodeSelector={"team": "a"})
    answer = isolation(problem(*_teams(), selected), "web", "team notin (b)")
    assert answer.possible is True and answer.witness == "a"


def test_isolation_ignores_load_but_not_node_affinity():
    full = problem(*_teams(), deployment("web", 1, cpu="100"), deployment("x", 1))
    assert isolation(full, "web", "team=a").possible is True
    elsewhere = deployment("web", 1, nodeSelector={"team": "c"})
    answer = isolation(problem(*_teams(), elsewhere), "web", "team=a")
    assert answer.possible is False
    assert "do not match its nodeSelector team=c" in answer.explanation[0]


def test_isolation_of_a_selector_matching_nothing():
    answer = isolation(problem(*_teams(), deployment("web", 1)), "web", "team=z")
    assert answer.possible is False and answer.explanation == ("No node matches team=z.",)


# --- drain --------------------------------------------------------------------------------


def _cluster():
    return problem(
        node("a"),
        node("b"),
        node("c", cpu="1"),
        pod("p1", on="a", cpu="2"),
        pod("p2", on="a", cpu="1"),
        deployment("web", 2, cpu="1"),
    )


def test_drain_moves_the_pods_and_still_places_the_pending_ones():
    answer = drain(_cluster(), ["a"])
    assert answer.possible is True
    assert set(answer.moves) == {"default/p1", "default/p2"}
    assert "a" not in answer.moves.values() and "a" not in answer.assignment.values()
    assert len(answer.assignment) == 4


def test_drain_that_cannot_fit_says_what_must_move():
    p = problem(
        node("a"), node("b"), node("c", cpu="1"), pod("p1", on="a", cpu="2"), pod("p2", on="a")
    )
    answer = drain(p, ["a", "b"])
    assert answer.possible is False and answer.moves == {}
    assert answer.explanation == (
        "Pod default/p1 must move off a.",
        "Pod default/p1 can run on at most 1 node: c (1); a (1) and b (1) are cordoned or "
        "drained (spec.unschedulable of the Node).",
        "Free (allocatable minus running pods' requests): c (1 node) 1 cpu (room for 0 of "
        "default/p1).",
    )


def test_cordon_keeps_running_pods_and_closes_the_nodes_to_new_ones():
    answer = drain(_cluster(), ["b"], cordon_only=True)
    assert answer.possible is True and answer.moves == {}
    assert set(answer.assignment.values()) <= {"a", "c"}
    answer = drain(_cluster(), ["a", "b"], cordon_only=True)
    assert answer.possible is False
    assert "are cordoned or drained" in "\n".join(answer.explanation)


def test_drain_leaves_daemonset_pods_behind():
    agent = pod("agent", on="a", cpu="3")
    agent["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "name": "agent",
            "uid": "u1",
            "controller": True,
        }
    ]
    answer = drain(problem(node("a"), node("b", cpu="1"), agent), ["a"])
    assert answer.possible is True and answer.moves == {}


def test_a_warm_placer_answers_a_series_of_what_ifs():
    placer = Placer(_cluster())
    assert placer.feasible().feasible is True
    assert [placer.drain([n]).possible for n in ("a", "b", "c")] == [True, True, True]
    assert placer.drain(["a", "b"]).possible is False
    assert placer.feasible().feasible is True  # what-ifs leave the problem as it was


# --- selectors and user errors --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "matching", "not_matching"),
    [
        ("team=b", {"team": "b"}, {"team": "a"}),
        ("team==b", {"team": "b"}, {}),
        ("pool in (gpu,infra)", {"pool": "infra"}, {"pool": "general"}),
        ("pool notin (gpu, infra)", {}, {"pool": "gpu"}),
        ("key!=v", {}, {"key": "v"}),
        ("!spot", {"team": "b"}, {"spot": "true"}),
        ("spot", {"spot": ""}, {}),
        ("team=b, !spot", {"team": "b"}, {"team": "b", "spot": "1"}),
        ("", {}, None),
    ],
)
def test_selectors_parse_as_kubectl_reads_them(text, matching, not_matching):
    selector = parse_selector(text)
    assert selector_matches(selector, FrozenMap(matching))
    if not_matching is not None:
        assert not selector_matches(selector, FrozenMap(not_matching))


def test_selector_text_writes_back_what_parses():
    text = "pool in (gpu,infra),!spot,team=b,zone!=c"
    assert selector_text(parse_selector(text)) == text


@pytest.mark.parametrize("text", ["pool in ()", "cpu>3", "team=(b", "a b", "-bad=1", "!x in (y)"])
def test_bad_selectors_are_user_errors(text):
    with pytest.raises(SelectorError, match="label selector"):
        parse_selector(text)


def test_unknown_workloads_and_nodes_are_user_errors():
    p = _cluster()
    with pytest.raises(PlacementError, match="no pending Deployment, ReplicaSet or Pod default/x"):
        capacity(p, "x")
    with pytest.raises(PlacementError, match="no node 'z'"):
        drain(p, ["z"])
    assert issubclass(PlacementError, KubeproofError) and issubclass(SelectorError, KubeproofError)


def _counts(problem, assignment):
    """Per (template, node index) counts of an assignment."""
    index = {info.name: n for n, info in enumerate(problem.snapshot.nodes)}
    out: dict[tuple[int, int], int] = {}
    for t, template in enumerate(problem.templates):
        for key in template.pod_keys():
            pair = (t, index[assignment[key]])
            out[pair] = out.get(pair, 0) + 1
    return out


@pytest.mark.parametrize("seed", range(12))
def test_warm_drains_agree_with_solving_the_drained_cluster_afresh(seed):
    rng = random.Random(seed)
    zones = "abc"
    docs = [node(f"n{i}", cpu=str(rng.choice([2, 4, 6])), zone=zones[i % 3]) for i in range(6)]
    docs += [pod(f"run{i}", on=f"n{rng.randrange(6)}", cpu="500m") for i in range(3)]
    docs += [
        deployment("web", rng.randrange(2, 8), cpu="500m", topologySpreadConstraints=spread("web")),
        deployment("api", rng.randrange(1, 5), affinity=anti(app="api")),
    ]
    p = problem(*docs)
    placer = Placer(p)
    if not placer.feasible().feasible:
        return
    for names in (["n0"], ["n1", "n4"], ["n2", "n3", "n5"]):
        warm = placer.drain(names)
        cold = drained(p, names)
        fresh = feasible(cold)
        assert warm.possible is fresh.feasible
        if warm.possible:
            verify(cold, _counts(cold, warm.assignment))
            assert replay(cold, _counts(cold, warm.assignment))
