"""The per-token activation quantizer of :mod:`neurosim.trace.quantize`, compiled, code for code,
and the value generator of synthetic traces.

``quantize_rows`` repeats the numpy recipe row by row in float32 with the same operation order
(median of the two middle values for an even width, ``|x - median|``, the k-th largest
deviation, the step from the largest normal value, round half to even, the smallest
power-of-two shift per salient entry), so its codes, scales and shifts equal
``quantize_shifted``'s (a hypothesis test compares them). The median and the k-th deviation are
exact order statistics found in two passes over the row (:func:`_ranked_keys`: a histogram of
11 bits of the values' order-preserving keys gives the bin of the rank, the few values in that
bin are then sorted), the rest in two more. ``synth_rows`` draws values by generator
``icdf-v4`` (:func:`draw_row`) and quantizes them, row by row. Everything releases the GIL, so
that generator threads run side by side. Written by hand: numpy's partition takes a pass per
call and several per row, and numba's is several times slower.
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


#: A row's values are binned on 11 bits of their keys: bits 31..21 of a signed value's key, bits
#: 30..20 of a non-negative one's (its sign bit is always 0: one more bit of mantissa instead).
DIGIT_MASK = np.uint32(2047)
SIGNED_SHIFT, UNSIGNED_SHIFT = 21, 20
#: Candidates up to this many are sorted; more (a row of many equal values) are radix-selected.
SORT_MAX = 256


@njit(cache=True, nogil=True)
def _rank_bins(keys, m, shift, mask, hist, r_lo, r_hi):
    """(first digit, last digit, keys below the first, keys from the first to the last) of the
    bins of the ranks ``r_lo <= r_hi`` of ``keys[:m]`` by their digits ``(key >> shift) & mask``;
    ``hist``: int32, ``mask + 1`` long or more, zero on entry and on return. One histogram: a copy
    per lane of interleaved keys (against runs of one digit) and tracking the digits present, to
    clear and scan fewer bins, both measured slower."""
    for i in range(m):
        hist[(keys[i] >> shift) & mask] += 1
    below = 0
    d = 0
    while below + hist[d] <= r_lo:
        below += hist[d]
        d += 1
    first, through = d, below + hist[d]
    while through <= r_hi:
        d += 1
        through += hist[d]
    hist[:] = 0
    return first, d, below, through - below


@njit(cache=True, nogil=True)
def _keep(keys, m, shift, mask, first, last, count, out):
    """Copy into ``out`` the ``count`` keys of ``keys[:m]`` whose digits lie in ``first..last``."""
    span = np.uint64(last - first)
    kept = 0
    if 8 * count < m:  # few: a branch that is rarely taken is cheaper than a store per key
        for i in range(m):
            if np.uint64(np.int64((keys[i] >> shift) & mask) - first) <= span:
                out[kept] = keys[i]
                kept += 1
    else:  # many: branch-free
        for i in range(m):
            out[kept] = keys[i]
            kept += np.uint64(np.int64((keys[i] >> shift) & mask) - first) <= span


@njit(cache=True, nogil=True)
def _select(keys, m, k, work, hist):
    """The k-th smallest (0-based) of the uint32 ``keys[:m]``, exactly, by radix selection (11,
    11 and 10 bits: a histogram pass, then only the keys that share the chosen digits); ``keys``
    is overwritten, ``work``: uint32, as long; ``hist``: int32 [2048], zero on entry and return.
    Its cost hardly depends on the values (no comparison quickselect's branch mispredictions)."""
    src, dst = keys, work
    for shift, mask in ((21, DIGIT_MASK), (10, DIGIT_MASK), (0, np.uint32(1023))):
        d, _, below, count = _rank_bins(src, m, shift, mask, hist, k, k)
        _keep(src, m, shift, mask, d, d, count, dst)
        m, k = count, k - below
        src, dst = dst, src
        if m <= SORT_MAX:
            break
    return np.sort(src[:m])[k]


@njit(cache=True, nogil=True)
def _ranked_keys(a, shift, r_lo, r_hi, keys, cand, spare, hist):
    """The keys (:func:`_key`) of the ``r_lo``-th and ``r_hi``-th smallest (0-based, ``r_lo <=
    r_hi``) of the float32 vector ``a``, exactly: a histogram of the keys' digits finds the bins
    holding them and a second pass collects the keys in those bins, which are sorted (or
    radix-selected when more than :data:`SORT_MAX`). ``shift``: :data:`SIGNED_SHIFT` or, for
    non-negative values, :data:`UNSIGNED_SHIFT`; ``keys``, ``cand``, ``spare``: uint32 work
    arrays as long as ``a``; ``hist``: int32 [2048], zero on entry and on return."""
    u = a.view(np.uint32)
    n = u.shape[0]
    for i in range(n):  # the keys first: vectorized, and the histogram's loop is shorter
        keys[i] = _key(u[i])
    first, last, below, count = _rank_bins(keys, n, shift, DIGIT_MASK, hist, r_lo, r_hi)
    _keep(keys, n, shift, DIGIT_MASK, first, last, count, cand)
    if count <= SORT_MAX:
        s = cand[:count]
        s.sort()  # in place: no allocation twice a row
        return s[r_lo - below], s[r_hi - below]
    spare[:count] = cand[:count]
    k_lo = _select(spare, count, r_lo - below, keys, hist)
    return k_lo, _select(cand, count, r_hi - below, keys, hist)


@njit(cache=True, nogil=True)
def _middle(k_lo, k_hi, n):
    """np.median from the keys of a vector's two middle values (ranks ``n // 2 - 1`` and ``n //
    2``; the same one for an odd ``n``)."""
    upper = _key_value(k_hi)
    if n % 2:
        return upper
    return np.float32((np.float32(_key_value(k_lo)) + upper) / np.float32(2.0))


@njit(cache=True, nogil=True)
def _median(a, keys, cand, spare, hist):
    """np.median of a float32 vector (the mean of the two middle values for an even length)."""
    n = a.shape[0]
    k_lo, k_hi = _ranked_keys(a, SIGNED_SHIFT, n // 2 - 1 + n % 2, n // 2, keys, cand, spare, hist)
    return _middle(k_lo, k_hi, n)


@njit(cache=True, nogil=True)
def _salient_cut(row, rule, param, k_ratio, dev, keys, cand, spare, hist):
    """``dev = |row - median|`` and the smallest bits of a salient entry's ``dev``: an entry is
    salient when its bits reach it (the rule's ``dev > param * MAD``, or ``dev`` among the
    ``k_ratio`` largest, as uint32 bits of non-negative floats, which order like their values)."""
    K = row.shape[0]
    med = _median(row, keys, cand, spare, hist)
    for i in range(K):
        dev[i] = abs(row[i] - med)
    if rule == 1:
        k_lo, k_hi = _ranked_keys(dev, UNSIGNED_SHIFT, K // 2 - 1 + K % 2, K // 2, keys, cand, spare, hist)
        thr = np.empty(1, np.float32)
        thr[0] = np.float32(param) * _middle(k_lo, k_hi, K)
        return thr.view(np.uint32)[0] + np.uint32(1)  # dev > thr: dev's bits above thr's
    cut, _ = _ranked_keys(dev, UNSIGNED_SHIFT, K - k_ratio, K - k_ratio, keys, cand, spare, hist)
    return cut ^ np.uint32(0x80000000)  # the key of a non-negative float: its bits with bit 31 set


@njit(cache=True, nogil=True)
def _quantize_row(row, qa, top, cut, shift_max, act_clip, dev, pow2, codes, shifts):
    """Scale, codes and (salient entries') shifts of one row whose entries are salient where
    ``dev``'s bits reach ``cut``; returns the scale."""
    K = row.shape[0]
    u, dev_u = row.view(np.uint32), dev.view(np.uint32)
    normal_bits = np.uint32(0)  # |x|'s bits order like |x|: an integer maximum, vectorized
    for i in range(K):
        normal_bits = max(normal_bits, np.uint32(0) if dev_u[i] >= cut else u[i] & np.uint32(0x7FFFFFFF))
    scale = np.float32(np.float32(act_clip) * _key_value(normal_bits ^ np.uint32(0x80000000))) / np.float32(qa)
    if not scale > 0:
        scale = np.float32(1.0)
    for i in range(K):  # salient entries on the normal step, then their shifts below
        lim = np.float32(top if dev_u[i] >= cut else qa)
        codes[i] = np.int8(min(max(np.rint(row[i] / scale), -lim), lim))
    if shift_max > 0:
        for i in range(K):
            if dev_u[i] >= cut:
                v = row[i] / scale
                s = 0
                while s < shift_max and np.rint(abs(v) / pow2[s]) > top:
                    s += 1
                codes[i] = np.int8(min(max(np.rint(v / pow2[s]), -top), top))
                shifts[i] = s
    return scale


@njit(cache=True, nogil=True)
def _setup(K, act_bits, salient_bits, rule, param, shift_max):
    """(largest normal code, largest salient code, the rule in effect (0 when no entry can be
    salient), k of the ratio rule) and the work arrays of :func:`_quantize` for rows of ``K``."""
    qa = (1 << (act_bits - 1)) - 1
    top = (1 << (max(act_bits, salient_bits) - 1)) - 1
    k_ratio = int(np.ceil(param * K)) if rule == 2 else 0
    on = salient_bits > act_bits and (rule == 1 or (rule == 2 and k_ratio > 0))
    pow2 = np.empty(shift_max + 1, np.float32)
    for s in range(shift_max + 1):
        pow2[s] = np.float32(2.0 ** s)
    dev = np.zeros(K, np.float32)  # stays zero (nothing salient) when no rule is in effect
    keys, cand, spare = np.empty(K, np.uint32), np.empty(K, np.uint32), np.empty(K, np.uint32)
    work = (dev, keys, cand, spare, np.zeros(int(DIGIT_MASK) + 1, np.int32), pow2)
    return (qa, top, rule if on else 0, k_ratio), work


@njit(cache=True, nogil=True)
def _quantize(row, limits, param, act_clip, shift_max, work, codes, shifts):
    """Codes and shifts of one row (see :func:`quantize_rows`); returns its scale."""
    qa, top, rule, k_ratio = limits
    dev, keys, cand, spare, hist, pow2 = work
    if rule == 0:
        return _quantize_row(row, qa, top, np.uint32(0xFFFFFFFF), 0, act_clip, dev, pow2, codes, shifts)
    cut = _salient_cut(row, rule, param, k_ratio, dev, keys, cand, spare, hist)
    return _quantize_row(row, qa, top, cut, shift_max, act_clip, dev, pow2, codes, shifts)


@njit(cache=True, nogil=True)
def quantize_rows(x, act_bits, salient_bits, rule, param, act_clip, shift_max, codes, scales, shifts):
    """Quantize the rows of ``x`` (float32 [M, K]) into ``codes`` (int8), ``scales`` (float32 [M])
    and ``shifts`` (int8 [M, K], zero-filled by the caller: only salient entries' shifts are
    written, none when ``shift_max`` is 0, so an unused one stays untouched memory); ``rule`` is a
    :data:`RULES` value."""
    limits, work = _setup(x.shape[1], act_bits, salient_bits, rule, param, shift_max)
    for t in range(x.shape[0]):
        scales[t] = _quantize(x[t], limits, param, act_clip, shift_max, work, codes[t], shifts[t])



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
    the lanes' high 32 bits, then their low 32 bits. Drawn lane by lane, its state in registers
    (1.8x as fast as stepping the lanes side by side, which the compiler does not vectorize)."""
    o = out.reshape(out.shape[0] // (2 * LANES), 2 * LANES)
    for lane in range(LANES):
        a0, a1, a2, a3 = state[0, lane], state[1, lane], state[2, lane], state[3, lane]
        for j in range(o.shape[0]):
            r = a0 + a3
            b = a1 << np.uint64(17)
            a2 ^= a0
            a3 ^= a1
            a1 ^= a2
            a0 ^= a3
            a2 ^= b
            a3 = (a3 << np.uint64(45)) | (a3 >> np.uint64(19))
            o[j, lane] = np.uint32(r >> np.uint64(32))
            o[j, LANES + lane] = np.uint32(r & np.uint64(0xFFFFFFFF))
        state[0, lane], state[1, lane], state[2, lane], state[3, lane] = a0, a1, a2, a3


@njit(cache=True, nogil=True)
def draw_row(state, bits, work, table, gain, scale, out):
    """One row of ``icdf-v4``: ``out[k] = ±icdf(u_k) * gain[k] * scale`` (float32). The uniforms
    (``bits``, uint32, K rounded up to 2 x LANES; the rest is discarded) come from
    :func:`draw_uniforms`; bit 31 gives the sign and the other 31 bits ``u = (2 b + 1) / 2^33``
    in (0, 1/2). ``table`` holds the inverse CDF on :func:`octave_grid`: u, rounded to float32,
    has its octave and grid point in its exponent and top mantissa bits and the fraction between
    two points in the rest, so one linear interpolation covers the whole range down to u =
    2^-33, without a branch. ``work``: float32 ``[2, K]``. Only the table lookups are left in a
    loop of their own, which the compiler cannot vectorize; the sign is set last, on the product
    (rounding is symmetric: the same bits as negating first), 2x as fast as one loop doing all."""
    K = out.shape[0]
    draw_uniforms(state, bits)
    frac, grid = work[0], work[1].view(np.uint32)
    u = frac.view(np.uint32)
    for k in range(K):
        frac[k] = np.float32(np.int64(bits[k] & np.uint32(0x7FFFFFFF)) * 2 + 1)  # u * 2^33
    low = np.uint32(23 - OCTAVE_BITS)
    fmask = np.uint32((1 << (23 - OCTAVE_BITS)) - 1)
    fscale = np.float32(1.0 / (1 << (23 - OCTAVE_BITS)))
    for k in range(K):
        x = u[k]
        grid[k] = (x >> low) - np.uint32(127 << OCTAVE_BITS)
        frac[k] = np.float32(x & fmask) * fscale
    for k in range(K):
        j = grid[k]
        out[k] = table[j] + frac[k] * (table[j + 1] - table[j])
    signed = out.view(np.uint32)
    for k in range(K):
        out[k] = out[k] * gain[k] * scale
        signed[k] ^= bits[k] & np.uint32(0x80000000)


@njit(cache=True, nogil=True)
def synth_rows(seed, gain, token_scale, table, act_bits, salient_bits, rule, param, act_clip, shift_max, codes,
               scales, shifts):
    """Draw ``x[t, k] = token_scale[t] * gain[k] * T`` row by row (:func:`draw_row`, generators
    seeded by :func:`seed_state` with ``seed``) and quantize each as :func:`quantize_rows` does."""
    state = seed_state(seed)
    M, K = codes.shape
    limits, work = _setup(K, act_bits, salient_bits, rule, param, shift_max)
    row = np.empty(K, np.float32)
    bits = np.empty(-(-K // (2 * LANES)) * 2 * LANES, np.uint32)
    draw_work = np.empty((2, K), np.float32)
    for t in range(M):
        draw_row(state, bits, draw_work, table, gain, token_scale[t], row)
        scales[t] = _quantize(row, limits, param, act_clip, shift_max, work, codes[t], shifts[t])
