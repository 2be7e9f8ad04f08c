"""The engine's worker threads: one per core, for compiled kernels that release the GIL (the
code-block walks of an op's tiles, the pipelines of independent tile chunks). Work handed to
them is pure, so results do not depend on the thread count or on scheduling."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

_POOL: ThreadPoolExecutor | None = None


def threads() -> int:
    """How many worker threads the pool has."""
    return os.cpu_count() or 1


def thread_pool() -> ThreadPoolExecutor:
    """The process-wide pool (created on first use)."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=threads(), thread_name_prefix="neurosim-engine")
    return _POOL
