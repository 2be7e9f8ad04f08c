"""The event-driven pipeline of one op, in integer cycles.

Three processes share one DRAM channel (a simpy Resource): a loader brings each tile's inputs
(at most ``buffers`` tiles ahead of the array: double buffering), the array computes tiles in
order, and a writer drains each finished output tile (an output tile may only start once the
output slot it reuses has been drained). One event per tile transfer or tile compute. Waiting
shows up as stall cycles: ``dram_load`` (array idle, inputs not there yet) and
``output_writeback`` (output slot not drained, or the final drain).

The simpy model here is the reference (``engine="reference"``, and every tile-level timeline).
The default ``fast`` engine runs the same event machinery compiled
(:mod:`neurosim.kernels.tile_pipeline`): the same cycles and stalls, tie for tie.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np
import simpy

from neurosim.engine.tile_runs import repeats
from neurosim.engine.workers import thread_pool
from neurosim.kernels.pipeline_period import snapshot_size
from neurosim.kernels.tile_pipeline import new_workspace, no_records, no_templates, pipeline_cycles

ENGINES = ("fast", "reference")

#: Pipelines of up to this many tiles run in their thread's own scratch arrays, kept between
#: calls (about 55 MB, touched as far as the largest pipeline needs): a fresh allocation per op
#: page-faulted its memory in again (10-15 % of the kernel's time on 10,000-tile pipelines).
REUSED_TILES = 1 << 16
_scratch = threading.local()


def _workspace(n: int) -> tuple:
    """The compiled pipeline's scratch arrays for ``n`` tiles (see :data:`REUSED_TILES`)."""
    if n > REUSED_TILES:
        return new_workspace(n)
    if not hasattr(_scratch, "work"):
        _scratch.work = new_workspace(REUSED_TILES)
    return _scratch.work


@dataclass(frozen=True)
class Block:
    """One tile as the pipeline sees it."""

    load_bits: int
    busy_cycles: int  # array time: compute plus in-tile SRAM stalls
    writeback_bits: int
    compute_cycles: int = 0  # the compute part of busy_cycles (for timelines)
    stalls: tuple[tuple[str, int], ...] = ()  # the rest of busy_cycles by cause (for timelines)


@dataclass(frozen=True)
class Interval:
    """A busy interval on one resource track (for timelines)."""

    track: str
    name: str
    start: int
    end: int


def _per_tile_cycles(bits: np.ndarray, dram_cycles: Callable[[int], int]) -> np.ndarray:
    """``dram_cycles`` of each entry (evaluated once per distinct size)."""
    sizes, where = np.unique(bits, return_inverse=True)
    return np.array([dram_cycles(int(b)) for b in sizes], dtype=np.int64)[where]


#: Tiles of an op's own pipeline at which its state is recorded (and near its end, where the
#: phase's pipeline jumps to once its state matches one of these: the op's middle is then the
#: same in both, shifted).
RECORD_AT = (16, 32, 64, 128, 256, 512)


def new_records(n: int, buffers: int) -> tuple:
    """``rec`` of the compiled pipeline for an op of ``n`` tiles: :data:`RECORD_AT` and the tile
    ``buffers + 4`` before the end (the loader has not reached the end there), each with room
    for its encoded state (none in short ops)."""
    last = n - buffers - 4
    at = np.array([j for j in RECORD_AT if buffers + 3 <= j < last - buffers - 3] + [last], np.int64)
    if len(at) < 2:
        at = at[:0]
    return at, np.empty((len(at), snapshot_size(buffers)), np.int64), np.empty((len(at), 13), np.int64), \
        np.full(len(at), -1, np.int64)


def templates(recorded: list[tuple[int, tuple]]) -> tuple:
    """``tpl`` of the compiled pipeline from ops' records (``(first tile in this pipeline,
    record)``, in order): from each recorded tile but the last, a jump to the last."""
    rows = [(start + at[i], start + at[-1], start, enc[i], size[i], cnt[i], enc[-1], size[-1], cnt[-1])
            for start, (at, enc, cnt, size) in recorded for i in range(len(at) - 1)]
    if not rows:
        return no_templates()
    cols = list(zip(*rows, strict=True))
    return tuple(np.array(c, np.int64) if np.ndim(c[0]) == 0 else _stacked(c) for c in cols)


def _stacked(rows: tuple[np.ndarray, ...]) -> np.ndarray:
    """The rows one under another, zero-padded to the longest (an encoding's length is kept
    beside it)."""
    out = np.zeros((len(rows), max(len(r) for r in rows)), np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def _trimmed(rec: tuple) -> tuple:
    """A record kept for the phase with its encodings cut to the longest (:func:`new_records`
    leaves room for the largest state; a real one is a small part of it)."""
    at, enc, cnt, size = rec
    return at, enc[:, :max(int(size.max(initial=0)), 1)].copy(), cnt, size


def run_arrays(load_bits: np.ndarray, busy_cycles: np.ndarray, writeback_bits: np.ndarray,
               compute_cycles: np.ndarray, dram_cycles: Callable[[int], int], buffers: int = 2,
               record: list[Interval] | None = None, label: str = "", engine: str = "fast",
               stalls_of: Callable[[int], dict[str, int]] | None = None,
               runs: np.ndarray | None = None, states: bool = False, templates: tuple | None = None,
               cycles: tuple[np.ndarray, np.ndarray] | None = None) -> tuple:
    """:func:`run_pipeline` of tiles given as per-tile arrays: ``(cycles, stalls by cause)``,
    from the compiled loop for ``fast`` without ``record``, else from the simpy reference
    (``stalls_of(t)``: tile t's in-tile stalls by cause, for the timeline). Hints the compiled
    loop may use (the same results; the reference needs none): ``runs``, rows ``(start, L, R)``
    of tiles that repeat (``R`` copies of ``L`` tiles), fast-forwarded once its state repeats,
    as are the repeats it finds itself (:func:`~neurosim.engine.tile_runs.repeats`);
    ``templates`` (:func:`templates`), other pipelines' recorded states over the same tiles,
    jumped along once its state matches. ``states``: also return the states recorded at
    :func:`new_records`'s tiles (None from the reference), the op's template for its phase;
    ``cycles``: the loads' and write-backs' ``dram_cycles``, when the caller has them."""
    if engine == "fast" and record is None:
        rec = new_records(len(busy_cycles), buffers) if states else no_records()
        load_cycles, wb_cycles = cycles or (_per_tile_cycles(b, dram_cycles) for b in (load_bits, writeback_bits))
        total, stall_load, stall_wb, _ = pipeline_cycles(
            load_cycles, busy_cycles, wb_cycles, load_bits > 0, writeback_bits > 0, buffers,
            _workspace(len(busy_cycles)), repeats(load_bits, busy_cycles, writeback_bits, runs), rec,
            no_templates() if templates is None else templates)
        out = int(total), {"dram_load": int(stall_load), "output_writeback": int(stall_wb)}
        return (*out, _trimmed(rec)) if states else out
    blocks = [Block(int(a), int(b), int(c), int(d), tuple((stalls_of(t) if stalls_of else {}).items()))
              for t, (a, b, c, d) in enumerate(zip(load_bits, busy_cycles, writeback_bits, compute_cycles, strict=True))]
    out = run_pipeline(blocks, dram_cycles, buffers, record, label, engine="reference")
    return (*out, None) if states else out


def run_with_templates(load_bits: np.ndarray, busy_cycles: np.ndarray, writeback_bits: np.ndarray,
                       dram_cycles: Callable[[int], int], runs: np.ndarray, recorded: list[tuple[int, Future]],
                       parts: list[tuple[np.ndarray, np.ndarray, int]] | None = None) -> tuple:
    """The compiled :func:`run_arrays` of a phase's tiles with the templates its ops recorded
    (``(first tile here, done future of the op's run_arrays(..., states=True))``); ``parts``:
    the transfer cycles of its ops' tiles as (loads, write-backs, instances), when known."""
    found = [(start, rec) for start, f in recorded if (rec := f.result()[2]) is not None]
    cycles = None if parts is None else \
        tuple(np.concatenate([np.tile(p[i], p[2]) for p in parts]) for i in range(2))
    return run_arrays(load_bits, busy_cycles, writeback_bits, busy_cycles, dram_cycles, runs=runs,
                      templates=templates(found), cycles=cycles)


def submit_arrays(load_bits: np.ndarray, busy_cycles: np.ndarray, writeback_bits: np.ndarray,
                  compute_cycles: np.ndarray, dram_cycles: Callable[[int], int], buffers: int = 2,
                  record: list[Interval] | None = None, label: str = "", engine: str = "fast",
                  stalls_of: Callable[[int], dict[str, int]] | None = None, runs: np.ndarray | None = None,
                  states: bool = False) -> Future:
    """:func:`run_arrays` as a future: on a worker thread when it runs the compiled loop (which
    releases the GIL, so the caller goes on with the next op meanwhile), else run now."""
    args = (load_bits, busy_cycles, writeback_bits, compute_cycles, dram_cycles, buffers, record, label, engine,
            stalls_of, runs, states)
    if engine == "fast" and record is None:
        return thread_pool().submit(run_arrays, *args)
    done: Future = Future()
    done.set_result(run_arrays(*args))
    return done


def run_pipeline(blocks: list[Block], dram_cycles: Callable[[int], int], buffers: int = 2,
                 record: list[Interval] | None = None, label: str = "",
                 engine: str = "fast") -> tuple[int, dict[str, int]]:
    """Simulate the tiles; returns ``(cycles, {"dram_load": c, "output_writeback": c})``.
    ``record`` (tile intervals for a timeline) runs the simpy reference."""
    if engine == "fast" and record is None:
        arrays = [np.fromiter((getattr(b, f) for b in blocks), np.int64, len(blocks))
                  for f in ("load_bits", "busy_cycles", "writeback_bits", "compute_cycles")]
        return run_arrays(*arrays, dram_cycles, buffers)
    return _SimpyPipeline(blocks, dram_cycles, buffers, record, label).run()


class _SimpyPipeline:
    """The reference model: a loader, the array and one writer per output tile as simpy processes
    sharing one DRAM channel (see the module docstring)."""

    def __init__(self, blocks: list[Block], dram_cycles: Callable[[int], int], buffers: int,
                 record: list[Interval] | None, label: str):
        self.blocks, self.dram_cycles, self.buffers, self.record, self.label = blocks, dram_cycles, buffers, record, label
        self.env = simpy.Environment()
        self.dram = simpy.Resource(self.env, capacity=1)
        self.loaded = [self.env.event() for _ in blocks]
        self.computed = [self.env.event() for _ in blocks]
        self.drained: list[simpy.Event] = []
        self.stalls = {"dram_load": 0, "output_writeback": 0}

    def _note(self, track: str, name: str, start: int, end: int) -> None:
        if self.record is not None and end > start:
            self.record.append(Interval(track, f"{self.label}{name}", start, end))

    def transfer(self, kind: str, i: int, bits: int):
        with self.dram.request() as req:
            yield req
            start = self.env.now
            yield self.env.timeout(self.dram_cycles(bits))
            if self.record is not None:
                self.record.append(Interval("dram", f"{self.label}{kind} tile {i}", start, self.env.now))

    def loader(self):
        for i, b in enumerate(self.blocks):
            if i >= self.buffers:
                yield self.computed[i - self.buffers]
            if b.load_bits:
                yield self.env.process(self.transfer("load", i, b.load_bits))
            self.loaded[i].succeed()

    def array(self):
        env, buffers = self.env, self.buffers
        for i, b in enumerate(self.blocks):
            t = env.now
            if not self.loaded[i].triggered:
                yield self.loaded[i]
            self.stalls["dram_load"] += env.now - t
            self._note("array_wait", "wait: dram_load", t, env.now)
            if b.writeback_bits and len(self.drained) >= buffers and not self.drained[-buffers].triggered:
                t = env.now
                yield self.drained[-buffers]
                self.stalls["output_writeback"] += env.now - t
                self._note("array_wait", "wait: output_writeback", t, env.now)
            start = env.now
            if b.busy_cycles:
                yield env.timeout(b.busy_cycles)
            if self.record is not None:
                self._record_compute(i, b, start)
            self.computed[i].succeed()
            if b.writeback_bits:
                self.drained.append(env.process(self.transfer("writeback", i, b.writeback_bits)))

    def _record_compute(self, i: int, b: Block, start: int) -> None:
        """Tile ``i``'s compute interval, then its in-tile stalls, one track per SRAM (or unit)."""
        now = self.env.now
        mid = start + min(b.compute_cycles, b.busy_cycles)
        self.record.append(Interval("array", f"{self.label}compute tile {i}", start, mid))
        for cause, cycles in b.stalls:
            if cycles > 0 and mid < now:
                end = min(now, mid + cycles)
                self.record.append(Interval(f"stall: {cause}", f"{self.label}tile {i}", mid, end))
                mid = end
        self._note("array_sram_stall", f"in-tile stall {i}", mid, now)

    def run(self) -> tuple[int, dict[str, int]]:
        self.env.process(self.loader())
        done = self.env.process(self.array())
        self.env.run(until=done)
        t = self.env.now
        self.env.run()
        self.stalls["output_writeback"] += self.env.now - t
        self._note("array_wait", "wait: final output_writeback", t, self.env.now)
        return self.env.now, self.stalls
