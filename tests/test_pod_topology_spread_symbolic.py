"""PodTopologySpread on z3 terms: the node's zone and the incoming pod's label are symbolic, and
feasible()/score() agree with the concrete run for concrete substitutions."""

from __future__ import annotations

import pytest

z3 = pytest.importorskip("z3")

from kubeproof.model.objects import (  # noqa: E402
    FrozenMap,
    LabelSelector,
    LabelSelectorRequirement,
    Node,
    ObjectMeta,
    Pod,
    PodSpec,
    TopologySpreadConstraint,
)
from kubeproof.model.scheduler.framework import NodeInfo, Snapshot  # noqa: E402
from kubeproof.model.scheduler.plugins.pod_topology_spread import PodTopologySpread  # noqa: E402

SELECTOR = LabelSelector(match_expressions=(LabelSelectorRequirement("app", "In", ("w",)),))


def _pod(app, when: str) -> Pod:
    spread = (
        TopologySpreadConstraint(1, "zone", when, SELECTOR),
        TopologySpreadConstraint(2, "kubernetes.io/hostname", when, SELECTOR),
    )
    meta = ObjectMeta(name="p", labels=FrozenMap(app=app))
    return Pod(meta, PodSpec(topology_spread_constraints=spread))


def _snapshot() -> Snapshot:
    def web(name, node):
        return Pod(ObjectMeta(name=name, labels=FrozenMap(app="w")), PodSpec(node_name=node))

    layout = [("a", "z1", 2), ("b", "z2", 1), ("c", "z3", 0)]
    return Snapshot(
        tuple(
            NodeInfo(
                Node(
                    ObjectMeta(name=n, labels=FrozenMap({"zone": z, "kubernetes.io/hostname": n}))
                ),
                tuple(web(f"{n}{i}", n) for i in range(k)),
            )
            for n, z, k in layout
        )
    )


def _node(zone) -> NodeInfo:
    labels = FrozenMap({"zone": zone, "kubernetes.io/hostname": "n"})
    return NodeInfo(Node(ObjectMeta(name="n", labels=labels)))


def _value(term, zone, app):
    zone_var, app_var = z3.String("zone"), z3.String("app")
    fixed = z3.substitute(term, (zone_var, z3.StringVal(zone)), (app_var, z3.StringVal(app)))
    return z3.simplify(fixed)


def test_feasible_is_a_term_and_agrees_with_concrete_runs():
    plugin = PodTopologySpread()
    pod = _pod(z3.String("app"), "DoNotSchedule")
    state = plugin.pre_filter(pod, _snapshot()).state
    verdict = plugin.feasible(state, pod, _node(z3.String("zone")))
    assert z3.is_expr(verdict)
    seen = set()
    for zone in ("z1", "z2", "z3", "z9"):
        for app in ("w", "x"):
            concrete_pod = _pod(app, "DoNotSchedule")
            pre = plugin.pre_filter(concrete_pod, _snapshot())
            expected = plugin.feasible(pre.state, concrete_pod, _node(zone))
            seen.add(expected)
            assert z3.is_true(_value(verdict, zone, app)) == expected, (zone, app)
    assert seen == {True, False}


def test_score_is_a_term_and_agrees_with_concrete_runs():
    plugin = PodTopologySpread()
    feasible = _snapshot().nodes
    pod = _pod(z3.String("app"), "ScheduleAnyway")
    state = plugin.pre_score(pod, _snapshot(), feasible).state
    raw = plugin.score(state, pod, _node(z3.String("zone")))
    assert z3.is_expr(raw)
    for zone in ("z1", "z2", "z3"):
        concrete_pod = _pod("w", "ScheduleAnyway")
        pre = plugin.pre_score(concrete_pod, _snapshot(), feasible)
        expected = plugin.score(pre.state, concrete_pod, _node(zone))
        assert _value(raw, zone, "w").as_long() == expected, zone
