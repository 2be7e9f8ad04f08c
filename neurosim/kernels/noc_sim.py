"""When messages cross the mesh: a compiled event simulation of link contention.

Each message is a tree of link crossings (edges, :class:`neurosim.hw.noc.Routed`). Its head asks for
the first link ``router`` cycles after it is ready (the source router's pipeline); a link carries
one message at a time, until its tail has left (``flits`` x the link's cycles per flit, and no
sooner than the tail came off the link before); the head asks for the next link ``link latency +
router`` cycles after it started on the previous one (virtual cut-through: a blocked message waits
whole in the router's buffer). Links may differ (a board's chip-to-chip links). A link serves its
requests oldest first, ties by edge index (edges are numbered message by message, so by message,
then edge); requests are handled in that global order,
so each takes the link's next free cycle. Equal cycle for cycle to the cycle-stepped simpy arbiter
of :mod:`neurosim.engine.noc_reference` (a property test). Written by hand: no library simulates
link contention over explicit routes at this speed (BookSim and Garnet are C++ flit-level simulators
driven by synthetic traffic, not trees of our messages)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _push(h, n, key):
    h[n] = key
    i = n
    while i > 0:
        p = (i - 1) >> 1
        if h[i] >= h[p]:
            break
        h[i], h[p] = h[p], h[i]
        i = p
    return n + 1


@njit(cache=True)
def _pop(h, n):
    """(entries left, the least entry)."""
    n -= 1
    top = h[0]
    h[0] = h[n]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and h[c + 1] < h[c]:
            c += 1
        if h[i] <= h[c]:
            break
        h[i], h[c] = h[c], h[i]
        i = c
    return n, top


def key_span(edge_link: np.ndarray, edge_msg: np.ndarray, msg_ready: np.ndarray, msg_flits: np.ndarray,
             router_cycles: int, link_lat: np.ndarray, link_cpf: np.ndarray, free: np.ndarray) -> int:
    """An upper bound on how far past the first head's request any time of a call can lie: the
    links' latest free cycle, plus every crossing's flits, latency and router (each time is an
    earlier one plus one crossing's)."""
    if not len(edge_link):
        return 0
    first = int(msg_ready.min()) + router_cycles
    late = max(int(free[edge_link].max()), int(msg_ready.max()) + router_cycles) - first
    work = msg_flits[edge_msg] * link_cpf[edge_link] + link_lat[edge_link] + router_cycles
    return late + int(work.sum(dtype=np.float64).item()) + 1


@njit(cache=True)
def noc_kernel(edge_link: np.ndarray, edge_parent: np.ndarray, edge_msg: np.ndarray, msg_ready: np.ndarray,
               msg_flits: np.ndarray, router_cycles: int, link_lat: np.ndarray, link_cpf: np.ndarray,
               free: np.ndarray):
    """(start cycle of each edge, cycles its head waited for the link, busy cycles per link, the
    cycle each edge's tail left its link). A link takes ``link_cpf`` cycles per flit and its
    head ``link_lat`` cycles to cross; a message holds a link until its tail has left it, which is
    no sooner than its flits allow nor than the tail arrived from the link before (a slower link
    upstream paces the ones after it). ``free[link]``: the cycle each link is next free, updated
    in place (a later call's messages queue behind this call's). Requests wait in one heap of
    int64 keys ``(cycle - first) * (edges + 1) + edge`` (the caller checks with :func:`key_span`
    that they fit)."""
    n_e = edge_link.shape[0]
    n_child = np.zeros(n_e + 1, np.int64)
    for c in range(n_e):
        if edge_parent[c] >= 0:
            n_child[edge_parent[c] + 1] += 1
    off = np.cumsum(n_child)
    child = np.empty(max(off[-1], 1), np.int64)
    fill = off[:-1].copy()
    for c in range(n_e):
        p = edge_parent[c]
        if p >= 0:
            child[fill[p]] = c
            fill[p] += 1
    h = np.empty(max(n_e, 1), np.int64)
    stride = n_e + 1
    first = msg_ready.min() + router_cycles if msg_ready.shape[0] else 0
    n = 0
    for c in range(n_e):
        if edge_parent[c] < 0:
            n = _push(h, n, (msg_ready[edge_msg[c]] + router_cycles - first) * stride + c)
    busy = np.zeros(free.shape[0], np.int64)
    start, wait, tail = np.zeros(n_e, np.int64), np.zeros(n_e, np.int64), np.zeros(n_e, np.int64)
    while n > 0:
        n, key = _pop(h, n)
        t, c = key // stride + first, key % stride
        lk, f, p = edge_link[c], msg_flits[edge_msg[c]], edge_parent[c]
        s = max(t, free[lk])
        end = s + f * link_cpf[lk]
        if p >= 0:
            end = max(end, tail[p] + link_lat[edge_link[p]] + router_cycles)
        start[c], wait[c], tail[c] = s, s - t, end
        free[lk] = end
        busy[lk] += end - s
        for k in range(off[c], off[c + 1]):
            n = _push(h, n, (s + link_lat[lk] + router_cycles - first) * stride + child[k])
    return start, wait, busy, tail
