"""The tile pipeline of :mod:`neurosim.engine.pipeline` as a compiled event loop, cycle for cycle.

The reference model is the simpy one (a loader, the array and one writer process per output
tile sharing a capacity-1 DRAM Resource). Ties between events at the same cycle decide who gets
the DRAM channel first, and simpy breaks them by its event queue: ``(time, priority, event id)``
with process starts urgent, a request granted when the release before it is *processed*, and a
process that yields an already-processed event continuing at once. This kernel replays exactly
that machinery (the subset of simpy the pipeline uses: processes as state machines, one binary heap of
integer events ordered by (time, priority, event id) in three parallel arrays, the Resource's
put/get queues), so it returns the same cycles and stalls; a hypothesis property test compares
the two on random tile sequences.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neurosim.kernels.pipeline_period import (
    FAST_STATE,
    MAX_REFS,
    NEXT,
    REP,
    SKIPPED,
    fast_forward,
    next_check,
    snapshot_size,
)

URGENT, NORMAL = 0, 1
PENDING, TRIGGERED, PROCESSED = 0, 1, 2
# callback kinds (a callback is kind * CB + argument)
CB = 1 << 40
RESUME, TRIGGER_GET, TRIGGER_PUT = 1, 2, 3
# process kinds and program counters
LOADER, ARRAY, LOAD, WRITEBACK = 0, 1, 2, 3


@njit(cache=True, nogil=True, inline="always")
def _earlier(ht, hk, i, t, k):
    """Is heap entry ``i`` before ``(t, k)``?"""
    return ht[i] < t or (ht[i] == t and hk[i] < k)


@njit(cache=True, nogil=True, inline="always")
def _put(ht, hk, he, i, t, k, ev):
    """Write ``(t, k) -> ev`` into heap slot ``i``."""
    ht[i] = t
    hk[i] = k
    he[i] = ev


@njit(cache=True, nogil=True, inline="always")
def _push(heap, t, k, ev):
    """Push (t, k) -> ev on the binary heap ``heap = (times, keys, events, size)``."""
    ht, hk, he, hn = heap
    i = hn[0]
    hn[0] = i + 1
    while i > 0:
        p = (i - 1) >> 1
        if _earlier(ht, hk, p, t, k):
            break
        _put(ht, hk, he, i, ht[p], hk[p], he[p])
        i = p
    _put(ht, hk, he, i, t, k, ev)


@njit(cache=True, nogil=True)
def _pop(heap):
    """Pop the smallest (t, k): returns (t, ev)."""
    ht, hk, he, hn = heap
    t0 = ht[0]
    e0 = he[0]
    n = hn[0] - 1
    hn[0] = n
    if n > 0:
        t, k, ev = ht[n], hk[n], he[n]
        i = 0
        while 2 * i + 1 < n:
            c = 2 * i + 1
            if c + 1 < n and _earlier(ht, hk, c + 1, ht[c], hk[c]):
                c += 1
            if not _earlier(ht, hk, c, t, k):
                break
            _put(ht, hk, he, i, ht[c], hk[c], he[c])
            i = c
        _put(ht, hk, he, i, t, k, ev)
    return t0, e0


@njit(cache=True, nogil=True)
def _trigger(heap, state, ev, time, eid):
    """Event.succeed() (or a Timeout created now): triggered, scheduled NORMAL at ``time``.
    Returns the next event id."""
    state[ev] = TRIGGERED
    _push(heap, np.int64(time), np.int64(NORMAL << 48) | np.int64(eid), np.int64(ev))
    return eid + 1


@njit(cache=True, nogil=True)
def _spawn(kind, tile, now, eid, n_proc, n_events, p_kind, p_tile, p_event, state, cbs, ncb, heap):
    """Start a process (env.process): its end event and an urgent Initialize that resumes it.
    Returns (process, n_proc, n_events, eid) after it."""
    q = n_proc
    p_kind[q] = kind
    p_tile[q] = tile
    p_event[q] = n_events
    init = n_events + 1
    state[init] = TRIGGERED
    cbs[init, 0] = RESUME * CB + q
    ncb[init] = 1
    _push(heap, np.int64(now), np.int64(URGENT << 48) | np.int64(eid), np.int64(init))
    return q, n_proc + 1, n_events + 2, eid + 1


def no_records() -> tuple:
    """``rec`` of :func:`pipeline_cycles` that records nothing."""
    return np.empty(0, np.int64), np.empty((0, 1), np.int64), np.empty((0, 13), np.int64), np.empty(0, np.int64)


def no_templates() -> tuple:
    """``tpl`` of :func:`pipeline_cycles` without templates."""
    one, two, cnt = np.empty(0, np.int64), np.empty((0, 1), np.int64), np.empty((0, 13), np.int64)
    return one, one, one, two, one, cnt, two, one, cnt


def workspace_sizes(n: int) -> tuple[int, int]:
    """(events, processes) a pipeline of ``n`` tiles may create: at most 13 events per tile
    (loaded, computed, the array's timeout, and two transfers of an Initialize, a request, a
    timeout, a release and the process's end), two transfer processes per tile."""
    return 13 * n + 16, 2 * n + 2


def new_workspace(n: int) -> tuple:
    """Scratch arrays for :func:`pipeline_cycles` of up to ``n`` tiles (reusable: the kernel
    clears what it reads before writing)."""
    cap, pcap = workspace_sizes(n)
    return (np.zeros(cap, np.int8), np.zeros(cap, np.int8), np.empty((cap, 3), np.int64), np.empty(cap, np.int32),
            np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.int64),
            *(np.zeros(pcap, np.int64) for _ in range(6)), *(np.empty(n + 1, np.int64) for _ in range(3)),
            np.empty(2 * n + 1, np.int64), np.empty(2 * n + 1, np.int64))


@njit(cache=True, nogil=True)
def pipeline_cycles(load_cycles, busy_cycles, writeback_cycles, has_load, has_writeback, buffers, work, runs, rec,
                    tpl):
    """``(cycles, dram_load stall, output_writeback stall, tiles fast-forwarded)`` of one op's tiles.

    ``load_cycles[i]`` / ``writeback_cycles[i]``: DRAM cycles of tile i's input load and output
    write-back (made only where ``has_load`` / ``has_writeback``), ``busy_cycles[i]``: its array
    time, ``buffers``: how many tiles the loader may run ahead (and output slots); ``work``:
    :func:`new_workspace` of at least as many tiles (reused across calls, so that its pages are
    touched once, not once per op); ``runs``: rows ``(start, L, R)``, in order and apart, of
    tiles that are ``R`` copies of the ``L`` tiles from ``start`` (none: ``np.empty((0, 3))``),
    fast-forwarded once the pipeline's state repeats; ``rec``: tiles at which to record the
    state (for another pipeline's templates) and where; ``tpl``: templates, another pipeline's
    recorded states over the same tiles, jumped along once this one's state matches the first
    (:mod:`neurosim.kernels.pipeline_period`; :func:`no_records`, :func:`no_templates`)."""
    n = len(busy_cycles)
    cap = 13 * n + 16
    pcap = 2 * n + 2
    (state, ncb, cbs, get_req, heap_t, heap_k, heap_e, p_kind, p_pc, p_tile, p_event, p_req, p_t, loaded, computed,
     drained, put_q, get_q) = work
    state[:cap] = 0
    ncb[:cap] = 0
    n_events = 0
    # processes: kind, pc, tile index, the event it is (its termination), its request, local time
    p_pc[:pcap] = 0
    n_proc = 0
    for i in range(n):
        loaded[i] = n_events
        computed[i] = n_events + 1
        n_events += 2
    n_drained = 0
    put_head = 0  # put_q: FIFO of waiting requests
    put_tail = 0
    get_head = 0  # get_q: release events; get_req: the request a release event releases
    get_tail = 0
    user = -1
    heap = (heap_t, heap_k, heap_e, np.zeros(1, np.int64))
    eid = 0
    now = 0
    stall_load = 0
    stall_wb = 0
    array_done_at = 0

    fs = np.zeros(FAST_STATE, np.int64)  # the fast-forward's state (pipeline_period.RUN ...)
    fs[REP] = 1
    fs[NEXT] = next_check(runs, rec[0], tpl[0], fs)
    size = snapshot_size(buffers) if fs[NEXT] < n else 1
    snaps = np.empty((3, size), np.int64)
    counts = np.empty((3, 13), np.int64)
    lens = np.full(2, -1, np.int64)
    evs = np.empty(MAX_REFS, np.int64)
    procs = np.empty(MAX_REFS, np.int64)
    # a process starts with an urgent Initialize event that resumes it
    for kind in (LOADER, ARRAY):
        _, n_proc, n_events, eid = _spawn(kind, 0, now, eid, n_proc, n_events, p_kind, p_tile, p_event, state, cbs,
                                          ncb, heap)

    while heap[3][0] > 0:
        time, ev = _pop(heap)
        now = time
        state[ev] = PROCESSED
        k = 0
        while k < ncb[ev]:  # callbacks may append to other events, never to this one
            code = cbs[ev, k]
            k += 1
            kind, arg = code // CB, code % CB
            if kind == TRIGGER_GET or kind == TRIGGER_PUT:
                if kind == TRIGGER_GET and get_head < get_tail:
                    g = get_q[get_head]
                    get_head += 1
                    if user == get_req[g]:
                        user = -1
                    eid = _trigger(heap, state, g, now, eid)
                elif kind == TRIGGER_PUT and put_head < put_tail and user == -1:
                    r = put_q[put_head]
                    put_head += 1
                    user = r
                    eid = _trigger(heap, state, r, now, eid)
                continue
            # RESUME process arg: run its generator until it waits on an unprocessed event or ends
            p = arg
            while True:
                wait = -1
                finished = False
                pk = p_kind[p]
                if pk == LOADER:
                    while True:
                        pc = p_pc[p]
                        i = p_tile[p]
                        if pc == 0:  # loop head
                            if i >= n:
                                finished = True
                                break
                            p_pc[p] = 1
                            if i >= buffers:
                                wait = computed[i - buffers]
                                break
                        elif pc == 1:  # start the load transfer
                            p_pc[p] = 2
                            if has_load[i]:
                                q, n_proc, n_events, eid = _spawn(LOAD, i, now, eid, n_proc, n_events, p_kind, p_tile,
                                                                  p_event, state, cbs, ncb, heap)
                                wait = p_event[q]
                                break
                        else:  # loaded
                            eid = _trigger(heap, state, loaded[i], now, eid)
                            p_tile[p] = i + 1
                            p_pc[p] = 0
                elif pk == ARRAY:
                    while True:
                        pc = p_pc[p]
                        i = p_tile[p]
                        if pc == 0:
                            if i >= n:
                                finished = True
                                break
                            p_t[p] = now
                            p_pc[p] = 1
                            if state[loaded[i]] == PENDING:
                                wait = loaded[i]
                                break
                        elif pc == 1:
                            stall_load += now - p_t[p]
                            p_pc[p] = 3
                            if has_writeback[i] and n_drained >= buffers and state[drained[n_drained - buffers]] == PENDING:
                                p_t[p] = now
                                p_pc[p] = 2
                                wait = drained[n_drained - buffers]
                                break
                        elif pc == 2:
                            stall_wb += now - p_t[p]
                            p_pc[p] = 3
                        elif pc == 3:
                            p_pc[p] = 4
                            if busy_cycles[i] > 0:
                                t_ev = n_events
                                n_events += 1
                                eid = _trigger(heap, state, t_ev, now + busy_cycles[i], eid)
                                wait = t_ev
                                break
                        else:  # computed: succeed, start the write-back, next tile
                            eid = _trigger(heap, state, computed[i], now, eid)
                            if has_writeback[i]:
                                q, n_proc, n_events, eid = _spawn(WRITEBACK, i, now, eid, n_proc, n_events, p_kind,
                                                                  p_tile, p_event, state, cbs, ncb, heap)
                                drained[n_drained] = p_event[q]
                                n_drained += 1
                            p_tile[p] = i + 1
                            p_pc[p] = 0
                else:  # a transfer: request the channel, hold it for the transfer, release it
                    pc = p_pc[p]
                    i = p_tile[p]
                    if pc == 0:
                        r = n_events
                        n_events += 1
                        cbs[r, 0] = TRIGGER_GET * CB
                        ncb[r] = 1
                        p_req[p] = r
                        get_req[r] = -2
                        put_q[put_tail] = r
                        put_tail += 1
                        if user == -1:  # _trigger_put: the head of the queue gets a free channel
                            h = put_q[put_head]
                            put_head += 1
                            user = h
                            eid = _trigger(heap, state, h, now, eid)
                        p_pc[p] = 1
                        wait = r
                    elif pc == 1:
                        d = load_cycles[i] if pk == LOAD else writeback_cycles[i]
                        t_ev = n_events
                        n_events += 1
                        eid = _trigger(heap, state, t_ev, now + d, eid)
                        p_pc[p] = 2
                        wait = t_ev
                    else:  # leave the with-block: a Release event, processed at once by _trigger_get
                        g = n_events
                        n_events += 1
                        cbs[g, 0] = TRIGGER_PUT * CB
                        ncb[g] = 1
                        get_req[g] = p_req[p]
                        get_q[get_tail] = g
                        get_tail += 1
                        h = get_q[get_head]
                        get_head += 1
                        if user == get_req[h]:
                            user = -1
                        eid = _trigger(heap, state, h, now, eid)
                        finished = True
                if finished:
                    e = p_event[p]
                    eid = _trigger(heap, state, e, now, eid)
                    break
                if state[wait] != PROCESSED:
                    cbs[wait, ncb[wait]] = RESUME * CB + p
                    ncb[wait] += 1
                    break
        if ev == p_event[ARRAY]:  # run(until=array) stops here; the rest is the final drain
            array_done_at = now
        if p_tile[ARRAY] >= fs[NEXT]:
            c = counts[2]
            c[0], c[1], c[2], c[3], c[4], c[5], c[6] = now, eid, n_events, n_proc, n_drained, put_head, put_tail
            c[7], c[8], c[9], c[10], c[11], c[12] = get_head, get_tail, user, stall_load, stall_wb, heap[3][0]
            if fast_forward(c, p_tile[ARRAY], p_tile[LOADER], work, n, buffers, runs, rec, tpl, fs, snaps, counts,
                            lens, snaps[2], evs, procs):
                now, eid, n_events, n_proc, n_drained, put_head, put_tail = c[0], c[1], c[2], c[3], c[4], c[5], c[6]
                get_head, get_tail, user, stall_load, stall_wb, heap[3][0] = c[7], c[8], c[9], c[10], c[11], c[12]
    stall_wb += now - array_done_at
    return now, stall_load, stall_wb, fs[SKIPPED]
