"""Replay a trace on one design: per op, choose a tiling, walk its tiles over the real codes,
run the tile pipeline on simpy, and collect cycles, stalls, counters, memory traffic, energy."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from neurosim import __version__
from neurosim.config.energy_table import load_energy_table
from neurosim.config.hw import HwSpec
from neurosim.energy.actions import action_energies, static_power_mw
from neurosim.energy.area import area_mm2
from neurosim.energy.breakdown import energy_breakdown, energy_by_action, leakage_pj, with_total
from neurosim.energy.categories import by_category, views
from neurosim.engine.designs import DESIGNS
from neurosim.engine.pipeline import Interval, submit_arrays
from neurosim.engine.result import LayerResult, Results
from neurosim.engine.tile_walk import TileStream, aggregate_tiles, walk_tiles
from neurosim.engine.tiling import choose_tiling
from neurosim.engine.widths import built_widths, resolve_widths
from neurosim.engine.workers import thread_pool
from neurosim.hw.dram import Dram
from neurosim.kernels.acc_tile import salient_per_token
from neurosim.trace.manifest import VectorOp
from neurosim.trace.reader import Trace
from neurosim.trace.stats import output_salient_ratio
from neurosim.units import cycles_to_s


@dataclass
class _Snapshot:
    counters: dict[str, int]
    memory: dict[str, dict[str, int]]


def _snapshot(chip, dram: Dram) -> _Snapshot:
    mem = {name: s.memory() for name, s in chip.srams.items()}
    mem["dram"] = dram.memory()
    return _Snapshot({**chip.counters(), **dram.counters()}, mem)


def _delta(a: _Snapshot, b: _Snapshot) -> _Snapshot:
    counters = {k: b.counters[k] - a.counters.get(k, 0) for k in b.counters}
    memory = {lvl: {k: v - a.memory[lvl][k] for k, v in d.items()} for lvl, d in b.memory.items()}
    onchip = sum(d["read_bits"] + d["write_bits"] for lvl, d in memory.items() if lvl != "dram")
    counters["interconnect.bits"] = onchip
    return _Snapshot(counters, memory)


def run_op(trace: Trace, op, spec: HwSpec, chip, dram: Dram, out_salient_ratio: float,
           record: list[Interval] | None = None, engine: str = "fast") -> tuple[dict, Future, int, TileStream]:
    """Simulate one op; returns (tiling dict, a future of its pipeline's (cycles, stalls by
    cause), compute cycles, its tile stream: what the pipeline ran, its in-tile stalls, and the
    DRAM bits of B loaded). The
    ``fast`` engine aggregates identical tile questions and runs the compiled pipeline on a
    worker thread; the ``reference`` engine walks every tile and runs simpy (the same results)."""
    codes = trace.tensor(op.act_codes)
    cls = DESIGNS[spec.design].op_model
    model = cls(chip, op, trace.manifest.recipe, codes, out_salient_ratio)
    tiling = choose_tiling(op.M, op.K, op.N, model.limits(), model.salient_fits, where=f"{spec.name}: {op.name}")
    stream = aggregate_tiles(model, tiling, op, codes, dram, chip) if engine == "fast" else \
        walk_tiles(model, tiling, op, codes, dram)
    model.op_end()
    pipe = submit_arrays(stream.load_bits, stream.busy_cycles, stream.writeback_bits, stream.compute_cycles,
                         dram.transfer_cycles, record=record, label=f"{op.name} ", engine=engine,
                         stalls_of=stream.tile_stalls)
    return tiling.to_dict(), pipe, int(stream.compute_cycles.sum()), stream


def _input_salient_ratio(trace: Trace, name: str) -> float:
    """Salient fraction of one activation tensor (cached on the open trace across configs)."""
    def ratio() -> float:
        codes = trace.tensor(name)
        return int(salient_per_token(np.ascontiguousarray(codes), trace.manifest.recipe.normal_max).sum()) / codes.size

    return trace.derived.get_or_make(("input_salient_ratio", name), ratio)


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _times(d: _Snapshot, n: int) -> _Snapshot:
    """``n`` identical instances of an op's counts."""
    if n == 1:
        return d
    return _Snapshot({k: v * n for k, v in d.counters.items()},
                     {lvl: {k: v * n for k, v in m.items()} for lvl, m in d.memory.items()})


def _vector_op(v: VectorOp, chip, dram: Dram) -> tuple[int, dict[str, int], int, tuple]:
    """Run one vector op once: (cycles, stalls by cause, KV-cache bits written, its pipeline block
    (load bits, busy cycles, write-back bits))."""
    if v.op == "kv_write":  # the new tokens' K and V codes go to the DRAM-resident cache
        bits = v.tokens * v.width * v.bits
        dram.write(bits)
        cycles = dram.transfer_cycles(bits)
        return cycles, {"kv_write": cycles}, dram.burst_bits(bits), (0, 0, dram.burst_bits(bits))
    cycles = chip.vector.run(v.op, v.tokens, v.width)
    return cycles, {"vector_unit": cycles}, 0, (0, cycles, 0)


class _PhaseStreams:
    """The tiles of the prefill and of each decode step in schedule order, for the overlapped
    makespan (one pipeline per step: a step's ops overlap each other, steps follow one another).
    A chunk of ops is handed to a worker thread as soon as it is full, while later ops run."""

    def __init__(self, dram: Dram, engine: str, window_tiles: int):
        #: consecutive ops run in one pipeline up to this many tiles (``schedule.window_tiles``)
        self.dram, self.engine, self.window_tiles = dram, engine, window_tiles
        self.open: dict[tuple[str, int], list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        self.runs: list[tuple[str, Future]] = []

    def add(self, phase: str, step: int, load: np.ndarray, busy: np.ndarray, wb: np.ndarray, times: int) -> None:
        part = tuple(np.tile(a, times) for a in (load, busy, wb))
        chunk = self.open.setdefault((phase, step), [])
        if chunk and sum(len(p[0]) for p in chunk) + len(part[0]) > self.window_tiles:
            self._submit(phase, chunk)
            chunk = self.open[phase, step] = []
        chunk.append(part)

    def _submit(self, phase: str, chunk: list) -> None:
        load, busy, wb = (np.concatenate([p[i] for p in chunk]) for i in range(3))
        self.runs.append((phase, submit_arrays(load, busy, wb, busy, self.dram.transfer_cycles, engine=self.engine)))

    def cycles(self) -> dict[str, int]:
        """Per phase: the sum over its steps (and chunks of ops) of one pipeline over their tiles."""
        for (phase, _), chunk in self.open.items():
            self._submit(phase, chunk)
        self.open.clear()
        out: dict[str, int] = {}
        for phase, run in self.runs:
            out[phase] = out.get(phase, 0) + run.result()[0]
        return out


def _built_chip(spec: HwSpec, trace: Trace | None):
    """(spec with ``auto`` widths resolved to the widest ``trace`` needs, its chip); a ValueError
    for ``auto`` widths without a trace."""
    design = DESIGNS[spec.design]
    if getattr(spec.array, design.accumulator_key) == "auto":
        if trace is None:
            raise ValueError(f"array.{design.accumulator_key} is auto: give a trace to resolve it")
        spec = built_widths(spec, trace.ops, trace.manifest.recipe)
    chip = design.chip(spec)
    if trace is not None:
        chip.vector_used = bool(trace.manifest.vector_ops)
    return spec, chip


def effective_energy_table(spec: HwSpec, trace: Trace | None = None) -> tuple[dict[str, float], float]:
    """(pJ per counted action, static power in mW) of ``spec`` as built: after bitwidth and SRAM
    scaling, ``auto`` widths resolved to the widest ``trace`` needs (a ValueError without one)."""
    built, chip = _built_chip(spec, trace)
    table = load_energy_table(spec.technology)
    return action_energies(built, table), static_power_mw(built, table, chip.logic_cells())


def chip_area_mm2(spec: HwSpec, trace: Trace | None = None) -> dict[str, float] | None:
    """Area of ``spec`` as built (:func:`neurosim.energy.area.area_mm2`); the vector unit counts
    when ``trace`` has vector ops. None when the technology's table has no area entries."""
    built, chip = _built_chip(spec, trace)
    return area_mm2(built, load_energy_table(spec.technology), chip.logic_cells_by_component())


def simulate(trace: Trace, spec: HwSpec, *, check: bool = False, command: str = "",
             config_text: str = "", progress: Callable[[int, int], None] | None = None,
             timeline=None, engine: str = "fast") -> Results:
    """Replay every op of ``trace`` on ``spec``; see the module docstring. ``engine``: the tile
    pipeline's ``fast`` compiled event loop or the simpy ``reference`` (the same cycles).

    Vector ops (trace format v4) run on the vector unit before the GEMM op they precede; an op
    with ``repeat: n`` counts n times; an op whose tensors, shape and widths equal an earlier
    op's (decode steps sharing a code model) reuses that op's counts.

    ``timeline``, if given, has a ``detail`` (``op`` or ``tile``) and an ``add(intervals)``
    method; it receives one ``op`` interval per op and, at tile detail, every pipeline interval,
    op by op, in simulated cycles from the start of the run.
    """
    from neurosim.engine.check import check_op

    table = load_energy_table(spec.technology)
    design = DESIGNS[spec.design]
    built = built_widths(spec, trace.ops, trace.manifest.recipe)
    chip = design.chip(built)
    chip.vector_used = bool(trace.manifest.vector_ops)
    static_mw = static_power_mw(spec, table, chip.logic_cells())
    area = area_mm2(built, table, chip.logic_cells_by_component())  # before ops retarget the chip
    pj_by_spec: dict[HwSpec, dict[str, float]] = {}
    dram = Dram(spec.dram, spec.clock_mhz)
    recipe = trace.manifest.recipe
    vector_at: dict[int, list[VectorOp]] = {}
    for v in trace.manifest.vector_ops:
        vector_at.setdefault(v.position, []).append(v)
    total_items = len(trace.ops) + len(trace.manifest.vector_ops)
    done_items = 0
    cache: dict[tuple, tuple] = {}
    streams = _PhaseStreams(dram, engine, spec.schedule.window_tiles) if spec.schedule.overlap_ops else None
    # each op's layer result, made once its pipeline (on a worker thread) has its cycles
    pending: list[Callable[[], tuple[LayerResult, list[Interval] | None]]] = []
    layers = []
    t_offset = 0

    def add_layer(layer: LayerResult, rec=None) -> None:
        nonlocal t_offset
        layers.append(layer)
        if timeline is not None:
            timeline.add([Interval("op", layer.name, t_offset, t_offset + layer.cycles)])
            timeline.add(Interval(iv.track, iv.name, iv.start + t_offset, iv.end + t_offset) for iv in rec or ())
        t_offset += layer.cycles

    def done_one() -> None:
        nonlocal done_items
        done_items += 1
        if progress:
            progress(done_items, total_items)

    def energies(d: _Snapshot, pj: dict[str, float], cycles: int) -> tuple[dict, dict]:
        energy = energy_breakdown(d.counters, pj)
        energy["leakage"] = leakage_pj(static_mw, cycles_to_s(cycles, spec.clock_mhz))
        return with_total(energy), {**energy_by_action(d.counters, pj), "leakage": energy["leakage"]}

    pj_by_spec[built] = action_energies(built, table)  # vector ops run on the chip as built
    try:
        for i in range(len(trace.ops) + 1):
            for v in vector_at.get(i, ()):
                pj = pj_by_spec[built]
                before = _snapshot(chip, dram)
                cycles, stalls, kv_bits, block = _vector_op(v, chip, dram)
                if streams is not None:
                    streams.add(v.phase, v.step, *(np.array([b], np.int64) for b in block), v.repeat)
                d = _times(_delta(before, _snapshot(chip, dram)), v.repeat)
                cycles *= v.repeat
                energy, actions = energies(d, pj, cycles)
                layer = LayerResult(
                    name=v.name, kind="vector", M=v.tokens, K=v.width, N=v.width, tiling={}, cycles=cycles,
                    compute_cycles=0, stall_cycles={k: c * v.repeat for k, c in stalls.items()}, utilization=0.0,
                    counters=d.counters, memory=d.memory, energy_pj=energy, energy_by_action_pj=actions,
                    spatial_utilization=0.0, phase=v.phase, step=v.step, repeat=v.repeat, vector_op=v.op,
                    kv_write_bits=kv_bits * v.repeat)
                pending.append(lambda layer=layer: (layer, None))
                done_one()
            if i == len(trace.ops):
                break
            op = trace.ops[i]
            op_spec = resolve_widths(spec, op, recipe)
            chip.retarget(op_spec)
            if op_spec not in pj_by_spec:
                pj_by_spec[op_spec] = action_energies(op_spec, table)
            pj = pj_by_spec[op_spec]
            rec: list[Interval] | None = [] if timeline is not None and timeline.detail == "tile" else None
            key = (op.kind, op.M, op.K, op.N, op.weight_bits, op.b_source, *op.tensor_refs().items(), op_spec)
            if key not in cache or rec is not None:
                before = _snapshot(chip, dram)
                out_ratio = output_salient_ratio(trace, op)
                if out_ratio is None:  # no weights: the input's ratio stands in (docs/model.md)
                    out_ratio = _input_salient_ratio(trace, op.act_codes)
                tiling, pipe, compute, stream = run_op(trace, op, op_spec, chip, dram, out_ratio, rec, engine)
                d = _delta(before, _snapshot(chip, dram))
                # the check is pure: it runs on a worker thread beside the next ops
                checked = thread_pool().submit(check_op, trace, op, op_spec) if check and op.weight_codes is not None \
                    else None
                cache[key] = (tiling, pipe, compute, stream, d, out_ratio, checked)
            tiling, pipe, compute, stream, d, out_ratio, checked = cache[key]
            n = op.repeat
            if streams is not None:
                streams.add(op.phase, op.step, stream.load_bits, stream.busy_cycles, stream.writeback_bits, n)

            def op_layer(op=op, op_spec=op_spec, pj=pj, tiling=tiling, pipe=pipe, compute=compute, stream=stream,
                         d=_times(d, n), out_ratio=out_ratio, checked=checked, n=n, rec=rec,
                         pes=chip.processing_elements()) -> tuple[LayerResult, list[Interval] | None]:
                cycles, pipe_stalls = pipe.result()
                if checked is not None:
                    checked = checked.result()
                stalls = Counter(stream.stalls)
                stalls.update(pipe_stalls)
                energy, actions = energies(d, pj, cycles * n)
                return LayerResult(
                    name=op.name, kind=op.kind, M=op.M, K=op.K, N=op.N, tiling=tiling, cycles=cycles * n,
                    compute_cycles=compute * n, stall_cycles={k: c * n for k, c in stalls.items()},
                    utilization=compute / cycles if cycles else 0.0,
                    counters=d.counters, memory=d.memory, energy_pj=energy, check=checked,
                    accumulator_bits=getattr(op_spec.array, design.accumulator_key), output_salient_ratio=out_ratio,
                    energy_by_action_pj=actions,
                    spatial_utilization=(sum(d.counters.get(k, 0) for k in design.useful_ops)
                                         / (pes * cycles * n) if cycles else 0.0),
                    phase=op.phase, step=op.step, repeat=n, kv_read_bits=stream.weight_bits * n if op.kv else 0), rec
            pending.append(op_layer)
            done_one()
        for make in pending:
            add_layer(*make())
    except BaseException:  # an error or Ctrl-C: drop the queued pipelines and checks
        for f in [f for entry in cache.values() for f in (entry[1], entry[6]) if f is not None] + \
                 ([f for _, f in streams.runs] if streams is not None else []):
            f.cancel()
        raise
    total_cycles = sum(layer.cycles for layer in layers)
    stall_tot: Counter[str] = Counter()
    energy_tot: Counter[str] = Counter()
    action_tot: Counter[str] = Counter()
    for layer in layers:
        stall_tot.update(layer.stall_cycles)
        energy_tot.update({k: v for k, v in layer.energy_pj.items() if k != "total"})
        action_tot.update(layer.energy_by_action_pj)
    manifest_text = (trace.path / "manifest.json").read_text()
    phases, inference = phase_summary(layers, trace, spec.clock_mhz,
                                      streams.cycles() if streams is not None else None)
    schedule = sum(p["cycles"] for p in phases.values())
    return Results(
        design=spec.design, config_name=spec.name, clock_mhz=spec.clock_mhz, technology=spec.technology,
        total_cycles=total_cycles, compute_cycles=sum(layer.compute_cycles for layer in layers),
        stall_cycles=dict(stall_tot), latency_s=cycles_to_s(total_cycles, spec.clock_mhz),
        energy_pj=with_total(dict(energy_tot)), layers=tuple(layers), energy_by_action_pj=dict(action_tot),
        energy_by_category_pj=by_category(action_tot), energy_views_pj=views(action_tot),
        provenance={"neurosim_version": __version__, "config_sha256": _sha256_text(config_text),
                    "trace_manifest_sha256": _sha256_text(manifest_text), "trace": str(trace.path),
                    "energy_table": table.source_file, "command": command},
        phases=phases, inference=inference, energy_table_pj=dict(pj_by_spec[built]), static_power_mw=static_mw,
        area_mm2=area, schedule_cycles=schedule, schedule_latency_s=cycles_to_s(schedule, spec.clock_mhz),
    )


def phase_summary(layers: list[LayerResult], trace: Trace, clock_mhz: float,
                  overlapped: dict[str, int] | None = None) -> tuple[dict, dict]:
    """Per phase (prefill, decode): cycles (``overlapped`` when the schedule overlaps ops, else the
    sum of the ops'), seconds, energy, tokens, ops; and the whole-inference figures: time to first
    token (the prefill), decode tokens per second, energy per token of each phase, KV-cache bits
    read and written (DRAM) and its final footprint. Leakage stays charged over each op's own time
    (an upper bound when ops overlap)."""
    phases: dict[str, dict[str, float]] = {}
    for layer in layers:
        p = phases.setdefault(layer.phase, {"cycles": 0, "serial_cycles": 0, "energy_pj": 0.0, "ops": 0,
                                            "steps": set()})
        p["serial_cycles"] += layer.cycles
        p["energy_pj"] += layer.energy_pj["total"]
        p["ops"] += layer.repeat
        p["steps"].add(layer.step)
    for name, p in phases.items():
        # one pipeline over the prefill (and over each decode step) lets the next op's loads run
        # ahead; a greedy FIFO channel can still lose to fencing the ops (a prefetch queued before
        # a write-back), and the controller would then fence: never more than the ops in a row
        p["cycles"] = min(overlapped[name], p["serial_cycles"]) if overlapped else p["serial_cycles"]
        p["seconds"] = cycles_to_s(p["cycles"], clock_mhz)
        p["tokens"] = trace.manifest.producer.tokens if name == "prefill" else len(p.pop("steps"))
        p.pop("steps", None)
        p["j_per_token"] = p["energy_pj"] * 1e-12 / p["tokens"]
    out = {"ttft_s": phases["prefill"]["seconds"] if "prefill" in phases else 0.0,
           "kv_read_bits": sum(layer.kv_read_bits for layer in layers),
           "kv_write_bits": sum(layer.kv_write_bits for layer in layers)}
    out["kv_footprint_bits"] = out["kv_write_bits"]  # the cache only grows: all it ever held
    if "decode" in phases:
        d = phases["decode"]
        out["decode_tokens_per_s"] = d["tokens"] / d["seconds"] if d["seconds"] else 0.0
        out["decode_j_per_token"] = d["j_per_token"]
    if "prefill" in phases:
        out["prefill_j_per_token"] = phases["prefill"]["j_per_token"]
    return phases, out
