"""How many cores this process may use (its CPU affinity, not the machine's count): the size of
the synthetic generator's and the engine's thread pools."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """Cores this process may run on (at least 1)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
