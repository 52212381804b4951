"""The kubelet: registration, heartbeats, admission, the container runtime, pod status, graceful
termination; each rule on hand-built views, then kubelets inside the composed cluster."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kubeproof.model import runtime
from kubeproof.model.apiserver.admission import Status
from kubeproof.model.apiserver.server import (
    Preconditions,
    Request,
    Response,
    default_users,
    handle,
    read,
)
from kubeproof.model.apiserver.server import initial_state as api_state
from kubeproof.model.cluster import NO_FAULTS, Crash, Restart, Tick, enabled, initial_state, step
from kubeproof.model.controllers.protocol import Delta, Outgoing, View
from kubeproof.model.kubelet import (
    LEASE,
    NODE_STATUS,
    REGISTER,
    Kubelet,
    KubeletMemory,
    admission_failure,
)
from kubeproof.model.objects import (
    Container,
    ContainerImage,
    ContainerPort,
    FrozenMap,
    Node,
    NodeSpec,
    NodeStatus,
    ObjectMeta,
    Pod,
    PodSpec,
    Taint,
    Toleration,
    object_key,
)
from kubeproof.model.quantity import parse_quantity as q

ADMIN = "kubernetes-admin"


def node(name="node-1", cpu="1", pods="110", labels=(), taints=(), images=(), pod_cidr=""):
    allocatable = FrozenMap(cpu=q(cpu), memory=q("2Gi"), pods=q(pods))
    return Node(
        ObjectMeta(name=name, labels=FrozenMap(dict(labels))),
        NodeSpec(taints=tuple(taints), pod_cidr=pod_cidr),
        NodeStatus(capacity=allocatable, allocatable=allocatable, images=tuple(images)),
    )


def pod(name, cpu="100m", node_name="node-1", created=0, **spec):
    container = Container(
        "web", "nginx", requests=FrozenMap(cpu=q(cpu)), ports=spec.pop("ports", ())
    )
    containers = spec.pop("containers", (container,))
    meta = ObjectMeta(name=name, namespace="default", uid=f"uid-{name}", creation_timestamp=created)
    return Pod(meta, PodSpec(containers=containers, node_name=node_name, **spec))


def cluster_api(*objects, nodes=("node-1", "node-2")):
    """An api-server holding ``objects`` (created by the admin, in order)."""
    api = api_state(default_users(nodes=nodes))
    for obj in objects:
        # the api-server stamps creationTimestamp with its clock
        api = replace(api, now=obj.metadata.creation_timestamp or api.now)
        api, r = handle(
            api, Request(ADMIN, "create", obj.RESOURCE, obj.metadata.namespace, body=obj)
        )
        assert r.ok, r
    return api


def view_of(api, now=0, component="kubelet-node-1"):
    """A view whose caches are exactly what the api-server holds."""
    caches = {}
    for resource in ("pods", "nodes"):
        _, r = handle(api, Request(ADMIN, "list", resource))
        caches[resource] = FrozenMap((object_key(o), o) for o in r.items)
    return View(component, now, FrozenMap(caches), replace(api, now=now))


def sent(result):
    return [(o.request.verb, o.request.resource, o.request.subresource) for o in result.requests]


def apply(api, result, kubelet):
    """Send a reconcile's requests as the kubelet would; the responses, in order."""
    responses = []
    for out in result.requests:
        api, r = handle(api, replace(out.request, user=kubelet.identity))
        responses.append(r)
    return api, responses


def drive(kubelet, api, key, memory, now=0, limit=20):
    """Reconcile ``key`` and send its requests until nothing is left to do at ``now``."""
    for _ in range(limit):
        result = kubelet.reconcile(view_of(api, now), key, memory)
        memory = result.memory
        for out in result.requests:
            api, r = handle(api, replace(out.request, user=kubelet.identity))
            memory = kubelet.on_response(memory, out, r, view_of(api, now)).memory
        if not result.requests and key not in result.requeue:
            return api, memory, result
    raise AssertionError("the pod did not settle")


# --- admission: upstream predicate.go generalFilter over scheduler.AdmissionCheck ------------


def test_out_of_cpu_names_the_resource_and_amounts():
    """predicate.go: InsufficientResourceError gives reason OutOf<resource> and its message."""
    failure = admission_failure(pod("b", "600m"), node(cpu="1"), (pod("a", "600m"),))
    assert failure == (
        "OutOfcpu",
        "Node didn't have enough resource: cpu, requested: 600, used: 600, capacity: 1000",
    )
    assert admission_failure(pod("b", "400m"), node(cpu="1"), (pod("a", "600m"),)) is None


def test_out_of_pods_is_reported_before_cpu():
    """noderesources.Fits checks the pod count first; the kubelet reports only the first."""
    failure = admission_failure(pod("b", "2"), node(cpu="1", pods="1"), (pod("a"),))
    assert failure[0] == "OutOfpods"
    assert (
        failure[1] == "Node didn't have enough resource: pods, requested: 1, used: 1, capacity: 1"
    )


def test_out_of_memory():
    big = Container("web", "nginx", requests=FrozenMap(memory=q("3Gi")))
    reason, message = admission_failure(pod("a", containers=(big,)), node(), ())
    assert reason == "OutOfmemory"
    assert "requested: 3221225472, used: 0, capacity: 2147483648" in message


def test_missing_extended_resources_are_not_checked():
    """removeMissingExtendedResources: a resource the node does not report is skipped."""
    gpu = Container("web", "cuda", requests=FrozenMap({"example.com/gpu": q("1")}))
    assert admission_failure(pod("a", containers=(gpu,)), node(), ()) is None


def test_node_selector_mismatch_is_node_affinity():
    """AdmissionCheck: GetRequiredNodeAffinity (nodeSelector included) fails as NodeAffinity."""
    p = pod("a", node_selector=FrozenMap(disk="ssd"))
    assert admission_failure(p, node(), ()) == (
        "NodeAffinity",
        "Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector",
    )


def test_node_affinity_alone_is_rechecked_against_a_fresh_node():
    """predicate.go generalFilter: when node affinity is the only failure the node is fetched
    synchronously and the checks run again."""
    p = pod("a", node_selector=FrozenMap(disk="ssd"))
    fresh = node(labels={"disk": "ssd"})
    assert admission_failure(p, node(), (), lambda: fresh) is None


def test_node_name_mismatch():
    failure = admission_failure(pod("a", node_name="node-2"), node("node-1"), ())
    assert failure == (
        "NodeName",
        "Predicate NodeName failed: node(s) didn't match the requested node name",
    )


def test_host_port_conflict_with_an_admitted_pod():
    ports = (ContainerPort(80, host_port=8080),)
    failure = admission_failure(pod("b", ports=ports), node(), (pod("a", ports=ports),))
    assert failure[0] == "NodePorts"


def test_only_untolerated_no_execute_taints_reject():
    """generalFilter: the kubelet only cares about NoExecute taints (TaintToleration)."""
    no_exec = node(taints=(Taint("dedicated", "NoExecute", "db"),))
    assert admission_failure(pod("a"), no_exec, ()) == (
        "TaintToleration",
        "Predicate TaintToleration failed: node(s) had taints that the pod didn't tolerate",
    )
    tolerant = pod("a", tolerations=(Toleration("dedicated", "Equal", "db", "NoExecute"),))
    assert admission_failure(tolerant, no_exec, ()) is None
    no_sched = node(taints=(Taint("dedicated", "NoSchedule", "db"),))
    assert admission_failure(pod("a"), no_sched, ()) is None


# --- events --------------------------------------------------------------------------------


def test_keys_are_the_pods_bound_to_this_node():
    """The kubelet watches pods with fieldSelector spec.nodeName; node events start no work."""
    kubelet, view = Kubelet(node()), view_of(cluster_api())
    assert kubelet.keys(Delta("pods", "ADDED", pod("a")), view) == ("default/a",)
    assert kubelet.keys(Delta("pods", "ADDED", pod("b", node_name="node-2")), view) == ()
    assert kubelet.keys(Delta("pods", "ADDED", pod("c", node_name="")), view) == ()
    assert kubelet.keys(Delta("nodes", "MODIFIED", node()), view) == ()


# --- node registration, status, lease ------------------------------------------------------


def test_registration_creates_the_node_and_accepts_already_exists():
    """registerWithAPIServer: create the Node; after a restart AlreadyExists means registered."""
    kubelet = Kubelet(node(labels={"zone": "a"}))
    api = cluster_api()
    result = kubelet.reconcile(view_of(api), REGISTER, KubeletMemory())
    assert sent(result) == [("create", "nodes", "")]
    body = result.requests[0].request.body
    assert body.metadata.labels["zone"] == "a"
    assert body.metadata.labels["kubernetes.io/hostname"] == "node-1"
    assert [c.type for c in body.status.conditions][-1] == "Ready"
    api, (response,) = apply(api, result, kubelet)
    assert response.code == 201
    again = kubelet.on_response(KubeletMemory(), result.requests[0], response, view_of(api))
    assert again.memory.registered and set(again.requeue) == {NODE_STATUS, LEASE}
    _, (exists,) = apply(api, result, kubelet)
    assert exists.status.reason == "AlreadyExists"
    after = kubelet.on_response(KubeletMemory(), result.requests[0], exists, view_of(api))
    assert after.memory.registered


def test_registration_failure_retries_with_backoff():
    kubelet = Kubelet(node())
    out = Outgoing(Request("", "create", "nodes"), REGISTER, REGISTER)
    lost = Response(504, Status(504, "Timeout", "lost"))
    memory = KubeletMemory()
    delays = []
    for _ in range(5):
        result = kubelet.on_response(memory, out, lost, view_of(cluster_api()))
        memory = result.memory
        delays.append(result.after[0][1])
    assert delays == [1, 2, 4, 7, 7] and not memory.registered


def test_the_kubelet_may_write_its_node_status_and_lease():
    """RBAC system:node and NodeRestriction allow a kubelet its own Node, status and Lease."""
    kubelet = Kubelet(node())
    api = cluster_api()
    memory = KubeletMemory()
    result = kubelet.reconcile(view_of(api), REGISTER, memory)
    api, _ = apply(api, result, kubelet)
    memory = replace(memory, registered=True, pulled=("nginx:latest",))
    result = kubelet.reconcile(view_of(api, 10), NODE_STATUS, memory)
    api, (r,) = apply(api, result, kubelet)
    assert r.code == 200
    assert read(api.store, "nodes", "", "node-1").status.images[-1].names == ("nginx:latest",)
    result = kubelet.reconcile(view_of(api, 10), LEASE, memory)
    api, (r,) = apply(api, result, kubelet)
    assert r.code == 201
    lease = read(api.store, "leases", "kube-node-lease", "node-1")
    assert lease.spec.holder_identity == "node-1" and lease.spec.renew_time == 10
    assert lease.spec.lease_duration_seconds == 40
    assert lease.metadata.owner_references[0].kind == "Node"


def test_node_status_is_reported_when_changed_or_every_five_minutes():
    """kubelet_node_status.go: with leases, status is patched only when it changed or
    nodeStatusReportFrequency (5 min) has passed."""
    kubelet = Kubelet(node())
    api = cluster_api()
    api, _ = apply(api, kubelet.reconcile(view_of(api), REGISTER, KubeletMemory()), kubelet)
    memory = KubeletMemory(registered=True, last_report=0)
    assert kubelet.reconcile(view_of(api, 10), NODE_STATUS, memory).requests == ()
    assert len(kubelet.reconcile(view_of(api, 300), NODE_STATUS, memory).requests) == 1
    changed = replace(memory, pulled=("redis:latest",))
    assert len(kubelet.reconcile(view_of(api, 10), NODE_STATUS, changed).requests) == 1


def test_lease_is_renewed_every_ten_seconds_with_one_timer():
    """nodelease: renewInterval is a quarter of the 40 s lease; the renewal updates the lease
    last written (latestLease) and re-arms a single periodic timer."""
    kubelet = Kubelet(node())
    api = cluster_api()
    first = kubelet.reconcile(view_of(api), LEASE, KubeletMemory())
    assert first.every == ((LEASE, 10),) and sent(first) == [("create", "leases", "")]
    api, (r,) = apply(api, first, kubelet)
    memory = kubelet.on_response(first.memory, first.requests[0], r, view_of(api)).memory
    assert memory.lease is not None
    early = kubelet.reconcile(view_of(api, 5), LEASE, memory)
    assert early.every == ()  # already armed for 10
    renew = kubelet.reconcile(view_of(api, 10), LEASE, memory)
    assert renew.every == ((LEASE, 10),) and sent(renew) == [("update", "leases", "")]
    assert (
        renew.requests[0].request.body.metadata.resource_version
        == r.object.metadata.resource_version
    )


# --- HandlePodAdditions ----------------------------------------------------------------------


def test_admission_follows_creation_order_not_queue_order():
    """HandlePodAdditions sorts by creation time: the older pod wins, whichever key comes first."""
    kubelet = Kubelet(node(cpu="1"))
    older, newer = pod("z-old", "600m", created=1), pod("a-new", "600m", created=2)
    api = cluster_api(node(), older, newer)
    result = kubelet.reconcile(view_of(api), "default/a-new", KubeletMemory())
    records = result.memory.pods
    assert records["default/z-old"].verdict == "admitted"
    assert records["default/a-new"].verdict == "rejected"
    assert records["default/a-new"].reason == "OutOfcpu"
    assert "default/z-old" in result.requeue


def test_admission_counts_only_the_kubelets_own_active_pods():
    """The predicate check builds NodeInfo from the kubelet's admitted active pods: a pod
    already terminal is not admitted again and holds nothing."""
    kubelet = Kubelet(node(cpu="1"))
    done = pod("done", "600m", created=1)
    api = cluster_api(node(), done, pod("new", "600m", created=2))
    ns_done = read(api.store, "pods", "default", "done")
    failed = replace(ns_done, status=replace(ns_done.status, phase="Failed"))
    api, r = handle(api, Request(ADMIN, "update", "pods", "default", "done", "status", body=failed))
    assert r.ok
    result = kubelet.reconcile(view_of(api), "default/new", KubeletMemory())
    assert result.memory.pods["default/done"].verdict == "skipped"
    assert result.memory.pods["default/new"].verdict == "admitted"


def test_rejected_pod_is_written_failed_through_pods_status():
    """rejectPod: phase Failed, the reason, and "Pod was rejected: " + the message."""
    kubelet = Kubelet(node(cpu="1"))
    api = cluster_api(node(), pod("a", "600m", created=1), pod("b", "600m", created=2))
    api, _, _ = drive(kubelet, api, "default/b", KubeletMemory())
    b = read(api.store, "pods", "default", "b")
    assert b.status.phase == "Failed" and b.status.reason == "OutOfcpu"
    assert b.status.message.startswith("Pod was rejected: Node didn't have enough resource: cpu")
    assert b.status.conditions == ()  # the kubelet-owned conditions are not written


def test_restart_reruns_admission_over_existing_pods():
    """After a restart the kubelet admits the existing pods again, oldest first: a pod it
    had running is found running (no pull, same IP); one that no longer fits is rejected."""
    kubelet = Kubelet(node(cpu="1"))
    api = cluster_api(node(), pod("a", "600m", created=1), pod("b", "600m", created=2))
    for name, ip in (("a", "10.88.0.2"), ("b", "10.88.0.3")):  # both ran (a scheduler race)
        p = read(api.store, "pods", "default", name)
        running = replace(p, status=replace(p.status, phase="Running", pod_ip=ip, start_time=0))
        api, r = handle(
            api, Request(ADMIN, "update", "pods", "default", name, "status", body=running)
        )
        assert r.ok
    result = kubelet.reconcile(view_of(api, 50), "default/b", KubeletMemory())
    a, b = result.memory.pods["default/a"], result.memory.pods["default/b"]
    assert a.runtime == runtime.running("10.88.0.2")
    assert b.verdict == "rejected" and b.reason == "OutOfcpu"


# --- the runtime and the pod status --------------------------------------------------------


def test_pod_goes_pending_then_running_and_ready():
    """generateAPIPodStatus: Pending while pulling (ContainersNotReady), Running and Ready once
    the containers run; hostIP, podIP, startTime; lastTransitionTime is the time of change."""
    kubelet = Kubelet(node(), image_pull_seconds=5, address="10.0.0.1")
    api = cluster_api(node(), pod("a"))
    api, memory, result = drive(kubelet, api, "default/a", KubeletMemory(), now=0)
    assert result.after == (("default/a", 5),)
    p = read(api.store, "pods", "default", "a")
    assert p.status.phase == "Pending"
    assert (p.status.host_ip, p.status.pod_ip, p.status.start_time) == ("10.0.0.1", "10.88.0.2", 0)
    conditions = {c.type: c for c in p.status.conditions}
    assert [c.type for c in p.status.conditions] == [
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ]
    assert conditions["Ready"].status == "False"
    assert conditions["Ready"].reason == "ContainersNotReady"
    assert conditions["Ready"].message == "containers with unready status: [web]"
    assert conditions["PodScheduled"].status == "True"
    api, memory, _ = drive(kubelet, api, "default/a", memory, now=5)
    p = read(api.store, "pods", "default", "a")
    conditions = {c.type: c for c in p.status.conditions}
    assert p.status.phase == "Running"
    assert all(c.status == "True" for c in p.status.conditions)
    assert conditions["Ready"].last_transition_time == 5
    assert conditions["Initialized"].last_transition_time == 0
    assert memory.pulled == ("nginx:latest",)


def test_an_image_the_node_holds_is_not_pulled():
    held = node(images=(ContainerImage(("nginx:latest",), 100),))
    kubelet = Kubelet(held, image_pull_seconds=5)
    api = cluster_api(held, pod("a"))
    api, _, result = drive(kubelet, api, "default/a", KubeletMemory(), now=0)
    assert read(api.store, "pods", "default", "a").status.phase == "Running"
    assert result.after == ()


def test_pod_ips_come_from_the_pod_cidr():
    cidr = node(pod_cidr="10.244.1.0/24")
    kubelet = Kubelet(cidr)
    api = cluster_api(cidr, pod("a", created=1), pod("b", created=2))
    memory = kubelet.reconcile(view_of(api), "default/a", KubeletMemory()).memory
    ips = [memory.pods[k].runtime.pod_ip for k in ("default/a", "default/b")]
    assert ips == ["10.244.1.2", "10.244.1.3"]


def test_runtime_stop_honours_the_grace_period():
    """killContainer: SIGTERM, SIGKILL at the deadline (at least 2 s); a shorter grace period
    from a second delete pulls the deadline in; containers that never started just go."""
    rt = runtime.running("ip")
    slow = runtime.stop(rt, now=0, grace=30, stop_seconds=60)
    assert slow.due == 30
    killed = runtime.advance(slow, 30)
    assert killed.exit_code == runtime.KILLED and runtime.phase(killed) == "Failed"
    assert runtime.stop(slow, now=5, grace=10, stop_seconds=60).due == 15
    assert runtime.stop(rt, now=0, grace=0, stop_seconds=60).due == 2
    pulling = runtime.start(0, "ip", 5)
    assert runtime.stop(pulling, 1, 30, 1).state == runtime.TERMINATED
    assert runtime.phase(runtime.stop(pulling, 1, 30, 1)) == "Failed"


def _running(kubelet, *objects):
    api = cluster_api(*objects)
    api, memory, _ = drive(kubelet, api, "default/a", KubeletMemory(), now=0)
    api, memory, _ = drive(kubelet, api, "default/a", memory, now=5)
    assert read(api.store, "pods", "default", "a").status.phase == "Running"
    return api, memory


@pytest.mark.parametrize(
    ("stop_seconds", "phase", "gone_at"), [(1, "Succeeded", 11), (60, "Failed", 40)]
)
def test_graceful_termination_then_final_delete(stop_seconds, phase, gone_at):
    """A deleted pod's containers stop within terminationGracePeriodSeconds; the kubelet
    writes the terminal phase, then DELETEs with grace 0 and the pod's UID as precondition."""
    kubelet = Kubelet(node(), container_stop_seconds=stop_seconds)
    api, memory = _running(kubelet, node(), pod("a"))
    api = replace(api, now=10)
    api, r = handle(api, Request(ADMIN, "delete", "pods", "default", "a"))
    assert r.ok and read(api.store, "pods", "default", "a").metadata.deletion_timestamp == 40
    result = kubelet.reconcile(view_of(api, 10), "default/a", memory)
    assert result.requests == () and result.after == (("default/a", gone_at - 10),)
    result = kubelet.reconcile(view_of(api, gone_at), "default/a", result.memory)
    assert sent(result) == [("update", "pods", "status")]
    api, (r,) = apply(api, result, kubelet)
    p = read(api.store, "pods", "default", "a")
    assert p.status.phase == phase
    assert {c.type: c.status for c in p.status.conditions}["Ready"] == "False"
    memory = kubelet.on_response(result.memory, result.requests[0], r, view_of(api, gone_at)).memory
    final = kubelet.reconcile(view_of(api, gone_at), "default/a", memory)
    (out,) = final.requests
    assert out.request.verb == "delete" and out.request.grace_period_seconds == 0
    assert out.request.preconditions == Preconditions(uid=p.metadata.uid)
    api, (r,) = apply(api, final, kubelet)
    assert r.ok and read(api.store, "pods", "default", "a") is None


def test_no_final_delete_before_the_containers_stopped():
    """canBeDeleted: not while containers could still run."""
    kubelet = Kubelet(node(), container_stop_seconds=60)
    api, memory = _running(kubelet, node(), pod("a"))
    api, _ = handle(replace(api, now=10), Request(ADMIN, "delete", "pods", "default", "a"))
    result = kubelet.reconcile(view_of(api, 20), "default/a", memory)
    assert result.requests == ()


def test_a_terminal_phase_is_never_left():
    """#108366: once the api-server has a terminal phase the kubelet stops the containers and
    never writes a non-terminal phase over it."""
    kubelet = Kubelet(node())
    api, memory = _running(kubelet, node(), pod("a"))
    p = read(api.store, "pods", "default", "a")
    failed = replace(p, status=replace(p.status, phase="Failed", reason="Evicted"))
    api, r = handle(api, Request(ADMIN, "update", "pods", "default", "a", "status", body=failed))
    assert r.ok
    api, memory, _ = drive(kubelet, api, "default/a", memory, now=6)
    p = read(api.store, "pods", "default", "a")
    assert (p.status.phase, p.status.reason) == ("Failed", "Evicted")
    assert memory.pods["default/a"].runtime.state == runtime.STOPPING


def test_a_pod_gone_from_the_api_is_killed_and_forgotten():
    """HandlePodRemoves: a force-deleted pod's containers get the 2 s minimum, then the kubelet
    forgets it."""
    kubelet = Kubelet(node(), container_stop_seconds=60)
    api, memory = _running(kubelet, node(), pod("a"))
    api, r = handle(api, Request(ADMIN, "delete", "pods", "default", "a", grace_period_seconds=0))
    assert r.ok and read(api.store, "pods", "default", "a") is None
    memory = kubelet.observe(memory, Delta("pods", "DELETED", r.object), view_of(api, 5))
    result = kubelet.reconcile(view_of(api, 5), "default/a", memory)
    assert result.after == (("default/a", 2),)
    result = kubelet.reconcile(view_of(api, 7), "default/a", result.memory)
    assert "default/a" not in result.memory.pods and result.requests == ()


# --- in the cluster ------------------------------------------------------------------------


def run_until(state, done, limit=2000):
    """Take the first enabled action (the clock last) until ``done(state)``."""
    for _ in range(limit):
        if done(state):
            return state
        actions = enabled(state, NO_FAULTS)
        assert actions, "nothing left to do"
        state = step(state, actions[0])
    raise AssertionError("the run did not get there")


def live(state, name):
    return read(state.api.store, "pods", "default", name)


def phase(state, name):
    pod = live(state, name)
    return None if pod is None else pod.status.phase


def test_kubelets_in_the_cluster_run_reject_and_delete_pods():
    """Nodes register, a pod bound by nodeName becomes Running and Ready, an over-committed
    second pod is rejected OutOfcpu, deleting the first ends with it gone."""
    kubelets = (Kubelet(node("node-1")), Kubelet(node("node-2")))
    clients = (
        Request(ADMIN, "create", "pods", "default", body=pod("a", "600m")),
        Request(ADMIN, "create", "pods", "default", body=pod("b", "600m")),
    )
    state = initial_state(kubelets, cluster_api(), clients)

    state = run_until(state, lambda s: (phase(s, "a"), phase(s, "b")) == ("Running", "Failed"))
    for name in ("node-1", "node-2"):
        registered = read(state.api.store, "nodes", "", name)
        assert {c.type: c.status for c in registered.status.conditions}["Ready"] == "True"
        assert read(state.api.store, "leases", "kube-node-lease", name) is not None
    a = live(state, "a")
    assert {c.type: c.status for c in a.status.conditions} == {
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }
    assert a.status.pod_ip and a.status.host_ip and a.status.start_time == 0
    assert live(state, "b").status.reason == "OutOfcpu"
    state = replace(state, clients=(Request(ADMIN, "delete", "pods", "default", "a"),))
    state = run_until(state, lambda s: live(s, "a") is None)
    assert state.api.now < 30  # containers stopped in 1 s, well inside the 30 s grace period
    assert live(state, "b").status.phase == "Failed"  # a rejected pod is not admitted again


def test_leases_keep_being_renewed():
    state = initial_state((Kubelet(node("node-1")),), cluster_api())
    state = run_until(state, lambda s: s.api.now >= 60)
    lease = read(state.api.store, "leases", "kube-node-lease", "node-1")
    assert lease.spec.renew_time >= 50


def test_a_kubelet_restart_keeps_its_running_pod():
    """After a restart the kubelet registers again (AlreadyExists), relists, re-admits its
    pods and finds the running one still running: no phase change, same pod IP."""
    kubelet = Kubelet(node("node-1"))
    clients = (Request(ADMIN, "create", "pods", "default", body=pod("a")),)
    state = initial_state((kubelet,), cluster_api(), clients)
    state = run_until(state, lambda s: phase(s, "a") == "Running")
    before = live(state, "a")
    state = step(state, Crash(kubelet.process, node_failure=True))
    state = step(state, Restart(kubelet.process))
    state = run_until(state, lambda s: s.components[kubelet.name].memory.registered)
    state = run_until(
        state,
        lambda s: (
            not s.components[kubelet.name].queue
            and not s.components[kubelet.name].outbox
            and isinstance(enabled(s)[0], Tick)
        ),
    )
    after = live(state, "a")
    assert after.status == before.status
    record = state.components[kubelet.name].memory.pods["default/a"]
    assert record.runtime == runtime.running(before.status.pod_ip)
