"""Decoupled IF lanes (``array.lane_skew: W``): per-lane spike FIFOs with a bounded skew window.

In the coupled ``time_stepped`` array a step (one token's K sub-tile) lasts as long as its
busiest lane, so a salient code idles the other lanes. With per-lane FIFOs each lane runs through
its own codes and may be up to ``W`` steps ahead of the slowest one: a column keeps ``W`` token
membranes (and ``W`` adder trees) live, and the membrane register set of step ``s - W`` must be
free before any lane starts step ``s``. Per lane ``i`` and step ``s`` (a max-plus recurrence)::

    start[i, s]  = max(finish[i, s-1], done[s-W])      done[s] = max_i finish[i, s]
    finish[i, s] = start[i, s] + |q[i, s]|

The step's SRAM traffic (spike reads, membrane read-modify-write) is one more lane with cost
``max(spike_cyc, mem_cyc)`` under the same window. ``W = 1`` is the coupled array exactly (every
step lasts the max of its lanes and its SRAM cycles). Each weight sub-tile (K sub-tile) is its
own sequence over the block's tokens: the lanes drain before the next weights load.

A column writes one membrane per cycle for each token in flight that has a spike in that cycle:
per step, the length of the union of its lanes' busy intervals (computed on the compute-only
schedule).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neurosim.kernels.acc_tile import BUSY, COMPUTE, N_COLS, STALL_MEMBRANE, STALL_SPIKE


@njit(cache=True, nogil=True)
def _sequence(costs, floors, window, with_floor, starts, ends):
    """Makespan of one sequence of steps ``costs [S, R]`` (``floors [S]`` the SRAM lane, used
    when ``with_floor``); fills ``starts``/``ends`` [S, R] with each lane's busy interval."""
    S, R = costs.shape
    finish = np.zeros(R, dtype=np.int64)
    mem_finish = 0
    done = np.zeros(S, dtype=np.int64)
    for s in range(S):
        gate = done[s - window] if s >= window else 0
        d = 0
        for i in range(R):
            st = finish[i] if finish[i] > gate else gate
            finish[i] = st + costs[s, i]
            starts[s, i] = st
            ends[s, i] = finish[i]
            if costs[s, i] > 0 and finish[i] > d:
                d = finish[i]
        if with_floor:
            st = mem_finish if mem_finish > gate else gate
            mem_finish = st + floors[s]
            if mem_finish > d:
                d = mem_finish
        # a step with no spikes and no traffic leaves the window as it found it
        done[s] = d if d > gate else gate
    end = mem_finish if with_floor else 0
    for i in range(R):
        if finish[i] > end:
            end = finish[i]
    return end


@njit(cache=True, nogil=True)
def _union(starts, ends, costs, s):
    """Cycles of step ``s`` in which any of its lanes is busy."""
    R = costs.shape[1]
    order = np.argsort(starts[s])
    total = 0
    cur_s = -1
    cur_e = -1
    for j in range(R):
        i = order[j]
        if costs[s, i] == 0:
            continue
        a, b = starts[s, i], ends[s, i]
        if a > cur_e:
            total += cur_e - cur_s if cur_e > cur_s else 0
            cur_s, cur_e = a, b
        elif b > cur_e:
            cur_e = b
    total += cur_e - cur_s if cur_e > cur_s else 0
    return total


@njit(cache=True, nogil=True)
def skew_block_kernel(codes, lanes, window, normal_max, dense_bits_per_code, dense_bw_bits, salient_entry_bits,
                      salient_bw_bits, membrane_cycles, first_block, last_block, side_salient):
    """Walk an int8 code block ``[Mb, K]`` per K sub-tile with decoupled lanes.

    Arguments as :func:`neurosim.kernels.acc_tile.acc_blocks_kernel` (time-stepped, count
    encoding). Returns ``(per_variant [2, N_COLS], column_writes)``: busy and compute cycles per
    column variant, the stall split (the SRAM excess charged to the larger of the spike-read and
    membrane totals), and the membrane writes of one column.
    """
    M, K = codes.shape
    nk = (K + lanes - 1) // lanes
    out = np.zeros((2, N_COLS), dtype=np.int64)
    writes = 0
    costs = np.zeros((M, lanes), dtype=np.int64)
    floors = np.zeros((2, M), dtype=np.int64)
    spike_tot = np.zeros(2, dtype=np.int64)
    mem_tot = np.zeros(2, dtype=np.int64)
    starts = np.zeros((M, lanes), dtype=np.int64)
    ends = np.zeros((M, lanes), dtype=np.int64)
    for kt in range(nk):
        k0 = kt * lanes
        k1 = min(K, k0 + lanes)
        first = first_block and kt == 0
        last = last_block and kt == nk - 1
        pos = 0 if (first and last) else (1 if first else (3 if last else 2))
        costs[:, :] = 0
        for t in range(M):
            n_sal = 0
            for i in range(k0, k1):
                a = abs(np.int64(codes[t, i]))
                if a > normal_max:
                    n_sal += 1
                    if side_salient:
                        continue
                costs[t, i - k0] = a
            spike_cyc = ((k1 - k0) * dense_bits_per_code + dense_bw_bits - 1) // dense_bw_bits
            spike_cyc += (n_sal * salient_entry_bits + salient_bw_bits - 1) // salient_bw_bits
            for v in range(2):
                mem = membrane_cycles[v, pos]
                floors[v, t] = spike_cyc if spike_cyc > mem else mem
                spike_tot[v] += spike_cyc
                mem_tot[v] += mem
        compute = _sequence(costs, floors[0], window, False, starts, ends)
        for t in range(M):
            writes += _union(starts, ends, costs, t)
        for v in range(2):
            busy = _sequence(costs, floors[v], window, True, starts, ends)
            out[v, BUSY] += busy
            out[v, COMPUTE] += compute
            if busy > compute:
                out[v, STALL_SPIKE if spike_tot[v] >= mem_tot[v] else STALL_MEMBRANE] += busy - compute
            spike_tot[v] = 0
            mem_tot[v] = 0
    return out, writes
