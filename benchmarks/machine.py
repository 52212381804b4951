"""The machine line every benchmark report quotes: CPU model, CPU count, Python version.

Benchmarks run as ``python benchmarks/NAME.py``, so this module imports as ``machine``.

>>> "CPUs, Python" in machine()
True
"""

from __future__ import annotations

import contextlib
import os
import platform

__all__ = ["machine"]


def machine() -> str:
    """``AMD EPYC ..., 2 CPUs, Python 3.11.7``: the CPU model from /proc/cpuinfo if it has one."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if "model name" in line), cpu)
    return f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
