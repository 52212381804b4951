"""Upstream's own plugin table tests, transcribed into tests/conformance/scheduler/*.yaml.

Each file holds one plugin's cases:

    plugin: TaintToleration
    cases:
      - name: short description
        upstream: taint_toleration_test.go TestTaintTolerationFilter "the upstream case name"
        args: {}                      # the plugin's pluginConfig args, camelCase (optional)
        pod: {Pod manifest}
        nodes: [{Node manifest}, ...]
        pods: [{Pod manifest with spec.nodeName}, ...]   # existing pods (optional)
        namespaces: [{Namespace manifest}, ...]          # (optional)
        pre_filter: {code: ..., reason: ...}             # expected PreFilter status (optional)
                                      # node_names: [...] or null: PreFilter's node restriction
        filter: {node-name: {code: Success}, other: {code: UnschedulableAndUnresolvable,
                 reason: "node(s) had untolerated taint {dedicated: user1}"}}
        pre_score: {code: Skip}                          # expected PreScore status (optional)
        scores: {node-name: 100, other: 50}              # normalized scores over all nodes
        feasible: [node-name, ...]     # the nodes that passed Filter (optional; default: all)
        workloads: [{Service, ReplicaSet... manifest}]   # (optional; Snapshot.workloads)

Every node in ``filter`` gets PreFilter then Filter; the verdict of ``feasible`` must agree with
the status code. ``scores`` runs PreScore, Score on every node of the case, then NormalizeScore,
as upstream's score tests do. An expected reason is compared when given.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kubeproof.model.manifests import from_manifest
from kubeproof.model.objects import Namespace, Node, Pod
from kubeproof.model.scheduler.framework import (
    SKIP,
    SUCCESS,
    SUCCESS_STATUS,
    NodeInfo,
    Snapshot,
)
from kubeproof.model.scheduler.plugins import plugin_class

CASES_DIR = Path(__file__).parent / "scheduler"


def _load_cases():
    for path in sorted(CASES_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        for index, case in enumerate(data["cases"]):
            yield pytest.param(
                data["plugin"], case, path.name, id=f"{path.stem}[{index}] {case['name']}"
            )


CASES = list(_load_cases())


def _object(doc, source, index, kind):
    obj = from_manifest(doc, source, index)
    assert isinstance(obj, kind), f"{source}[{index}] is not a {kind.__name__}"
    return obj


def _snapshot(case, source):
    nodes = [_object(doc, source, i, Node) for i, doc in enumerate(case.get("nodes", []))]
    pods = [_object(doc, source, i, Pod) for i, doc in enumerate(case.get("pods", []))]
    namespaces = tuple(
        _object(doc, source, i, Namespace) for i, doc in enumerate(case.get("namespaces", []))
    )
    infos = tuple(
        NodeInfo(node, tuple(p for p in pods if p.spec.node_name == node.metadata.name))
        for node in nodes
    )
    workloads = tuple(
        from_manifest(doc, source, i) for i, doc in enumerate(case.get("workloads", []))
    )
    return Snapshot(infos, namespaces, workloads)


def _check_status(status, expected, where):
    assert status.code == expected["code"], f"{where}: {status}"
    if "reason" in expected:
        assert expected["reason"] in status.reasons, f"{where}: {status}"


@pytest.mark.parametrize(("plugin_name", "case", "source"), CASES)
def test_upstream_case(plugin_name, case, source):
    plugin = plugin_class(plugin_name).from_args(case.get("args") or {})
    pod = _object(case["pod"], source, 0, Pod)
    snapshot = _snapshot(case, source)
    assert "filter" in case or "scores" in case or "pre_filter" in case, "a case checks something"

    if "filter" in case or "pre_filter" in case:
        pre = plugin.pre_filter(pod, snapshot)
        if "pre_filter" in case:
            _check_status(pre.status, case["pre_filter"], "PreFilter")
            if "node_names" in case["pre_filter"]:  # null: no restriction
                want = case["pre_filter"]["node_names"]
                got_names = None if pre.node_names is None else sorted(pre.node_names)
                assert got_names == (None if want is None else sorted(want)), "PreFilter nodes"
        for node_name, expected in (case.get("filter") or {}).items():
            info = snapshot.node(node_name)
            assert info is not None, f"no node {node_name} in the case"
            if pre.status.code == SKIP:  # upstream: a skipped plugin does not filter
                status = SUCCESS_STATUS
            elif not pre.status.is_success:
                status = pre.status
            elif pre.node_names is not None and node_name not in pre.node_names:
                status = None
            else:
                status = plugin.filter(pre.state, pod, info)
                assert plugin.feasible(pre.state, pod, info) == (status.code == SUCCESS)
            if status is None:
                assert expected["code"] != SUCCESS, f"{node_name}: excluded by PreFilter"
            else:
                _check_status(status, expected, f"Filter on {node_name}")

    if "scores" in case:
        names = case.get("feasible")
        feasible = snapshot.nodes if names is None else tuple(map(snapshot.node, names))
        pre = plugin.pre_score(pod, snapshot, feasible)
        if "pre_score" in case:
            _check_status(pre.status, case["pre_score"], "PreScore")
        if not pre.status.is_success:  # Skip, or an Error that ends the cycle
            assert "pre_score" in case, f"PreScore returned {pre.status}; the case expects scores"
            return
        raw = [plugin.score(pre.state, pod, info) for info in feasible]
        normalized = plugin.normalize(pre.state, pod, raw)
        got = {info.name: score for info, score in zip(feasible, normalized, strict=True)}
        assert got == case["scores"]


def test_every_plugin_is_covered():
    """Every plugin the model has appears in the transcribed cases."""
    from kubeproof.model.scheduler.plugins import PLUGIN_MODULES

    covered = {plugin for plugin, _, _ in (c.values for c in CASES)}
    missing = set(PLUGIN_MODULES) - covered
    assert not missing, f"no upstream cases for {sorted(missing)}"
    assert len(CASES) >= 120, f"only {len(CASES)} upstream cases transcribed"
