"""MAC-array precision passes from the real codes.

A MAC array with ``act_bits``-wide signed operands computes wider (salient) codes by digit
decomposition: ``q = d0 + b d1 + b^2 d2 ...`` with base ``b = 2^(act_bits-1)`` and digits
``|d| <= b - 1``, one array pass per digit. A fold needs as many passes as its widest code.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def digits_needed(a: int, digit_max: int) -> int:
    """Signed base-(digit_max+1) digits needed to represent magnitude ``a`` (1 for a == 0)."""
    n = 1
    cap = digit_max
    while a > cap:
        n += 1
        cap = cap * (digit_max + 1) + digit_max
    return n


@njit(cache=True)
def row_group_passes(codes, rows, digit_max):
    """Passes per group of ``rows`` consecutive tokens (output-stationary row folds)."""
    M, K = codes.shape
    ng = (M + rows - 1) // rows
    out = np.ones(ng, dtype=np.int64)
    for g in range(ng):
        amax = 0
        for t in range(g * rows, min(M, (g + 1) * rows)):
            for i in range(K):
                a = abs(np.int64(codes[t, i]))
                if a > amax:
                    amax = a
        out[g] = digits_needed(amax, digit_max)
    return out


@njit(cache=True)
def col_group_passes(codes, cols, digit_max):
    """Passes per group of ``cols`` consecutive input channels (weight-stationary K folds)."""
    M, K = codes.shape
    ng = (K + cols - 1) // cols
    amax = np.zeros(ng, dtype=np.int64)
    for t in range(M):
        for i in range(K):
            a = abs(np.int64(codes[t, i]))
            g = i // cols
            if a > amax[g]:
                amax[g] = a
    out = np.ones(ng, dtype=np.int64)
    for g in range(ng):
        out[g] = digits_needed(amax[g], digit_max)
    return out
