"""The per-token activation quantizer of the recipes on float32 rows: each row's median and MAD
(as ``torch.quantile`` takes them) by numpy's SIMD selection, rows split over the usable cores
(``np.partition`` releases the GIL; numba's own is several times slower), then one compiled pass
per row (numba ``prange``) for the salient mask, the normal step, the salient entries' power-of-two
shifts and the clamped codes. Written by hand because in torch the same rule is a dozen
whole-tensor passes with two sorts, most of an evaluation's time beside the model's own matmuls.

The arithmetic is float32 step for step (the median of an even row ``hi - (hi - lo) * 0.5``, as
``torch.lerp``; ``param * MAD``, ``clip * max / qmax`` and ``x / scale`` rounded to float32;
round half to even), so the codes equal the trace quantizer's (:mod:`neurosim.trace.quantize`)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numpy as np
from numba import njit, prange

from neurosim.cores import usable_cores

#: Rows per thread below which the medians stay on the calling thread.
MIN_ROWS_PER_THREAD = 64


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(usable_cores(), thread_name_prefix="neurosim-median")


def _medians_serial(a: np.ndarray) -> np.ndarray:
    hi = a.shape[1] // 2
    p = np.partition(a, hi, axis=1)
    upper = p[:, hi]
    if a.shape[1] % 2:
        return upper
    lower = p[:, :hi].max(axis=1)
    return upper - (upper - lower) * np.float32(0.5)


def row_medians(a: np.ndarray) -> np.ndarray:
    """``torch.quantile(a, 0.5, dim=1)`` of a float32 matrix [n, K], bit for bit (float32 [n])."""
    chunks = min(usable_cores(), max(1, a.shape[0] // MIN_ROWS_PER_THREAD))
    if chunks == 1:
        return _medians_serial(a)
    bounds = np.linspace(0, a.shape[0], chunks + 1).astype(int)
    parts = (a[b:e] for b, e in zip(bounds[:-1], bounds[1:], strict=True))
    return np.concatenate(list(_pool().map(_medians_serial, parts)))


@njit(cache=True, nogil=True)
def _salient(d, c, strict):
    return d > c if strict else d >= c


@njit(cache=True, parallel=True, nogil=True)
def _codes(x, dev, cut, strict, act_clip, normal_max, top, shift_max):
    """Codes and shifts (float32 [n, K], integers), scales (float32 [n]) and the values they stand
    for (``code * 2^shift * scale``, float32 [n, K]) of ``x``, and per row the sum of |code| and
    the codes beyond ``normal_max`` (int64 [n]); an entry is salient when its ``dev`` exceeds its
    row's ``cut`` (``strict``) or reaches it."""
    n, K = x.shape
    codes = np.empty((n, K), np.float32)
    shifts = np.zeros((n, K), np.float32)
    values = np.empty((n, K), np.float32)
    scales = np.empty(n, np.float32)
    spikes = np.zeros(n, np.int64)
    beyond = np.zeros(n, np.int64)
    qn, qt = np.float32(normal_max), np.float32(top)
    for r in prange(n):
        normal_abs = np.float32(0.0)
        for j in range(K):
            if not _salient(dev[r, j], cut[r], strict) and abs(x[r, j]) > normal_abs:
                normal_abs = abs(x[r, j])
        s = act_clip * normal_abs / qn
        if not s > 0:
            s = np.float32(1.0)
        scales[r] = s
        for j in range(K):
            v = x[r, j] / s
            lim, step, sh = qn, np.float32(1.0), 0
            if _salient(dev[r, j], cut[r], strict):
                lim = qt
                while sh < shift_max and np.rint(abs(v) / step) > qt:
                    sh += 1
                    step *= np.float32(2.0)
            c = min(max(np.rint(v / step), -lim), lim)
            codes[r, j], shifts[r, j], values[r, j] = c, sh, c * step * s
            spikes[r] += int(abs(c))
            beyond[r] += abs(c) > qn
    return codes, scales, shifts, values, spikes, beyond


def salient_cuts(x: np.ndarray, rule: str, param: float) -> tuple[np.ndarray, np.ndarray, bool]:
    """Each entry's distance from its row's median, each row's cut and whether the cut is strict
    (the salient rule; the clip does not change it)."""
    n, K = x.shape
    k = int(-(-param * K // 1)) if rule == "ratio" else 0
    if rule == "none" or (rule == "ratio" and k <= 0):
        return np.zeros_like(x), np.full(n, np.inf, np.float32), True
    dev = np.abs(x - row_medians(x)[:, None])
    if rule == "mad":
        return dev, (np.float32(param) * row_medians(dev)).astype(np.float32), True
    return dev, np.partition(dev, K - k, axis=1)[:, K - k].astype(np.float32), False


def quantize_rows(x: np.ndarray, rule: str, param: float, act_clip: float, normal_max: int, top: int,
                  shift_max: int, cuts: tuple | None = None) -> tuple[np.ndarray, ...]:
    """Codes, scales, shifts, values and per-row statistics of the float32 rows ``x`` [n, K] (see
    :func:`_codes`; the rule: :func:`neurosim.export.recipes.quantize_act_t`); ``normal_max`` /
    ``top``: the largest normal / salient code; ``cuts``: :func:`salient_cuts` of ``x`` when known
    (several clips of one tensor share them)."""
    dev, cut, strict = cuts if cuts is not None else salient_cuts(x, rule, param)
    return _codes(x, dev, cut, strict, np.float32(act_clip), normal_max, top, shift_max)
