"""The two exploration engines on scopes where the answer is known.

Scopes: a toy ``Labeler`` that labels every pod ``seen=yes`` and, on a failed update, gives up
(so an update lost to a timeout leaves the pod unlabelled for ever); and one node with its
kubelet and the ReplicaSet controller, the admin creating a ReplicaSet of one (no scheduler: the
pod stays Pending). Properties: true ones, and deliberately false ones the engines must find.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, replace

import pytest

from kubeproof.model.apiserver.server import Request, default_users, handle, read
from kubeproof.model.apiserver.server import initial_state as api_state
from kubeproof.model.cluster import NO_FAULTS, ClientRequest, Faults, step
from kubeproof.model.controllers.protocol import Outgoing, Reconciled
from kubeproof.model.controllers.replicaset import ReplicaSetController
from kubeproof.model.kubelet import Kubelet
from kubeproof.model.objects import (
    Container,
    FrozenMap,
    LabelSelector,
    Node,
    NodeStatus,
    ObjectMeta,
    Pod,
    PodSpec,
    PodTemplateSpec,
    ReplicaSet,
    ReplicaSetSpec,
)
from kubeproof.model.quantity import parse_quantity
from kubeproof.model.scenarios import Scenario, listed
from kubeproof.properties.canonical import Canonicalizer
from kubeproof.properties.core import EVENTUALLY, INVARIANT, Property, Suite, Violation
from kubeproof.properties.engines import NO_ENDLESS_CYCLE, UnknownEngine, check_suite
from kubeproof.properties.replay import replay

ADMIN = "kubernetes-admin"


# --- scopes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Labeler:
    """Labels every pod seen=yes; a failed update is not retried. With ``stale_rv`` it always
    sends resourceVersion 1, so it conflicts, requeues and conflicts again, for ever."""

    name: str = "labeler"
    identity: str = "system:kube-controller-manager"
    process: str = "kube-controller-manager"
    resources: tuple[str, ...] = ("pods",)
    stale_rv: bool = False

    def initial_memory(self):
        return None

    def keys(self, delta, view):
        return (delta.key,)

    def observe(self, memory, delta, view):
        return memory

    def reconcile(self, view, key, memory):
        pod = view.get("pods", key)
        if pod is None or pod.metadata.labels.get("seen") == "yes":
            return Reconciled(memory)
        meta = replace(pod.metadata, labels=pod.metadata.labels.set("seen", "yes"))
        if self.stale_rv:
            meta = replace(meta, resource_version="1")
        ns, name = key.split("/")
        request = Request("", "update", "pods", ns, name, body=replace(pod, metadata=meta))
        return Reconciled(memory, requests=(Outgoing(request, key),))

    def on_response(self, memory, sent, response, view):
        retry = self.stale_rv and response.code == 409
        return Reconciled(memory, requeue=(sent.key,) if retry else ())


def _pod(name: str) -> Pod:
    return Pod(
        ObjectMeta(name=name, namespace="default"), PodSpec(containers=(Container("c", "nginx"),))
    )


def labeler_scope(stale_rv: bool = False) -> Scenario:
    create = Request(ADMIN, "create", "pods", "default", body=_pod("web"))
    return Scenario(
        "labeler", "", (Labeler(stale_rv=stale_rv),), api_state(default_users()), (create,)
    )


def replicaset_scope() -> Scenario:
    capacity = FrozenMap(
        cpu=parse_quantity("2"), memory=parse_quantity("4Gi"), pods=parse_quantity("110")
    )
    node = Node(
        ObjectMeta(name="node-1"), status=NodeStatus(capacity=capacity, allocatable=capacity)
    )
    labels = FrozenMap(app="web")
    template = PodTemplateSpec(
        ObjectMeta(labels=labels), PodSpec(containers=(Container("c", "nginx"),))
    )
    rs = ReplicaSet(
        ObjectMeta(name="web", namespace="default", labels=labels),
        ReplicaSetSpec(replicas=1, selector=LabelSelector(labels), template=template),
    )
    create = Request(ADMIN, "create", "replicasets", "default", body=rs)
    api = api_state(default_users(nodes=("node-1",)))
    return Scenario("replicaset", "", (Kubelet(node), ReplicaSetController()), api, (create,))


def _pods(state):
    return listed(state, "pods", "default")


def _invariant(name, holds, message):
    return Property(
        name, message, INVARIANT, lambda s: None if holds(s) else Violation(name, message)
    )


AT_MOST_ONE_POD = _invariant("at-most-one-pod", lambda s: len(_pods(s)) <= 1, "more than 1 pod")
NO_POD = _invariant("no-pod-is-created", lambda s: not _pods(s), "a pod was created")
NEVER_LABELLED = _invariant(
    "no-pod-is-labelled",
    lambda s: not any(p.metadata.labels.get("seen") for p in _pods(s)),
    "a pod is labelled",
)
ALL_LABELLED = Property(
    "every-pod-is-labelled",
    "every pod is labelled seen=yes",
    EVENTUALLY,
    lambda s: next(
        (
            Violation("every-pod-is-labelled", "a pod is not labelled", (("pod", p),))
            for p in _pods(s)
            if p.metadata.labels.get("seen") != "yes"
        ),
        None,
    ),
)
NO_CYCLE = Property(NO_ENDLESS_CYCLE, "no endless cycle", EVENTUALLY, lambda s: None)
LABELLER_PROPERTIES = (AT_MOST_ONE_POD, NEVER_LABELLED, ALL_LABELLED)
REPLICASET_PROPERTIES = (AT_MOST_ONE_POD, NO_POD)


def labeler_suite(faults: Faults = NO_FAULTS, stale_rv: bool = False, props=LABELLER_PROPERTIES):
    return Suite("labeler", "", lambda: labeler_scope(stale_rv), props, faults)


def replicaset_suite(faults: Faults = NO_FAULTS):
    return Suite("replicaset", "", replicaset_scope, REPLICASET_PROPERTIES, faults)


def failing(report) -> set[str]:
    return {v.property for v in report.verdicts if not v.holds}


HYPOTHESIS = {"examples": 60, "steps": 20, "seed": 1, "database": ":memory:"}


# --- the exhaustive engine -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("faults", "states", "transitions"),
    [(NO_FAULTS, 9, 9), (Faults(timeout=1), 13, 13), (Faults(1, 1, 1, 1, 1), 811, 1787)],
)
def test_the_labeler_scope_has_a_known_number_of_states(faults, states, transitions):
    report = check_suite(labeler_suite(faults), "exhaustive", max_states=10**6)
    assert (report.states, report.transitions) == (states, transitions)


@pytest.mark.parametrize(
    ("faults", "states", "transitions"),
    [(NO_FAULTS, 1177, 1958), (Faults(crash=1), 1559, 3071)],
)
def test_the_replicaset_scope_has_a_known_number_of_states_within_depth_8(
    faults, states, transitions
):
    report = check_suite(replicaset_suite(faults), "exhaustive", max_depth=8, max_states=10**6)
    assert (report.states, report.transitions) == (states, transitions)


def test_the_state_bound_stops_the_search():
    report = check_suite(replicaset_suite(), "exhaustive", max_states=50)
    assert report.states == 50


def test_the_exhaustive_counterexample_is_shortest_and_replays():
    suite = labeler_suite()
    report = check_suite(suite, "exhaustive")
    verdict = next(v for v in report.verdicts if v.property == "no-pod-is-labelled")
    # the admin creates the pod; the labeler lists, reconciles and sends its update
    assert [type(a).__name__ for a in verdict.trace.actions] == [
        "ClientRequest",
        "Relist",
        "Reconcile",
        "Send",
    ]
    replayed = replay(verdict.trace, suite)
    assert replayed.recurs and replayed.at == 4


def test_a_lost_update_breaks_an_eventually_property_only_with_the_timeout_fault():
    assert failing(check_suite(labeler_suite(), "exhaustive")) == {"no-pod-is-labelled"}
    suite = labeler_suite(Faults(timeout=1))
    report = check_suite(suite, "exhaustive")
    assert failing(report) == {"no-pod-is-labelled", "every-pod-is-labelled"}
    trace = next(v.trace for v in report.verdicts if v.property == "every-pod-is-labelled")
    assert type(trace.actions[-1]).__name__ == "Timeout" and not trace.actions[-1].applied
    assert replay(trace, suite).recurs


def test_cycle_detection_finds_a_conflict_retried_for_ever():
    props = (NO_CYCLE, ALL_LABELLED)
    report = check_suite(labeler_suite(stale_rv=True, props=props), "exhaustive")
    verdict = next(v for v in report.verdicts if v.property == NO_ENDLESS_CYCLE)
    assert not verdict.holds
    around = dict(verdict.trace.violation.evidence)["cycle"]
    assert [type(a).__name__ for a in around] == ["Reconcile", "Send"]


def test_no_cycle_is_reported_when_the_controller_settles():
    props = (NO_CYCLE, ALL_LABELLED)
    assert check_suite(labeler_suite(props=props), "exhaustive").holds


# --- the Hypothesis engine -------------------------------------------------------------------


def test_the_hypothesis_trace_replays_to_the_same_violation():
    suite = labeler_suite(Faults(timeout=1))
    report = check_suite(suite, "hypothesis", **HYPOTHESIS)
    verdict = next(v for v in report.verdicts if v.property == "every-pod-is-labelled")
    assert not verdict.holds
    assert verdict.trace.faults.timeout == 1  # swarm: the timeout kind was switched on
    replayed = replay(verdict.trace, suite)
    assert replayed.recurs and replayed.violation == verdict.trace.violation


def test_hypothesis_shrinks_to_a_normal_run_with_one_deviation():
    report = check_suite(labeler_suite(Faults(timeout=1)), "hypothesis", **HYPOTHESIS)
    trace = next(v.trace for v in report.verdicts if v.property == "every-pod-is-labelled")
    assert [type(a).__name__ for a in trace.actions] == [
        "ClientRequest",
        "Relist",
        "Reconcile",
        "Timeout",
    ]


@pytest.mark.parametrize(
    "suite",
    [
        labeler_suite(),
        labeler_suite(Faults(timeout=1)),
        replicaset_suite(),
        replicaset_suite(Faults(crash=1)),
    ],
    ids=["labeler", "labeler-timeout", "replicaset", "replicaset-crash"],
)
def test_the_two_engines_agree_on_which_properties_fail(suite):
    exhaustive = check_suite(suite, "exhaustive", max_depth=8, max_states=10**6)
    hypothesis = check_suite(suite, "hypothesis", **HYPOTHESIS)
    assert failing(exhaustive) == failing(hypothesis) != set()


def test_progress_is_reported():
    calls = []
    check_suite(
        labeler_suite(),
        "hypothesis",
        examples=5,
        steps=5,
        database=":memory:",
        progress=lambda done, total, note: calls.append((done, total)),
    )
    assert calls and all(total == 5 for _, total in calls)


def test_an_unknown_engine_is_a_user_error():
    with pytest.raises(UnknownEngine, match="unknown engine 'dfs'"):
        check_suite(labeler_suite(), "dfs")


# --- canonical states ------------------------------------------------------------------------


def _generated(prefix="web-"):
    pod = _pod("")
    pod = replace(pod, metadata=replace(pod.metadata, name="", generate_name=prefix))
    return Request(ADMIN, "create", "pods", "default", body=pod)


def test_states_that_differ_only_in_uids_and_generated_names_share_a_key():
    scope = labeler_scope()
    base = scope.initial_state()
    later = replace(base, api=replace(base.api, next_uid=base.api.next_uid + 7))
    a = replace(base, api=handle(base.api, _generated())[0])
    b = replace(later, api=handle(later.api, _generated())[0])
    assert read(a.api.store, "pods", "default", _pods(a)[0].metadata.name) is not None
    assert _pods(a)[0].metadata.uid != _pods(b)[0].metadata.uid
    c = Canonicalizer()
    assert c.key(a) == c.key(b)
    other = replace(base, api=handle(base.api, _generated("db-"))[0])
    assert c.key(other) != c.key(a)


def test_revisions_one_apart_never_share_a_key():
    # CPython hashes -1 and -2 alike: shifted revisions must not collide
    state = step(labeler_scope().initial_state(), ClientRequest())
    c = Canonicalizer()
    informer = state.components["labeler"].informers["pods"]
    keys = set()
    for rv in (0, 1, 2, 3):
        changed = state.components["labeler"]
        changed = replace(
            changed,
            informers=changed.informers.set("pods", replace(informer, resource_version=rv)),
        )
        keys.add(c.key(replace(state, components=state.components.set("labeler", changed))))
    assert len(keys) == 4


# --- the Redis example database ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path):
    missing = []
    if shutil.which("redis-server") is None:
        missing.append("redis-server (apt-get install redis-server)")
    try:
        import redis
    except ImportError:
        missing.append("the redis package (pip install 'kubeproof[redis]')")
    if missing:
        why = "needs " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    port = _free_port()
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            pytest.fail("redis-server did not start")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_counterexamples_are_shared_through_redis(redis_url):
    import redis

    suite = labeler_suite(Faults(timeout=1))
    first = check_suite(suite, "hypothesis", examples=60, steps=20, database=redis_url)
    assert "every-pod-is-labelled" in failing(first)
    assert redis.Redis.from_url(redis_url).dbsize() > 0
    # another runner, another seed, few examples: the stored failure is replayed first
    second = check_suite(suite, "hypothesis", examples=1, steps=20, seed=99, database=redis_url)
    assert "every-pod-is-labelled" in failing(second)
