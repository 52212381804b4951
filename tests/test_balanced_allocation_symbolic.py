"""NodeResourcesBalancedAllocation on z3 terms agrees with the concrete run at sample points;
and the model reproduces upstream's pre-1.36 expectations kept in the conformance data."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

z3 = pytest.importorskip("z3")

from kubeproof.model.manifests import from_manifest  # noqa: E402
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
from kubeproof.model.scheduler.framework import NodeInfo  # noqa: E402
from kubeproof.model.scheduler.plugins.balanced_allocation import (  # noqa: E402
    NodeResourcesBalancedAllocation,
    balance,
)
from kubeproof.model.scheduler.plugins.node_resources_fit import score_inputs  # noqa: E402

GPU = "example.com/gpu"
NAMES = (
    "pod_cpu",
    "pod_mem",
    "pod_gpu",
    "used_cpu",
    "used_mem",
    "alloc_cpu",
    "alloc_mem",
    "alloc_gpu",
)


def _q(resource, v, concrete):
    if not concrete:
        return v
    return Quantity.from_milli(v) if resource == "cpu" else Quantity.from_int(v)


def build(v, concrete):
    r = lambda name, key: _q(name, v[key], concrete)  # noqa: E731
    pod = Pod(
        spec=PodSpec(
            containers=(
                Container(
                    "app",
                    requests=FrozenMap(
                        {
                            "cpu": r("cpu", "pod_cpu"),
                            "memory": r("memory", "pod_mem"),
                            GPU: r(GPU, "pod_gpu"),
                        }
                    ),
                ),
            )
        )
    )
    existing = Pod(
        spec=PodSpec(
            node_name="n",
            containers=(
                Container(
                    "x",
                    requests=FrozenMap(cpu=r("cpu", "used_cpu"), memory=r("memory", "used_mem")),
                ),
            ),
        )
    )
    node = Node(
        ObjectMeta(name="n"),
        status=NodeStatus(
            allocatable=FrozenMap(
                {
                    "cpu": r("cpu", "alloc_cpu"),
                    "memory": r("memory", "alloc_mem"),
                    GPU: r(GPU, "alloc_gpu"),
                }
            )
        ),
    )
    return pod, NodeInfo(node, (existing,))


SAMPLES = [
    dict(
        pod_cpu=1000,
        pod_mem=2000,
        pod_gpu=1,
        used_cpu=3000,
        used_mem=0,
        alloc_cpu=10000,
        alloc_mem=20000,
        alloc_gpu=8,
    ),
    dict(
        pod_cpu=3000,
        pod_mem=0,
        pod_gpu=0,
        used_cpu=3000,
        used_mem=5000,
        alloc_cpu=6000,
        alloc_mem=10000,
        alloc_gpu=4,
    ),
    dict(
        pod_cpu=500,
        pod_mem=7000,
        pod_gpu=2,
        used_cpu=0,
        used_mem=0,
        alloc_cpu=0,
        alloc_mem=10000,
        alloc_gpu=2,
    ),
    dict(
        pod_cpu=250,
        pod_mem=3,
        pod_gpu=3,
        used_cpu=9000,
        used_mem=1,
        alloc_cpu=4000,
        alloc_mem=16,
        alloc_gpu=0,
    ),
]

TWO = NodeResourcesBalancedAllocation()
THREE = NodeResourcesBalancedAllocation.from_args(
    {"resources": [{"name": "cpu"}, {"name": "memory"}, {"name": GPU}]}
)


def _at(term, sample):
    pairs = [(z3.Int(k), z3.IntVal(sample[k])) for k in NAMES]
    return z3.simplify(z3.substitute(term, *pairs))


@pytest.mark.parametrize("plugin", [TWO, THREE], ids=["two", "three"])
@pytest.mark.parametrize("sample", SAMPLES)
def test_symbolic_agrees_with_concrete(plugin, sample):
    sym_pod, sym_info = build({k: z3.Int(k) for k in NAMES}, concrete=False)
    pod, info = build(sample, concrete=True)
    pre = plugin.pre_score(sym_pod, None, ())
    assert pre.status.is_success and z3.is_expr(plugin.skipped(pre.state))
    score = plugin.score(pre.state, sym_pod, sym_info)
    assert z3.is_expr(score)
    concrete = plugin.score(plugin.pre_score(pod, None, ()).state, pod, info)
    assert _at(score, sample).as_long() == concrete


def test_score_range_is_provable():
    """With non-negative amounts the v1.36 score lies in [50, 100] (two resources)."""
    pod, info = build({k: z3.Int(k) for k in NAMES}, concrete=False)
    score = TWO.score(TWO.pre_score(pod, None, ()).state, pod, info)
    solver = z3.Solver()
    solver.add(*(z3.Int(k) >= 0 for k in NAMES), z3.Or(score < 50, score > 100))
    assert solver.check() == z3.unsat


def test_float_and_exact_balance_can_differ():
    """The documented gap: float64 lands just below an integer the rationals reach exactly."""
    requested, allocatable = (6, 8), (10, 10)  # fractions 0.6 and 0.8: exactly B = 90
    exact = z3.simplify(balance((z3.IntVal(6), z3.IntVal(8)), allocatable)).as_long()
    assert (exact, balance(requested, allocatable)) == (90, 89)


CASES = Path(__file__).parent / "conformance" / "scheduler" / "balanced_allocation.yaml"


def test_pre_v1_36_expectations():
    """B with the pod alone (the score before PR 135573) matches upstream's old test values."""
    data = yaml.safe_load(CASES.read_text())
    checked = 0
    for case in data["cases"]:
        if "expect_pre_v1_36" not in case:
            continue
        plugin = NodeResourcesBalancedAllocation.from_args(case.get("args") or {})
        pod = from_manifest(case["pod"], "case", 0)
        pods = [from_manifest(p, "case", 0) for p in case.get("pods", [])]
        state = plugin.pre_score(pod, None, ()).state
        for doc in case["nodes"]:
            node = from_manifest(doc, "case", 0)
            info = NodeInfo(node, tuple(p for p in pods if p.spec.node_name == node.metadata.name))
            alloc, with_pod = [], []
            for (name, _), request in zip(plugin.resources, state, strict=True):
                a, used = score_inputs(name, request, info, use_requested=True)
                alloc.append(a)
                with_pod.append(used + request)
            assert balance(with_pod, alloc) == case["expect_pre_v1_36"][node.metadata.name]
            checked += 1
    assert checked >= 10
