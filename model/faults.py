"""The fault budget of a run: how many of each fault the cluster may suffer.

Kept apart from model/cluster.py so that the command line can parse ``--faults`` without
importing the whole cluster model.

>>> Faults(crash=1).crash, NO_FAULTS.timeout
(1, 0)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NO_FAULTS", "Faults"]


@dataclass(frozen=True, slots=True)
class Faults:
    """How many of each fault may happen in a run (all zero: a fault-free run)."""

    crash: int = 0
    drop_watch: int = 0
    compact: int = 0
    stale_list: int = 0
    timeout: int = 0
    node_failure: int = 0


NO_FAULTS = Faults()
