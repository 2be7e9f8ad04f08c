"""MAC schemes are modules behind registries: a new organisation is one file plus its
registration (the toy of tests/toy_mac_scheme.py runs end to end with hand-counted results),
and a name registered twice or unknown is an error."""

import dataclasses
import math

import numpy as np
import pytest
from helpers import BIG_MAC_SRAMS, make_trace, spec

from neurosim.api import simulate
from neurosim.config.energy_table import load_energy_table
from neurosim.engine.mac_schemes import ORGANISATIONS, SALIENT_CLASSES, organisation_for
from neurosim.engine.mac_schemes.os_grid import OsGrid
from neurosim.trace import Recipe


def test_a_toy_organisation_in_one_file_runs_end_to_end(tmp_path):
    """10 tokens x 20 inputs x 12 outputs on the 8x8 array, one tile: 2 row groups x 2 column
    folds of exactly K = 20 cycles each; every product counted once, four fold starts, each
    priced by the toy's own pJ function; the array computes the integer GEMM (check)."""
    import toy_mac_scheme  # noqa: F401 (registers toy_ideal)

    base = spec("tiny_mac", **BIG_MAC_SRAMS)
    s = dataclasses.replace(base, array=dataclasses.replace(base.array, column="toy_ideal"))
    rng = np.random.default_rng(0)
    codes, w = rng.integers(-7, 8, (10, 20)).astype(np.int8), rng.integers(-7, 8, (20, 12)).astype(np.int8)
    path = make_trace(tmp_path / "t", codes, 12, weights=w, recipe=Recipe(salient_bits=4, salient_rule="none"))
    r = simulate(path, s, check=True)
    (layer,) = r.layers
    assert layer.compute_cycles == 2 * 2 * 20
    zeros = int((codes == 0).sum())  # their products gated (array.zero_gating, on by default)
    assert (layer.counters["mac_array.mac"], layer.counters["mac_array.mac_gated"]) == ((200 - zeros) * 12, zeros * 12)
    assert layer.counters["mac_array.fold_start"] == 4
    assert layer.counters["mac_array.mac_extra_pass"] == layer.counters["mac_array.digit_add"] == 0
    assert r.energy_table_pj["mac_array.fold_start"] == load_energy_table(s.technology)["register_bit"] * 64
    assert layer.energy_by_action_pj["mac_array.fold_start"] == \
        pytest.approx(4 * r.energy_table_pj["mac_array.fold_start"])
    assert layer.check["accumulation_mismatches"] == 0
    # its operands read once per fold: both row groups' activations for each column fold, every weight per row group
    assert layer.memory["act_sram"]["read_bits"] == 2 * 10 * 20 * 4
    assert layer.memory["weight_sram"]["read_bits"] == 2 * 20 * 12 * 4
    assert math.isclose(layer.spatial_utilization, layer.counters["mac_array.mac"] / (64 * layer.cycles))


def test_a_name_registered_twice_is_an_error():
    with pytest.raises(ValueError, match="'os_grid' is registered twice"):
        ORGANISATIONS.register("os_grid")(type("Other", (OsGrid,), {}))
    assert ORGANISATIONS["os_grid"] is OsGrid


def test_every_config_value_has_its_scheme_and_an_unknown_one_is_named():
    assert {"os_grid", "ws_grid", "adder_tree"} <= ORGANISATIONS.keys()
    assert {"passes", "outlier_path"} <= SALIENT_CLASSES.keys()
    for name, over in [("tiny_mac", {}), ("tiny_mac", {"array.dataflow": "ws"}), ("mac_64x64_ws_tree", {})]:
        a = spec(name, **over).array
        assert organisation_for(a).weight_stationary == (a.dataflow == "ws")
    with pytest.raises(ValueError, match="no MAC array organisation 'nope'"):
        organisation_for(dataclasses.replace(spec("tiny_mac").array, column="nope"))


@pytest.mark.parametrize("seed", range(4))
def test_zero_codes_per_tile_are_counted_tile_by_tile(seed):
    """The MAC's zero operands per tile (one pass per tensor, blocks of Kb channels summed over
    Mb tokens) equal a count over each tile's own codes, partial edge tiles included."""
    from neurosim.kernels.acc_tile import zero_counts

    rng = np.random.default_rng(seed)
    M, K = rng.integers(1, 40, 2)
    Mb, Kb = int(rng.integers(1, M + 1)), int(rng.integers(1, K + 1))
    codes = rng.choice([-9, -1, 0, 0, 1, 7], (M, K)).astype(np.int8)
    tiles = np.add.reduceat(zero_counts(codes, Kb), np.arange(0, M, Mb), axis=0)
    assert tiles.shape == (math.ceil(M / Mb), math.ceil(K / Kb))
    for m in range(tiles.shape[0]):
        for k in range(tiles.shape[1]):
            block = codes[m * Mb:(m + 1) * Mb, k * Kb:(k + 1) * Kb]
            assert tiles[m, k] == block.size - np.count_nonzero(block)
