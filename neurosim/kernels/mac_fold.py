"""MAC-array precision passes from the real codes.

A MAC array with ``b = act_bits``-wide operands computes wider (salient) codes by digit
decomposition in two's complement: ``q = d0 + 2^b d1 + ... + 2^(b(n-1)) d(n-1)`` with the lower
digits unsigned (``0 <= d < 2^b``, the array's unsigned operand mode) and the top digit signed,
one array pass per digit. A fold needs the fewest passes that hold its widest codes: an 8-bit
code on 4-bit operands takes 2 passes, a normal 4-bit code 1.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def passes_needed(qmin: int, qmax: int, operand_bits: int) -> int:
    """Passes of ``operand_bits``-wide digits that represent every code in [qmin, qmax]: the
    smallest n with both ends inside n x operand_bits two's complement (1 for all-zero codes)."""
    n = 1
    while qmin < -(1 << (n * operand_bits - 1)) or qmax > (1 << (n * operand_bits - 1)) - 1:
        n += 1
    return n


@njit(cache=True, nogil=True)
def row_group_passes(codes, rows, operand_bits):
    """Passes per group of ``rows`` consecutive tokens (output-stationary row folds)."""
    M, K = codes.shape
    ng = (M + rows - 1) // rows
    out = np.ones(ng, dtype=np.int64)
    for g in range(ng):
        lo = 0
        hi = 0
        for t in range(g * rows, min(M, (g + 1) * rows)):
            row = codes[t]
            for i in range(K):  # branch-free, so that it vectorises
                v = np.int32(row[i])
                lo = min(lo, v)
                hi = max(hi, v)
        out[g] = passes_needed(lo, hi, operand_bits)
    return out


@njit(cache=True, nogil=True)
def col_group_passes(codes, cols, operand_bits):
    """Passes per group of ``cols`` consecutive input channels (weight-stationary K folds)."""
    M, K = codes.shape
    ng = (K + cols - 1) // cols
    lo = np.zeros(ng, dtype=np.int64)
    hi = np.zeros(ng, dtype=np.int64)
    for t in range(M):
        row = codes[t]
        for g in range(ng):
            seg = row[g * cols:min(K, (g + 1) * cols)]
            a = 0
            b = 0
            for i in range(seg.shape[0]):
                v = np.int32(seg[i])
                a = min(a, v)
                b = max(b, v)
            lo[g] = min(lo[g], a)
            hi[g] = max(hi[g], b)
    out = np.ones(ng, dtype=np.int64)
    for g in range(ng):
        out[g] = passes_needed(lo[g], hi[g], operand_bits)
    return out
