"""Engine: analytic oracles, SCALE-Sim agreement, conservation, properties, energy coverage."""

import math
from pathlib import Path

import numpy as np
import pytest
from helpers import BIG_MAC_SRAMS, BIG_SRAMS, HANG_GUARD_S, ROOT, make_trace, spec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurosim.api import simulate
from neurosim.config.energy_table import load_energy_table
from neurosim.config.hw import sram_specs
from neurosim.engine.designs import design_energies
from neurosim.trace import Recipe
from neurosim.trace.reader import open_trace
from neurosim.units import ceil_div

PLAIN = Recipe(salient_bits=4, salient_rule="none")  # W4A4, no salient codes


def _one_layer(r):
    assert len(r.layers) == 1
    return r.layers[0]


# --- analytic oracles -------------------------------------------------------------------------

@pytest.mark.parametrize("M,K,N,c", [(5, 64, 16, 3), (7, 40, 20, 7), (3, 8, 8, 1)])
def test_acc_time_stepped_dense_closed_form(tmp_path, M, K, N, c):
    """Constant codes c: every step costs c cycles; no stalls inside the tile when the SRAMs
    are fast; weight sub-tile loads and the single DRAM load/writeback are closed forms."""
    s = spec("tiny_acc_if", **BIG_SRAMS, **{"dram.bandwidth_gbps": 1000, "weight_sram.banks": 64,
                                            "membrane_store.banks": 64, "output_buffer.banks": 64})
    R, C = s.array.rows, s.array.cols
    codes = np.full((M, K), c, np.int8)
    layer = _one_layer(simulate(make_trace(tmp_path / "t", codes, N, recipe=PLAIN), s))
    assert layer.tiling["n_m"] == layer.tiling["n_n"] == layer.tiling["n_k"] == 1
    assert layer.compute_cycles == M * ceil_div(K, R) * ceil_div(N, C) * c
    wbw = s.weight_sram.banks * s.weight_sram.ports * s.weight_sram.width_bits
    loads = sum(ceil_div(min(R, K - k) * min(C, N - n) * s.array.weight_bits, wbw)
                for k in range(0, K, R) for n in range(0, N, C))
    assert layer.stall_cycles["weight_tile_load"] == loads
    for cause in ("spike_memory", "membrane_store", "weight_sram"):
        assert layer.stall_cycles[cause] == 0
    # totals: one load, compute, one writeback, nothing overlaps in a single-tile layer
    assert layer.cycles == layer.compute_cycles + sum(layer.stall_cycles.values())
    assert layer.counters["array.accumulate"] + layer.counters["array.tree_add"] == M * K * c * N


@pytest.mark.parametrize("M,K,N,c", [(5, 64, 16, 3), (2, 40, 20, 1), (9, 24, 20, 2)])
def test_acc_double_buffered_weight_loads_closed_form(tmp_path, M, K, N, c):
    """weight_buffers 2, constant codes c and fast SRAMs: each sub-tile's steps take M x c
    cycles, and each weight sub-tile load (N sub-tiles outer, K sub-tiles inner) stalls only by
    what outlasts the steps before it; the first load stalls whole. One buffer: every load."""
    over = {**BIG_SRAMS, "dram.bandwidth_gbps": 1000, "weight_sram.banks": 1, "weight_sram.width_bits": 8,
            "membrane_store.banks": 64, "output_buffer.banks": 64}
    codes = np.full((M, K), c, np.int8)
    path = make_trace(tmp_path / "t", codes, N, recipe=PLAIN)
    one = _one_layer(simulate(path, spec("tiny_acc_if", **over)))
    s = spec("tiny_acc_if", **over, **{"array.weight_buffers": 2})
    two = _one_layer(simulate(path, s))
    R, C = s.array.rows, s.array.cols
    assert two.tiling == one.tiling and two.tiling["n_k"] == two.tiling["n_n"] == 1
    loads = [ceil_div(min(R, K - k) * min(C, N - n) * s.array.weight_bits, 8)
             for n in range(0, N, C) for k in range(0, K, R)]
    assert one.stall_cycles["weight_tile_load"] == sum(loads)
    assert two.stall_cycles["weight_tile_load"] == loads[0] + sum(max(0, b - M * c) for b in loads[1:])
    assert two.compute_cycles == one.compute_cycles and two.counters == one.counters


@pytest.mark.parametrize("column", ["adder_tree", "per_spike"])
def test_acc_column_datapath_hand_counted(tmp_path, column):
    """One token, 16 channels on 8 lanes x 8 columns, codes 1..3 and one 5: row group 0 holds
    (1, 2, 3, 0, 0, 0, 0, 5) = 11 spikes over max 5 cycles, group 1 all 1s = 8 spikes in 1 cycle.
    adder_tree: each column writes its membrane once per cycle with a spike (5 + 1 cycles x 8
    columns = 48 writes) and the other 19 x 8 - 48 = 104 adds are narrow tree adds; per_spike:
    every one of the 19 x 8 spike-adds writes the membrane."""
    codes = np.array([[1, 2, 3, 0, 0, 0, 0, 5] + [1] * 8], np.int8)
    s = spec("tiny_acc_if", **BIG_SRAMS, **{"array.column": column})
    layer = _one_layer(simulate(make_trace(tmp_path / "t", codes, 8), s))
    assert layer.compute_cycles == 5 + 1
    writes = 6 * 8 if column == "adder_tree" else 19 * 8
    assert layer.counters["array.accumulate"] == writes
    assert layer.counters["array.reg_bits"] == writes * s.array.membrane_bits
    assert layer.counters.get("array.tree_add", 0) == 19 * 8 - writes


@pytest.mark.parametrize("reads", ["per_code", "per_spike"])
def test_acc_event_queue_weight_reads_hand_counted(tmp_path, reads):
    """A salient 100 on channel 0 and 1s on channels 1-7 of an 8-lane row group: 107 spikes.
    per_code: 8 weight-row reads (one per nonzero code), the step lasts max(ceil(107/8), 100) =
    100 cycles (the 100 spikes stay in the lane that latched channel 0's row); per_spike: 107 row
    reads, 100 of them on channel 0's bank, one row word per cycle: 100 cycles of weight reads
    on that bank, ceil(107/8) = 14 cycles of compute."""
    codes = np.array([[100, 1, 1, 1, 1, 1, 1, 1]], np.int8)
    s = spec("tiny_acc_if", **BIG_SRAMS, **{"array.dispatch": "event_queue", "array.weight_reads": reads})
    layer = _one_layer(simulate(make_trace(tmp_path / "t", codes, 8), s))
    words = -(-8 * s.array.weight_bits // s.weight_sram.width_bits)
    if reads == "per_code":
        assert layer.memory["weight_sram"]["reads"] == 8 * words
        assert layer.compute_cycles == 100
    else:
        assert layer.memory["weight_sram"]["reads"] == 107 * words
        assert layer.compute_cycles == 14
        bank0 = 100 + sum(1 for i in range(1, 8) if i % s.weight_sram.banks == 0)  # channel i in bank i mod B
        assert layer.compute_cycles + layer.stall_cycles["weight_sram"] == -(-bank0 * words // s.weight_sram.ports)


def test_acc_salient_value_stalls_its_row_group(tmp_path):
    s = spec("tiny_acc_if", **BIG_SRAMS)
    codes = np.ones((1, 16), np.int8)
    base = _one_layer(simulate(make_trace(tmp_path / "a", codes, 8), s)).compute_cycles
    codes[0, 3] = 40  # a salient code in the first row group of 8 lanes
    salient = _one_layer(simulate(make_trace(tmp_path / "b", codes, 8), s)).compute_cycles
    assert base == 2 and salient == 40 + 1
    eq = _one_layer(simulate(make_trace(tmp_path / "c", codes, 8), spec("tiny_acc_if", **BIG_SRAMS, **{
        "array.dispatch": "event_queue", "array.weight_reads": "per_spike"}))).compute_cycles
    assert eq == ceil_div(7 + 40, 8) + 1  # total spikes over the 8 lanes, per row group
    latched = _one_layer(simulate(make_trace(tmp_path / "d", codes, 8), spec("tiny_acc_if", **BIG_SRAMS, **{
        "array.dispatch": "event_queue"}))).compute_cycles
    assert latched == 40 + 1  # the 40 spikes stay in the lane holding their weight row


def test_acc_bitplane_cycles_are_planes(tmp_path):
    s = spec("tiny_acc_if", **BIG_SRAMS, **{"array.encoding": "bitplane"})
    codes = np.array([[5, 2, 0, 0, 0, 0, 0, 0]], np.int8)  # planes: 5|2 = 0b111 -> 3
    layer = _one_layer(simulate(make_trace(tmp_path / "t", codes, 8), s))
    assert layer.compute_cycles == 3
    assert layer.counters["array.accumulate"] == (2 + 1) * 8  # popcount(5) + popcount(2) spikes x 8 outputs
    assert layer.counters["array.plane_shift"] == 2 * 8


def test_zero_codes_are_skipped(tmp_path):
    s = spec("tiny_acc_if", **BIG_SRAMS)
    layer = _one_layer(simulate(make_trace(tmp_path / "t", np.zeros((4, 16), np.int8), 8), s))
    assert layer.compute_cycles == 0 and layer.counters["array.accumulate"] == 0


# SCALE-Sim v3 compute cycles (shared/references/peers.md §2.1, measured): 32x32 OS and
# 128x128 WS on M x K x N GEMMs; SCALE-Sim counts one cycle fewer per layer.
SCALESIM = [("os", 32, 16, 256, 256, 2543), ("os", 32, 128, 4096, 4096, 2128895),
            ("ws", 128, 16, 256, 256, 1591), ("ws", 128, 128, 4096, 4096, 522239)]


@pytest.mark.parametrize("flow,size,M,K,N,scalesim", SCALESIM)
def test_mac_fold_model_matches_scalesim_v3(tmp_path, flow, size, M, K, N, scalesim):
    s = spec("mac_64x64_os", **BIG_MAC_SRAMS, **{"array.dataflow": flow, "array.rows": size, "array.cols": size})
    codes = np.random.default_rng(0).integers(-7, 8, (M, K)).astype(np.int8)
    layer = _one_layer(simulate(make_trace(tmp_path / "t", codes, N, recipe=PLAIN), s, verify=False))
    assert layer.tiling["n_m"] * layer.tiling["n_n"] * layer.tiling["n_k"] == 1
    assert layer.compute_cycles == scalesim + 1
    assert abs(layer.compute_cycles - scalesim) / scalesim < 0.02
    assert layer.counters["mac_array.mac"] + layer.counters["mac_array.mac_gated"] == M * K * N
    assert layer.counters["mac_array.mac_gated"] == int((codes == 0).sum()) * N
    assert layer.counters["mac_array.mac_extra_pass"] == 0


def test_mac_salient_codes_take_digit_passes(tmp_path):
    s = spec("tiny_mac", **BIG_MAC_SRAMS)
    codes = np.ones((8, 16), np.int8)
    codes[2, 5] = 100  # 8-bit two's complement: an unsigned low nibble and a signed high nibble
    layer = _one_layer(simulate(make_trace(tmp_path / "t", codes, 8), s))
    fold = 16 + 8 + 8 - 2
    assert layer.compute_cycles == 2 * fold
    assert layer.counters["mac_array.mac"] == 8 * 16 * 8
    assert layer.counters["mac_array.mac_extra_pass"] == 1 * 8 * 16 * 8
    codes[2, 5] = -8  # fits one 4-bit signed operand: no extra pass
    layer = _one_layer(simulate(make_trace(tmp_path / "u", codes, 8), s))
    assert layer.compute_cycles == fold and layer.counters["mac_array.mac_extra_pass"] == 0


@pytest.mark.parametrize("qmin,qmax,bits,passes", [(0, 0, 4, 1), (-8, 7, 4, 1), (-9, 7, 4, 2), (-8, 8, 4, 2),
                                                   (-127, 127, 4, 2), (-128, 127, 4, 2), (-127, 127, 2, 4),
                                                   (-127, 127, 3, 3), (-127, 127, 8, 1), (-2, 1, 2, 1)])
def test_mac_passes_hand_counted(qmin, qmax, bits, passes):
    from neurosim.kernels.mac_fold import passes_needed

    assert passes_needed(qmin, qmax, bits) == passes


@settings(deadline=None)  # the first example compiles the integer GEMM kernel
@given(codes=st.lists(st.integers(-128, 127), min_size=1, max_size=40), bits=st.integers(2, 8))
def test_mac_digits_recombine_exactly_within_operand_ranges(codes, bits):
    from neurosim.kernels.functional import mac_digit_gemm, operand_digits

    q = np.array([codes], np.int8)
    digits = operand_digits(q, bits)
    for d in digits[:-1]:
        assert 0 <= d.min() and d.max() < 1 << bits
    assert -(1 << (bits - 1)) <= digits[-1].min() and digits[-1].max() < 1 << (bits - 1)
    w = np.arange(-3, 3, dtype=np.int8).reshape(1, 6).repeat(len(codes), axis=0)
    np.testing.assert_array_equal(mac_digit_gemm(q, w, bits), q.astype(np.int64) @ w.astype(np.int64))


# --- conservation -----------------------------------------------------------------------------

CONSERVATION_MODES = [
    pytest.param(d, e, mode, id=f"{d}-{e}-{name}")
    for d, e in [("time_stepped", "count"), ("event_queue", "count"), ("time_stepped", "bitplane"),
                 ("event_queue", "bitplane")]
    for name, mode in [("default", {}), ("os", {"array.membrane_tokens": 4}), ("per_spike", {"array.column": "per_spike"}),
                       ("reads", {"array.weight_reads": "per_spike"})]
] + [pytest.param("time_stepped", "count", {"array.lane_skew": w}, id=f"skew{w}") for w in (1, 3)]


@pytest.mark.parametrize("side", [0, 4])
@pytest.mark.parametrize("dispatch,encoding,mode", CONSERVATION_MODES)
def test_conservation_acc(tmp_path, dispatch, encoding, side, mode):
    rng = np.random.default_rng(3)
    codes = rng.integers(-7, 8, (24, 100)).astype(np.int8)
    codes[rng.random(codes.shape) < 0.03] = 90
    N = 44
    s = spec("tiny_acc_if", **BIG_SRAMS, **{"array.dispatch": dispatch, "array.encoding": encoding,
                                            "array.salient_lanes": side, **mode})
    layer = _one_layer(simulate(make_trace(tmp_path / "t", codes, N), s))
    a = np.abs(codes.astype(np.int64))
    spikes = int(a.sum()) if encoding == "count" else int(sum(bin(int(x)).count("1") for x in a.ravel()))
    # spikes x fan-out adds: the tree's narrow adds plus one membrane add per column and cycle,
    # plus the side lanes' adds
    side_adds = layer.counters.get("salient_lanes.accumulate", 0)
    assert layer.counters["array.accumulate"] + layer.counters.get("array.tree_add", 0) + side_adds == spikes * N
    assert (side_adds > 0) == (side > 0)
    if s.array.column == "adder_tree":  # one membrane add per column, cycle and token in flight at most
        assert layer.counters["array.accumulate"] <= layer.compute_cycles * s.array.cols * max(1, s.array.lane_skew)
    assert layer.counters["array.reg_bits"] == layer.counters["array.accumulate"] * s.array.membrane_bits
    if dispatch == "event_queue":  # every main-lane spike is queued once per N sub-tile of C columns
        main = spikes - side_adds // N
        assert layer.counters["event_queue.push"] == layer.counters["event_queue.pop"] == main * ceil_div(N, 8)
    assert layer.energy_pj["total"] == pytest.approx(sum(v for k, v in layer.energy_pj.items() if k != "total"))
    assert layer.cycles == layer.compute_cycles + sum(layer.stall_cycles.values())
    entry = s.spike_memory.salient.code_bits + s.spike_memory.salient.index_bits
    assert layer.memory["spike_salient"]["write_bits"] == int((a > 7).sum()) * entry
    assert layer.memory["spike_dense"]["write_bits"] == codes.size * 4
    assert layer.counters["threshold.compare"] == 24 * N


def _dram_reads_expected(M, K, N, t, act_bits_per_code, act_scale_bits):
    """Loads implied by a tiling. K unsplit: act tiles once per M tile (mnk) or once per
    (N tile, M tile) (nmk, unless one M tile); weight tiles the other way round. K split: every
    tile changes at every step, so acts are loaded once per N tile and weights once per M tile.
    Per-token act scales travel with every act tile, per-channel weight scales with the first K tile."""
    if t["n_k"] == 1:
        act_times = 1 if (t["order"] == "mnk" or t["n_m"] == 1) else t["n_n"]
        w_times = 1 if (t["order"] == "nmk" or t["n_n"] == 1) else t["n_m"]
    else:
        act_times, w_times = t["n_n"], t["n_m"]
    return (act_times * M * (K * act_bits_per_code + t["n_k"] * act_scale_bits)
            + w_times * (K * N * 4 + N * 16))


@pytest.mark.parametrize("name,srams", [
    ("tiny_acc_if", {"weight_sram.size_kib": 2}),                      # weights split, acts whole
    ("tiny_acc_if", {"weight_sram.size_kib": 2, "spike_memory.dense.size_kib": 1}),  # both split
    ("tiny_mac", {"weight_sram.size_kib": 2}),
    ("tiny_mac", {"weight_sram.size_kib": 2, "act_sram.size_kib": 1}),
])
def test_dram_bits_match_trace_and_tiling(tmp_path, name, srams):
    """No salient codes and byte-sized bursts: DRAM bits are exactly the tiles' sizes times
    how often the tiling loads them, plus one write of every output."""
    M, K, N = 40, 96, 72
    codes = np.random.default_rng(1).integers(-7, 8, (M, K)).astype(np.int8)
    unit = "threshold" if name == "tiny_acc_if" else "requant"
    s = spec(name, **srams, **{"dram.burst_bytes": 1, f"{unit}.output_scale": "static"})
    layer = _one_layer(simulate(make_trace(tmp_path / "t", codes, N, recipe=PLAIN), s))
    t = layer.tiling
    assert t["n_n"] > 1
    act_scale_bits = 16 if name == "tiny_mac" else 0
    assert layer.memory["dram"]["read_bits"] == _dram_reads_expected(M, K, N, t, 4, act_scale_bits)
    assert layer.memory["dram"]["write_bits"] == M * N * 4


# --- properties -------------------------------------------------------------------------------

@st.composite
def code_blocks(draw):
    M, K = draw(st.integers(1, 6)), draw(st.integers(1, 40))
    vals = draw(st.lists(st.integers(-127, 127), min_size=M * K, max_size=M * K))
    return np.array(vals, np.int8).reshape(M, K)


@settings(max_examples=30, deadline=None)
@given(codes=code_blocks(), lanes=st.integers(1, 9), bitplane=st.booleans(), eq=st.booleans(),
       banks=st.integers(1, 4), first=st.booleans(), last=st.booleans(), per_code=st.booleans(), side=st.booleans())
def test_acc_kernel_equals_py_func(codes, lanes, bitplane, eq, banks, first, last, per_code, side):
    from unittest import mock

    from neurosim.kernels import acc_tile
    mem = np.arange(8, dtype=np.int64).reshape(2, 4)
    args = (codes, 1, 1, np.zeros(1, np.int64), np.zeros(1, np.int64), *codes.shape, lanes, bitplane, eq, 7, 4, 32,
            24, 32, mem, np.array([2, 1], np.int64), banks, 1, first, last, per_code, side, 2)
    a = acc_tile.acc_blocks_kernel(*args)
    with mock.patch.object(acc_tile, "_walk_block", acc_tile._walk_block.py_func):  # the walk itself in Python
        b = acc_tile.acc_blocks_kernel.py_func(*args)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert (a[2][0].sum(axis=(1, 2)) == a[0][0][:, 0]).all()  # the busy cycles by token group and K-tile add up


@settings(max_examples=30, deadline=None)
@given(codes=code_blocks(), Mb=st.integers(1, 4), Kb=st.integers(1, 20), lanes=st.integers(1, 9),
       bitplane=st.booleans(), eq=st.booleans(), banks=st.integers(1, 4))
def test_blocks_walked_in_place(codes, Mb, Kb, lanes, bitplane, eq, banks):
    """The in-place walk of a tensor's blocks is the walk of each block's copy (its banks counted
    from its first channel), and the blocks' spike totals are the tensor's (closed form)."""
    from neurosim.kernels.acc_tile import NONZERO, SALIENT, SPIKES, acc_blocks_kernel
    M, K = codes.shape
    mem, words = np.arange(8, dtype=np.int64).reshape(2, 4), np.array([2, 1], np.int64)
    tail = (lanes, bitplane, eq, 7, 4, 32, 24, 32, mem, words, banks, 1, True, False, True, False, 2)
    spikes = 0
    for m0 in range(0, M, Mb):
        for k0 in range(0, K, Kb):
            block = np.ascontiguousarray(codes[m0:m0 + Mb, k0:k0 + Kb])
            one = acc_blocks_kernel(block, 1, 1, np.array([0]), np.array([0]), *block.shape, *tail)  # a copy
            many = acc_blocks_kernel(codes, Mb, Kb, np.array([m0 // Mb]), np.array([k0 // Kb]), *block.shape, *tail)
            for x, y in zip(one, many, strict=True):
                np.testing.assert_array_equal(x, y)
            spikes += many[1][0]
    a = np.abs(codes.astype(np.int64))
    planes = np.array([bin(v).count("1") for v in range(256)])[a] if bitplane else a
    assert spikes[SPIKES] == planes.sum() and spikes[NONZERO] == (a > 0).sum() and spikes[SALIENT] == (a > 7).sum()


@settings(max_examples=30, deadline=None)
@given(codes=code_blocks(), rows=st.integers(1, 9), bits=st.sampled_from([2, 4, 8]))
def test_mac_kernels_equal_py_func(codes, rows, bits):
    from neurosim.kernels.mac_fold import col_group_passes, row_group_passes
    np.testing.assert_array_equal(row_group_passes(codes, rows, bits), row_group_passes.py_func(codes, rows, bits))
    np.testing.assert_array_equal(col_group_passes(codes, rows, bits), col_group_passes.py_func(codes, rows, bits))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), design=st.sampled_from(["tiny_acc_if", "tiny_mac"]),
       dispatch=st.sampled_from(["time_stepped", "event_queue"]))
def test_more_spikes_never_cheaper(tmp_path, seed, design, dispatch):
    rng = np.random.default_rng(seed)
    codes = rng.integers(-7, 8, (6, 30)).astype(np.int8)
    more = codes.copy()
    idx = rng.random(codes.shape) < 0.3
    more[idx] = np.sign(more[idx] + 0.5).astype(np.int8) * np.minimum(np.abs(more[idx]).astype(np.int16) + rng.integers(
        1, 60, idx.sum()), 127).astype(np.int8)
    overrides = {"array.dispatch": dispatch} if design == "tiny_acc_if" else {}
    s = spec(design, **overrides)
    a = _one_layer(simulate(make_trace(tmp_path / "a", codes, 12), s))
    b = _one_layer(simulate(make_trace(tmp_path / "b", more, 12), s))
    assert b.compute_cycles >= a.compute_cycles
    assert b.cycles >= a.cycles
    assert b.energy_pj["total"] >= a.energy_pj["total"]


def test_mac_adder_tree_columns_hand_counted(tmp_path):
    """An 8x8 adder-tree MAC on 8 tokens x K 16 x N 8 (two K folds of 8 rows, one column fold),
    one salient code (two digit passes in its K fold, over the weights it latched once): R load
    cycles per K fold and M per pass, one tree sum and
    accumulate per column per token per pass, the products' other adds in the trees, the inputs
    latched per token and row, and the same accumulations as the integer GEMM (--check)."""
    s = spec("tiny_mac", **BIG_MAC_SRAMS, **{"array.dataflow": "ws", "array.column": "adder_tree",
                                             "array.weight_load": "rows"})  # R-cycle loads (the SRAM's: below)
    codes = np.ones((8, 16), np.int8)
    codes[2, 5] = 100  # K fold 0 takes two passes
    w = np.random.default_rng(3).integers(-7, 8, (16, 8)).astype(np.int8)
    layer = _one_layer(simulate(make_trace(tmp_path / "t", codes, 8, weights=w), s, check=True))
    passes = 2 + 1
    assert layer.compute_cycles == 2 * 8 + passes * 8
    assert layer.memory["weight_sram"]["read_bits"] == 2 * 8 * 8 * 4  # each K fold's block read once
    c = layer.counters
    assert c["mac_array.mac"] == 8 * 16 * 8 and c["mac_array.mac_extra_pass"] == 8 * 8 * 8
    sums = passes * 8 * 8  # per pass: 8 tokens x 8 columns
    assert c["mac_array.accumulate"] == sums
    assert c["mac_array.tree_add"] == c["mac_array.mac"] + c["mac_array.mac_extra_pass"] - sums
    assert c["mac_array.reg_bits"] == sums * s.array.acc_bits + passes * 8 * 8 * s.array.act_bits
    assert layer.check["accumulation_mismatches"] == 0
    grid = _one_layer(simulate(make_trace(tmp_path / "t", codes, 8, weights=w), spec(
        "tiny_mac", **BIG_MAC_SRAMS, **{"array.dataflow": "ws"})))
    assert grid.compute_cycles == 2 * 8 + passes * (8 + 8 + 8 - 2) and "mac_array.tree_add" not in grid.counters


def _array_cells(array):
    """The MAC array's logic cells under its organisation."""
    from neurosim.engine.mac_schemes import organisation_for
    return organisation_for(array).cells(array)


@pytest.mark.parametrize("M", [8, 4])
def test_mac_double_buffered_weights_hand_counted(tmp_path, M):
    """The adder-tree MAC of the test above (K fold 0: R = 8 load cycles, then two passes of M;
    K fold 1: 8 + M): with two weight buffers the first load is exposed and the second only by
    its excess over K fold 0's two passes; counts are the same; the PE keeps a second weight
    register."""

    over = {**BIG_MAC_SRAMS, "array.dataflow": "ws", "array.column": "adder_tree", "array.weight_load": "rows"}
    codes = np.ones((M, 16), np.int8)
    codes[2, 5] = 100
    path = make_trace(tmp_path / "t", codes, 8)
    one = _one_layer(simulate(path, spec("tiny_mac", **over)))
    s = spec("tiny_mac", **over, **{"array.weight_buffers": 2})
    two = _one_layer(simulate(path, s))
    assert one.compute_cycles == 2 * 8 + 3 * M
    assert two.compute_cycles == 8 + 3 * M + max(0, 8 - 2 * M)
    assert two.counters == one.counters
    a, b = _array_cells(spec("tiny_mac", **over).array), _array_cells(s.array)
    assert b.reg_bits - a.reg_bits == 8 * 8 * 4


@pytest.mark.parametrize("G", [4, 3])
def test_mac_adder_tree_token_groups_hand_counted(tmp_path, G):
    """accumulator_tokens G on the 8-token tile above: each group of G tokens (and the last,
    partial one) runs the two K folds (R = 8 load cycles each) and three passes (two in K fold 0)
    of its own tokens; the
    accumulators never leave the columns inside a tile (no output-SRAM partial sums), the weights
    are read once per group, the products and column sums are those of the weight-stationary
    run; a PE column keeps G accumulators."""

    over = {**BIG_MAC_SRAMS, "array.dataflow": "ws", "array.column": "adder_tree", "array.weight_load": "rows"}
    codes = np.ones((8, 16), np.int8)
    codes[2, 5] = 100
    w = np.random.default_rng(3).integers(-7, 8, (16, 8)).astype(np.int8)
    path = make_trace(tmp_path / "t", codes, 8, weights=w)
    ws = _one_layer(simulate(path, spec("tiny_mac", **over)))
    s = spec("tiny_mac", **over, **{"array.accumulator_tokens": G})
    os_ = _one_layer(simulate(path, s, check=True))
    sizes = [G] * (8 // G) + ([8 % G] if 8 % G else [])
    assert os_.compute_cycles == sum(2 * 8 + 3 * g for g in sizes)
    for k in ("mac_array.mac", "mac_array.mac_extra_pass", "mac_array.accumulate", "mac_array.tree_add",
              "mac_array.reg_bits"):
        assert os_.counters[k] == ws.counters[k]
    assert os_.memory["weight_sram"]["read_bits"] - ws.memory["weight_sram"]["read_bits"] == \
        (len(sizes) - 1) * 2 * 8 * 8 * 4
    assert ws.memory["output_sram"]["read_bits"] > os_.memory["output_sram"]["read_bits"]
    assert os_.check["accumulation_mismatches"] == 0
    cells = _array_cells(s.array).reg_bits - _array_cells(spec("tiny_mac", **over).array).reg_bits
    assert cells == (G - 1) * 8 * s.array.acc_bits


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=1, max_size=5), st.integers(1, 4),
       st.one_of(st.none(), st.integers(0, 30)))
def test_fold_sequence_cycles_equals_a_fold_by_fold_schedule(groups, copies, before):
    """Copies of a tile's K groups in sequence (each group: its load, then its streaming, digit
    passes included), against a group-by-group schedule: one buffer, each load then its
    streaming; two buffers, group i's load starts when group i-1's load is done and its buffer is
    free (group i-2 has streamed; a group ``before`` the first streamed for ``before`` cycles), and
    its streaming when its load is done and group i-1 has streamed."""
    from neurosim.hw.mac_array import sequence_cycles

    streams, loads = (np.array(v, np.int64) for v in zip(*groups, strict=True))
    seq = groups * copies
    assert sequence_cycles(streams, loads, copies, 1, before) == sum(s + load for s, load in seq)
    # the group before (if any) streams from 0 to `before`; its load was done by 0
    load_end, streamed = 0, ([0, 0] if before is None else [0, before])
    for s, load in seq:
        load_end = max(load_end, streamed[-2]) + load
        streamed.append(max(streamed[-1], load_end) + s)
    assert sequence_cycles(streams, loads, copies, 2, before) == streamed[-1] - (0 if before is None else before)


@pytest.mark.parametrize("name,overrides,key", [
    ("tiny_mac", {}, "array.weight_buffers"),  # os: the weights stream
    ("tiny_acc_if", {"array.dispatch": "event_queue"}, "array.weight_buffers"),
    ("tiny_acc_if", {"array.lane_skew": 2}, "array.weight_buffers"),
    ("tiny_mac", {"array.dataflow": "ws", "array.accumulator_tokens": 4}, "array.accumulator_tokens"),
])
def test_double_buffered_weights_and_token_groups_refused_where_they_do_not_apply(name, overrides, key):
    from neurosim.errors import ConfigError
    with pytest.raises(ConfigError, match=key):
        spec(name, **{"array.weight_buffers": 2 if key == "array.weight_buffers" else 1}, **overrides)


def test_mac_adder_tree_cells_and_dataflow(tmp_path):
    """Adder-tree cells hand-counted (multiplier and weight register per PE; R - 1 tree adders, each
    level's as wide as its sums,
    an accumulator adder and register per column; an input latch per row; the digit-combining
    adder per column), smaller than the WS PE grid (also hand-counted); with dataflow os the
    config is refused."""
    from neurosim.hw.cells import adder, multiplier, register

    s = spec("mac_64x64_ws_tree", **{"array.acc_bits": 24}).array
    # 8-bit products: 32 adds of 9 bits, 16 of 10, 8 of 11, 4 of 12, 2 of 13, 1 of 14
    tree = adder(32 * 9 + 16 * 10 + 8 * 11 + 4 * 12 + 2 * 13 + 14)
    want = (multiplier(4, 4) + register(4)).times(64 * 64) + \
        (tree + adder(24) + register(24) + adder(24)).times(64) + register(4).times(64)
    assert _array_cells(s) == want
    grid = spec("mac_64x64_ws_tree", **{"array.acc_bits": 24, "array.column": "systolic"}).array
    assert _array_cells(grid) == (multiplier(4, 4) + adder(24) + register(4 + 24 + 4)).times(64 * 64) + \
        adder(24).times(64)  # WS grid PE: activation, partial-sum and stationary weight registers
    assert _array_cells(s).adder_bits < _array_cells(grid).adder_bits
    assert _array_cells(s).reg_bits < _array_cells(grid).reg_bits
    from neurosim.errors import ConfigError
    with pytest.raises(ConfigError, match="array.dataflow"):
        spec("mac_64x64_ws_tree", **{"array.dataflow": "os"})


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), design=st.sampled_from(["tiny_acc_if", "tiny_mac"]),
       bw=st.sampled_from([0.5, 1.6, 3.2, 12.8]))
def test_more_dram_bandwidth_never_more_cycles(tmp_path, seed, design, bw):
    codes = np.random.default_rng(seed).integers(-7, 8, (20, 70)).astype(np.int8)
    tr = make_trace(tmp_path / "t", codes, 40)
    slow = _one_layer(simulate(tr, spec(design, **{"dram.bandwidth_gbps": bw})))
    fast = _one_layer(simulate(tr, spec(design, **{"dram.bandwidth_gbps": bw * 2})))
    assert fast.cycles <= slow.cycles
    assert fast.compute_cycles == slow.compute_cycles


# --- energy coverage --------------------------------------------------------------------------

VARIANTS = [("tiny_acc_if", {"array.dispatch": d, "array.encoding": e})
            for d in ("time_stepped", "event_queue") for e in ("count", "bitplane")] + \
           [("tiny_acc_if", {"array.lane_skew": 2})] + [("tiny_mac", {"array.dataflow": f}) for f in ("os", "ws")] + \
           [("tiny_mac", {"array.dataflow": "ws", "array.column": "adder_tree"})]


@pytest.mark.parametrize("name,overrides", VARIANTS)
def test_every_counter_has_an_energy_entry_and_vice_versa(tmp_path, name, overrides):
    s = spec(name, **overrides)
    codes = np.random.default_rng(0).integers(-30, 31, (10, 20)).astype(np.int8)
    layer = _one_layer(simulate(make_trace(tmp_path / "t", codes, 12), s))
    table = design_energies(s, load_energy_table(s.technology))
    assert set(layer.counters) == set(table) - VECTOR_ONLY
    assert all(v >= 0 for v in layer.counters.values())


#: Actions counted only in traces with vector ops: the vector unit's buffer, and the IF threshold
#: unit dequantizing a GEMM's output to fp16 for them.
VECTOR_ONLY = {"vector_buffer.read", "vector_buffer.write", "threshold.convert", "threshold.dequant_mul"}


@pytest.mark.parametrize("name", ["acc_if_64x64", "mac_64x64_os"])
def test_vector_only_actions_are_counted_with_vector_ops(name):
    """The inference trace counts every action the table prices (its vector ops move data)."""
    from neurosim.engine.simulate import effective_energy_table

    s, trace = spec(name), open_trace(ROOT / "traces/smollm2_wikitext_l1_p64_d8")
    r = simulate(trace, s)
    counted = {k for la in r.layers for k, v in la.counters.items() if v}
    assert VECTOR_ONLY & set(effective_energy_table(s, trace)[0]) <= counted


def test_energy_is_counts_times_table(tmp_path):
    s = spec("tiny_mac")
    codes = np.random.default_rng(0).integers(-7, 8, (10, 20)).astype(np.int8)
    layer = _one_layer(simulate(make_trace(tmp_path / "t", codes, 12, recipe=PLAIN), s))
    table = design_energies(s, load_energy_table(s.technology))
    assert layer.energy_pj["mac_array"] == pytest.approx(sum(
        layer.counters[k] * table[k] for k in layer.counters if k.startswith("mac_array.")))
    transfers = (layer.memory["dram"]["read_bits"] + layer.memory["dram"]["write_bits"]) * 8.0  # LPDDR4 at 45 nm
    assert layer.energy_by_action_pj["dram.read_bits"] + layer.energy_by_action_pj["dram.write_bits"] == \
        pytest.approx(transfers)
    assert layer.energy_pj["dram"] == pytest.approx(transfers + layer.energy_by_action_pj["dram.background"])


# --- functional -------------------------------------------------------------------------------

@pytest.mark.parametrize("name,overrides", VARIANTS)
def test_functional_check_exact(tmp_path, name, overrides):
    rng = np.random.default_rng(5)
    codes = rng.integers(-7, 8, (9, 33)).astype(np.int8)
    codes[rng.random(codes.shape) < 0.05] = -100
    weights = rng.integers(-7, 8, (33, 11)).astype(np.int8)
    r = simulate(make_trace(tmp_path / "t", codes, 11, weights=weights), spec(name, **overrides), check=True)
    c = _one_layer(r).check
    assert c["accumulation_mismatches"] == 0 and c["membrane_overflows"] == 0 and c["outputs"] == 99


def test_narrow_membrane_is_caught_by_check(tmp_path):
    codes = np.full((2, 64), 100, np.int8)
    weights = np.full((64, 8), 7, np.int8)
    r = simulate(make_trace(tmp_path / "t", codes, 8, weights=weights), spec("tiny_acc_if", **{"array.membrane_bits": 12}),
                 check=True)
    c = _one_layer(r).check
    assert c["membrane_overflows"] > 0 and c["accumulation_mismatches"] > 0


def test_salient_side_store_bounds_the_token_tile(tmp_path):
    """The salient store's capacity is checked against the real codes: many salient values
    shrink the token tile; a store that cannot hold one token's entries is a clear error."""
    from neurosim.errors import NeurosimError

    codes = np.ones((64, 64), np.int8)
    codes[:, :32] = 50  # 32 salient entries of 20 bits per token = 640 bits
    tr = make_trace(tmp_path / "t", codes, 8)
    roomy = _one_layer(simulate(tr, spec("tiny_acc_if", **BIG_SRAMS)))
    tight = _one_layer(simulate(tr, spec("tiny_acc_if", **{**BIG_SRAMS, "spike_memory.salient.size_kib": 1})))
    assert roomy.tiling["Mb"] == 64
    assert tight.tiling["Mb"] * 32 * 20 <= 1024 * 8 / 2 and tight.tiling["Mb"] < 64
    assert tight.counters["array.accumulate"] == roomy.counters["array.accumulate"]
    with pytest.raises(NeurosimError, match="no tiling fits"):
        simulate(tr, spec("tiny_acc_if", **{**BIG_SRAMS, "spike_memory.salient.size_kib": 0.125}))


def test_mac_tiler_fills_the_array_at_m256(tmp_path):
    """M=256, K=N=576 of 4-bit codes on the shipped 64x64 OS array: 4 row folds x 9 column folds
    of K + R + C - 2 cycles each, every fold using all 64 rows (psums and double-buffered
    outputs share the output SRAM's one budget)."""
    codes = np.ones((256, 576), np.int8)
    layer = _one_layer(simulate(make_trace(tmp_path / "t", codes, 576), spec("mac_64x64_os")))
    assert layer.tiling["Mb"] % 64 == 0
    assert layer.compute_cycles == 4 * 9 * (576 + 64 + 64 - 2)


def test_mac_outlier_path_hand_counted(tmp_path):
    """Three salient entries (two tokens) on an 8x16x8 op: one array pass over the dense codes,
    3 x 8 side MACs on 4 lanes (6 cycles, hidden under the 30-cycle fold), 2 x 8 merge adds, each
    salient entry stored once (code 8 + index 16 bits) and read once with its 8-weight row."""
    codes = np.ones((8, 16), np.int8)
    codes[2, 5], codes[3, 5], codes[3, 9] = 100, -50, 90
    w = np.random.default_rng(0).integers(-7, 8, (16, 8))
    s = spec("tiny_mac", **BIG_MAC_SRAMS, **{"array.salient": "outlier_path", "outlier_unit.lanes": 4})
    layer = _one_layer(simulate(make_trace(tmp_path / "t", codes, 8, weights=w), s, check=True))
    fold = 16 + 8 + 8 - 2
    assert layer.compute_cycles == fold and layer.stall_cycles["outlier_unit"] == 0
    # the salient entries are zero in the dense store: their 3 x 8 array products are gated
    assert layer.counters["mac_array.mac"] == 8 * 16 * 8 - 3 * 8 and layer.counters["mac_array.mac_gated"] == 3 * 8
    assert layer.counters["mac_array.mac_extra_pass"] == 0
    assert layer.counters["outlier_unit.mac"] == 3 * 8 and layer.counters["outlier_unit.merge_add"] == 2 * 8
    assert layer.memory["salient_sram"]["write_bits"] == layer.memory["salient_sram"]["read_bits"] == 3 * 24
    assert layer.memory["act_sram"]["write_bits"] == 8 * 16 * 4 + 8 * 16  # dense 4-bit codes + fp16 scales
    assert layer.check["accumulation_mismatches"] == 0
    assert layer.energy_pj["total"] == pytest.approx(sum(v for k, v in layer.energy_pj.items() if k != "total"))
    assert layer.cycles == layer.compute_cycles + sum(layer.stall_cycles.values())
    one_lane = _one_layer(simulate(make_trace(tmp_path / "u", codes, 8, weights=w),
                                   spec("tiny_mac", **BIG_MAC_SRAMS, **{"array.salient": "outlier_path",
                                                                        "outlier_unit.lanes": 1})))
    assert one_lane.stall_cycles["outlier_unit"] == 0  # 24 side cycles still fit in the 30-cycle fold
    codes[:, 0] = 100  # 8 more entries: 11 x 8 = 88 side cycles on one lane, 58 beyond the fold
    slow = _one_layer(simulate(make_trace(tmp_path / "v", codes, 8, weights=w),
                               spec("tiny_mac", **BIG_MAC_SRAMS, **{"array.salient": "outlier_path",
                                                                    "outlier_unit.lanes": 1})))
    assert slow.stall_cycles["outlier_unit"] == 11 * 8 - fold
    per_entry = _one_layer(simulate(make_trace(tmp_path / "w", codes, 8, weights=w),
                                    spec("tiny_mac", **BIG_MAC_SRAMS, **{"array.salient": "outlier_path",
                                                                         "outlier_unit.merge": "per_entry"})))
    assert per_entry.counters["outlier_unit.merge_add"] == 11 * 8  # each entry's 8 products merged on their own
    assert per_entry.counters["outlier_unit.mac"] == slow.counters["outlier_unit.mac"] == 11 * 8


@pytest.mark.parametrize("K,code_max,weight_max,bits", [(16, 127, 7, 15), (1, 1, 1, 2), (4096, 127, 7, 23),
                                                        (11008, 7, 7, 21), (576, 127, 7, 20)])
def test_accumulator_width_rule_hand_counted(K, code_max, weight_max, bits):
    from neurosim.engine.widths import needed_bits

    assert needed_bits(K, code_max, weight_max) == bits
    bound = K * code_max * weight_max
    assert -(1 << (bits - 1)) <= -bound and bound <= (1 << (bits - 1)) - 1 < 2 * bound  # holds it, and just


@pytest.mark.parametrize("name,key", [("tiny_acc_if", "array.membrane_bits"), ("tiny_mac", "array.acc_bits")])
def test_auto_width_is_the_ops_and_exact(tmp_path, name, key):
    """16 inputs of 8-bit codes x 4-bit weights: 15 bits on both designs; the functional check
    (which wraps at that width) finds no mismatch even for the extreme sum 16 x 127 x 7."""
    codes = np.full((4, 16), 127, np.int8)
    weights = np.full((16, 8), 7, np.int8)
    sims = {w: _one_layer(simulate(make_trace(tmp_path / f"t{w}", codes, 8, weights=weights),
                                   spec(name, **(BIG_SRAMS if "acc" in name else BIG_MAC_SRAMS), **{key: w}),
                                   check=True)) for w in ("auto", 15, 14)}
    assert sims["auto"].accumulator_bits == 15
    assert sims["auto"].energy_pj == sims[15].energy_pj and sims["auto"].cycles == sims[15].cycles
    assert sims["auto"].check["accumulation_mismatches"] == 0
    if "acc" in name:  # a membrane one bit narrower wraps (the MAC check recombines wide digits)
        assert sims[14].check["membrane_overflows"] > 0


@pytest.mark.parametrize("merge,longest,merges", [("per_entry", 40, 2), ("per_token", 70, 1)])
def test_acc_salient_lanes_hand_counted(tmp_path, merge, longest, merges):
    """Token 0: channels 0-7 = (40, 1 x 7), channels 8-15 = (1 x 7, 30); one token, N=8 on 8x8.
    Main lanes see only the 1s: 1 cycle per row group = 2 cycles. Two lanes take the salient
    entries 40 and 30: per entry max(ceil(70/2), 40) = 40 cycles, 38 past the main array, and two
    merges of 8 columns; per token both entries on one lane, max(35, 70) = 70 cycles, one merge.
    Without side lanes the row groups last 40 and 30 cycles."""
    codes = np.array([[40] + [1] * 7 + [1] * 7 + [30]], np.int8)
    s = spec("tiny_acc_if", **BIG_SRAMS, **{"array.salient_lanes": 2, "array.salient_merge": merge})
    layer = _one_layer(simulate(make_trace(tmp_path / "t", codes, 8, weights=np.ones((16, 8), np.int8)), s,
                                check=True))
    assert layer.compute_cycles == 2 and layer.stall_cycles["salient_lanes"] == longest - 2
    assert layer.counters["salient_lanes.accumulate"] == 70 * 8
    assert layer.counters["salient_lanes.merge_add"] == merges * 8
    mb = s.array.membrane_bits  # 16 on tiny_acc_if
    base = _one_layer(simulate(make_trace(tmp_path / "b", codes, 8, weights=np.ones((16, 8), np.int8)),
                               spec("tiny_acc_if", **BIG_SRAMS, **{"array.salient_lanes": 2,
                                                                   "array.salient_merge": "per_token"})))
    extra = (merges - 1) * 8 * mb  # each merge beyond the token's one: a membrane read and write of 8 columns
    assert layer.memory["membrane_store"]["read_bits"] - base.memory["membrane_store"]["read_bits"] == extra
    assert layer.memory["membrane_store"]["write_bits"] - base.memory["membrane_store"]["write_bits"] == extra
    assert layer.counters["array.accumulate"] + layer.counters["array.tree_add"] == 14 * 8
    assert layer.check["accumulation_mismatches"] == 0
    coupled = _one_layer(simulate(make_trace(tmp_path / "u", codes, 8), spec("tiny_acc_if", **BIG_SRAMS)))
    assert coupled.compute_cycles == 40 + 30
    four = _one_layer(simulate(make_trace(tmp_path / "v", codes, 8),
                               spec("tiny_acc_if", **BIG_SRAMS, **{"array.salient_lanes": 4,
                                                                   "array.salient_merge": merge})))
    assert four.compute_cycles + four.stall_cycles["salient_lanes"] == longest  # the longest unit bounds it


def test_side_lane_token_totals_hand_counted(tmp_path):
    """Tokens (40, 30 | 1s), (1s | 50), (1s): two tokens hold salient entries, the first 70 of their
    spikes, the second 50; per token on 2 lanes max(ceil(120/2), 70) = 70 cycles and 2 merges."""
    codes = np.ones((3, 16), np.int8)
    codes[0, 0], codes[0, 15], codes[1, 9] = 40, 30, 50
    layer = _one_layer(simulate(make_trace(tmp_path / "t", codes, 8),
                                spec("tiny_acc_if", **BIG_SRAMS, **{"array.salient_lanes": 2})))
    assert layer.counters["salient_lanes.merge_add"] == 2 * 8
    assert layer.compute_cycles + layer.stall_cycles["salient_lanes"] == 70


def test_acc_output_stationary_membranes_hand_counted(tmp_path):
    """4 tokens x K=16 (two 8-lane K sub-tiles) x N=8, one tile. Weight-stationary: each token's
    8 membranes go to the membrane store after the first K sub-tile and come back for the second
    (4 writes, 4 reads). membrane_tokens=2: no membrane-store traffic at all; the 16x8 weights are
    loaded once per group of 2 tokens (2 x 512 bits); 4 tokens x 2 steps leave 8 membranes each in
    the register file."""
    codes = np.random.default_rng(1).integers(-7, 8, (4, 16)).astype(np.int8)
    w = np.random.default_rng(2).integers(-7, 8, (16, 8)).astype(np.int8)
    static = {"threshold.output_scale": "static"}  # no row buffer traffic in the membrane store
    ws = _one_layer(simulate(make_trace(tmp_path / "a", codes, 8, weights=w), spec("tiny_acc_if", **BIG_SRAMS,
                                                                                   **static)))
    s = spec("tiny_acc_if", **BIG_SRAMS, **{"array.membrane_tokens": 2, **static})
    os_ = _one_layer(simulate(make_trace(tmp_path / "b", codes, 8, weights=w), s, check=True))
    mb = s.array.membrane_bits
    assert ws.memory["membrane_store"]["read_bits"] == ws.memory["membrane_store"]["write_bits"] == 4 * 8 * mb
    assert os_.memory["membrane_store"]["read_bits"] == os_.memory["membrane_store"]["write_bits"] == 0
    assert ws.counters["array.weight_reg_bits"] == 16 * 8 * 4 and os_.counters["array.weight_reg_bits"] == 2 * 16 * 8 * 4
    assert os_.stall_cycles["weight_tile_load"] == 2 * ws.stall_cycles["weight_tile_load"]
    assert os_.counters["array.membrane_file_bits"] == 4 * 2 * 8 * mb
    assert os_.compute_cycles == ws.compute_cycles and os_.check["accumulation_mismatches"] == 0


@pytest.mark.parametrize("name,unit,store,acc", [("tiny_acc_if", "threshold", "membrane_store", "membrane_bits"),
                                                 ("tiny_mac", "requant", "output_sram", "acc_bits")])
def test_two_phase_output_scale_hand_counted(tmp_path, name, unit, store, acc):
    """8 tokens x 16 inputs x 8 outputs, one tile, the same rule on both designs: every final
    accumulator is written to the row buffer and read back (8 x 8 x acc bits each way, two SRAM
    passes of stall), with one max compare per output; with a store too small for the rows
    (8 x 8 x acc > half of it) the buffer goes to DRAM, out and back; static adds nothing."""
    codes = np.random.default_rng(1).integers(-7, 8, (8, 16)).astype(np.int8)
    big = BIG_SRAMS if "acc" in name else BIG_MAC_SRAMS
    runs = {}
    for scale in ("two_phase", "static"):
        s = spec(name, **big, **{f"{unit}.output_scale": scale, "dram.burst_bytes": 1})
        runs[scale] = _one_layer(simulate(make_trace(tmp_path / scale, codes, 8), s))
    two, static = runs["two_phase"], runs["static"]
    bits = 8 * 8 * getattr(s.array, acc)
    for d in ("read_bits", "write_bits"):
        assert two.memory[store][d] - static.memory[store][d] == bits
    sram = getattr(s, store)
    bw = sram.banks * sram.ports * sram.width_bits
    assert two.stall_cycles["output_scale"] == 2 * -(-bits // bw)
    assert two.counters[f"{unit}.max_compare"] == 64 and f"{unit}.max_compare" not in static.counters
    small = spec(name, **{**big, f"{store}.size_kib": 0.125}, **{"dram.burst_bytes": 1})  # 1024 bits < 2 x bits
    spilled = _one_layer(simulate(make_trace(tmp_path / "small", codes, 8), small))
    small_static = _one_layer(simulate(make_trace(tmp_path / "small_s", codes, 8),
                                       spec(name, **{**big, f"{store}.size_kib": 0.125},
                                            **{"dram.burst_bytes": 1, f"{unit}.output_scale": "static"})))
    # the row buffer goes out to DRAM in phase one and comes back in phase two
    assert spilled.memory["dram"]["write_bits"] - small_static.memory["dram"]["write_bits"] == bits
    assert spilled.memory["dram"]["read_bits"] - small_static.memory["dram"]["read_bits"] == bits
    assert spilled.stall_cycles["output_scale"] == 0


@pytest.mark.parametrize("name,cells", [
    # IF 8x8, 4-bit weights, 16-bit membranes, adder-tree columns (4 adds of 5 bits, 2 of 6, 1 of 7), 24-bit
    # thresholds, two-phase output scale: registers 8*8*4 + 8*16; adders 8*39 + 8*16 and per
    # column fp16 mul (121 mult bits, 16 adder bits) + 24-bit compare + fp16 mul + fp16 add (48);
    # the sequencer: address generators of 24, 24, 23, 24 and 24 bits (64 MiB of 32-bit and
    # 64-bit words) and five 16-bit loop counters, registers and adders: 199
    ("tiny_acc_if", (8 * 8 * 4 + 8 * 16 + 199, 8 * 39 + 8 * 16 + 8 * (16 + 24 + 16 + 48) + 199, 8 * 2 * 121)),
    # MAC 8x8 OS, 4x4 multipliers, 32-bit accumulators, 4+4+32 pipeline register bits per PE, one
    # 32-bit digit adder per column; per column dequant: convert (32) + 3 fp16 muls + round (16) +
    # two-phase compare (48); the sequencer: 24-, 23- and 24-bit address generators and the loop
    # counters (151)
    ("tiny_mac", (64 * 40 + 151, 64 * 32 + 8 * 32 + 8 * (32 + 3 * 16 + 16 + 48) + 151, 64 * 16 + 8 * 3 * 121)),
])
def test_logic_static_power_hand_counted(tmp_path, name, cells):
    """``logic_static_mw: auto`` = register, adder and multiplier cell-bits x the table's leakage
    per cell-bit; the run's leakage energy is (SRAM + logic) static power x its time."""
    s = spec(name, **BIG_SRAMS if name == "tiny_acc_if" else BIG_MAC_SRAMS)
    t = load_energy_table(s.technology)
    reg, add, mult = cells
    logic_mw = reg * t["leak_reg_bit"] + add * t["leak_adder_bit"] + mult * t["leak_mult_bit"]
    sram_kib = sum(x.size_kib for x in sram_specs(s).values())
    codes = np.arange(24, dtype=np.int8).reshape(3, 8) % 7
    r = simulate(make_trace(tmp_path / "t", codes, 8), s)
    seconds = r.total_cycles / (s.clock_mhz * 1e6)
    want_mw = logic_mw + sram_kib * t["sram_leak_lstp"]
    assert r.energy_pj["leakage"] == pytest.approx(want_mw * 1e-3 * seconds * 1e12, rel=1e-9)
    zero = simulate(make_trace(tmp_path / "t", codes, 8), spec(name, **{"leakage.logic_static_mw": 0},
                                                                **BIG_SRAMS if name == "tiny_acc_if" else BIG_MAC_SRAMS))
    assert zero.energy_pj["leakage"] == pytest.approx(sram_kib * t["sram_leak_lstp"] * 1e-3 * seconds * 1e12, rel=1e-9)


def test_auto_widths_build_the_widest_chip(tmp_path):
    """With ``membrane_bits: auto`` the chip is built (and leaks) at the widest width any op
    needs, while each op's dynamic energy uses its own width."""
    from neurosim.engine.designs import DESIGNS
    from neurosim.engine.widths import built_widths, needed_bits
    from neurosim.trace.reader import open_trace
    s = spec("tiny_acc_if", **{"array.membrane_bits": "auto"})
    tr = open_trace(make_trace(tmp_path / "t", np.ones((2, 40), np.int8), 8))
    bits = needed_bits(40, tr.manifest.recipe.code_max, 7)
    chip = DESIGNS["acc_if"].chip(built_widths(s, tr.ops, tr.manifest.recipe))
    assert chip.spec.array.membrane_bits == bits
    assert chip.logic_cells_by_component()["array"].reg_bits == 8 * 8 * 4 + 8 * bits


@pytest.mark.parametrize("name", ["tiny_acc_if", "tiny_mac_outlier"])
def test_output_salient_entries_come_from_the_outputs(tmp_path, name):
    """Inputs with 2 salient codes of 8 per token, weights that add both into one output and zero
    another: the outputs have 1 salient of 8 per token (ratio rule, 1/8), so the written-back side
    entries are M x N / 8, not the input's M x N / 4 (1-byte DRAM bursts: no rounding)."""
    M = 4
    codes = np.tile(np.array([1, 2, 3, 1, 2, 3, 100, 100], np.int8), (M, 1))
    w = np.eye(8, dtype=np.int8)
    w[6, 6], w[6, 7] = 0, 1
    recipe = Recipe(salient_rule="ratio", salient_param=0.125)
    if name == "tiny_acc_if":
        s = spec(name, **BIG_SRAMS, **{"dram.burst_bytes": 1})
        entry = s.spike_memory.salient.code_bits + s.spike_memory.salient.index_bits
    else:
        s = spec("tiny_mac", **BIG_MAC_SRAMS, **{"array.salient": "outlier_path", "dram.burst_bytes": 1})
        entry = s.salient_sram.code_bits + s.salient_sram.index_bits
    layer = _one_layer(simulate(make_trace(tmp_path / "t", codes, 8, weights=w, recipe=recipe), s))
    assert layer.output_salient_ratio == 1 / 8
    assert layer.memory["dram"]["write_bits"] == M * 8 * recipe.act_bits + M * 8 // 8 * entry


@pytest.mark.parametrize("window,cycles", [(0, 4 + 4 + 1), (1, 4 + 4 + 1), (2, 6), (3, 6)])
def test_lane_skew_hand_counted(tmp_path, window, cycles):
    """Three tokens on 8 lanes: (4, 1), (1, 4), (1, 1) spikes on lanes 0 and 1. Coupled (and
    W = 1) each step lasts its busiest lane: 4 + 4 + 1. With W = 2 lane 0 runs steps 0-2 in
    [0, 4), [4, 5), [5, 6) and lane 1 in [0, 1), [1, 5), [5, 6): 6 cycles, the busiest lane's
    total. Membrane writes per column = the cycles each step has a busy lane: 4 + 4 + 1 either way."""
    codes = np.zeros((3, 8), np.int8)
    codes[:, 0] = [4, 1, 1]
    codes[:, 1] = [1, 4, 1]
    s = spec("tiny_acc_if", **BIG_SRAMS, **{"dram.bandwidth_gbps": 1000, "array.lane_skew": window})
    layer = _one_layer(simulate(make_trace(tmp_path / "t", codes, 8, recipe=PLAIN), s))
    assert layer.compute_cycles == cycles
    assert layer.counters["array.accumulate"] == 9 * 8
    assert layer.counters["array.tree_add"] == 12 * 8 - 9 * 8  # 12 spikes x 8 columns
    if window:
        assert layer.counters["array.fifo_bits"] == 3 * 8 * s.spike_memory.salient.code_bits


@settings(max_examples=40, deadline=None)
@given(codes=code_blocks(), lanes=st.integers(1, 9), first=st.booleans(), last=st.booleans(), side=st.booleans(),
       window=st.integers(2, 6))
def test_lane_skew_kernel_bounds(codes, lanes, first, last, side, window):
    """W = 1 is the coupled kernel exactly; a wider window is never slower; no window beats the
    busiest lane's total or the SRAM total; the numba kernel equals its Python twin."""
    from neurosim.kernels.acc_tile import BUSY, COMPUTE, acc_blocks_kernel
    from neurosim.kernels.lane_skew import skew_block_kernel
    mem = np.arange(8, dtype=np.int64).reshape(2, 4)
    coupled = acc_blocks_kernel(codes, 1, 1, np.zeros(1, np.int64), np.zeros(1, np.int64), *codes.shape, lanes, False,
                                False, 7, 4, 32, 24, 32, mem, np.array([2, 1], np.int64), 1, 1,
                                first, last, True, side, 0)[0][0]
    args = lambda w: (codes, lanes, w, 7, 4, 32, 24, 32, mem, first, last, side)  # noqa: E731
    one, _ = skew_block_kernel(*args(1))
    np.testing.assert_array_equal(one[:, :2], coupled[:, :2])
    assert (one[:, 2:].sum(axis=1) == coupled[:, 2:].sum(axis=1)).all()
    wide, writes = skew_block_kernel(*args(window))
    twin = skew_block_kernel.py_func(*args(window))
    np.testing.assert_array_equal(wide, twin[0])
    assert writes == twin[1]
    assert (wide[:, BUSY] <= one[:, BUSY]).all() and (wide[:, COMPUTE] <= one[:, COMPUTE]).all()
    a = np.abs(codes.astype(np.int64))
    if side:
        a[a > 7] = 0
    nk = -(-codes.shape[1] // lanes)
    lane_bound = sum(int(a[:, k * lanes:(k + 1) * lanes].sum(axis=0).max(initial=0)) for k in range(nk))
    assert (wide[:, COMPUTE] >= lane_bound).all()


def test_lane_skew_needs_coupled_time_steps():
    from neurosim.errors import ConfigError
    with pytest.raises(ConfigError, match=r"array\.encoding.*lane_skew"):
        spec("tiny_acc_if", **{"array.lane_skew": 4, "array.encoding": "bitplane"})


def test_mac_spilled_results_go_out_and_come_back(tmp_path):
    """``dequant.mode: spilled`` to DRAM: every int32 result (M x N x acc_bits) is a DRAM write
    and a DRAM read more than the fused mode (1-byte bursts: no rounding)."""
    codes = np.arange(32, dtype=np.int8).reshape(4, 8) % 7
    base = {**BIG_MAC_SRAMS, "dram.burst_bytes": 1, "requant.output_scale": "static"}
    fused = _one_layer(simulate(make_trace(tmp_path / "f", codes, 8), spec("tiny_mac", **base)))
    spilled = _one_layer(simulate(make_trace(tmp_path / "s", codes, 8),
                                  spec("tiny_mac", **base, **{"dequant.mode": "spilled"})))
    bits = 4 * 8 * 32
    assert spilled.memory["dram"]["write_bits"] - fused.memory["dram"]["write_bits"] == bits
    assert spilled.memory["dram"]["read_bits"] - fused.memory["dram"]["read_bits"] == bits


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), M=st.integers(1, 12), K=st.integers(1, 40), N=st.integers(1, 20))
def test_snn_convention_compute_only_ratio(tmp_path, seed, M, K, N):
    """Under the snn-45nm-fp32 table the compute-only view gives E_MAC / E_ACC = 4.6 / (0.9 c),
    c = mean spikes per activation (count encoding, one MAC pass: 8-bit operands; the papers
    count every MAC, so zero gating is off)."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(-127, 128, (M, K)).astype(np.int8)
    codes[rng.random((M, K)) < 0.5] = rng.integers(-7, 8)
    if not codes.any():
        codes[0, 0] = 1
    path = make_trace(tmp_path / f"t{seed}_{M}_{K}_{N}", codes, N)
    acc = simulate(path, spec("tiny_acc_if", **BIG_SRAMS, technology="snn-45nm-fp32"))
    mac = simulate(path, spec("tiny_mac", **BIG_MAC_SRAMS, technology="snn-45nm-fp32",
                                **{"array.act_bits": 8, "array.zero_gating": "false"}))
    c = np.abs(codes.astype(np.int64)).sum() / codes.size
    ratio = mac.energy_views_pj["compute_only"] / acc.energy_views_pj["compute_only"]
    assert ratio == pytest.approx(4.6 / (0.9 * c), rel=1e-9)
    for r in (acc, mac):  # the views nest
        v = r.energy_views_pj
        assert v["compute_only"] <= v["on_chip"] <= v["full"] == pytest.approx(r.energy_pj["total"], rel=1e-12)
        assert sum(r.energy_by_category_pj.values()) == pytest.approx(r.energy_pj["total"], rel=1e-12)


@pytest.mark.parametrize("membrane_bits,mismatch", [(24, False), (8, True)])
def test_check_replays_samples_when_the_width_is_safe(tmp_path, membrane_bits, mismatch):
    """100 tokens (more than the replay sample): with a membrane that provably holds every
    partial sum the check replays a sample and reports no mismatch; with one that cannot, it
    replays every token and finds the wrap-arounds."""
    from neurosim.engine.check import check_op
    from neurosim.trace.reader import open_trace
    rng = np.random.default_rng(5)
    codes = rng.integers(-7, 8, (100, 40)).astype(np.int8)
    codes[:, 3] = 100
    w = rng.integers(-7, 8, (40, 8)).astype(np.int8)
    tr = open_trace(make_trace(tmp_path / "t", codes, 8, weights=w))
    s = spec("tiny_acc_if", **{"array.membrane_bits": membrane_bits})
    got = check_op(tr, tr.ops[0], s)
    assert (got["accumulation_mismatches"] > 0) == mismatch
    assert (got["membrane_overflows"] > 0) == mismatch


def test_check_samples_the_mac_digit_passes_and_falls_back_when_digits_do_not_recombine(tmp_path, monkeypatch):
    """100 tokens: the digit passes run on the sampled tokens when every code's digits recombine
    (no mismatch); a broken digit split is caught on every code and the passes then run on every
    token, so the check counts the mismatches it causes."""
    import neurosim.engine.check as check
    import neurosim.kernels.functional as functional
    from neurosim.trace.reader import open_trace
    rng = np.random.default_rng(6)
    codes = rng.integers(-7, 8, (100, 40)).astype(np.int8)
    codes[::7, 5] = 90  # salient codes: two 4-bit digit passes
    w = rng.integers(-7, 8, (40, 8)).astype(np.int8)
    tr = open_trace(make_trace(tmp_path / "t", codes, 8, weights=w))
    s = spec("tiny_mac", **{"array.act_bits": 4})
    calls = []
    real = functional.mac_digit_gemm
    monkeypatch.setattr(check, "mac_digit_gemm", lambda c, *a, **k: calls.append(c.shape[0]) or real(c, *a, **k))
    assert check.check_op(tr, tr.ops[0], s)["accumulation_mismatches"] == 0
    assert calls == [check.REPLAY_TOKENS]

    digits = functional.operand_digits

    def broken(q, bits):  # drops the top digit of codes above 64
        d = digits(q, bits)
        return [*d[:-1], np.where(np.abs(q) > 64, 0, d[-1])]
    monkeypatch.setattr(check, "operand_digits", broken)
    monkeypatch.setattr(functional, "operand_digits", broken)
    calls.clear()
    got = check.check_op(tr, tr.ops[0], s)
    assert calls == [100] and got["accumulation_mismatches"] > 0


def test_check_reference_is_computed_once_per_trace_within_its_budget(tmp_path, monkeypatch):
    """The configs of one run share the trace: the second check of an op reuses its reference
    GEMM (read-only) and finds the same; over the byte budget nothing is kept."""
    import neurosim.engine.check as check
    from neurosim.trace.reader import open_trace
    rng = np.random.default_rng(8)
    codes = rng.integers(-7, 8, (40, 24)).astype(np.int8)
    w = rng.integers(-7, 8, (24, 8)).astype(np.int8)
    calls = []
    real = check.exact_matmul
    monkeypatch.setattr(check, "exact_matmul", lambda a, b: calls.append(1) or real(a, b))
    tr = open_trace(make_trace(tmp_path / "t", codes, 8, weights=w))
    first = check.check_op(tr, tr.ops[0], spec("tiny_acc_if"))
    second = check.check_op(tr, tr.ops[0], spec("tiny_mac"))
    assert len(calls) == 1 and first["accumulation_mismatches"] == second["accumulation_mismatches"] == 0
    (key,) = [k for k in tr.derived.keys() if k[0] == "check_reference"]
    kept = tr.derived.get(key)
    assert kept.shape == (check.REPLAY_TOKENS, 8) and not kept.flags.writeable
    monkeypatch.setattr(check, "REFERENCE_CACHE_BYTES", 16)
    tr2 = open_trace(tmp_path / "t")
    check.check_op(tr2, tr2.ops[0], spec("tiny_acc_if"))
    check.check_op(tr2, tr2.ops[0], spec("tiny_mac"))
    assert len(calls) == 3 and not [k for k in tr2.derived.keys() if k[0] == "check_reference"]


def test_sampled_check_computes_the_reference_on_the_sampled_rows_and_finds_a_wrong_membrane(tmp_path, monkeypatch):
    """With a safe membrane width the reference GEMM runs on the sampled tokens only (every
    column), their firing is compared, and a single wrong replayed membrane is a mismatch."""
    import neurosim.engine.check as check
    from neurosim.trace.reader import open_trace
    rng = np.random.default_rng(9)
    codes = rng.integers(-7, 8, (100, 40)).astype(np.int8)
    w = rng.integers(-7, 8, (40, 300)).astype(np.int8)
    tr = open_trace(make_trace(tmp_path / "t", codes, 300, weights=w))
    rows = []
    real = check.exact_matmul
    monkeypatch.setattr(check, "exact_matmul", lambda a, b: rows.append(a.shape[0]) or real(a, b))
    got = check.check_op(tr, tr.ops[0], spec("tiny_acc_if"))
    assert rows == [check.REPLAY_TOKENS] and got["accumulation_mismatches"] == 0
    assert got["outputs"] == 100 * 300 and got["replayed_outputs"] == check.REPLAY_TOKENS * check.REPLAY_COLUMNS
    assert got["firing_outputs"] == check.REPLAY_TOKENS * 300
    replay = check._replay

    def off_by_one(*a):
        acc, overflows = replay(*a)
        acc[3, 7] += 1
        return acc, overflows
    monkeypatch.setattr(check, "_replay", off_by_one)
    assert check.check_op(tr, tr.ops[0], spec("tiny_acc_if"))["accumulation_mismatches"] == 1


def test_spatial_utilization_hand_counted(tmp_path):
    """Spatial utilization = useful operations / (PEs x cycles): the MACs of the nonzero codes
    (nonzero x N) on the 8 x 8 MAC (gated zero products and digit passes are not useful), spikes x N
    accumulates on the 8 x 8 IF array."""
    codes = (np.arange(8 * 16, dtype=np.int64).reshape(8, 16) % 15 - 7).astype(np.int8)
    path = make_trace(tmp_path / "t", codes, 8, recipe=PLAIN)
    mac = _one_layer(simulate(path, spec("tiny_mac")))
    assert mac.spatial_utilization == pytest.approx(np.count_nonzero(codes) * 8 / (64 * mac.cycles))
    acc = _one_layer(simulate(path, spec("tiny_acc_if")))
    spikes = int(np.abs(codes.astype(np.int64)).sum())
    assert acc.spatial_utilization == pytest.approx(spikes * 8 / (64 * acc.cycles))
    assert 0 < acc.spatial_utilization <= acc.utilization <= 1


# --- power-of-two salient step (trace v3 act_shift) ---------------------------------------------

POW2 = Recipe(salient_shift_max=6)


def _pow2_codes(rng, M, K):
    """Codes with salient entries (|q| > 7), about half of them on a shifted step."""
    codes = rng.integers(-7, 8, (M, K)).astype(np.int8)
    sal = rng.random((M, K)) < 0.1
    codes[sal] = (rng.integers(64, 128, sal.sum()) * rng.choice([-1, 1], sal.sum())).astype(np.int8)
    shifts = np.where(sal & (rng.random((M, K)) < 0.5), rng.integers(1, 7, (M, K)), 0).astype(np.int8)
    return codes, shifts


@pytest.mark.parametrize("name,overrides", VARIANTS + [("tiny_mac", {"array.salient": "outlier_path"}),
                                                        ("tiny_acc_if", {"array.salient_lanes": 2})])
def test_pow2_salient_step_round_trips_exact(tmp_path, name, overrides):
    """trace -> engine -> --check: the arrays sum code x 2^shift x weight exactly (auto widths)."""
    rng = np.random.default_rng(11)
    codes, shifts = _pow2_codes(rng, 9, 40)
    weights = rng.integers(-7, 8, (40, 11)).astype(np.int8)
    key = "array.membrane_bits" if name == "tiny_acc_if" else "array.acc_bits"
    s = spec(name, **overrides, **{key: "auto"})
    r = simulate(make_trace(tmp_path / "t", codes, 11, weights=weights, recipe=POW2, shifts=shifts), s, check=True)
    layer = _one_layer(r)
    assert layer.check["accumulation_mismatches"] == 0 and layer.check["membrane_overflows"] == 0
    assert layer.accumulator_bits == math.ceil(math.log2(40 * (127 << 6) * 7 + 1)) + 1


def test_pow2_shifts_are_summed_not_ignored(tmp_path):
    """The same codes without their shifts give other sums: the check sees the shifts."""
    rng = np.random.default_rng(3)
    codes, shifts = _pow2_codes(rng, 4, 16)
    weights = np.ones((16, 8), np.int8)
    trace = make_trace(tmp_path / "t", codes, 8, weights=weights, recipe=POW2, shifts=shifts)
    from neurosim.trace import open_trace
    t = open_trace(trace).op_tensors(open_trace(trace).ops[0])
    np.testing.assert_array_equal(t.act_values().sum(axis=1),
                                  (codes.astype(np.int64) * (1 << shifts.astype(np.int64))).sum(axis=1))
    assert not np.array_equal(t.act_values(), codes)


@pytest.mark.parametrize("name,overrides,data_bits", [("tiny_acc_if", {}, 4),
                                                      ("tiny_mac", {"array.salient": "outlier_path"}, 12),
                                                      ("tiny_mac", {}, 12)])
def test_pow2_shifter_and_entry_bits_hand_counted(tmp_path, name, overrides, data_bits):
    """Three salient entries x N = 8 outputs, each through a shifter of the shift field's 3 stages
    (shift_max 6); each side entry carries its 3-bit shift; dense MAC codes keep a sparse list of
    (index 4 bits + shift 3 bits) per salient entry."""
    codes = np.ones((8, 16), np.int8)
    codes[2, 5], codes[3, 5], codes[3, 9] = 100, -70, 90
    shifts = np.zeros((8, 16), np.int8)
    shifts[2, 5], shifts[3, 9] = 6, 1
    w = np.random.default_rng(0).integers(-7, 8, (16, 8))
    key = "array.membrane_bits" if name == "tiny_acc_if" else "array.acc_bits"
    srams = BIG_SRAMS if name == "tiny_acc_if" else BIG_MAC_SRAMS
    s = spec(name, **srams, **overrides, **{key: "auto"})
    layer = _one_layer(simulate(make_trace(tmp_path / "t", codes, 8, weights=w, recipe=POW2, shifts=shifts), s,
                                check=True))
    assert layer.check["accumulation_mismatches"] == 0
    assert layer.counters["salient_shifter.bit_stages"] == 3 * 8 * data_bits * 3
    plain = _one_layer(simulate(make_trace(tmp_path / "u", codes, 8, weights=w), s))
    assert plain.counters["salient_shifter.bit_stages"] == 0
    side = {"tiny_acc_if": "spike_salient", "tiny_mac": "salient_sram" if overrides else "act_sram"}[name]
    extra = layer.memory[side]["write_bits"] - plain.memory[side]["write_bits"]
    assert extra == 3 * (3 if overrides or name == "tiny_acc_if" else 3 + 4)


# --- the compiled tile pipeline against the simpy reference ----------------------------------------

@st.composite
def pipelines(draw):
    """Random tiles (loads, array times, write-backs; zeros included to force same-cycle ties),
    a DRAM latency and bandwidth, and the number of buffers."""
    n = draw(st.integers(1, 40))
    small = st.integers(0, 6)
    wide = st.integers(0, 5000)
    size = draw(st.sampled_from([small, wide]))
    tiles = draw(st.lists(st.tuples(size, size, size), min_size=n, max_size=n))
    return tiles, draw(st.integers(0, 40)), draw(st.integers(1, 300)), draw(st.integers(1, 3))


@st.composite
def periodic_pipelines(draw):
    """Tile sequences made of runs (R copies of L random tiles, as a decode step's folded ops),
    with their runs, a DRAM latency and bandwidth, and the number of buffers."""
    small = st.integers(0, 6)
    wide = st.integers(0, 3000)
    runs, tiles = [], []
    for _ in range(draw(st.integers(1, 3))):
        size = draw(st.sampled_from([small, wide]))
        period = draw(st.lists(st.tuples(size, size, size), min_size=1, max_size=4))
        copies = draw(st.integers(1, 60 // len(period)))
        runs.append((len(tiles), len(period), copies))
        tiles += period * copies
    return tiles, runs, draw(st.integers(0, 40)), draw(st.integers(1, 300)), draw(st.integers(1, 3))


def _dram_cycles(latency: int, bits_per_cycle: int):
    return lambda bits: 0 if bits <= 0 else latency + -(-bits // bits_per_cycle)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(periodic_pipelines())
def test_fast_forwarded_runs_equal_simpy_reference(case):
    """Runs of repeated tiles, fast-forwarded once the compiled pipeline's state repeats, give
    the simpy reference's cycles and stalls, tie for tie."""
    from neurosim.engine.pipeline import Block, run_arrays, run_pipeline

    tiles, runs, latency, bits_per_cycle, buffers = case
    dram_cycles = _dram_cycles(latency, bits_per_cycle)
    a, b, c = (np.array(x, np.int64) for x in zip(*tiles, strict=True))
    fast = run_arrays(a, b, c, b, dram_cycles, buffers, runs=np.array(runs, np.int64))
    assert fast == run_pipeline([Block(*t) for t in tiles], dram_cycles, buffers, engine="reference")


@pytest.mark.parametrize("period", [1, 3, 32])
def test_a_long_run_is_fast_forwarded_and_exact(period):
    """A run of 2,000 tiles (copies of ``period`` random tiles between two other tiles) skips
    most of its copies and gives the simpy reference's result."""
    from neurosim.engine.pipeline import Block, _per_tile_cycles, _workspace, run_pipeline
    from neurosim.kernels.tile_pipeline import no_records, no_templates, pipeline_cycles

    rng = np.random.default_rng(period)
    tiles = rng.integers(1, 3000, size=(period, 3))
    copies = 2000 // period
    arr = np.concatenate([[[700, 50, 900]], np.tile(tiles, (copies, 1)), [[10, 4000, 30]]]).astype(np.int64)
    dram_cycles = _dram_cycles(12, 64)
    loads, wbs = (_per_tile_cycles(arr[:, i], dram_cycles) for i in (0, 2))
    runs = np.array([(1, period, copies)], np.int64)
    *got, skipped = pipeline_cycles(loads, arr[:, 1].copy(), wbs, arr[:, 0] > 0, arr[:, 2] > 0, 2,
                                    _workspace(len(arr)), runs, no_records(), no_templates())
    ref = run_pipeline([Block(*map(int, t)) for t in arr], dram_cycles, 2, engine="reference")
    assert (got[0], {"dram_load": got[1], "output_writeback": got[2]}) == ref
    assert skipped >= 0.9 * len(arr)


@st.composite
def phases(draw):
    """Ops' tiles one after another (30 to 150 random tiles each), as a phase's schedule."""
    size = draw(st.sampled_from([st.integers(0, 6), st.integers(0, 3000)]))
    ops = [draw(st.lists(st.tuples(size, size, size), min_size=30, max_size=150)) for _ in range(draw(st.integers(1, 3)))]
    return ops, draw(st.integers(0, 40)), draw(st.integers(1, 300))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(phases())
def test_phase_jumping_along_its_ops_own_pipelines_equals_simpy_reference(case):
    """A phase's pipeline that jumps along the states its ops' own pipelines recorded gives the
    simpy reference's cycles and stalls, tie for tie."""
    from concurrent.futures import Future

    from neurosim.engine.pipeline import Block, run_arrays, run_pipeline, run_with_templates

    ops, latency, bits_per_cycle = case
    dram_cycles = _dram_cycles(latency, bits_per_cycle)
    recorded, start = [], 0
    for tiles in ops:
        a, b, c = (np.array(x, np.int64) for x in zip(*tiles, strict=True))
        done = Future()
        done.set_result(run_arrays(a, b, c, b, dram_cycles, states=True))
        recorded.append((start, done))
        start += len(tiles)
    phase = [t for tiles in ops for t in tiles]
    a, b, c = (np.array(x, np.int64) for x in zip(*phase, strict=True))
    fast = run_with_templates(a, b, c, dram_cycles, np.empty((0, 3), np.int64), recorded)
    assert fast == run_pipeline([Block(*t) for t in phase], dram_cycles, 2, engine="reference")


def test_a_long_op_in_its_phase_jumps_along_its_own_pipeline():
    """An op of 3,000 random tiles between two others: the phase's pipeline matches the op's
    own state early and skips most of its tiles, with the simpy reference's result."""
    from neurosim.engine.pipeline import Block, _per_tile_cycles, _workspace, new_records, run_pipeline, templates
    from neurosim.kernels.tile_pipeline import no_records, pipeline_cycles

    rng = np.random.default_rng(7)
    before, op, after = (rng.integers(1, 3000, size=(n, 3)) for n in (40, 3000, 40))
    dram_cycles = _dram_cycles(12, 64)

    def compiled(tiles, rec, tpl):
        loads, wbs = (_per_tile_cycles(tiles[:, i], dram_cycles) for i in (0, 2))
        return pipeline_cycles(loads, tiles[:, 1].copy(), wbs, tiles[:, 0] > 0, tiles[:, 2] > 0, 2,
                               _workspace(len(tiles)), np.empty((0, 3), np.int64), rec, tpl)
    rec = new_records(len(op), 2)
    compiled(op, rec, templates([]))
    phase = np.concatenate([before, op, after])
    *got, skipped = compiled(phase, no_records(), templates([(len(before), rec)]))
    ref = run_pipeline([Block(*map(int, t)) for t in phase], dram_cycles, 2, engine="reference")
    assert (got[0], {"dram_load": got[1], "output_writeback": got[2]}) == ref
    assert skipped >= 0.9 * len(op)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pipelines())
def test_fast_pipeline_equals_simpy_reference(case):
    """Identical cycles and stalls by cause, tie for tie, on random tile sequences."""
    from neurosim.engine.pipeline import Block, run_pipeline

    tiles, latency, bits_per_cycle, buffers = case
    blocks = [Block(a, b, c) for a, b, c in tiles]

    def dram_cycles(bits):
        return 0 if bits <= 0 else latency + -(-bits // bits_per_cycle)
    assert run_pipeline(blocks, dram_cycles, buffers, engine="fast") == \
        run_pipeline(blocks, dram_cycles, buffers, engine="reference")


@pytest.mark.parametrize("config", sorted(p.stem for p in (ROOT / "hw_configs").glob("*.yaml")))
def test_fast_engine_results_equal_reference_on_the_real_trace(config):
    """Every shipped config on the shipped real trace: the whole results.json is the same."""
    from neurosim.trace import open_trace

    trace = open_trace(ROOT / "traces" / "smollm2_wikitext_l1_t64")
    hw = ROOT / "hw_configs" / f"{config}.yaml"
    fast = simulate(trace, hw, verify=False, engine="fast")
    ref = simulate(trace, hw, verify=False, engine="reference")
    assert fast.to_json() == ref.to_json()


def _membranes_one_by_one(codes, shifts, weights, bitplane, bits):
    """The IF membranes, one membrane at a time in plain Python (the oracle of if_accumulate)."""
    lim = (1 << (bits - 1)) - 1

    def wrap(x):
        return ((x + lim + 1) % (2 * (lim + 1))) - lim - 1
    out, events = np.zeros((codes.shape[0], weights.shape[1]), np.int64), 0
    for t in range(codes.shape[0]):
        for j in range(weights.shape[1]):
            v = 0
            planes = range(7, -1, -1) if bitplane else [None]
            for b in planes:
                if b is not None:
                    v *= 2
                    if not -lim - 1 <= v <= lim:
                        events, v = events + 1, wrap(v)
                for i in range(codes.shape[1]):
                    q = int(codes[t, i])
                    n = ((abs(q) >> b) & 1) if b is not None else abs(q)
                    for _ in range(n):
                        v += (1 if q > 0 else -1) * (int(weights[i, j]) << int(shifts[t, i]))
                        if not -lim - 1 <= v <= lim:
                            events, v = events + 1, wrap(v)
            out[t, j] = v
    return out, events


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans(), st.integers(6, 24))
def test_if_accumulate_equals_membranes_one_by_one(seed, bitplane, bits):
    """Spike-by-spike replay, membranes updated a row of weights at a time, equals the membrane-by-
    membrane oracle, wrap-arounds and overflow events included (narrow widths force them)."""
    from neurosim.kernels.functional import if_accumulate

    rng = np.random.default_rng(seed)
    codes = rng.integers(-40, 41, (3, 9)).astype(np.int8)
    shifts = np.where(np.abs(codes) > 7, rng.integers(0, 3, codes.shape), 0).astype(np.int8)
    weights = rng.integers(-7, 8, (9, 5)).astype(np.int8)
    got = if_accumulate(codes, shifts, weights, bitplane, bits)
    want = _membranes_one_by_one(codes, shifts, weights, bitplane, bits)
    np.testing.assert_array_equal(got[0], want[0])
    assert got[1] == want[1]


def test_effective_energy_table_in_results_and_cli(tmp_path, capsys):
    """results.json carries pJ per action of the chip as built; every fixed-width layer's energy is
    its counts times that table; show-config --energy prints it (auto widths need a trace)."""
    from neurosim.cli import main

    codes = np.random.default_rng(0).integers(-30, 31, (10, 20)).astype(np.int8)
    s = spec("tiny_mac")
    r = simulate(make_trace(tmp_path / "t", codes, 12), s)
    assert r.energy_table_pj == design_energies(s, load_energy_table(s.technology)) and r.static_power_mw > 0
    layer = r.layers[0]
    timed = sum(layer.energy_by_action_pj[a] for a in ("leakage", "clock", "dram.background"))
    assert layer.energy_pj["total"] - timed == pytest.approx(
        sum(n * r.energy_table_pj[k] for k, n in layer.counters.items()))
    assert main(["show-config", str(ROOT / "hw_configs/tiny_mac.yaml"), "--energy"]) == 0
    out = capsys.readouterr().out
    assert f"{r.energy_table_pj['mac_array.mac']:12.6g} pJ" in out and "mW" in out
    # auto widths without --trace: resolved against the shipped real trace, and said so
    assert main(["show-config", str(ROOT / "hw_configs/acc_if_64x64.yaml"), "--energy"]) == 0
    assert "auto widths resolved against the shipped smollm2_wikitext_l1_t64_rot" in capsys.readouterr().out
    for config in sorted((ROOT / "hw_configs").glob("*.yaml")):  # every shipped config
        assert main(["show-config", str(config), "--energy"]) == 0, config.name
    capsys.readouterr()


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4), st.lists(st.lists(st.integers(0, 40), min_size=4, max_size=4), min_size=1, max_size=120),
       st.booleans())
def test_distinct_tiles_equal_numpys_row_unique(cols, rows, huge):
    """The mixed-radix distinct-row grouping of tile keys gives numpy's row unique, reordered by
    first occurrence (and falls back to it when the radix product would overflow)."""
    from neurosim.engine.op_model import distinct_rows

    keys = np.array([r[:cols] for r in rows], np.int64)
    if huge:
        keys = keys * (2 ** 40)
    uniq, first, inverse, counts = np.unique(keys, axis=0, return_index=True, return_inverse=True,
                                             return_counts=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    got = distinct_rows(keys)
    for a, b in zip(got, (uniq[order], rank[inverse.reshape(-1)], counts[order]), strict=True):
        assert np.array_equal(a, b)


def _least_traffic_loop(M, K, N, lim):
    """The tiling search as a plain loop (the engine's form before it was vectorised): the oracle."""
    from neurosim.engine.tiling import _candidates
    from neurosim.units import ceil_div

    def dram(Mb, Nb, Kb, order):
        n_m, n_n, n_k = ceil_div(M, Mb), ceil_div(N, Nb), ceil_div(K, Kb)
        act, wgt = M * K * lim.act_bits_per_code, K * N * lim.weight_bits_per_code
        if order == "mnk":
            act_times, w_times = (1 if n_k == 1 else n_n), (1 if (n_k == 1 and n_n == 1) else n_m)
        else:
            w_times, act_times = (1 if n_k == 1 else n_m), (1 if (n_k == 1 and n_m == 1) else n_n)
        return act * act_times + wgt * w_times + M * N * lim.out_bits_per_output

    best = None
    for Kb in _candidates(K, lim.align_k):
        for Mb in _candidates(M, lim.align_m):
            for Nb in _candidates(N, lim.align_n):
                single = Mb >= M and Nb >= N and Kb >= K
                f = 1.0 if single else 0.5
                n_k = ceil_div(K, Kb)
                psum = Mb * (Nb if n_k > 1 else min(Nb, lim.psum_cols_unsplit)) * lim.psum_bits
                out = Mb * Nb * lim.out_bits_per_output
                if lim.psum_shares_output:
                    over = psum + out / f > lim.out_capacity_bits
                else:
                    over = psum > lim.psum_capacity_bits or out > f * lim.out_capacity_bits
                if (over or Mb * Kb * lim.act_bits_per_code > f * lim.act_capacity_bits
                        or Kb * Nb * lim.weight_bits_per_code > f * lim.weight_capacity_bits):
                    continue
                folds = (ceil_div(M, Mb) * ceil_div(Mb, lim.align_m) * ceil_div(N, Nb) * ceil_div(Nb, lim.align_n)
                         * n_k * ceil_div(Kb, lim.align_k))
                for order in ("mnk", "nmk"):
                    cost = (dram(Mb, Nb, Kb, order), folds, ceil_div(M, Mb) * ceil_div(N, Nb) * n_k, -Kb, order)
                    if best is None or cost < best[0]:
                        best = (cost, Mb, Nb, Kb, order, single)
    return None if best is None else best[1:]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 3000), st.integers(1, 5000), st.integers(1, 5000), st.sampled_from([1, 4, 8]),
       st.sampled_from([4, 8, 16]), st.integers(10, 24), st.integers(0, 128), st.sampled_from([4.0, 4.3, 8.0, 16.0]),
       st.sampled_from([(1, 64, 64), (64, 64, 1), (32, 32, 32), (8, 16, 4)]), st.booleans(),
       st.lists(st.integers(10, 26), min_size=4, max_size=4))
def test_vectorised_tiling_search_equals_the_loop(M, K, N, act_bits, w_bits, psum_bits, unsplit, out_bits, align,
                                                   shares, caps):
    from neurosim.engine.tiling import TileLimits, _least_traffic

    lim = TileLimits(act_bits_per_code=act_bits, act_capacity_bits=2 ** caps[0], weight_bits_per_code=w_bits,
                     weight_capacity_bits=2 ** caps[1], psum_bits=psum_bits, psum_capacity_bits=2 ** caps[2],
                     psum_cols_unsplit=unsplit, out_bits_per_output=out_bits, out_capacity_bits=2 ** caps[3],
                     align_m=align[0], align_n=align[1], align_k=align[2], psum_shares_output=shares)
    assert _least_traffic(M, K, N, lim) == _least_traffic_loop(M, K, N, lim)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-128, 127), min_size=1, max_size=300), st.integers(0, 127), st.data())
def test_branch_free_count_step_equals_numpy(row, normal_max, data):
    """The default IF kernel's step statistics (spikes, nonzero, salient, largest |q|) and the
    salient count per token against numpy."""
    from neurosim.kernels.acc_tile import count_step, salient_per_token

    codes = np.array([row], np.int8)
    k0 = data.draw(st.integers(0, len(row) - 1))
    k1 = data.draw(st.integers(k0, len(row)))
    a = np.abs(codes[0, k0:k1].astype(np.int64))
    assert count_step(codes[0, k0:k1], normal_max) == (a.sum(), (a != 0).sum(), (a > normal_max).sum(),
                                                        a.max(initial=0))
    both = np.stack([codes[0], -codes[0].astype(np.int16).clip(-128, 127).astype(np.int8)])
    assert salient_per_token(both, normal_max).tolist() == (np.abs(both.astype(np.int64)) > normal_max).sum(1).tolist()


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 40), st.integers(1, 60), st.integers(1, 16), st.integers(1, 24), st.integers(0, 20),
       st.integers(0, 2 ** 32 - 1))
def test_salient_tile_counts_equal_numpy(M, K, Mb, Kb, normal_max, seed):
    """Salient entries and tokens holding any, per tile, against numpy block sums."""
    from neurosim.kernels.acc_tile import salient_counts, salient_tile_counts

    codes = np.random.default_rng(seed).integers(-30, 31, size=(M, K)).astype(np.int8)
    entries, tokens = salient_tile_counts(salient_counts(codes, normal_max, Kb), Mb)
    sal = np.abs(codes.astype(np.int16)) > normal_max
    for mi in range(-(-M // Mb)):
        for ki in range(-(-K // Kb)):
            block = sal[mi * Mb:(mi + 1) * Mb, ki * Kb:(ki + 1) * Kb]
            assert entries[mi, ki] == block.sum() and tokens[mi, ki] == block.any(axis=1).sum()


@pytest.mark.parametrize("config", ["acc_if_64x64", "mac_64x64_os_outlier"])
def test_results_do_not_depend_on_the_engine_thread_count(monkeypatch, config):
    """The walks and pipeline chunks handed to worker threads are pure: one thread or four give
    the same results on the real whole-inference trace."""
    import dataclasses

    from neurosim.engine import workers
    root = Path(__file__).resolve().parent.parent
    trace, hw = root / "traces/smollm2_wikitext_l1_p64_d8", root / f"hw_configs/{config}.yaml"
    out = []
    for n in (1, 4):
        monkeypatch.setattr(workers, "_POOL", None)
        monkeypatch.setattr(workers, "threads", lambda n=n: n)
        out.append(dataclasses.asdict(simulate(trace, hw)))
    assert out[0] == out[1]


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 70), st.integers(1, 300), st.integers(1, 2100), st.sampled_from([7, 127, 1 << 20]),
       st.integers(0, 2 ** 32 - 1))
def test_exact_matmul_equals_int64_matmul(m, K, N, amax, seed):
    """The reference GEMM, on its few-row integer path (int32 or int64 accumulators, column blocks)
    and its BLAS path, equals numpy's int64 product."""
    from neurosim.kernels.functional import exact_matmul

    rng = np.random.default_rng(seed)
    a = rng.integers(-amax, amax + 1, (m, K))
    a[rng.random((m, K)) < 0.3] = 0
    b = rng.integers(-128, 128, (K, N)).astype(np.int8)
    np.testing.assert_array_equal(exact_matmul(a, b), a @ b.astype(np.int64))


def test_overlapped_schedule_on_worker_threads_equals_the_reference_and_windows_bound_it():
    """The real whole-inference trace: the fast engine (pipelines and overlapped windows on worker
    threads, handed over as they fill) gives the reference engine's results.json; with one op per
    window (schedule.window_tiles: 1) the overlapped phase cycles are exactly the ops' serial sum,
    with whole phases per window they are below it, and a window between the two lands between
    them; nothing but the phase times moves."""
    from neurosim.trace import open_trace

    trace = open_trace(ROOT / "traces" / "smollm2_wikitext_l1_p64_d8")
    hw = ROOT / "hw_configs" / "acc_if_64x64.yaml"
    fast = simulate(trace, hw, verify=False)
    assert fast.to_json() == simulate(trace, hw, verify=False, engine="reference").to_json()
    assert all(p["cycles"] < p["serial_cycles"] for p in fast.phases.values())
    prefill_tiles = sum(la.tiling["n_m"] * la.tiling["n_n"] * la.tiling["n_k"] for la in fast.layers
                        if la.phase == "prefill" and la.kind != "vector")
    by_window = {w: simulate(trace, hw, overrides=[f"schedule.window_tiles={w}"], verify=False)
                 for w in (1, prefill_tiles // 4)}
    assert all(p["cycles"] == p["serial_cycles"] for p in by_window[1].phases.values())
    mid = by_window[prefill_tiles // 4].phases["prefill"]["cycles"]
    assert fast.phases["prefill"]["cycles"] < mid < fast.phases["prefill"]["serial_cycles"]
    for r in by_window.values():
        assert [la.cycles for la in r.layers] == [la.cycles for la in fast.layers]
        assert r.energy_pj == fast.energy_pj and r.total_cycles == fast.total_cycles


def test_tensor_cache_keeps_the_recent_tensors():
    """Entries of the last ``tensors`` tensors stay; using a tensor's entry makes it recent; the
    oldest tensor's entries go together."""
    from neurosim.engine.tensor_cache import TensorCache

    c = TensorCache(tensors=2)
    c[("a", 1)], c[("a", 2)], c[("b", 1)] = 1, 2, 3
    assert c[("a", 1)] == 1 and len(c) == 3  # a is now the most recent
    c[("c", 1)] = 4  # evicts b, the least recent
    assert ("b", 1) not in c and ("a", 2) in c and ("c", 1) in c and len(c) == 3
    with pytest.raises(KeyError):
        c[("b", 1)]


@pytest.mark.parametrize("cfg", ["acc_if_64x64", "mac_64x64_os", "manycore_acc_if"])
def test_results_do_not_depend_on_the_derivation_cache_bound(monkeypatch, cfg):
    """A cache of one tensor (every other derivation made again) gives the run of the default
    bound, to the byte: the cached derivations are pure and their keys say all they depend on."""
    import neurosim.engine.tensor_cache as tc

    trace = ROOT / "traces/smollm2_wikitext_l1_p64_d8"
    full = simulate(trace, ROOT / f"hw_configs/{cfg}.yaml", verify=False)
    monkeypatch.setattr(tc.TensorCache.__init__, "__defaults__", (1,))
    one = simulate(trace, ROOT / f"hw_configs/{cfg}.yaml", verify=False)
    assert one.to_json() == full.to_json()


@pytest.mark.parametrize("cfg", ["tiny_mac", "mac_64x64_os_outlier", "mac_64x64_ws_tree_outlier"])
def test_mac_zero_gating_saves_exactly_the_zero_products(tmp_path, cfg):
    """array.zero_gating: a zero activation's products (with outlier_path also a salient entry's,
    zero in the dense store) switch nothing: the MAC energy falls by zero operands x N x the MAC
    price, to the pJ; cycles and every other count stay."""
    rng = np.random.default_rng(3)
    codes = rng.integers(-7, 8, (24, 40)).astype(np.int8)
    codes[rng.random(codes.shape) < 0.3] = 0
    codes[5, 7], codes[9, 30] = 50, -90  # salient entries
    N = 24
    trace = make_trace(tmp_path / "t", codes, N)
    on = simulate(trace, spec(cfg, **BIG_MAC_SRAMS), verify=False)
    off = simulate(trace, spec(cfg, **BIG_MAC_SRAMS, **{"array.zero_gating": "false"}), verify=False)
    zeros = int((codes == 0).sum()) + (2 if "outlier" in cfg else 0)
    a, b = on.layers[0].counters, off.layers[0].counters
    assert a["mac_array.mac_gated"] == zeros * N and b["mac_array.mac_gated"] == 0
    assert a["mac_array.mac"] + zeros * N == b["mac_array.mac"]
    assert {k: v for k, v in a.items() if k not in ("mac_array.mac", "mac_array.mac_gated")} == \
        {k: v for k, v in b.items() if k not in ("mac_array.mac", "mac_array.mac_gated")}
    assert (on.total_cycles, on.scheduled_cycles) == (off.total_cycles, off.scheduled_cycles)
    price = off.layers[0].energy_by_action_pj["mac_array.mac"] / b["mac_array.mac"]
    assert off.energy_pj["total"] - on.energy_pj["total"] == pytest.approx(zeros * N * price, rel=1e-9)


@pytest.mark.parametrize("buffers", [1, 2])
def test_mac_weight_load_at_the_sram_width_hand_counted(tmp_path, buffers):
    """array.weight_load on the adder-tree MAC (64 x 64, 4-bit weights, a 16 x 128-bit weight
    SRAM: 2,048 bits per cycle): an op of 8 tokens, K = 128, N = 64 is two folds of a 64 x 64
    block, 16,384 bits: 64 cycles each shifted in row by row, 8 at the SRAM's width (as the IF
    array loads the same block). One buffer: every load exposed, (64 - 8) x 2 cycles apart; two:
    the second load hides under the first fold's 8-token stream as far as it can."""
    codes = np.random.default_rng(2).integers(1, 8, (8, 128)).astype(np.int8)
    path = make_trace(tmp_path / "t", codes, 64)
    runs = {how: _one_layer(simulate(path, spec("mac_64x64_ws_tree_outlier", **BIG_MAC_SRAMS, **{
        "array.weight_load": how, "array.weight_buffers": buffers}), verify=False)) for how in ("rows", "sram", "auto")}
    stream = 8  # one token per cycle
    if buffers == 1:
        assert runs["rows"].compute_cycles == 2 * (64 + stream) and runs["sram"].compute_cycles == 2 * (8 + stream)
    else:  # the first load whole, the second's excess over the first fold's stream
        assert runs["rows"].compute_cycles == 64 + (64 - stream) + 2 * stream
        assert runs["sram"].compute_cycles == 8 + 0 + 2 * stream
    assert runs["auto"].compute_cycles == runs["sram"].compute_cycles  # adder-tree columns: the SRAM bus
    assert runs["rows"].counters == runs["sram"].counters  # the same work, sooner


def test_a_pass_split_by_rows_over_the_workers_counts_every_code():
    """by_rows hands row blocks to the worker threads; the totals are numpy's, also when asked
    from a worker thread itself (where it must not wait for its peers)."""
    from neurosim.engine.workers import SPLIT_ROWS, by_rows, thread_pool
    from neurosim.kernels.acc_tile import code_totals

    codes = np.random.default_rng(3).integers(-12, 13, (2 * SPLIT_ROWS + 7, 33)).astype(np.int8)
    want = [np.count_nonzero(codes), int((np.abs(codes) > 7).sum()), int(np.abs(codes.astype(np.int64)).sum())]
    for blocks in (by_rows(code_totals, codes, 7), thread_pool().submit(by_rows, code_totals, codes, 7).result()):
        assert [int(sum(v)) for v in zip(*blocks, strict=True)] == want


def test_after_runs_once_its_futures_are_done_and_passes_errors_on():
    """workers.after: the function starts only when every future it follows is done (none of
    the pool's threads waits meanwhile), with none at once; its error reaches the caller."""
    from concurrent.futures import Future

    from neurosim.engine.workers import after

    first, second, seen = Future(), Future(), []
    out = after([first, second], lambda: seen.append(first.done() and second.done()) or len(seen))
    first.set_result(1)
    assert not out.done() and seen == []
    second.set_result(2)
    assert out.result(timeout=HANG_GUARD_S) == 1 and seen == [True]
    assert after([], lambda: 7).result(timeout=HANG_GUARD_S) == 7
    with pytest.raises(ZeroDivisionError):
        after([first], lambda: 1 // 0).result(timeout=HANG_GUARD_S)


def test_a_refused_run_returns_only_once_its_running_pipelines_are_done(tmp_path, monkeypatch):
    """An op refused mid-run (a repeat of 2^30): the pipelines already on the worker threads
    (held there until a timer lets them go) have all finished when the error reaches the caller;
    none goes on after it (the queued ones are dropped)."""
    import json
    import shutil
    import threading

    from neurosim.engine import pipeline
    from neurosim.errors import NeurosimError

    trace = tmp_path / "t"
    shutil.copytree(ROOT / "traces/smollm2_wikitext_l1_p64_d8", trace)
    m = json.loads((trace / "manifest.json").read_text())
    next(o for o in m["ops"] if o["kind"] == "attn_qk")["repeat"] = 1 << 30
    (trace / "manifest.json").write_text(json.dumps(m))
    real, release, running, seen = pipeline.pipeline_cycles, threading.Event(), [], []

    def held(*args):
        running.append(1)
        seen.append(1)
        release.wait(HANG_GUARD_S)
        try:
            return real(*args)
        finally:
            running.pop()
    monkeypatch.setattr(pipeline, "pipeline_cycles", held)
    timer = threading.Timer(1.0, release.set)
    timer.start()
    with pytest.raises(NeurosimError, match="repeat"):
        simulate(str(trace), str(ROOT / "hw_configs/acc_if_64x64.yaml"), verify=False)
    timer.join()
    assert seen and running == []
