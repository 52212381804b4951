"""The scheduling cycle, profiles, the simulation of a user's manifests and `kubeproof schedule`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kubeproof.cli import main
from kubeproof.model.errors import KubeproofError
from kubeproof.model.manifests import load_text
from kubeproof.model.scheduler.cycle import schedule_one
from kubeproof.model.scheduler.profile import default_profile, profile_from_config
from kubeproof.model.scheduler.simulate import cluster_from_objects, schedule_all

ROOT = Path(__file__).resolve().parents[1]


def node(name, cpu="2", taint="", zone="z1", pods="110"):
    taints = f"[{{key: {taint}, value: x, effect: NoSchedule}}]" if taint else "[]"
    return f"""
apiVersion: v1
kind: Node
metadata: {{name: {name}, labels: {{topology.kubernetes.io/zone: {zone}}}}}
spec: {{taints: {taints}}}
status: {{allocatable: {{cpu: "{cpu}", memory: 4Gi, pods: "{pods}"}}}}
---"""


def pod(name, cpu="500m", extra=""):
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: default}}
spec:
  containers: [{{name: c, image: nginx, resources: {{requests: {{cpu: "{cpu}"}}}}}}]{extra}
---"""


def cluster(text):
    return cluster_from_objects(load_text(text, "test.yaml"))


def test_fit_error_message_counts_first_failures_as_upstream():
    """upstream: pkg/scheduler/framework/types.go FitError.Error: '0/N nodes are available:'
    then "<count> <reason>" sorted, from each node's first failing filter."""
    c = cluster(
        node("a", cpu="1") + node("b", taint="gpu") + node("c", taint="gpu") + pod("p", "2")
    )
    decision = next(schedule_all(default_profile(), c))
    assert decision.selected is None
    assert decision.message == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {gpu: x}."
    )


def test_every_filter_is_evaluated_on_every_node():
    """A node failing two filters reports both; upstream would stop at the first."""
    c = cluster(node("a", cpu="1", taint="gpu") + pod("p", "2"))
    (evaluation,) = next(schedule_all(default_profile(), c)).nodes
    failed = [plugin for plugin, status in evaluation.filters if status.code.startswith("Unsch")]
    assert failed == ["TaintToleration", "NodeResourcesFit"]
    assert evaluation.first_failure.reasons == ("node(s) had untolerated taint {gpu: x}",)


def test_scoring_runs_only_with_two_feasible_nodes():
    """upstream: schedule_one.go schedulePod: one feasible node is chosen without scoring."""
    one = next(
        schedule_all(default_profile(), cluster(node("a") + node("b", taint="t") + pod("p")))
    )
    assert one.selected == "a" and all(not n.scores for n in one.nodes)
    two = next(schedule_all(default_profile(), cluster(node("a") + node("b") + pod("p"))))
    assert all(n.scores for n in two.nodes)
    assert {name for name, _ in two.nodes[0].scores} >= {"TaintToleration", "NodeResourcesFit"}


def test_score_all_scores_infeasible_nodes_without_changing_the_choice():
    c = cluster(node("a") + node("b", taint="t") + node("c") + pod("p"))
    plain = next(schedule_all(default_profile(), c))
    everything = next(schedule_all(default_profile(), c, score_all=True))
    assert plain.selected == everything.selected
    assert all(n.scores for n in everything.nodes)


def test_placements_are_assumed_before_the_next_pod():
    """upstream: the scheduler assumes a pod onto its node before binding, so the next cycle
    sees its requests: two pods of 1.5 cpu cannot share a 2-cpu node."""
    c = cluster(node("a") + node("b") + pod("p1", "1500m") + pod("p2", "1500m"))
    first, second = schedule_all(default_profile(), c)
    assert {first.selected, second.selected} == {"a", "b"}


def test_ties_are_broken_by_a_seeded_choice():
    """upstream: selectHost picks uniformly among the best; here the seed fixes the choice."""
    c = cluster("".join(node(f"n{i}") for i in range(8)) + pod("p"))
    choices = {next(schedule_all(default_profile(), c, seed=s)).selected for s in range(20)}
    assert len(choices) > 1
    again = [next(schedule_all(default_profile(), c, seed=7)).selected for _ in range(3)]
    assert len(set(again)) == 1


def test_deployments_expand_to_replicas_named_as_the_controllers_name_them():
    text = (
        node("a")
        + """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
"""
    )
    pending = cluster(text).pending
    assert len(pending) == 3
    rs_name = pending[0].metadata.owner_references[0].name
    assert rs_name.startswith("web-") and len(rs_name) == len("web-") + 10
    for p in pending:
        assert (
            p.metadata.name.startswith(rs_name + "-") and len(p.metadata.name) == len(rs_name) + 6
        )
        assert p.metadata.labels["pod-template-hash"] == rs_name[len("web-") :]
    assert len({p.metadata.name for p in pending}) == 3


def test_a_gated_pod_is_not_attempted():
    c = cluster(node("a") + pod("p", extra="\n  schedulingGates: [{name: wait}]"))
    decision = next(schedule_all(default_profile(), c))
    assert decision.selected is None and "scheduling gates" in decision.message


def test_bound_pods_use_their_nodes_resources():
    c = cluster(node("a") + pod("old", "1800m", extra="\n  nodeName: a") + pod("p", "500m"))
    decision = next(schedule_all(default_profile(), c))
    assert decision.selected is None and "Insufficient cpu" in decision.message


CONFIG = """
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
  plugins:
    filter:
      disabled: [{name: TaintToleration}]
    score:
      enabled: [{name: NodeResourcesFit, weight: 5}]
  pluginConfig:
  - name: NodeResourcesFit
    args: {scoringStrategy: {type: MostAllocated}}
"""


def test_profile_from_configuration_disables_reweights_and_configures():
    import yaml

    (profile,) = profile_from_config(yaml.safe_load(CONFIG))
    assert "TaintToleration" not in [p.name for p in profile.filters]
    weights = {p.name: w for p, w in profile.scores}
    assert weights["NodeResourcesFit"] == 5 and weights["TaintToleration"] == 3
    decision = next(schedule_all(profile, cluster(node("a", taint="gpu") + pod("p"))))
    assert decision.selected == "a"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"kind": "Other"}, "kind must be KubeSchedulerConfiguration"),
        (
            {
                "kind": "KubeSchedulerConfiguration",
                "profiles": [{"plugins": {"filter": {"enabled": [{"name": "Nope"}]}}}],
            },
            "'Nope' is not modelled",
        ),
        (
            {"kind": "KubeSchedulerConfiguration", "profiles": [{"plugins": {"scoring": {}}}]},
            "unknown extension point",
        ),
    ],
)
def test_bad_configurations_are_one_line_errors(config, message):
    with pytest.raises(KubeproofError, match=message):
        profile_from_config(config)


def test_schedule_one_on_an_empty_cluster():
    c = cluster(pod("p"))
    decision = schedule_one(default_profile(), c.pending[0], c.snapshot)
    assert decision.selected is None and decision.message == "0/0 nodes are available:"


def test_cli_schedule_text_and_json(capsys):
    assert main(["schedule", str(ROOT / "examples")]) == 0
    text = capsys.readouterr().out
    assert "default/batch -> node-c" in text and "untolerated taint" in text
    assert main(["schedule", str(ROOT / "examples"), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    first = document["decisions"][0]
    assert set(first) == {"pod", "selected", "message", "nodes"}
    assert set(first["nodes"][0]) == {"name", "feasible", "filters", "scores", "total"}
    feasible = [n for n in first["nodes"] if n["feasible"]]
    assert all(n["total"] == sum(s["weighted"] for s in n["scores"].values()) for n in feasible)


def test_cli_schedule_bad_input_exits_2_with_one_line(tmp_path):
    config = tmp_path / "config.yaml"
    bad = "profiles: [{plugins: {filter: {enabled: [{name: X}]}}}]"
    config.write_text(f"kind: KubeSchedulerConfiguration\n{bad}\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kubeproof",
            "schedule",
            str(ROOT / "examples"),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "'X' is not modelled" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_closed_pipe_ends_the_command_quietly(tmp_path):
    """`kubeproof schedule ... | head` must not print a traceback when head exits: the output
    (distinct nodes, one line each) is far larger than a pipe's buffer."""
    nodes = "".join(node(f"n{i:03d}", cpu=f"{1000 + i}m") for i in range(200))
    (tmp_path / "cluster.yaml").write_text(nodes + "".join(pod(f"p{i}") for i in range(20)))
    command = [sys.executable, "-m", "kubeproof", "schedule", str(tmp_path / "cluster.yaml")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.readline().startswith(b"default/p")
    process.stdout.close()
    error = process.stderr.read().decode()
    process.wait(timeout=120)
    assert "Traceback" not in error and process.returncode in (0, 141)
