"""The trace that first broke ``rolling-update-within-unavailable`` in the rolling-update-service
suite (Hypothesis, seed 1, 1,000 examples, every property): the clock runs ahead of a starved
kubelet, the node lifecycle controller sets node-1's conditions Unknown and marks its pods not
ready, and the rollout's controllers go on from what their caches counted before. Upstream
does the same; with pods on a node that is not Ready counted towards the bound, it holds.
"""

from __future__ import annotations

from pathlib import Path

from kubeproof.properties.reading import stored
from kubeproof.properties.replay import replay
from kubeproof.properties.suites import suite
from kubeproof.properties.trace import read_trace

TRACE = Path(__file__).parent / "traces" / "rolling-update-service-node-goes-silent.json"


def _unready_nodes(state) -> set[str]:
    return {
        n.metadata.name
        for n in stored(state, "nodes")
        if any(c.type == "Ready" and c.status != "True" for c in n.status.conditions)
    }


def test_a_node_going_silent_mid_rollout_is_not_the_rollouts_violation():
    trace, _ = read_trace(str(TRACE))
    assert trace.violation.property == "rolling-update-within-unavailable"
    replayed = replay(trace, suite("rolling-update-service"))
    assert replayed.error == ""
    assert any(_unready_nodes(s) for s in replayed.states[: replayed.traced + 1])
    assert not replayed.recurs and replayed.violations == ()
