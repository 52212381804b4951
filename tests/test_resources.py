"""The pod request vector and node amounts (model/scheduler/resources.py), and plugin args."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeproof.model.errors import KubeproofError
from kubeproof.model.objects import Container, FrozenMap, Pod, PodSpec
from kubeproof.model.quantity import parse_quantity as q
from kubeproof.model.scheduler.plugins.balanced_allocation import NodeResourcesBalancedAllocation
from kubeproof.model.scheduler.plugins.node_resources_fit import NodeResourcesFit
from kubeproof.model.scheduler.resources import (
    amount,
    is_extended_resource_name,
    is_scalar_resource_name,
    node_requested,
    pod_requests,
)


def c(name, restart_policy=None, **requests):
    reqs = FrozenMap({k.replace("_", "-"): q(v) for k, v in requests.items()})
    return Container(name, requests=reqs, restart_policy=restart_policy)


def test_sidecar_formula():
    """KEP-753: a regular init container runs beside the sidecars started before it."""
    # upstream: component-helpers resource/helpers_test.go (sidecar cases), fit.go example
    pod = Pod(
        spec=PodSpec(
            containers=(c("app", cpu="1"),),
            init_containers=(
                c("s1", "Always", cpu="1"),
                c("init", cpu="2"),
                c("s2", "Always", cpu="1"),
            ),
        )
    )
    # app phase: 1 + 1 + 1 = 3; init phase: 2 + s1 = 3; max 3
    assert pod_requests(pod)["cpu"] == 3000
    bigger = Pod(
        spec=PodSpec(
            containers=(c("app", cpu="1"),),
            init_containers=(c("s1", "Always", cpu="1"), c("init", cpu="5")),
        )
    )
    assert pod_requests(bigger)["cpu"] == 6000


def test_max_is_per_resource_and_overhead_is_added():
    pod = Pod(
        spec=PodSpec(
            containers=(c("a", cpu="2", memory="1G"), c("b", cpu="1", memory="1G")),
            init_containers=(c("i1", cpu="2", memory="1G"), c("i2", cpu="2", memory="3G")),
            overhead=FrozenMap(cpu=q("250m")),
        )
    )
    # upstream: fit.go computePodResourceRequest doc comment (Result: CPU: 3, Memory: 3G)
    assert dict(pod_requests(pod)) == {"cpu": 3250, "memory": 3_000_000_000}


def test_exact_sum_then_round():
    """Quantities are summed exactly and rounded once, as upstream sums a ResourceList."""
    pod = Pod(spec=PodSpec(containers=(c("a", cpu="0.4m"), c("b", cpu="0.4m"))))
    assert pod_requests(pod)["cpu"] == 1  # ceil(0.8m), not 1 + 1
    assert node_requested([pod, pod])["cpu"] == 2  # each pod rounded before the node's sum


_QUANTITIES = st.sampled_from(["0", "0.4m", "1m", "250m", "1", "3", "1Gi", "1G", "500Mi"])
_REQUESTS = st.dictionaries(
    st.sampled_from(["cpu", "memory", "ephemeral-storage", "example.com/gpu", "hugepages-2Mi"]),
    _QUANTITIES,
    max_size=4,
)


@given(st.lists(_REQUESTS, max_size=4))
def test_app_containers_alone_sum_as_the_general_formula(requests):
    """Pods of app containers only take a shortcut; an empty init container sends the same pod
    through the general formula (init phase 0), which must agree, names in the same order."""
    containers = tuple(
        Container(f"c{i}", requests=FrozenMap({k: q(v) for k, v in r.items()}))
        for i, r in enumerate(requests)
    )
    plain = Pod(spec=PodSpec(containers=containers))
    general = Pod(spec=PodSpec(containers=containers, init_containers=(Container("init"),)))
    assert list(pod_requests(plain).items()) == list(pod_requests(general).items())


def test_non_zero_defaults_apply_to_missing_requests_only():
    pod = Pod(spec=PodSpec(containers=(c("a"), c("b", cpu="0", memory="1Gi"))))
    assert dict(pod_requests(pod, non_zero=True)) == {"cpu": 100, "memory": 209715200 + 2**30}
    assert dict(pod_requests(pod)) == {"cpu": 0, "memory": 2**30}


def test_pod_level_requests_replace_the_aggregate():
    """fit_test.go TestEnoughRequests "pod-level cpu resource not fit" and friends (the
    manifest reader does not read spec.resources yet, so these are checked here)."""
    base = (c("a", cpu="1m", memory="1"),)
    pod = Pod(spec=PodSpec(containers=base, requests=FrozenMap(cpu=q("7m"), memory=q("2"))))
    assert dict(pod_requests(pod)) == {"cpu": 7, "memory": 2}
    hp = Pod(
        spec=PodSpec(containers=base, requests=FrozenMap({"cpu": q("3m"), "hugepages-2Mi": q(10)}))
    )
    assert dict(pod_requests(hp)) == {"cpu": 3, "memory": 1, "hugepages-2Mi": 10}
    # only cpu at pod level: memory keeps the container's non-zero default
    partial = Pod(spec=PodSpec(containers=(c("a"),), requests=FrozenMap(cpu=q("1"))))
    assert dict(pod_requests(partial, non_zero=True)) == {"cpu": 1000, "memory": 209715200}
    # ephemeral-storage is not a pod-level resource
    eph = Pod(
        spec=PodSpec(
            containers=(c("a", ephemeral_storage="5"),),
            requests=FrozenMap({"ephemeral-storage": q("9")}),
        )
    )
    assert pod_requests(eph)["ephemeral-storage"] == 5


def test_resource_classes():
    assert is_extended_resource_name("example.com/aaa")
    assert not is_extended_resource_name("kubernetes.io/something")
    assert not is_extended_resource_name("requests.example.com/aaa")
    assert is_scalar_resource_name("subdomain.kubernetes.io/something")
    assert is_scalar_resource_name("hugepages-2Mi")
    assert is_scalar_resource_name("attachable-volumes-aws-ebs")
    assert not is_scalar_resource_name("cpu") and not is_scalar_resource_name("foo")
    assert amount("memory", q("1.5")) == 2 and amount("cpu", 7) == 7


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # upstream: least_allocated_test.go / most_allocated_test.go "resource with negative
        # weight", "resource weight larger than MaxNodeScore" (v1 defaulting turns weight 0
        # into 1, so the internal-config "resource with zero weight" case cannot arise)
        ({"scoringStrategy": {"resources": [{"name": "memory", "weight": -1}]}}, "weight"),
        ({"scoringStrategy": {"resources": [{"name": "cpu", "weight": 101}]}}, "weight"),
        ({"scoringStrategy": {"type": "Balanced"}}, "type"),
        ({"scoringStrategy": {"type": "RequestedToCapacityRatio"}}, "shape"),
        (
            {
                "scoringStrategy": {
                    "type": "RequestedToCapacityRatio",
                    "requestedToCapacityRatio": {
                        "shape": [{"utilization": 50, "score": 1}, {"utilization": 40, "score": 2}]
                    },
                }
            },
            "increasing",
        ),
        (
            {
                "scoringStrategy": {
                    "type": "RequestedToCapacityRatio",
                    "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 11}]},
                }
            },
            "0-10",
        ),
        ({"ignoredResourceGroups": ["example.com/aaa"]}, "'/'"),
    ],
)
def test_fit_args_rejected(args, message):
    with pytest.raises(KubeproofError, match=message):
        NodeResourcesFit.from_args(args)


def test_fit_args_defaults():
    plugin = NodeResourcesFit.from_args(
        {"scoringStrategy": {"type": "MostAllocated", "resources": [{"name": "cpu"}]}}
    )
    assert plugin.resources == (("cpu", 1),) and plugin.scoring_type == "MostAllocated"
    assert NodeResourcesFit.from_args({}) == NodeResourcesFit()


def test_balanced_allocation_args():
    with pytest.raises(KubeproofError, match="must be 1"):
        NodeResourcesBalancedAllocation.from_args({"resources": [{"name": "cpu", "weight": 2}]})
    with pytest.raises(KubeproofError, match="duplicate"):
        NodeResourcesBalancedAllocation.from_args({"resources": [{"name": "cpu"}, {"name": "cpu"}]})
