"""The integrate-and-fire processing array: R input lanes x C accumulating neurons.

Counts: ``array.accumulate`` (membrane-width adds), ``array.tree_add`` (``column: adder_tree``:
the narrow adds of each column's tree; with the membrane adds they total spikes x fan-out),
``array.reg_bits`` (membrane register bits written), ``array.membrane_file_bits``
(``membrane_tokens > 0``: a column's membrane saved to the token register file after each
step), ``array.weight_reg_bits``
(weights loaded into the PE registers, time-stepped dispatch), ``array.plane_shift`` (bitplane
encoding: one left shift of a column's partial sum between bit planes),
``event_queue.push``/``event_queue.pop`` (address-event dispatch), ``array.fifo_bits``
(``lane_skew > 0``: code bits written into the per-lane spike FIFOs).
"""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.config.hw import AccArraySpec
from neurosim.hw.cells import LogicCells, adder, adder_tree, register


@dataclass
class IfArray:
    """Runtime IF array with its action counters."""

    spec: AccArraySpec
    accumulate: int = 0
    reg_bits: int = 0
    weight_reg_bits: int = 0
    plane_shift: int = 0
    queue_events: int = 0
    tree_add: int = 0
    membrane_file_bits: int = 0
    fifo_bits: int = 0

    @property
    def event_queue(self) -> bool:
        return self.spec.dispatch == "event_queue"

    @property
    def bitplane(self) -> bool:
        return self.spec.encoding == "bitplane"

    @property
    def adder_tree(self) -> bool:
        return self.spec.column == "adder_tree"

    def count_tile(self, spikes: int, Nb: int, shift_steps: int, weight_bits_loaded: int, column_cycles: int) -> None:
        """Count one tile: its spikes reach ``Nb`` outputs (over all N sub-tiles); ``column_cycles``
        is the sum over columns of the cycles in which the column received any spike."""
        membrane_writes = column_cycles if self.adder_tree else spikes * Nb
        self.accumulate += membrane_writes
        self.tree_add += spikes * Nb - membrane_writes
        self.reg_bits += membrane_writes * self.spec.membrane_bits
        self.plane_shift += shift_steps * Nb
        self.weight_reg_bits += weight_bits_loaded
        if self.event_queue:
            self.queue_events += spikes * -(-Nb // self.spec.cols)

    def cells(self, fifo_code_bits: int) -> LogicCells:
        """R x C weight registers (twice with ``weight_buffers: 2``), C membrane registers (plus the token register file), and the
        column datapath: a tree of R - 1 narrow adders and one membrane adder per column, or R
        membrane-width adders per column (``per_spike``). With ``lane_skew: W``: W membrane
        registers and W trees per column, and a W-entry FIFO of ``fifo_code_bits`` per lane."""
        s = self.spec
        sets = max(1, s.lane_skew)
        out = register(s.rows * s.cols * s.weight_bits * s.weight_buffers) + \
            register(s.cols * s.membrane_bits * (sets + s.membrane_tokens)) + register(s.rows * s.lane_skew * fifo_code_bits)
        if self.adder_tree:
            column = adder_tree(s.tree_leaf_bits, s.rows) + adder(s.membrane_bits)
            return out + column.times(s.cols * sets)
        return out + adder(s.membrane_bits).times(s.rows * s.cols)

    def counters(self) -> dict[str, int]:
        out = {"array.accumulate": self.accumulate, "array.reg_bits": self.reg_bits,
               "array.weight_reg_bits": self.weight_reg_bits}
        if self.adder_tree:
            out["array.tree_add"] = self.tree_add
        if self.spec.membrane_tokens:
            out["array.membrane_file_bits"] = self.membrane_file_bits
        if self.spec.lane_skew:
            out["array.fifo_bits"] = self.fifo_bits
        if self.bitplane:
            out["array.plane_shift"] = self.plane_shift
        if self.event_queue:
            out["event_queue.push"] = self.queue_events
            out["event_queue.pop"] = self.queue_events
        return out
