"""Exact fast-forward of the compiled tile pipeline over repeated tiles and along another run.

A decode step's schedule repeats each folded op's tiles once per layer (and an attention op's
once per head): ``R`` copies of the same ``L`` tiles. The pipeline is deterministic, so once its
whole state, seen from the array starting a copy (times relative to now, event ids relative to
the allocation counters, tiles relative to the copy), equals its state one copy earlier, every
later copy repeats that one shifted by the same amounts (cycles, stalls, event ids), for as long
as the tiles it reads are copies too. :func:`encode` writes that relative state (everything still
referenced: the event heap, the DRAM channel's queues and holder, the processes alive and the
events they wait on, the tiles' events around the array) into a flat array, so two copies are
compared with one array comparison; :func:`decode` writes it back ``k`` copies later.

The same encoding lets one pipeline jump along another over the same tiles: an op's own
pipeline records its state at a few tiles (a *record*), and the phase's pipeline, which runs
the op between others, compares its state with the op's at those tiles and, equal, takes the
op's state near its end (a *template*): from the matching tile on, the two see the same tiles.

Only a state found equal is shifted, so a run that never settles is simulated tile by tile:
the shortcut changes no result (a hypothesis test compares it with the simpy reference on
periodic tile sequences). Written by hand: it reads the event kernel's own arrays. Its
functions are inlined into ``pipeline_cycles``, whose numba cache is keyed on
tile_pipeline.py's contents alone: after editing this file, delete the cached kernels
(``neurosim/kernels/__pycache__/*.nbi``), or the old code keeps running.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Most events, processes, heap entries or queued transfers a state may hold to be compared.
MAX_REFS = 64
CB = 1 << 40  # as in tile_pipeline: a callback is kind * CB + argument
RESUME = 1
EID_BITS = (1 << 48) - 1


@njit(cache=True, nogil=True)
def snapshot_size(buffers: int) -> int:
    """Ints one encoded state may take (see :func:`encode`)."""
    window = 2 * (buffers + 3)
    return 64 + 5 * MAX_REFS + 4 * 2 * MAX_REFS + 2 * buffers + 2 * window * 11 + 12 * MAX_REFS + 8 * MAX_REFS


@njit(cache=True, nogil=True, inline="always")
def _rel_ev(ev, n2, s, n_events):
    """(kind, value) of event ``ev``: a tile's loaded/computed event relative to tile ``s``, one
    of the loader's and array's four, a later one relative to the allocation counter, or a
    sentinel (negative)."""
    if ev < 0:
        return 3, ev
    if ev < n2:
        return 0, ev - 2 * s
    if ev < n2 + 4:
        return 1, ev - n2
    return 2, ev - n_events


@njit(cache=True, nogil=True, inline="always")
def _abs_ev(kind, v, n2, s, n_events):
    if kind == 0:
        return v + 2 * s
    if kind == 1:
        return v + n2
    if kind == 2:
        return v + n_events
    return v


@njit(cache=True, nogil=True)
def _note(lst, cnt, x):
    """Append ``x`` to ``lst[:cnt[0]]`` unless there; False when full."""
    for j in range(cnt[0]):
        if lst[j] == x:
            return True
    if cnt[0] >= MAX_REFS:
        return False
    lst[cnt[0]] = x
    cnt[0] += 1
    return True


@njit(cache=True, nogil=True)
def _callbacks(out, o, ev, ncb, cbs, n_proc):
    """Write event ``ev``'s callbacks (three slots of kind, process kind, process) from ``o``."""
    for j in range(3):
        code = cbs[ev, j] if j < ncb[ev] else 0
        kind, arg = code // CB, code % CB
        out[o] = kind
        if kind == RESUME and arg >= 2:
            out[o + 1], out[o + 2] = 1, arg - n_proc
        else:
            out[o + 1], out[o + 2] = 0, arg
        o += 3
    return o


@njit(cache=True, nogil=True)
def _discover(c, work, n2, buffers, s, window, evs, procs, ne, npr):
    """Every later event and transfer process the state still refers to, in a canonical order
    (into ``evs`` / ``procs``); False when there are more than :data:`MAX_REFS`."""
    (state, ncb, cbs, get_req, heap_t, heap_k, heap_e, p_kind, p_pc, p_tile, p_event, p_req, p_t, loaded, computed,
     drained, put_q, get_q) = work
    n_events, n_proc = c[2], c[3]
    ne[0] = 0
    npr[0] = 0
    ok = True
    for j in range(c[12]):
        if heap_e[j] >= n2 + 4:
            ok &= _note(evs, ne, heap_e[j])
    for j in range(c[5], c[6]):
        ok &= _note(evs, ne, put_q[j])
    for j in range(c[7], c[8]):
        ok &= _note(evs, ne, get_q[j])
        if get_req[get_q[j]] >= n2 + 4:
            ok &= _note(evs, ne, get_req[get_q[j]])
    if c[9] >= n2 + 4:
        ok &= _note(evs, ne, c[9])
    for j in range(c[4] - buffers, c[4]):
        ok &= _note(evs, ne, drained[j])
    for ev in range(2 * (s - window), 2 * (s + window)):
        for j in range(ncb[ev]):
            if cbs[ev, j] // CB == RESUME and cbs[ev, j] % CB >= 2:
                ok &= _note(procs, npr, cbs[ev, j] % CB)
    i_ev = i_pr = 0
    while ok and (i_ev < ne[0] or i_pr < npr[0]):
        if i_pr < npr[0]:
            q = procs[i_pr]
            i_pr += 1
            for ev in (p_event[q], p_req[q] if p_pc[q] > 0 else -1):  # no request before it runs
                if ev >= n2 + 4:
                    ok &= _note(evs, ne, ev)
        else:
            ev = evs[i_ev]
            i_ev += 1
            for j in range(ncb[ev]):
                if cbs[ev, j] // CB == RESUME and cbs[ev, j] % CB >= 2:
                    ok &= _note(procs, npr, cbs[ev, j] % CB)
    return ok and n_events > 0 and n_proc > 0


@njit(cache=True, nogil=True)
def encode(out, c, work, n, buffers, s, run_start, evs, procs):
    """The pipeline's state relative to the array starting tile ``s`` into ``out``; returns its
    length, or -1 when it cannot be compared (too near either end of the tiles or of the run,
    or more than :data:`MAX_REFS` things alive). ``c``: the kernel's counters (now, event id,
    events, processes, drained, put head and tail, get head and tail, channel holder, stalls
    by load and write-back, heap size)."""
    (state, ncb, cbs, get_req, heap_t, heap_k, heap_e, p_kind, p_pc, p_tile, p_event, p_req, p_t, loaded, computed,
     drained, put_q, get_q) = work
    window = buffers + 3
    n2 = 2 * n
    now, eid, n_events, n_proc = c[0], c[1], c[2], c[3]
    if s - window < run_start or s + window > n or c[4] < buffers or c[12] > MAX_REFS or \
            c[6] - c[5] > MAX_REFS or c[8] - c[7] > MAX_REFS or p_tile[0] >= s + window - 1:
        return -1
    ne = np.zeros(1, np.int64)
    npr = np.zeros(1, np.int64)
    if not _discover(c, work, n2, buffers, s, window, evs, procs, ne, npr):
        return -1
    o = 0
    out[o] = c[12]
    o += 1
    for j in range(c[12]):
        kind, v = _rel_ev(heap_e[j], n2, s, n_events)
        out[o], out[o + 1], out[o + 2] = heap_t[j] - now, heap_k[j] >> 48, (heap_k[j] & EID_BITS) - eid
        out[o + 3], out[o + 4] = kind, v
        o += 5
    out[o], out[o + 1] = c[6] - c[5], c[8] - c[7]
    o += 2
    for j in range(c[5], c[6]):
        out[o], out[o + 1] = _rel_ev(put_q[j], n2, s, n_events)
        o += 2
    for j in range(c[7], c[8]):
        out[o], out[o + 1] = _rel_ev(get_q[j], n2, s, n_events)
        out[o + 2], out[o + 3] = _rel_ev(get_req[get_q[j]], n2, s, n_events)
        o += 4
    out[o], out[o + 1] = _rel_ev(c[9], n2, s, n_events)
    o += 2
    for j in range(c[4] - buffers, c[4]):
        out[o], out[o + 1] = _rel_ev(drained[j], n2, s, n_events)
        o += 2
    out[o], out[o + 1], out[o + 2], out[o + 3] = p_pc[0], p_tile[0] - s, p_pc[1], p_t[1] - now
    o += 4
    for ev in range(2 * (s - window), 2 * (s + window)):
        out[o], out[o + 1] = state[ev], ncb[ev]
        o = _callbacks(out, o + 2, ev, ncb, cbs, n_proc)
    out[o], out[o + 1] = ne[0], npr[0]
    o += 2
    for j in range(ne[0]):
        ev = evs[j]
        out[o], out[o + 1], out[o + 2] = ev - n_events, state[ev], ncb[ev]
        o = _callbacks(out, o + 3, ev, ncb, cbs, n_proc)
    for j in range(npr[0]):
        q = procs[j]
        if p_tile[q] < run_start:  # its transfer may read a tile from before the run
            return -1
        out[o], out[o + 1], out[o + 2], out[o + 3] = q - n_proc, p_kind[q], p_pc[q], p_tile[q] - s
        out[o + 4], out[o + 5] = _rel_ev(p_event[q], n2, s, n_events)
        out[o + 6], out[o + 7] = _rel_ev(p_req[q] if p_pc[q] > 0 else -1, n2, s, n_events)
        o += 8
    return o


@njit(cache=True, nogil=True)
def _write_callbacks(enc, o, ev, ncb, cbs, n_proc):
    for j in range(3):
        kind, pk, arg = enc[o], enc[o + 1], enc[o + 2]
        cbs[ev, j] = kind * CB + (arg + n_proc if pk == 1 else arg)
        o += 3
    return o


@njit(cache=True, nogil=True)
def decode(enc, c, work, n, buffers, s):
    """Write the state ``enc`` (from :func:`encode`) back with the array starting tile ``s`` and
    the counters ``c`` (already advanced; the heap size and queue tails are set here)."""
    (state, ncb, cbs, get_req, heap_t, heap_k, heap_e, p_kind, p_pc, p_tile, p_event, p_req, p_t, loaded, computed,
     drained, put_q, get_q) = work
    window = buffers + 3
    n2 = 2 * n
    now, eid, n_events, n_proc = c[0], c[1], c[2], c[3]
    o = 0
    c[12] = enc[o]
    o += 1
    for j in range(c[12]):
        heap_t[j] = enc[o] + now
        heap_k[j] = (enc[o + 1] << 48) | (enc[o + 2] + eid)
        heap_e[j] = _abs_ev(enc[o + 3], enc[o + 4], n2, s, n_events)
        o += 5
    c[6], c[8] = c[5] + enc[o], c[7] + enc[o + 1]
    o += 2
    for j in range(c[5], c[6]):
        put_q[j] = _abs_ev(enc[o], enc[o + 1], n2, s, n_events)
        o += 2
    for j in range(c[7], c[8]):
        get_q[j] = _abs_ev(enc[o], enc[o + 1], n2, s, n_events)
        get_req[get_q[j]] = _abs_ev(enc[o + 2], enc[o + 3], n2, s, n_events)
        o += 4
    c[9] = _abs_ev(enc[o], enc[o + 1], n2, s, n_events)
    o += 2
    for j in range(c[4] - buffers, c[4]):
        drained[j] = _abs_ev(enc[o], enc[o + 1], n2, s, n_events)
        o += 2
    p_pc[0], p_tile[0], p_pc[1], p_tile[1], p_t[1] = enc[o], enc[o + 1] + s, enc[o + 2], s, enc[o + 3] + now
    o += 4
    for ev in range(2 * (s - window), 2 * (s + window)):
        state[ev], ncb[ev] = enc[o], enc[o + 1]
        o = _write_callbacks(enc, o + 2, ev, ncb, cbs, n_proc)
    ne, npr = enc[o], enc[o + 1]
    o += 2
    for _ in range(ne):
        ev = enc[o] + n_events
        state[ev], ncb[ev] = enc[o + 1], enc[o + 2]
        o = _write_callbacks(enc, o + 3, ev, ncb, cbs, n_proc)
    for _ in range(npr):
        q = enc[o] + n_proc
        p_kind[q], p_pc[q], p_tile[q] = enc[o + 1], enc[o + 2], enc[o + 3] + s
        p_event[q] = _abs_ev(enc[o + 4], enc[o + 5], n2, s, n_events)
        p_req[q] = _abs_ev(enc[o + 6], enc[o + 7], n2, s, n_events)
        o += 8


# The checks below run inside pipeline_cycles' event loop (inline: a call passing the
# kernel's arrays costs a reference count per array, several microseconds a call).

#: Counters advanced by a jump (the others are set by :func:`decode`): now, event id, events,
#: processes, drained, put head, get head, the two stalls.
SHIFTED = (0, 1, 2, 3, 4, 5, 7, 10, 11)
#: Copies of a run compared without a match before the run is left to the tile-by-tile loop.
MAX_FAILS = 16
# the fast-forward's own state (``fs``): run, copy, failed compares, next record, next template,
# tiles skipped, next tile to look at
RUN, REP, FAILS, REC, TPL, SKIPPED, NEXT = range(7)
FAST_STATE = NEXT + 1


@njit(cache=True, nogil=True)
def next_check(runs, rec_at, tpl_at, fs):
    """The array's next tile at which :func:`fast_forward` has something to do."""
    nxt = np.int64(1) << 62
    if fs[REC] < len(rec_at):
        nxt = min(nxt, rec_at[fs[REC]])
    if fs[TPL] < len(tpl_at):
        nxt = min(nxt, tpl_at[fs[TPL]])
    if fs[RUN] < len(runs):  # the next copy, or past the run once it has given up
        period = runs[fs[RUN], 1]
        nxt = min(nxt, runs[fs[RUN], 0] + (fs[REP] if fs[FAILS] < MAX_FAILS else runs[fs[RUN], 2]) * period)
    return nxt


@njit(cache=True, nogil=True, inline="always")
def _records_and_templates(c, a, work, n, buffers, rec, tpl, fs, scratch, evs, procs):
    """Record the state where asked (``rec``: tiles, encodings, counters, lengths); jump where a
    template (``tpl``: tiles, their targets and runs' first tiles, then the encodings, lengths
    and counters of another run's state at the two) matches. True after a jump."""
    rec_at, rec_enc, rec_cnt, rec_len = rec
    tpl_at, tpl_to, tpl_start, enc0, len0, cnt0, enc1, len1, cnt1 = tpl
    while fs[REC] < len(rec_at) and rec_at[fs[REC]] < a:
        fs[REC] += 1
    if fs[REC] < len(rec_at) and rec_at[fs[REC]] == a:
        rec_len[fs[REC]] = encode(rec_enc[fs[REC]], c, work, n, buffers, a, 0, evs, procs)
        rec_cnt[fs[REC]] = c
        fs[REC] += 1
    while fs[TPL] < len(tpl_at) and tpl_at[fs[TPL]] < a:
        fs[TPL] += 1
    if fs[TPL] < len(tpl_at) and tpl_at[fs[TPL]] == a:
        t = fs[TPL]
        fs[TPL] += 1
        if len0[t] >= 0 and len1[t] >= 0:
            m = encode(scratch, c, work, n, buffers, a, tpl_start[t], evs, procs)
            if m == len0[t] and np.array_equal(scratch[:m], enc0[t, :m]):
                for j in SHIFTED:
                    c[j] += cnt1[t, j] - cnt0[t, j]
                decode(enc1[t], c, work, n, buffers, tpl_to[t])
                fs[SKIPPED] += tpl_to[t] - a
                return True
    return False


@njit(cache=True, nogil=True, inline="always")
def _runs(c, a, loader_tile, work, n, buffers, runs, fs, snaps, counts, lens, evs, procs):
    """At a copy of the current run: compare the state with the previous copy's and, equal,
    jump as many copies ahead as the run's tiles allow. True after a jump."""
    while fs[RUN] < len(runs) and a >= runs[fs[RUN], 0] + runs[fs[RUN], 1] * runs[fs[RUN], 2]:
        fs[RUN] += 1
        fs[REP] = 1
        fs[FAILS] = 0
        lens[:] = -1
    moved = False
    if fs[RUN] < len(runs) and a >= runs[fs[RUN], 0] + fs[REP] * runs[fs[RUN], 1]:
        start, period, copies = runs[fs[RUN], 0], runs[fs[RUN], 1], runs[fs[RUN], 2]
        cur = fs[REP] % 2
        prev = 1 - cur
        if a == start + fs[REP] * period and fs[FAILS] < MAX_FAILS:
            counts[cur] = c
            lens[cur] = encode(snaps[cur], c, work, n, buffers, a, start, evs, procs)
            if lens[cur] >= 0 and lens[cur] == lens[prev] and \
                    np.array_equal(snaps[cur, :lens[cur]], snaps[prev, :lens[cur]]):
                k = min((start + period * copies - 1 - max(loader_tile, a)) // period, (n - buffers - 3 - a) // period)
                if k >= 1:
                    for j in SHIFTED:
                        c[j] += k * (counts[cur, j] - counts[prev, j])
                    decode(snaps[cur], c, work, n, buffers, a + k * period)
                    fs[SKIPPED] += k * period
                    a += k * period
                    moved = True
                lens[:] = -1
            elif lens[prev] >= 0:
                fs[FAILS] += 1
        else:
            lens[:] = -1
        fs[REP] = (a - start) // period + 1
    return moved


@njit(cache=True, nogil=True, inline="always")
def fast_forward(c, a, loader_tile, work, n, buffers, runs, rec, tpl, fs, snaps, counts, lens, scratch, evs, procs):
    """The pipeline's state ``c`` (counters, see :func:`encode`) with the array at tile ``a``:
    records, template jumps and run jumps due there; True when the state moved (``c`` then
    holds the new counters). Sets ``fs[NEXT]``."""
    moved = _records_and_templates(c, a, work, n, buffers, rec, tpl, fs, scratch, evs, procs)
    if not moved:
        moved = _runs(c, a, loader_tile, work, n, buffers, runs, fs, snaps, counts, lens, evs, procs)
    fs[NEXT] = next_check(runs, rec[0], tpl[0], fs)
    return moved
