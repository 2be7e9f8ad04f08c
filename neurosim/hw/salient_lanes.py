"""Side lane group of the IF array (``array.salient_lanes > 0``): the compute-side twin of the
salient side store. Each salient entry ``(t, k, q)`` takes one of the lanes for its spikes, with
the weight row ``w[k, :]`` of the N sub-tile read once from the weight SRAM and latched; the
lane's ``cols`` accumulators add it per spike, and the entry's partial sums are then merged into
token t's membranes (a read-modify-write in the membrane store). The group runs beside the main
lanes, which then see only normal codes. Counts: ``salient_lanes.accumulate`` (spikes x
fan-out), ``salient_lanes.reg_bits`` (accumulator register bits written) and
``salient_lanes.merge_add`` (one membrane add per entry and output column).
"""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.hw.cells import LogicCells, adder, register
from neurosim.units import ceil_div


@dataclass
class SalientLanes:
    """Runtime side lane group with its counters."""

    lanes: int
    membrane_bits: int
    accumulate: int = 0
    reg_bits: int = 0
    merge_add: int = 0

    def run(self, entries: int, spikes: int, max_spikes: int, Nb: int, n_sub: int) -> int:
        """Count one tile's side work over its ``n_sub`` N sub-tiles; returns its cycles: per
        sub-tile the lower bound of any lane schedule, ``max(ceil(spikes / lanes), max_spikes)``."""
        self.accumulate += spikes * Nb
        self.reg_bits += spikes * Nb * self.membrane_bits
        self.merge_add += entries * Nb
        return n_sub * max(ceil_div(spikes, self.lanes), max_spikes)

    def cells(self, cols: int, weight_bits: int) -> LogicCells:
        """Per lane ``cols`` accumulators (adder and register) and a latched weight row."""
        return (adder(self.membrane_bits) + register(self.membrane_bits + weight_bits)).times(self.lanes * cols)

    def counters(self) -> dict[str, int]:
        return {"salient_lanes.accumulate": self.accumulate, "salient_lanes.reg_bits": self.reg_bits,
                "salient_lanes.merge_add": self.merge_add}
