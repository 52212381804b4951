"""The bug catalogue: known Kubernetes controller bugs, each found again by ``kubeproof check``.

An entry (:class:`Bug`) names the upstream issue, the component behaviour that causes it (a
switch on a built-in component restoring the code path as it was before upstream's fix, with
every later safeguard that would mask it also off; or nothing where the behaviour is still
upstream's today), the suite that exhibits it (scenario, faults, properties, budget) and the
property it violates. ``fixed`` is the same suite without the switch, which must pass; it is
``None`` where upstream still behaves so.

Entries live in one module per component area (replicaset, scheduler, deployment, informer,
leader, still_upstream, services); :data:`BUGS` gathers them in that order.

>>> all(b.id == b.buggy.name for b in BUGS)
True
"""

from __future__ import annotations

from dataclasses import dataclass

from kubeproof.model.errors import KubeproofError
from kubeproof.properties.core import Suite

__all__ = ["BUGS", "Bug", "UnknownBug", "bug"]


@dataclass(frozen=True, slots=True)
class Bug:
    """One catalogue entry.

    ``upstream``: issue references as ``kubernetes/kubernetes#8138``; ``switch``: what the
    buggy component does differently, in one sentence naming the switch (``ReplicaSetController(
    expectations=False)``), or "" when the behaviour is upstream's today; ``story``: the upstream
    story in two sentences; ``fix``: what upstream changed (or that it has not); ``property``: the
    name of the property the buggy suite violates (one of ``buggy.properties``); ``buggy``: the
    suite named after the bug's id; ``fixed``: the same suite with the switch off."""

    id: str
    title: str
    upstream: tuple[str, ...]
    switch: str
    story: str
    fix: str
    property: str
    buggy: Suite
    fixed: Suite | None


class UnknownBug(KubeproofError):
    """A bug id that is not in the catalogue."""


def _gather() -> tuple[Bug, ...]:
    from kubeproof.properties.bugs import (  # entries import Bug from here
        deployment,
        informer,
        leader,
        replicaset,
        scheduler,
        services,
        still_upstream,
    )

    modules = (replicaset, scheduler, deployment, informer, leader, still_upstream, services)
    return tuple(b for m in modules for b in m.BUGS)


BUGS: tuple[Bug, ...] = _gather()


def bug(bug_id: str) -> Bug:
    """The catalogue entry with this id."""
    for b in BUGS:
        if b.id == bug_id:
            return b
    raise UnknownBug(f"unknown bug {bug_id!r} (known: {', '.join(b.id for b in BUGS)})")
