"""The per-token activation quantizer of :mod:`neurosim.trace.quantize`, compiled, code for code,
and the value generator of synthetic traces.

``quantize_rows`` repeats the numpy recipe row by row in float32 with the same operation order
(median of the two middle values for an even width, ``|x - median|``, the k-th largest
deviation by an exact radix selection, the step from the largest normal value, round half to
even, the smallest power-of-two shift per salient entry), so its codes, scales and shifts equal
``quantize_shifted``'s (a hypothesis test compares them). ``synth_rows`` draws values by
generator ``icdf-v4`` (:func:`draw_row`) and quantizes them. Everything releases the GIL, so
that generator threads run side by side.
"""

from __future__ import annotations

import numpy as np
from numba import njit

RULES = {"none": 0, "mad": 1, "ratio": 2}


@njit(cache=True, nogil=True, inline="always")
def _key(b):
    """Order-preserving uint32 key of float32 bits ``b``: negatives flipped wholly, positives'
    sign bit set (unsigned order of keys = float order)."""
    return b ^ (np.uint32(0xFFFFFFFF) if b >> np.uint32(31) else np.uint32(0x80000000))


@njit(cache=True, nogil=True)
def _key_value(key):
    """The float32 whose :func:`_key` is ``key``."""
    out = np.empty(1, np.uint32)
    out[0] = key ^ (np.uint32(0x80000000) if key >> np.uint32(31) else np.uint32(0xFFFFFFFF))
    return out.view(np.float32)[0]


@njit(cache=True, nogil=True)
def _select(keys, m, k, cand, hist):
    """The k-th smallest (0-based) of the uint32 ``keys[:m]``, exactly, by radix selection (11,
    11 and 10 bits: a histogram pass, then only the candidates that share the chosen digits).
    ``keys`` is overwritten; ``cand``: uint32 work array as long; ``hist``: int32 ``[4, 2048]``
    (four interleaved histograms, so that runs of one digit do not wait on each other's
    increments). Unlike a comparison quickselect its cost hardly depends on branch prediction: the
    candidates are kept with a branch only when few share the digit, and at most 64 are sorted."""
    src, dst = keys, cand
    prefix = np.uint32(0)
    for p in range(3):
        shift = np.uint32(21 if p == 0 else (10 if p == 1 else 0))
        width = 2048 if p < 2 else 1024
        mask = np.uint32(width - 1)
        lo, hi = mask, np.uint32(0)
        for i in range(m):  # the digits present: only their bins are cleared and scanned
            v = (src[i] >> shift) & mask
            lo = min(lo, v)
            hi = max(hi, v)
        hist[:, np.int64(lo):np.int64(hi) + 1] = 0
        m4 = m - m % 4
        for i in range(0, m4, 4):
            hist[0, (src[i] >> shift) & mask] += 1
            hist[1, (src[i + 1] >> shift) & mask] += 1
            hist[2, (src[i + 2] >> shift) & mask] += 1
            hist[3, (src[i + 3] >> shift) & mask] += 1
        for i in range(m4, m):
            hist[0, (src[i] >> shift) & mask] += 1
        below = 0
        d = np.int64(lo)
        while True:
            c = hist[0, d] + hist[1, d] + hist[2, d] + hist[3, d]
            if below + c > k:
                break
            below += c
            d += 1
        k -= below
        prefix |= np.uint32(d) << shift
        if p < 2:  # keep the candidates with this digit
            kept = 0
            if 8 * c < m:  # few: a branch that is rarely taken is cheaper than a store per key
                for i in range(m):
                    v = src[i]
                    if ((v >> shift) & mask) == np.uint32(d):
                        dst[kept] = v
                        kept += 1
            else:  # many: branch-free
                for i in range(m):
                    v = src[i]
                    dst[kept] = v
                    kept += ((v >> shift) & mask) == np.uint32(d)
            m = kept
            src, dst = dst, src
            if m <= 64:  # few candidates left: sorting them is cheaper than clearing histograms
                return np.sort(src[:m])[k]
    return prefix


@njit(cache=True, nogil=True)
def _median(a, keys, cand, hist):
    """np.median of a float32 vector: the middle value, or the mean of the two middle values
    (the lower one from a counting pass: the largest value below the upper one when exactly
    half the values are below it, else the upper one again)."""
    n = a.shape[0]
    u = a.view(np.uint32)
    for i in range(n):
        keys[i] = _key(u[i])
    h = n // 2
    upper = _key_value(_select(keys, n, h, cand, hist))
    if n % 2:
        return upper
    below = 0
    lower = -np.inf
    for i in range(n):
        x = a[i]
        lt = x < upper
        below += lt
        lower = max(lower, x if lt else -np.inf)
    if below < h:
        lower = upper
    return np.float32((np.float32(lower) + upper) / np.float32(2.0))


@njit(cache=True, nogil=True)
def quantize_rows(x, act_bits, salient_bits, rule, param, act_clip, shift_max, codes, scales, shifts):
    """Quantize the rows of ``x`` (float32 [M, K]) into ``codes`` (int8), ``scales`` (float32 [M])
    and ``shifts`` (int8 [M, K], zero-filled by the caller: only salient entries' shifts are
    written, none when ``shift_max`` is 0, so an unused one stays untouched memory); ``rule`` is a
    :data:`RULES` value."""
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
    dev_keys = dev.view(np.uint32)  # |x - median| >= 0: its bits order like its values
    keys, cand = np.empty(K, np.uint32), np.empty(K, np.uint32)
    hist = np.zeros((4, 2048), np.int32)
    for t in range(M):
        row = x[t]
        any_sal = False
        if salient_on and (rule == 1 or k_ratio > 0):
            any_sal = True
            med = _median(row, keys, cand, hist)
            for i in range(K):
                dev[i] = abs(row[i] - med)
            if rule == 1:
                thr = np.float32(param) * _median(dev, keys, cand, hist)
                for i in range(K):
                    sal[i] = dev[i] > thr
            else:
                keys[:] = dev_keys
                cut = _select(keys, K, K - k_ratio, cand, hist)
                for i in range(K):
                    sal[i] = dev_keys[i] >= cut
        else:
            sal[:] = False
        normal_abs = np.float32(0.0)
        for i in range(K):
            normal_abs = max(normal_abs, np.float32(0.0) if sal[i] else abs(row[i]))
        scale = np.float32(np.float32(act_clip) * normal_abs) / np.float32(qa)
        if not scale > 0:
            scale = np.float32(1.0)
        scales[t] = scale
        for i in range(K):  # salient entries on the normal step, then their shifts below
            lim = np.float32(top if sal[i] else qa)
            codes[t, i] = np.int8(min(max(np.rint(row[i] / scale), -lim), lim))
        if any_sal and shift_max > 0:
            for i in range(K):
                if sal[i]:
                    v = row[i] / scale
                    s = 0
                    while s < shift_max and np.rint(abs(v) / pow2[s]) > top:
                        s += 1
                    codes[t, i] = np.int8(min(max(np.rint(v / pow2[s]), -top), top))
                    shifts[t, i] = s


#: Interleaved xoshiro256+ generators of ``icdf-v4`` (each step gives 2 x LANES uniforms).
LANES = 8
#: Points per octave of u in the inverse-CDF table of ``icdf-v4``.
OCTAVE_BITS = 8


def octave_grid() -> np.ndarray:
    """The u at which ``icdf-v4`` tabulates the inverse CDF: ``2^(e-33) (1 + j / 2^OCTAVE_BITS)``
    for octaves e = 0..31 and j = 0..2^OCTAVE_BITS - 1, then 1/2 twice (the last entry is read
    only as the right neighbour of the second last)."""
    j = np.arange(32 << OCTAVE_BITS)
    u = np.exp2((j >> OCTAVE_BITS) - 33.0) * (1 + (j & ((1 << OCTAVE_BITS) - 1)) / (1 << OCTAVE_BITS))
    return np.concatenate([u, [0.5, 0.5]])


@njit(cache=True, nogil=True)
def _splitmix64(x):
    """(next state, output) of SplitMix64 (Steele, Lea and Flood 2014), to seed xoshiro."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    z = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x, z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def seed_state(seed):
    """The ``[4, LANES]`` xoshiro256+ state of ``icdf-v4`` for ``seed``: SplitMix64's outputs
    from ``seed``, lane by lane, four words each."""
    state = np.empty((4, LANES), np.uint64)
    x = np.uint64(seed)
    for lane in range(LANES):
        for w in range(4):
            x, state[w, lane] = _splitmix64(x)
    return state


@njit(cache=True, nogil=True)
def draw_uniforms(state, out):
    """``out`` (uint32, a multiple of 2 x LANES long) from LANES interleaved xoshiro256+
    generators (Blackman and Vigna 2018; ``state`` ``[4, LANES]``, advanced in place): per step,
    the lanes' high 32 bits, then their low 32 bits."""
    s0, s1, s2, s3 = state[0].copy(), state[1].copy(), state[2].copy(), state[3].copy()
    o = out.reshape(out.shape[0] // (2 * LANES), 2 * LANES)
    for j in range(o.shape[0]):
        for lane in range(LANES):
            a0, a1, a2, a3 = s0[lane], s1[lane], s2[lane], s3[lane]
            r = a0 + a3
            b = a1 << np.uint64(17)
            a2 ^= a0
            a3 ^= a1
            a1 ^= a2
            a0 ^= a3
            a2 ^= b
            a3 = (a3 << np.uint64(45)) | (a3 >> np.uint64(19))
            s0[lane], s1[lane], s2[lane], s3[lane] = a0, a1, a2, a3
            o[j, lane] = np.uint32(r >> np.uint64(32))
            o[j, LANES + lane] = np.uint32(r & np.uint64(0xFFFFFFFF))
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3


@njit(cache=True, nogil=True)
def draw_row(state, bits, ubuf, table, gain, scale, out):
    """One row of ``icdf-v4``: ``out[k] = ±icdf(u_k) * gain[k] * scale`` (float32). The uniforms
    (``bits``, uint32, K rounded up to 2 x LANES; the rest is discarded) come from
    :func:`draw_uniforms`; bit 31 gives the sign and the other 31 bits ``u = (2 b + 1) / 2^33``
    in (0, 1/2). ``table`` holds the inverse CDF on :func:`octave_grid`: u, rounded to float32
    (``ubuf``), has its octave and grid point in its exponent and top mantissa bits and the
    fraction between two points in the rest, so one linear interpolation covers the whole range
    down to u = 2^-33, without a branch."""
    K = out.shape[0]
    draw_uniforms(state, bits)
    for k in range(K):
        ubuf[k] = np.float32(np.int64(bits[k] & np.uint32(0x7FFFFFFF)) * 2 + 1)  # u * 2^33
    ub = ubuf.view(np.uint32)
    low = np.uint32(23 - OCTAVE_BITS)
    base = np.uint32(127 << OCTAVE_BITS)
    fmask = np.uint32((1 << (23 - OCTAVE_BITS)) - 1)
    fscale = np.float32(1.0 / (1 << (23 - OCTAVE_BITS)))
    for k in range(K):
        x = ub[k]
        j = (x >> low) - base
        f = np.float32(x & fmask) * fscale
        v = table[j] + f * (table[j + 1] - table[j])
        out[k] = (-v if bits[k] >> np.uint32(31) else v) * gain[k] * scale


@njit(cache=True, nogil=True)
def synth_rows(seed, gain, token_scale, table, act_bits, salient_bits, rule, param, act_clip, shift_max, codes,
               scales, shifts):
    """Draw ``x[t, k] = token_scale[t] * gain[k] * T`` (:func:`draw_row`, generators seeded by
    :func:`seed_state` with ``seed``), 256 rows at a time, and quantize them with
    :func:`quantize_rows`."""
    state = seed_state(seed)
    M, K = codes.shape
    rows = 256
    block = np.empty((rows, K), np.float32)
    bits = np.empty(-(-K // (2 * LANES)) * 2 * LANES, np.uint32)
    ubuf = np.empty(K, np.float32)
    for t0 in range(0, M, rows):
        n = min(rows, M - t0)
        for t in range(n):
            draw_row(state, bits, ubuf, table, gain, token_scale[t0 + t], block[t])
        quantize_rows(block[:n], act_bits, salient_bits, rule, param, act_clip, shift_max,
                      codes[t0:t0 + n], scales[t0:t0 + n], shifts[t0:t0 + n])
