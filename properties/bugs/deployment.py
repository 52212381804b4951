"""Bug catalogue entries: deployment."""

from __future__ import annotations

from kubeproof.properties.bugs import Bug

__all__ = ["BUGS"]

BUGS: tuple[Bug, ...] = ()
