"""``salient: passes``: codes are stored at one width for all values, ``max(act_bits, trace
code width)`` (a matrix memory cannot mix widths within a row). When the trace's codes are wider
than the operands a fold runs one pass per signed digit of its group's widest code (class
*digit passes*, :mod:`neurosim.kernels.mac_fold`); when ``act_bits`` holds every code there is
one pass (class *wide*). With power-of-two salient steps the shifts go in a sparse
(index, shift) list beside the codes, read with them for each column fold."""

from __future__ import annotations

import numpy as np

from neurosim.engine.mac_schemes.base import SALIENT_CLASSES, SalientClass


@SALIENT_CLASSES.register("passes")
class DigitPasses(SalientClass):
    """Dense codes at the widest width; extra fold passes for wide codes."""

    def __init__(self, model):
        super().__init__(model)
        recipe = model.recipe
        self.trace_bits = recipe.salient_bits if recipe.salient_bits > recipe.act_bits else recipe.act_bits
        self.shift_entry_bits = recipe.shift_bits + max(1, (model.op.K - 1).bit_length()) if recipe.shift_bits else 0

    def code_bits(self) -> int:
        return max(self.model.chip.spec.array.act_bits, self.trace_bits)

    def out_bits(self, output_salient_ratio: float) -> float:
        return max(self.model.chip.spec.requant.out_bits, self.trace_bits)

    def side_bits(self, m: np.ndarray, k: np.ndarray, tiling) -> np.ndarray | int:
        if not self.shift_entry_bits:
            return 0
        shifts = self.model.salient_tiles(tiling.Mb, tiling.Kb)[0][m, k] * self.shift_entry_bits
        self.model.chip.srams["act_sram"].write_each(shifts)
        return shifts

    def passes(self, codes: np.ndarray, key: tuple, tiling) -> np.ndarray:
        """Cached on the chip: ops that read one tensor (q/k/v, gate/up) share its blocks' passes."""
        m, chip = self.model, self.model.chip
        org, R, bits = m.organisation, chip.spec.array.rows, chip.spec.array.act_bits
        pkey = (m.op.act_codes, tiling.Mb, tiling.Kb, key, org.weight_stationary, R, bits)
        if pkey not in chip.passes:
            chip.passes[pkey] = org.digit_passes(np.ascontiguousarray(codes), R, bits)
        return chip.passes[pkey]

    def tiles_side(self, m: np.ndarray, k: np.ndarray, tiling, Nb: int, n_col_folds: int,
                   compute: int) -> dict[str, np.ndarray]:
        if self.shift_entry_bits:  # each tile's shift list, read with its codes for each column fold
            bits = self.model.salient_tiles(tiling.Mb, tiling.Kb)[0][m, k] * self.shift_entry_bits
            self.model.chip.srams["act_sram"].read_each(np.repeat(bits, n_col_folds))
        return {}
