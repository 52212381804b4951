"""Nodes without a rule's topology key (solvers/placement/rules.py): such a node is in no domain
of the key. Upstream's anti-affinity then does not limit it at all (any number of replicas share
it), while PodTopologySpread and required pod affinity reject it for the pod that carries the
rule and count no pod on it. Each case is run through every way ``decide`` can reach an answer
(first-fit on the grouped model, the pattern relaxation, the exact model with z3 and with
CP-SAT where installed) and set beside the model's scheduler.
"""

from __future__ import annotations

import pytest

from kubeproof.model.manifests import from_manifest
from kubeproof.model.scheduler.profile import default_profile
from kubeproof.model.scheduler.simulate import cluster_from_objects, schedule_all
from kubeproof.solvers.placement import cpsat, feasible, problem_from_objects
from kubeproof.solvers.placement import decide as decide_module

ZONE, HOST = "topology.kubernetes.io/zone", "kubernetes.io/hostname"
PATHS = ["first-fit", "patterns", "exact z3", *(["exact CP-SAT"] if cpsat.available() else [])]


def node(name, labels, cpu="1", pods="2"):
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": pods}},
    }


def zoned(name, zone, **room):
    """A node with a hostname label, and a zone label unless ``zone`` is None."""
    return node(name, {HOST: name} | ({ZONE: zone} if zone else {}), **room)


def spec(**extra):
    box = {"name": "c", "image": "app", "resources": {"requests": {"cpu": "250m"}}}
    return {"containers": [box], **extra}


def deployment(name, replicas, **extra):
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": spec(**extra)},
        },
    }


def running(name, app, on):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": app}},
        "spec": spec(nodeName=on),
    }


def required(kind, key, app):
    term = {"topologyKey": key, "labelSelector": {"matchLabels": {"app": app}}}
    return {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}


def zone_spread(app):
    return [
        {
            "maxSkew": 1,
            "topologyKey": ZONE,
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": app}},
        }
    ]


def answered(docs, path, monkeypatch):
    """``feasible`` made to decide by ``path``; and whether the model's scheduler, one pod at
    a time, placed every pod."""
    objects = [from_manifest(d) for d in docs]
    if path != "first-fit":  # first-fit made to fail
        monkeypatch.setattr(decide_module, "node_counts", lambda *args: ({}, {(0, 0): 1}))
    if path.startswith("exact"):
        monkeypatch.setattr(decide_module, "_bounded", lambda *args: None)
        monkeypatch.setattr(decide_module, "CPSAT_ABOVE", 0 if "CP-SAT" in path else 10**9)
    decisions = list(schedule_all(default_profile(), cluster_from_objects(objects)))
    answer = feasible(problem_from_objects(objects), timeout=60)
    return answer, all(d.selected is not None for d in decisions)


@pytest.mark.parametrize("path", PATHS)
def test_hostname_anti_affinity_lets_replicas_share_nodes_without_a_hostname_label(
    path, monkeypatch
):
    """Three identical unlabelled nodes (one class of patterns) take up to three replicas
    each, the labelled node one: seven fit (which nodes take them is the solver's choice)."""
    docs = [zoned("n0", "a", pods="3")]
    docs += [node(f"bare{i}", {}, pods="3") for i in range(3)]
    docs.append(deployment("w0", 7, affinity=required("podAntiAffinity", HOST, "w0")))
    answer, scheduled = answered(docs, path, monkeypatch)
    assert scheduled
    assert answer.feasible is True, answer.explanation
    placed = list(answer.assignment.values())
    assert len(placed) == 7 and placed.count("n0") <= 1


@pytest.mark.parametrize("path", PATHS)
def test_anti_affinity_between_workloads_does_not_apply_on_a_node_without_the_key(
    path, monkeypatch
):
    """b may only go to the node without a hostname label, and a needs it too: n0 holds one
    replica of a."""
    docs = [zoned("n0", "a", pods="1"), node("bare", {"disk": "ssd"}, pods="4")]
    docs.append(deployment("a", 3, affinity=required("podAntiAffinity", HOST, "b")))
    docs.append(deployment("b", 1, nodeSelector={"disk": "ssd"}))
    answer, scheduled = answered(docs, path, monkeypatch)
    assert scheduled
    assert answer.feasible is True, answer.explanation
    b = next(k for k in answer.assignment if k.startswith("default/b-"))
    assert answer.assignment[b] == "bare"
    assert list(answer.assignment.values()).count("bare") >= 2


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("replicas", "fits"), [(6, True), (7, False)])
def test_zone_spread_keeps_off_a_node_without_a_zone_and_counts_nothing_there(
    path, replicas, fits, monkeypatch
):
    """Zones a, b and c of one node each (the zone key reads one node per value) and an
    unlabelled node holding two matching pods: those count in no domain, and no replica may
    go there, so two per zone is the most."""
    docs = [zoned("n0", "a"), zoned("n1", "b"), zoned("n2", "c"), zoned("bare", None, pods="9")]
    docs += [running(f"old{i}", "w0", "bare") for i in range(2)]
    docs.append(deployment("w0", replicas, topologySpreadConstraints=zone_spread("w0")))
    answer, scheduled = answered(docs, path, monkeypatch)
    assert scheduled is fits
    assert answer.feasible is fits, answer.explanation
    if not fits:
        assert any("lack the label topology.kubernetes.io/zone" in x for x in answer.explanation)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("replicas", "fits"), [(2, True), (3, False)])
def test_zone_affinity_needs_a_target_on_a_node_with_the_zone(path, replicas, fits, monkeypatch):
    """The target running on the unlabelled node is in no zone: only zone a's target counts,
    and its one node takes two replicas."""
    docs = [zoned("n0", "a"), zoned("n1", "b"), zoned("n2", "c"), zoned("bare", None, pods="9")]
    docs += [running("db-0", "db", "n0"), running("db-1", "db", "bare")]
    docs[0]["status"]["allocatable"]["pods"] = "3"
    docs.append(deployment("w0", replicas, affinity=required("podAffinity", ZONE, "db")))
    answer, scheduled = answered(docs, path, monkeypatch)
    assert scheduled is fits
    assert answer.feasible is fits, answer.explanation
    if fits:
        assert set(answer.assignment.values()) == {"n0"}
