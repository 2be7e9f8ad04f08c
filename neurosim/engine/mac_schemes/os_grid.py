"""``dataflow: os`` on the systolic grid: a fold holds an (R tokens x C outputs) block while the
tile's K operands stream through (``K + R + C - 2`` cycles); partial sums of a split K are
read-modify-written in the output SRAM at the tile's K ends."""

from __future__ import annotations

import numpy as np

from neurosim.config.hw import MacSpec
from neurosim.engine.mac_schemes.base import ORGANISATIONS, FoldCost, psum_round_trip
from neurosim.engine.mac_schemes.grid import SystolicGrid
from neurosim.hw.mac_array import os_fold_cycles
from neurosim.hw.sram import Sram
from neurosim.units import ceil_div


@ORGANISATIONS.register("os_grid")
class OsGrid(SystolicGrid):
    """Output-stationary grid: one fold per (row group, column fold), one pass per digit."""

    weight_stationary = False

    def fold_cost(self, spec: MacSpec, srams: dict[str, Sram], passes: np.ndarray, Mb: int, Kb: int, Nb: int,
                  first_k: bool, last_k: bool) -> FoldCost:
        a = spec.array
        R, C = a.rows, a.cols
        act, wgt, outs = (srams[n] for n in ("act_sram", "weight_sram", "output_sram"))
        col_w = [min(C, Nb - j * C) for j in range(ceil_div(Nb, C))]
        fold = os_fold_cycles(Kb, R, C)
        cost = FoldCost()
        for g, p in enumerate(passes):
            p, rows = int(p), min(R, Mb - g * R)
            for cw in col_w:
                a_b, w_b = rows * Kb * a.act_bits, Kb * cw * a.weight_bits
                act.read(p, a_b)
                wgt.read(p, w_b)
                cost.compute += p * fold
                cost.stall_act += p * max(0, act.cycles(a_b) - fold)
                cost.stall_weight += p * max(0, wgt.cycles(w_b) - fold)
                cost.macs += rows * Kb * cw
                cost.extra_pass_macs += (p - 1) * rows * Kb * cw
                cost.extra_pass_outputs += (p - 1) * rows * cw
        if not (first_k and last_k):
            cost.stall_out += psum_round_trip(outs, Mb * Nb * a.acc_bits, first_k, last_k)
        return cost
