"""Traces that broke ``rolling-update-within-unavailable`` in 1,000-example searches, and hold
now.

``rolling-update-service-node-goes-silent`` (rolling-update-service, seed 1, every property):
the clock runs ahead of a starved kubelet, the node lifecycle controller sets node-1's
conditions Unknown and marks its pods not ready, and the rollout's controllers go on from what
their caches counted before. Upstream does the same; pods on a node that is not Ready count
towards the bound. ``rolling-update-pod-on-silent-node`` (rolling-update, seed 3): a new pod
bound to a node gone silent before it was ever available, then the ReplicaSet controller
creates the next one; a first version of that rule counted the silent node's pod as
available before the step and not after, and called the creation a drop.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeproof.properties.reading import stored
from kubeproof.properties.replay import replay
from kubeproof.properties.suites import suite
from kubeproof.properties.trace import read_trace

TRACES = Path(__file__).parent / "traces"


def _unready_nodes(state) -> set[str]:
    return {
        n.metadata.name
        for n in stored(state, "nodes")
        if any(c.type == "Ready" and c.status != "True" for c in n.status.conditions)
    }


@pytest.mark.parametrize(
    ("name", "suite_name"),
    [
        ("rolling-update-service-node-goes-silent", "rolling-update-service"),
        ("rolling-update-pod-on-silent-node", "rolling-update"),
    ],
)
def test_a_node_going_silent_mid_rollout_is_not_the_rollouts_violation(name, suite_name):
    trace, _ = read_trace(str(TRACES / f"{name}.json"))
    assert trace.violation.property == "rolling-update-within-unavailable"
    replayed = replay(trace, suite(suite_name))
    assert replayed.error == ""
    assert any(_unready_nodes(s) for s in replayed.states[: replayed.traced + 1])
    assert not replayed.recurs and replayed.violations == ()
