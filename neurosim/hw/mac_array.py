"""MAC array: a systolic PE grid (output- or weight-stationary, SCALE-Sim's fold timing) or
weight-stationary adder-tree columns.

Per fold, for an R x C array (SCALE-Sim v3 counts the same, minus one cycle per layer):

- ``os``: the fold holds an (R tokens x C outputs) block; K operands stream through:
  ``K + R + C - 2`` cycles (skewed fill, K accumulations, drain overlapped with the next fold);
- ``ws``: the fold holds an (R inputs x C outputs) weight block, loaded in R cycles; the M
  tokens stream through: ``R + (M + R + C - 2)`` cycles. Partial sums of each K fold leave the
  array and are accumulated in the output SRAM.
- ``column: adder_tree`` (ws only): the same weight block, loaded in R cycles; then one token per
  cycle is broadcast along the rows and every column sums its R products in a combinational tree
  into its accumulator: ``R + M`` cycles, no skewed fill or drain (the IF array's organisation,
  with multipliers in place of the spike gating).
- ``weight_buffers: 2`` (ws): the next fold's weights load while the current fold streams
  (:func:`sequence_cycles`).
- ``accumulator_tokens: G`` (adder trees): G tokens' accumulators stay in the columns while the
  tile's K folds stream; each group of G tokens runs its own folds (``R + G`` cycles each).

Wider activation codes than the operand width take one pass per signed digit
(:mod:`neurosim.kernels.mac_fold`). Counts: ``mac_array.mac`` (= M·K·N products),
``mac_array.mac_extra_pass``, ``mac_array.digit_add`` (combining digit passes, per output per
extra pass) and ``mac_array.reg_bits``: in the grid, the operand/partial-sum pipeline registers
written per MAC; with adder trees, each column's accumulator per cycle and the row input latches
per token. Adder trees also count ``mac_array.tree_add`` (products - column sums) and
``mac_array.accumulate`` (one acc_bits add per column per cycle); their ``mac`` is the multiply
alone.
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


def tree_fold_cycles(M: int, rows: int) -> int:
    """Cycles of one adder-tree fold: R cycles of weight load, then one token per cycle."""
    return rows + M


def sequence_cycles(streams: list[tuple[int, int]], load: int, buffers: int) -> int:
    """Cycles of weight-stationary folds run in sequence, given in order as runs of (how many
    folds, streaming cycles of each), every fold loading its weights in ``load`` cycles: before
    it streams (1 buffer), or under the previous fold's streaming (2 buffers: the first load
    whole, then each load's excess over the streaming before it)."""
    total = exposed = 0
    prev = None
    for k, stream in streams:
        if k == 0:
            continue
        total += k * stream
        if buffers == 1:
            exposed += k * load
        else:
            exposed += (load if prev is None else max(0, load - prev)) + (k - 1) * max(0, load - stream)
        prev = stream
    return total + exposed


@dataclass
class MacArray:
    """Runtime MAC array with its counters."""

    spec: MacArraySpec
    mac: int = 0
    mac_extra_pass: int = 0
    digit_add: int = 0
    reg_bits: int = 0
    tree_add: int = 0
    accumulate: int = 0

    @property
    def adder_tree(self) -> bool:
        return self.spec.column == "adder_tree"

    @property
    def reg_bits_per_mac(self) -> int:
        """OS: activation, weight and accumulator registers per MAC; WS: activation and psum."""
        s = self.spec
        return s.act_bits + s.weight_bits + s.acc_bits if s.dataflow == "os" else s.act_bits + s.acc_bits

    def cells(self) -> LogicCells:
        """Grid: per PE an act_bits x weight_bits multiplier, an acc_bits adder and the pipeline
        registers (WS: and its stationary weight registers, two with ``weight_buffers: 2``).
        Adder trees: per PE a multiplier and its weight registers, per column R - 1 tree adders,
        an acc_bits adder and its accumulator (G of them with ``accumulator_tokens: G``), per row an
        input latch. Both: per column one acc_bits
        adder that combines digit passes."""
        s = self.spec
        combine = adder(s.acc_bits).times(s.cols)
        if self.adder_tree:
            pe = multiplier(s.act_bits, s.weight_bits) + register(s.weight_bits * s.weight_buffers)
            column = adder(s.tree_add_bits).times(s.rows - 1) + adder(s.acc_bits) + \
                register(s.acc_bits * max(1, s.accumulator_tokens))
            return pe.times(s.rows * s.cols) + column.times(s.cols) + register(s.act_bits).times(s.rows) + combine
        # the registers written per MAC, and in WS the stationary weight (OS streams it through one of those)
        stationary = s.weight_bits * s.weight_buffers if s.dataflow == "ws" else 0
        pe = multiplier(s.act_bits, s.weight_bits) + adder(s.acc_bits) + register(self.reg_bits_per_mac + stationary)
        return pe.times(s.rows * s.cols) + combine

    def count(self, macs: int, extra_pass_macs: int, extra_pass_outputs: int, column_sums: int = 0,
              input_bits: int = 0) -> None:
        """``column_sums``: column-cycles of an adder-tree array (each sums its products and
        accumulates once), ``input_bits``: bits latched at its row inputs."""
        self.mac += macs
        self.mac_extra_pass += extra_pass_macs
        self.digit_add += extra_pass_outputs
        if self.adder_tree:
            self.tree_add += macs + extra_pass_macs - column_sums
            self.accumulate += column_sums
            self.reg_bits += column_sums * self.spec.acc_bits + input_bits
        else:
            self.reg_bits += (macs + extra_pass_macs) * self.reg_bits_per_mac

    def counters(self) -> dict[str, int]:
        out = {"mac_array.mac": self.mac, "mac_array.mac_extra_pass": self.mac_extra_pass,
               "mac_array.digit_add": self.digit_add, "mac_array.reg_bits": self.reg_bits}
        if self.adder_tree:
            out.update({"mac_array.tree_add": self.tree_add, "mac_array.accumulate": self.accumulate})
        return out
