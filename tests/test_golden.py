"""Golden scenarios (DESIGN §8): every shipped config on the shipped real prefill trace and on the
real whole-inference trace, and variants that exercise each option away from its shipped value,
compared number by number with ``tests/golden/*.json`` (tests/golden.py says how). A refactor moves
none of them; a modelling change regenerates them on purpose (``pytest --update-golden``, its own
commit). The hand-derived tiny scenarios are in ``test_golden_tiny.py``."""

from pathlib import Path

import pytest
from golden import check_golden

from neurosim.api import simulate
from neurosim.trace.reader import open_trace

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted(p.stem for p in (ROOT / "hw_configs").glob("*.yaml"))
PREFILL = "smollm2_wikitext_l1_t64"
INFERENCE = "smollm2_wikitext_l1_p64_d8"

#: Each option away from its shipped value, on the whole-inference trace (vector ops, KV cache,
#: decode with M = 1, pow2 salient shifts); narrow SRAMs make the bank/port bandwidth show.
VARIANTS: dict[str, tuple[str, dict]] = {
    "acc_event_queue": ("acc_if_64x64", {"array.dispatch": "event_queue"}),
    "acc_event_queue_per_spike": ("acc_if_64x64", {"array.dispatch": "event_queue", "array.weight_reads": "per_spike"}),
    "acc_bitplane": ("acc_if_64x64", {"array.encoding": "bitplane"}),
    "acc_per_spike_column": ("acc_if_64x64", {"array.column": "per_spike"}),
    "acc_membrane_tokens": ("acc_if_64x64", {"array.membrane_tokens": 16}),
    "acc_weight_buffers": ("acc_if_64x64", {"array.weight_buffers": 2}),
    "acc_salient_lanes": ("acc_if_64x64", {"array.salient_lanes": 4}),
    "acc_lane_skew": ("acc_if_64x64", {"array.lane_skew": 2}),
    "acc_lane_skew_narrow_membranes": ("acc_if_64x64_decoupled", {
        **{f"{m}.{k}": v for m in ("membrane_store", "output_buffer") for k, v in (("banks", 1), ("ports", 1),
                                                                                 ("width_bits", 32))},
        "membrane_store.size_kib": 16}),
    "acc_membrane_24": ("acc_if_64x64", {"array.membrane_bits": 24}),
    "acc_static_threshold": ("acc_if_64x64", {"threshold.output_scale": "static", "threshold.fold": "static"}),
    "acc_no_overlap": ("acc_if_64x64", {"schedule.overlap_ops": False}),
    "acc_narrow_srams_two_ports": ("acc_if_64x64", {
        **{f"{m}.{k}": v for m in ("spike_memory.dense", "spike_memory.salient", "weight_sram", "membrane_store",
                                   "output_buffer") for k, v in (("banks", 1), ("ports", 2), ("width_bits", 16))},
        "membrane_store.size_kib": 8}),
    "acc_narrow_srams_one_port": ("acc_if_64x64", {
        **{f"{m}.{k}": v for m in ("spike_memory.dense", "spike_memory.salient", "weight_sram", "membrane_store",
                                   "output_buffer") for k, v in (("banks", 1), ("ports", 1), ("width_bits", 16))},
        "membrane_store.size_kib": 8}),
    "acc_slow_dram": ("acc_if_64x64", {"dram.bandwidth_gbps": 1.6, "dram.latency_ns": 2000, "dram.burst_bytes": 256,
                                       "dram.type": "HBM2"}),
    "acc_power": ("acc_if_64x64", {"leakage.sram_cell": "hp", "leakage.logic_static_mw": 5,
                                   "interconnect.wire": "low_swing", "interconnect.activity": 0.25,
                                   "interconnect.wire_length_mm": 2.5}),
    "acc_45nm": ("acc_if_64x64", {"technology": "45nm", "interconnect.energy_pj_per_bit": 0.3, "clock_mhz": 333}),
    "acc_7nm": ("acc_if_64x64", {"technology": "7nm", "dram.type": "GDDR6"}),
    "acc_snn_convention": ("acc_if_64x64", {"technology": "snn-45nm-fp32"}),
    "mac_ws_systolic": ("mac_64x64_os", {"array.dataflow": "ws"}),
    "mac_ws_double_buffered": ("mac_64x64_os", {"array.dataflow": "ws", "array.weight_buffers": 2}),
    "mac_tree_token_groups": ("mac_64x64_ws_tree", {"array.accumulator_tokens": 16, "array.weight_buffers": 2}),
    "mac_tree_double_buffered_narrow": ("mac_64x64_ws_tree", {
        "array.weight_buffers": 2, **{f"{m}.{k}": v for m in ("act_sram", "output_sram")
                                      for k, v in (("banks", 1), ("ports", 2), ("width_bits", 16))}}),
    "mac_wide_operands": ("mac_64x64_os", {"array.act_bits": 8}),
    "mac_spilled_dram": ("mac_64x64_os", {"dequant.mode": "spilled", "dequant.scale_multiplies": 1}),
    "mac_spilled_sram": ("mac_64x64_os", {"dequant.mode": "spilled", "dequant.spill_to": "sram"}),
    "mac_static_scale": ("mac_64x64_os", {"requant.output_scale": "static", "requant.out_bits": 8}),
    "mac_narrow_srams_two_ports": ("mac_64x64_os", {
        **{f"{m}.{k}": v for m in ("act_sram", "weight_sram", "output_sram")
           for k, v in (("banks", 1), ("ports", 2), ("width_bits", 16))}, "output_sram.size_kib": 16}),
    "mac_outlier_narrow": ("mac_64x64_os_outlier", {
        "outlier_unit.lanes": 4, "salient_sram.banks": 1, "salient_sram.width_bits": 16, "array.acc_bits": 32}),
    "mac_power": ("mac_64x64_ws_tree", {"leakage.sram_cell": "hp", "leakage.logic_static_mw": 5,
                                        "dram.type": "DDR4", "vector_unit.lanes": 16}),
    # the many-core chip on a 5 x 4 mesh (one layer needs 18 cores): its options off their defaults
    "chip_unicast": ("manycore_acc_if", {"system.mesh": "[5,4]", "noc.multicast": "false"}),
    "chip_per_spike": ("manycore_acc_if", {"system.mesh": "[5,4]", "noc.encoding": "per_spike"}),
    "chip_dense": ("manycore_mac", {"system.mesh": "[5,4]", "noc.encoding": "dense"}),
    "chip_events": ("manycore_mac", {"system.mesh": "[5,4]", "noc.encoding": "events"}),
    "chip_no_chunks": ("manycore_acc_if", {"system.mesh": "[5,4]", "system.prefill_chunk_tokens": 64}),
    "chip_fast_noc": ("manycore_mac", {"system.mesh": "[5,4]", "noc.link_width_bits": 128, "noc.router_cycles": 1,
                                       "noc.link_mm": 2.0}),
    "chip_kv_in_dram": ("manycore_mac", {"system.mesh": "[8,8]", "weight_sram.size_kib": 56}),
    "chip_gated_unused": ("manycore_acc_if", {"system.power_gating": "unused"}),
    "chip_gated_idle": ("manycore_mac", {"system.power_gating": "idle"}),
    "chip_input_split": ("manycore_acc_if", {"system.mesh": "[14,14]", "weight_sram.size_kib": 16}),
    "board_ring_tp": ("manycore_mac", {"system.mesh": "[4,3]", "board.chips": "[2,2]", "board.topology": "ring",
                                       "board.tensor_parallel": 2}),
}


@pytest.fixture(scope="module")
def traces():
    return {name: open_trace(ROOT / "traces" / name) for name in (PREFILL, INFERENCE)}


@pytest.mark.parametrize("trace", [PREFILL, INFERENCE], ids=["prefill", "inference"])
@pytest.mark.parametrize("config", CONFIGS)
def test_shipped_config_golden(traces, config, trace, update_golden):
    r = simulate(traces[trace], ROOT / "hw_configs" / f"{config}.yaml", verify=False)
    check_golden(f"{config}__{'prefill' if trace == PREFILL else 'inference'}", r, update_golden)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_golden(traces, variant, update_golden):
    base, overrides = VARIANTS[variant]
    r = simulate(traces[INFERENCE], ROOT / "hw_configs" / f"{base}.yaml",
                 overrides=[f"{k}={v}" for k, v in overrides.items()], verify=False)
    check_golden(f"variant__{variant}", r, update_golden)


def test_every_golden_file_belongs_to_a_scenario_and_every_scenario_has_one():
    """A shipped config added or removed, or a variant renamed, cannot leave a scenario unguarded or
    a stale golden file behind."""
    from golden import GOLDEN_DIR

    want = {f"{c}__{t}" for c in CONFIGS for t in ("prefill", "inference")} | {f"variant__{v}" for v in VARIANTS}
    assert len(CONFIGS) == 14 and len(want) == 2 * 14 + len(VARIANTS)
    assert {p.stem for p in GOLDEN_DIR.glob("*.json")} == want
