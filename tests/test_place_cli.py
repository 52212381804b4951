"""``kubeproof place``: every flag, both formats, exit statuses 0, 2 and 3, on the examples and on
real manifests from the shared corpus."""

from __future__ import annotations

import doctest
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubeproof import report_place
from kubeproof.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "placement"
CLUSTER, FEASIBLE, INFEASIBLE = (str(EXAMPLES / d) for d in ("cluster", "feasible", "infeasible"))
WEBSITE = ROOT.parent / "shared" / "corpus" / "kubernetes-website"
GPU_NODE = "ip-10-0-20-77.eu-west-1.compute.internal"
INFRA_NODE = "ip-10-0-22-83.eu-west-1.compute.internal"
GENERAL_NODE = "ip-10-0-11-50.eu-west-1.compute.internal"
HIGHMEM_NODES = {
    "ip-10-0-17-68.eu-west-1.compute.internal",
    "ip-10-0-18-71.eu-west-1.compute.internal",
    "ip-10-0-19-74.eu-west-1.compute.internal",
}
KEYS = {
    "feasible",
    "assignment",
    "explanation",
    "capacity",
    "isolation",
    "drain",
    "greedy",
    "seconds",
}


def place(capsys, *args):
    """Exit status, stdout and stderr of ``kubeproof place ARGS``."""
    status = main(["place", *args])
    out = capsys.readouterr()
    return status, out.out, out.err


def place_json(capsys, *args):
    status, out, err = place(capsys, *args, "--format", "json")
    assert err == ""
    return status, json.loads(out)


def website(name):
    """A directory of the website corpus; skipped when absent, except in CI."""
    path = WEBSITE / name
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"corpus {WEBSITE} is missing (required when CI=true)")
        pytest.skip(f"corpus {WEBSITE} is absent (../shared next to the repository root)")
    return str(path)


# --- feasibility ----------------------------------------------------------------------------


def test_feasible_text_has_a_summary_then_a_table_per_node_with_replicas_counted(capsys):
    status, out, err = place(capsys, CLUSTER, FEASIBLE)
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("Feasible: the 21 pending pods of 5 workloads fit on ")
    assert "of 12 nodes, verified pod by pod" in lines[0]
    header = lines[2].split()
    assert header == ["NODE", "ZONE", "PODS", "CPU", "MEMORY", "NVIDIA.COM/GPU", "PLACED"]
    rows = [line for line in lines[3:] if line.startswith("ip-")]
    gpu_rows = [row for row in rows if "ml/trainer ×1" in row]
    assert len(gpu_rows) == 2 and all("1/1 (100%)" in row for row in gpu_rows)
    placed = sum(
        int(part.split("×")[1]) for row in rows for part in row.split("  ")[-1].split(", ")
    )
    assert placed == 21
    used = int(lines[0].split(" fit on ")[1].split()[0])
    assert lines[-1] == f"({12 - used} other nodes receive no pending pod.)"


def test_feasible_json_is_exactly_the_documented_document(capsys):
    status, doc = place_json(capsys, CLUSTER, FEASIBLE)
    assert status == 0 and set(doc) == KEYS
    assert doc["feasible"] is True and doc["explanation"] == []
    assert len(doc["assignment"]) == 21 and doc["assignment"]["shop/db-migrate"].startswith("ip-")
    assert [doc[k] for k in ("capacity", "isolation", "drain", "greedy")] == [None] * 4
    assert isinstance(doc["seconds"], float)


def test_infeasible_text_explains_in_the_users_terms(capsys):
    status, out, _ = place(capsys, CLUSTER, INFEASIBLE)
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith(
        "Infeasible: the 25 pending pods of 5 workloads cannot all be placed"
    )
    assert lines[1] == "  - Deployment shop/api wants 10 replicas (spec.replicas)."
    assert any("anti-affinity on kubernetes.io/hostname" in line for line in lines)
    assert any("at most 9 nodes: general (6) and highmem (3)" in line for line in lines)


def test_infeasible_json_has_no_assignment_and_the_explanation(capsys):
    status, doc = place_json(capsys, CLUSTER, INFEASIBLE)
    assert status == 0 and set(doc) == KEYS
    assert doc["feasible"] is False and doc["assignment"] == {}
    assert doc["explanation"][0] == "Deployment shop/api wants 10 replicas (spec.replicas)."


# --- the queries ----------------------------------------------------------------------------


def test_capacity_is_the_most_replicas_that_fit_and_why_not_one_more(capsys):
    status, doc = place_json(capsys, CLUSTER, INFEASIBLE, "--capacity", "shop/api")
    assert status == 0
    capacity = doc["capacity"]
    assert capacity["workload"] == "shop/api" and capacity["max_replicas"] == 9
    assert "Deployment shop/api wants 10 replicas (spec.replicas)." in capacity["explanation"]
    status, out, _ = place(capsys, CLUSTER, INFEASIBLE, "--capacity", "shop/api")
    assert "Capacity of shop/api: at most 9 replicas fit with every other workload in place" in out


def test_a_workload_in_the_default_namespace_is_named_without_it(capsys):
    status, doc = place_json(
        capsys, CLUSTER, website("application/guestbook"), "--capacity", "frontend"
    )
    assert status == 0 and doc["capacity"]["workload"] == "default/frontend"
    assert doc["capacity"]["max_replicas"] > 3


def test_isolation_never_is_proved_for_every_replica(capsys):
    selector = "eks.amazonaws.com/nodegroup in (gpu,infra)"
    status, doc = place_json(capsys, CLUSTER, FEASIBLE, "--isolation", "shop/web", "--on", selector)
    assert status == 0
    isolation = doc["isolation"]
    assert (isolation["workload"], isolation["selector"]) == ("shop/web", selector)
    assert isolation["possible"] is False and isolation["witness"] is None
    assert "never runs on the 3 nodes" in isolation["explanation"][0]
    _, out, _ = place(capsys, CLUSTER, FEASIBLE, "--isolation", "shop/web", "--on", selector)
    assert "never, proved for every replica" in out


def test_isolation_possible_names_a_witness_node_with_its_labels(capsys):
    status, doc = place_json(
        capsys,
        CLUSTER,
        FEASIBLE,
        "--isolation",
        "ml/trainer",
        "--on",
        "eks.amazonaws.com/nodegroup=gpu",
    )
    assert status == 0
    witness = doc["isolation"]["witness"]
    assert doc["isolation"]["possible"] is True
    assert witness["labels"]["eks.amazonaws.com/nodegroup"] == "gpu"
    assert witness["node"] in {GPU_NODE, "ip-10-0-21-80.eu-west-1.compute.internal"}


def test_drain_moves_the_nodes_evictable_pods_and_keeps_daemonset_pods(capsys):
    status, doc = place_json(capsys, CLUSTER, FEASIBLE, "--drain", f"{GENERAL_NODE},{INFRA_NODE}")
    assert status == 0
    drain = doc["drain"]
    assert drain["nodes"] == [GENERAL_NODE, INFRA_NODE] and drain["cordon"] is False
    assert drain["possible"] is True
    assert set(drain["moves"]) == {
        "kube-system/coredns-789f8477df-2k7mm",
        "monitoring/prometheus-0",
    }
    assert not set(drain["moves"].values()) & {GENERAL_NODE, INFRA_NODE}
    _, out, _ = place(capsys, CLUSTER, FEASIBLE, "--drain", INFRA_NODE)
    assert f"monitoring/prometheus ×1: {INFRA_NODE} -> " in out


def test_cordoning_a_gpu_node_leaves_a_trainer_nowhere_to_go(capsys):
    status, doc = place_json(capsys, CLUSTER, FEASIBLE, "--drain", GPU_NODE, "--cordon")
    assert status == 0
    drain = doc["drain"]
    assert drain["cordon"] is True and drain["possible"] is False and drain["moves"] == {}
    assert "Deployment ml/trainer wants 2 replicas (spec.replicas)." in drain["explanation"]
    _, out, _ = place(capsys, CLUSTER, FEASIBLE, "--drain", GPU_NODE, "--cordon")
    assert f"Cordon of {GPU_NODE}: not possible" in out


def test_greedy_lists_what_the_scheduler_strands_beside_the_complete_placement(capsys):
    status, doc = place_json(capsys, CLUSTER, FEASIBLE, "--greedy")
    assert status == 0
    greedy = doc["greedy"]
    assert len(greedy["pending"]) == 3 and all(
        k.startswith("jobs/batch-") for k in greedy["pending"]
    )
    assert {greedy["complete"][k] for k in greedy["pending"]} == HIGHMEM_NODES
    assert all(greedy["scheduler"][k] is None for k in greedy["pending"])
    assert set(greedy["scheduler"]) == set(doc["assignment"]) and greedy["finished"] is True
    assert greedy["complete_feasible"] is True
    status, out, _ = place(capsys, CLUSTER, FEASIBLE, "--greedy")
    assert "leaves 3 pods of 21 Pending; the complete placement places all of them" in out
    assert "  jobs/batch ×3 Pending, e.g. jobs/batch-" in out
    assert "    WORKLOAD         SCHEDULER  COMPLETE  NODES" in out


def test_every_query_at_once_in_one_document(capsys):
    status, doc = place_json(
        capsys,
        CLUSTER,
        FEASIBLE,
        "--capacity",
        "jobs/batch",
        "--isolation",
        "jobs/batch",
        "--on",
        "eks.amazonaws.com/nodegroup!=highmem",
        "--drain",
        GENERAL_NODE,
        "--greedy",
        "--timeout",
        "120",
    )
    assert status == 0 and set(doc) == KEYS
    assert doc["capacity"]["max_replicas"] == 3  # each highmem node has room for one more
    assert doc["isolation"]["possible"] is False
    assert doc["drain"]["possible"] is True
    assert doc["greedy"]["pending"]


def test_real_manifests_from_the_corpus_next_to_the_example_nodes(capsys):
    status, doc = place_json(capsys, CLUSTER, website("application/guestbook"))
    assert status == 0 and doc["feasible"] is True
    workloads = {key.rsplit("-", 2)[0] for key in doc["assignment"]}
    assert workloads == {"default/frontend", "default/redis-leader", "default/redis-follower"} | {
        "default/redis-slave"
    }


def test_a_corpus_spread_on_a_label_the_nodes_lack_is_explained(capsys):
    status, out, _ = place(capsys, CLUSTER, website("pods/topology-spread-constraints"))
    assert status == 0 and out.startswith("Infeasible:")
    assert "lack the label zone its topology spread needs" in out


# --- time limits ----------------------------------------------------------------------------


def test_no_time_is_unknown_never_feasible_and_exits_3(capsys):
    status, doc = place_json(capsys, CLUSTER, FEASIBLE, "--timeout", "0")
    assert status == 3 and doc["feasible"] is None and doc["assignment"] == {}
    status, out, _ = place(capsys, CLUSTER, FEASIBLE, "--timeout", "0", "--greedy")
    assert status == 3 and out.startswith("Unknown: the time ran out")
    assert "Greedy gap: the scheduler" not in out


def test_a_tiny_time_limit_on_a_packing_that_needs_the_exact_model_exits_3(tmp_path, capsys):
    """60 nodes of 10 cpu and pods of 5, 4, 3, 3, 3, 2 cpu per pair of nodes: they pack only as
    5+3+2 and 4+3+3, which first-fit decreasing misses, so the exact model must run."""
    docs = [_node(f"n{i:02d}") for i in range(60)]
    docs += [_deployment(n, k, cpu) for n, k, cpu in (("five", 30, 5), ("four", 30, 4))]
    docs += [_deployment("three", 90, 3), _deployment("two", 30, 2)]
    path = tmp_path / "packing.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}))
    status, doc = place_json(capsys, str(path), "--timeout", "0.001")
    assert status == 3 and doc["feasible"] is None and doc["assignment"] == {}
    status, doc = place_json(capsys, str(path))
    assert status == 0 and doc["feasible"] is True and len(doc["assignment"]) == 180


def test_a_query_out_of_time_exits_3_even_when_feasibility_was_answered(capsys):
    status, out, _ = place(capsys, CLUSTER, INFEASIBLE, "--capacity", "shop/api", "--timeout", "0")
    assert status == 3
    assert "Capacity of shop/api: unknown, the time ran out" in out


def _node(name):
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"allocatable": {"cpu": "10", "memory": "64Gi", "pods": "110"}},
    }


def _deployment(name, replicas, cpu):
    container = {"name": "c", "image": "app", "resources": {"requests": {"cpu": str(cpu)}}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container]},
            },
        },
    }


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--capacity", "shop/nope"], "no pending Deployment, ReplicaSet or Pod shop/nope"),
        (
            ["--isolation", "nope", "--on", "a=b"],
            "no pending Deployment, ReplicaSet or Pod default/nope",
        ),
        (["--isolation", "shop/web", "--on", "pool in (gpu"], "pool in (gpu"),
        (["--on", "pool=gpu"], "--on SELECTOR needs --isolation WORKLOAD"),
        (["--isolation", "shop/web"], "--isolation WORKLOAD needs --on SELECTOR"),
        (["--drain", "node-x"], "no node 'node-x' in the input"),
        (["--drain", f"{GPU_NODE},,"], "expected node names separated by commas"),
        (["--cordon"], "--cordon needs --drain NODE,..."),
        (["--timeout", "-1"], "--timeout -1: must be 0 or more seconds"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(capsys, args, message):
    status, out, err = place(capsys, CLUSTER, FEASIBLE, *args)
    assert status == 2 and out == ""
    assert err.startswith("kubeproof: error: ") and err.count("\n") == 1
    assert message in err


def test_a_bad_manifest_names_file_document_and_field(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
        "  containers: [{name: c, image: app}]\n"
        "  tolerations: [{key: k, operator: Sometimes}]\n"
    )
    status, out, err = place(capsys, CLUSTER, str(bad))
    assert status == 2 and out == "" and err.count("\n") == 1
    assert f"{bad}[0].spec.tolerations[0].operator" in err
    status, _, err = place(capsys, str(tmp_path / "missing.yaml"))
    assert status == 2 and "missing.yaml" in err and "no such file or directory" in err


def test_a_closed_pipe_ends_the_command_quietly():
    """``kubeproof place ... | head`` where head is gone before anything is written."""
    command = [sys.executable, "-m", "kubeproof", "place", CLUSTER, FEASIBLE, "--greedy"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    error = process.stderr.read().decode()
    process.wait(timeout=120)
    assert "Traceback" not in error and error == ""
    assert process.returncode == 141


def test_the_report_module_example_runs():
    assert doctest.testmod(report_place).failed == 0


def test_nothing_pending_is_feasible_in_one_line(capsys):
    status, out, _ = place(capsys, CLUSTER)
    assert status == 0
    assert out.splitlines()[0].startswith("Feasible: no pod is pending on the 12 nodes")
    assert len(out.splitlines()) == 1


def test_a_gated_pod_left_pending_is_no_greedy_gap(tmp_path, capsys):
    path = tmp_path / "gated.yaml"
    path.write_text(
        "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n"
        "status: {allocatable: {cpu: '2', memory: 4Gi, pods: '10'}}\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: gated}\n"
        "spec: {schedulingGates: [{name: example.com/quota}], containers: [{name: c, image: a}]}\n"
    )
    status, out, _ = place(capsys, str(path), "--greedy")
    assert status == 0
    assert "leaves 1 pod of 1 Pending, each waiting for its scheduling gates: no gap" in out
    assert out.startswith("Feasible: no pod is pending on the 1 node")
    assert out.splitlines()[1] == (
        "Left out: Pod default/gated has scheduling gates (spec.schedulingGates: "
        "example.com/quota); the scheduler does not consider it until they are removed."
    )
