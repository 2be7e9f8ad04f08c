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

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np
import simpy

from neurosim.engine.workers import thread_pool
from neurosim.kernels.tile_pipeline import pipeline_cycles

ENGINES = ("fast", "reference")


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


def run_arrays(load_bits: np.ndarray, busy_cycles: np.ndarray, writeback_bits: np.ndarray,
               compute_cycles: np.ndarray, dram_cycles: Callable[[int], int], buffers: int = 2,
               record: list[Interval] | None = None, label: str = "", engine: str = "fast",
               stalls_of: Callable[[int], dict[str, int]] | None = None) -> tuple[int, dict[str, int]]:
    """:func:`run_pipeline` of tiles given as per-tile arrays: the compiled loop for ``fast``
    without ``record``, else the simpy reference (``stalls_of(t)``: tile t's in-tile stalls by
    cause, for the timeline)."""
    if engine == "fast" and record is None:
        cycles, stall_load, stall_wb = pipeline_cycles(
            _per_tile_cycles(load_bits, dram_cycles), busy_cycles, _per_tile_cycles(writeback_bits, dram_cycles),
            load_bits > 0, writeback_bits > 0, buffers)
        return int(cycles), {"dram_load": int(stall_load), "output_writeback": int(stall_wb)}
    blocks = [Block(int(a), int(b), int(c), int(d), tuple((stalls_of(t) if stalls_of else {}).items()))
              for t, (a, b, c, d) in enumerate(zip(load_bits, busy_cycles, writeback_bits, compute_cycles, strict=True))]
    return run_pipeline(blocks, dram_cycles, buffers, record, label, engine="reference")


def submit_arrays(load_bits: np.ndarray, busy_cycles: np.ndarray, writeback_bits: np.ndarray,
                  compute_cycles: np.ndarray, dram_cycles: Callable[[int], int], buffers: int = 2,
                  record: list[Interval] | None = None, label: str = "", engine: str = "fast",
                  stalls_of: Callable[[int], dict[str, int]] | None = None) -> Future:
    """:func:`run_arrays` as a future: on a worker thread when it runs the compiled loop (which
    releases the GIL, so the caller goes on with the next op meanwhile), else run now."""
    args = (load_bits, busy_cycles, writeback_bits, compute_cycles, dram_cycles, buffers, record, label, engine,
            stalls_of)
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
    env = simpy.Environment()
    dram = simpy.Resource(env, capacity=1)
    n = len(blocks)
    loaded = [env.event() for _ in range(n)]
    computed = [env.event() for _ in range(n)]
    stalls = {"dram_load": 0, "output_writeback": 0}
    drained: list[simpy.Event] = []

    def transfer(kind: str, i: int, bits: int):
        with dram.request() as req:
            yield req
            start = env.now
            yield env.timeout(dram_cycles(bits))
            if record is not None:
                record.append(Interval("dram", f"{label}{kind} tile {i}", start, env.now))

    def loader():
        for i, b in enumerate(blocks):
            if i >= buffers:
                yield computed[i - buffers]
            if b.load_bits:
                yield env.process(transfer("load", i, b.load_bits))
            loaded[i].succeed()

    def array():
        for i, b in enumerate(blocks):
            t = env.now
            if not loaded[i].triggered:
                yield loaded[i]
            stalls["dram_load"] += env.now - t
            if record is not None and env.now > t:
                record.append(Interval("array_wait", f"{label}wait: dram_load", t, env.now))
            if b.writeback_bits and len(drained) >= buffers and not drained[-buffers].triggered:
                t = env.now
                yield drained[-buffers]
                stalls["output_writeback"] += env.now - t
                if record is not None and env.now > t:
                    record.append(Interval("array_wait", f"{label}wait: output_writeback", t, env.now))
            start = env.now
            if b.busy_cycles:
                yield env.timeout(b.busy_cycles)
            if record is not None:
                mid = start + min(b.compute_cycles, b.busy_cycles)
                record.append(Interval("array", f"{label}compute tile {i}", start, mid))
                for cause, cycles in b.stalls:  # in-tile stalls, one track per SRAM (or unit)
                    if cycles > 0 and mid < env.now:
                        end = min(env.now, mid + cycles)
                        record.append(Interval(f"stall: {cause}", f"{label}tile {i}", mid, end))
                        mid = end
                if mid < env.now:
                    record.append(Interval("array_sram_stall", f"{label}in-tile stall {i}", mid, env.now))
            computed[i].succeed()
            if b.writeback_bits:
                drained.append(env.process(transfer("writeback", i, b.writeback_bits)))

    env.process(loader())
    done = env.process(array())
    env.run(until=done)
    t = env.now
    env.run()
    stalls["output_writeback"] += env.now - t
    if record is not None and env.now > t:
        record.append(Interval("array_wait", f"{label}wait: final output_writeback", t, env.now))
    return env.now, stalls
