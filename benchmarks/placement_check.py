"""An independent check of a placement: every filter plugin of the default profile, pod by pod.

Each pending pod is filtered on its node with every other pod already in place (the final
state), exactly as ``kubeproof schedule`` would filter it last. Pods of one ReplicaSet on one
node are interchangeable, so one of them is checked for all. This shares no code with the
encodings in placement_naive.py beyond the manifests reader: the resources sums, anti-affinity
and topology spread are the plugins' own.

>>> from placement_gen import cluster
>>> instance = cluster(10, 30)
>>> assignment = assignment_from_counts(instance.objects, instance.witness)
>>> len(assignment), assignment_violations(instance.objects, assignment)
(30, ())
>>> assignment_violations(instance.objects, {})[0].endswith(": not placed")
True
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace

from kubeproof.model.objects import Object, Pod, object_key
from kubeproof.model.scheduler.framework import SKIP, NodeInfo, Snapshot
from kubeproof.model.scheduler.profile import Profile, default_profile
from kubeproof.model.scheduler.simulate import cluster_from_objects

__all__ = ["assignment_from_counts", "assignment_violations", "template_of"]


def template_of(pod: Pod) -> str:
    """The workload a pending pod is a replica of ("ns/replicaset"), or the pod's own key."""
    owner = pod.metadata.controller_ref()
    return f"{pod.metadata.namespace}/{owner.name}" if owner else object_key(pod)


def assignment_from_counts(
    objects: Iterable[Object], counts: Mapping[str, Mapping[str, int]]
) -> dict[str, str]:
    """Pending pod key -> node, from replicas per Deployment ("ns/name") and node."""
    free: dict[str, list[str]] = {
        workload: [node for node, n in per_node.items() for _ in range(n)]
        for workload, per_node in counts.items()
    }
    out = {}
    for pod in cluster_from_objects(objects).pending:
        owner = pod.metadata.controller_ref()
        deployment = owner.name.rsplit("-", 1)[0] if owner else pod.metadata.name
        slots = free.get(f"{pod.metadata.namespace}/{deployment}")
        if slots:
            out[object_key(pod)] = slots.pop()
    return out


def _failures(profile: Profile, pod: Pod, snapshot: Snapshot, info: NodeInfo) -> list[str]:
    out = []
    for plugin in profile.filters:
        pre = plugin.pre_filter(pod, snapshot)
        if pre.status.code == SKIP:
            continue
        if not pre.status.is_success:
            out.append(f"{plugin.name} (PreFilter): {'; '.join(pre.status.reasons)}")
        elif pre.node_names is not None and info.name not in pre.node_names:
            out.append(f"{plugin.name} (PreFilter): not among its nodes")
        else:
            status = plugin.filter(pre.state, pod, info)
            if not status.is_success:
                out.append(f"{plugin.name}: {'; '.join(status.reasons)}")
    return out


def assignment_violations(
    objects: Iterable[Object], assignment: Mapping[str, str]
) -> tuple[str, ...]:
    """Why ``assignment`` (pending pod key -> node name) is not a valid placement: a pending
    pod left out, an unknown pod or node, or a filter plugin failing for a pod on its node in
    the final state; empty when it is valid."""
    cluster = cluster_from_objects(objects)
    pending = {object_key(p): p for p in cluster.pending}
    infos = {info.name: info for info in cluster.snapshot.nodes}
    problems = [f"{key}: not placed" for key in pending if key not in assignment]
    placed: dict[str, list[Pod]] = defaultdict(list)
    for key, node in assignment.items():
        if key not in pending:
            problems.append(f"{key}: not a pending pod")
        elif node not in infos:
            problems.append(f"{key}: no node {node}")
        else:
            placed[node].append(pending[key])
    final = {
        name: replace(info, pods=info.pods + tuple(placed[name])) for name, info in infos.items()
    }
    order = list(final)
    position = {name: i for i, name in enumerate(order)}
    nodes = tuple(final.values())
    profile = default_profile()
    for name, pods in placed.items():
        checked = set()
        for pod in pods:
            if template_of(pod) in checked:
                continue
            checked.add(template_of(pod))
            info = NodeInfo(final[name].node, tuple(p for p in final[name].pods if p is not pod))
            i = position[name]
            snapshot = replace(cluster.snapshot, nodes=(*nodes[:i], info, *nodes[i + 1 :]))
            for failure in _failures(profile, pod, snapshot, info):
                problems.append(f"{object_key(pod)} on {name}: {failure}")
    return tuple(problems)
