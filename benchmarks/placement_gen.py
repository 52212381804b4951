"""Synthetic but realistic clusters for the placement benchmarks, as kubeproof objects.

N nodes in four pools (label ``eks.amazonaws.com/nodegroup``, as EKS managed node groups set
it), spread round-robin over three zones (us-east-1a/b/c), and five Deployments whose replicas
add up to about M pending pods (../shared/research/placement.md §3):

| pool    | share | allocatable (cpu, memory, extra) | taint                                 |
|---------|-------|----------------------------------|---------------------------------------|
| general | 50 %  | 7910m, 30Gi                      | none                                  |
| highmem | 25 %  | 7910m, 62Gi                      | none                                  |
| gpu     | 15 %  | 15890m, 126Gi, nvidia.com/gpu 4  | nvidia.com/gpu=present:NoSchedule     |
| infra   | 10 %  | 3920m, 14Gi                      | node-role.kubernetes.io/infra:NoSchedule |

| Deployment    | requests                 | constraints                                         |
|---------------|--------------------------|-----------------------------------------------------|
| shop/web      | 1500m, 3Gi               | zone spread, maxSkew 1, DoNotSchedule               |
| shop/api      | 2, 2Gi                   | hostname anti-affinity; pool In (general, highmem)  |
| jobs/batch    | 3, 12Gi                  | nodeSelector pool=highmem                           |
| ml/trainer    | 2, 8Gi, nvidia.com/gpu 1 | tolerates the gpu taint; nodeSelector pool=gpu      |
| monitoring/agent | 1, 512Mi              | tolerates the infra taint; nodeSelector pool=infra  |

Variants: ``feasible`` (with a witness placement, so its answer is known at every size), and
four infeasible ones whose reason is a counting argument: ``gpu_short`` (one trainer more than
the GPUs), ``aa_short`` (one api replica more than the nodes it may use), ``spread_taint``
(zone c's general and highmem nodes tainted for maintenance: zone c still counts as a spread
domain for web, which cannot go there, so maxSkew 1 caps web at 2), ``binpack`` (2h+1 batch
pods on h highmem nodes: they fit by summed cpu, two per node at most). ``residual=True`` binds
one pod of a distinct request to every node, so that no two nodes have the same free capacity.

>>> instance = cluster(10, 30)
>>> len(instance.nodes), instance.pending_count, instance.expected_feasible
(10, 30, True)
>>> cluster(10, 30, "aa_short", residual=True).pending_count, len(cluster(10, 30).objects)
(35, 19)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kubeproof.model.manifests import dump_objects
from kubeproof.model.objects import (
    Affinity,
    Container,
    Deployment,
    DeploymentSpec,
    FrozenMap,
    LabelSelector,
    Namespace,
    Node,
    NodeAffinity,
    NodeSelector,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    NodeSpec,
    NodeStatus,
    Object,
    ObjectMeta,
    Pod,
    PodAffinity,
    PodAffinityTerm,
    PodSpec,
    PodStatus,
    PodTemplateSpec,
    Taint,
    Toleration,
    TopologySpreadConstraint,
)
from kubeproof.model.quantity import parse_quantity

__all__ = [
    "POOL_LABEL",
    "VARIANTS",
    "ZONES",
    "Instance",
    "cluster",
    "manifest_path",
]

VARIANTS = ("feasible", "gpu_short", "aa_short", "spread_taint", "binpack")
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
POOL_LABEL = "eks.amazonaws.com/nodegroup"
ZONE_LABEL = "topology.kubernetes.io/zone"
HOSTNAME_LABEL = "kubernetes.io/hostname"
GPU = "nvidia.com/gpu"
GPU_TAINT = Taint(GPU, "NoSchedule", "present")
INFRA_TAINT = Taint("node-role.kubernetes.io/infra", "NoSchedule")
MAINTENANCE_TAINT = Taint("example.com/maintenance", "NoSchedule", "true")


@dataclass(frozen=True, slots=True)
class _Pool:
    name: str
    instance_type: str
    capacity: tuple[str, str]  # cpu, memory
    allocatable: tuple[str, str]
    gpus: int
    taint: Taint | None


_POOLS = (
    _Pool("general", "m6i.2xlarge", ("8", "32Gi"), ("7910m", "30Gi"), 0, None),
    _Pool("highmem", "r6i.2xlarge", ("8", "64Gi"), ("7910m", "62Gi"), 0, None),
    _Pool("gpu", "g5.4xlarge", ("16", "128Gi"), ("15890m", "126Gi"), 4, GPU_TAINT),
    _Pool("infra", "c6i.xlarge", ("4", "16Gi"), ("3920m", "14Gi"), 0, INFRA_TAINT),
)

# Per-node fill of the witness placement (residual pods take at most 400m and 1232Mi):
# general: api + 3 web (6.5 cpu) or 5 web (7.5); highmem: batch + api + web (6.5) or batch +
# 2 web (6); gpu: 3 trainers (4 GPUs); infra: 2 agents.
_WEB_BESIDE_API = {"general": 3, "highmem": 1}
_WEB_ALONE = {"general": 5, "highmem": 2}
_TRAINERS_PER_GPU_NODE = 3
_GPUS_PER_NODE = 4
_AGENTS_PER_INFRA_NODE = 2


@dataclass(frozen=True)
class Instance:
    """One benchmark cluster: its objects, the answer it must get, and why."""

    name: str
    nodes: tuple[Node, ...]
    existing: tuple[Pod, ...]
    deployments: tuple[Deployment, ...]
    namespaces: tuple[Namespace, ...]
    expected_feasible: bool
    reason: str
    witness: Mapping[str, Mapping[str, int]] | None  # "ns/deployment" -> node -> replicas

    @property
    def objects(self) -> tuple[Object, ...]:
        """Everything a user would feed to ``kubeproof place``, in manifest order."""
        return (*self.namespaces, *self.nodes, *self.existing, *self.deployments)

    @property
    def pending_count(self) -> int:
        """How many replicas the Deployments ask for."""
        return sum(d.spec.replicas or 0 for d in self.deployments)


def _pool_sizes(nodes: int) -> dict[str, int]:
    gpu, infra, highmem = (
        max(1, round(0.15 * nodes)),
        max(1, round(0.1 * nodes)),
        round(0.25 * nodes),
    )
    general = nodes - gpu - infra - highmem
    if min(general, highmem) < 1:
        raise ValueError(f"{nodes} nodes: too few for four pools (at least 4)")
    return {"general": general, "highmem": highmem, "gpu": gpu, "infra": infra}


def _resources(cpu: str, memory: str, extra: Mapping[str, str] = FrozenMap()) -> FrozenMap:
    items = {"cpu": cpu, "memory": memory, **extra}
    return FrozenMap((k, parse_quantity(v)) for k, v in items.items())


def _node(pool: _Pool, index: int, number: int, width: int, maintenance: bool) -> Node:
    name = f"{pool.name}-{number:0{width}d}"
    zone = ZONES[index % len(ZONES)]
    labels = FrozenMap(
        {
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/os": "linux",
            HOSTNAME_LABEL: name,
            "node.kubernetes.io/instance-type": pool.instance_type,
            "topology.kubernetes.io/region": "us-east-1",
            ZONE_LABEL: zone,
            POOL_LABEL: pool.name,
        }
    )
    extra = {GPU: str(pool.gpus)} if pool.gpus else {}
    taints = (pool.taint,) if pool.taint else ()
    if maintenance and zone == ZONES[-1] and pool.taint is None:
        taints += (MAINTENANCE_TAINT,)
    status = NodeStatus(
        capacity=_resources(*pool.capacity, {**extra, "pods": "110"}),
        allocatable=_resources(*pool.allocatable, {**extra, "pods": "110"}),
    )
    return Node(ObjectMeta(name=name, labels=labels), NodeSpec(taints=taints), status)


def _nodes(count: int, maintenance: bool) -> tuple[Node, ...]:
    sizes, width, out = _pool_sizes(count), len(str(count)), []
    for pool in _POOLS:
        for number in range(sizes[pool.name]):
            out.append(_node(pool, len(out), number, width, maintenance))
    return tuple(out)


def _resident(node: Node, index: int) -> Pod:
    """A running pod whose (cpu, memory) request no other node's resident has."""
    cpu, memory = f"{50 + (index % 36) * 10}m", f"{128 + (index // 36) * 8}Mi"
    labels = FrozenMap(app="resident", node=node.metadata.name)
    container = Container("main", "registry.example.com/resident:1.0", _resources(cpu, memory))
    return Pod(
        ObjectMeta(name=f"resident-{node.metadata.name}", namespace="tenants", labels=labels),
        PodSpec(containers=(container,), node_name=node.metadata.name),
        PodStatus(phase="Running"),
    )


def _deployment(
    namespace: str, name: str, replicas: int, requests: FrozenMap, **spec: object
) -> Deployment:
    labels = FrozenMap(app=name)
    limits = FrozenMap((k, v) for k, v in requests.items() if k == GPU)
    container = Container(name, f"registry.example.com/{name}:1.0", requests, limits)
    template = PodTemplateSpec(ObjectMeta(labels=labels), PodSpec(containers=(container,), **spec))
    return Deployment(
        ObjectMeta(name=name, namespace=namespace, labels=labels),
        DeploymentSpec(LabelSelector(labels), template, replicas),
    )


def _api_affinity() -> Affinity:
    """Pool In (general, highmem), and never two api pods on one node."""
    requirement = NodeSelectorRequirement(POOL_LABEL, "In", ("general", "highmem"))
    term = NodeSelectorTerm(match_expressions=(requirement,))
    anti = PodAffinityTerm(HOSTNAME_LABEL, LabelSelector(FrozenMap(app="api")))
    return Affinity(
        NodeAffinity(required=NodeSelector((term,))), pod_anti_affinity=PodAffinity((anti,))
    )


def _deployments(replicas: Mapping[str, int]) -> tuple[Deployment, ...]:
    spread = TopologySpreadConstraint(
        1, ZONE_LABEL, "DoNotSchedule", LabelSelector(FrozenMap(app="web"))
    )
    return (
        _deployment(
            "shop", "web", replicas["web"], _resources("1500m", "3Gi"),
            topology_spread_constraints=(spread,),
        ),
        _deployment(
            "shop", "api", replicas["api"], _resources("2", "2Gi"),
            affinity=_api_affinity(),
        ),
        _deployment(
            "jobs", "batch", replicas["batch"], _resources("3", "12Gi"),
            node_selector=FrozenMap({POOL_LABEL: "highmem"}),
        ),
        _deployment(
            "ml", "trainer", replicas["trainer"], _resources("2", "8Gi", {GPU: "1"}),
            node_selector=FrozenMap({POOL_LABEL: "gpu"}),
            tolerations=(Toleration(GPU, "Exists", effect="NoSchedule"),),
        ),
        _deployment(
            "monitoring", "agent", replicas["agent"], _resources("1", "512Mi"),
            node_selector=FrozenMap({POOL_LABEL: "infra"}),
            tolerations=(Toleration(INFRA_TAINT.key, "Exists", effect="NoSchedule"),),
        ),
    )  # fmt: skip


def _witness(nodes: tuple[Node, ...], replicas: Mapping[str, int]) -> dict[str, dict[str, int]]:
    """A placement of the feasible variant, per Deployment and node; ValueError if the fill
    rules above cannot place ``replicas`` (too many pods for the nodes)."""
    pools: dict[str, list[Node]] = {p.name: [] for p in _POOLS}
    for node in nodes:
        pools[node.metadata.labels[POOL_LABEL]].append(node)
    out: dict[str, dict[str, int]] = {k: {} for k in ("web", "api", "batch", "trainer", "agent")}
    for kind, pool, per_node in (
        ("trainer", "gpu", _TRAINERS_PER_GPU_NODE),
        ("agent", "infra", _AGENTS_PER_INFRA_NODE),
        ("batch", "highmem", 1),
    ):
        out[kind] = {n.metadata.name: per_node for n in pools[pool]}
    candidates = pools["general"] + pools["highmem"]
    out["api"] = {n.metadata.name: 1 for n in candidates[: replicas["api"]]}
    room: dict[str, dict[str, int]] = {zone: {} for zone in ZONES}
    for node in candidates:
        pool, name = node.metadata.labels[POOL_LABEL], node.metadata.name
        fill = _WEB_BESIDE_API if name in out["api"] else _WEB_ALONE
        room[node.metadata.labels[ZONE_LABEL]][name] = fill[pool]
    web = replicas["web"]
    by_room = sorted(ZONES, key=lambda z: -sum(room[z].values()))
    targets = {z: web // 3 + (1 if i < web % 3 else 0) for i, z in enumerate(by_room)}
    for zone, target in targets.items():
        for name, free in room[zone].items():
            take = min(free, target)
            if take:
                out["web"][name] = take
            target -= take
        if target:
            raise ValueError(f"{web} web replicas do not fit the witness fill of {zone}")
    if any(sum(out[k].values()) != replicas[k] for k in out):
        raise ValueError(f"the witness fill does not place {dict(replicas)}")
    return out


_NAMESPACES = {
    "web": "shop",
    "api": "shop",
    "batch": "jobs",
    "trainer": "ml",
    "agent": "monitoring",
}


def cluster(
    nodes: int, pods: int, variant: str = "feasible", *, residual: bool = False
) -> Instance:
    """The benchmark cluster of ``nodes`` nodes and about ``pods`` pending pods (exactly
    ``pods`` for the feasible variant)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; one of {', '.join(VARIANTS)}")
    sizes = _pool_sizes(nodes)
    replicas = {
        "agent": _AGENTS_PER_INFRA_NODE * sizes["infra"],
        "trainer": _TRAINERS_PER_GPU_NODE * sizes["gpu"],
        "batch": sizes["highmem"],
        "api": (sizes["general"] + sizes["highmem"]) // 2,
    }
    replicas["web"] = pods - sum(replicas.values())
    node_objects = _nodes(nodes, maintenance=variant == "spread_taint")
    witness = _witness(node_objects, replicas)  # the feasible variant's, checked at every size
    reason = "a witness placement exists"
    if variant == "gpu_short":
        replicas["trainer"] = _GPUS_PER_NODE * sizes["gpu"] + 1
        reason = (
            f"{replicas['trainer']} trainers need one GPU each; {sizes['gpu']} gpu nodes have 4"
        )
    elif variant == "aa_short":
        replicas["api"] = sizes["general"] + sizes["highmem"] + 1
        reason = f"{replicas['api']} api replicas, one per node, on {replicas['api'] - 1} nodes"
    elif variant == "spread_taint":
        reason = "web cannot run in zone c, which counts as a domain: maxSkew 1 allows 2 web"
    elif variant == "binpack":
        replicas["batch"] = 2 * sizes["highmem"] + 1
        reason = f"{replicas['batch']} batch pods, at most 2 per node, on {sizes['highmem']} nodes"
    feasible = variant == "feasible"
    existing = tuple(_resident(n, i) for i, n in enumerate(node_objects)) if residual else ()
    namespaces = sorted({*_NAMESPACES.values(), *(("tenants",) if residual else ())})
    return Instance(
        name=f"{nodes}/{pods} {variant}{' residual' if residual else ''}",
        nodes=node_objects,
        existing=existing,
        deployments=_deployments(replicas),
        namespaces=tuple(Namespace(ObjectMeta(name=n)) for n in namespaces),
        expected_feasible=feasible,
        reason=reason,
        witness=(
            {f"{_NAMESPACES[k]}/{k}": FrozenMap(v) for k, v in witness.items()}
            if feasible
            else None
        ),
    )


def manifest_path(instance: Instance, directory: str | os.PathLike) -> Path:
    """The instance written as one multi-document YAML file in ``directory`` (block style, as
    ``kubectl get -o yaml`` writes it), ready for ``kubeproof place``."""
    slug = instance.name.replace("/", "-").replace(" ", "-")
    path = Path(directory) / f"placement-{slug}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_objects(instance.objects), encoding="utf-8")
    return path
