"""What plugins without arguments or without a PreFilter share.

>>> from kubeproof.model.scheduler.plugins.node_name import NodeName
>>> NodeName.from_args({}) == NodeName(), NodeName().pre_filter(None, None).status.is_success
(True, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeproof.model.errors import KubeproofError
from kubeproof.model.scheduler.framework import PreResult

__all__ = ["NoArgs", "NoPreFilter", "no_args"]


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
