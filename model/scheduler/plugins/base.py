"""What plugins without arguments, without a PreFilter, or normalizing by value share.

>>> from kubeproof.model.scheduler.plugins.node_name import NodeName
>>> NodeName.from_args({}) == NodeName(), NodeName().pre_filter(None, None).status.is_success
(True, True)
>>> from kubeproof.model.scheduler.plugins.taint_toleration import TaintToleration
>>> TaintToleration().normalize_classes(None, None, (None, None), (2, 1))
(0, 50)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubeproof.model.errors import KubeproofError
from kubeproof.model.scheduler.framework import PreResult

__all__ = ["NoArgs", "NoPreFilter", "NormalizedByValue", "no_args"]


def no_args(name: str, args: Mapping[str, Any]) -> None:
    """Reject pluginConfig args for a plugin that takes none."""
    if args:
        raise KubeproofError(f"plugin {name} takes no args, got {', '.join(sorted(args))}")


class NoArgs:
    """A plugin configured by no pluginConfig args (its class names it in ``name``)."""

    __slots__ = ()

    @classmethod
    def from_args(cls, args: Mapping[str, Any]):
        no_args(cls.name, args)  # type: ignore[attr-defined]
        return cls()


class NoPreFilter:
    """A filter plugin whose upstream code has no PreFilter: every pod goes on to Filter."""

    __slots__ = ()

    def pre_filter(self, pod: Any, snapshot: Any) -> PreResult:
        return PreResult()


class NormalizedByValue:
    """A score plugin whose NormalizeScore gives a node a value that depends only on the node's
    raw score and on the set of raw scores (their maximum, their minimum), not on how many
    nodes have each: normalizing one raw score per class of nodes gives every node its value."""

    __slots__ = ()

    def normalize_classes(
        self, state: Any, pod: Any, infos: Sequence[Any], scores: Sequence[Any]
    ) -> tuple[Any, ...]:
        """``normalize`` over classes of nodes (see ``framework``): here the scores alone."""
        return self.normalize(state, pod, scores)  # type: ignore[attr-defined]
