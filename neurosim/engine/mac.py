"""The mac design executing one op: folds over tiles, with dequantization.

How a tile's folds run is the chip's organisation (:mod:`neurosim.engine.mac_schemes`: the
output- or weight-stationary grid, adder-tree columns), how codes wider than the operands are
stored and run its salient class (digit passes or the outlier path). Partial sums of a split K
are read-modify-written in the output SRAM; ``dequant.mode: spilled`` writes every int32 result
out and reads it back for a separate dequantization pass.
"""

from __future__ import annotations

import math

import numpy as np

from neurosim.config.energy_table import EnergyTable
from neurosim.config.hw import MacSpec, sram_specs
from neurosim.energy import scaling as sc
from neurosim.engine.mac_schemes import organisation_for, outlier_unit_energies, salient_class_for
from neurosim.engine.op_model import OpModel, TileCosts
from neurosim.engine.tensor_cache import TensorCache
from neurosim.engine.tiling import TileLimits, Tiling
from neurosim.engine.vector_io import VectorHost
from neurosim.engine.workers import by_rows
from neurosim.errors import NeurosimError
from neurosim.hw.cells import LogicCells
from neurosim.hw.dequant_unit import DequantUnit
from neurosim.hw.mac_array import mac_array_class
from neurosim.hw.outlier_unit import OutlierUnit
from neurosim.hw.salient_shifter import SalientShifter
from neurosim.hw.sequencer import sequencer_cells
from neurosim.hw.sram import Sram
from neurosim.hw.vector_unit import VectorUnit
from neurosim.kernels.acc_tile import salient_per_token, zero_counts
from neurosim.trace.manifest import Op, Recipe
from neurosim.units import FP16_BITS, SCALE_BITS, ceil_div


class MacChip(VectorHost):
    """The runtime components of a mac design."""

    def __init__(self, spec: MacSpec):
        self.spec = spec
        self.organisation = organisation_for(spec.array)
        self.salient_class = salient_class_for(spec.array)
        # every organisation's products may be gated (array.zero_gating: MacOpModel.tile_costs)
        self.array = mac_array_class((*self.organisation.counter_names, "mac_gated"))()
        self.dequant = DequantUnit(spec.dequant, spec.requant)
        self.outlier = OutlierUnit(spec.outlier_unit, spec.array.weight_bits, spec.array.acc_bits)
        self.shifter = SalientShifter()
        self.vector = VectorUnit(spec.vector_unit)
        #: The many-core chip keeps the KV cache in the cores' weight SRAMs (set by the chip replay).
        self.kv_on_chip = False
        self.srams = {n: Sram(n, s) for n, s in sram_specs(spec).items()}
        #: Salient counts of activation tensors (:meth:`OpModel.salient_tiles`).
        self.salient_tiles = TensorCache()
        #: Precision passes per row (OS) or channel (WS) group of each activation tile.
        self.passes = TensorCache()
        #: Zero codes per activation tile (:meth:`MacOpModel.zero_tiles`).
        self.zero_tiles = TensorCache()

    def retarget(self, spec: MacSpec) -> None:
        """Run the next op with ``spec`` (the same chip with its op-specific accumulator width)."""
        self.spec = spec
        self.outlier.acc_bits = spec.array.acc_bits

    def logic_cells_by_component(self) -> dict[str, LogicCells]:
        """The chip's logic outside the SRAMs, by component (static power and area)."""
        out = {"mac_array": self.organisation.cells(self.spec.array), "dequant": self.dequant.cells(self.spec.array.cols),
               **self.salient_class.side_cells(self), "sequencer": sequencer_cells(sram_specs(self.spec, self.vector_used))}
        if self.vector_used:
            out["vector_unit"] = self.vector.cells()
        return out

    def logic_cells(self) -> LogicCells:
        """The chip's logic outside the SRAMs (static power)."""
        return sum(self.logic_cells_by_component().values(), LogicCells())

    def processing_elements(self) -> int:
        """MAC lanes: the array's rows x cols plus the salient class's side lanes."""
        return self.spec.array.rows * self.spec.array.cols + self.salient_class.side_lanes(self.spec)

    def counters(self) -> dict[str, int]:
        out = {**self.array.counters(), **self.dequant.counters(), **self.outlier.counters(),
               **self.shifter.counters(), **self.vector.counters()}
        for s in self.srams.values():
            out.update(s.counters())
        return out


def mac_energies(spec: MacSpec, table: EnergyTable) -> dict[str, float]:
    """pJ per action of a mac chip's own components: its organisation's array, the dequantizer
    and requantizer, and the outlier side unit."""
    out = {
        **organisation_for(spec.array).energies(spec, table),
        # a gated product (array.zero_gating): operand isolation holds the multiplier's inputs and
        # the product into the sum stays 0, so nothing switches (its registers still count, as reg_bits)
        "mac_array.mac_gated": 0.0,
        "dequant.convert": table["convert_i32_fp16"],
        "dequant.scale_mul": table["fp16_mul"],
        "requant.scale_mul": table["fp16_mul"],
        "requant.round": sc.int_add_pj(table, 16),
        **outlier_unit_energies(spec, table),
    }
    if spec.requant.output_scale == "two_phase":
        out["requant.max_compare"] = table["fp16_add"]
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
        self.organisation = chip.organisation
        self.salient = chip.salient_class(self)
        self.code_bits = self.salient.code_bits()
        #: A vector op takes the output: it leaves the dequantizer at fp16, not requantized to codes.
        self.fp16_out = chip.gemm_output_fp16()
        self.out_bits = FP16_BITS if self.fp16_out else self.salient.out_bits(output_salient_ratio)
        self.R, self.C = spec.array.rows, spec.array.cols
        self._fold_cache: dict[tuple, tuple] = {}

    def salient_fits(self, Mb: int, Kb: int, fraction: float) -> bool:
        """Do the side entries of every (Mb x Kb) tile fit their store (the salient class says)?"""
        return self.salient.fits(Mb, Kb, fraction)

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
            out_bits_per_output=self.out_bits, out_capacity_bits=out_cap,
            psum_shares_output=True, **self.organisation.alignment(self.R, self.C),
        )

    def act_tiles_bits(self, m: np.ndarray, k: np.ndarray, tiling: Tiling) -> np.ndarray:
        rows, cols = self.tile_extents(m, k, tiling)
        bits = rows * cols * self.code_bits + rows * SCALE_BITS
        self.chip.srams["act_sram"].write_each(bits)
        return bits + self.salient.side_bits(m, k, tiling)

    def weight_tile_bits(self, Kb: int, Nb: int, first_k: bool) -> int:
        if self.b_resident():
            return 0
        bits = Kb * Nb * self.chip.spec.array.weight_bits + (Nb * SCALE_BITS if first_k else 0)
        self.chip.srams["weight_sram"].write(1, bits)
        return bits

    def output_tile_bits(self, Mb: int, Nb: int) -> tuple[int, int]:
        bits = math.ceil(Mb * Nb * self.out_bits)
        back = 0
        if self._two_phase():
            back = self.row_buffer_dram_bits(self.chip.srams["output_sram"], self.chip.spec.array.acc_bits, Mb, Nb)
        self.chip.srams["output_sram"].read(1, bits + back)
        if self.chip.spec.dequant.mode == "spilled":
            spill = Mb * Nb * self.chip.spec.array.acc_bits  # int32 results out and back in
            if self.chip.spec.dequant.spill_to == "dram":
                return bits + back + spill, back + spill
            self.chip.srams["output_sram"].write(1, spill)
            self.chip.srams["output_sram"].read(1, spill)
        return bits + back, back

    def _two_phase(self) -> bool:
        """The output codes' per-token scale needs the whole row first (not for fp16 outputs: the
        quantizer after the vector ops takes it)."""
        return self.chip.spec.requant.output_scale == "two_phase" and not self.fp16_out

    def _folds(self, passes: np.ndarray, Mb: int, Kb: int, Nb: int, first_k: bool, last_k: bool,
               times: int) -> tuple:
        """The folds of ``times`` tiles alike and the array counts one of them makes, their SRAM
        accesses counted. A tile's folds depend only on its shape and its groups' passes, so the
        op's tiles alike share one fold walk, recorded once on scratch SRAMs and added for each."""
        key = (passes.tobytes(), Mb, Kb, Nb, first_k, last_k)
        hit = self._fold_cache.get(key)
        if hit is None:
            spec, srams = self.chip.spec, self.chip.srams
            scratch = {n: s.scratch() for n, s in srams.items()}
            f = self.organisation.fold_cost(spec, scratch, passes, Mb, Kb, Nb, first_k, last_k)
            touched = [(srams[n], s) for n, s in scratch.items() if s.reads or s.writes or s.read_bits or s.write_bits]
            hit = self._fold_cache[key] = (f, self.organisation.counts(spec.array, f), touched)
        f, counts, touched = hit
        for sram, s in touched:
            sram.add(s, times)
        return f, counts

    def zero_tiles(self, Mb: int, Kb: int) -> np.ndarray:
        """Zero codes per ``Mb x Kb`` tile of the op's activation tensor (``[ceil(M / Mb),
        ceil(K / Kb)]``), kept on the chip as :meth:`~neurosim.engine.op_model.OpModel.salient_tiles`."""
        cache, name = self.chip.zero_tiles, self.op.act_codes
        if (name, Mb, Kb) not in cache:
            if (name, Kb) not in cache:
                cache[name, Kb] = np.concatenate(by_rows(zero_counts, np.ascontiguousarray(self.codes), Kb))
            cache[name, Mb, Kb] = np.add.reduceat(cache[name, Kb], np.arange(0, self.op.M, Mb), axis=0)
        return cache[name, Mb, Kb]

    def tile_costs(self, m: np.ndarray, k: np.ndarray, nb: np.ndarray, tiling: Tiling) -> TileCosts:
        """The tiles of one shape and one set of precision passes run the same folds (walked once,
        counted for each); their zero operands and side work are counted from per-tile arrays at
        once."""
        groups: dict[tuple, tuple[np.ndarray, list[int]]] = {}
        mb, kb = self.tile_extents(m, k, tiling)
        for i, (mi, ki, Mb, Kb, Nb) in enumerate(zip(m.tolist(), k.tolist(), mb.tolist(), kb.tolist(), nb.tolist(),
                                                     strict=True)):
            m0, k0 = mi * tiling.Mb, ki * tiling.Kb  # a view: the kernels that walk a block copy it
            passes = self.salient.passes(self.codes[m0:m0 + Mb, k0:k0 + Kb], (mi, ki), tiling)
            groups.setdefault((passes.tobytes(), Mb, Kb, Nb, ki == 0, ki == tiling.n_k - 1), (passes, []))[1].append(i)
        parts = []
        for (_, Mb, Kb, Nb, first_k, last_k), (passes, rows) in groups.items():
            idx = np.array(rows, np.int64)
            parts.append((idx, self._group_costs(passes, m[idx], k[idx], (Mb, Kb, Nb), first_k, last_k, tiling)))
        return TileCosts.gather(parts, len(m))

    def _group_costs(self, passes: np.ndarray, m: np.ndarray, k: np.ndarray, shape: tuple[int, int, int],
                     first_k: bool, last_k: bool, tiling: Tiling) -> TileCosts:
        """Count the tiles ``(m[i], k[i])`` of one shape and one set of passes; their costs in order."""
        spec, outs, n = self.chip.spec, self.chip.srams["output_sram"], len(m)
        Mb, Kb, Nb = shape
        f, one = self._folds(passes, Mb, Kb, Nb, first_k, last_k, n)
        counts = {a: c * n for a, c in one.items()}
        if spec.array.zero_gating:  # a zero operand's products over the tile's Nb columns do not switch
            gated = int(self.salient.zero_operands(m, k, tiling).sum()) * Nb
            counts["mac"] -= gated
            counts["mac_gated"] = gated
        self.chip.array.count(counts)
        fixed = {"act_sram": f.stall_act, "weight_sram": f.stall_weight, "output_sram": f.stall_out}
        side = self.salient.tiles_side(m, k, tiling, Nb, ceil_div(Nb, self.C), f.compute)
        after = {}
        if last_k:
            outs.write(n, math.ceil(Mb * Nb * self.out_bits))
            self.chip.dequant.count_outputs(Mb * Nb * n, requant=not self.fp16_out)
            if self._two_phase():
                scratch = outs.scratch()
                after["output_scale"] = self.row_buffer_tile(scratch, spec.array.acc_bits, Mb, Nb)
                outs.add(scratch, n)
                self.chip.dequant.count_row_max(Mb * Nb * n)
        stalls = {cause: np.full(n, v, np.int64) for cause, v in fixed.items()}
        stalls.update({cause: np.asarray(v, np.int64) for cause, v in side.items()})
        stalls.update({cause: np.full(n, v, np.int64) for cause, v in after.items()})
        return TileCosts(np.full(n, f.compute, np.int64), stalls)
