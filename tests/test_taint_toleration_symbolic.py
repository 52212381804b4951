"""TaintToleration, NodeUnschedulable and NodeName on z3 terms agree with the concrete runs."""

import z3

from kubeproof.model.objects import Node, NodeSpec, ObjectMeta, Pod, PodSpec, Taint, Toleration
from kubeproof.model.scheduler.framework import NodeInfo
from kubeproof.model.scheduler.plugins.node_name import NodeName
from kubeproof.model.scheduler.plugins.node_unschedulable import NodeUnschedulable
from kubeproof.model.scheduler.plugins.taint_toleration import TaintToleration

KEY, VALUE, EFFECT = z3.String("taint_key"), z3.String("taint_value"), z3.String("taint_effect")
TOL_KEY, TOL_OP, TOL_EFFECT = z3.String("tol_key"), z3.String("tol_op"), z3.String("tol_effect")


def agrees(term, fixed, expected):
    """With the variables fixed, the term can only take the concrete result."""
    assert z3.is_expr(term)
    solver = z3.Solver()
    solver.add(
        *(
            var == z3.StringVal(val) if isinstance(val, str) else var == val
            for var, val in fixed.items()
        )
    )
    solver.add(term != expected)
    return solver.check() == z3.unsat


def build(key, value, effect, tol_key, tol_op, tol_effect, name="n1", unschedulable=False):
    pod = Pod(
        spec=PodSpec(tolerations=(Toleration(key=tol_key, operator=tol_op, effect=tol_effect),))
    )
    node = Node(
        ObjectMeta(name=name),
        NodeSpec(taints=(Taint(key, effect, value),), unschedulable=unschedulable),
    )
    return pod, NodeInfo(node)


SUBSTITUTIONS = [
    ("gpu", "", "NoSchedule", "gpu", "Exists", ""),
    ("gpu", "a", "NoSchedule", "gpu", "Equal", "NoSchedule"),
    ("gpu", "a", "NoExecute", "other", "Exists", ""),
    ("gpu", "a", "PreferNoSchedule", "", "Exists", "NoSchedule"),
    ("gpu", "a", "PreferNoSchedule", "gpu", "Exists", "PreferNoSchedule"),
    ("gpu", "", "NoSchedule", "gpu", "Lt", ""),
]


def test_taint_toleration_filter_and_score_agree():
    plugin = TaintToleration()
    sym_pod, sym_info = build(KEY, VALUE, EFFECT, TOL_KEY, TOL_OP, TOL_EFFECT)
    feasible = plugin.feasible(None, sym_pod, sym_info)
    score = plugin.score(plugin.pre_score(sym_pod, None, ()).state, sym_pod, sym_info)
    for values in SUBSTITUTIONS:
        fixed = dict(zip((KEY, VALUE, EFFECT, TOL_KEY, TOL_OP, TOL_EFFECT), values, strict=True))
        pod, info = build(*values)
        assert agrees(feasible, fixed, plugin.feasible(None, pod, info)), values
        assert agrees(score, fixed, plugin.score(None, pod, info)), values


def test_taint_toleration_normalize_on_terms():
    a, b = z3.Ints("a b")
    normalized = TaintToleration().normalize(None, Pod(), (a, b))
    solver = z3.Solver()
    solver.add(a == 1, b == 3, normalized[0] != 67)
    assert solver.check() == z3.unsat


def test_node_unschedulable_and_node_name_agree():
    wanted, name = z3.String("node_name"), z3.String("name")
    for tol_key, tol_op in [
        ("node.kubernetes.io/unschedulable", "Exists"),
        ("x", "Exists"),
        ("", "Exists"),
    ]:
        sym_pod, sym_info = build("k", "", "NoSchedule", TOL_KEY, TOL_OP, "", unschedulable=True)
        pod, info = build("k", "", "NoSchedule", tol_key, tol_op, "", unschedulable=True)
        term = NodeUnschedulable().feasible(None, sym_pod, sym_info)
        fixed = {TOL_KEY: tol_key, TOL_OP: tol_op}
        assert agrees(term, fixed, NodeUnschedulable().feasible(None, pod, info))
    sym = NodeName().feasible(
        None, Pod(spec=PodSpec(node_name=wanted)), NodeInfo(Node(ObjectMeta(name=name)))
    )
    for w, n in [("", "a"), ("a", "a"), ("b", "a")]:
        concrete = NodeName().feasible(
            None, Pod(spec=PodSpec(node_name=w)), NodeInfo(Node(ObjectMeta(name=n)))
        )
        assert agrees(sym, {wanted: w, name: n}, concrete)
