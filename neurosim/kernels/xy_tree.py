"""The multicast tree of XY routes on a 2-D mesh, compiled: a many-core chip lays out one tree per
source core of every transfer, and the numpy construction cost ~100 us a call in array set-up,
most of a board run's routing time. Written by hand: it is the mesh's own geometry
(:meth:`neurosim.hw.noc.Mesh.tree` documents the tree; a property test checks every route in it)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def xy_tree(width, src, dsts, east, west, north, south):
    """(link, parent edge or -1) per edge and per destination the edge that reaches it (-1: the
    source) of the XY paths from core ``src`` to the cores ``dsts`` on a mesh ``width`` cores
    wide (link id = core * 4 + direction): the row east then west, then each destination
    column's segment up, then each one's down, columns in ascending order."""
    xs, ys = src % width, src // width
    cols = np.unique(dsts % width)
    nc = len(cols)
    top, bottom = np.full(nc, ys), np.full(nc, ys)
    col_of = np.searchsorted(cols, dsts % width)
    for d in range(len(dsts)):
        c, y = col_of[d], dsts[d] // width
        top[c], bottom[c] = max(top[c], y), min(bottom[c], y)
    n_e = max(xs, cols[-1]) - xs if nc else 0
    n_w = xs - min(xs, cols[0]) if nc else 0
    up, down = top - ys, ys - bottom
    n = n_e + n_w + up.sum() + down.sum()
    links, parents = np.empty(n, np.int64), np.empty(n, np.int64)
    row = ys * width
    for j in range(n_e):
        links[j], parents[j] = (row + xs + j) * 4 + east, j - 1
    for j in range(n_w):
        links[n_e + j], parents[n_e + j] = (row + xs - j) * 4 + west, (n_e + j - 1 if j else -1)
    at_col = np.where(cols > xs, cols - xs - 1, np.where(cols < xs, n_e + xs - cols - 1, -1))
    start_up, start_down = np.empty(nc, np.int64), np.empty(nc, np.int64)
    e = n_e + n_w
    for c in range(nc):
        start_up[c] = e
        for j in range(up[c]):
            links[e], parents[e] = ((ys + j) * width + cols[c]) * 4 + north, (at_col[c] if j == 0 else e - 1)
            e += 1
    for c in range(nc):
        start_down[c] = e
        for j in range(down[c]):
            links[e], parents[e] = ((ys - j) * width + cols[c]) * 4 + south, (at_col[c] if j == 0 else e - 1)
            e += 1
    reach = np.empty(len(dsts), np.int64)
    for d in range(len(dsts)):
        c, y = col_of[d], dsts[d] // width
        reach[d] = start_up[c] + y - ys - 1 if y > ys else (start_down[c] + ys - y - 1 if y < ys else at_col[c])
    return links, parents, reach
