"""NodeResourcesFit on z3 terms agrees with the concrete run at sample points."""

from __future__ import annotations

import pytest

z3 = pytest.importorskip("z3")

from kubeproof.model.objects import (  # noqa: E402
    Container,
    FrozenMap,
    Node,
    NodeStatus,
    ObjectMeta,
    Pod,
    PodSpec,
)
from kubeproof.model.quantity import Quantity  # noqa: E402
from kubeproof.model.scheduler.framework import SUCCESS, NodeInfo, Snapshot  # noqa: E402
from kubeproof.model.scheduler.plugins.node_resources_fit import NodeResourcesFit  # noqa: E402

NAMES = ("pod_cpu", "pod_mem", "side_cpu", "used_cpu", "alloc_cpu", "alloc_mem", "alloc_pods")


def _value(resource, v, concrete):
    if not concrete:
        return v
    return Quantity.from_milli(v) if resource == "cpu" else Quantity.from_int(v)


def build(values, concrete):
    """A pod (app container + sidecar) and a node with one existing pod."""
    v = {k: _value(k.split("_")[1] if "_" in k else k, values[k], concrete) for k in values}
    pod = Pod(
        spec=PodSpec(
            containers=(
                Container("app", requests=FrozenMap(cpu=v["pod_cpu"], memory=v["pod_mem"])),
            ),
            init_containers=(
                Container("side", requests=FrozenMap(cpu=v["side_cpu"]), restart_policy="Always"),
            ),
        )
    )
    existing = Pod(
        spec=PodSpec(
            node_name="n", containers=(Container("x", requests=FrozenMap(cpu=v["used_cpu"])),)
        )
    )
    node = Node(
        ObjectMeta(name="n"),
        status=NodeStatus(
            allocatable=FrozenMap(cpu=v["alloc_cpu"], memory=v["alloc_mem"], pods=v["alloc_pods"])
        ),
    )
    return pod, NodeInfo(node, (existing,))


SAMPLES = [
    dict(
        pod_cpu=500,
        pod_mem=2**30,
        side_cpu=100,
        used_cpu=1000,
        alloc_cpu=4000,
        alloc_mem=8 * 2**30,
        alloc_pods=110,
    ),
    dict(
        pod_cpu=3000,
        pod_mem=0,
        side_cpu=600,
        used_cpu=1000,
        alloc_cpu=4000,
        alloc_mem=2**30,
        alloc_pods=110,
    ),
    dict(pod_cpu=100, pod_mem=10, side_cpu=0, used_cpu=0, alloc_cpu=0, alloc_mem=0, alloc_pods=1),
    dict(
        pod_cpu=5000, pod_mem=7, side_cpu=0, used_cpu=0, alloc_cpu=4000, alloc_mem=5, alloc_pods=0
    ),
]

PLUGINS = [
    NodeResourcesFit.from_args({}),
    NodeResourcesFit.from_args({"scoringStrategy": {"type": "MostAllocated"}}),
    NodeResourcesFit.from_args(
        {
            "scoringStrategy": {
                "type": "RequestedToCapacityRatio",
                "resources": [{"name": "cpu", "weight": 3}, {"name": "memory", "weight": 1}],
                "requestedToCapacityRatio": {
                    "shape": [
                        {"utilization": 0, "score": 2},
                        {"utilization": 40, "score": 10},
                        {"utilization": 100, "score": 0},
                    ]
                },
            }
        }
    ),
]


def _at(term, sample):
    pairs = [(z3.Int(k), z3.IntVal(sample[k])) for k in NAMES]
    return z3.simplify(z3.substitute(term, *pairs))


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda p: p.scoring_type)
@pytest.mark.parametrize("sample", SAMPLES)
def test_symbolic_agrees_with_concrete(plugin, sample):
    sym_pod, sym_info = build({k: z3.Int(k) for k in NAMES}, concrete=False)
    pod, info = build(sample, concrete=True)
    snapshot = Snapshot((info,))

    feasible = plugin.feasible(plugin.pre_filter(sym_pod, snapshot).state, sym_pod, sym_info)
    assert z3.is_expr(feasible)
    status = plugin.filter(plugin.pre_filter(pod, snapshot).state, pod, info)
    assert z3.is_true(_at(feasible, sample)) == (status.code == SUCCESS)

    score = plugin.score(plugin.pre_score(sym_pod, snapshot, ()).state, sym_pod, sym_info)
    assert z3.is_expr(score)
    concrete = plugin.score(plugin.pre_score(pod, snapshot, ()).state, pod, info)
    assert _at(score, sample).as_long() == concrete


def test_a_fit_property_is_provable():
    """Feasible means the pod's cpu (app + sidecar), if any, fits the node's free cpu.

    Without the "if any" z3 finds upstream's behaviour: a pod requesting no cpu is not checked
    against cpu at all, even on a node whose pods already overcommit it."""
    plugin = NodeResourcesFit()
    pod, info = build({k: z3.Int(k) for k in NAMES}, concrete=False)
    feasible = plugin.feasible(plugin.pre_filter(pod, None).state, pod, info)
    v = {k: z3.Int(k) for k in NAMES}
    claim = z3.Implies(
        z3.And(feasible, v["pod_cpu"] + v["side_cpu"] > 0, *(x >= 0 for x in v.values())),
        v["pod_cpu"] + v["side_cpu"] + v["used_cpu"] <= v["alloc_cpu"],
    )
    solver = z3.Solver()
    solver.add(z3.Not(claim))
    assert solver.check() == z3.unsat
