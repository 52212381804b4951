"""The benchmark that puts the catalogue's ReplicaSet races into the journey's whole cluster."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bugs_in_journey import ENTRIES, in_journey, journey_with
from bugs_ttc import random_walk, write_section

from kubeproof.model.controllers.replicaset import ReplicaSetController
from kubeproof.model.scenarios import scenario
from kubeproof.properties.bugs import bug


def test_the_journey_gets_the_entrys_replicaset_controller_and_keeps_the_rest():
    journey = scenario("journey")
    for entry_id in ENTRIES:
        scaled = journey_with(bug(entry_id))
        assert [c.name for c in scaled.controllers] == [c.name for c in journey.controllers]
        replicaset = {c.name: c for c in scaled.controllers}["replicaset"]
        assert replicaset != ReplicaSetController()
        assert replicaset in bug(entry_id).buggy.scenario().controllers
        assert [type(c) for c in scaled.clients] == [type(c) for c in journey.clients]


def test_a_random_walk_finds_the_race_in_the_journey():
    entry = in_journey(bug("rs-no-expectations"), steps=300)
    assert entry.buggy.budget.steps == 300
    found = random_walk(entry, seed=0, walk_steps=1000, cap=30)
    assert found.found and found.length > 87  # past the journey's first ReplicaSet sync


def test_write_section_replaces_only_its_own_heading(tmp_path):
    report = tmp_path / "benchmarks.md"
    report.write_text("# Benchmarks\n\n## A\n\nold a\n\n## B\n\nold b\n", encoding="utf-8")
    write_section("## A\n\nnew a\n", report, heading="## A")
    write_section("## C\n\nc\n", report, heading="## C")
    assert report.read_text(encoding="utf-8") == (
        "# Benchmarks\n\n## A\n\nnew a\n\n## B\n\nold b\n\n## C\n\nc\n"
    )
