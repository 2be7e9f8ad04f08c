"""The runs of repeated tiles handed to the compiled pipeline (neurosim.engine.tile_runs)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from neurosim.engine.tile_runs import repeats

# 20 fives, 1, 2, 17 threes, 5 fours, 30 sevens, then (5 nines, 2 eights) six times: 116 tiles
LOADS = np.array([5] * 20 + [1, 2] + [3] * 17 + [4] * 5 + [7] * 30 + ([9] * 5 + [8] * 2) * 6, np.int64)


def test_runs_counted_by_hand():
    """Stretches of at least 16 equal tiles, and the pattern of two stretches (7 tiles) that
    recurs six times; five fours are too few."""
    zero = np.zeros_like(LOADS)
    assert repeats(LOADS, zero, zero).tolist() == [[0, 1, 20], [22, 1, 17], [44, 1, 30], [74, 7, 6]]


def test_given_runs_come_first_and_found_runs_keep_apart():
    """A given run (tiles 40-45) keeps its place; the stretch of sevens it overlaps is left out."""
    zero = np.zeros_like(LOADS)
    got = repeats(LOADS, zero, zero, np.array([[40, 2, 3]], np.int64)).tolist()
    assert got == [[0, 1, 20], [22, 1, 17], [40, 2, 3], [74, 7, 6]]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([(1, 2, 3), (1, 2, 4), (0, 5, 0), (7, 7, 7)]), st.integers(1, 40)),
                min_size=1, max_size=30))
def test_every_run_is_copies_of_its_first_tiles_in_order_and_apart(stretches):
    tiles = np.array([t for t, n in stretches for _ in range(n)], np.int64)
    runs = repeats(*tiles.T.copy())
    ends = runs[:, 0] + runs[:, 1] * runs[:, 2]
    assert (runs[1:, 0] >= ends[:-1]).all() and (ends <= len(tiles)).all()
    for start, period, copies in runs:
        block = tiles[start:start + period * copies]
        assert (block == np.tile(tiles[start:start + period], (copies, 1))).all()
