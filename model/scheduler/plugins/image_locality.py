"""ImageLocality: prefer nodes that already hold the pod's images, weighted by size and by how
widely each image has spread across the cluster.

For every init container and container whose image (``:latest`` added when it has no tag) a node
lists in ``status.images``, the node earns ``size * nodesWithImage / allNodes``; the sum, clamped
to [23 MiB, 1000 MiB * containers], is scaled to [0, 100]. No NormalizeScore.

upstream: pkg/scheduler/framework/plugins/imagelocality/image_locality.go; image states from
pkg/scheduler/backend/cache/snapshot.go (createImageExistenceMap, getNodeImageStates).

>>> from kubeproof.model.objects import Container, ContainerImage, Node, NodeStatus, ObjectMeta
>>> from kubeproof.model.objects import Pod, PodSpec
>>> from kubeproof.model.scheduler.framework import NodeInfo, Snapshot
>>> images = NodeStatus(images=(ContainerImage(("app:latest",), 300 * MB),))
>>> n1, n2 = Node(ObjectMeta(name="n1"), status=images), Node(ObjectMeta(name="n2"))
>>> nodes = (NodeInfo(n1), NodeInfo(n2))
>>> pod = Pod(spec=PodSpec(containers=(Container("app", image="app"),)))
>>> plugin, snapshot = ImageLocality(), Snapshot(nodes)
>>> state = plugin.pre_score(pod, snapshot, snapshot.nodes).state
>>> [plugin.score(state, pod, info) for info in snapshot.nodes]
[12, 0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, ClassVar

from kubeproof.model.logic import any_of, count_if, div, is_symbolic, ite, sum_of
from kubeproof.model.objects import Node, Pod
from kubeproof.model.scheduler.framework import (
    MAX_NODE_SCORE,
    FeasibleNodes,
    NodeInfo,
    PreResult,
    Snapshot,
)
from kubeproof.model.scheduler.plugins.base import NoArgs, NormalizedByValue

__all__ = ["ImageLocality", "normalized_image_name"]

# upstream: image_locality.go mb, minThreshold, maxContainerThreshold
MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB


def normalized_image_name(name: Any) -> Any:
    """The name with ``:latest`` appended when no ``:`` follows the last ``/`` (upstream
    normalizedImageName)."""
    if not is_symbolic(name):
        return name if name.rfind(":") > name.rfind("/") else name + ":latest"
    import z3

    # A tag (or digest) is present iff some ':' has no '/' after it.
    any_char = z3.AllChar(z3.ReSort(z3.StringSort()))
    not_slash = z3.Diff(any_char, z3.Re("/"))
    tagged = z3.Concat(z3.Star(any_char), z3.Re(":"), z3.Star(not_slash))
    return z3.If(z3.InRe(name, tagged), name, z3.Concat(name, z3.StringVal(":latest")))


def _has_image(node: Node, name: Any) -> Any:
    return any_of(n == name for image in node.status.images for n in image.names)


def _image_size(node: Node, name: Any) -> Any:
    # upstream: getNodeImageStates: a later entry listing the same name wins (a map write)
    size = 0
    for image in node.status.images:
        size = ite(any_of(n == name for n in image.names), image.size_bytes, size)
    return size


def _scaled(size: Any, num_nodes: Any, total: int) -> Any:
    # upstream: scaledImageScore: int64(float64(size) * (float64(numNodes) / float64(total))).
    # Concretely the same float64 steps; symbolically the exact size * numNodes / total, which
    # can be 1 byte above the float result where the product rounds down across an integer.
    if not (is_symbolic(size) or is_symbolic(num_nodes)):
        return int(float(size) * (float(num_nodes) / float(total)))
    return div(size * num_nodes, total)


def _nodes_per_image(nodes: tuple[Node, ...]) -> dict[str, int] | None:
    """How many nodes list each image name; ``None`` when some name is symbolic."""
    counts: dict[str, int] = {}
    for node in nodes:
        if not node.status.images:
            continue
        names = {name for image in node.status.images for name in image.names}
        if any(is_symbolic(name) for name in names):
            return None
        for name in names:
            counts[name] = counts.get(name, 0) + 1
    return counts


def _images_listed(info: NodeInfo) -> dict[Any, int]:
    """``{name: 1}`` for each image name the node lists; ``{None: 1}`` when one is symbolic."""
    names = {name for image in info.node.status.images for name in image.names}
    if any(is_symbolic(name) for name in names):
        return {None: 1}
    return dict.fromkeys(names, 1)


@dataclass(frozen=True, slots=True)
class _Spread:
    """Every node of the snapshot, and (concrete names only) the nodes per image name."""

    nodes: tuple[Node, ...]
    counts: dict[str, int] | None

    def holding(self, name: Any) -> Any:
        """How many nodes list the image ``name`` (upstream: len(imageStates[name].nodes))."""
        if self.counts is not None and not is_symbolic(name):
            return self.counts.get(name, 0)
        return count_if(_has_image(n, name) for n in self.nodes)


@dataclass(frozen=True, slots=True)
class ImageLocality(NoArgs, NormalizedByValue):
    """Score only; no args."""

    name: ClassVar[str] = "ImageLocality"

    def pre_score(self, pod: Pod, snapshot: Snapshot, feasible: Sequence[NodeInfo]) -> PreResult:
        # Upstream has no PreScore; the state is every node of the snapshot (not only the
        # feasible ones), which numNodes and totalNumNodes count, and, where the names are
        # concrete, how many nodes list each image (upstream: snapshot.go createImageExistenceMap),
        # from the snapshot's node sum when the incremental cycle asks (FeasibleNodes).
        nodes = tuple(map(attrgetter("node"), snapshot.nodes))
        if not isinstance(feasible, FeasibleNodes):
            return PreResult(state=_Spread(nodes, _nodes_per_image(nodes)))
        listed = snapshot.node_sum(_images_listed)
        return PreResult(state=_Spread(nodes, None if None in listed else dict(listed)))

    def score(self, state: Any, pod: Pod, node_info: NodeInfo) -> Any:
        # upstream: Score: sumImageScores then calculatePriority
        spread = state if state is not None else _Spread((node_info.node,), None)
        containers = pod.spec.init_containers + pod.spec.containers
        node = node_info.node
        total = sum_of(
            ite(
                _has_image(node, name),
                _scaled(_image_size(node, name), spread.holding(name), len(spread.nodes)),
                0,
            )
            for name in (normalized_image_name(c.image) for c in containers)
        )
        max_threshold = MAX_CONTAINER_THRESHOLD * len(containers)
        clamped = ite(
            total < MIN_THRESHOLD, MIN_THRESHOLD, ite(total > max_threshold, max_threshold, total)
        )
        return div(MAX_NODE_SCORE * (clamped - MIN_THRESHOLD), max_threshold - MIN_THRESHOLD)

    def normalize(self, state: Any, pod: Pod, scores: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(scores)  # upstream: no ScoreExtensions

    def node_signature_key(self, state: Any, pod: Pod) -> Any:
        return self.name

    def node_signature(self, key: Any, node_info: NodeInfo) -> Any:
        return node_info.node.status.images
