"""The per-token activation quantizer of :mod:`neurosim.trace.quantize`, compiled, code for code.

``quantize_rows`` repeats the numpy recipe row by row in float32 with the same operation order
(median of the two middle values for an even width, ``|x - median|``, the k-th largest
deviation by an exact radix selection, the step from the largest normal value, round half to even, the
smallest power-of-two shift per salient entry), so its codes, scales and shifts equal
``quantize_shifted``'s (a hypothesis test compares them). It releases the GIL, so that
generator threads run it side by side.
"""

from __future__ import annotations

import numpy as np
from numba import njit

RULES = {"none": 0, "mad": 1, "ratio": 2}


@njit(cache=True, nogil=True)
def _select(a, k, scratch):
    """The k-th smallest value of float32 ``a`` (0-based), exactly, by radix selection on
    order-preserving integer keys (11, 11 and 10 bits: a histogram pass, then only the
    candidates that share the chosen digits); ``a`` is left as it is. ``scratch``: uint32
    ``[2, len(a)]`` and int64 ``[2048]`` work arrays. Unlike a comparison quickselect its cost
    does not depend on branch prediction (about 1 ns per value here against 12)."""
    keys, cand, hist = scratch
    n = a.shape[0]
    u = a.view(np.uint32)
    for i in range(n):  # flip negatives wholly and positives' sign bit: unsigned order = float order
        b = u[i]
        keys[i] = b ^ (np.uint32(0xFFFFFFFF) if b >> np.uint32(31) else np.uint32(0x80000000))
    src, dst = keys, cand
    m = n
    prefix = np.uint32(0)
    for p in range(3):
        shift = np.uint32(21 if p == 0 else (10 if p == 1 else 0))
        width = 2048 if p < 2 else 1024
        mask = np.uint32(width - 1)
        hist[:width] = 0
        for i in range(m):
            hist[(src[i] >> shift) & mask] += 1
        below = 0
        d = 0
        while below + hist[d] <= k:
            below += hist[d]
            d += 1
        k -= below
        prefix |= np.uint32(d) << shift
        if p < 2:  # keep the candidates with this digit (written branch-free)
            kept = 0
            for i in range(m):
                v = src[i]
                dst[kept] = v
                kept += ((v >> shift) & mask) == np.uint32(d)
            m = kept
            src, dst = dst, src
    key = prefix ^ (np.uint32(0x80000000) if prefix >> np.uint32(31) else np.uint32(0xFFFFFFFF))
    out = np.empty(1, np.uint32)
    out[0] = key
    return out.view(np.float32)[0]


@njit(cache=True, nogil=True)
def _median(a, scratch):
    """np.median of a float32 vector: the middle value, or the mean of the two middle values."""
    n = a.shape[0]
    h = n // 2
    upper = _select(a, h, scratch)
    if n % 2:
        return upper
    lower = _select(a, h - 1, scratch)
    return np.float32((lower + upper) / np.float32(2.0))


@njit(cache=True, nogil=True)
def quantize_rows(x, act_bits, salient_bits, rule, param, act_clip, shift_max, codes, scales, shifts):
    """Quantize the rows of ``x`` (float32 [M, K]) into ``codes`` (int8), ``scales`` (float32 [M])
    and ``shifts`` (int8 [M, K]); ``rule`` is a :data:`RULES` value."""
    M, K = x.shape
    qa = (1 << (act_bits - 1)) - 1
    top = (1 << (max(act_bits, salient_bits) - 1)) - 1
    salient_on = salient_bits > act_bits and rule != 0
    k_ratio = int(np.ceil(param * K)) if rule == 2 else 0
    pow2 = np.empty(shift_max + 1, np.float32)
    for s in range(shift_max + 1):
        pow2[s] = np.float32(2.0 ** s)
    sal = np.zeros(K, np.bool_)
    dev = np.empty(K, np.float32)
    scratch = (np.empty(K, np.uint32), np.empty(K, np.uint32), np.zeros(2048, np.int64))
    for t in range(M):
        row = x[t]
        sal[:] = False
        if salient_on:
            med = _median(row, scratch)
            for i in range(K):
                dev[i] = abs(row[i] - med)
            if rule == 1:
                thr = np.float32(param) * _median(dev, scratch)
                for i in range(K):
                    sal[i] = dev[i] > thr
            elif k_ratio > 0:
                cut = _select(dev, K - k_ratio, scratch)
                for i in range(K):
                    sal[i] = dev[i] >= cut
        normal_abs = np.float32(0.0)
        for i in range(K):
            if not sal[i]:
                normal_abs = max(normal_abs, abs(row[i]))
        scale = np.float32(np.float32(act_clip) * normal_abs) / np.float32(qa)
        if not scale > 0:
            scale = np.float32(1.0)
        scales[t] = scale
        for i in range(K):
            v = row[i] / scale
            s = 0
            if sal[i]:
                while s < shift_max and np.rint(abs(v) / pow2[s]) > top:
                    s += 1
                q = np.rint(v / pow2[s])
                lim = top
            else:
                q = np.rint(v)
                lim = qa
            codes[t, i] = np.int8(min(max(q, -lim), lim))
            shifts[t, i] = s


@njit(cache=True, nogil=True)
def _icdf(r, lin, lin_lo, lin_inv_step, tail, tail_lo, tail_inv_step):
    """Inverse CDF of a symmetric distribution at ``r`` in [0, 1), from the lower half's tables:
    ``lin`` on a uniform grid of u in [lin_lo, 0.5], ``tail`` on a grid of log2(u) below it
    (grid positions by multiplying with the inverse steps: a division would cost three times
    the rest)."""
    u = r if r < 0.5 else 1.0 - r
    if u >= lin_lo:
        f = (u - lin_lo) * lin_inv_step
        i = min(int(f), lin.shape[0] - 2)
        v = lin[i] + (f - i) * (lin[i + 1] - lin[i])
    else:
        f = (np.log2(max(u, 1e-300)) - tail_lo) * tail_inv_step
        f = max(f, 0.0)
        i = min(int(f), tail.shape[0] - 2)
        v = tail[i] + (f - i) * (tail[i + 1] - tail[i])
    return v if r < 0.5 else -v


@njit(cache=True, nogil=True)
def _splitmix64(x):
    """(next state, output) of SplitMix64 (Steele, Lea and Flood 2014), to seed xoshiro."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    z = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x, z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def draw_row(state, uniform, gain, scale, lin, lin_lo, lin_inv_step, tail, tail_lo, tail_inv_step, out):
    """One row: ``uniform`` from xoshiro256+ (Blackman and Vigna 2018; ``state``: its four
    words, returned advanced), then ``out[k] = float32(icdf(uniform[k])) * gain[k] * scale``:
    the table's linear part for every value (an inline tail would have its log2 evaluated for
    all of them), then the rare tail values (u < lin_lo) by :func:`_icdf`."""
    s0, s1, s2, s3 = state
    K = out.shape[0]
    for k in range(K):
        r = s0 + s3  # the top 53 bits make a uniform double in [0, 1)
        b = s1 << np.uint64(17)
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= b
        s3 = (s3 << np.uint64(45)) | (s3 >> np.uint64(19))
        uniform[k] = np.float64(r >> np.uint64(11)) * (1.0 / 9007199254740992.0)
    for k in range(K):
        r = uniform[k]
        u = r if r < 0.5 else 1.0 - r
        f = max((u - lin_lo) * lin_inv_step, 0.0)
        i = min(int(f), lin.shape[0] - 2)
        v = lin[i] + (f - i) * (lin[i + 1] - lin[i])
        out[k] = np.float32(v if r < 0.5 else -v) * gain[k] * scale
    for k in range(K):
        r = uniform[k]
        if min(r, 1.0 - r) < lin_lo:
            out[k] = np.float32(_icdf(r, lin, lin_lo, lin_inv_step, tail, tail_lo, tail_inv_step)) * gain[k] * scale
    return s0, s1, s2, s3


@njit(cache=True, nogil=True)
def synth_rows(seed, gain, token_scale, lin, lin_lo, lin_inv_step, tail, tail_lo, tail_inv_step,
               act_bits, salient_bits, rule, param, act_clip, shift_max, codes, scales, shifts):
    """Draw ``x[t, k] = token_scale[t] * gain[k] * T`` (T by inverse CDF of uniforms from
    :func:`draw_row`'s generator, seeded through SplitMix64 with ``seed``) block by block and
    quantize it with :func:`quantize_rows`."""
    x, s0 = _splitmix64(np.uint64(seed))
    x, s1 = _splitmix64(x)
    x, s2 = _splitmix64(x)
    x, s3 = _splitmix64(x)
    state = (s0, s1, s2, s3)
    M, K = codes.shape
    rows = 256
    block = np.empty((rows, K), np.float32)
    uniform = np.empty(K, np.float64)
    for t0 in range(0, M, rows):
        n = min(rows, M - t0)
        for t in range(n):
            state = draw_row(state, uniform, gain, token_scale[t0 + t], lin, lin_lo, lin_inv_step, tail, tail_lo,
                             tail_inv_step, block[t])
        quantize_rows(block[:n], act_bits, salient_bits, rule, param, act_clip, shift_max,
                      codes[t0:t0 + n], scales[t0:t0 + n], shifts[t0:t0 + n])
