"""Placement on real manifests: the repository's examples and the Kubernetes website's pods
with topology spread, pod affinity, node selectors and tolerations (from the shared corpus),
next to nodes and running pods written for each case."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_placement import node, pod

from kubeproof.model.manifests import from_manifest, load_manifests, load_paths
from kubeproof.solvers.placement import feasible, isolation, problem_from_objects

ROOT = Path(__file__).resolve().parents[1]
WEBSITE = ROOT.parent / "shared" / "corpus" / "kubernetes-website"


def website(name):
    """The objects of one manifest of the website corpus; skipped when absent, except in CI
    (as tests/test_manifests.py does)."""
    if not WEBSITE.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"corpus {WEBSITE} is missing (required when CI=true)")
        pytest.skip(f"corpus {WEBSITE} is absent (../shared next to the repository root)")
    return list(load_manifests(WEBSITE / name))


def solve(*objects):
    return feasible(problem_from_objects(objects), timeout=30)


def zoned(name, zone, cpu="4", **extra):
    return from_manifest(node(name, cpu=cpu, zone=zone, labels={"zone": zone}, **extra))


def running(name, on, labels):
    return from_manifest(pod(name, on=on, cpu="100m", labels=labels))


def test_the_readme_example_fits_and_keeps_batch_in_its_zones():
    files = ("nodes.yaml", "nginx-deployment.yaml", "batch-pod.yaml")
    objects = load_paths([ROOT / "examples" / name for name in files])
    answer = feasible(problem_from_objects(objects), timeout=30)
    assert answer.feasible is True
    assert len([k for k in answer.assignment if k.startswith("default/nginx-")]) == 3
    assert answer.assignment["default/batch"] in {"node-a", "node-c"}


def test_website_one_constraint_goes_to_the_emptier_zone():
    existing = [running(f"old{i}", "a1", {"foo": "bar"}) for i in range(2)]
    answer = solve(
        zoned("a1", "zoneA"),
        zoned("b1", "zoneB"),
        *existing,
        *website("pods/topology-spread-constraints/one-constraint.yaml"),
    )
    assert answer.feasible is True and answer.assignment == {"default/mypod": "b1"}


def test_website_one_constraint_cannot_skew_further():
    existing = [running(f"old{i}", "a1", {"foo": "bar"}) for i in range(2)]
    full = zoned("b1", "zoneB", pods="0")  # mypod requests nothing: no pod room is full
    spread = website("pods/topology-spread-constraints/one-constraint.yaml")
    answer = solve(zoned("a1", "zoneA"), full, *existing, *spread)
    assert answer.feasible is False
    lines = "\n".join(answer.explanation)
    assert "Pod default/mypod: its topology spread (maxSkew 1 over zone, DoNotSchedule, " in lines
    assert "selecting foo=bar) counts 2 domains: zoneA and zoneB" in lines
    assert "matching pods already running: zoneA 2" in lines
    assert "(spec.topologySpreadConstraints[0])" in lines


def test_website_node_affinity_drops_the_excluded_zone_from_the_spread():
    """zoneC is excluded by the pod's required node affinity, so with nodeAffinityPolicy
    Honor (the default) it is no domain: zoneA and zoneB hold one each, mypod may join one."""
    existing = [running("old-a", "a1", {"foo": "bar"}), running("old-b", "b1", {"foo": "bar"})]
    nodes = [zoned("a1", "zoneA"), zoned("b1", "zoneB"), zoned("c1", "zoneC")]
    manifest = "pods/topology-spread-constraints/one-constraint-with-nodeaffinity.yaml"
    answer = solve(*nodes, *existing, *website(manifest))
    assert answer.feasible is True and answer.assignment["default/mypod"] in {"a1", "b1"}


def test_website_two_constraints_spread_over_zones_and_nodes():
    nodes = [
        from_manifest(node(n, zone=z, labels={"zone": z, "node": n}))
        for n, z in (("n1", "zoneA"), ("n2", "zoneA"), ("n3", "zoneB"))
    ]
    existing = [running("old1", "n1", {"foo": "bar"}), running("old3", "n3", {"foo": "bar"})]
    manifest = "pods/topology-spread-constraints/two-constraints.yaml"
    answer = solve(*nodes, *existing, *website(manifest))
    assert answer.feasible is True and answer.assignment == {"default/mypod": "n2"}


def test_website_pod_affinity_needs_a_security_s1_pod_in_the_zone():
    nodes = [from_manifest(node(n, zone=z)) for n, z in (("a1", "zone-a"), ("b1", "zone-b"))]
    target = running("s1", "b1", {"security": "S1"})
    answer = solve(*nodes, target, *website("pods/pod-with-pod-affinity.yaml"))
    assert answer.feasible is True
    assert answer.assignment == {"default/with-pod-affinity": "b1"}
    alone = solve(*nodes, *website("pods/pod-with-pod-affinity.yaml"))
    assert alone.feasible is False
    assert alone.explanation == (
        "Pod default/with-pod-affinity is waiting for a node.",
        "Pod default/with-pod-affinity: its required pod affinity needs a running matching pod "
        "in the same topology.kubernetes.io/zone domain (spec.affinity.podAffinity).",
    )


def test_website_node_selector_and_toleration():
    taint = {"key": "example-key", "value": "x", "effect": "NoSchedule"}
    ssd = from_manifest(node("ssd", labels={"disktype": "ssd"}, taints=[taint]))
    plain = from_manifest(node("plain"))
    answer = solve(ssd, plain, *website("pods/pod-nginx.yaml"))
    assert answer.feasible is False
    lines = "\n".join(answer.explanation)
    assert "carry taint example-key=x:NoSchedule" in lines
    assert "do not match its nodeSelector disktype=ssd (spec.nodeSelector)" in lines
    tolerant = problem_from_objects([ssd, plain, *website("pods/pod-with-toleration.yaml")])
    assert isolation(tolerant, "nginx", "disktype=ssd").witness == "ssd"
