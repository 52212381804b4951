"""NodeAffinity on z3 terms agrees with the concrete runs."""

import z3

from kubeproof.model.objects import (
    Affinity,
    FrozenMap,
    Node,
    NodeSelector,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    ObjectMeta,
    Pod,
    PodSpec,
    PreferredSchedulingTerm,
)
from kubeproof.model.objects import (
    NodeAffinity as NodeAffinitySpec,
)
from kubeproof.model.scheduler.framework import NodeInfo
from kubeproof.model.scheduler.plugins.node_affinity import NodeAffinity

ZONE, VALUE, GEN = z3.String("zone"), z3.String("value"), z3.String("gen")
WEIGHT = z3.Int("weight")


def agrees(term, fixed, expected):
    assert z3.is_expr(term)
    solver = z3.Solver()
    solver.add(*(var == (z3.StringVal(v) if isinstance(v, str) else v) for var, v in fixed.items()))
    solver.add(term != expected)
    return solver.check() == z3.unsat


def build(zone, value, gen, weight):
    required = NodeSelector(
        (
            NodeSelectorTerm((NodeSelectorRequirement("zone", "In", (value, "b")),)),
            NodeSelectorTerm((NodeSelectorRequirement("gen", "Gt", ("3",)),)),
        )
    )
    preferred = (
        PreferredSchedulingTerm(
            weight, NodeSelectorTerm((NodeSelectorRequirement("zone", "NotIn", (value,)),))
        ),
    )
    pod = Pod(spec=PodSpec(affinity=Affinity(node_affinity=NodeAffinitySpec(required, preferred))))
    node = Node(ObjectMeta(name="n1", labels=FrozenMap(zone=zone, gen=gen)))
    return pod, NodeInfo(node)


def test_filter_and_score_agree():
    plugin = NodeAffinity()
    sym_pod, sym_info = build(ZONE, VALUE, GEN, WEIGHT)
    feasible = plugin.feasible(None, sym_pod, sym_info)
    score = plugin.score(None, sym_pod, sym_info)
    for values in [
        ("a", "a", "1", 5),
        ("a", "c", "1", 5),
        ("c", "c", "7", 3),
        ("a", "bad value!", "2", 4),
        ("x", "y", "+4", 2),
        ("x", "y", "04", 2),
    ]:
        pod, info = build(*values)
        fixed = dict(zip((ZONE, VALUE, GEN, WEIGHT), values, strict=True))
        assert agrees(feasible, fixed, plugin.feasible(None, pod, info)), values
        assert agrees(score, fixed, plugin.score(None, pod, info)), values


def test_symbolic_key_validity():
    key = z3.String("key")
    term = NodeSelectorTerm((NodeSelectorRequirement(key, "Exists"),))
    pod = Pod(
        spec=PodSpec(affinity=Affinity(node_affinity=NodeAffinitySpec(NodeSelector((term,)))))
    )
    info = NodeInfo(Node(ObjectMeta(name="n1", labels=FrozenMap({"a/b": "x", "bad key": "y"}))))
    feasible = NodeAffinity().feasible(None, pod, info)
    assert agrees(feasible, {key: "a/b"}, True)
    assert agrees(feasible, {key: "bad key"}, False)


def test_pre_score_error_on_a_broken_preferred_term():
    bad = NodeSelectorTerm((NodeSelectorRequirement("foo", "In", ("invalid value: ___@#$%^",)),))
    pod = Pod(
        spec=PodSpec(
            affinity=Affinity(
                node_affinity=NodeAffinitySpec(preferred=(PreferredSchedulingTerm(1, bad),))
            )
        )
    )
    status = NodeAffinity().pre_score(pod, None, ()).status
    assert status.code == "Error"
    assert status.reasons[0].startswith(
        '[0].matchExpressions[0].values[0]: Invalid value: "invalid value: ___@#$%^"'
    )
