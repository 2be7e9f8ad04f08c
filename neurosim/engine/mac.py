"""The mac design executing one op: systolic folds over tiles, with dequantization.

Activation codes are stored at one width for all values (a matrix memory cannot mix widths
within a row): ``max(array.act_bits, trace code width)``. If the trace has codes wider than the
operands, folds run one pass per digit. Partial sums of a split K (and every WS K-fold) are
read-modify-written in the output SRAM; ``dequant.mode: spilled`` writes every int32 result out
and reads it back for a separate dequantization pass.

``array.salient: outlier_path`` stores the codes as the IF design does (dense ``act_bits`` codes,
salient entries zero there, plus a side store of code + index) and runs the salient entries on a
side MAC unit (:mod:`neurosim.hw.outlier_unit`) in parallel with the array; a tile lasts as long
as the slower of the two (the excess is the ``outlier_unit`` stall).
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from neurosim.config.hw import MacSpec, sram_specs
from neurosim.engine.op_model import OpModel, TileCost
from neurosim.engine.tiling import TileLimits, Tiling
from neurosim.errors import NeurosimError
from neurosim.hw.cells import LogicCells
from neurosim.hw.dequant_unit import DequantUnit
from neurosim.hw.mac_array import MacArray, os_fold_cycles, sequence_cycles, tree_fold_cycles, ws_fold_cycles
from neurosim.hw.outlier_unit import OutlierUnit
from neurosim.hw.salient_shifter import SalientShifter
from neurosim.hw.sram import Sram
from neurosim.hw.vector_unit import VectorUnit
from neurosim.kernels.acc_tile import salient_per_token
from neurosim.kernels.mac_fold import col_group_passes, row_group_passes
from neurosim.trace.manifest import Op, Recipe
from neurosim.units import ceil_div

SCALE_BITS = 16


class MacChip:
    """The runtime components of a mac design."""

    def __init__(self, spec: MacSpec):
        self.spec = spec
        self.array = MacArray(spec.array)
        self.dequant = DequantUnit(spec.dequant, spec.requant)
        self.outlier = OutlierUnit(spec.outlier_unit, spec.array.weight_bits, spec.array.acc_bits)
        self.shifter = SalientShifter()
        self.vector = VectorUnit(spec.vector_unit)
        #: The trace has vector ops: the vector unit is part of the chip (its cells leak).
        self.vector_used = False
        self.srams = {n: Sram(n, s) for n, s in sram_specs(spec).items()}
        #: Salient counts of activation tensors (:meth:`OpModel.salient_tiles`).
        self.salient_tiles: dict[tuple, np.ndarray | tuple[np.ndarray, np.ndarray]] = {}
        #: Precision passes per row (OS) or channel (WS) group of each activation tile.
        self.passes: dict[tuple, np.ndarray] = {}

    def retarget(self, spec: MacSpec) -> None:
        """Run the next op with ``spec`` (the same chip with its op-specific accumulator width)."""
        self.spec = spec
        self.array.spec = spec.array
        self.outlier.acc_bits = spec.array.acc_bits

    def logic_cells_by_component(self) -> dict[str, LogicCells]:
        """The chip's logic outside the SRAMs, by component (static power and area)."""
        out = {"mac_array": self.array.cells(), "dequant": self.dequant.cells(self.spec.array.cols)}
        if self.spec.array.salient == "outlier_path":
            out["outlier_unit"] = self.outlier.cells()
        if self.vector_used:
            out["vector_unit"] = self.vector.cells()
        return out

    def logic_cells(self) -> LogicCells:
        """The chip's logic outside the SRAMs (static power)."""
        return sum(self.logic_cells_by_component().values(), LogicCells())

    def processing_elements(self) -> int:
        """MAC lanes: the array's rows x cols plus the outlier unit's lanes."""
        a = self.spec.array
        return a.rows * a.cols + (self.spec.outlier_unit.lanes if a.salient == "outlier_path" else 0)

    def counters(self) -> dict[str, int]:
        out = {**self.array.counters(), **self.dequant.counters(), **self.outlier.counters(),
               **self.shifter.counters(), **self.vector.counters()}
        for s in self.srams.values():
            out.update(s.counters())
        return out


class MacOpModel(OpModel):
    """One op on the mac chip; see the module docstring."""

    def __init__(self, chip: MacChip, op: Op, recipe: Recipe, codes: np.ndarray,
                 output_salient_ratio: float):
        spec = chip.spec
        self.chip, self.op, self.recipe, self.codes = chip, op, recipe, codes
        if spec.array.weight_bits < op.weight_bits:
            raise NeurosimError(f"{spec.name} cannot run {op.name}: array.weight_bits={spec.array.weight_bits} "
                                f"< op weight_bits={op.weight_bits}")
        trace_bits = recipe.salient_bits if recipe.salient_bits > recipe.act_bits else recipe.act_bits
        self.outlier = spec.array.salient == "outlier_path"
        if self.outlier:
            self._check_outlier_path(spec, op, recipe)
            ss = spec.salient_sram
            self.entry_bits = ss.code_bits + ss.index_bits + recipe.shift_bits
            self.code_bits = spec.array.act_bits
            self.out_bits = max(spec.requant.out_bits, recipe.act_bits) + output_salient_ratio * self.entry_bits
        else:
            self.code_bits = max(spec.array.act_bits, trace_bits)
            self.out_bits = max(spec.requant.out_bits, trace_bits)
        # dense codes: the shifts of a power-of-two salient step go in a sparse (index, shift) list
        self.shift_entry_bits = recipe.shift_bits + max(1, (op.K - 1).bit_length()) \
            if recipe.shift_bits and not self.outlier else 0
        self.R, self.C = spec.array.rows, spec.array.cols
        self.ws = spec.array.dataflow == "ws"
        self._n_salient: dict[tuple, int] = {}

    @staticmethod
    def _check_outlier_path(spec: MacSpec, op: Op, recipe: Recipe) -> None:
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

    def salient_fits(self, Mb: int, Kb: int, fraction: float) -> bool:
        """outlier_path: do the salient entries of every (Mb x Kb) tile fit the side store?"""
        if not self.outlier:
            return True
        cap = fraction * self.chip.srams["salient_sram"].capacity_bits
        return int(self.salient_tiles(Mb, Kb)[0].max(initial=0)) * self.entry_bits <= cap

    def _salient_in_tile(self, key: tuple, tiling: Tiling) -> tuple[int, int]:
        """(salient entries, tokens holding any) of activation tile ``key = (m, k)``."""
        entries, tokens = self.salient_tiles(tiling.Mb, tiling.Kb)
        return int(entries[key]), int(tokens[key])

    def op_end(self) -> None:
        if self.recipe.shift_bits:  # each salient product, shifted once per output
            entries = int(salient_per_token(np.ascontiguousarray(self.codes), self.recipe.normal_max).sum())
            self.chip.shifter.count(entries, self.op.N, self.recipe.code_max.bit_length() + 1 +
                                    self.chip.spec.array.weight_bits, self.recipe.shift_bits)

    def limits(self) -> TileLimits:
        s = self.chip.srams
        out_cap = s["output_sram"].capacity_bits
        return TileLimits(
            act_bits_per_code=self.code_bits, act_capacity_bits=s["act_sram"].capacity_bits,
            weight_bits_per_code=self.chip.spec.array.weight_bits, weight_capacity_bits=s["weight_sram"].capacity_bits,
            psum_bits=self.chip.spec.array.acc_bits, psum_capacity_bits=out_cap,
            psum_cols_unsplit=self.C if self.ws else 0,
            out_bits_per_output=self.out_bits, out_capacity_bits=out_cap,
            align_m=1 if self.ws else self.R, align_n=self.C, align_k=self.R if self.ws else 1,
            psum_shares_output=True,
        )

    def act_tile_bits(self, codes: np.ndarray, key: tuple, tiling: Tiling) -> int:
        bits = codes.size * self.code_bits + codes.shape[0] * SCALE_BITS
        self.chip.srams["act_sram"].write(1, bits)
        if self.outlier:
            side = self._salient_in_tile(key, tiling)[0] * self.entry_bits
            self.chip.srams["salient_sram"].write(1, side)
            bits += side
        elif self.shift_entry_bits:
            shifts = self._salient_in_tile(key, tiling)[0] * self.shift_entry_bits
            self.chip.srams["act_sram"].write(1, shifts)
            bits += shifts
        return bits

    def weight_tile_bits(self, Kb: int, Nb: int, first_k: bool) -> int:
        bits = Kb * Nb * self.chip.spec.array.weight_bits + (Nb * SCALE_BITS if first_k else 0)
        self.chip.srams["weight_sram"].write(1, bits)
        return bits

    def output_tile_bits(self, Mb: int, Nb: int) -> tuple[int, int]:
        bits = math.ceil(Mb * Nb * self.out_bits)
        back = 0
        if self.chip.spec.requant.output_scale == "two_phase":
            back = self.row_buffer_dram_bits(self.chip.srams["output_sram"], self.chip.spec.array.acc_bits, Mb, Nb)
        self.chip.srams["output_sram"].read(1, bits + back)
        if self.chip.spec.dequant.mode == "spilled":
            spill = Mb * Nb * self.chip.spec.array.acc_bits  # int32 results out and back in
            if self.chip.spec.dequant.spill_to == "dram":
                return bits + back + spill, back + spill
            self.chip.srams["output_sram"].write(1, spill)
            self.chip.srams["output_sram"].read(1, spill)
        return bits + back, back

    def tile_cost(self, codes, key, Nb, first_k, last_k, tiling: Tiling) -> TileCost:
        spec = self.chip.spec
        R, C = self.R, self.C
        Mb, Kb = codes.shape
        a_bits, w_bits, acc = spec.array.act_bits, spec.array.weight_bits, spec.array.acc_bits
        act, wgt, outs = (self.chip.srams[n] for n in ("act_sram", "weight_sram", "output_sram"))
        if self.outlier:  # salient entries go to the side unit; the dense codes fit the operands
            passes = np.ones(ceil_div(Kb if self.ws else Mb, R), dtype=np.int64)
        else:  # ops that read one tensor (q/k/v, gate/up) share its blocks' passes
            pkey = (self.op.act_codes, tiling.Mb, tiling.Kb, key, self.ws, R, spec.array.act_bits)
            if pkey not in self.chip.passes:
                fn = col_group_passes if self.ws else row_group_passes
                self.chip.passes[pkey] = fn(np.ascontiguousarray(codes), R, spec.array.act_bits)
            passes = self.chip.passes[pkey]
        n_cf = ceil_div(Nb, C)
        col_w = [min(C, Nb - j * C) for j in range(n_cf)]
        compute = stall_act = stall_w = stall_out = 0
        macs = extra = extra_out = column_sums = input_bits = 0
        if not self.ws:
            for g, p in enumerate(passes):
                rows = min(R, Mb - g * R)
                for cw in col_w:
                    fold = os_fold_cycles(Kb, R, C)
                    a_b, w_b = rows * Kb * a_bits, Kb * cw * w_bits
                    act.read(int(p), a_b)
                    wgt.read(int(p), w_b)
                    compute += int(p) * fold
                    stall_act += int(p) * max(0, act.cycles(a_b) - fold)
                    stall_w += int(p) * max(0, wgt.cycles(w_b) - fold)
                    macs += rows * Kb * cw
                    extra += (int(p) - 1) * rows * Kb * cw
                    extra_out += (int(p) - 1) * rows * cw
            psum_rmw = not (first_k and last_k)
            if psum_rmw:
                if not first_k:
                    outs.read(1, Mb * Nb * acc)
                if not last_k:
                    outs.write(1, Mb * Nb * acc)
                stall_out += outs.cycles(Mb * Nb * acc * (2 - first_k - last_k))
        else:
            tree = spec.array.column == "adder_tree"
            G, buffers = spec.array.accumulator_tokens, spec.array.weight_buffers
            # token groups that run the tile's folds one after another: all Mb tokens, or groups of G
            # whose accumulators stay in the columns (partial sums then leave only at the tile's K ends)
            sizes = Counter([G] * (Mb // G) + ([Mb % G] if Mb % G else [])) if G else Counter([Mb])
            # K groups of R rows fall in a few classes (rows, first, last): the first and last
            # group carry the tile's K ends, the middle ones are alike; counts add up by class
            n_g = len(passes)
            classes = [(min(R, Kb), first_k, last_k and n_g == 1, 1, int(passes[0]))]
            if n_g > 2:
                classes.append((R, False, False, n_g - 2, int(passes[1:-1].sum())))
            if n_g > 1:
                classes.append((Kb - (n_g - 1) * R, False, last_k, 1, int(passes[-1])))
            streams = []
            for gt, n_gt in sizes.items():
                fold = tree_fold_cycles(gt, R) if tree else ws_fold_cycles(gt, R, C)
                # with double-buffered weights a fold after the first takes the longer of its
                # streaming and the next load: its SRAM traffic has that long (the first fold, its whole length)
                later = fold if buffers == 1 else max(fold - R, R)
                n_folds = 0
                for cw, n_cw in Counter(col_w).items():
                    for krows, first, last, groups, p in classes:
                        runs = p * n_cw * n_gt  # folds run: every pass of every group in this class
                        if tree:  # each token's cycle: one tree sum and accumulate per column, its inputs latched
                            column_sums += runs * gt * cw
                            input_bits += runs * gt * krows * a_bits
                        a_b, w_b = gt * krows * a_bits, krows * cw * w_bits
                        wgt.read(runs, w_b)
                        act.read(runs, a_b)
                        ps = gt * cw * acc if not G else 0
                        if not first and ps:
                            outs.read(runs, ps)
                        if not last and ps:
                            outs.write(runs, ps)
                        first_fold = 1 if not streams and n_folds == 0 else 0  # the tile's first fold
                        n_folds += runs
                        out_cyc = outs.cycles(ps * (2 - first - last))
                        stall_act += first_fold * max(0, act.cycles(a_b) - fold) + \
                            (runs - first_fold) * max(0, act.cycles(a_b) - later)
                        stall_out += first_fold * max(0, out_cyc - fold) + (runs - first_fold) * max(0, out_cyc - later)
                        macs += groups * n_cw * n_gt * gt * krows * cw
                        extra += (p - groups) * n_cw * n_gt * gt * krows * cw
                        extra_out += (p - groups) * n_cw * n_gt * gt * cw
                streams.append((n_folds, fold - R))
            compute += sequence_cycles(streams, R, buffers)
            if G and not (first_k and last_k):  # the accumulators in and out at the tile's K ends
                if not first_k:
                    outs.read(1, Mb * Nb * acc)
                if not last_k:
                    outs.write(1, Mb * Nb * acc)
                stall_out += outs.cycles(Mb * Nb * acc * (2 - first_k - last_k))
        self.chip.array.count(macs, extra, extra_out, column_sums, input_bits)
        if self.shift_entry_bits:  # the tile's shift list, read with its codes for each column fold
            act.read(n_cf, self._salient_in_tile(key, tiling)[0] * self.shift_entry_bits)
        stalls = {"act_sram": stall_act, "weight_sram": stall_w, "output_sram": stall_out}
        if self.outlier:
            n_sal, tokens = self._salient_in_tile(key, tiling)
            side = self.chip.outlier.run(n_sal, tokens, Nb)
            self.chip.srams["salient_sram"].read(1, n_sal * self.entry_bits)
            wgt.read(1, n_sal * Nb * w_bits)  # the weight row of each salient entry
            stalls["outlier_unit"] = max(0, side - compute)
        if last_k:
            outs.write(1, math.ceil(Mb * Nb * self.out_bits))
            self.chip.dequant.count_outputs(Mb * Nb)
            if spec.requant.output_scale == "two_phase":
                stalls["output_scale"] = self.row_buffer_tile(outs, acc, Mb, Nb)
                self.chip.dequant.count_row_max(Mb * Nb)
        return TileCost(compute, stalls)
