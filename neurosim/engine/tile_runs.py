"""Where a pipeline's tiles repeat: the runs the compiled pipeline may fast-forward.

A MAC op's tiles are few distinct tiles in a loop nest (127 equal interior tiles and one edge
tile, over and over); a decode step repeats each folded op once per layer. A run is ``R`` copies
of ``L`` tiles from ``start``; :mod:`neurosim.kernels.pipeline_period` skips copies once the
pipeline's state repeats, so a run is a hint (a wrong one costs time, never a wrong number).
Found on the tiles' run-length encoding: a pattern of ``Q`` stretches of equal tiles that
recurs (value and length), else a single long stretch of equal tiles.
"""

from __future__ import annotations

import numpy as np

#: Fewest copies of a pattern worth handing to the compiled loop as a run.
MIN_COPIES = 4
#: Fewest copies of a single tile worth a run of its own (each copy may cost a state compare).
MIN_SAME = 16
#: Fewest tiles searched for repeats.
FEWEST_TILES = 64
#: Tiles at the start of a long array probed for repeats before the whole is searched.
PROBE = 1024
#: Longest pattern, in stretches of equal tiles, looked for.
MAX_STRETCHES = 8


def _stretches(columns: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(first tile, length) of each stretch of equal consecutive tiles (``columns``: the tiles'
    fields)."""
    n = len(columns[0])
    change = np.zeros(n, bool)
    change[:1] = True
    for c in columns:
        change[1:] |= c[1:] != c[:-1]
    first = np.flatnonzero(change)
    return first, np.diff(np.append(first, n))


def _pattern_runs(first: np.ndarray, length: np.ndarray, stretch: tuple[np.ndarray, ...], q: int) -> np.ndarray:
    """Runs made of a recurring pattern of ``q`` stretches (rows ``start, L, R``); ``stretch``:
    each stretch's array time, load, write-back and length."""
    if len(first) <= q:
        return np.empty((0, 3), np.int64)
    same = np.flatnonzero(stretch[0][q:] == stretch[0][:-q])  # the array time first: it tells most apart
    for col in stretch[1:]:
        same = same[col[same + q] == col[same]]
    eq = np.zeros(len(first) - q, bool)  # stretch j is stretch j + q again
    eq[same] = True
    edges = np.flatnonzero(np.diff(np.concatenate(([0], eq.view(np.int8), [0]))))
    runs = []
    for a, b in zip(edges[0::2], edges[1::2], strict=True):  # stretches a .. b + q - 1 recur
        copies = (b - a + q) // q
        if copies >= MIN_COPIES:
            runs.append((first[a], int(length[a:a + q].sum()), copies))
    return np.array(runs, np.int64).reshape(-1, 3)


def _promising(busy_cycles: np.ndarray) -> bool:
    """Whether the array times repeat at all at a short distance in the first :data:`PROBE`
    tiles (an IF op's tiles, whose times follow their spikes, almost never do): a long array
    that does not is not searched."""
    if len(busy_cycles) < 4 * PROBE:
        return True
    probe = busy_cycles[:PROBE]
    return max(int((probe[d:] == probe[:-d]).sum()) for d in range(1, MAX_STRETCHES + 1)) >= PROBE // 8


def repeats(load_bits: np.ndarray, busy_cycles: np.ndarray, writeback_bits: np.ndarray,
            given: np.ndarray | None = None) -> np.ndarray:
    """``given`` runs and the runs found outside them, in order: the recurring pattern that
    covers most tiles, then long stretches of one tile the pattern leaves (none in fewer than
    :data:`FEWEST_TILES` tiles, not worth the search, nor in a long array whose start does
    not repeat)."""
    none = np.empty((0, 3), np.int64) if given is None else given
    if len(busy_cycles) < FEWEST_TILES or not _promising(busy_cycles):
        return none
    first, length = _stretches((busy_cycles, load_bits, writeback_bits))
    stretch = (busy_cycles[first], load_bits[first], writeback_bits[first], length)
    best = np.empty((0, 3), np.int64)
    for q in range(2, MAX_STRETCHES + 1):
        runs = _pattern_runs(first, length, stretch, q)
        if (runs[:, 1] * runs[:, 2]).sum() > (best[:, 1] * best[:, 2]).sum():
            best = runs
    taken = none
    for rows in (best, np.stack([first, np.ones_like(first), length], axis=1)[length >= MIN_SAME]):
        taken = np.concatenate([taken, _apart(rows.astype(np.int64), taken)])
        taken = taken[np.argsort(taken[:, 0], kind="stable")]
    return taken


def _apart(rows: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """The runs of ``rows`` that overlap none of ``taken`` (which are in order and apart)."""
    if not len(taken) or not len(rows):
        return rows
    ends = taken[:, 0] + taken[:, 1] * taken[:, 2]
    nxt = np.searchsorted(ends, rows[:, 0], side="right")  # the first taken run ending after a row starts
    row_ends = rows[:, 0] + rows[:, 1] * rows[:, 2]
    clash = (nxt < len(taken)) & (taken[np.minimum(nxt, len(taken) - 1), 0] < row_ends)
    return rows[~clash]
