"""pJ per counted action for one hardware spec under its energy table.

Every counter name the components emit has exactly one entry here (a test keeps the two sets
equal), each computed from the table by a formula of :mod:`neurosim.energy.scaling`.
"""

from __future__ import annotations

from neurosim.config.energy_table import EnergyTable
from neurosim.config.hw import AccIfSpec, HwSpec, InterconnectSpec, SramSpec, sram_specs
from neurosim.energy import scaling as sc
from neurosim.errors import ConfigError, Problem
from neurosim.hw.cells import LogicCells


def _sram(table: EnergyTable, name: str, spec: SramSpec) -> dict[str, float]:
    bank_kib = spec.size_kib / spec.banks  # each bank is its own array
    return {f"{name}.read": sc.sram_read_pj(table, bank_kib, spec.width_bits),
            f"{name}.write": sc.sram_write_pj(table, bank_kib, spec.width_bits)}


def _interconnect(table: EnergyTable, spec: InterconnectSpec) -> float:
    if spec.energy_pj_per_bit is not None:
        return spec.energy_pj_per_bit
    return sc.wire_pj_per_bit(table, spec.wire, spec.wire_length_mm, spec.activity)


def action_energies(spec: HwSpec, table: EnergyTable) -> dict[str, float]:
    """``{"component.action": pJ}`` for every action the design can count."""
    out: dict[str, float] = {
        "dram.read_bits": sc.dram_pj_per_bit(table, spec.dram.type),
        "dram.write_bits": sc.dram_pj_per_bit(table, spec.dram.type),
        "interconnect.bits": _interconnect(table, spec.interconnect),
        "salient_shifter.bit_stages": sc.shift_bit_stage_pj(table),
        "vector_unit.fp16_mul": table["fp16_mul"],
        "vector_unit.fp16_add": table["fp16_add"],
        "vector_unit.reg_bits": table["register_bit"],
    }
    for name, s in sram_specs(spec).items():
        out.update(_sram(table, name, s))
    reg = table["register_bit"]
    if isinstance(spec, AccIfSpec):
        a = spec.array
        event_bits = spec.spike_memory.salient.index_bits + 1 + (3 if a.encoding == "bitplane" else 0)
        out.update({
            "array.accumulate": sc.int_add_pj(table, a.membrane_bits),
            "array.reg_bits": reg,
            "array.weight_reg_bits": reg,
            "threshold.setup": table["fp16_mul"],
            "threshold.compare": sc.int_add_pj(table, spec.threshold.bits),
        })
        if spec.threshold.output_scale == "two_phase":
            out.update({"threshold.max_scale": table["fp16_mul"], "threshold.max_compare": table["fp16_add"]})
        if a.membrane_tokens:
            out["array.membrane_file_bits"] = reg
        if a.lane_skew:
            out["array.fifo_bits"] = reg
        if a.salient_lanes:
            out.update({"salient_lanes.accumulate": sc.int_add_pj(table, a.membrane_bits),
                        "salient_lanes.reg_bits": reg,
                        "salient_lanes.merge_add": sc.int_add_pj(table, a.membrane_bits)})
        if a.column == "adder_tree":  # tree adds grow from weight_bits to weight_bits + log2(rows)
            out["array.tree_add"] = sc.int_add_pj(table, a.tree_add_bits)
        if a.encoding == "bitplane":
            out["array.plane_shift"] = reg * a.membrane_bits  # a 1-bit left shift rewrites the register
        if a.dispatch == "event_queue":
            out["event_queue.push"] = reg * event_bits
            out["event_queue.pop"] = reg * event_bits
    else:
        a = spec.array
        # an adder-tree column's add is counted apart (tree adds and one accumulate per cycle)
        mac = sc.int_mul_pj(table, a.act_bits, a.weight_bits) if a.column == "adder_tree" else \
            sc.mac_pj(table, a.act_bits, a.weight_bits, a.acc_bits)
        if a.column == "adder_tree":
            out.update({"mac_array.tree_add": sc.int_add_pj(table, a.tree_add_bits),
                        "mac_array.accumulate": sc.int_add_pj(table, a.acc_bits)})
        out.update({
            "mac_array.mac": mac,
            "mac_array.mac_extra_pass": mac,
            "mac_array.digit_add": sc.int_add_pj(table, a.acc_bits),
            "mac_array.reg_bits": reg,
            "dequant.convert": table["convert_i32_fp16"],
            "dequant.scale_mul": table["fp16_mul"],
            "requant.scale_mul": table["fp16_mul"],
            "requant.round": sc.int_add_pj(table, 16),
            "outlier_unit.mac": sc.mac_pj(table, spec.outlier_unit.act_bits, a.weight_bits, a.acc_bits),
            "outlier_unit.merge_add": sc.int_add_pj(table, a.acc_bits),
            "outlier_unit.reg_bits": reg,
        })
        if spec.requant.output_scale == "two_phase":
            out["requant.max_compare"] = table["fp16_add"]
    return out


def logic_static_mw(spec: HwSpec, table: EnergyTable, cells: LogicCells) -> float:
    """The logic's static power: the config's number, or with ``auto`` the chip's cell-bits x the
    table's leakage per cell-bit."""
    if spec.leakage.logic_static_mw != "auto":
        return float(spec.leakage.logic_static_mw)
    missing = [k for k in ("leak_reg_bit", "leak_adder_bit", "leak_mult_bit") if k not in table]
    if missing:
        raise ConfigError(table.source_file, Problem(
            f"entries.{missing[0]}", "needed by leakage.logic_static_mw: auto (or set logic_static_mw to a number "
            "in the hardware config)"))
    return (cells.reg_bits * table["leak_reg_bit"] + cells.adder_bits * table["leak_adder_bit"]
            + cells.mult_bits * table["leak_mult_bit"])


def static_power_mw(spec: HwSpec, table: EnergyTable, cells: LogicCells) -> float:
    """Leakage: every SRAM's capacity x mW/KiB of the chosen cell, plus the logic's."""
    sram = sum(sc.sram_leakage_mw(table, s.size_kib, spec.leakage.sram_cell) for s in sram_specs(spec).values())
    return sram + logic_static_mw(spec, table, cells)
