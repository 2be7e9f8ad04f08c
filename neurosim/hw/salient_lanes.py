"""Side lane group of the IF array (``array.salient_lanes > 0``): the compute-side twin of the
salient side store. Each salient entry ``(t, k, q)`` takes a lane for its spikes, with the weight
row ``w[k, :]`` of the N sub-tile read once from the weight SRAM and latched; the lane's ``cols``
accumulators add it per spike. The partial sums reach token t's membranes (a read-modify-write in
the membrane store) by ``array.salient_merge``: ``per_token`` (a token's entries run on one lane,
whose accumulators keep adding and merge once per token: the MAC outlier unit's rule), or
``per_entry`` (entries spread over the lanes, each merged on its own). The group runs beside the
main lanes, which then see only normal codes. Counts: ``salient_lanes.accumulate`` (spikes x
fan-out), ``salient_lanes.reg_bits`` (accumulator register bits written) and
``salient_lanes.merge_add`` (one membrane add per merge and output column).
"""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.hw.cells import LogicCells, adder, register
from neurosim.units import ceil_div


@dataclass(frozen=True)
class SideWork:
    """A tile's salient entries as the side lanes see them: entries, their spikes, the tokens
    holding any, and the most spikes of one entry and of one token."""

    entries: int
    spikes: int
    tokens: int
    entry_max: int
    token_max: int


@dataclass
class SalientLanes:
    """Runtime side lane group with its counters."""

    lanes: int
    membrane_bits: int
    accumulate: int = 0
    reg_bits: int = 0
    merge_add: int = 0

    def run(self, work: SideWork, Nb: int, n_sub: int, per_token: bool) -> tuple[int, int]:
        """Count one tile's side work over its ``n_sub`` N sub-tiles; returns (its cycles, its
        merges per column). Cycles per sub-tile: the lower bound of any lane schedule,
        ``max(ceil(spikes / lanes), the longest unit on one lane)`` (a token's salient spikes
        when merging per token, an entry's otherwise)."""
        self.accumulate += work.spikes * Nb
        self.reg_bits += work.spikes * Nb * self.membrane_bits
        merges = work.tokens if per_token else work.entries
        self.merge_add += merges * Nb
        longest = work.token_max if per_token else work.entry_max
        return n_sub * max(ceil_div(work.spikes, self.lanes), longest), merges

    def cells(self, cols: int, weight_bits: int) -> LogicCells:
        """Per lane ``cols`` accumulators (adder and register) and a latched weight row."""
        return (adder(self.membrane_bits) + register(self.membrane_bits + weight_bits)).times(self.lanes * cols)

    def counters(self) -> dict[str, int]:
        return {"salient_lanes.accumulate": self.accumulate, "salient_lanes.reg_bits": self.reg_bits,
                "salient_lanes.merge_add": self.merge_add}
