"""IF-array tile timing from the real activation codes.

The IF array has ``R`` input lanes (rows) and ``C`` output neurons (columns). One *step* is one
token's K-tile of ``R' <= R`` input channels against one N-tile of ``C' <= C`` outputs: the
channels' spikes are dispatched into the lanes and every column adds ``±w[i, j]`` per spike.
The spike pattern of a (token, K-tile) step is the same for every N-tile, so the kernel walks
each step once and returns totals for the two column-tile widths (full ``C`` and the last,
partial one) via per-variant SRAM cycle inputs.

Compute cycles of a step (zero codes are skipped: a step without spikes costs 0):

- ``time_stepped`` + ``count``: ``max_i |q_i|`` — a salient value stalls its whole row group;
- ``time_stepped`` + ``bitplane``: the number of bit planes set in any lane, ``popcount(OR_i |q_i|)``;
- ``event_queue``: ``ceil(E / R)`` with ``E`` = total spikes (``|q|`` or ``popcount|q|``), issued
  R per cycle from the address-event queue; with ``per_code_reads`` each nonzero code's weight row
  is read once and latched in one lane for all of that code's spikes, so the step also lasts at
  least the largest code's spikes: ``max(ceil(E / R), max_i s_i)`` (the lower bound of any lane
  schedule, reached by a longest-first one when one code dominates).

A step also needs the SRAMs: reading its codes from the dense store and its salient entries from
the side store, the membrane read-modify-write (or output write), and, for ``event_queue``, one
weight-row read per nonzero code (or per event) from a banked weight SRAM (channel ``i`` lives in bank ``i mod B``; the
busiest bank sets the time, so salient spikes on one channel serialise on one bank). A step
takes ``max(compute, spike read, membrane, weight read)``; the excess over compute is a stall
charged to the dominant cause.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# indices into the per-variant result rows
BUSY, COMPUTE, STALL_SPIKE, STALL_MEMBRANE, STALL_WEIGHT = 0, 1, 2, 3, 4
N_COLS = 5
# indices into the scalar totals
SPIKES, SALIENT, NONZERO, SHIFT_STEPS, STEPS, SAL_SPIKES, SAL_MAX, SAL_TOKENS, SAL_TOKEN_MAX = range(9)
N_TOTALS = 9


@njit(cache=True, nogil=True)
def popcount8(x: int) -> int:
    """Set bits of a non-negative int below 256."""
    n = 0
    while x:
        n += x & 1
        x >>= 1
    return n


@njit(cache=True, nogil=True)
def count_step(seg, normal_max):
    """(spikes, nonzero codes, salient codes, largest |q|) of the codes ``seg`` (one token's
    channels of a step, a contiguous 1-D int8 slice) with count encoding: sums and a maximum
    without branches, in int32 (|q| <= 128 over at most 2^24 lanes), so they vectorise."""
    events = 0
    nonzero = 0
    n_sal = 0
    smax = 0
    nm = np.int32(normal_max)
    for i in range(seg.shape[0]):
        a = np.int32(seg[i])
        a = a if a >= 0 else -a
        events += a
        nonzero += a != 0
        n_sal += a > nm
        smax = max(smax, a)
    return np.int64(events), np.int64(nonzero), np.int64(n_sal), np.int64(smax)


@njit(cache=True, nogil=True)
def acc_blocks_kernel(codes, Mb, Kb, ms, ks, block_m, block_k, lanes, bitplane, event_queue, normal_max,
                      dense_bits_per_code, dense_bw_bits, salient_entry_bits, salient_bw_bits, membrane_cycles,
                      weight_words_per_event, weight_banks, weight_ports, first_block, last_block, per_code_reads,
                      side_salient, group_tokens):
    """Walk every (token, K-tile) step of each of many int8 code blocks of one shape
    (``block_m x block_k``) in the tensor ``codes``, in place: block ``b`` starts at row
    ``ms[b] * Mb`` and column ``ks[b] * Kb``.

    ``membrane_cycles[v, p]``: SRAM cycles of the membrane/output traffic of one step for
    column variant ``v`` (0: full C, 1: partial C') at K position ``p`` (0: first and last K-tile
    of the layer, 1: first, 2: middle, 3: last); ``first_block``/``last_block`` say whether the
    code blocks hold the layer's first/last K-tiles (K may be split into blocks).
    ``weight_words_per_event[v]``: weight-SRAM words read per event (event_queue only); channel
    ``i`` of a block lives in weight bank ``i mod weight_banks``.
    ``side_salient``: salient codes go to the side lane group, not the main lanes (their spikes
    are totalled in SAL_SPIKES and the largest in SAL_MAX; the tokens holding any in SAL_TOKENS and the
    largest sum of one token's salient spikes in SAL_TOKEN_MAX).
    Returns, stacked over the blocks, ``(per_variant [n, 2, N_COLS], totals [n, N_TOTALS],
    busy [n, 2, groups, nk])`` as int64, the last the busy cycles of each group of
    ``group_tokens`` tokens (0: one group) in each K-tile, per column variant (for weight loads
    overlapped with the previous sub-tile's steps).
    """
    n = ms.shape[0]
    G = group_tokens if group_tokens > 0 else max(block_m, 1)
    out = np.zeros((n, 2, N_COLS), dtype=np.int64)
    busy_by_group = np.zeros((n, 2, (block_m + G - 1) // G, (block_k + lanes - 1) // lanes), dtype=np.int64)
    tot = np.zeros((n, N_TOTALS), dtype=np.int64)
    for b in range(n):
        m0, k0 = ms[b] * Mb, ks[b] * Kb
        _walk_block(codes, m0, m0 + block_m, k0, k0 + block_k, lanes, bitplane, event_queue, normal_max,
                    dense_bits_per_code, dense_bw_bits, salient_entry_bits, salient_bw_bits, membrane_cycles,
                    weight_words_per_event, weight_banks, weight_ports, first_block, last_block, per_code_reads,
                    side_salient, G, out[b], tot[b], busy_by_group[b])
    return out, tot, busy_by_group


@njit(cache=True, nogil=True)
def _walk_block(codes, m0, m1, c0, c1, lanes, bitplane, event_queue, normal_max, dense_bits_per_code, dense_bw_bits,
                salient_entry_bits, salient_bw_bits, membrane_cycles, weight_words_per_event, weight_banks,
                weight_ports, first_block, last_block, per_code_reads, side_salient, G, out, tot, busy_by_group):
    """The walk of :func:`acc_blocks_kernel` over rows ``m0:m1`` and columns ``c0:c1`` of
    ``codes``, added into ``out``, ``tot`` and ``busy_by_group`` (``G`` tokens per group)."""
    K = c1 - c0
    nk = (K + lanes - 1) // lanes
    # lockstep count encoding without side lanes (the default design): a step's spikes are plain
    # sums and maxima of |q|, taken by the branch-free count_step
    fast_count = not (event_queue or bitplane or side_salient)
    bank_events = np.zeros(weight_banks, dtype=np.int64)
    for t in range(m1 - m0):
        row = codes[m0 + t]
        token_sal = token_entries = 0
        for kt in range(nk):
            k0 = c0 + kt * lanes
            k1 = min(c1, k0 + lanes)
            smax = 0
            planes_or = 0
            events = 0
            n_sal = 0
            if event_queue:
                bank_events[:] = 0
            if fast_count:
                events, nonzero, n_sal, smax = count_step(row[k0:k1], normal_max)
                tot[NONZERO] += nonzero
            else:
                for i in range(k0, k1):
                    a = abs(np.int64(row[i]))
                    if a == 0:
                        continue
                    s = popcount8(a) if bitplane else a
                    if a > normal_max:
                        n_sal += 1
                        if side_salient:
                            tot[SAL_SPIKES] += s
                            token_sal += s
                            token_entries += 1
                            if s > tot[SAL_MAX]:
                                tot[SAL_MAX] = s
                            continue
                    tot[NONZERO] += 1
                    events += s
                    planes_or |= a
                    if s > smax:
                        smax = s
                    if event_queue:
                        bank_events[(i - c0) % weight_banks] += 1 if per_code_reads else s
            if event_queue:
                compute = (events + lanes - 1) // lanes
                if per_code_reads and smax > compute:  # a code's spikes stay in the lane holding its row
                    compute = smax
            elif bitplane:
                compute = popcount8(planes_or)
            else:
                compute = smax
            if bitplane and not event_queue and compute > 1:
                tot[SHIFT_STEPS] += compute - 1
            tot[SPIKES] += events
            tot[SALIENT] += n_sal
            tot[STEPS] += 1
            spike_cyc = ((k1 - k0) * dense_bits_per_code + dense_bw_bits - 1) // dense_bw_bits
            spike_cyc += (n_sal * salient_entry_bits + salient_bw_bits - 1) // salient_bw_bits
            first = first_block and kt == 0
            last = last_block and kt == nk - 1
            pos = 0 if (first and last) else (1 if first else (3 if last else 2))
            max_bank = 0
            if event_queue:
                for b in range(weight_banks):
                    if bank_events[b] > max_bank:
                        max_bank = bank_events[b]
            for v in range(2):
                mem_cyc = membrane_cycles[v, pos]
                w_cyc = (max_bank * weight_words_per_event[v] + weight_ports - 1) // weight_ports
                busy = max(compute, spike_cyc, mem_cyc, w_cyc)
                out[v, BUSY] += busy
                busy_by_group[v, t // G, kt] += busy
                out[v, COMPUTE] += compute
                if busy > compute:
                    if w_cyc == busy:
                        out[v, STALL_WEIGHT] += busy - compute
                    elif mem_cyc == busy:
                        out[v, STALL_MEMBRANE] += busy - compute
                    else:
                        out[v, STALL_SPIKE] += busy - compute
        if token_entries:
            tot[SAL_TOKENS] += 1
            tot[SAL_TOKEN_MAX] = max(tot[SAL_TOKEN_MAX], token_sal)


@njit(cache=True, nogil=True)
def code_totals(codes, normal_max):
    """(nonzero entries, salient entries (|q| > normal_max), spikes (the sum of |q|)) of ``codes``,
    in one pass without a widened copy."""
    M, K = codes.shape
    nm = np.int32(normal_max)
    nonzero = salient = spikes = 0
    for t in range(M):
        row = codes[t]
        nz = sal = sp = 0
        for i in range(K):  # branch-free, so that it vectorises
            a = abs(np.int32(row[i]))
            nz += a != 0
            sal += a > nm
            sp += a
        nonzero += nz
        salient += sal
        spikes += sp
    return nonzero, salient, spikes


@njit(cache=True, nogil=True)
def salient_per_token(codes, normal_max):
    """Number of salient entries (|q| > normal_max) in each token (row) of ``codes``."""
    M, K = codes.shape
    out = np.zeros(M, dtype=np.int64)
    nm = np.int32(normal_max)
    for t in range(M):
        row = codes[t]
        n = 0
        for i in range(K):  # branch-free, so that it vectorises
            a = np.int32(row[i])
            n += (a > nm) | (a < -nm)
        out[t] = n
    return out


@njit(cache=True, nogil=True)
def salient_counts(codes, normal_max, Kb):
    """Salient entries (|q| > normal_max) of each token in each block of ``Kb`` channels of
    ``codes``: int64 ``[M, ceil(K / Kb)]``, in one branch-free pass without copying blocks."""
    M, K = codes.shape
    nk = (K + Kb - 1) // Kb
    out = np.zeros((M, nk), dtype=np.int64)
    nm = np.int32(normal_max)
    for t in range(M):
        row = codes[t]
        for kb in range(nk):
            seg = row[kb * Kb:min(K, (kb + 1) * Kb)]
            n = 0
            for i in range(seg.shape[0]):
                a = np.int32(seg[i])
                n += (a > nm) | (a < -nm)
            out[t, kb] = n
    return out


def zero_counts(codes, Kb):
    """Zero codes of each token in each block of ``Kb`` channels of ``codes``: int64
    ``[M, ceil(K / Kb)]``, each block's width less its codes with |q| > 0 (:func:`salient_counts`
    at 0)."""
    K = codes.shape[1]
    return np.minimum(Kb, K - np.arange(0, K, Kb))[None, :] - salient_counts(codes, 0, Kb)


def salient_tile_counts(counts: np.ndarray, Mb: int) -> tuple[np.ndarray, np.ndarray]:
    """Per ``Mb``-token tile of :func:`salient_counts`' ``counts``: the salient entries and the
    tokens holding any, two int64 arrays ``[ceil(M / Mb), ceil(K / Kb)]``."""
    starts = np.arange(0, counts.shape[0], Mb)
    return np.add.reduceat(counts, starts, axis=0), np.add.reduceat((counts > 0).astype(np.int64), starts, axis=0)
