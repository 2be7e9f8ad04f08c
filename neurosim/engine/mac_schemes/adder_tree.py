"""``column: adder_tree`` (weight-stationary dot-product columns): a fold loads an (R x C)
weight block (by default at the weight SRAM's bandwidth, as the IF array loads its sub-tiles:
``array.weight_load``); then each cycle one token's R inputs are latched and broadcast along
the rows, and every column multiplies them by its R stationary weights, sums the products in a
combinational tree and adds the sum into its accumulator (``R + M`` cycles: no skewed fill or
drain; the IF array's organisation with multipliers in place of the spike gating).

Counts beyond the grid's: ``mac_array.tree_add`` (products - column sums) and
``mac_array.accumulate`` (one ``acc_bits`` add per column per cycle); ``mac_array.mac`` is the
multiply alone, and ``reg_bits`` are each column's accumulator per cycle plus the row latches.
"""

from __future__ import annotations

from neurosim.config.energy_table import EnergyTable
from neurosim.config.hw import MacArraySpec, MacSpec
from neurosim.energy import scaling as sc
from neurosim.engine.mac_schemes.base import ORGANISATIONS, FoldCost
from neurosim.engine.mac_schemes.weight_stationary import WeightStationary
from neurosim.hw.cells import LogicCells, adder, adder_tree, multiplier, register
from neurosim.hw.mac_array import tree_fold_cycles


@ORGANISATIONS.register("adder_tree")
class AdderTree(WeightStationary):
    """Weight-stationary adder-tree columns."""

    counter_names = ("mac", "mac_extra_pass", "digit_add", "reg_bits", "tree_add", "accumulate")
    #: The weight registers are written from the weight SRAM's bus, as the IF array's are.
    auto_weight_load = "sram"

    def fold_cycles(self, tokens: int, rows: int, cols: int) -> int:
        return tree_fold_cycles(tokens, rows)

    def count_folds(self, cost: FoldCost, runs: int, tokens: int, krows: int, cols: int, act_bits: int) -> None:
        cost.work["column_sums"] += runs * tokens * cols  # each token's cycle: one tree sum and accumulate per column
        cost.work["input_bits"] += runs * tokens * krows * act_bits

    def counts(self, spec: MacArraySpec, cost: FoldCost) -> dict[str, int]:
        sums, products = cost.work["column_sums"], cost.macs + cost.extra_pass_macs
        return {"mac": cost.macs, "mac_extra_pass": cost.extra_pass_macs, "digit_add": cost.extra_pass_outputs,
                "reg_bits": sums * spec.acc_bits + cost.work["input_bits"], "tree_add": products - sums,
                "accumulate": sums}

    def cells(self, spec: MacArraySpec) -> LogicCells:
        """Per PE a multiplier and its weight registers; per column R - 1 tree adders, an
        ``acc_bits`` adder and its accumulator (G of them with ``accumulator_tokens: G``) and the
        adder that combines digit passes; per row an input latch."""
        s = spec
        pe = multiplier(s.act_bits, s.weight_bits) + register(s.weight_bits * s.weight_buffers)
        column = adder_tree(s.tree_leaf_bits, s.rows) + adder(s.acc_bits) + \
            register(s.acc_bits * max(1, s.accumulator_tokens))
        combine = adder(s.acc_bits).times(s.cols)
        return pe.times(s.rows * s.cols) + column.times(s.cols) + register(s.act_bits).times(s.rows) + combine

    def energies(self, spec: MacSpec, table: EnergyTable) -> dict[str, float]:
        a = spec.array
        mul = sc.int_mul_pj(table, a.act_bits, a.weight_bits)
        # each tree level's adds at their width, from the product width up
        return {"mac_array.tree_add": sc.tree_add_pj(table, a.tree_leaf_bits, a.rows),
                "mac_array.accumulate": sc.int_add_pj(table, a.acc_bits),
                "mac_array.mac": mul, "mac_array.mac_extra_pass": mul,
                "mac_array.digit_add": sc.int_add_pj(table, a.acc_bits), "mac_array.reg_bits": table["register_bit"]}
