"""The two middle order statistics of each row of a float matrix (its median's ingredients), rows
in parallel: numpy's ``partition`` selects in linear time but one row after another, and holds the
GIL; here each thread takes rows (numba ``prange``)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True, nogil=True)
def row_middles(a, hi):
    """Per row of ``a`` [n, K]: the order statistics ``hi - 1`` and ``hi`` (0-based, ``hi >= 1``);
    for an odd K with ``hi = K // 2`` the second is the median, for an even K the two middle values."""
    n = a.shape[0]
    out = np.empty((n, 2), a.dtype)
    for r in prange(n):
        p = np.partition(a[r].copy(), hi)
        out[r, 1] = p[hi]
        out[r, 0] = p[:hi].max()
    return out
