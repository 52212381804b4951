"""Placement feasibility (solvers/placement): each constraint kind feasible and infeasible, the
bin-packing trap of the relaxation, verification, timeouts, and agreement with a brute force
over tiny instances replayed through the real scheduler plugins."""

from __future__ import annotations

import itertools
import random
import time

import pytest

from kubeproof.model.manifests import from_manifest
from kubeproof.solvers.placement import (
    VerificationError,
    cpsat,
    feasible,
    problem_from_objects,
    verify,
)
from kubeproof.solvers.placement import decide as decide_module
from kubeproof.solvers.placement.decide import decide as _decide
from kubeproof.solvers.placement.replay import replay

ZONE, HOST = "topology.kubernetes.io/zone", "kubernetes.io/hostname"
BACKENDS = ["z3", *(["cpsat"] if cpsat.available() else [])]
LABELS = {"z3": "z3", "cpsat": "CP-SAT"}


def node(name, cpu="4", zone="a", pods="110", labels=None, taints=(), cordoned=False, **extra):
    labels = {ZONE: zone, HOST: name, **(labels or {})}
    allocatable = {"cpu": cpu, "memory": "16Gi", "pods": pods, **extra}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"taints": [dict(t) for t in taints], "unschedulable": cordoned},
        "status": {"allocatable": allocatable},
    }


def pod_spec(cpu="1", **spec):
    container = {"name": "c", "image": "nginx", "resources": {"requests": {"cpu": cpu}}}
    ports = spec.pop("ports", None)
    if ports:
        container["ports"] = ports
    extended = spec.pop("extended", None)
    if extended:  # extended resources are not overcommitted: limits equal requests
        container["resources"]["requests"].update(extended)
        container["resources"]["limits"] = dict(extended)
    return {"containers": [container], **spec}


def deployment(name, replicas, cpu="1", labels=None, **spec):
    labels = labels or {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec(cpu, **spec)},
        },
    }


def pod(name, cpu="1", on=None, labels=None, **spec):
    if on:
        spec["nodeName"] = on
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": labels or {"app": name}},
        "spec": pod_spec(cpu, **spec),
    }


def problem(*docs):
    return problem_from_objects([from_manifest(d) for d in docs])


def anti(key=HOST, app=None, kind="podAntiAffinity"):
    term = {"topologyKey": key, "labelSelector": {"matchLabels": {"app": app}}}
    return {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}


def spread(app, key=ZONE, skew=1, **extra):
    return [
        {
            "maxSkew": skew,
            "topologyKey": key,
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": app}},
            **extra,
        }
    ]


def solved(p):
    answer = feasible(p, timeout=30)
    if answer.feasible:
        counts = _decide(p, time.monotonic() + 30).counts
        assert replay(p, counts), "a scheduler placing one pod at a time cannot reach it"
    return answer


def text(answer):
    return "\n".join(answer.explanation)


# --- resources ----------------------------------------------------------------------------


def test_fitting_pods_get_a_verified_assignment_naming_every_replica():
    p = problem(node("a"), node("b"), deployment("web", 6, cpu="1"), pod("solo", cpu="2"))
    answer = solved(p)
    assert answer.feasible is True
    assert len(answer.assignment) == 7 and set(answer.assignment.values()) <= {"a", "b"}
    assert "default/solo" in answer.assignment


def test_summed_capacity_short_is_infeasible_and_names_the_free_capacity():
    p = problem(node("a"), node("b"), deployment("web", 9, cpu="1"))
    answer = solved(p)
    assert answer.feasible is False
    assert "Deployment default/web wants 9 replicas (spec.replicas)." in answer.explanation
    assert (
        "Free (allocatable minus running pods' requests): a (1 node) 4 cpu; b (1 node) 4 cpu."
        in (answer.explanation)
    )


def test_a_workload_no_node_admits_is_refuted_without_a_model_with_the_same_explanation(
    monkeypatch,
):
    """The static shortcut (decide._stranded) answers as the relaxation's minimal conflict does."""
    taint = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    docs = (node("a", taints=[taint]), node("b", cordoned=True), deployment("web", 2))
    fast = feasible(problem(*docs), timeout=30)
    monkeypatch.setattr(decide_module, "_stranded", lambda problem: None)
    slow = feasible(problem(*docs), timeout=30)
    assert fast.feasible is False and slow.feasible is False
    assert fast.method.startswith("static filters") and not slow.method.startswith("static")
    assert fast.explanation == slow.explanation


def test_running_pods_requests_leave_less_room():
    docs = [node("a", cpu="2"), pod("old", cpu="1500m", on="a"), deployment("web", 1, cpu="1")]
    assert solved(problem(*docs)).feasible is False
    docs[1] = pod("old", cpu="1", on="a")
    assert solved(problem(*docs)).feasible is True


def test_bin_packing_trap_summed_capacity_fits_packing_does_not():
    """Two 10-cpu nodes, pods of 6, 6, 5 and 3 cpu: 20 cpu asked of 20, but no split into two
    sums of 10 exists. The class-level relaxation is satisfiable; the exact model is not."""
    p = problem(
        node("a", cpu="10"),
        node("b", cpu="10"),
        deployment("six", 2, cpu="6"),
        deployment("five", 1, cpu="5"),
        deployment("three", 1, cpu="3"),
    )
    answer = solved(p)
    assert answer.feasible is False and answer.method == "z3 pattern relaxation"
    assert "Free (allocatable minus running pods' requests): a (1 node) 10 cpu (room for 1 of " in (
        text(answer)
    )


def test_bin_packing_trap_on_nodes_that_all_differ():
    """Running pods leave every node a different free capacity (10.1 to 10.9 cpu): patterns
    of the largest node still refute the packing, in a model as small as for one node."""
    docs = [node(f"n{i}", cpu="11") for i in range(8)]
    docs += [pod(f"sys{i}", on=f"n{i}", cpu=f"{i + 1}00m") for i in range(8)]
    docs += [deployment("six", 8, cpu="6"), deployment("five", 4, cpu="5")]
    answer = solved(problem(*docs))
    assert answer.feasible is False and answer.method == "z3 pattern relaxation"
    assert answer.explanation[:2] == (
        "Deployment default/six wants 8 replicas (spec.replicas).",
        "Deployment default/five wants 4 replicas (spec.replicas).",
    )


def test_nodes_differing_only_in_capacity_no_replica_can_use_share_one_class():
    """Free cpu of 10.2 to 10.9 takes the same fills of 6 and 5 cpu pods as 10, and 16Gi of
    free memory beside room for 110 pods of 1Mi is never short: one class of eight nodes."""
    docs = [node(f"n{i}", cpu="11") for i in range(8)]
    docs += [pod(f"sys{i}", on=f"n{i}", cpu=f"{i + 1}00m") for i in range(8)]
    docs[-8:] = [_with_memory(d, f"{i + 1}Mi") for i, d in enumerate(docs[-8:])]
    docs += [_with_memory(deployment("six", 2, cpu="6"), "1Mi"), deployment("five", 2, cpu="5")]
    p = problem(*docs)
    assert [len(c) for g in p.analysis.groups for c in g.classes] == [8]
    docs[0]["status"]["allocatable"]["cpu"] = "12"  # 11.9 free: room for six and five
    assert sorted(len(c) for g in problem(*docs).analysis.groups for c in g.classes) == [1, 7]


def _with_memory(doc, memory):
    spec = doc["spec"] if doc["kind"] == "Pod" else doc["spec"]["template"]["spec"]
    spec["containers"][0]["resources"]["requests"]["memory"] = memory
    return doc


@pytest.mark.parametrize("seed", range(60, 80))
def test_exact_model_over_merged_classes_agrees_with_the_brute_force(seed, monkeypatch):
    """Running pods of odd sizes leave the nodes different free capacities, most of which
    no replica can use: the exact model (first-fit made to fail, no pattern relaxation) over
    the classes they merge into decides as the brute force does."""
    monkeypatch.setattr(decide_module, "node_counts", lambda *args: ({}, {(0, 0): 1}))
    monkeypatch.setattr(decide_module, "_bounded", lambda *args: None)
    rng = random.Random(seed)
    docs = [
        node(f"n{i}", cpu=rng.choice(["3", "4"]), pods=rng.choice(["3", "110"])) for i in range(3)
    ]
    for i in range(3):
        used = pod(f"sys{i}", on=f"n{i}", cpu=f"{rng.randrange(1, 700)}m")
        docs.append(_with_memory(used, f"{rng.randrange(1, 1500)}Mi"))
    for name in rng.sample(["web", "api", "db"], 2):
        cpu = rng.choice(["1", "1500m", "2"])
        made = deployment(name, rng.choice([1, 2, 3, 4]), cpu=cpu)
        docs.append(_with_memory(made, rng.choice(["1Gi", "4Gi", "6Gi"])))
    p = problem(*docs)
    _agrees(solved(p), _brute_force(p))


@pytest.mark.parametrize("backend", BACKENDS)
def test_exact_model_backends_agree_on_the_trap_and_on_a_packing(backend, monkeypatch):
    """Both exact backends, forced (CP-SAT where OR-tools is installed): the trap is
    infeasible, and a cluster first-fit cannot pack is packed and verified."""
    monkeypatch.setattr(decide_module, "CPSAT_ABOVE", 0 if backend == "cpsat" else 10**9)
    monkeypatch.setattr(decide_module, "_bounded", lambda *args: None)
    trap = problem(
        node("a", cpu="10"),
        node("b", cpu="10"),
        deployment("six", 2, cpu="6"),
        deployment("five", 1, cpu="5"),
        deployment("three", 1, cpu="3"),
    )
    answer = feasible(trap, timeout=30)
    assert answer.feasible is False and answer.method == f"{LABELS[backend]} exact model"
    monkeypatch.setattr(decide_module, "node_counts", lambda *args: ({}, {(0, 0): 1}))
    fits = problem(node("a", cpu="10"), node("b", cpu="10"), deployment("six", 2, cpu="6"))
    answer = feasible(fits, timeout=30)
    assert answer.feasible is True and answer.method == f"{LABELS[backend]} exact model"
    assert sorted(answer.assignment.values()) == ["a", "b"]


def _tight_packing(nodes: int) -> list[dict]:
    """10.1-cpu nodes, each running a pod of its own size, and pods of 5, 4, 3 and 2 cpu that
    fill every node to exactly 10 cpu ({5,3,2} or {4,3,3}); the 2-cpu pods spread over
    hostnames, a rule that gives the exact model a cell per node."""
    docs = [node(f"n{i}", cpu="10100m") for i in range(nodes)]
    docs += [pod(f"sys{i}", on=f"n{i}", cpu=f"{i + 1}m") for i in range(nodes)]
    half = nodes // 2
    docs += [deployment("five", half, cpu="5"), deployment("four", half, cpu="4")]
    docs.append(deployment("three", 3 * half, cpu="3"))
    docs.append(deployment("two", half, cpu="2", topologySpreadConstraints=spread("two", HOST)))
    return docs


@pytest.mark.parametrize(("nodes", "backend"), [(16, "z3"), (20, "CP-SAT")])
def test_the_exact_model_goes_to_cp_sat_above_a_hundred_variables(nodes, backend, monkeypatch):
    """Where OR-tools is installed, CP-SAT solves exact models of more than 96 variables (20
    nodes here: 101), on which z3's search grows steeply; z3 keeps the smaller ones (16 nodes:
    81), which it decides faster than OR-tools loads."""
    monkeypatch.setattr(decide_module, "node_counts", lambda *args: ({}, {(0, 0): 1}))
    answer = feasible(problem(*_tight_packing(nodes)), timeout=60)
    assert answer.feasible is True
    expected = backend if cpsat.available() else "z3"
    assert answer.method == f"{expected} exact model"


def test_bin_packing_that_fits_is_packed():
    p = problem(
        node("a", cpu="10"),
        node("b", cpu="10"),
        deployment("six", 2, cpu="6"),
        deployment("four", 2, cpu="4"),
    )
    assert solved(p).feasible is True


def test_extended_resources_and_pod_count_are_capacities():
    docs = [node("gpu", **{"example.com/gpu": "2"}), node("cpu")]
    wants = deployment("train", 3, cpu="100m", extended={"example.com/gpu": "1"})
    assert solved(problem(*docs, wants)).feasible is False
    assert "example.com/gpu" in text(solved(problem(*docs, wants)))
    wants["spec"]["replicas"] = 2
    assert solved(problem(*docs, wants)).feasible is True
    small = [node("a", pods="3"), pod("run", on="a", cpu="10m")]
    assert solved(problem(*small, deployment("web", 3, cpu="10m"))).feasible is False
    assert solved(problem(*small, deployment("web", 2, cpu="10m"))).feasible is True


# --- static filters -----------------------------------------------------------------------


def test_untolerated_taints_keep_pods_off_and_the_explanation_names_them():
    taint = {"key": "gpu", "value": "true", "effect": "NoSchedule"}
    docs = [node("gpu-1", taints=[taint]), node("gpu-2", taints=[taint]), node("general-1")]
    answer = solved(problem(*docs, deployment("web", 2, cpu="3")))
    assert answer.feasible is False
    assert (
        "Deployment default/web can run on at most 1 node: general (1); gpu (2) carry taint "
        "gpu=true:NoSchedule, and it does not tolerate it (spec.template.spec.tolerations)."
    ) in answer.explanation
    tolerating = deployment("web", 2, cpu="3", tolerations=[{"key": "gpu", "operator": "Exists"}])
    assert solved(problem(*docs, tolerating)).feasible is True


def test_node_selector_and_required_node_affinity_restrict_nodes():
    docs = [node("a", labels={"disk": "ssd"}), node("b")]
    selected = deployment("db", 2, cpu="3", nodeSelector={"disk": "ssd"})
    answer = solved(problem(*docs, selected))
    assert answer.feasible is False
    assert "do not match its nodeSelector disk=ssd (spec.template.spec.nodeSelector)" in text(
        answer
    )
    requirement = {"key": "disk", "operator": "In", "values": ["ssd"]}
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [requirement]}]
            }
        }
    }
    placed = solved(problem(*docs, deployment("db", 1, cpu="3", affinity=affinity)))
    assert placed.feasible is True and set(placed.assignment.values()) == {"a"}


def test_cordoned_nodes_take_no_pods():
    answer = solved(problem(node("a", cordoned=True), deployment("web", 1)))
    assert answer.feasible is False
    assert "are cordoned" in text(answer)


def test_host_ports_allow_one_replica_per_node_and_clash_with_running_pods():
    ports = [{"containerPort": 80, "hostPort": 8080}]
    docs = [node("a"), node("b")]
    assert solved(problem(*docs, deployment("edge", 2, ports=ports))).feasible is True
    answer = solved(problem(*docs, deployment("edge", 3, ports=ports)))
    assert answer.feasible is False
    assert "uses a host port: at most one replica per node" in text(answer)
    running = pod("proxy", on="a", ports=ports)
    answer = solved(problem(*docs, running, deployment("edge", 2, ports=ports)))
    assert answer.feasible is False
    assert "already run pods using its host ports" in text(answer)


# --- inter-pod affinity -------------------------------------------------------------------


def test_hostname_anti_affinity_allows_one_replica_per_node():
    docs = [node(f"n{i}") for i in range(3)]
    assert solved(problem(*docs, deployment("api", 3, affinity=anti(app="api")))).feasible
    answer = solved(problem(*docs, deployment("api", 4, affinity=anti(app="api"))))
    assert answer.feasible is False
    assert answer.explanation == (
        "Deployment default/api wants 4 replicas (spec.replicas).",
        "Deployment default/api: its required anti-affinity on kubernetes.io/hostname allows "
        "one replica per node (spec.template.spec.affinity.podAntiAffinity).",
    )


def test_zone_anti_affinity_between_two_workloads_keeps_them_apart():
    docs = [node("a1", zone="a"), node("b1", zone="b")]
    apart = deployment("cache", 1, affinity=anti(key=ZONE, app="db"))
    spread_db = deployment("db", 2, cpu="100m", affinity=anti(app="db"))  # one per node
    answer = solved(problem(*docs, spread_db, apart))
    assert answer.feasible is False
    assert "keeps it off any topology.kubernetes.io/zone domain running Deployment default/db" in (
        text(answer)
    )
    placed = solved(problem(*docs, deployment("db", 1, cpu="100m"), apart))
    assert placed.feasible is True
    db = next(v for k, v in placed.assignment.items() if "/db-" in k)
    cache = next(v for k, v in placed.assignment.items() if "/cache-" in k)
    assert db != cache


def test_running_pods_anti_affinity_excludes_their_node():
    guard = pod("guard", on="a", affinity=anti(app="web"))
    answer = solved(problem(node("a"), node("b"), guard, deployment("web", 2, cpu="3")))
    assert answer.feasible is False
    assert "whose anti-affinity excludes it" in text(answer)


def test_pod_affinity_needs_a_target_in_the_zone():
    docs = [node("a1", zone="a"), node("b1", zone="b"), pod("db", on="b1", cpu="100m")]
    near = deployment("web", 2, cpu="1", affinity=anti(key=ZONE, app="db", kind="podAffinity"))
    placed = solved(problem(*docs, near))
    assert placed.feasible is True and set(placed.assignment.values()) == {"b1"}
    crowded = deployment("web", 2, cpu="3", affinity=anti(key=ZONE, app="db", kind="podAffinity"))
    answer = solved(problem(*docs, crowded))
    assert answer.feasible is False
    assert "its required pod affinity needs a running matching pod" in text(answer)


def test_pod_affinity_to_a_pending_workload_places_both_together():
    docs = [node("a1", zone="a"), node("b1", zone="b")]
    near = deployment("web", 2, cpu="1", affinity=anti(key=ZONE, app="db", kind="podAffinity"))
    placed = solved(problem(*docs, deployment("db", 1, cpu="1"), near))
    assert placed.feasible is True
    assert len(set(placed.assignment.values())) == 1


def test_mutual_pod_affinity_is_unknown_unless_refuted_either_way():
    """web needs api in its zone and api needs web: no scheduler can place either first, yet
    a final placement of both exists; the answer is unknown. Without room for both in one
    zone even the final-state reading refutes it: infeasible."""
    docs = [node("a1", zone="a"), node("b1", zone="b")]
    web = deployment("web", 1, affinity=anti(key=ZONE, app="api", kind="podAffinity"))
    api = deployment("api", 1, affinity=anti(key=ZONE, app="web", kind="podAffinity"))
    answer = feasible(problem(*docs, web, api))
    assert answer.feasible is None
    assert answer.explanation == (
        "Required pod affinity runs in a cycle (Deployment default/web and Deployment "
        "default/api): a placement exists where each finds the other, but whether a scheduler "
        "placing one pod at a time can reach one is not decided here.",
    )
    web["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "3500m"
    answer = feasible(problem(*docs, web, api))
    assert answer.feasible is False


def test_self_affinity_first_replica_starts_one_group():
    """No running pod matches: the first replica may go anywhere, every other one into its
    zone. Two zones of 2 cpu hold 4 one-cpu replicas in total but only 2 together."""
    docs = [node("a1", zone="a", cpu="2"), node("b1", zone="b", cpu="2")]
    group = deployment("ring", 3, affinity=anti(key=ZONE, app="ring", kind="podAffinity"))
    answer = solved(problem(*docs, group))
    assert answer.feasible is False
    assert "its first replica may start one group" in text(answer)
    group["spec"]["replicas"] = 2
    assert solved(problem(*docs, group)).feasible is True


# --- topology spread ----------------------------------------------------------------------


def test_zone_spread_counts_running_pods():
    docs = [node("a1", zone="a"), node("b1", zone="b", cpu="1")]
    web = deployment("web", 2, cpu="1", topologySpreadConstraints=spread("web"))
    assert solved(problem(*docs, web)).feasible is True
    running = pod("web-old", on="b1", cpu="1", labels={"app": "web"})
    answer = solved(problem(*docs, running, web))
    assert answer.feasible is True  # b counts 1 already (and is full): both go to a
    assert set(answer.assignment.values()) == {"a1"}
    web["spec"]["replicas"] = 3
    answer = solved(problem(*docs, running, web))
    assert answer.feasible is False
    assert "its topology spread (maxSkew 1 over topology.kubernetes.io/zone" in text(answer)


def test_spread_min_domains_caps_each_domain_at_max_skew():
    docs = [node("a1", zone="a"), node("b1", zone="b")]
    constraint = spread("web", minDomains=3)
    web = deployment("web", 3, cpu="100m", topologySpreadConstraints=constraint)
    answer = solved(problem(*docs, web))
    assert answer.feasible is False and "minDomains 3" in text(answer)
    web["spec"]["replicas"] = 2
    assert solved(problem(*docs, web)).feasible is True


def test_tainted_zone_still_counts_for_spread_unless_taints_are_honored():
    """nodeTaintsPolicy Ignore (the default): zone c, all tainted, is still a domain with 0
    pods, so no zone may hold more than 1; Honor drops it."""
    taint = {"key": "maintenance", "effect": "NoSchedule"}
    docs = [node("a1", zone="a"), node("b1", zone="b"), node("c1", zone="c", taints=[taint])]
    web = deployment("web", 4, cpu="100m", topologySpreadConstraints=spread("web"))
    answer = solved(problem(*docs, web))
    assert answer.feasible is False
    assert "counts 3 domains: a, b and c" in text(answer)
    honor = spread("web", nodeTaintsPolicy="Honor")
    web = deployment("web", 4, cpu="100m", topologySpreadConstraints=honor)
    assert solved(problem(*docs, web)).feasible is True


def test_an_explanation_lists_only_the_nodes_a_workload_may_use_and_why_not_the_others():
    """Zone c's general node is under maintenance and every gpu node is tainted: the minimal
    conflict needs only zone c's nodes (the spread counts c, web cannot go there), yet the
    nodes web can use are the general ones of a and b, never a gpu node; every other node is
    named with its reason, so the counts add up."""
    gpu = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
    maintenance = {"key": "example.com/maintenance", "value": "true", "effect": "NoSchedule"}
    docs = [node(f"general-{z}", zone=z, labels={"pool": "general"}) for z in "ab"]
    docs.append(node("general-c", zone="c", labels={"pool": "general"}, taints=[maintenance]))
    docs += [node(f"gpu-{z}", zone=z, labels={"pool": "gpu"}, taints=[gpu]) for z in "abc"]
    web = deployment("web", 3, cpu="100m", topologySpreadConstraints=spread("web"))
    answer = solved(problem(*docs, web))
    assert answer.feasible is False
    assert answer.explanation == (
        "Deployment default/web wants 3 replicas (spec.replicas).",
        "Deployment default/web: its topology spread (maxSkew 1 over topology.kubernetes.io/zone,"
        " DoNotSchedule, selecting app=web) counts 3 domains: a, b and c; it can run on no node"
        " of c (spec.template.spec.topologySpreadConstraints[0]).",
        "Deployment default/web can run on at most 2 nodes: general (2 of 3); general (1 of 3)"
        " carry taint example.com/maintenance=true:NoSchedule; gpu (3) carry taint"
        " nvidia.com/gpu=present:NoSchedule, and it does not tolerate any of them"
        " (spec.template.spec.tolerations).",
    )


def test_hostname_spread_spreads_over_nodes():
    docs = [node(f"n{i}", zone="a") for i in range(3)]
    constraint = spread("web", key=HOST)
    web = deployment("web", 5, cpu="100m", topologySpreadConstraints=constraint)
    answer = solved(problem(*docs, web))
    assert answer.feasible is True
    per_node = sorted(list(answer.assignment.values()).count(n) for n in ("n0", "n1", "n2"))
    assert per_node == [1, 2, 2]
    narrow = [node("n0", zone="a", cpu="500m"), *docs[1:]]  # takes none: the others one each
    web = deployment("web", 5, cpu="1", topologySpreadConstraints=constraint)
    assert solved(problem(*narrow, web)).feasible is False


# --- checks, timeouts ---------------------------------------------------------------------


def test_verification_rejects_a_corrupted_assignment():
    p = problem(node("a", cpu="2"), node("b", cpu="2"), deployment("web", 4, cpu="1"))
    counts = dict(_decide(p, time.monotonic() + 30).counts)
    verify(p, counts)
    overloaded = {(0, 0): 3, (0, 1): 1}
    with pytest.raises(VerificationError, match="Insufficient cpu"):
        verify(p, overloaded)
    with pytest.raises(VerificationError, match="3 of 4 replicas"):
        verify(p, {(0, 0): 2, (0, 1): 1})
    tainted = problem(
        node("a", taints=[{"key": "x", "effect": "NoSchedule"}]), deployment("web", 1)
    )
    with pytest.raises(VerificationError, match="TaintToleration"):
        verify(tainted, {(0, 0): 1})


def test_a_timeout_is_unknown_never_feasible():
    p = problem(node("a"), deployment("web", 2))
    answer = feasible(p, timeout=0)
    assert answer.feasible is None and answer.assignment == {}
    assert "time limit" in text(answer)


def test_nothing_pending_is_feasible_and_no_nodes_is_not():
    assert feasible(problem(node("a"))).feasible is True
    answer = feasible(problem(deployment("web", 1)))
    assert answer.feasible is False and "The input has no nodes." in answer.explanation


# --- against a brute force ----------------------------------------------------------------


def _brute_force(p) -> bool:
    """Whether some per-node count of every template replays through the real plugins."""
    n = len(p.snapshot.nodes)
    per_template = [
        [c for c in itertools.product(range(t.replicas + 1), repeat=n) if sum(c) == t.replicas]
        for t in p.templates
    ]
    for choice in itertools.product(*per_template):
        counts = {(t, j): k for t, row in enumerate(choice) for j, k in enumerate(row) if k}
        if replay(p, counts):
            return True
    return False


def _random_rules(rng, name, names):
    """Two of: anti-affinity (own or another's), spread (maybe minDomains or honoring taints),
    pod affinity, a toleration, a node selector, a host port."""
    spec = {}
    kinds = ["anti", "anti-other", "spread", "affinity", "tolerate", "selector", "ports", "plain"]
    for kind in rng.sample(kinds, 2):
        if kind == "anti":
            spec["affinity"] = anti(app=name, key=rng.choice([HOST, ZONE]))
        elif kind == "anti-other":
            spec["affinity"] = anti(app=rng.choice(names), key=rng.choice([HOST, ZONE]))
        elif kind == "spread":
            extra = {}
            if rng.random() < 0.3:
                extra["minDomains"] = rng.choice([2, 3])
            if rng.random() < 0.3:
                extra["nodeTaintsPolicy"] = "Honor"
            key, skew = rng.choice([HOST, ZONE]), rng.choice([1, 1, 2])
            spec["topologySpreadConstraints"] = spread(name, key=key, skew=skew, **extra)
        elif kind == "affinity":
            app = rng.choice([*names, "x"])
            spec["affinity"] = anti(key=rng.choice([ZONE, HOST]), app=app, kind="podAffinity")
        elif kind == "tolerate":
            spec["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
        elif kind == "selector":
            spec["nodeSelector"] = {"disk": "ssd"}
        elif kind == "ports":
            spec["ports"] = [{"containerPort": 80, "hostPort": 8080}]
    return spec


def _random_instance(seed: int):
    """Three nodes over up to three zones, up to two running pods (some with anti-affinity),
    up to three Deployments of one or two replicas with random rules."""
    rng = random.Random(seed)
    taint = {"key": "dedicated", "effect": "NoSchedule"}
    docs = [
        node(
            f"n{i}",
            cpu=str(rng.choice([1, 2, 3, 4])),
            zone=rng.choice("abc"),
            taints=[taint] if rng.random() < 0.2 else [],
            labels={"disk": rng.choice(["ssd", "hdd"])},
        )
        for i in range(3)
    ]
    names = rng.sample(["web", "api", "db"], rng.choice([1, 2, 3]))
    for i in range(rng.choice([0, 1, 2])):
        spec = {}
        if rng.random() < 0.3:
            spec["affinity"] = anti(
                app=rng.choice(["web", "api", "db"]), key=rng.choice([HOST, ZONE])
            )
        cpu, labels = rng.choice(["0", "500m", "1"]), {"app": rng.choice(["web", "api", "x"])}
        docs.append(pod(f"run{i}", on=f"n{rng.randrange(3)}", cpu=cpu, labels=labels, **spec))
    for name in names:
        cpu = rng.choice(["500m", "1", "1500m"])
        spec = _random_rules(rng, name, names)
        docs.append(deployment(name, rng.choice([1, 2, 2]), cpu=cpu, **spec))
    return problem(*docs)


@pytest.mark.parametrize("seed", range(40))
def test_agrees_with_a_brute_force_replayed_through_the_plugins(seed):
    p = _random_instance(seed)
    _agrees(solved(p), _brute_force(p))


def _agrees(answer, reachable: bool) -> None:
    """The answer is the brute force's, or unknown where affinity runs in a cycle."""
    if answer.feasible is None:
        assert "Required pod affinity runs in a cycle" in answer.explanation[0]
    else:
        assert answer.feasible is reachable


@pytest.mark.parametrize("bounded", [True, False])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seed", range(40, 55))
def test_the_exact_model_agrees_with_the_brute_force(seed, backend, bounded, monkeypatch):
    """First-fit made to fail: the pattern relaxation (or, without it, the exact model of
    patterns and single nodes) decides."""
    monkeypatch.setattr(decide_module, "node_counts", lambda *args: ({}, {(0, 0): 1}))
    monkeypatch.setattr(decide_module, "CPSAT_ABOVE", 0 if backend == "cpsat" else 10**9)
    if not bounded:
        monkeypatch.setattr(decide_module, "_bounded", lambda *args: None)
    p = _random_instance(seed)
    _agrees(solved(p), _brute_force(p))
