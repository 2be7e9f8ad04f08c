"""Functional models: what the arrays actually compute, integer for integer.

- :func:`if_accumulate`: the IF array's membranes, spike by spike (``count``: |q| signed adds of
  ``w[i, j] << s[t, i]``, the weight shifted by the entry's power-of-two step; ``bitplane``: per
  bit plane, MSB first, the partial sum is doubled and the plane's spikes added), in a
  ``membrane_bits`` two's-complement register that wraps on overflow — so a too-narrow membrane
  shows up as a mismatch against the integer GEMM.
- :func:`mac_digit_gemm`: the MAC array's result when codes wider than its operands are split
  into signed digits and each digit plane is a separate pass.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def _wrap(v, bits):
    half = np.int64(1) << (bits - 1)
    return ((v + half) % (half * 2)) - half


@njit(cache=True)
def _add_row(v, w_row, sign, shift, lim, membrane_bits):
    """v[j] += sign * (w_row[j] << shift) for every column, wrapping each membrane that leaves
    its register; returns the overflow events."""
    overflows = 0
    for j in range(v.shape[0]):
        x = v[j] + sign * (np.int64(w_row[j]) << shift)
        if x > lim or x < -lim - 1:
            overflows += 1
            x = _wrap(x, membrane_bits)
        v[j] = x
    return overflows


@njit(cache=True, parallel=True)
def if_accumulate(codes, shifts, weights, bitplane, membrane_bits):
    """Membrane potentials ``[M, N]`` after all spikes, and the number of overflow events
    (``shifts`` [M, K]: each entry's power-of-two step, zeros for none). Each membrane sees its
    adds in spike order (inputs in order, a code's spikes one after another); the columns of a
    spike are updated together, which does not change any membrane's sequence. Tokens are
    independent and run on every core."""
    M, K = codes.shape
    N = weights.shape[1]
    out = np.zeros((M, N), dtype=np.int64)
    token_overflows = np.zeros(M, dtype=np.int64)
    lim = (np.int64(1) << (membrane_bits - 1)) - 1
    for t in prange(M):
        v = np.zeros(N, dtype=np.int64)
        overflows = 0
        if not bitplane:
            for i in range(K):
                q = np.int64(codes[t, i])
                if q == 0:
                    continue
                sign = np.int64(1) if q > 0 else np.int64(-1)
                for _ in range(abs(q)):
                    overflows += _add_row(v, weights[i], sign, np.int64(shifts[t, i]), lim, membrane_bits)
        else:
            for b in range(7, -1, -1):
                for j in range(N):
                    x = v[j] * 2
                    if x > lim or x < -lim - 1:
                        overflows += 1
                        x = _wrap(x, membrane_bits)
                    v[j] = x
                for i in range(K):
                    q = np.int64(codes[t, i])
                    if (abs(q) >> b) & 1:
                        overflows += _add_row(v, weights[i], np.int64(1) if q > 0 else np.int64(-1),
                                              np.int64(shifts[t, i]), lim, membrane_bits)
        out[t] = v
        token_overflows[t] = overflows
    return out, token_overflows.sum()


@njit(cache=True, nogil=True)
def rows_matmul(a, b, j0, j1, out, acc):
    """``out[:, j0:j1] = a @ b[:, j0:j1]`` for a few rows ``a`` [m, K] and integer ``b`` [K, N],
    in the integer type of ``a`` and the scratch ``acc`` ([m, block]; int32 where the caller
    knows the sums fit, which doubles the lanes). Column blocks keep the accumulators in cache
    while ``b`` streams through once."""
    m, K = a.shape
    blk = acc.shape[1]
    for c0 in range(j0, j1, blk):
        c1 = min(j1, c0 + blk)
        acc[:, :] = 0
        for i in range(K):
            w = b[i, c0:c1]
            for t in range(m):
                x = a[t, i]
                if x != 0:
                    r = acc[t]
                    for j in range(c1 - c0):
                        r[j] += x * w[j]
        for t in range(m):
            for j in range(c1 - c0):
                out[t, c0 + j] = acc[t, j]


#: Up to this many rows, :func:`exact_matmul` runs integer code (converting the weights for BLAS
#: costs about as much as the product; beyond, BLAS is faster).
FEW_ROWS = 32


def exact_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer ``a @ b`` (int64): in integers for a few rows of ``a``, else through floating-point
    BLAS, exact while every partial sum stays below the float's integer range (checked): float32
    below 2^24 (int8 codes and 4-bit weights up to K = 18,000), float64 below 2^53, int64 beyond."""
    bound = a.shape[1] * max(1, int(np.abs(a).max(initial=0))) * max(1, int(np.abs(b).max(initial=0)))
    if a.shape[0] <= FEW_ROWS and bound < 1 << 62 and b.dtype.itemsize <= 2:
        return _few_rows(a, b, np.int32 if bound < 1 << 31 else np.int64)
    if bound >= 1 << 53:
        return a.astype(np.int64) @ b.astype(np.int64)
    dtype = np.float32 if bound < 1 << 24 else np.float64
    return (a.astype(dtype) @ b.astype(dtype)).astype(np.int64)


def _few_rows(a: np.ndarray, b: np.ndarray, dtype) -> np.ndarray:
    """:func:`rows_matmul` over every column, in ``dtype``."""
    a = np.ascontiguousarray(a, dtype=dtype)
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.int64)
    rows_matmul(a, np.ascontiguousarray(b), 0, b.shape[1], out, np.empty((a.shape[0], 1024), dtype))
    return out


def operand_digits(codes: np.ndarray, operand_bits: int) -> list[np.ndarray]:
    """Two's-complement digits of ``operand_bits`` each, lowest first: unsigned lower digits, a
    signed top digit, as few as hold every code (one digit, the code itself, when it fits)."""
    q = codes.astype(np.int64)
    n = 1
    while q.size and (q.min() < -(1 << (n * operand_bits - 1)) or q.max() > (1 << (n * operand_bits - 1)) - 1):
        n += 1
    digits = [(q >> (operand_bits * i)) & ((1 << operand_bits) - 1) for i in range(n - 1)]
    top = q >> (operand_bits * (n - 1))
    assert not q.size or -(1 << (operand_bits - 1)) <= top.min() <= top.max() < 1 << (operand_bits - 1)
    return [*digits, top]


def mac_digit_gemm(codes: np.ndarray, weights: np.ndarray, operand_bits: int,
                   outlier_max: int | None = None, shifts: np.ndarray | None = None) -> np.ndarray:
    """Integer GEMM as the MAC array computes it: one pass per digit plane, recombined by shifts.

    With ``outlier_max`` (the outlier_path class), codes above it in magnitude are zero in the
    array's dense operands and are multiplied entry by entry on the side unit instead, whose
    per-token partial sums are added to the array's result. ``shifts`` [M, K]: each product is
    shifted by its entry's power-of-two step before it is accumulated.
    """
    q = codes.astype(np.int64)
    s = np.zeros(q.shape, dtype=np.int64) if shifts is None else shifts.astype(np.int64)
    side = None
    if outlier_max is not None:
        salient = np.abs(q) > outlier_max
        side = np.zeros((q.shape[0], weights.shape[1]), dtype=np.int64)
        for t, k in zip(*np.nonzero(salient), strict=True):
            side[t] += (q[t, k] * weights[k].astype(np.int64)) << s[t, k]
        q = np.where(salient, 0, q)
    # the digit passes as one GEMM over the stacked digit planes (the weights converted once)
    planes = operand_digits(q, operand_bits)
    passes = exact_matmul(np.concatenate([d << s for d in planes]), weights).reshape(len(planes), q.shape[0], -1)
    acc = np.zeros((q.shape[0], weights.shape[1]), dtype=np.int64)
    for p in range(len(planes)):
        acc += passes[p] << (operand_bits * p)
    return acc if side is None else acc + side


def fire(acc: np.ndarray, act_scale: np.ndarray, weight_scale: np.ndarray, out_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """IF firing with folded thresholds vs. the requantized reference.

    Returns ``(fired, reference)`` output codes ``[M, N]``. The output scale is per token,
    ``s_out[t] = max_j |y[t, j]| / (2^(out_bits-1) - 1)`` with ``y = s_in * s_w * acc``. The IF
    neuron starts at half a threshold ``theta = s_out / (s_in * s_w)`` and fires once per
    threshold crossed (soft reset), so it rounds like the reference; they can differ by float
    rounding at exact ties.
    """
    qmax = (1 << (out_bits - 1)) - 1
    s_in = act_scale.astype(np.float64)[:, None]
    s_w = weight_scale.astype(np.float64)[None, :]
    y = s_in * s_w * acc
    s_out = np.abs(y).max(axis=1, keepdims=True) / qmax
    s_out = np.where(s_out > 0, s_out, 1.0)
    reference = np.clip(np.rint(y / s_out), -qmax, qmax).astype(np.int64)
    theta = s_out / (s_in * s_w)
    fired = np.sign(acc) * np.floor((np.abs(acc) + theta / 2) / theta)
    return np.clip(fired, -qmax, qmax).astype(np.int64), reference
