"""The engine's worker threads: one per core, for compiled kernels that release the GIL (the
code-block walks of an op's tiles, the pipelines of independent tile chunks). Work handed to
them is pure, so results do not depend on the thread count or on scheduling."""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from neurosim.cores import usable_cores

_POOL: ThreadPoolExecutor | None = None
_PREFIX = "neurosim-engine"
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
            _POOL = ThreadPoolExecutor(max_workers=threads(), thread_name_prefix=_PREFIX)
        return _POOL


#: Rows below which a pass over a tensor is not worth handing to the worker threads.
SPLIT_ROWS = 1024


def by_rows(kernel, codes: np.ndarray, *args) -> list:
    """``kernel(rows, *args)`` on row blocks of ``codes``, one per worker thread (the kernel must
    release the GIL and look at each row alone); its answers in row order. A pass over a
    prefill's activations (16k tokens x 11k channels of int8 codes) then takes every core. On a
    worker thread it runs there whole: a worker waiting for its peers could wait for itself."""
    n = min(threads(), max(1, codes.shape[0] // SPLIT_ROWS))
    if n == 1 or threading.current_thread().name.startswith(_PREFIX):
        return [kernel(codes, *args)]
    edges = np.linspace(0, codes.shape[0], n + 1).astype(np.int64)
    return list(thread_pool().map(lambda i: kernel(codes[edges[i]:edges[i + 1]], *args), range(n)))


def after(futures: list[Future], fn, *args) -> Future:
    """``fn(*args)`` on the pool once every one of ``futures`` is done, its result (or error)
    through the future returned: no worker thread sits waiting for the others meanwhile."""
    out: Future = Future()
    left = [len(futures) or 1]
    lock = threading.Lock()

    def forward(inner: Future) -> None:
        error = inner.exception()
        if error is not None:
            out.set_exception(error)
        else:
            out.set_result(inner.result())

    def start(_=None) -> None:
        with lock:
            left[0] -= 1
            if left[0]:
                return
        if out.set_running_or_notify_cancel():  # not cancelled meanwhile
            thread_pool().submit(fn, *args).add_done_callback(forward)

    if not futures:
        start()
    for f in futures:
        f.add_done_callback(start)
    return out
