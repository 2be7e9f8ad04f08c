"""``dataflow: ws`` on the systolic grid: a fold loads an (R inputs x C outputs) weight block in
R cycles, then the tokens stream through with a skewed fill and drain (``R + M + R + C - 2``
cycles); every K fold's partial sums are accumulated in the output SRAM."""

from __future__ import annotations

from neurosim.engine.mac_schemes.base import ORGANISATIONS
from neurosim.engine.mac_schemes.grid import SystolicGrid
from neurosim.engine.mac_schemes.weight_stationary import WeightStationary
from neurosim.hw.mac_array import ws_fold_cycles


@ORGANISATIONS.register("ws_grid")
class WsGrid(WeightStationary, SystolicGrid):
    """Weight-stationary grid."""

    def fold_cycles(self, tokens: int, rows: int, cols: int) -> int:
        return ws_fold_cycles(tokens, rows, cols)
