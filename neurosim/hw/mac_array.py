"""Systolic MAC array, output- or weight-stationary, with SCALE-Sim's fold timing.

Per fold, for an R x C array (SCALE-Sim v3 counts the same, minus one cycle per layer):

- ``os``: the fold holds an (R tokens x C outputs) block; K operands stream through:
  ``K + R + C - 2`` cycles (skewed fill, K accumulations, drain overlapped with the next fold);
- ``ws``: the fold holds an (R inputs x C outputs) weight block, loaded in R cycles; the M
  tokens stream through: ``R + (M + R + C - 2)`` cycles. Partial sums of each K fold leave the
  array and are accumulated in the output SRAM.

Wider activation codes than the operand width take one pass per signed digit
(:mod:`neurosim.kernels.mac_fold`). Counts: ``mac_array.mac`` (= M·K·N), ``mac_array.mac_extra_pass``,
``mac_array.digit_add`` (combining digit passes, per output per extra pass) and
``mac_array.reg_bits`` (operand/partial-sum pipeline registers written per MAC).
"""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.config.hw import MacArraySpec
from neurosim.hw.cells import LogicCells, adder, multiplier, register


def os_fold_cycles(K: int, rows: int, cols: int) -> int:
    """Cycles of one output-stationary fold streaming K operands."""
    return K + rows + cols - 2


def ws_fold_cycles(M: int, rows: int, cols: int) -> int:
    """Cycles of one weight-stationary fold: R cycles of weight load, then M tokens streaming."""
    return rows + M + rows + cols - 2


@dataclass
class MacArray:
    """Runtime MAC array with its counters."""

    spec: MacArraySpec
    mac: int = 0
    mac_extra_pass: int = 0
    digit_add: int = 0
    reg_bits: int = 0

    @property
    def reg_bits_per_mac(self) -> int:
        """OS: activation, weight and accumulator registers per MAC; WS: activation and psum."""
        s = self.spec
        return s.act_bits + s.weight_bits + s.acc_bits if s.dataflow == "os" else s.act_bits + s.acc_bits

    def cells(self) -> LogicCells:
        """Per PE an act_bits x weight_bits multiplier, an acc_bits adder and the pipeline
        registers; per column one acc_bits adder that combines digit passes."""
        s = self.spec
        pe = multiplier(s.act_bits, s.weight_bits) + adder(s.acc_bits) + register(self.reg_bits_per_mac)
        return pe.times(s.rows * s.cols) + adder(s.acc_bits).times(s.cols)

    def count(self, macs: int, extra_pass_macs: int, extra_pass_outputs: int) -> None:
        self.mac += macs
        self.mac_extra_pass += extra_pass_macs
        self.digit_add += extra_pass_outputs
        self.reg_bits += (macs + extra_pass_macs) * self.reg_bits_per_mac

    def counters(self) -> dict[str, int]:
        return {"mac_array.mac": self.mac, "mac_array.mac_extra_pass": self.mac_extra_pass,
                "mac_array.digit_add": self.digit_add, "mac_array.reg_bits": self.reg_bits}
