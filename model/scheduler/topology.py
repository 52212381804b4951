"""Topology domains: what InterPodAffinity and PodTopologySpread count per ``(key, value)``.

A node is in the domain ``(key, value)`` when its labels hold ``key`` with that value; a node
without the key is in no domain of that key. The counts are built concretely from the snapshot
(PreFilter, PreScore); looking a node up in them is written over ``kubeproof.model.logic``, so the
node's labels may be z3 terms and the counts may be z3 Ints. ``summed_domains`` takes the
domains of a concrete snapshot's nodes from a ``Snapshot.node_sum``, kept across assumed pods.

>>> from kubeproof.model.objects import FrozenMap, Node, ObjectMeta
>>> counts = {("zone", "a"): 2, ("zone", "b"): 0}
>>> domain_count(counts, "zone", FrozenMap(zone="a")), domain_count(counts, "zone", FrozenMap())
(2, 0)
>>> in_domain(FrozenMap(zone="b"), "zone", "b"), go_round(2.5), go_round(-2.5)
(True, 3, -3)
>>> go_round(0.49999999999999994)
0
>>> infos = [NodeInfo(Node(ObjectMeta(name=n, labels=FrozenMap(zone=n[0])))) for n in ("a1", "b1")]
>>> summed_domains(Snapshot(tuple(infos)), infos[1:], "zone", frozenset())
{'a': 0}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from kubeproof.model.logic import all_of, has_key, is_symbolic, ite, sum_of, value_at
from kubeproof.model.scheduler.framework import NodeInfo, Snapshot

__all__ = [
    "domain_count",
    "domain_of",
    "go_round",
    "in_domain",
    "is_concrete_labels",
    "summed_domains",
]


def in_domain(labels: Any, key: str, value: Any) -> Any:
    """Whether labels place a node in the domain ``(key, value)``."""
    return all_of((has_key(labels, key), value_at(labels, key) == value))


def is_concrete_labels(labels: Any) -> bool:
    """Whether ``labels`` is a plain map of plain values (not a solver's symbolic labels)."""
    return not hasattr(labels, "symbolic_has") and not any(is_symbolic(v) for v in labels.values())


def domain_count(counts: Mapping[tuple[str, Any], Any], key: str, labels: Any) -> Any:
    """The count of the node's domain for ``key`` (0 when the node lacks the key or the domain
    has no entry), as Go's ``counts[topologyPair{key, labels[key]}]`` after an ``ok`` check."""
    if is_concrete_labels(labels):
        return counts.get((key, labels[key]), 0) if key in labels else 0
    return sum_of(ite(in_domain(labels, k, v), n, 0) for (k, v), n in counts.items() if k == key)


def go_round(x: Any) -> Any:
    """Go's ``math.Round`` (half away from zero) as an int.

    For a z3 Real it is ``ToInt(x + 1/2)``, which is right for ``x >= 0`` (the only use: the
    PodTopologySpread score, a sum of non-negative terms).
    """
    if is_symbolic(x):
        import z3

        return z3.ToInt(x + z3.RealVal("1/2"))
    whole = math.trunc(x)  # x - whole is exact, so halves are seen exactly as Go sees them
    if abs(x - whole) >= 0.5:
        whole += 1 if x > 0 else -1
    return whole


def domain_of(info: NodeInfo, key: str, required: frozenset[str]) -> dict[str, int]:
    """``{the node's value at key ("" when absent): 1}``; nothing for a node that lacks one of
    the ``required`` keys (PodTopologySpread's scoring ignores it)."""
    labels = info.node.metadata.labels
    if required and not required <= set(labels):
        return {}
    return {labels.get(key, ""): 1}


def summed_domains(
    snapshot: Snapshot, excluded: Sequence[NodeInfo], key: str, required: frozenset[str]
) -> dict[str, int]:
    """``{value: 0}`` for each value of ``domain_of`` over the nodes of the snapshot that are
    not ``excluded``: the values over every node (a ``Snapshot.node_sum``), less those that
    only excluded nodes hold."""
    nodes = dict(snapshot.node_sum(domain_of, key, required))
    for info in excluded:
        for value, count in domain_of(info, key, required).items():
            nodes[value] -= count
    return {value: 0 for value, count in nodes.items() if count > 0}
