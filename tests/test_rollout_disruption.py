"""A node failure in the middle of a rolling update is not the rollout's violation.

Four nodes, three replicas, maxSurge 1 and maxUnavailable 0: the first new pod lands on the
node the old pods left free. Once it is available the Deployment controller scales the old
ReplicaSet from 3 to 2; before the ReplicaSet controller deletes an old pod, the new pod's
node fails and the node lifecycle controller marks the pod not ready. The ReplicaSet controller
then deletes a healthy old pod (upstream does the same: the decision was taken on the
availability the Deployment controller counted), and availability is below the bound for a
while. ``rolling-update-within-unavailable`` counts the pod on the failed node towards the bound
and holds; the same interleaving without the failure is checked too.
"""

from __future__ import annotations

from kubeproof.model.cluster import Crash, Faults, Restart, State, enabled, step
from kubeproof.model.run import actor_of, is_fault, run
from kubeproof.model.scenarios import listed, rolling_update
from kubeproof.properties.reading import is_active, is_available
from kubeproof.properties.workloads import ROLLOUT_WITHIN_UNAVAILABLE

NEW_IMAGE = "nginx:1.27"


def _replicas(state: State) -> dict[str, int]:
    return {rs.metadata.name: rs.spec.replicas for rs in listed(state, "replicasets", "default")}


def _to_first_scale_down(state: State) -> State:
    """The fair run until the Deployment controller scales the old ReplicaSet down."""
    for s in run(state).steps:
        before, state = _replicas(state), step(state, s.action)
        after = _replicas(state)
        if len(after) == 2 and any(after[k] < before.get(k, 0) for k in after):
            return state
    raise AssertionError("the rollout never scaled the old ReplicaSet down")


def _round_robin(state: State, skip: str, until, check=None, limit: int = 5000) -> State:
    """Each component in turn takes its first enabled action (the clock when none has one),
    never ``skip``'s, never a fault or a restart, until ``until(state)``; ``check(before,
    action, after)`` on every step."""
    actors = [c for c in state.components if c != skip]
    turn = 0
    for _ in range(limit):
        if until(state):
            return state
        offered = [
            a
            for a in enabled(state)
            if not is_fault(a) and not isinstance(a, Restart) and actor_of(a) != skip
        ]
        if not offered:
            return state
        first: dict[str, object] = {}
        for a in offered:
            first.setdefault(actor_of(a), a)
        action = offered[0]
        for k in range(len(actors)):
            name = actors[(turn + k) % len(actors)]
            if name in first:
                action, turn = first[name], (turn + k + 1) % len(actors)
                break
        after = step(state, action)
        if check is not None:
            check(state, action, after)
        state = after
    raise AssertionError("the round robin did not get there")


def names(pods) -> set[str]:
    return {p.metadata.name for p in pods}


def _rolled_out(state: State) -> bool:
    new = [p for p in _available(state) if p.spec.containers[0].image == NEW_IMAGE]
    return sorted(_replicas(state).values()) == [0, 3] and len(new) == 3


def _available(state: State) -> list:
    return [p for p in listed(state, "pods", "default") if is_available(p, 0, state.api.now)]


def test_a_node_failure_between_scale_down_and_deletion_is_not_the_rollouts_violation():
    state = _to_first_scale_down(rolling_update(nodes=4).initial_state())
    (new_pod,) = [p for p in _available(state) if p.spec.containers[0].image == NEW_IMAGE]
    old_on_node = [
        p
        for p in listed(state, "pods", "default")
        if p.spec.node_name == new_pod.spec.node_name and p.metadata.name != new_pod.metadata.name
    ]
    assert not old_on_node  # so the ReplicaSet controller has no not-ready old pod to pick
    failure = Crash(f"kubelet-{new_pod.spec.node_name}", node_failure=True)
    assert failure in enabled(state, Faults(node_failure=1))
    state = step(state, failure)
    state = _round_robin(
        state, "replicaset", lambda s: new_pod.metadata.name not in names(_available(s))
    )
    violations, lowest = [], [3]

    def check(before, action, after):
        if (v := ROLLOUT_WITHIN_UNAVAILABLE.check(before, action, after)) is not None:
            violations.append(v)
        active = [p for p in _available(after) if is_active(p)]
        lowest[0] = min(lowest[0], len(active))

    _round_robin(state, "", _rolled_out, check)
    assert lowest[0] < 3  # the interleaving does take availability below the bound
    assert violations == []
