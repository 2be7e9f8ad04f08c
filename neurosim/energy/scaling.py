"""Scaling formulas between the cited anchor points of an energy table (energy.md §b).

- integer add: ``E(n) = E8 * (n/8)^p`` with ``p = log(E32/E8)/log 4`` (near-linear), so it
  passes exactly through the 8- and 32-bit anchors;
- integer multiply: ``E(a, b) = E8x8 * (a*b/64)^q`` with ``q = log(E32x32/E8x8)/log 16``
  (near the product of operand widths);
- SRAM access: ``E(S, W) = E0 * (S/8 KiB)^alpha * (W/64)^beta`` (CACTI-7 fit);
- DRAM: ``bits * pJ/bit`` by type; wires: ``bits * mm * pJ/bit/mm * activity``;
- log shifter: per bit and stage, a 32-bit 5-stage shifter's energy / 160, where the shifter costs
  :data:`SHIFTER_PER_ADD32` 32-bit adds (Aladdin, TSMC 40 nm: 0.41 pJ vs 0.21 pJ; energy.md 2.1).
"""

from __future__ import annotations

import math

from neurosim.config.energy_table import EnergyTable
from neurosim.hw.cells import tree_levels


def int_add_pj(table: EnergyTable, bits: int) -> float:
    """Energy of one ``bits``-wide integer add (also used for compares and accumulates)."""
    e8, e32 = table["int_add_8b"], table["int_add_32b"]
    return e8 * (bits / 8) ** (math.log(e32 / e8) / math.log(4))


def tree_add_pj(table: EnergyTable, leaf_bits: int, leaves: int) -> float:
    """Mean energy of one add of a binary adder tree over ``leaves`` inputs of ``leaf_bits``,
    each level's adds at their own width (level l: ``leaf_bits + l`` bits), weighted by the
    level's adders (:func:`~neurosim.hw.cells.tree_levels`)."""
    levels = tree_levels(leaves)
    if not levels:
        return int_add_pj(table, leaf_bits + 1)
    return sum(n * int_add_pj(table, leaf_bits + lv) for lv, n in enumerate(levels, 1)) / sum(levels)


#: Aladdin's 32-bit shifter over its 32-bit adder, both at 1 ns (energy.md 2.1): 0.41 / 0.21 pJ.
SHIFTER_PER_ADD32 = 0.41 / 0.21


def shift_bit_stage_pj(table: EnergyTable) -> float:
    """Energy of one 2:1 multiplexer bit of a log shifter (one data bit through one stage)."""
    return SHIFTER_PER_ADD32 * table["int_add_32b"] / (32 * 5)


def int_mul_pj(table: EnergyTable, a_bits: int, b_bits: int) -> float:
    """Energy of one ``a_bits`` x ``b_bits`` integer multiply."""
    e8, e32 = table["int_mul_8x8"], table["int_mul_32x32"]
    return e8 * (a_bits * b_bits / 64) ** (math.log(e32 / e8) / math.log(16))


def mac_pj(table: EnergyTable, act_bits: int, weight_bits: int, acc_bits: int) -> float:
    """One multiply-accumulate: multiply plus an ``acc_bits`` add (energy.md b.1)."""
    return int_mul_pj(table, act_bits, weight_bits) + int_add_pj(table, acc_bits)


def sram_read_pj(table: EnergyTable, size_kib: float, width_bits: int) -> float:
    """Energy of one ``width_bits`` read from one bank of ``size_kib`` capacity."""
    return (
        table["sram_read_e0"]
        * (size_kib / 8) ** table["sram_read_size_exp"]
        * (width_bits / 64) ** table["sram_read_width_exp"]
    )


def sram_write_pj(table: EnergyTable, size_kib: float, width_bits: int) -> float:
    """Energy of one ``width_bits`` write to one bank of ``size_kib`` capacity."""
    return (
        table["sram_write_e0"]
        * (size_kib / 8) ** table["sram_write_size_exp"]
        * (width_bits / 64) ** table["sram_write_width_exp"]
    )


def sram_leakage_mw(table: EnergyTable, size_kib: float, cell: str) -> float:
    """Static power of an SRAM of ``size_kib`` with ``cell`` = ``lstp`` or ``hp``."""
    return size_kib * table[f"sram_leak_{cell}"]


def dram_pj_per_bit(table: EnergyTable, dram_type: str) -> float:
    """Energy per bit transferred for a DRAM type (device plus interface)."""
    return table[f"dram_{dram_type}"]


def wire_pj_per_bit(table: EnergyTable, wire: str, length_mm: float, activity: float) -> float:
    """Energy per bit moved over ``length_mm`` of on-chip wire at toggle ``activity``."""
    return table[f"wire_{wire}"] * length_mm * activity
