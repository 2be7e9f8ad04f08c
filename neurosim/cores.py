"""How many cores this process may use (its CPU affinity, not the machine's count): the size of
the synthetic generator's and the engine's thread pools."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """Cores this process may run on (at least 1)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


#: Worker processes per usable core a command may start (``--jobs``, ``--dask-local``): more only
#: crowd the cores (each worker simulates on all of them already) and multiply the memory.
WORKERS_PER_CORE = 4


def worker_cap() -> int:
    """The most worker processes a command may start on this machine."""
    return WORKERS_PER_CORE * usable_cores()
