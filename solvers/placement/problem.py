"""A placement problem: the nodes with their running pods, and the workloads to place.

``problem_from_objects`` reads objects as ``kubeproof schedule`` does: Pods with ``nodeName``
are running (they stay where they are), every other Pod and every replica of a Deployment or
ReplicaSet is pending, except pods with scheduling gates, which the scheduler does not consider
until the gates are removed (``Problem.gated``). Replicas of one workload are identical but for
their names, so a workload is one ``Template`` with a replica count: the solver counts replicas,
it does not name them.

>>> from kubeproof.model.objects import FrozenMap, Node, NodeStatus, ObjectMeta, Pod
>>> from kubeproof.model.quantity import parse_quantity
>>> node = Node(ObjectMeta(name="n1"), status=NodeStatus(
...     allocatable=FrozenMap(pods=parse_quantity("110"))))
>>> problem = problem_from_objects([node, Pod(ObjectMeta(name="p"))])
>>> [str(t.workload) for t in problem.templates], len(problem.snapshot.nodes)
(['Pod default/p'], 1)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING

from kubeproof.model.errors import KubeproofError
from kubeproof.model.objects import (
    Deployment,
    Namespace,
    Node,
    Object,
    Pod,
    ReplicaSet,
)
from kubeproof.model.scheduler.framework import NodeInfo, Snapshot
from kubeproof.model.scheduler.profile import Profile, default_profile
from kubeproof.model.scheduler.simulate import replicaset_of, spread_selectors
from kubeproof.model.workloads import pod_from_template, replica_names

if TYPE_CHECKING:
    from kubeproof.solvers.placement.analysis import Analysis

__all__ = [
    "PlacementError",
    "Problem",
    "Template",
    "Workload",
    "pod_key",
    "problem_from_objects",
]


class PlacementError(KubeproofError):
    """A placement query the input cannot answer: an unknown workload or node, a bad selector."""


def pod_key(pod: Pod) -> str:
    """``namespace/name``, as the answers name pods."""
    return f"{pod.metadata.namespace}/{pod.metadata.name}"


@dataclass(frozen=True, slots=True)
class Workload:
    """What the user wrote: a Deployment, a ReplicaSet or a Pod, and how many replicas."""

    kind: str
    namespace: str
    name: str
    replicas: int

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    @property
    def pod_spec_path(self) -> str:
        """Where the pod spec sits in the manifest."""
        return "spec" if self.kind == "Pod" else "spec.template.spec"

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


@dataclass(frozen=True)
class Template:
    """A workload's replicas: one representative pod and how many replicas.

    The replicas' names (``pod_names``) are ``names`` when given (running pods a drain moves,
    ``evicted_from`` the node of each), else made only when asked for, as the controllers would name
    them (``replicaset``); a bare Pod's copies beyond the first are named ``<pod>-<i>``.
    """

    workload: Workload
    pod: Pod
    replicaset: ReplicaSet | None = None
    names: tuple[str, ...] = ()
    evicted_from: tuple[str, ...] = ()

    @property
    def replicas(self) -> int:
        """How many replicas to place."""
        return self.workload.replicas

    @cached_property
    def pod_names(self) -> tuple[str, ...]:
        """The replicas' names (see the class docstring)."""
        count = self.workload.replicas
        if self.names:
            return self.names[:count]
        if self.replicaset is not None:
            return replica_names(self.replicaset, count)
        first = self.pod.metadata.name
        return (first, *(f"{first}-{i}" for i in range(1, count)))[:count]

    def with_replicas(self, count: int) -> Template:
        """The same workload with ``count`` replicas."""
        return replace(self, workload=replace(self.workload, replicas=count), names=())

    def pod_keys(self) -> tuple[str, ...]:
        """The replicas as ``namespace/name``."""
        namespace = self.pod.metadata.namespace
        return tuple(f"{namespace}/{name}" for name in self.pod_names)


@dataclass(frozen=True)
class Problem:
    """The nodes (with their running pods) as the scheduler sees them, the templates to place,
    and the scheduler profile whose filters decide what fits where.

    ``analysis`` is what every query needs (eligibility, capacities, node groups, the rules
    between templates); it is computed once per Problem, on first use. ``gated``: the
    workloads left out because their pods have scheduling gates.
    """

    snapshot: Snapshot
    templates: tuple[Template, ...]
    profile: Profile = field(default_factory=default_profile)
    gated: tuple[Template, ...] = ()

    @cached_property
    def analysis(self) -> Analysis:
        """The analysis (``analysis.analyse``), computed on first use."""
        from kubeproof.solvers.placement.analysis import analyse

        return analyse(self)

    @cached_property
    def pools(self) -> tuple[str, ...]:
        """Each node's pool, for explanations (``explain.pool_of``), computed on first use."""
        from kubeproof.solvers.placement.explain import pool_of

        return tuple(pool_of(i.node.metadata.labels, i.name) for i in self.snapshot.nodes)

    def with_replicas(self, template: int, count: int) -> Problem:
        """The problem with ``count`` replicas of one template; the analysis, which does not
        depend on replica counts, is carried over."""
        templates = list(self.templates)
        templates[template] = templates[template].with_replicas(count)
        changed = replace(self, templates=tuple(templates))
        for kept in ("analysis", "pools"):  # neither depends on replica counts
            if kept in self.__dict__:
                changed.__dict__[kept] = self.__dict__[kept]
        return changed

    def template_index(self, workload: str) -> int:
        """The index of the template ``namespace/name`` (or ``name`` in ``default``) names."""
        key = workload if "/" in workload else f"default/{workload}"
        for index, template in enumerate(self.templates):
            if template.workload.key == key:
                return index
        for template in self.gated:
            if template.workload.key == key:
                raise PlacementError(
                    f"{template.workload} is not pending: its pods have scheduling gates "
                    f"({template.workload.pod_spec_path}.schedulingGates), and the scheduler "
                    "does not consider them until the gates are removed"
                )
        known = ", ".join(t.workload.key for t in self.templates) or "none"
        raise PlacementError(f"no pending Deployment, ReplicaSet or Pod {key} (pending: {known})")

    def node_index(self, name: str) -> int:
        """The index of the node called ``name`` (the first, for a repeated name)."""
        index = self._node_indices.get(name)
        if index is None:
            raise PlacementError(f"no node {name!r} in the input")
        return index

    @cached_property
    def _node_indices(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for index, info in enumerate(self.snapshot.nodes):
            found.setdefault(info.name, index)
        return found


def _template(obj: Object, replicaset: ReplicaSet | None) -> Template | None:
    if isinstance(obj, Pod):
        if obj.spec.node_name:
            return None
        namespace = obj.metadata.namespace or "default"
        pod = replace(obj, metadata=replace(obj.metadata, namespace=namespace))
        return Template(Workload("Pod", namespace, pod.metadata.name, 1), pod)
    if replicaset is None:
        return None
    replicas = 1 if replicaset.spec.replicas is None else replicaset.spec.replicas
    kind = "Deployment" if isinstance(obj, Deployment) else "ReplicaSet"
    namespace = replicaset.metadata.namespace
    workload = Workload(kind, namespace, obj.metadata.name, replicas)
    return Template(workload, pod_from_template(replicaset, ""), replicaset)


def problem_from_objects(objects: Iterable[Object], profile: Profile | None = None) -> Problem:
    """The placement problem the objects describe, for the profile's scheduler (by default the
    default-scheduler's profile); objects of kinds the scheduler ignores are skipped."""
    profile = default_profile() if profile is None else profile
    objects = list(objects)
    nodes = [o for o in objects if isinstance(o, Node)]
    by_node: dict[str, list[Pod]] = {n.metadata.name: [] for n in nodes}
    for obj in objects:
        if isinstance(obj, Pod) and obj.spec.node_name in by_node:
            by_node[obj.spec.node_name].append(obj)
    infos = tuple(NodeInfo(n, tuple(by_node[n.metadata.name])) for n in nodes)
    names = {"", profile.scheduler_name}
    templates, gated, replicasets = [], [], []
    for obj in objects:
        replicaset = replicaset_of(obj)
        if replicaset is not None:
            replicasets.append(replicaset)
        template = _template(obj, replicaset)
        if template is None or template.pod.spec.scheduler_name not in names:
            continue
        # upstream: pkg/scheduler/framework/plugins/schedulinggates PreEnqueue: a pod with
        # gates never enters the active queue, so it is never filtered nor placed
        (gated if template.pod.spec.scheduling_gates else templates).append(template)
    generic = spread_selectors(objects)
    namespaces = tuple(o for o in objects if isinstance(o, Namespace))
    snapshot = Snapshot(infos, namespaces, generic + tuple(replicasets))
    return Problem(snapshot, tuple(templates), profile, tuple(gated))
