"""The acc_if design executing one op: weight-stationary IF tiles over the real codes.

Per tile (Mb tokens x Kb inputs x Nb outputs), for each N sub-tile of C columns and each K
sub-tile of R lanes: the R x C weights are loaded into the PE registers (time-stepped dispatch),
then every token's spikes are dispatched and accumulated (the dispatch scheme of
:mod:`neurosim.engine.dispatch`: lockstep, address-event or decoupled lanes),
its membranes read from and written back to the membrane store (or, after the layer's last K
sub-tile, fired through the threshold unit into the output spike buffer). With
``array.membrane_tokens: G`` the membranes of G tokens stay in column registers while all the
tile's K sub-tiles stream (output-stationary): the membrane store is touched only at the tile's
K ends, and every group of G tokens reloads the weight sub-tiles.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from neurosim.config.energy_table import EnergyTable
from neurosim.config.hw import AccIfSpec, sram_specs
from neurosim.energy import scaling as sc
from neurosim.engine.dispatch import Walks, scheme_for
from neurosim.engine.op_model import OpModel, TileCosts, distinct_rows
from neurosim.engine.tensor_cache import TensorCache
from neurosim.engine.tiling import TileLimits, Tiling
from neurosim.engine.vector_io import VectorHost
from neurosim.engine.workers import thread_pool, threads
from neurosim.errors import NeurosimError
from neurosim.hw.cells import LogicCells
from neurosim.hw.if_array import IfArray
from neurosim.hw.salient_lanes import SalientLanes, SideWork
from neurosim.hw.salient_shifter import SalientShifter
from neurosim.hw.sequencer import sequencer_cells
from neurosim.hw.sram import Sram
from neurosim.hw.threshold_unit import ThresholdUnit
from neurosim.hw.vector_unit import VectorUnit
from neurosim.kernels.acc_tile import (
    COMPUTE,
    SAL_MAX,
    SAL_SPIKES,
    SAL_TOKEN_MAX,
    SAL_TOKENS,
    SALIENT,
    SHIFT_STEPS,
    SPIKES,
    STALL_MEMBRANE,
    STALL_SPIKE,
    STALL_WEIGHT,
    STEPS,
    salient_per_token,
)
from neurosim.trace.manifest import Op, Recipe
from neurosim.units import FP16_BITS, SCALE_BITS, ceil_div

#: Codes walked per hand-off to a worker thread (a few ms): an op's walks spread over the
#: workers, in few enough hand-offs; a shape class with fewer codes is walked at once, in place.
WALK_CHUNK_CODES = 1 << 22


def walk_chunk(blocks: int, codes_per_block: int) -> int:
    """Blocks per hand-off of a shape class's walks: about :data:`WALK_CHUNK_CODES` codes, and at
    least two hand-offs per worker thread when the class has that many blocks."""
    if blocks * codes_per_block < WALK_CHUNK_CODES:
        return max(1, blocks)
    return max(1, min(WALK_CHUNK_CODES // codes_per_block, ceil_div(blocks, 2 * threads())))


class AccIfChip(VectorHost):
    """The runtime components of an acc_if design (persist across ops to accumulate counts)."""

    def __init__(self, spec: AccIfSpec):
        self.spec = spec
        self.array = IfArray(spec.array)
        self.threshold = ThresholdUnit(spec.threshold)
        self.shifter = SalientShifter()
        self.vector = VectorUnit(spec.vector_unit)
        #: The many-core chip keeps the KV cache in the cores' weight SRAMs (set by the chip replay).
        self.kv_on_chip = False
        self.side = SalientLanes(spec.array.salient_lanes, spec.array.membrane_bits) \
            if spec.array.salient_lanes else None
        sm = spec.spike_memory
        self.srams = {
            "spike_dense": Sram("spike_dense", sm.dense),
            "spike_salient": Sram("spike_salient", sm.salient),
            "weight_sram": Sram("weight_sram", spec.weight_sram),
            "membrane_store": Sram("membrane_store", spec.membrane_store),
            "output_buffer": Sram("output_buffer", spec.output_buffer),
        }
        #: Code-block walks of the run, shared by the ops that read one activation tensor.
        self.walks = TensorCache()  # of _ClassWalks
        #: Salient counts of activation tensors (:meth:`OpModel.salient_tiles`).
        self.salient_tiles = TensorCache()

    def retarget(self, spec: AccIfSpec) -> None:
        """Run the next op with ``spec`` (the same chip with its op-specific membrane width)."""
        self.spec = spec
        self.array.spec = spec.array
        if self.side is not None:
            self.side.membrane_bits = spec.array.membrane_bits

    def logic_cells_by_component(self) -> dict[str, LogicCells]:
        """The chip's logic outside the SRAMs, by component (static power and area)."""
        a = self.spec.array
        out = {"array": self.array.cells(self.spec.spike_memory.salient.code_bits),
               "threshold": self.threshold.cells(a.cols, self.gemm_output_fp16()),
               "sequencer": sequencer_cells(sram_specs(self.spec, self.vector_used))}
        if self.side is not None:
            out["salient_lanes"] = self.side.cells(a.cols, a.weight_bits)
        if self.vector_used:
            out["vector_unit"] = self.vector.cells()
        return out

    def logic_cells(self) -> LogicCells:
        """The chip's logic outside the SRAMs (static power)."""
        return sum(self.logic_cells_by_component().values(), LogicCells())

    def processing_elements(self) -> int:
        """Accumulating lanes: the array's rows x cols plus the side lanes' accumulators."""
        a = self.spec.array
        return (a.rows + a.salient_lanes) * a.cols

    def counters(self) -> dict[str, int]:
        out = {**self.array.counters(), **self.threshold.counters(), **self.shifter.counters(),
               **self.vector.counters(), **(self.side.counters() if self.side else {})}
        for s in self.srams.values():
            out.update(s.counters())
        return out


def acc_if_energies(spec: AccIfSpec, table: EnergyTable) -> dict[str, float]:
    """pJ per action of an acc_if chip's own components: the IF array with its options, the
    threshold unit, the side lanes and the dispatch scheme's own actions."""
    a, reg = spec.array, table["register_bit"]
    out = {"array.accumulate": sc.int_add_pj(table, a.membrane_bits), "array.reg_bits": reg,
           "array.weight_reg_bits": reg, "threshold.setup": table["fp16_mul"],
           "threshold.compare": sc.int_add_pj(table, spec.threshold.bits),
           "threshold.convert": table["convert_i32_fp16"], "threshold.dequant_mul": table["fp16_mul"]}
    if spec.threshold.output_scale == "two_phase":
        out.update({"threshold.max_scale": table["fp16_mul"], "threshold.max_compare": table["fp16_add"]})
    if a.membrane_tokens:
        out["array.membrane_file_bits"] = reg
    out.update(scheme_for(a).energies(spec, table))
    if a.salient_lanes:
        out.update({"salient_lanes.accumulate": sc.int_add_pj(table, a.membrane_bits),
                    "salient_lanes.reg_bits": reg, "salient_lanes.merge_add": sc.int_add_pj(table, a.membrane_bits)})
    if a.column == "adder_tree":  # each tree level's adds at their width
        out["array.tree_add"] = sc.tree_add_pj(table, a.tree_leaf_bits, a.rows)
    if a.encoding == "bitplane":
        out["array.plane_shift"] = reg * a.membrane_bits  # a 1-bit left shift rewrites the register
    return out


@dataclass(frozen=True)
class _TilePlan:
    """The shape-only part of a tile's cost: column widths of its N sub-tiles and how many of
    each, SRAM cycles per step, weight words per event, weight sub-tile load cycles (in all, and
    of one sub-tile per column variant and K sub-tile), and the SRAM
    accesses every tile of this shape makes (recorded once on scratch SRAMs)."""

    widths: tuple[int, int]
    mult: np.ndarray
    n_sub: int
    mem_cyc: np.ndarray
    words_per_event: np.ndarray
    load_cyc: int
    load_kt: np.ndarray
    sram_counts: list[tuple[Sram, Sram]]  # (the chip's SRAM, its scratch), those a tile touches
    groups: int
    tokens: int


class _ClassWalks:
    """The walks of one shape class's code blocks (block ``m * n_k + k``, in ascending order),
    in chunks: futures until first read."""

    def __init__(self, blocks: np.ndarray, chunks: list):
        self.blocks, self._chunks, self._walks = blocks, chunks, None

    def take(self, blocks: np.ndarray) -> Walks:
        """The walks of ``blocks``."""
        if self._walks is None:
            self._walks = Walks.concat([c.result() if isinstance(c, Future) else c for c in self._chunks])
            self._chunks = []
        return self._walks.take(np.searchsorted(self.blocks, blocks))


class AccIfOpModel(OpModel):
    """One op on the acc_if chip; see the module docstring."""

    def __init__(self, chip: AccIfChip, op: Op, recipe: Recipe, codes: np.ndarray,
                 output_salient_ratio: float):
        spec = chip.spec
        self.chip, self.op, self.recipe, self.codes = chip, op, recipe, codes
        self.R, self.C = spec.array.rows, spec.array.cols
        sm = spec.spike_memory
        self.entry_bits = sm.salient.code_bits + sm.salient.index_bits + recipe.shift_bits
        self.output_salient_ratio = output_salient_ratio
        #: A vector op takes the output: the threshold unit dequantizes it to fp16 instead of firing codes.
        self.fp16_out = chip.gemm_output_fp16()
        #: Bits of one dense output (fp16, or a code of the recipe's normal width).
        self.out_code_bits = FP16_BITS if self.fp16_out else recipe.act_bits
        problems = []
        if sm.dense.code_bits < recipe.act_bits:
            problems.append(f"spike_memory.dense.code_bits={sm.dense.code_bits} < trace act_bits={recipe.act_bits}")
        if recipe.salient_bits > recipe.act_bits and sm.salient.code_bits < recipe.salient_bits:
            problems.append(f"spike_memory.salient.code_bits={sm.salient.code_bits} < trace salient_bits="
                            f"{recipe.salient_bits}")
        if (1 << sm.salient.index_bits) < op.K:
            problems.append(f"spike_memory.salient.index_bits={sm.salient.index_bits} cannot index K={op.K}")
        if spec.array.weight_bits < op.weight_bits:
            problems.append(f"array.weight_bits={spec.array.weight_bits} < op weight_bits={op.weight_bits}")
        if problems:
            raise NeurosimError(f"{spec.name} cannot run {op.name}: " + "; ".join(problems))
        self.scheme = scheme_for(spec.array)
        self._plans: dict[tuple, _TilePlan] = {}

    def limits(self) -> TileLimits:
        s = self.chip.srams
        return TileLimits(
            act_bits_per_code=self.chip.spec.spike_memory.dense.code_bits,
            act_capacity_bits=s["spike_dense"].capacity_bits,
            weight_bits_per_code=self.chip.spec.array.weight_bits,
            weight_capacity_bits=s["weight_sram"].capacity_bits,
            psum_bits=self.chip.spec.array.membrane_bits,
            psum_capacity_bits=s["membrane_store"].capacity_bits,
            psum_cols_unsplit=self.C,
            out_bits_per_output=self.out_code_bits + (0 if self.fp16_out else self.output_salient_ratio * self.entry_bits),
            out_capacity_bits=s["output_buffer"].capacity_bits,
            align_m=1, align_n=self.C, align_k=self.R,
        )

    def salient_fits(self, Mb: int, Kb: int, fraction: float) -> bool:
        """Do the salient entries of every (Mb x Kb) activation tile fit the side store?"""
        worst = int(self.salient_tiles(Mb, Kb)[0].max(initial=0))
        return worst * self.entry_bits <= fraction * self.chip.srams["spike_salient"].capacity_bits

    def act_tiles_bits(self, m: np.ndarray, k: np.ndarray, tiling: Tiling) -> np.ndarray:
        rows, cols = self.tile_extents(m, k, tiling)
        dense_bits = rows * cols * self.chip.spec.spike_memory.dense.code_bits
        side_bits = self.salient_tiles(tiling.Mb, tiling.Kb)[0][m, k] * self.entry_bits
        self.chip.srams["spike_dense"].write_each(dense_bits)
        self.chip.srams["spike_salient"].write_each(side_bits)
        return dense_bits + side_bits

    def weight_tile_bits(self, Kb: int, Nb: int, first_k: bool) -> int:
        if self.b_resident():
            return 0
        bits = Kb * Nb * self.chip.spec.array.weight_bits + (Nb * SCALE_BITS if first_k else 0)
        self.chip.srams["weight_sram"].write(1, bits)
        return bits

    def output_tile_bits(self, Mb: int, Nb: int) -> tuple[int, int]:
        salient_bits = 0 if self.fp16_out else round(Mb * Nb * self.output_salient_ratio) * self.entry_bits
        out = self.chip.srams["output_buffer"]
        out.write(1, salient_bits)  # the dense outputs were written as they fired (tile_costs)
        out.read(1, Mb * Nb * self.out_code_bits + salient_bits)
        spill = 0
        if self._two_phase():
            spill = self.row_buffer_dram_bits(self.chip.srams["membrane_store"], self.chip.spec.array.membrane_bits,
                                              Mb, Nb)
        return Mb * Nb * self.out_code_bits + salient_bits + spill, spill

    def _two_phase(self) -> bool:
        """The output codes' per-token scale needs the whole row first (not for fp16 outputs: the
        quantizer after the vector ops takes it)."""
        return self.chip.spec.threshold.output_scale == "two_phase" and not self.fp16_out

    def _plan(self, Mb: int, Kb: int, Nb: int, first_k: bool, last_k: bool) -> _TilePlan:
        """Everything about a tile that depends only on its shape (cached: most tiles share one)."""
        key = (Mb, Kb, Nb, first_k, last_k)
        if key in self._plans:
            return self._plans[key]
        spec, srams = self.chip.spec, self.chip.srams
        R, C, wb, mb_bits = self.R, self.C, spec.array.weight_bits, spec.array.membrane_bits
        full, part = divmod(Nb, C)
        widths = (C, part if part else C)
        mult = np.array([full, 1 if part else 0], dtype=np.int64)
        mem, out, wsram = srams["membrane_store"], srams["output_buffer"], srams["weight_sram"]
        act_bits = self.out_code_bits  # each output as it leaves the threshold unit
        G = spec.array.membrane_tokens
        groups = ceil_div(Mb, G) if G else 1  # token groups: each reloads the weight sub-tiles
        mem_cyc = np.zeros((2, 4), dtype=np.int64)
        for v, w in enumerate(widths):
            rd = wr = w * mb_bits
            if G:  # membranes stay in registers over the tile's K sub-tiles: touched at its ends only
                load = 0 if first_k else mem.cycles(rd)
                end = out.cycles(w * act_bits) if last_k else mem.cycles(wr)
                both = max(load, end) if last_k else mem.cycles((0 if first_k else rd) + wr)
                mem_cyc[v] = [both, load, 0, end]
            else:
                mem_cyc[v] = [out.cycles(w * act_bits), mem.cycles(wr), mem.cycles(rd + wr),
                              max(mem.cycles(rd), out.cycles(w * act_bits))]
        words_per_event = np.array([wsram.words(w * wb) for w in widths], dtype=np.int64)
        nk = ceil_div(Kb, R)
        k_rows = [R] * (Kb // R) + ([Kb % R] if Kb % R else [])
        scratch = {n: s.scratch() for n, s in srams.items()}
        load_cyc = 0
        load_kt = np.zeros((2, len(k_rows)), dtype=np.int64)  # one sub-tile's load, per variant and K sub-tile
        if self.scheme.loads_weight_tiles:  # weight sub-tiles into the PE registers
            for v, w in enumerate(widths):
                for i, r in enumerate(k_rows):
                    load_kt[v, i] = wsram.cycles(r * w * wb)
                    load_cyc += groups * int(mult[v]) * int(load_kt[v, i])
                    scratch["weight_sram"].read(groups * int(mult[v]), r * w * wb)
        n_sub = full + (1 if part else 0)
        for r in k_rows:  # codes are re-read for every N sub-tile
            scratch["spike_dense"].read(n_sub * Mb, r * spec.spike_memory.dense.code_bits)
        steps = 1 if G else nk  # membrane round trips per token: per K sub-tile, or per tile
        for v, w in enumerate(widths):  # membranes per (token, K sub-tile) step; outputs fire at the end
            m = int(mult[v])
            scratch["membrane_store"].read(m * Mb * (steps - (1 if first_k else 0)), w * mb_bits)
            scratch["membrane_store"].write(m * Mb * (steps - (1 if last_k else 0)), w * mb_bits)
            if last_k:
                scratch["output_buffer"].write(m * Mb, w * act_bits)
        touched = [(srams[n], s) for n, s in scratch.items() if s.reads or s.writes or s.read_bits or s.write_bits]
        plan = _TilePlan(widths, mult, n_sub, mem_cyc, words_per_event, load_cyc, load_kt, touched, groups, Mb)
        self._plans[key] = plan
        return plan

    def _walk_key(self, plan: _TilePlan, shape: tuple[int, int], first_k: bool, last_k: bool,
                  tiling: Tiling) -> tuple:
        # ops that read the same activation tensor (q/k/v, gate/up) walk the same code blocks
        return (self.op.act_codes, tiling.Mb, tiling.Kb, shape, first_k, last_k, plan.widths,
                self.chip.spec.array.membrane_bits)

    def _classes(self, m: np.ndarray, k: np.ndarray, nb: np.ndarray, tiling: Tiling) -> tuple[list, np.ndarray]:
        """The tiles' shape classes (tokens, channels, outputs, first K tile, last K tile), each
        once, and each tile's class."""
        mb, kb = self.tile_extents(m, k, tiling)
        keys, inverse, _ = distinct_rows(np.stack([mb, kb, nb, k == 0, k == tiling.n_k - 1], 1))
        return [(Mb, Kb, Nb, bool(f), bool(la)) for Mb, Kb, Nb, f, la in keys.tolist()], inverse

    def prefetch(self, m: np.ndarray, k: np.ndarray, nb: np.ndarray, tiling: Tiling) -> None:
        """Start walking the code blocks of each shape class the tiles ask for on the worker
        threads (the walk is pure and its kernel releases the GIL), in chunks of
        :func:`walk_chunk` blocks."""
        for Mb, Kb, Nb, first_k, last_k in self._classes(m, k, nb, tiling)[0]:
            self._class_walks(self._plan(Mb, Kb, Nb, first_k, last_k), (Mb, Kb), first_k, last_k, tiling)

    def _class_walks(self, plan: _TilePlan, shape: tuple[int, int], first_k: bool, last_k: bool,
                     tiling: Tiling) -> _ClassWalks:
        """The walks of every code block of one shape class (an op reads every block of its input),
        kept on the chip: started on the workers when first asked for."""
        key = self._walk_key(plan, shape, first_k, last_k, tiling)
        if key not in self.chip.walks:
            ms = np.flatnonzero(self.tile_extents(np.arange(tiling.n_m), np.zeros(tiling.n_m, np.int64), tiling)[0]
                                == shape[0])
            k_all = np.arange(tiling.n_k)
            ks = k_all[(self.tile_extents(np.zeros(tiling.n_k, np.int64), k_all, tiling)[1] == shape[1])
                       & ((k_all == 0) == first_k) & ((k_all == tiling.n_k - 1) == last_k)]
            ms, ks = np.repeat(ms, len(ks)), np.tile(ks, len(ms))
            walk = lambda i, j: self.scheme.walk(self, ms[i:j], ks[i:j], shape, plan, first_k, last_k,  # noqa: E731
                                                 tiling)
            per = walk_chunk(len(ms), shape[0] * shape[1])
            chunks = [thread_pool().submit(walk, i, i + per) for i in range(0, len(ms), per)] \
                if per < len(ms) else [walk(0, len(ms))]
            self.chip.walks[key] = _ClassWalks(ms * tiling.n_k + ks, chunks)
        return self.chip.walks[key]

    def tile_costs(self, m: np.ndarray, k: np.ndarray, nb: np.ndarray, tiling: Tiling) -> TileCosts:
        """The tiles of one shape class share a plan and are counted together: every count is
        linear in their walks' totals (SRAM words are rounded per tile)."""
        classes, inverse = self._classes(m, k, nb, tiling)
        parts = []
        for c, (Mb, Kb, Nb, first_k, last_k) in enumerate(classes):
            idx = np.flatnonzero(inverse == c)
            plan = self._plan(Mb, Kb, Nb, first_k, last_k)
            walks = self._class_walks(plan, (Mb, Kb), first_k, last_k, tiling).take(m[idx] * tiling.n_k + k[idx])
            parts.append((idx, self._shape_costs(walks, plan, Mb, Kb, Nb, last_k)))
        return TileCosts.gather(parts, len(m))

    def _shape_costs(self, walks: Walks, plan: _TilePlan, Mb: int, Kb: int, Nb: int, last_k: bool) -> TileCosts:
        """Count ``walks`` (tiles of one shape) on the chip; their costs in order."""
        spec, srams, n = self.chip.spec, self.chip.srams, len(walks)
        tot = walks.totals
        # the kernel walked each (token, K sub-tile) step once; every N sub-tile repeats it
        by_variant = walks.per_variant * plan.mult[None, :, None]
        sums = by_variant.sum(axis=1)
        fixed = {}
        if last_k and self._two_phase():  # the same trip through the row buffer for every tile
            scratch = srams["membrane_store"].scratch()
            fixed["output_scale"] = self.row_buffer_tile(scratch, spec.array.membrane_bits, Mb, Nb)
            srams["membrane_store"].add(scratch, n)
            self.chip.threshold.count_row_max(Mb * Nb * n)
        traffic, weight_bits = self.scheme.count_traffic(self, plan, walks, Kb, Nb)
        # lockstep: a column writes its membrane in every compute cycle
        column_cycles = int((by_variant[:, :, COMPUTE] * np.array(plan.widths)[None, :]).sum()) \
            if walks.column_writes is None else int(walks.column_writes.sum()) * Nb
        stalls = {"spike_memory": sums[:, STALL_SPIKE], "membrane_store": sums[:, STALL_MEMBRANE],
                  "weight_sram": sums[:, STALL_WEIGHT], **traffic}
        if self.chip.side is not None:
            stalls["salient_lanes"] = np.array([self._side_lanes(t, plan, Nb, c)
                                                for t, c in zip(tot, sums[:, COMPUTE].tolist(), strict=True)], np.int64)
        stalls.update({cause: np.full(n, v, np.int64) for cause, v in fixed.items()})
        totals = tot.sum(axis=0).tolist()
        if spec.array.membrane_tokens:  # each step leaves its columns' membranes in the token register file
            self.chip.array.membrane_file_bits += totals[STEPS] * Nb * spec.array.membrane_bits
        self.chip.array.count_tile(totals[SPIKES], Nb, totals[SHIFT_STEPS], weight_bits, column_cycles)
        for sram, scratch in plan.sram_counts:
            sram.add(scratch, n)
        salient_bits = tot[:, SALIENT] * self.entry_bits
        sal = srams["spike_salient"]
        sal.reads += plan.n_sub * int((-(-salient_bits // sal.spec.width_bits)).sum())
        sal.read_bits += plan.n_sub * int(salient_bits.sum())
        if last_k:
            self.chip.threshold.count_outputs(Mb * n, Nb, self.fp16_out)
        return TileCosts(sums[:, COMPUTE], stalls)

    def _side_lanes(self, tot: np.ndarray, plan: _TilePlan, Nb: int, compute: int) -> int:
        """Count the side lane group's work on one tile; returns the cycles it runs past the main
        array (it runs beside it)."""
        spec, srams = self.chip.spec, self.chip.srams
        entries = int(tot[SALIENT])
        work = SideWork(entries, int(tot[SAL_SPIKES]), int(tot[SAL_TOKENS]), int(tot[SAL_MAX]), int(tot[SAL_TOKEN_MAX]))
        side, merges = self.chip.side.run(work, Nb, plan.n_sub, spec.array.salient_merge == "per_token")
        wsram = srams["weight_sram"]
        for v in range(2):  # one latched weight row per entry and N sub-tile
            wsram.reads += int(plan.mult[v]) * entries * int(plan.words_per_event[v])
        wsram.read_bits += entries * Nb * spec.array.weight_bits
        srams["membrane_store"].read(1, merges * Nb * spec.array.membrane_bits)  # merge into the membranes
        srams["membrane_store"].write(1, merges * Nb * spec.array.membrane_bits)
        return max(0, side - compute)

    def op_end(self) -> None:
        if not self.fp16_out:
            self.chip.threshold.count_layer(self.op.N)
        if self.recipe.shift_bits:  # each salient entry's weight, shifted once per output column
            entries = int(salient_per_token(np.ascontiguousarray(self.codes), self.recipe.normal_max).sum())
            self.chip.shifter.count(entries, self.op.N, self.chip.spec.array.weight_bits, self.recipe.shift_bits)

