"""pJ per counted action for one hardware spec under its energy table.

Every counter name the components emit has exactly one entry (a test keeps the two sets equal),
each computed from the table by a formula of :mod:`neurosim.energy.scaling`: the parts every
design has here, a design family's own components by the pricer its registry entry hands in
(this layer never looks at which family or scheme a spec is).
"""

from __future__ import annotations

from collections.abc import Callable

from neurosim.config.energy_table import EnergyTable
from neurosim.config.hw import HwSpec, InterconnectSpec, SramSpec, sram_specs
from neurosim.energy import scaling as sc
from neurosim.energy.voltage import operating_point
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


#: Prices a design's own components: ``(spec, table) -> {"component.action": pJ}``.
Pricer = Callable[[HwSpec, EnergyTable], dict[str, float]]


def action_energies(spec: HwSpec, table: EnergyTable, design_pricer: Pricer) -> dict[str, float]:
    """``{"component.action": pJ}`` for every action the design can count: the parts every
    design has (DRAM, interconnect, SRAMs, vector unit, salient shifter), then what
    ``design_pricer`` (the design family's, from the engine's registry) prices."""
    out: dict[str, float] = {
        "dram.read_bits": sc.dram_pj_per_bit(table, spec.dram.type),
        "dram.write_bits": sc.dram_pj_per_bit(table, spec.dram.type),
        "interconnect.bits": _interconnect(table, spec.interconnect),
        "salient_shifter.bit_stages": sc.shift_bit_stage_pj(table),
        "vector_unit.fp16_mul": table["fp16_mul"],
        "vector_unit.fp16_add": table["fp16_add"],
        "vector_unit.reg_bits": table["register_bit"],
    }
    for name, s in sram_specs(spec, vector=True).items():
        out.update(_sram(table, name, s))
    out.update(design_pricer(spec, table))
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


def static_power_mw(spec: HwSpec, table: EnergyTable, cells: LogicCells, vector: bool = False) -> float:
    """Leakage: every SRAM's capacity x mW/KiB of the chosen cell (the vector unit's buffer with
    ``vector``), plus the logic's, at the operating point's supply (:mod:`neurosim.energy.voltage`)."""
    sram = sum(sc.sram_leakage_mw(table, s.size_kib, spec.leakage.sram_cell) for s in sram_specs(spec, vector).values())
    return (sram + logic_static_mw(spec, table, cells)) * operating_point(spec, table).static_scale
