"""``salient: outlier_path`` (Atom / OliVe-style outlier-aware accelerators): the codes are
stored as the IF design stores them (dense ``act_bits`` codes, salient entries zero there, plus a
side store of code + index), and the salient entries run on a side MAC unit
(:mod:`neurosim.hw.outlier_unit`) in parallel with the array; a tile lasts as long as the slower
of the two (the excess is the ``outlier_unit`` stall)."""

from __future__ import annotations

import numpy as np

from neurosim.config.energy_table import EnergyTable
from neurosim.config.hw import MacSpec
from neurosim.energy import scaling as sc
from neurosim.engine.mac_schemes.base import SALIENT_CLASSES, SalientClass
from neurosim.errors import NeurosimError
from neurosim.hw.cells import LogicCells


@SALIENT_CLASSES.register("outlier_path")
class OutlierPath(SalientClass):
    """Dense operand-width codes; salient entries on the side unit."""

    def __init__(self, model):
        super().__init__(model)
        spec, op, recipe = model.chip.spec, model.op, model.recipe
        problems = []
        if spec.array.act_bits < recipe.act_bits:
            problems.append(f"array.act_bits={spec.array.act_bits} < trace act_bits={recipe.act_bits}")
        if spec.outlier_unit.act_bits < recipe.salient_bits:
            problems.append(f"outlier_unit.act_bits={spec.outlier_unit.act_bits} < trace salient_bits="
                            f"{recipe.salient_bits}")
        if spec.salient_sram.code_bits < recipe.salient_bits:
            problems.append(f"salient_sram.code_bits={spec.salient_sram.code_bits} < trace salient_bits="
                            f"{recipe.salient_bits}")
        if (1 << spec.salient_sram.index_bits) < op.K:
            problems.append(f"salient_sram.index_bits={spec.salient_sram.index_bits} cannot index K={op.K}")
        if problems:
            raise NeurosimError(f"{spec.name} cannot run {op.name}: " + "; ".join(problems))
        self.entry_bits = spec.salient_sram.code_bits + spec.salient_sram.index_bits + recipe.shift_bits

    def code_bits(self) -> int:
        return self.model.chip.spec.array.act_bits

    def out_bits(self, output_salient_ratio: float) -> float:
        spec = self.model.chip.spec
        return max(spec.requant.out_bits, self.model.recipe.act_bits) + output_salient_ratio * self.entry_bits

    def fits(self, Mb: int, Kb: int, fraction: float) -> bool:
        cap = fraction * self.model.chip.srams["salient_sram"].capacity_bits
        return int(self.model.salient_tiles(Mb, Kb)[0].max(initial=0)) * self.entry_bits <= cap

    def side_bits(self, m: np.ndarray, k: np.ndarray, tiling) -> np.ndarray:
        side = self.model.salient_tiles(tiling.Mb, tiling.Kb)[0][m, k] * self.entry_bits
        self.model.chip.srams["salient_sram"].write_each(side)
        return side

    def passes(self, codes: np.ndarray, key: tuple, tiling) -> np.ndarray:
        """The dense codes fit the operands: one pass per fold group."""
        Mb, Kb = codes.shape
        return self.model.organisation.single_passes(Mb, Kb, self.model.chip.spec.array.rows)

    def zero_operands(self, m: np.ndarray, k: np.ndarray, tiling) -> np.ndarray:
        """The zero codes and the salient entries (zero in the dense store: they run on the side unit)."""
        return super().zero_operands(m, k, tiling) + self.model.salient_tiles(tiling.Mb, tiling.Kb)[0][m, k]

    def tiles_side(self, m: np.ndarray, k: np.ndarray, tiling, Nb: int, n_col_folds: int,
                   compute: int) -> dict[str, np.ndarray]:
        chip = self.model.chip
        entries, tokens = (a[m, k] for a in self.model.salient_tiles(tiling.Mb, tiling.Kb))
        side = chip.outlier.run_each(entries, tokens, Nb)
        chip.srams["salient_sram"].read_each(entries * self.entry_bits)
        chip.srams["weight_sram"].read_each(entries * Nb * chip.spec.array.weight_bits)  # each entry's weight row
        return {"outlier_unit": np.maximum(0, side - compute)}

    @classmethod
    def side_cells(cls, chip) -> dict[str, LogicCells]:
        return {"outlier_unit": chip.outlier.cells()}

    @classmethod
    def side_lanes(cls, spec: MacSpec) -> int:
        return spec.outlier_unit.lanes


def outlier_unit_energies(spec: MacSpec, table: EnergyTable) -> dict[str, float]:
    """pJ per action of the side unit. Every MAC chip carries the unit (idle, zero counts and no
    cells unless the class is outlier_path), so every MAC chip prices it."""
    a = spec.array
    return {"outlier_unit.mac": sc.mac_pj(table, spec.outlier_unit.act_bits, a.weight_bits, a.acc_bits),
            "outlier_unit.merge_add": sc.int_add_pj(table, a.acc_bits),
            "outlier_unit.reg_bits": table["register_bit"]}
