"""The composed cluster's machinery: informers, work queues, timers, outboxes and faults.

A toy controller stands in for the real ones: it watches pods and, for each pod it sees,
labels it ``seen=yes`` with an update carrying the resourceVersion of its cached copy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from kubeproof.model.apiserver.server import (
    Request,
    default_users,
    handle,
    read,
)
from kubeproof.model.apiserver.server import (
    initial_state as api_state,
)
from kubeproof.model.cluster import (
    NO_FAULTS,
    ClientRequest,
    Compact,
    Crash,
    Deliver,
    DropWatch,
    Faults,
    FireTimers,
    Reconcile,
    Relist,
    Restart,
    ResumeWatch,
    Send,
    Tick,
    Timeout,
    enabled,
    initial_state,
    step,
    transition,
)
from kubeproof.model.controllers.protocol import Outgoing, Reconciled
from kubeproof.model.objects import Container, ObjectMeta, Pod, PodSpec

ADMIN = "kubernetes-admin"


@dataclass(frozen=True)
class Labeler:
    """Labels every pod seen=yes; remembers every delta it saw and every response code."""

    name: str = "labeler"
    identity: str = "system:kube-controller-manager"
    process: str = "kube-controller-manager"
    resources: tuple[str, ...] = ("pods",)
    delay: int = 0

    def initial_memory(self):
        return ((), ())  # (deltas seen, response codes)

    def keys(self, delta, view):
        return (delta.key,)

    def observe(self, memory, delta, view):
        seen, codes = memory
        return ((*seen, (delta.type, delta.key, delta.tombstone)), codes)

    def reconcile(self, view, key, memory):
        pod = view.get("pods", key)
        if pod is None or pod.metadata.labels.get("seen") == "yes":
            return Reconciled(memory)
        if self.delay:
            return Reconciled(memory, after=((f"later/{key}", self.delay),))
        labelled = replace(
            pod, metadata=replace(pod.metadata, labels=pod.metadata.labels.set("seen", "yes"))
        )
        ns, name = key.split("/")
        request = Request("", "update", "pods", ns, name, body=labelled)
        return Reconciled(memory, requests=(Outgoing(request, key),))

    def on_response(self, memory, sent, response, view):
        seen, codes = memory
        return Reconciled((seen, (*codes, response.code)))


def pod(name):
    return Pod(
        ObjectMeta(name=name, namespace="default"), PodSpec(containers=(Container("c", "nginx"),))
    )


def create(name):
    return Request(ADMIN, "create", "pods", "default", body=pod(name))


def start(*clients, controller=None):
    return initial_state((controller or Labeler(),), api_state(default_users()), clients)


def run(state, faults=NO_FAULTS, limit=500, clock=True):
    """Take the first enabled non-fault action until only faults (or nothing) remain."""
    for _ in range(limit):
        actions = [a for a in enabled(state, faults) if a not in enabled_faults(state, faults)]
        actions = [a for a in actions if clock or not isinstance(a, Tick)]
        if not actions:
            return state
        state = step(state, actions[0])
    raise AssertionError("the run did not quiesce")


def enabled_faults(state, faults):
    return set(enabled(state, faults)) - set(enabled(state, NO_FAULTS))


def memory(state):
    return state.components["labeler"].memory


def test_a_component_lists_before_it_reconciles():
    """upstream: controllers wait for HasSynced before workers start."""
    state = start(create("a"))
    actions = enabled(state)
    assert Relist("labeler", "pods") in actions and ClientRequest() in actions
    assert not any(isinstance(a, Reconcile) for a in actions)


def test_the_journey_of_one_watch_event_to_an_update():
    state = run(start(create("a")))
    stored = read(state.api.store, "pods", "default", "a")
    assert stored.metadata.labels["seen"] == "yes"
    seen, codes = memory(state)
    assert ("ADDED", "default/a", False) in seen and codes == (200,)


def test_events_wait_until_delivered():
    state = step(step(start(create("a")), Relist("labeler", "pods")), ClientRequest())
    assert Deliver("labeler", "pods") in enabled(state)
    assert state.components["labeler"].informers["pods"].cache == {}
    state = step(state, Deliver("labeler", "pods"))
    assert "default/a" in state.components["labeler"].informers["pods"].cache


def test_the_work_queue_deduplicates_keys():
    """upstream: client-go workqueue: a key already queued is not queued again."""
    state = step(start(create("a")), Relist("labeler", "pods"))
    state = step(state, ClientRequest())
    state = step(state, Deliver("labeler", "pods"))
    api, _ = handle(
        state.api,
        Request(
            ADMIN,
            "update",
            "pods",
            "default",
            "a",
            body=read(state.api.store, "pods", "default", "a"),
        ),
    )
    changed = replace(read(state.api.store, "pods", "default", "a"))
    changed = replace(
        changed, metadata=replace(changed.metadata, labels=changed.metadata.labels.set("x", "1"))
    )
    api, response = handle(
        state.api, Request(ADMIN, "update", "pods", "default", "a", body=changed)
    )
    assert response.ok
    state = step(replace(state, api=api), Deliver("labeler", "pods"))
    assert state.components["labeler"].queue == ("default/a",)


def test_a_stale_cache_update_is_a_conflict():
    """upstream: an update with an old resourceVersion gets 409 (GuaranteedUpdate)."""
    state = step(
        step(step(start(create("a")), Relist("labeler", "pods")), ClientRequest()),
        Deliver("labeler", "pods"),
    )
    state = step(state, Reconcile("labeler", "default/a"))
    current = read(state.api.store, "pods", "default", "a")
    bumped = replace(
        current, metadata=replace(current.metadata, labels=current.metadata.labels.set("x", "1"))
    )
    api, _ = handle(state.api, Request(ADMIN, "update", "pods", "default", "a", body=bumped))
    state = step(replace(state, api=api), Send("labeler"))
    assert memory(state)[1] == (409,)


def test_a_missed_delete_arrives_as_a_tombstone_after_410():
    """upstream: reflector relists after 410 Gone; DeltaFIFO.Replace emits
    DeletedFinalStateUnknown for keys the list lacks."""
    state = run(start(create("a")))
    state = step(state, DropWatch("labeler", "pods"))
    api, response = handle(state.api, Request(ADMIN, "delete", "pods", "default", "a"))
    assert response.ok
    state = replace(state, api=api)
    state = step(state, Compact())
    state = step(state, ResumeWatch("labeler", "pods"))
    informer = state.components["labeler"].informers["pods"]
    assert informer.expired and Relist("labeler", "pods") in enabled(state)
    state = step(state, Relist("labeler", "pods"))
    assert ("DELETED", "default/a", True) in memory(state)[0]


def test_a_lagging_watch_is_cut_by_compaction():
    """upstream: etcd cancels an unsynced watcher whose revision was compacted; the informer
    relists."""
    state = step(start(create("a"), create("b")), Relist("labeler", "pods"))
    state = step(step(state, ClientRequest()), ClientRequest())
    state = step(state, Compact())  # at the second create: the first is gone from history
    state, journal = transition(state, Deliver("labeler", "pods"))
    assert journal[0].code == 410
    assert state.components["labeler"].informers["pods"].expired


def test_only_a_first_list_may_be_stale_and_it_takes_the_cache_back_in_time():
    """kubernetes#59848: a process's first list (resourceVersion "0") may be answered by a
    lagging watch cache, older than what the process saw before it restarted; every later list
    asks for a revision not older than its cache's (reflector.go relistResourceVersion)."""
    faults = Faults(crash=1, stale_list=1)

    def stale(s):
        return [a for a in enabled(s, faults) if isinstance(a, Relist) and a.revision]

    state = run(start(create("a"), create("b")))
    assert not stale(state)
    with pytest.raises(ValueError, match="no older than its cache"):
        step(state, Relist("labeler", "pods", 1))
    state = step(step(state, Crash("kube-controller-manager")), Restart("kube-controller-manager"))
    assert stale(state)
    state = step(state, stale(state)[0])
    cache = state.components["labeler"].informers["pods"].cache
    assert "default/a" not in cache
    assert state.faults_used.stale_list == 1
    assert not stale(state)


def test_a_crash_loses_memory_and_a_restart_relists():
    state = run(start(create("a")))
    faults = Faults(crash=1)
    assert Crash("kube-controller-manager") in enabled(state, faults)
    state = step(state, Crash("kube-controller-manager"))
    assert not state.components["labeler"].running
    assert Crash("kube-controller-manager") not in enabled(state, faults)
    state = step(state, Restart("kube-controller-manager"))
    assert memory(state) == ((), ()) and Relist("labeler", "pods") in enabled(state)


@pytest.mark.parametrize("applied", [True, False])
def test_a_timeout_hides_whether_the_request_was_applied(applied):
    state = step(
        step(step(start(create("a")), Relist("labeler", "pods")), ClientRequest()),
        Deliver("labeler", "pods"),
    )
    state = step(state, Reconcile("labeler", "default/a"))
    state = step(state, Timeout("labeler", applied))
    assert memory(state)[1] == (504,)
    labelled = read(state.api.store, "pods", "default", "a").metadata.labels.get("seen") == "yes"
    assert labelled == applied


def test_timers_hold_the_clock_until_they_fire():
    state = run(start(create("a"), controller=Labeler(delay=30)), clock=False)
    component = state.components["labeler"]
    assert component.timers and component.timers[0].due == 30
    assert Tick(30) in enabled(state)
    state = step(state, Tick(30))
    assert state.api.now == 30 and FireTimers("labeler") in enabled(state)
    state = step(state, FireTimers("labeler"))
    assert state.components["labeler"].queue == ("later/default/a",)


def test_step_refuses_an_action_that_is_not_enabled():
    state = start()
    with pytest.raises(ValueError, match="not enabled"):
        step(state, Reconcile("labeler", "default/a"))
    with pytest.raises(ValueError, match="not enabled"):
        step(state, Tick(5))


def test_states_are_hashable_and_equal_by_content():
    a = run(start(create("a")))
    b = run(start(create("a")))
    assert a == b and hash(a) == hash(b) and a is not b
    assert len({a, b}) == 1


def test_an_informer_lists_with_its_components_identity():
    """upstream: a reflector's LIST is authenticated and authorized like any request: a
    component whose identity may not list pods never syncs, and says why."""
    state = start(create("a"), controller=Labeler(identity="nobody"))
    state, journal = transition(state, Relist("labeler", "pods"))
    assert journal[0].code == 401
    assert Relist("labeler", "pods") not in enabled(state)
    kubelet = Labeler(identity="system:node:n1")
    api = api_state(default_users(nodes=("n1",)))
    state = initial_state((replace(kubelet, resources=("deployments",)),), api)
    state, journal = transition(state, Relist("labeler", "deployments"))
    assert journal[0].code == 403 and "cannot list" in journal[0].note
