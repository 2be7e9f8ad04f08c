"""One core replaying a trace's ops in order: today's single array with its memories and DRAM.

:class:`CoreReplay` does one thing per method: run a vector op, run a GEMM op (or reuse the run of
an identical earlier one), make an op's layer result once its pipeline has its cycles, cancel
what is still queued. Each GEMM op's simulation is an :class:`OpRun`. The driver
(:func:`neurosim.engine.simulate.simulate`) is a short loop over the trace's schedule; a chip of
many cores will schedule several replays.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass, replace

import numpy as np

from neurosim.config.energy_table import load_energy_table
from neurosim.config.hw import HwSpec
from neurosim.energy.actions import static_power_mw
from neurosim.energy.area import area_mm2
from neurosim.energy.breakdown import energy_breakdown, energy_by_action, with_total
from neurosim.energy.time_power import time_power
from neurosim.engine.designs import DESIGNS, design_energies
from neurosim.engine.op_mapper import Candidate, choose
from neurosim.engine.pipeline import Interval, _per_tile_cycles, run_arrays, run_with_templates, submit_arrays
from neurosim.engine.tile_walk import TileStream, aggregate_tiles, walk_tiles
from neurosim.engine.tiling import Tiling, candidate_tilings
from neurosim.engine.vector_io import Flow, vector_io
from neurosim.engine.widths import built_widths, resolve_widths
from neurosim.engine.workers import after, by_rows, thread_pool
from neurosim.errors import Problem, TraceFormatError
from neurosim.hw.dram import Dram
from neurosim.kernels.acc_tile import code_totals
from neurosim.result_types import LayerResult
from neurosim.trace.manifest import Op, VectorOp
from neurosim.trace.reader import Trace
from neurosim.trace.stats import output_salient_ratio
from neurosim.units import cycles_to_s

#: A layer result made once its pipeline has its cycles, with the op's tile intervals (tile timelines).
PendingLayer = Callable[[], tuple[LayerResult, list[Interval] | None]]


@dataclass
class Snapshot:
    """Every counter and memory access count of the chip and its DRAM at one moment (or a delta)."""

    counters: dict[str, int]
    memory: dict[str, dict[str, int]]

    @classmethod
    def of(cls, chip, dram: Dram) -> Snapshot:
        mem = {name: s.memory() for name, s in chip.srams.items()}
        mem[dram.level] = dram.memory()
        return cls({**chip.counters(), **dram.counters()}, mem)

    def since(self, before: Snapshot) -> Snapshot:
        """What changed from ``before`` to this one, with the on-chip bits moved (interconnect)."""
        counters = {k: self.counters[k] - before.counters.get(k, 0) for k in self.counters}
        memory = {lvl: {k: v - before.memory[lvl][k] for k, v in d.items()} for lvl, d in self.memory.items()}
        counters["interconnect.bits"] = sum(d["read_bits"] + d["write_bits"] for lvl, d in memory.items()
                                            if lvl not in ("dram", "noc_port"))
        return Snapshot(counters, memory)

    def times(self, n: int) -> Snapshot:
        """``n`` identical instances of these counts."""
        if n == 1:
            return self
        return Snapshot({k: v * n for k, v in self.counters.items()},
                        {lvl: {k: v * n for k, v in m.items()} for lvl, m in self.memory.items()})


@dataclass
class OpRun:
    """One GEMM op simulated on the core (shared by later ops with the same tensors and shape)."""

    tiling: dict
    pipe: Future  # of its tile pipeline's (cycles, stalls by cause, states recorded for its phase)
    compute_cycles: int
    stream: TileStream
    delta: Snapshot
    output_salient_ratio: float
    checked: Future | None  # of its functional check, when asked for
    mapping: dict | None = None  # the mapper's report (neurosim.engine.op_mapper)

    def futures(self) -> list[Future]:
        return [f for f in (self.pipe, self.checked) if f is not None]


def run_op(trace: Trace, op, spec: HwSpec, chip, dram: Dram, out_salient_ratio: float,
           record: list[Interval] | None = None, engine: str = "fast",
           price: Callable[[Snapshot, int, int], float] | None = None) -> tuple[Candidate, dict | None]:
    """Simulate one op: (the winning candidate, whose ``run`` is (tiling dict, a future of its
    pipeline's (cycles, stalls by cause), compute cycles, its tile stream, its counts), the
    mapping report). ``spec.mapper`` scores candidate tilings (:mod:`neurosim.engine.op_mapper`)
    by ``price(counts, cycles, compute cycles)`` in pJ. The ``fast`` engine aggregates identical
    tile questions and runs the compiled pipeline on a worker thread; the ``reference`` engine
    walks every tile and runs simpy (the same results)."""
    codes = trace.tensor(op.act_codes)
    cls = DESIGNS[spec.design].op_model
    model = cls(chip, op, trace.manifest.recipe, codes, out_salient_ratio)
    where = f"{spec.name}: {op.name}"
    objective = spec.mapper.objective if price is not None else "dram"
    n = 1 if objective == "dram" else spec.mapper.candidates
    tilings = candidate_tilings(op.M, op.K, op.N, model.limits(), model.salient_fits, where, n)
    records: dict[int, list[Interval]] = {}

    def start(tiling: Tiling) -> tuple:
        rec = records.setdefault(id(tiling), []) if record is not None else None
        return _run_tiling(cls(chip, op, trace.manifest.recipe, codes, out_salient_ratio), tiling, op, dram,
                           chip, rec, engine)

    def finish(tiling: Tiling, run: tuple) -> Candidate:
        if objective == "dram":
            return Candidate(tiling, 0.0, 0, run)
        cycles = run[1].result()[0]
        return Candidate(tiling, price(run[4], cycles, run[2]), cycles, run)

    best, report = choose(tilings, start, finish, objective)
    if record is not None:
        record.extend(records[id(best.tiling)])
    return best, report


def _run_tiling(model, tiling: Tiling, op, dram: Dram, chip, record, engine: str) -> tuple:
    """One tiling of an op simulated: (tiling dict, pipeline future, compute cycles, tile stream,
    the counts it added)."""
    before = Snapshot.of(chip, dram)
    stream = aggregate_tiles(model, tiling, op, dram, chip) if engine == "fast" else \
        walk_tiles(model, tiling, op, dram)
    model.op_end()
    delta = Snapshot.of(chip, dram).since(before)
    pipe = submit_arrays(stream.load_bits, stream.busy_cycles, stream.writeback_bits, stream.compute_cycles,
                         dram.transfer_cycles, record=record, label=f"{op.name} ", engine=engine,
                         stalls_of=stream.tile_stalls, states=True)
    # the per-tile stalls served the pipeline just submitted (the timeline's): a run kept for
    # reuse holds the tile arrays only (a prefill's distinct tile costs are most of its tiles)
    stream = replace(stream, tile_costs=None, cost_index=None)
    return tiling.to_dict(), pipe, int(stream.compute_cycles.sum()), stream, delta


def tensor_totals(trace: Trace, name: str) -> tuple[int, int, int]:
    """(nonzero, salient, spikes) of one activation tensor, in one compiled pass
    (:func:`~neurosim.kernels.acc_tile.code_totals`), cached on the open trace across configs:
    the chip's traffic and the ops without weights read the same totals."""
    def make() -> tuple[int, int, int]:
        codes = np.ascontiguousarray(trace.tensor(name))
        return tuple(int(sum(v)) for v in zip(*by_rows(code_totals, codes, trace.manifest.recipe.normal_max),
                                                strict=True))

    return trace.derived.get_or_make(("code_totals", name), make)


def _input_salient_ratio(trace: Trace, name: str) -> float:
    """Salient fraction of one activation tensor."""
    return tensor_totals(trace, name)[1] / trace.tensor(name).size


def _vector_op(v: VectorOp, chip, dram: Dram, act_bits: int,
               flow: Flow | None) -> tuple[int, dict[str, int], int, tuple]:
    """Run one vector op once: (cycles, stalls by cause, KV-cache bits written, its pipeline block
    (load bits, busy cycles, write-back bits)). With a ``flow`` (``vector_unit.operands:
    counted``) its operands move (:mod:`neurosim.engine.vector_io`): the buffer's traffic within
    its busy time, DRAM's before and after it."""
    if v.op == "kv_write":  # the new tokens' K and V codes go to the DRAM-resident cache
        bits = v.tokens * v.width * v.bits
        dram.write(bits)
        cycles = dram.transfer_cycles(bits)
        return cycles, {"kv_write": cycles}, dram.burst_bits(bits), (0, 0, dram.burst_bits(bits))
    busy = chip.vector.run(v.op, v.tokens, v.width)
    if flow is None:
        return busy, {"vector_unit": busy}, 0, (0, busy, 0)
    buf = chip.srams["vector_buffer"]
    io = vector_io(v, act_bits, flow, buf)
    buf.read(1, io.buffer_read)
    buf.write(1, io.buffer_write)
    busy = max(busy, buf.cycles(io.buffer_read + io.buffer_write))
    dram.read(io.dram_read)
    dram.write(io.dram_write)
    moved = dram.transfer_cycles(io.dram_read) + dram.transfer_cycles(io.dram_write)
    stalls = {"vector_unit": busy, **({"vector_dram": moved} if moved else {})}
    burst = [dram.burst_bits(b) if b else 0 for b in (io.dram_read, io.dram_write)]
    return busy + moved, stalls, 0, (burst[0], busy, burst[1])


#: Most tiles one phase's schedule may hold at once (3 int64 arrays: about 400 MB).
MAX_STREAM_TILES = 1 << 24


class PhaseStreams:
    """The tiles of the prefill and of each decode step in schedule order, for the overlapped
    makespan (one pipeline per step: a step's ops overlap each other, steps follow one another).
    A window of ops is handed to a worker thread as soon as it is full, while later ops run."""

    def __init__(self, dram: Dram, engine: str, window_tiles: int):
        #: consecutive ops run in one pipeline up to this many tiles (``schedule.window_tiles``)
        self.dram, self.engine, self.window_tiles = dram, engine, window_tiles
        #: per step: (load bits, busy, write-back bits, (load, write-back cycles of one instance), times, states)
        self.open: dict[tuple[str, int], list[tuple]] = {}
        self.runs: list[tuple[str, Future]] = []
        self._cycles_of: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _cycles(self, bits: np.ndarray, times: int) -> np.ndarray:
        """Each tile's transfer cycles, kept per folded op's array (``times`` > 1: every decode
        step repeats it)."""
        if len(bits) < 64 or times == 1:
            return _per_tile_cycles(bits, self.dram.transfer_cycles)
        hit = self._cycles_of.get(id(bits))
        if hit is None or hit[0] is not bits:
            hit = self._cycles_of[id(bits)] = (bits, _per_tile_cycles(bits, self.dram.transfer_cycles))
        return hit[1]

    def add(self, phase: str, step: int, load: np.ndarray, busy: np.ndarray, wb: np.ndarray, times: int,
            states: Future | None = None) -> None:
        """Op tiles ``load, busy, wb`` ``times`` times over (a folded op's layers or heads: a run
        the compiled pipeline fast-forwards once its state repeats); ``states``: the future of the
        op's own pipeline with its recorded states, which this one jumps along once it matches."""
        part = (*(np.tile(a, times) for a in (load, busy, wb)), (self._cycles(load, times), self._cycles(wb, times)),
                times, states if times == 1 else None)
        chunk = self.open.setdefault((phase, step), [])
        if chunk and sum(len(p[0]) for p in chunk) + len(part[0]) > self.window_tiles:
            self._submit(phase, chunk)
            chunk = self.open[phase, step] = []
        chunk.append(part)

    def _submit(self, phase: str, chunk: list) -> None:
        load, busy, wb = (np.concatenate([p[i] for p in chunk]) for i in range(3))
        starts = np.cumsum([0] + [len(p[0]) for p in chunk])[:-1]
        runs = np.array([(start, len(p[0]) // p[4], p[4]) for start, p in zip(starts, chunk, strict=True) if p[4] > 1],
                        np.int64).reshape(-1, 3)
        recorded = [(start, p[5]) for start, p in zip(starts, chunk, strict=True) if p[5] is not None]
        if self.engine == "fast":
            run = after([f for _, f in recorded], run_with_templates, load, busy, wb, self.dram.transfer_cycles, runs,
                        recorded, [(*p[3], p[4]) for p in chunk])
        else:
            run = submit_arrays(load, busy, wb, busy, self.dram.transfer_cycles, engine=self.engine)
        self.runs.append((phase, run))

    def cycles(self) -> dict[str, int]:
        """Per phase: the sum over its steps (and windows of ops) of one pipeline over their tiles."""
        for (phase, _), chunk in self.open.items():
            self._submit(phase, chunk)
        self.open.clear()
        out: dict[str, int] = {}
        for phase, run in self.runs:
            out[phase] = out.get(phase, 0) + run.result()[0]
        return out


class CoreReplay:
    """One core replaying a trace's ops (see the module docstring). ``check`` runs each op's
    functional check on a worker thread; ``tile_timeline`` records every tile interval (and then
    simulates every op again instead of reusing an identical one's run); ``phase_streams``: keep
    the phases' tiles for the one core's overlapped schedule (a chip schedules its cores itself)."""

    def __init__(self, trace: Trace, spec: HwSpec, *, check: bool = False, engine: str = "fast",
                 tile_timeline: bool = False, port=None, phase_streams: bool = True):
        self.trace, self.spec, self.check, self.engine, self.tile_timeline = trace, spec, check, engine, tile_timeline
        self.table = load_energy_table(spec.technology)
        self.design = DESIGNS[spec.design]
        self.built = built_widths(spec, trace.ops, trace.manifest.recipe)
        self.chip = self.design.chip(self.built)
        self.chip.vector_used = bool(trace.manifest.vector_ops)
        self.static_mw = static_power_mw(spec, self.table, self.chip.logic_cells(), self.chip.vector_used)
        self.power = time_power(spec, self.table, self.static_mw, self.chip.logic_cells_by_component())
        # before ops retarget it
        self.area = area_mm2(self.built, self.table, self.chip.logic_cells_by_component(), self.chip.vector_used)
        #: Where tiles come from and go to: the DRAM channel, or a core's port onto the mesh.
        self.dram = Dram(spec.dram, spec.clock_mhz) if port is None else port
        self.pj_by_spec: dict[HwSpec, dict[str, float]] = {self.built: design_energies(self.built, self.table)}
        self.runs: dict[tuple, OpRun] = {}
        #: a vector op's instances pipelined, by (block, instances): every decode step repeats them
        self.instances_cycles: dict[tuple, int] = {}
        self.streams = PhaseStreams(self.dram, engine, spec.schedule.window_tiles) \
            if spec.schedule.overlap_ops and phase_streams else None

    def energies(self, d: Snapshot, pj: dict[str, float], cycles: int, compute_cycles: int,
                 vector: bool = False) -> tuple[dict, dict]:
        """(energy by component with the total, energy by action) of counts ``d`` over ``cycles``, the
        array computing ``compute_cycles`` of them (a vector op when ``vector``): the counted actions,
        then the time-proportional power (:mod:`neurosim.energy.time_power`)."""
        energy = energy_breakdown(d.counters, pj)
        clock = self.spec.clock_mhz
        dram_bits = d.counters.get("dram.read_bits", 0) + d.counters.get("dram.write_bits", 0)
        timed = self.power.energies_pj(cycles_to_s(cycles, clock), cycles_to_s(compute_cycles, clock), vector,
                                       dram_bits)
        energy["leakage"], energy["clock"] = timed["leakage"], timed["clock"]
        energy["dram"] = energy.get("dram", 0.0) + timed["dram.background"]
        return with_total(energy), {**energy_by_action(d.counters, pj), **timed}

    def vector(self, v: VectorOp, flow: Flow | None = None) -> PendingLayer:
        """Run vector op ``v`` (its ``repeat`` instances) on the chip as built; ``flow``: where it
        meets the GEMMs around it (:func:`neurosim.engine.vector_io.between_ops`; its operands
        move when the chip counts them)."""
        self._bound_instances(1, v.repeat, f"vector op {v.name}")  # its instances' pipeline is laid out below
        before = Snapshot.of(self.chip, self.dram)
        moved = flow if "vector_buffer" in self.chip.srams else None
        act_bits = self.trace.manifest.recipe.act_bits
        cycles, stalls, kv_bits, block = _vector_op(v, self.chip, self.dram, act_bits, moved)
        if self.streams is not None:
            self.streams.add(v.phase, v.step, *(np.array([b], np.int64) for b in block), v.repeat)
        d = Snapshot.of(self.chip, self.dram).since(before).times(v.repeat)
        stalls = {k: c * v.repeat for k, c in stalls.items()}
        if v.repeat > 1 and "vector_dram" in stalls:
            # the instances (heads) pipeline: one's DRAM traffic beside another's work, as in the phase
            if (block, v.repeat) not in self.instances_cycles:
                tiles = [np.full(v.repeat, b, np.int64) for b in (*block, block[1])]
                self.instances_cycles[block, v.repeat] = run_arrays(*tiles, self.dram.transfer_cycles)[0]
            cycles = self.instances_cycles[block, v.repeat]
            stalls["vector_dram"] = cycles - stalls["vector_unit"]
        else:
            cycles *= v.repeat
        energy, actions = self.energies(d, self.pj_by_spec[self.built], cycles, 0, vector=True)
        layer = LayerResult(
            name=v.name, kind="vector", M=v.tokens, K=v.width, N=v.width, tiling={}, cycles=cycles,
            compute_cycles=0, stall_cycles=stalls, utilization=0.0,
            counters=d.counters, memory=d.memory, energy_pj=energy, energy_by_action_pj=actions,
            spatial_utilization=0.0, phase=v.phase, step=v.step, repeat=v.repeat, vector_op=v.op,
            kv_write_bits=kv_bits * v.repeat)
        return lambda: (layer, None)

    def _bound_instances(self, tiles: int, times: int, what: str) -> None:
        """Refuse, before anything is laid out, ``times`` instances of ``tiles`` tiles beyond
        :data:`MAX_STREAM_TILES` (a repeat in the manifest sets ``times``)."""
        if tiles * times > MAX_STREAM_TILES:
            raise TraceFormatError(str(self.trace.path / "manifest.json"), Problem(
                f"{what[:80]}: repeat", f"{times:,} instances of {tiles:,} tiles are {tiles * times:,} tiles in one "
                f"schedule, more than {MAX_STREAM_TILES:,}"))

    def gemm(self, op: Op) -> PendingLayer:
        """Run GEMM op ``op`` (or reuse the run of an identical earlier op) at the widths it needs."""
        op_spec = resolve_widths(self.spec, op, self.trace.manifest.recipe)
        self.chip.retarget(op_spec)
        if op_spec not in self.pj_by_spec:
            self.pj_by_spec[op_spec] = design_energies(op_spec, self.table)
        rec: list[Interval] | None = [] if self.tile_timeline else None
        key = (op.kind, op.M, op.K, op.N, op.weight_bits, op.b_source, *op.tensor_refs().items(), op_spec)
        if key not in self.runs or rec is not None:
            self.runs[key] = self._run(op, op_spec, rec)
        run = self.runs[key]
        if self.streams is not None:
            s = run.stream
            self._bound_instances(len(s.load_bits), op.repeat, f"op {op.name}")
            self.streams.add(op.phase, op.step, s.load_bits, s.busy_cycles, s.writeback_bits, op.repeat, run.pipe)
        pes = self.chip.processing_elements()
        return lambda: (self._gemm_layer(op, op_spec, run, pes), rec)

    def _run(self, op: Op, op_spec: HwSpec, rec: list[Interval] | None) -> OpRun:
        out_ratio = output_salient_ratio(self.trace, op)
        if out_ratio is None:  # no weights: the input's ratio stands in (docs/model.md)
            out_ratio = _input_salient_ratio(self.trace, op.act_codes)
        pj = self.pj_by_spec[op_spec]

        def price(d: Snapshot, cycles: int, compute: int) -> float:
            return self.energies(d, pj, cycles, compute)[0]["total"]

        best, mapping = run_op(self.trace, op, op_spec, self.chip, self.dram, out_ratio, rec, self.engine, price)
        tiling, pipe, compute, stream, d = best.run
        checked = None
        if self.check and op.weight_codes is not None:  # pure: it runs on a worker thread beside the next ops
            from neurosim.engine.check import check_op

            checked = thread_pool().submit(check_op, self.trace, op, op_spec)
        return OpRun(tiling, pipe, compute, stream, d, out_ratio, checked, mapping)

    def _gemm_layer(self, op: Op, op_spec: HwSpec, run: OpRun, pes: int) -> LayerResult:
        """The op's layer result, once its pipeline (and check) are done: ``op.repeat`` instances."""
        cycles, pipe_stalls, _ = run.pipe.result()
        n, d, compute = op.repeat, run.delta.times(op.repeat), run.compute_cycles
        stalls = Counter(run.stream.stalls)
        stalls.update(pipe_stalls)
        energy, actions = self.energies(d, self.pj_by_spec[op_spec], cycles * n, compute * n)
        return LayerResult(
            name=op.name, kind=op.kind, M=op.M, K=op.K, N=op.N, tiling=run.tiling, cycles=cycles * n,
            compute_cycles=compute * n, stall_cycles={k: c * n for k, c in stalls.items()},
            utilization=compute / cycles if cycles else 0.0, counters=d.counters, memory=d.memory, energy_pj=energy,
            check=run.checked.result() if run.checked is not None else None,
            accumulator_bits=getattr(op_spec.array, self.design.accumulator_key),
            output_salient_ratio=run.output_salient_ratio, energy_by_action_pj=actions,
            spatial_utilization=(sum(d.counters.get(k, 0) for k in self.design.useful_ops) / (pes * cycles * n)
                                 if cycles else 0.0),
            phase=op.phase, step=op.step, repeat=n, kv_read_bits=run.stream.weight_bits * n if op.kv else 0,
            mapping=run.mapping)

    def phase_cycles(self) -> dict[str, int] | None:
        """The overlapped schedule's cycles per phase (None without overlap)."""
        return self.streams.cycles() if self.streams is not None else None

    def cancel(self) -> None:
        """Drop the queued pipelines and checks, and wait for those already running (an error or
        Ctrl-C): nothing of the run goes on after it has returned (a kernel still allocating on a
        worker thread then raced tracemalloc.stop() in the caller, and crashed CPython 3.11)."""
        futures = [f for run in self.runs.values() for f in run.futures()] + \
            ([f for _, f in self.streams.runs] if self.streams is not None else [])
        for f in futures:
            f.cancel()
        wait([f for f in futures if not f.cancelled()])
