"""bind-timeout-forget: a binding that times out although the api-server applied it.

Each test drives today's scheduler through a short scripted trace; whole suites under the
engines run for every entry in tests/test_bugs.py.
"""

from __future__ import annotations

from kubeproof.model.apiserver.server import read
from kubeproof.model.cluster import ClientRequest, Deliver, Reconcile, Send, Timeout, step
from kubeproof.properties.bugs import bug
from kubeproof.properties.bugs.leader import BINDING_RESPECTS_POD_ANTI_AFFINITY_IN_ETCD
from kubeproof.properties.bugs.scheduler import bind_timeout_scenario

CHECK = BINDING_RESPECTS_POD_ANTI_AFFINITY_IN_ETCD.check
PODS = Deliver("scheduler", "pods")


def _node_of(state, name: str) -> str:
    return read(state.api.store, "pods", "default", name).spec.node_name


def _web_a_in_flight():
    """Both pods created and seen by the scheduler, web-a scheduled: its binding waits in the
    scheduler's outbox, the pod assumed on its node."""
    state = bind_timeout_scenario().initial_state()
    for action in (
        ClientRequest(),
        PODS,
        ClientRequest(),
        PODS,
        Reconcile("scheduler", "schedule"),
    ):
        state = step(state, action)
    return state


def _bind_next(state):
    """The scheduler schedules the next pod and its binding is sent: (before, action, after)
    of that send, and the state after it."""
    state = step(state, Reconcile("scheduler", "schedule"))
    while state.components["scheduler"].outbox[0].request.subresource != "binding":
        state = step(state, Send("scheduler"))
    send = Send("scheduler")
    return state, send, step(state, send)


def test_the_entry_is_upstream_behaviour_with_no_switch():
    entry = bug("bind-timeout-forget")
    assert entry.switch == "" and entry.fixed is None
    assert entry.buggy.faults.timeout == 1


def test_a_binding_that_timed_out_but_landed_lets_the_next_pod_share_its_node():
    state = step(_web_a_in_flight(), Timeout("scheduler", applied=True))
    node_a = _node_of(state, "web-a")
    assert node_a  # etcd holds the binding the scheduler believes failed
    before, send, after = _bind_next(state)
    assert _node_of(after, "web-b") == node_a
    violation = CHECK(before, send, after)
    assert violation is not None and "default/web-a" in violation.message


def test_a_binding_that_returns_keeps_the_pod_assumed_and_the_next_goes_elsewhere():
    state = step(_web_a_in_flight(), Send("scheduler"))
    node_a = _node_of(state, "web-a")
    before, send, after = _bind_next(state)
    assert _node_of(after, "web-b") not in ("", node_a)
    assert CHECK(before, send, after) is None


def test_a_binding_that_timed_out_unapplied_leaves_the_node_free():
    state = step(_web_a_in_flight(), Timeout("scheduler", applied=False))
    assert _node_of(state, "web-a") == ""
    before, send, after = _bind_next(state)
    assert CHECK(before, send, after) is None
