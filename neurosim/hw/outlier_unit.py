"""Side MAC unit of the outlier_path MAC class (Atom / OliVe-style outlier-aware accelerators).

Salient entries ``(t, k, q)`` of an activation tile are read from the salient side store; each
multiplies the weight row ``w[k, :]`` of the N tile on ``lanes`` MACs per cycle of
``act_bits x weight_bits`` operands. ``outlier_unit.merge: per_token``: into a per-token partial
sum, added once per output of every token that had a salient entry to the main array's result
when the fold drains (the IF side lanes' ``array.salient_merge`` rule); ``per_entry``: each
entry's products added to the result on their own.
Counts: ``outlier_unit.mac``, ``outlier_unit.merge_add`` and ``outlier_unit.reg_bits``
(operand and partial-sum registers written per MAC).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurosim.config.hw import OutlierUnitSpec
from neurosim.hw.cells import LogicCells, adder, multiplier, register


@dataclass
class OutlierUnit:
    """Runtime side unit with its counters."""

    spec: OutlierUnitSpec
    weight_bits: int
    acc_bits: int
    mac: int = 0
    merge_add: int = 0
    reg_bits: int = 0

    def run_each(self, salient_entries: np.ndarray, tokens_with_salient: np.ndarray, Nb: int) -> np.ndarray:
        """Count the side work of tiles with these salient entries and tokens holding any (int64
        arrays, one entry per tile); returns each tile's cycles."""
        macs = salient_entries * Nb
        self.mac += int(macs.sum())
        merged = tokens_with_salient if self.spec.merge == "per_token" else salient_entries
        self.merge_add += int(merged.sum()) * Nb
        self.reg_bits += int(macs.sum()) * (self.spec.act_bits + self.weight_bits + self.acc_bits)
        return -(-macs // self.spec.lanes)

    def cells(self) -> LogicCells:
        """Per lane a MAC with its operand and partial-sum registers."""
        s = self.spec
        lane = multiplier(s.act_bits, self.weight_bits) + adder(self.acc_bits) + \
            register(s.act_bits + self.weight_bits + self.acc_bits)
        return lane.times(s.lanes)

    def counters(self) -> dict[str, int]:
        return {"outlier_unit.mac": self.mac, "outlier_unit.merge_add": self.merge_add,
                "outlier_unit.reg_bits": self.reg_bits}
