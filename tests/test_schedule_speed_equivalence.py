"""The faster scheduling cycles decide exactly as the plain one.

Three ways to run a cycle: ``equivalence=False`` runs every plugin on every node (the
reference); ``schedule_one`` with equivalence classes evaluates each plugin once per class of
nodes with equal signatures; ``schedule_all`` runs its cycles with an ``IncrementalScheduler``,
which also keeps the classes from one pod to the next (re-signing only the node a pod was
assumed onto), normalizes one raw score per class, carries node sums across assumed pods and
builds each node's evaluation only when read. On random small clusters, built from small pools
of labels, taints, sizes and images so that many nodes are alike, and with pending pods that
are replicas of a few templates (as a Deployment's are), every way must give the same
decisions: every node's every Status (reasons included), raw, normalized and weighted score,
total, the selected node and the message, pod after pod (each placement assumed before the
next), and the same JSON and text.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeproof.model.objects import (
    Affinity,
    Container,
    ContainerImage,
    ContainerPort,
    FrozenMap,
    GenericObject,
    LabelSelector,
    LabelSelectorRequirement,
    Node,
    NodeAffinity,
    NodeSelector,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    NodeSpec,
    NodeStatus,
    ObjectMeta,
    Pod,
    PodAffinity,
    PodAffinityTerm,
    PodSpec,
    PreferredSchedulingTerm,
    Taint,
    Toleration,
    TopologySpreadConstraint,
    WeightedPodAffinityTerm,
)
from kubeproof.model.quantity import parse_quantity as q
from kubeproof.model.scheduler.cycle import assume, schedule_one
from kubeproof.model.scheduler.framework import FeasibleNodes, NodeInfo, Snapshot
from kubeproof.model.scheduler.incremental import IncrementalScheduler
from kubeproof.model.scheduler.plugins.balanced_allocation import NodeResourcesBalancedAllocation
from kubeproof.model.scheduler.plugins.image_locality import ImageLocality
from kubeproof.model.scheduler.plugins.inter_pod_affinity import InterPodAffinity
from kubeproof.model.scheduler.plugins.node_affinity import NodeAffinity as NodeAffinityPlugin
from kubeproof.model.scheduler.plugins.node_resources_fit import NodeResourcesFit
from kubeproof.model.scheduler.plugins.taint_toleration import TaintToleration
from kubeproof.model.scheduler.profile import default_profile
from kubeproof.model.scheduler.simulate import Cluster, schedule_all
from kubeproof.report_schedule import decision_json, decision_lines

ZONE, HOST, DISK = "topology.kubernetes.io/zone", "kubernetes.io/hostname", "disk"
TAINTS = (
    Taint("dedicated", "NoSchedule", "batch"),
    Taint("spot", "PreferNoSchedule"),
    Taint("maintenance", "NoExecute"),
)
IMAGES = (
    ContainerImage(("nginx:latest",), 200 * 1024 * 1024),
    ContainerImage(("redis:7",), 900 * 1024 * 1024),
)
PROFILES = (
    default_profile(),
    default_profile(
        {
            "NodeResourcesFit": {"scoringStrategy": {"type": "MostAllocated"}},
            "PodTopologySpread": {
                "defaultingType": "List",
                "defaultConstraints": [
                    {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"}
                ],
            },
        }
    ),
)
SERVICE = GenericObject(
    "v1",
    "Service",
    ObjectMeta(name="web", namespace="default"),
    FrozenMap(spec=FrozenMap(selector=FrozenMap(app="web"))),
)


def maybe(strategy):
    return st.none() | strategy


@st.composite
def nodes(draw, max_count=8):
    count = draw(st.integers(1, max_count))
    out = []
    for i in range(count):
        name = f"n{i}"
        labels = {}
        if draw(st.booleans()):
            labels[ZONE] = draw(st.sampled_from(("z1", "z2")))
        if draw(st.integers(0, 3)):
            labels[HOST] = name
        if draw(st.booleans()):
            labels[DISK] = draw(st.sampled_from(("ssd", "hdd")))
        taints = tuple(draw(st.lists(st.sampled_from(TAINTS), max_size=2, unique=True)))
        allocatable = FrozenMap(
            cpu=q(draw(st.sampled_from(("1", "2", "4")))),
            memory=q(draw(st.sampled_from(("2Gi", "4Gi")))),
            pods=q(draw(st.sampled_from(("2", "3", "110")))),
        )
        images = tuple(draw(st.lists(st.sampled_from(IMAGES), max_size=2, unique=True)))
        out.append(
            Node(
                ObjectMeta(name=name, labels=FrozenMap(labels)),
                NodeSpec(taints=taints, unschedulable=draw(st.integers(0, 5)) == 0),
                NodeStatus(allocatable=allocatable, images=images),
            )
        )
    return out


APP = st.sampled_from(("web", "db"))
SELECTOR = st.builds(lambda app: LabelSelector(FrozenMap(app=app)), APP) | st.just(
    LabelSelector(match_expressions=(LabelSelectorRequirement("app", "Exists"),))
)


@st.composite
def pods(draw, name, node_names=()):
    """A pod drawing from every feature the default plugins read."""
    app = draw(APP)
    cpu = draw(st.sampled_from(("", "0", "100m", "500m", "1500m")))
    requests = FrozenMap(cpu=q(cpu)) if cpu else FrozenMap()
    if cpu == "0":  # counts as a pod, adds nothing to any requested sum
        requests = FrozenMap(cpu=q("0"), memory=q("0"))
    ports = ()
    if draw(st.integers(0, 3)) == 0:
        ports = (ContainerPort(80, host_port=draw(st.sampled_from((8080, 8081)))),)
    image = draw(st.sampled_from(("nginx", "redis:7", "busybox")))
    node_affinity = None
    if draw(st.integers(0, 2)) == 0:
        required = None
        if draw(st.booleans()):
            expression = NodeSelectorRequirement(
                DISK, draw(st.sampled_from(("In", "NotIn"))), ("ssd",)
            )
            fields = ()
            if node_names and draw(st.integers(0, 3)) == 0:
                operator = draw(st.sampled_from(("In", "NotIn")))
                fields = (
                    NodeSelectorRequirement(
                        "metadata.name", operator, (draw(st.sampled_from(node_names)),)
                    ),
                )
            required = NodeSelector((NodeSelectorTerm((expression,), fields),))
        preferred = ()
        if draw(st.booleans()):
            term = NodeSelectorTerm((NodeSelectorRequirement(ZONE, "In", ("z1",)),))
            if node_names and draw(st.booleans()):
                name = NodeSelectorRequirement("metadata.name", "NotIn", (node_names[0],))
                term = NodeSelectorTerm(term.match_expressions, (name,))
            preferred = (PreferredSchedulingTerm(draw(st.integers(1, 100)), term),)
        node_affinity = NodeAffinity(required, preferred)
    pod_affinity = pod_anti_affinity = None
    if draw(st.integers(0, 2)) == 0:
        term = PodAffinityTerm(draw(st.sampled_from((ZONE, HOST))), draw(SELECTOR))
        weighted = WeightedPodAffinityTerm(draw(st.integers(1, 100)), term)
        group = draw(
            st.sampled_from((PodAffinity(required=(term,)), PodAffinity(preferred=(weighted,))))
        )
        if draw(st.booleans()):
            pod_affinity = group
        else:
            pod_anti_affinity = group
    affinity = None
    if node_affinity or pod_affinity or pod_anti_affinity:
        affinity = Affinity(node_affinity, pod_affinity, pod_anti_affinity)
    spread = ()
    if draw(st.integers(0, 2)) == 0:
        spread = (
            TopologySpreadConstraint(
                draw(st.integers(1, 2)),
                draw(st.sampled_from((ZONE, HOST))),
                draw(st.sampled_from(("DoNotSchedule", "ScheduleAnyway"))),
                draw(SELECTOR),
            ),
        )
    tolerations = tuple(
        draw(
            st.lists(
                st.sampled_from(
                    (
                        Toleration("dedicated", "Equal", "batch", "NoSchedule"),
                        Toleration("spot", "Exists"),
                        Toleration(operator="Exists", effect="NoExecute"),
                    )
                ),
                max_size=2,
                unique=True,
            )
        )
    )
    node_selector = FrozenMap({DISK: "ssd"}) if draw(st.integers(0, 4)) == 0 else FrozenMap()
    node_name = ""
    if node_names and draw(st.integers(0, 9)) == 0:
        node_name = draw(st.sampled_from(node_names))
    return Pod(
        ObjectMeta(name=name, namespace="default", labels=FrozenMap(app=app)),
        PodSpec(
            containers=(Container("c", image=image, requests=requests, ports=ports),),
            node_name=node_name,
            node_selector=node_selector,
            affinity=affinity,
            tolerations=tolerations,
            topology_spread_constraints=spread,
        ),
    )


@st.composite
def snapshots(draw, max_nodes=8):
    """Nodes with a few pods already bound, and maybe the Service selecting ``app=web``."""
    node_list = draw(nodes(max_nodes))
    names = tuple(n.metadata.name for n in node_list)
    bound: dict[str, list[Pod]] = {name: [] for name in names}
    for i in range(draw(st.integers(0, 6))):
        pod = draw(pods(f"old{i}"))
        where = draw(st.sampled_from(names))
        bound[where].append(replace(pod, spec=replace(pod.spec, node_name=where)))
    infos = tuple(NodeInfo(node, tuple(bound[node.metadata.name])) for node in node_list)
    workloads = (SERVICE,) if draw(st.booleans()) else ()
    return Snapshot(infos, (), workloads)


@st.composite
def clusters(draw):
    snapshot = draw(snapshots())
    names = tuple(info.name for info in snapshot.nodes)
    pending = tuple(draw(pods(f"new{i}", names)) for i in range(draw(st.integers(1, 5))))
    return Cluster(snapshot, pending)


@st.composite
def replica_clusters(draw):
    """Pending pods that are replicas of one to three templates (equal specs, their own
    names), interleaved: consecutive cycles share their signature keys."""
    snapshot = draw(snapshots(max_nodes=12))
    names = tuple(info.name for info in snapshot.nodes)
    templates = [draw(pods(f"t{i}", names)) for i in range(draw(st.integers(1, 3)))]
    order = draw(st.lists(st.integers(0, len(templates) - 1), min_size=1, max_size=14))
    pending = tuple(
        replace(templates[t], metadata=replace(templates[t].metadata, name=f"t{t}-{j}"))
        for j, t in enumerate(order)
    )
    return Cluster(snapshot, pending)


def assert_same_decisions(fast_run, plain_run):
    fast_run, plain_run = list(fast_run), list(plain_run)
    assert len(fast_run) == len(plain_run)
    for fast, slow in zip(fast_run, plain_run, strict=True):
        assert fast.selected == slow.selected
        assert fast.message == slow.message
        assert [n.name for n in fast.nodes] == [n.name for n in slow.nodes]
        for a, b in zip(fast.nodes, slow.nodes, strict=True):
            assert a.filters == b.filters, a.name  # codes and reason strings, per plugin
            assert a.scores == b.scores, a.name  # raw, normalized and weighted, per plugin
            assert a.total == b.total and a.feasible == b.feasible
        assert fast == slow and hash(fast) == hash(slow)
        assert decision_json(fast) == decision_json(slow)
        assert list(decision_lines(fast)) == list(decision_lines(slow))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(), st.sampled_from(PROFILES), st.booleans(), st.integers(0, 3))
def test_equivalence_classes_decide_as_every_node_evaluation(cluster, profile, score_all, seed):
    assert_same_decisions(
        schedule_all(profile, cluster, seed=seed, score_all=score_all),
        schedule_all(profile, cluster, seed=seed, score_all=score_all, equivalence=False),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replica_clusters(), st.sampled_from(PROFILES), st.integers(0, 3))
def test_an_incremental_run_of_replicas_decides_as_every_node_evaluation(cluster, profile, seed):
    assert_same_decisions(
        schedule_all(profile, cluster, seed=seed),
        schedule_all(profile, cluster, seed=seed, equivalence=False),
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replica_clusters(), st.sampled_from(PROFILES), st.integers(0, 3))
def test_one_cycle_with_classes_decides_as_every_node_evaluation(cluster, profile, seed):
    """``schedule_one`` with equivalence classes (no state kept between pods), on every
    snapshot the plain run passes through."""
    snapshot = cluster.snapshot
    for pod in cluster.pending:
        plain = schedule_one(profile, pod, snapshot, seed=seed, equivalence=False)
        assert_same_decisions([schedule_one(profile, pod, snapshot, seed=seed)], [plain])
        if plain.selected is not None:
            snapshot = assume(snapshot, pod, plain.selected)


def pods_per_zone(info, key):
    return {info.node.metadata.labels.get(key, ""): len(info.pods)}


def apps_of_pods(info):
    apps: dict = {}
    for pod in info.pods:
        app = pod.metadata.labels.get("app")
        apps[app] = apps.get(app, 0) + 1
    return apps


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replica_clusters(), st.data())
def test_node_sums_carried_across_assumed_pods_equal_sums_made_afresh(cluster, data):
    """Read on some snapshots only, so that a sum left unread for a while is dropped and made
    afresh when read again."""
    run = IncrementalScheduler(cluster.snapshot)
    names = [info.name for info in cluster.snapshot.nodes]
    sums = ((pods_per_zone, ZONE), (pods_per_zone, HOST), (apps_of_pods,))
    for pod in cluster.pending * 2:
        run.assume(pod, data.draw(st.sampled_from(names)))
        fresh = Snapshot(run.snapshot.nodes, run.snapshot.namespaces, run.snapshot.workloads)
        for fn, *args in sums:
            if data.draw(st.integers(0, 3)) == 0:
                assert run.snapshot.node_sum(fn, *args) == fresh.node_sum(fn, *args)


SCORE_PLUGINS = tuple({plugin for profile in PROFILES for plugin, _ in profile.scores})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(), st.data())
def test_pre_score_reads_node_sums_as_it_reads_every_node(cluster, data):
    """Given FeasibleNodes (what the incremental cycle passes), PodTopologySpread and
    ImageLocality take their counts from node sums less the excluded nodes: the same state."""
    snapshot = cluster.snapshot
    for pod in cluster.pending:
        keep = data.draw(st.lists(st.booleans(), min_size=len(snapshot.nodes)))
        feasible = [info for info, k in zip(snapshot.nodes, keep, strict=False) if k]
        excluded = [info for info in snapshot.nodes if info not in feasible]
        for plugin in SCORE_PLUGINS:
            summed = plugin.pre_score(pod, snapshot, FeasibleNodes(feasible, excluded))
            assert summed == plugin.pre_score(pod, snapshot, feasible), plugin.name


class EveryPodHasTerms(Snapshot):
    """A snapshot whose node sums claim pods with (anti-)affinity everywhere."""

    def node_sum(self, fn, *args):
        return {"pods": 1}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters())
def test_inter_pod_affinity_skips_as_walking_every_pod_would(cluster):
    """InterPodAffinity skips the walk over every node's pods when its node sums find no pod
    with terms (and the pod has none): the same result as the walk."""
    snapshot = cluster.snapshot
    walking = EveryPodHasTerms(snapshot.nodes, snapshot.namespaces, snapshot.workloads)
    for pod in cluster.pending:
        for plugin in (InterPodAffinity(), InterPodAffinity(0), InterPodAffinity(1, True)):
            assert plugin.pre_filter(pod, snapshot) == plugin.pre_filter(pod, walking)
            feasible = snapshot.nodes
            assert plugin.pre_score(pod, snapshot, feasible) == plugin.pre_score(
                pod, walking, feasible
            )


BY_VALUE = (
    TaintToleration(),
    NodeAffinityPlugin(),
    InterPodAffinity(),
    NodeResourcesFit(),
    NodeResourcesBalancedAllocation(),
    ImageLocality(),
)


@given(
    st.lists(st.tuples(st.integers(-50, 100), st.integers(1, 4)), min_size=1, max_size=6),
    st.sampled_from(BY_VALUE),
)
def test_normalizing_one_score_per_class_gives_every_node_its_score(classes, plugin):
    if not isinstance(plugin, InterPodAffinity):  # the others' raw scores are never negative
        classes = [(abs(raw), size) for raw, size in classes]
    column = [raw for raw, size in classes for _ in range(size)]
    per_class = plugin.normalize_classes(None, None, [None] * len(classes), [r for r, _ in classes])
    expanded = [n for n, (_, size) in zip(per_class, classes, strict=True) for _ in range(size)]
    assert list(plugin.normalize(None, None, column)) == expanded


def test_many_identical_nodes_share_one_evaluation_and_one_text_line():
    """1,000-node clusters are mostly alike: one class, one line naming a few and counting."""
    room = NodeStatus(allocatable=FrozenMap(cpu=q("8"), memory=q("32Gi"), pods=q("110")))
    infos = tuple(
        NodeInfo(
            Node(ObjectMeta(name=f"node-{i:02d}", labels=FrozenMap({ZONE: "z1"})), status=room)
        )
        for i in range(40)
    )
    pod = Pod(
        ObjectMeta(name="p", namespace="default"),
        PodSpec(containers=(Container("c", requests=FrozenMap(cpu=q("1"))),)),
    )
    decision = schedule_one(default_profile(), pod, Snapshot(infos))
    assert decision == schedule_one(default_profile(), pod, Snapshot(infos), equivalence=False)
    assert len({id(n.filters) for n in decision.nodes}) == 1
    assert len({id(n.scores) for n in decision.nodes}) == 1
    _, line = decision_lines(decision)
    names = [decision.selected] + [i.name for i in infos if i.name != decision.selected]
    assert line.lstrip().startswith(f"{', '.join(names[:3])} and 37 more  feasible")
    assert len(decision_json(decision)["nodes"]) == 40


def test_a_node_changed_by_an_assumed_pod_gets_new_signatures():
    """The memo lives on the NodeInfo: assume() makes a new one for the changed node only."""
    room = NodeStatus(allocatable=FrozenMap(cpu=q("2"), memory=q("4Gi"), pods=q("110")))
    infos = tuple(NodeInfo(Node(ObjectMeta(name=n), status=room)) for n in ("a", "b"))
    big = PodSpec(containers=(Container("c", requests=FrozenMap(cpu=q("1500m"))),))
    pending = tuple(Pod(ObjectMeta(name=f"p{i}", namespace="d"), big) for i in range(3))
    decisions = list(schedule_all(default_profile(), Cluster(Snapshot(infos), pending)))
    assert {d.selected for d in decisions[:2]} == {"a", "b"}
    assert decisions[2].selected is None
    assert decisions[2].message == "0/2 nodes are available: 2 Insufficient cpu."


def test_nodes_with_equal_requests_but_different_pod_counts_are_told_apart():
    """Pods requesting zero add nothing to the requested sums, yet count toward allocatable
    pods: NodeResourcesFit's signature holds the pod count too."""
    zero = PodSpec(containers=(Container("c", requests=FrozenMap(cpu=q("0"), memory=q("0"))),))
    room = NodeStatus(allocatable=FrozenMap(cpu=q("2"), memory=q("4Gi"), pods=q("2")))

    def bound(node, count):
        return tuple(
            Pod(ObjectMeta(name=f"{node}{i}", namespace="d"), replace(zero, node_name=node))
            for i in range(count)
        )

    infos = tuple(
        NodeInfo(Node(ObjectMeta(name=n), status=room), bound(n, k))
        for n, k in (("a", 1), ("b", 2))
    )
    pod = Pod(ObjectMeta(name="p", namespace="d"), zero)
    decision = schedule_one(default_profile(), pod, Snapshot(infos))
    assert decision == schedule_one(default_profile(), pod, Snapshot(infos), equivalence=False)
    assert [n.feasible for n in decision.nodes] == [True, False]
