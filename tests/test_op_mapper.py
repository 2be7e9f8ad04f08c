"""The op mapper (``mapper.objective``): candidate tilings scored by the engine's own cost model.

Oracles: a GEMM that is one pass of the array is mapped to one tile under every objective (a split
leaves array rows or columns idle); the mapper never does worse than the least-DRAM-traffic tiler on
its own objective (it scores that tiling too: hypothesis over shapes and buffer sizes); the counts
of the losing candidates never reach the results (one candidate = the tiler's run, exactly; the
op's energy = the chosen candidate's priced counts)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import make_trace, spec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurosim.api import simulate

OBJECTIVES = ("energy", "latency", "edp")


def _layer(tmp_path, name, codes, N, **over):
    return simulate(make_trace(tmp_path, codes, N), spec(name, **over)).layers[0]


def _score(layer, objective):
    e, c = layer.energy_pj["total"], layer.cycles
    return {"energy": e, "latency": c, "edp": e * c}[objective]


@pytest.mark.parametrize("name", ["tiny_mac", "tiny_acc_if"])
@pytest.mark.parametrize("objective", OBJECTIVES)
def test_a_gemm_that_fits_one_tile_is_one_tile(tmp_path, name, objective):
    # 4 tokens x 8 inputs x 8 outputs on an 8 x 8 array: one tile is one pass of the array; any split
    # leaves rows or columns idle for the same work and loads in more pieces
    codes = np.random.default_rng(0).integers(-7, 8, (4, 8)).astype(np.int8)
    layer = _layer(tmp_path / "t", name, codes, 8, **{"mapper.objective": objective, "mapper.candidates": 16})
    assert (layer.tiling["n_m"], layer.tiling["n_n"], layer.tiling["n_k"]) == (1, 1, 1)
    assert layer.mapping["objective"] == objective and 1 < layer.mapping["candidates"] <= 16


@pytest.mark.parametrize("name", ["tiny_mac", "tiny_acc_if"])
def test_losing_candidates_leave_no_counts(tmp_path, name):
    codes = np.random.default_rng(1).integers(-7, 8, (40, 96)).astype(np.int8)
    one = _layer(tmp_path / "a", name, codes, 48, **{"mapper.objective": "energy", "mapper.candidates": 1})
    legacy = _layer(tmp_path / "b", name, codes, 48, **{"mapper.objective": "dram"})
    assert one.counters == legacy.counters and one.cycles == legacy.cycles and one.tiling == legacy.tiling
    many = _layer(tmp_path / "c", name, codes, 48, **{"mapper.objective": "energy", "mapper.candidates": 8})
    assert many.energy_pj["total"] == pytest.approx(many.mapping["chosen"]["energy_pj"], rel=1e-12)
    assert many.cycles == many.mapping["chosen"]["cycles"]
    assert many.mapping["runner_up"]["score"] >= many.mapping["chosen"]["score"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["tiny_mac", "tiny_acc_if"]), st.integers(1, 48), st.integers(8, 160), st.integers(1, 64),
       st.sampled_from([0.25, 0.5, 1.0, 4.0]), st.sampled_from(OBJECTIVES), st.integers(0, 2**16))
def test_never_worse_than_the_tiler_on_its_own_objective(tmp_path_factory, name, M, K, N, kib, objective, seed):
    codes = np.random.default_rng(seed).integers(-7, 8, (M, K)).astype(np.int8)
    srams = ("act_sram", "weight_sram", "output_sram") if name == "tiny_mac" else \
        ("spike_memory.dense", "weight_sram", "membrane_store", "output_buffer")
    over = {f"{s}.size_kib": kib for s in srams}
    tmp = tmp_path_factory.mktemp("m")
    try:
        legacy = _layer(tmp / "a", name, codes, N, **over, **{"mapper.objective": "dram"})
    except Exception as e:  # a buffer too small for any tiling: both refuse alike
        with pytest.raises(type(e)):
            _layer(tmp / "b", name, codes, N, **over, **{"mapper.objective": objective})
        return
    mapped = _layer(tmp / "b", name, codes, N, **over, **{"mapper.objective": objective, "mapper.candidates": 4})
    assert _score(mapped, objective) <= _score(legacy, objective) * (1 + 1e-12)
