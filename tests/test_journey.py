"""``kubeproof journey``: the narration, its determinism, its formats, and reports/journey.md."""

from __future__ import annotations

import json
from pathlib import Path

from kubeproof.cli import main
from kubeproof.journey import beats, decision_text, render_markdown, render_text
from kubeproof.model.run import run
from kubeproof.model.scenarios import scenario

REPORT = Path(__file__).resolve().parent.parent / "reports" / "journey.md"
_RUN = {}


def journey():
    if "run" not in _RUN:
        _RUN["run"] = run(scenario("journey"))
    return _RUN["run"]


def test_narration_follows_the_journey_in_order():
    text = render_text(journey())
    marks = [
        "registers its Node",
        "kubectl sends POST /apis/apps/v1/namespaces/default/deployments",
        "The api-server authenticates kubernetes-admin",
        "etcd stores /registry/deployments/default/nginx at revision",
        "The watch tells the Deployment controller",
        "creates ReplicaSet nginx-",
        "The watch tells the ReplicaSet controller",
        "creates Pod nginx-",
        "The scheduler pops default/nginx-",
        "binding (bind to node-",
        "admits pod nginx-",
        "pulls image nginx",
        "starts container(s) nginx",
        "phase Running",
        "available 3",
    ]
    positions = [text.find(m) for m in marks]
    assert -1 not in positions, [m for m, p in zip(marks, positions, strict=True) if p < 0]
    assert positions == sorted(positions)


def test_the_scheduler_beat_says_how_many_nodes_were_feasible_and_why():
    text = render_text(journey())
    assert "filters 3 node(s): 3 feasible" in text
    assert "tie-break picks" in text or "scores highest" in text


def test_low_level_steps_are_grouped_but_every_step_is_covered():
    result = journey()
    story = beats(result)
    assert len(story) < len(result.steps) // 10
    covered = [i for b in story for i in range(b.first, b.last + 1)]
    assert covered == list(range(len(result.steps)))
    assert any(b.kind == "time" and "Lease renewals" in b.text for b in story)


def test_two_runs_narrate_identically():
    assert render_markdown(journey()) == render_markdown(run(scenario("journey")))


def test_json_parses_and_keeps_every_step(capsys):
    assert main(["journey", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert len(document["steps"]) == len(journey().steps)
    assert document["steps"][0]["journal"]
    assert document["end"]["facts"] and all(f["holds"] for f in document["end"]["facts"])
    assert document["beats"][0]["text"]


def test_markdown_has_a_mermaid_diagram_with_one_lifeline_per_component():
    md = render_markdown(journey())
    assert "```mermaid\nsequenceDiagram" in md
    for name in ("deployment", "replicaset", "scheduler", "kubelet_node_1", "etcd", "kubectl"):
        assert f"participant {name} as" in md


def test_reports_journey_md_is_current():
    # regenerate with: kubeproof journey --format markdown > reports/journey.md
    assert REPORT.read_text(encoding="utf-8") == render_markdown(journey())


def test_other_scenarios_and_manifests_narrate(capsys):
    assert main(["journey", "--scenario", "node-failure"]) == 0
    out = capsys.readouterr().out
    assert "kubelet on node-2 fails" in out and "taint eviction controller" in out
    assert (
        main(["journey", "--manifests", "examples/nodes.yaml", "examples/nginx-deployment.yaml"])
        == 0
    )
    assert "[ok]" in capsys.readouterr().out


def test_unknown_scenario_exits_2(capsys):
    assert main(["journey", "--scenario", "nope"]) == 2
    assert "unknown scenario" in capsys.readouterr().err


def test_decision_text_explains_a_lone_feasible_node():
    from kubeproof.model.objects import (
        FrozenMap,
        Node,
        NodeSpec,
        NodeStatus,
        ObjectMeta,
        Pod,
        Taint,
    )
    from kubeproof.model.quantity import parse_quantity
    from kubeproof.model.scheduler.cycle import schedule_one
    from kubeproof.model.scheduler.framework import NodeInfo, Snapshot
    from kubeproof.model.scheduler.profile import default_profile

    room = NodeStatus(allocatable=FrozenMap(pods=parse_quantity("110")))
    tainted = NodeSpec(taints=(Taint("dedicated", "NoSchedule"),))
    snapshot = Snapshot(
        (
            NodeInfo(Node(ObjectMeta(name="a"), status=room)),
            NodeInfo(Node(ObjectMeta(name="b"), tainted, room)),
        )
    )
    decision = schedule_one(default_profile(), Pod(ObjectMeta(name="p", namespace="d")), snapshot)
    text = decision_text(decision)
    assert "2 node(s): 1 feasible" in text and "a is the only feasible node" in text
