"""InterPodAffinity on z3 terms: the node's zone and the incoming pod's label are symbolic, and
feasible()/score() agree with the concrete run for concrete substitutions."""

from __future__ import annotations

import pytest

z3 = pytest.importorskip("z3")

from kubeproof.model.objects import (  # noqa: E402
    Affinity,
    FrozenMap,
    LabelSelector,
    LabelSelectorRequirement,
    Node,
    ObjectMeta,
    Pod,
    PodAffinity,
    PodAffinityTerm,
    PodSpec,
    WeightedPodAffinityTerm,
)
from kubeproof.model.scheduler.framework import NodeInfo, Snapshot  # noqa: E402
from kubeproof.model.scheduler.plugins.inter_pod_affinity import InterPodAffinity  # noqa: E402


def _term(key: str, value: str) -> PodAffinityTerm:
    req = LabelSelectorRequirement(key, "In", (value,))
    return PodAffinityTerm("zone", LabelSelector(match_expressions=(req,)))


def _pod(app) -> Pod:
    affinity = Affinity(
        pod_affinity=PodAffinity(
            required=(_term("app", "db"),),
            preferred=(WeightedPodAffinityTerm(5, _term("app", "cache")),),
        )
    )
    return Pod(ObjectMeta(name="web", labels=FrozenMap(app=app)), PodSpec(affinity=affinity))


def _snapshot() -> Snapshot:
    guard = Affinity(pod_anti_affinity=PodAffinity(required=(_term("app", "batch"),)))
    db = Pod(ObjectMeta(name="db", labels=FrozenMap(app="db")), PodSpec(node_name="a"))
    cache = Pod(ObjectMeta(name="cache", labels=FrozenMap(app="cache")), PodSpec(node_name="b"))
    picky = Pod(ObjectMeta(name="picky"), PodSpec(node_name="c", affinity=guard))
    nodes = [("a", "z1", (db,)), ("b", "z2", (cache,)), ("c", "z3", (picky,))]
    return Snapshot(
        tuple(NodeInfo(Node(ObjectMeta(name=n, labels=FrozenMap(zone=z))), p) for n, z, p in nodes)
    )


def _node(zone) -> NodeInfo:
    return NodeInfo(Node(ObjectMeta(name="n", labels=FrozenMap(zone=zone))))


ZONES = ("z1", "z2", "z3", "z9")
APPS = ("web", "batch", "db")


def _value(term, zone, app):
    zone_var, app_var = z3.String("zone"), z3.String("app")
    fixed = z3.substitute(term, (zone_var, z3.StringVal(zone)), (app_var, z3.StringVal(app)))
    return z3.simplify(fixed)


def test_feasible_is_a_term_and_agrees_with_concrete_runs():
    plugin = InterPodAffinity()
    pod = _pod(z3.String("app"))
    state = plugin.pre_filter(pod, _snapshot()).state
    verdict = plugin.feasible(state, pod, _node(z3.String("zone")))
    assert z3.is_expr(verdict)
    for zone in ZONES:
        for app in APPS:
            concrete_pod = _pod(app)
            pre = plugin.pre_filter(concrete_pod, _snapshot())
            expected = plugin.feasible(pre.state, concrete_pod, _node(zone))
            assert z3.is_true(_value(verdict, zone, app)) == expected, (zone, app)


def test_score_is_a_term_and_agrees_with_concrete_runs():
    plugin = InterPodAffinity()
    pod = _pod(z3.String("app"))
    state = plugin.pre_score(pod, _snapshot(), _snapshot().nodes).state
    raw = plugin.score(state, pod, _node(z3.String("zone")))
    assert z3.is_expr(raw)
    for zone in ZONES:
        concrete_pod = _pod("web")
        pre = plugin.pre_score(concrete_pod, _snapshot(), _snapshot().nodes)
        expected = plugin.score(pre.state, concrete_pod, _node(zone))
        assert _value(raw, zone, "web").as_long() == expected, zone


def _truth(verdict) -> bool:
    return verdict if isinstance(verdict, bool) else z3.is_true(z3.simplify(verdict))


def test_existing_anti_affinity_lookup_agrees_with_the_symbolic_scan():
    """On concrete labels the plugin looks up the node's own label pairs in the existing pods'
    anti-affinity counts (upstream's loop); on symbolic labels it scans the counts. Both agree
    on every candidate node, where running pods guard a zone and a host."""
    plugin = InterPodAffinity()
    web = LabelSelector(match_labels=FrozenMap(app="web"))
    host_guard = Affinity(pod_anti_affinity=PodAffinity(required=(PodAffinityTerm("host", web),)))
    zone_guard = Affinity(pod_anti_affinity=PodAffinity(required=(_term("app", "batch"),)))
    guards = {"a": host_guard, "c": zone_guard}
    infos = tuple(
        NodeInfo(
            Node(ObjectMeta(name=n, labels=FrozenMap(zone=z, host=n))),
            (Pod(ObjectMeta(name=f"guard-{n}"), PodSpec(node_name=n, affinity=guards[n])),)
            if n in guards
            else (),
        )
        for n, z in (("a", "z1"), ("b", "z2"), ("c", "z3"))
    )
    refused = set()
    for app in APPS:
        pod = Pod(ObjectMeta(name="new", labels=FrozenMap(app=app)))
        state = plugin.pre_filter(pod, Snapshot(infos)).state
        for zone in ZONES:
            for host in ("a", "b", "c"):
                plain = FrozenMap(zone=zone, host=host)
                symbolic = FrozenMap(zone=z3.StringVal(zone), host=host)
                concrete = plugin.feasible(state, pod, NodeInfo(Node(ObjectMeta(labels=plain))))
                scanned = plugin.feasible(state, pod, NodeInfo(Node(ObjectMeta(labels=symbolic))))
                assert _truth(scanned) == concrete, (app, zone, host)
                if not concrete:
                    refused.add((app, zone, host))
    assert ("batch", "z3", "b") in refused and ("web", "z1", "a") in refused
    assert ("db", "z3", "c") not in refused
