"""The systolic PE grid shared by both its dataflows (SCALE-Sim's array): per PE an
``act_bits x weight_bits`` multiplier, an ``acc_bits`` adder and the pipeline registers its
operands and partial sums pass through, written once per product."""

from __future__ import annotations

from neurosim.config.energy_table import EnergyTable
from neurosim.config.hw import MacArraySpec, MacSpec
from neurosim.energy import scaling as sc
from neurosim.engine.mac_schemes.base import FoldCost, MacOrganisation
from neurosim.hw.cells import LogicCells, adder, multiplier, register


class SystolicGrid(MacOrganisation):
    """Counts, cells and prices of the grid; subclasses run its folds."""

    def reg_bits_per_mac(self, spec: MacArraySpec) -> int:
        """OS: activation, weight and accumulator registers per MAC; WS: activation and psum."""
        ws = self.weight_stationary
        return spec.act_bits + spec.acc_bits if ws else spec.act_bits + spec.weight_bits + spec.acc_bits

    def counts(self, spec: MacArraySpec, cost: FoldCost) -> dict[str, int]:
        return {"mac": cost.macs, "mac_extra_pass": cost.extra_pass_macs, "digit_add": cost.extra_pass_outputs,
                "reg_bits": (cost.macs + cost.extra_pass_macs) * self.reg_bits_per_mac(spec)}

    def cells(self, spec: MacArraySpec) -> LogicCells:
        """Per PE a multiplier, an adder and the registers written per MAC (WS: and its stationary
        weight registers, two with ``weight_buffers: 2``); per column one ``acc_bits`` adder that
        combines digit passes."""
        stationary = spec.weight_bits * spec.weight_buffers if self.weight_stationary else 0
        pe = multiplier(spec.act_bits, spec.weight_bits) + adder(spec.acc_bits) + \
            register(self.reg_bits_per_mac(spec) + stationary)
        return pe.times(spec.rows * spec.cols) + adder(spec.acc_bits).times(spec.cols)

    def energies(self, spec: MacSpec, table: EnergyTable) -> dict[str, float]:
        a = spec.array
        mac = sc.mac_pj(table, a.act_bits, a.weight_bits, a.acc_bits)
        return {"mac_array.mac": mac, "mac_array.mac_extra_pass": mac,
                "mac_array.digit_add": sc.int_add_pj(table, a.acc_bits), "mac_array.reg_bits": table["register_bit"]}
