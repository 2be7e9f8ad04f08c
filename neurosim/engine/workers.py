"""The engine's worker threads: one per core, for compiled kernels that release the GIL (the
code-block walks of an op's tiles, the pipelines of independent tile chunks). Work handed to
them is pure, so results do not depend on the thread count or on scheduling."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from neurosim.cores import usable_cores

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _forget_pool() -> None:
    """A forked child (a sweep or ``run --jobs`` worker) inherits the pool object but not its
    threads: it must start its own."""
    global _POOL, _POOL_LOCK
    _POOL, _POOL_LOCK = None, threading.Lock()  # the parent's lock may have been held at the fork


os.register_at_fork(after_in_child=_forget_pool)


def threads() -> int:
    """How many worker threads the pool has: one per core this process may use."""
    return usable_cores()


def thread_pool() -> ThreadPoolExecutor:
    """The process-wide pool (created on first use, once: threads of a run may ask at the same time)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=threads(), thread_name_prefix="neurosim-engine")
        return _POOL
