"""The theorems about the scheduler's plugins: proved for the default profile, and failing, with
a counterexample the concrete plugins reproduce, when a plugin is disabled or broken."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from kubeproof.model.manifests import load_text
from kubeproof.model.objects import FrozenMap, Node, Pod
from kubeproof.model.scheduler.cycle import schedule_one
from kubeproof.model.scheduler.framework import NodeInfo, Snapshot
from kubeproof.model.scheduler.plugins.node_affinity import NodeAffinity
from kubeproof.model.scheduler.plugins.node_resources_fit import NodeResourcesFit
from kubeproof.model.scheduler.profile import default_profile, profile_from_config
from kubeproof.solvers.prove import COUNTEREXAMPLE, PROVED, UNKNOWN, prove
from kubeproof.solvers.theorems import THEOREMS, Bound, theorem

# Small enough for a test run; the default bound is measured in benchmarks/prove_times.py.
SMALL = Bound(taints=1, tolerations=1, init_containers=0)


def _config(plugins: dict) -> dict:
    return {"kind": "KubeSchedulerConfiguration", "profiles": [{"plugins": plugins}]}


WITHOUT_IPA_SCORE = profile_from_config(
    _config({"score": {"disabled": [{"name": "InterPodAffinity"}]}})
)[0]


def _with_filter(profile, broken):
    """The profile with its filter plugin of ``broken``'s name replaced by ``broken``."""
    filters = tuple(broken if p.name == broken.name else p for p in profile.filters)
    return replace(profile, filters=filters)


def _round_trip(result) -> tuple[Pod, tuple[NodeInfo, ...]]:
    """The counterexample as its YAML manifests, read back (and so validated)."""
    objects = load_text(result.manifests(), "counterexample.yaml")
    pod, rest = objects[0], objects[1:]
    assert isinstance(pod, Pod)
    nodes = [o for o in rest if isinstance(o, Node)]
    bound = [o for o in rest if isinstance(o, Pod)]
    infos = tuple(
        NodeInfo(n, tuple(p for p in bound if p.spec.node_name == n.metadata.name)) for n in nodes
    )
    assert len(nodes) == len(result.nodes) and len(bound) == sum(len(i.pods) for i in infos)
    return pod, infos


def _feasible(profile, pod, info) -> bool:
    return schedule_one(profile, pod, Snapshot((info,))).nodes[0].feasible


@pytest.mark.parametrize("name", [t.name for t in THEOREMS])
def test_theorem_proves_with_the_default_profile(name):
    (result,) = prove([name], default_profile(), SMALL, timeout_seconds=120)
    assert result.verdict == PROVED, result.note
    assert result.shapes > 0 and result.pod is None and result.manifests() == ""
    assert result.statement and result.bound and result.seconds >= 0


def test_t4_proves_when_inter_pod_affinity_does_not_score():
    (result,) = prove(["T4"], WITHOUT_IPA_SCORE, SMALL, timeout_seconds=120)
    assert result.verdict == PROVED, result.note


def test_without_taint_toleration_t1_has_a_counterexample_the_plugins_reproduce():
    profile = profile_from_config(_config({"filter": {"disabled": [{"name": "TaintToleration"}]}}))[
        0
    ]
    assert "TaintToleration" not in [p.name for p in profile.filters]
    (result,) = prove(["T1"], profile, SMALL, timeout_seconds=120)
    assert result.verdict == COUNTEREXAMPLE
    assert result.pod is not None and result.node is not None
    pod, infos = _round_trip(result)
    # The profile's filter lets the pod onto the node...
    assert _feasible(profile, pod, infos[0])
    # ... where a NoSchedule or NoExecute taint is not tolerated: T1's statement fails,
    assert not theorem("T1").holds_concretely(profile, pod, infos)
    blocking = [t for t in infos[0].node.spec.taints if t.effect in ("NoSchedule", "NoExecute")]
    assert blocking
    # ... and the default profile, TaintToleration included, keeps it off.
    assert not _feasible(default_profile(), pod, infos[0])


@dataclass(frozen=True, slots=True)
class ForgetfulFit(NodeResourcesFit):
    """A broken NodeResourcesFit: it forgets what the node's pods already request."""

    def _checked(self, state, node_info):
        return NodeResourcesFit._checked(self, state, replace(node_info, pods=()))


def test_a_broken_resources_filter_gives_a_t3_counterexample():
    profile = _with_filter(default_profile(), ForgetfulFit())
    (result,) = prove(["T3"], profile, SMALL, timeout_seconds=120)
    assert result.verdict == COUNTEREXAMPLE, result.note
    pod, infos = _round_trip(result)
    assert infos[0].pods, "only the pods already on the node can be forgotten"
    assert _feasible(profile, pod, infos[0])
    assert not theorem("T3").holds_concretely(profile, pod, infos)
    assert not _feasible(default_profile(), pod, infos[0])


@dataclass(frozen=True, slots=True)
class SelectorBlindAffinity(NodeAffinity):
    """A broken NodeAffinity: it checks required node affinity but not the nodeSelector."""

    def _blind(self, pod):
        return replace(pod, spec=replace(pod.spec, node_selector=FrozenMap()))

    def feasible(self, state, pod, node_info):
        return NodeAffinity.feasible(self, state, self._blind(pod), node_info)

    def filter(self, state, pod, node_info):
        return NodeAffinity.filter(self, state, self._blind(pod), node_info)


def test_a_broken_affinity_filter_gives_a_t2_counterexample():
    profile = _with_filter(default_profile(), SelectorBlindAffinity())
    (result,) = prove(["T2"], profile, SMALL, timeout_seconds=120)
    assert result.verdict == COUNTEREXAMPLE, result.note
    pod, infos = _round_trip(result)
    assert pod.spec.node_selector
    assert _feasible(profile, pod, infos[0])
    assert not theorem("T2").holds_concretely(profile, pod, infos)
    assert not _feasible(default_profile(), pod, infos[0])


@pytest.mark.parametrize("name", ["T2", "T5b"])
def test_a_timeout_is_unknown_never_proved(name):
    (result,) = prove([name], default_profile(), SMALL, timeout_seconds=1e-6)
    assert result.verdict == UNKNOWN
    assert result.note


def test_results_come_in_order_and_state_their_bound():
    results = list(prove(["T1", "T5a"], bound=Bound(taints=1, tolerations=1)))
    assert [r.name for r in results] == ["T1", "T5a"]
    assert "taints 0..1" in results[0].bound and "tolerations 0..1" in results[0].bound
    assert all(r.verdict == PROVED for r in results)


def test_an_unknown_theorem_is_a_user_error():
    from kubeproof.model.errors import KubeproofError

    with pytest.raises(KubeproofError, match="T1, T2"):
        list(prove(["T9"]))
