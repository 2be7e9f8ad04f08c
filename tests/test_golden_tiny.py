"""Golden scenarios derived by hand: one tiny IF design and one tiny adder-tree MAC with the
outlier path, on the same 2-token op with pow2-shifted salient codes. Every expected number below
is counted in the comments from the config and the codes (docs/model.md and the module docstrings
of neurosim/engine/acc_if.py, mac.py, neurosim/kernels/acc_tile.py, neurosim/hw/*), not copied from
the simulator's output. Cycles, stalls by cause, every counter and every memory count compare
exactly; energy per action to a relative 1e-9, from the 45 nm table's entries and the scaling
formulas of docs/model.md written out here again.

The op: M = 2 tokens, K = 8 inputs, N = 4 outputs on a 4 x 4 array (R = C = 4), so K is two
sub-tiles of 4 lanes and N one sub-tile of 4 columns. Recipe W4A4 + 8-bit salient codes on a
power-of-two step (normal |q| <= 7; salient_shift_max 1: one shift bit per salient entry). No
weight codes: the output salient ratio is the input's, 2 / 16.

    token 0:  1  1  0  1 | 20  1  0  0     (20 is salient, shift 1: it stands for 40 steps)
    token 1:  0  0  0  0 |  1 -9  2  0     (-9 is salient, shift 0)

Every SRAM is 1 KiB, one bank, two ports, 8-bit words (16 bits per cycle), but the membrane store
(32-bit words: 64 bits per cycle). DRAM: 100 ns at 100 MHz = 10 cycles latency, 1.6 GB/s =
12.8 Gbit/s / 100 MHz = 128 bits per cycle, 8-byte (64-bit) bursts. All of it fits one tile
(Mb = 2, Kb = 8, Nb = 4), so the pipeline is: load, compute, write back.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import make_trace, write_yaml

from neurosim.api import simulate
from neurosim.config.energy_table import load_energy_table
from neurosim.trace import Recipe

CODES = np.array([[1, 1, 0, 1, 20, 1, 0, 0],
                  [0, 0, 0, 0, 1, -9, 2, 0]], np.int8)
SHIFTS = np.zeros_like(CODES)
SHIFTS[0, 4] = 1
RECIPE = Recipe(weight_bits=4, act_bits=4, salient_bits=8, salient_rule="mad", salient_param=3.0,
                salient_shift_max=1)
N = 4
CLOCK_MHZ = 100
SRAM = {"size_kib": 1, "banks": 1, "ports": 2, "width_bits": 8, "latency_cycles": 1}
COMMON = {"clock_mhz": CLOCK_MHZ, "technology": "45nm",
          "dram": {"type": "LPDDR4", "bandwidth_gbps": 1.6, "latency_ns": 100, "burst_bytes": 8},
          "interconnect": {"width_bits": 64, "wire_length_mm": 1.0, "wire": "repeated", "activity": 0.5},
          "leakage": {"sram_cell": "lstp", "logic_static_mw": 1.0}}
VECTOR_ZERO = {"vector_unit.fp16_mul": 0, "vector_unit.fp16_add": 0, "vector_unit.reg_bits": 0}


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    return make_trace(tmp_path_factory.mktemp("tiny") / "t", CODES, N, recipe=RECIPE, shifts=SHIFTS)


# --- the energy table, by the formulas of docs/model.md (energy.md b) ------------------------------

T = load_energy_table("45nm")


def add_pj(bits):  # E8 (n/8)^p through the 8- and 32-bit anchors
    return T["int_add_8b"] * (bits / 8) ** (math.log(T["int_add_32b"] / T["int_add_8b"]) / math.log(4))


def mul_pj(a, b):  # E8x8 (ab/64)^q through the 8x8 and 32x32 anchors
    return T["int_mul_8x8"] * (a * b / 64) ** (math.log(T["int_mul_32x32"] / T["int_mul_8x8"]) / math.log(16))


def sram_pj(kind, bank_kib, width):  # CACTI fit per bank access
    return T[f"sram_{kind}_e0"] * (bank_kib / 8) ** T[f"sram_{kind}_size_exp"] * (width / 64) ** T[f"sram_{kind}_width_exp"]


def sram_actions(name, width=8):
    return {f"{name}.read": sram_pj("read", 1.0, width), f"{name}.write": sram_pj("write", 1.0, width)}


SHARED_PJ = {"dram.read_bits": T["dram_LPDDR4"], "dram.write_bits": T["dram_LPDDR4"],
             "interconnect.bits": T["wire_repeated"] * 1.0 * 0.5,
             "salient_shifter.bit_stages": 0.41 / 0.21 * T["int_add_32b"] / (32 * 5),
             "vector_unit.fp16_mul": T["fp16_mul"], "vector_unit.fp16_add": T["fp16_add"],
             "vector_unit.reg_bits": T["register_bit"]}


def leakage_pj(srams, cycles):
    """1 mW of logic (the config's number) plus lstp leakage of ``srams`` KiB, over ``cycles``."""
    return (1.0 + srams * T["sram_leak_lstp"]) * 1e-3 * (cycles / (CLOCK_MHZ * 1e6)) * 1e12


def check_run(r, compute, stalls_in_tile, cycles, counters, memory):
    """The one-tile run: its tiling, cycles (load 13 + array + write-back 11, nothing overlaps),
    stalls by cause, every counter and memory count, exactly."""
    (layer,) = r.layers
    assert layer.tiling == {"Mb": 2, "Nb": 4, "Kb": 8, "n_m": 1, "n_n": 1, "n_k": 1, "order": "mnk",
                            "double_buffered": False}
    assert layer.compute_cycles == compute
    assert layer.stall_cycles == {**stalls_in_tile, "dram_load": 13, "output_writeback": 11}
    assert layer.cycles == r.total_cycles == cycles == compute + sum(layer.stall_cycles.values())
    assert r.phases["prefill"]["cycles"] == r.schedule_cycles == cycles
    assert layer.counters == counters
    assert layer.memory == memory


def seconds(cycles):
    return cycles / (CLOCK_MHZ * 1e6)


def clock_pj(flip_flops, cycles):
    """The clock tree: ``flip_flops`` clocked for ``cycles``, each cycle the table's energy."""
    return flip_flops * T["clock_reg_bit"] * cycles


# LPDDR4 background at 1.6 GB/s: 1.6 x 1.878 mW in power-down, 1.6 x 6.228 mW in standby while
# it transfers (bits / 8 / 1.6 GB/s).
DRAM_IDLE_MW, DRAM_BUSY_MW = 1.6 * T["dram_powerdown_LPDDR4"], 1.6 * T["dram_standby_LPDDR4"]


def dram_background_pj(cycles, dram_bits):
    busy_s = dram_bits / 8 / 1.6e9
    return (DRAM_IDLE_MW * seconds(cycles) + (DRAM_BUSY_MW - DRAM_IDLE_MW) * busy_s) * 1e9


def check_energy(layer, counters, pj, timed):
    want = {k: counters[k] * pj[k] for k in counters}
    want.update(timed)
    assert layer.energy_by_action_pj.keys() == want.keys()
    for k, v in want.items():
        assert layer.energy_by_action_pj[k] == pytest.approx(v, rel=1e-9, abs=1e-12), k
    assert layer.energy_pj["total"] == pytest.approx(sum(want.values()), rel=1e-9)


# --- the IF design ------------------------------------------------------------------------------

IF_CONFIG = {
    "name": "tiny_if_golden", "design": "acc_if", **COMMON,
    "array": {"rows": 4, "cols": 4, "membrane_bits": 16, "weight_bits": 4, "dispatch": "time_stepped",
              "encoding": "count", "column": "adder_tree", "weight_buffers": 2},
    "threshold": {"bits": 16, "output_scale": "static", "fold": "per_token"},
    "spike_memory": {"dense": {**SRAM, "code_bits": 4}, "salient": {**SRAM, "code_bits": 8, "index_bits": 8}},
    "weight_sram": SRAM, "membrane_store": {**SRAM, "width_bits": 32}, "output_buffer": SRAM,
    "power": {"clock_gating": "none"},
}

# Per (token, K sub-tile) step: compute = the largest |code| (lanes in lockstep); the SRAMs need
#   dense codes: 4 codes x 4 bits = 16 bits at 16 bits/cycle = 1 cycle (2 with one port),
#   salient entries: 8 code + 8 index + 1 shift = 17 bits each, ceil(17 n / 16) cycles,
#   membranes: the first K sub-tile writes 4 x 16 = 64 bits (64 bits/cycle: 1 cycle), the last
#     reads them (1 cycle) and writes 4 x 4 output bits to the output buffer (1 cycle): 1.
# A step lasts max(compute, codes, membranes); the excess is a stall of the dominant cause
# (membrane before spike memory on a tie).
#   (t0, k0): |1 1 0 1| -> 3 spikes, compute 1, codes 1, membranes 1           -> 1
#   (t0, k1): |20 1 0 0| -> 21 spikes, compute 20, codes 1 + 2 (one entry)      -> 20
#   (t1, k0): all zero  -> 0 spikes, compute 0, codes 1, membranes 1           -> 1, membrane stall 1
#   (t1, k1): |1 -9 2 0| -> 12 spikes, compute 9, codes 1 + 2                   -> 9
# compute 1 + 20 + 0 + 9 = 30; spikes 36; busy per K sub-tile 1 + 1 = 2 and 20 + 9 = 29.
# Weight sub-tiles (4 x 4 x 4 = 64 bits at 16 bits/cycle = 4 cycles each), double-buffered: the
# first load stalls whole (4), the second loads under sub-tile 0's 2 cycles of steps: 4 - 2 = 2.
IF_COMPUTE, IF_STALLS_IN_TILE = 30, {"membrane_store": 1, "weight_tile_load": 6, "spike_memory": 0, "weight_sram": 0}
# DRAM: activation tile 16 codes x 4 bits = 64 + 2 entries x 17 = 34 -> 98 bits; weights 8 x 4 x 4
# = 128 + 4 channel constants x 16 = 64 -> 192 bits; one load of 290 bits = 5 bursts = 320 bits:
# 10 + ceil(320 / 128) = 13 cycles. Output: 8 x 4 bits + round(8 x 2/16) = 1 entry x 17 = 49 bits
# = 1 burst = 64 bits: 10 + 1 = 11 cycles. Load 13, array 30 + 7 = 37, write-back 11.
IF_CYCLES = 13 + 37 + 11
IF_COUNTERS = {
    # adder-tree columns write their membrane in every compute cycle: 30 cycles x 4 columns;
    # the other spike x column adds are tree adds: 36 x 4 - 120
    "array.accumulate": 120, "array.tree_add": 36 * 4 - 120, "array.reg_bits": 120 * 16,
    "array.weight_reg_bits": 8 * 4 * 4,  # both weight sub-tiles into the PE registers, once
    "threshold.setup": 2 * 4, "threshold.compare": 2 * 4,  # per (token, neuron): fold per_token
    "salient_shifter.bit_stages": 2 * 4 * 4 * 1,  # 2 entries x 4 columns x 4-bit weight x 1 stage
    # dense codes: written once (64 bits = 8 words), read per K sub-tile per token (2 x 2 reads of
    # 16 bits = 2 words each)
    "spike_dense.write": 8, "spike_dense.read": 8,
    "spike_salient.write": 5, "spike_salient.read": 5,  # 34 bits = 5 words, in and out
    "weight_sram.write": 24, "weight_sram.read": 2 * 8,  # 192 bits in; two 64-bit sub-tiles out
    # membranes: written after K sub-tile 0 and read before sub-tile 1, per token (64 bits = 2 words)
    "membrane_store.write": 2 * 2, "membrane_store.read": 2 * 2,
    # fired codes (16 bits = 2 words per token) and the salient entry (17 bits = 3 words) in; the
    # tile's 49 bits (7 words) out to DRAM
    "output_buffer.write": 2 * 2 + 3, "output_buffer.read": 7,
    "dram.read_bits": 320, "dram.write_bits": 64,
    "interconnect.bits": (64 + 64) + (34 + 34) + (192 + 128) + (128 + 128) + (49 + 49),
    **VECTOR_ZERO,
}
IF_MEMORY = {
    "spike_dense": {"reads": 8, "writes": 8, "read_bits": 64, "write_bits": 64},
    "spike_salient": {"reads": 5, "writes": 5, "read_bits": 34, "write_bits": 34},
    "weight_sram": {"reads": 16, "writes": 24, "read_bits": 128, "write_bits": 192},
    "membrane_store": {"reads": 4, "writes": 4, "read_bits": 128, "write_bits": 128},
    "output_buffer": {"reads": 7, "writes": 7, "read_bits": 49, "write_bits": 49},
    "dram": {"reads": 5, "writes": 1, "read_bits": 320, "write_bits": 64},
}
IF_PJ = {**SHARED_PJ, **sram_actions("spike_dense"), **sram_actions("spike_salient"), **sram_actions("weight_sram"),
         **sram_actions("membrane_store", 32), **sram_actions("output_buffer"),
         # a 4-row tree: 2 adds of 4 + 1 bits, 1 of 4 + 2, each level at its width
         "array.accumulate": add_pj(16), "array.tree_add": (2 * add_pj(4 + 1) + add_pj(4 + 2)) / 3,
         "array.reg_bits": T["register_bit"],
         "array.weight_reg_bits": T["register_bit"], "threshold.setup": T["fp16_mul"],
         "threshold.compare": add_pj(16)}


def test_tiny_if_hand_counted(tmp_path, trace):
    r = simulate(trace, write_yaml(tmp_path / "if.yaml", IF_CONFIG))
    check_run(r, IF_COMPUTE, IF_STALLS_IN_TILE, IF_CYCLES, IF_COUNTERS, IF_MEMORY)
    # the clock, not gated (power.clock_gating: none): every flip-flop every cycle; the array's
    # 4 x 4 x 4-bit weights twice (two buffers) + 4 columns x 16-bit membranes = 192, the
    # sequencer's four 10-bit (1 KiB of 8-bit words) and one 8-bit (1 KiB of 32-bit words)
    # address generators + five 16-bit loop counters = 128
    timed = {"leakage": leakage_pj(5, IF_CYCLES), "clock": clock_pj(192 + 128, IF_CYCLES),
             "dram.background": dram_background_pj(IF_CYCLES, 320 + 64)}
    check_energy(r.layers[0], IF_COUNTERS, IF_PJ, timed)


# --- the adder-tree MAC with the outlier path --------------------------------------------------------

MAC_CONFIG = {
    "name": "tiny_mac_golden", "design": "mac", **COMMON,
    "array": {"rows": 4, "cols": 4, "dataflow": "ws", "column": "adder_tree", "act_bits": 4, "weight_bits": 4,
              "acc_bits": 16, "salient": "outlier_path"},
    "dequant": {"mode": "fused", "scale_multiplies": 2}, "requant": {"out_bits": 4, "output_scale": "static"},
    "act_sram": {**SRAM, "ports": 1}, "weight_sram": SRAM, "output_sram": SRAM,
    "salient_sram": {**SRAM, "code_bits": 8, "index_bits": 8}, "outlier_unit": {"lanes": 1, "act_bits": 8},
}

# The dense codes sit in the array at 4 bits (the salient ones are 0 there); K = 8 is two folds of
# R = 4 rows; each fold loads its 4 x 4 weights in R = 4 cycles and streams the 2 tokens, one per
# cycle: 4 + 2 = 6 cycles, 12 for both (one weight buffer). Per fold the partial sums of 2 tokens x
# 4 columns x 16 bits = 128 bits go to the output SRAM (fold 0 writes, fold 1 reads) at 16 bits per
# cycle = 8 cycles against the fold's 6: 2 stall cycles each. Inputs: 2 tokens x 4 codes x 4 bits
# = 32 bits at 8 bits per cycle (one port) = 4 cycles, under 6: no stall. The outlier unit: 2
# entries x 4 outputs = 8 MACs on 1 lane = 8 cycles, under the array's 12: no stall.
MAC_COMPUTE, MAC_STALLS_IN_TILE = 12, {"act_sram": 0, "weight_sram": 0, "output_sram": 4, "outlier_unit": 0}
# DRAM: codes 16 x 4 + 2 token scales x 16 = 96, side store 2 x 17 = 34, weights 192 -> 322 bits
# = 6 bursts = 384: 10 + 3 = 13 cycles. Output: 8 x (4 + 2/16 x 17) = 49 bits -> 64: 11 cycles.
MAC_CYCLES = 13 + (12 + 4) + 11
MAC_COUNTERS = {
    # 2 x 8 x 4 = 64 products; zero gating: the 8 zero codes and the 2 salient entries (0 in the
    # array) gate their 4 products each
    "mac_array.mac": 64 - 10 * 4, "mac_array.mac_gated": 10 * 4, "mac_array.mac_extra_pass": 0,
    "mac_array.digit_add": 0,
    # per fold and token one tree sum + accumulate per column: 2 folds x 2 tokens x 4 columns
    "mac_array.accumulate": 16, "mac_array.tree_add": 64 - 16,
    "mac_array.reg_bits": 16 * 16 + 2 * 2 * 4 * 4,  # accumulators, and 4 input latches per token
    "dequant.convert": 8, "dequant.scale_mul": 8 * 2, "requant.scale_mul": 8, "requant.round": 8,
    "outlier_unit.mac": 8, "outlier_unit.merge_add": 2 * 4, "outlier_unit.reg_bits": 8 * (8 + 4 + 16),
    # each salient product shifted once per output, through (7 + 1 + 4)-bit x 1-stage shifters
    "salient_shifter.bit_stages": 2 * 4 * 12 * 1,
    "act_sram.write": 12, "act_sram.read": 2 * 4,  # 96 bits in; 32 bits (4 words) per fold
    "weight_sram.write": 24, "weight_sram.read": 2 * 8 + 4,  # two folds' 64 bits; 2 weight rows of 16
    # partial sums out after fold 0 and in for fold 1 (16 words each), then the 49 output bits
    "output_sram.write": 16 + 7, "output_sram.read": 16 + 7,
    "salient_sram.write": 5, "salient_sram.read": 5,
    "dram.read_bits": 384, "dram.write_bits": 64,
    "interconnect.bits": (96 + 64) + (192 + 160) + (177 + 177) + (34 + 34),
    **VECTOR_ZERO,
}
MAC_MEMORY = {
    "act_sram": {"reads": 8, "writes": 12, "read_bits": 64, "write_bits": 96},
    "weight_sram": {"reads": 20, "writes": 24, "read_bits": 160, "write_bits": 192},
    "output_sram": {"reads": 23, "writes": 23, "read_bits": 177, "write_bits": 177},
    "salient_sram": {"reads": 5, "writes": 5, "read_bits": 34, "write_bits": 34},
    "dram": {"reads": 6, "writes": 1, "read_bits": 384, "write_bits": 64},
}
MAC_PJ = {**SHARED_PJ, **sram_actions("act_sram"), **sram_actions("weight_sram"), **sram_actions("output_sram"),
          **sram_actions("salient_sram"),
          "mac_array.mac": mul_pj(4, 4), "mac_array.mac_gated": 0.0, "mac_array.mac_extra_pass": mul_pj(4, 4),
          "mac_array.digit_add": add_pj(16),
          # 4 products of 8 bits: 2 adds of 9 bits, 1 of 10
          "mac_array.tree_add": (2 * add_pj(8 + 1) + add_pj(8 + 2)) / 3, "mac_array.accumulate": add_pj(16),
          "mac_array.reg_bits": T["register_bit"], "dequant.convert": T["convert_i32_fp16"],
          "dequant.scale_mul": T["fp16_mul"], "requant.scale_mul": T["fp16_mul"], "requant.round": add_pj(16),
          "outlier_unit.mac": mul_pj(8, 4) + add_pj(16), "outlier_unit.merge_add": add_pj(16),
          "outlier_unit.reg_bits": T["register_bit"]}


def test_tiny_adder_tree_mac_with_outlier_path_hand_counted(tmp_path, trace):
    r = simulate(trace, write_yaml(tmp_path / "mac.yaml", MAC_CONFIG))
    check_run(r, MAC_COMPUTE, MAC_STALLS_IN_TILE, MAC_CYCLES, MAC_COUNTERS, MAC_MEMORY)
    # the clock, gated (power.clock_gating: idle): the array's 4 x 4 x 4-bit weights, 4 x 16-bit
    # accumulators and 4 x 4-bit input latches (144) and the outlier lane's 8 + 4 + 16 = 28 while
    # the array computes; the sequencer's three 10-bit and one 10-bit address generators and five
    # 16-bit loop counters (120) every cycle
    timed = {"leakage": leakage_pj(4, MAC_CYCLES),
             "clock": clock_pj(144 + 28, MAC_COMPUTE) + clock_pj(120, MAC_CYCLES),
             "dram.background": dram_background_pj(MAC_CYCLES, 384 + 64)}
    check_energy(r.layers[0], MAC_COUNTERS, MAC_PJ, timed)


@pytest.mark.parametrize("gating,flip_flop_cycles", [
    ("register", 120 * MAC_CYCLES),  # written cycles are in register_bit; the sequencer always
    ("none", (144 + 28 + 120) * MAC_CYCLES),  # every flip-flop every cycle
])
def test_tiny_mac_clock_gating_by_hand(tmp_path, trace, gating, flip_flop_cycles):
    r = simulate(trace, write_yaml(tmp_path / "mac.yaml", {**MAC_CONFIG, "power": {"clock_gating": gating}}))
    assert r.layers[0].energy_by_action_pj["clock"] == pytest.approx(clock_pj(flip_flop_cycles, 1), rel=1e-9)
