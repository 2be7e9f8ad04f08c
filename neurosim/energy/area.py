"""Area of a design as built: logic from its cell inventory, SRAM from a CACTI fit (docs/model.md,
Area).

- logic: ``reg_bits x area_reg_bit + adder_bits x area_adder_bit + mult_bits x area_mult_bit``
  (Aladdin's TSMC 40 nm cells scaled to the node by Stillmaker & Baas), per component;
- SRAM: each bank is ``(bank_kib x area_sram_kib + width_bits x area_sram_width_bit) x
  ports^area_sram_ports_exp`` (CACTI 7 with the SRAM energy runs' settings), times the banks.

Wiring between blocks, controllers, the DRAM interface and pads are not modelled; both designs
leave out the same things.
"""

from __future__ import annotations

from collections.abc import Mapping

from neurosim.config.energy_table import AREA, EnergyTable
from neurosim.config.hw import HwSpec, SramSpec, sram_specs
from neurosim.hw.cells import LogicCells

UM2_PER_MM2 = 1e6


def has_area_model(table: EnergyTable) -> bool:
    """The table carries the area entries (they come as a set)."""
    return all(k in table for k in AREA)


def logic_area_mm2(table: EnergyTable, cells: LogicCells) -> float:
    """Area of ``cells`` in mm^2."""
    um2 = (cells.reg_bits * table["area_reg_bit"] + cells.adder_bits * table["area_adder_bit"]
           + cells.mult_bits * table["area_mult_bit"])
    return um2 / UM2_PER_MM2


def sram_area_mm2(table: EnergyTable, sram: SramSpec) -> float:
    """Area of one SRAM (all its banks) in mm^2."""
    bank = (sram.size_kib / sram.banks * table["area_sram_kib"] + sram.width_bits * table["area_sram_width_bit"])
    return sram.banks * bank * sram.ports ** table["area_sram_ports_exp"]


def area_mm2(spec: HwSpec, table: EnergyTable, logic: Mapping[str, LogicCells],
             vector: bool = False) -> dict[str, float] | None:
    """``{component: mm^2}`` for the logic components and every SRAM of ``spec`` (the vector
    unit's buffer with ``vector``), then ``logic``, ``sram`` and ``total``; None when the table
    has no area entries."""
    if not has_area_model(table):
        return None
    out = {name: logic_area_mm2(table, cells) for name, cells in logic.items()}
    logic_total = sum(out.values())
    srams = {name: sram_area_mm2(table, s) for name, s in sram_specs(spec, vector).items()}
    out.update(srams)
    sram_total = sum(srams.values())
    out.update(logic=logic_total, sram=sram_total, total=logic_total + sram_total)
    return out
