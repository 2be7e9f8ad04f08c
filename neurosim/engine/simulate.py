"""Replay a trace on one design: per op, choose a tiling, walk its tiles over the real codes,
run the tile pipeline on simpy, and collect cycles, stalls, counters, memory traffic, energy."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from neurosim import __version__
from neurosim.config.energy_table import load_energy_table
from neurosim.config.hw import HwSpec
from neurosim.energy.actions import action_energies, static_power_mw
from neurosim.energy.breakdown import energy_breakdown, energy_by_action, leakage_pj, with_total
from neurosim.energy.categories import by_category, views
from neurosim.engine.designs import DESIGNS
from neurosim.engine.pipeline import Interval, run_arrays
from neurosim.engine.tile_walk import aggregate_tiles, walk_tiles
from neurosim.engine.tiling import choose_tiling
from neurosim.engine.widths import built_widths, resolve_widths
from neurosim.hw.dram import Dram
from neurosim.kernels.acc_tile import salient_per_token
from neurosim.results import LayerResult, Results
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
           record: list[Interval] | None = None, engine: str = "fast") -> tuple[dict, int, int, dict[str, int]]:
    """Simulate one op; returns (tiling dict, cycles, compute cycles, stalls by cause). The
    ``fast`` engine aggregates identical tile questions and runs the compiled pipeline; the
    ``reference`` engine walks every tile and runs simpy (the same results)."""
    codes = trace.tensor(op.act_codes)
    cls = DESIGNS[spec.design].op_model
    model = cls(chip, op, trace.manifest.recipe, codes, out_salient_ratio)
    tiling = choose_tiling(op.M, op.K, op.N, model.limits(), model.salient_fits, where=f"{spec.name}: {op.name}")
    stream = aggregate_tiles(model, tiling, op, codes, dram, chip) if engine == "fast" else \
        walk_tiles(model, tiling, op, codes, dram)
    model.op_end()
    cycles, pipe_stalls = run_arrays(stream.load_bits, stream.busy_cycles, stream.writeback_bits, stream.compute_cycles,
                                     dram.transfer_cycles, record=record, label=f"{op.name} ", engine=engine)
    stalls = Counter(stream.stalls)
    stalls.update(pipe_stalls)
    return tiling.to_dict(), cycles, int(stream.compute_cycles.sum()), dict(stalls)


def _input_salient_ratio(trace: Trace, name: str) -> float:
    """Salient fraction of one activation tensor (cached on the open trace across configs)."""
    key = ("input_salient_ratio", name)
    if key not in trace.derived:
        codes = trace.tensor(name)
        n = int(salient_per_token(np.ascontiguousarray(codes), trace.manifest.recipe.normal_max).sum())
        trace.derived[key] = n / codes.size
    return trace.derived[key]


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def simulate(trace: Trace, spec: HwSpec, *, check: bool = False, command: str = "",
             config_text: str = "", progress: Callable[[int, int], None] | None = None,
             timeline=None, engine: str = "fast") -> Results:
    """Replay every op of ``trace`` on ``spec``; see the module docstring. ``engine``: the tile
    pipeline's ``fast`` compiled event loop or the simpy ``reference`` (the same cycles).

    ``timeline``, if given, has a ``detail`` (``op`` or ``tile``) and an ``add(intervals)``
    method; it receives one ``op`` interval per op and, at tile detail, every pipeline interval,
    op by op, in simulated cycles from the start of the run.
    """
    from neurosim.engine.check import check_op

    table = load_energy_table(spec.technology)
    design = DESIGNS[spec.design]
    chip = design.chip(built_widths(spec, trace.ops, trace.manifest.recipe))
    static_mw = static_power_mw(spec, table, chip.logic_cells())
    pj_by_spec: dict[HwSpec, dict[str, float]] = {}
    dram = Dram(spec.dram, spec.clock_mhz)
    recipe = trace.manifest.recipe
    layers = []
    t_offset = 0
    for i, op in enumerate(trace.ops):
        op_spec = resolve_widths(spec, op, recipe)
        chip.retarget(op_spec)
        if op_spec not in pj_by_spec:
            pj_by_spec[op_spec] = action_energies(op_spec, table)
        pj = pj_by_spec[op_spec]
        before = _snapshot(chip, dram)
        rec: list[Interval] | None = [] if timeline is not None and timeline.detail == "tile" else None
        out_ratio = output_salient_ratio(trace, op)
        if out_ratio is None:  # no weights: the input's ratio stands in (docs/model.md)
            out_ratio = _input_salient_ratio(trace, op.act_codes)
        tiling, cycles, compute, stalls = run_op(trace, op, op_spec, chip, dram, out_ratio, rec, engine)
        d = _delta(before, _snapshot(chip, dram))
        energy = energy_breakdown(d.counters, pj)
        energy["leakage"] = leakage_pj(static_mw, cycles_to_s(cycles, spec.clock_mhz))
        actions = {**energy_by_action(d.counters, pj), "leakage": energy["leakage"]}
        checked = check_op(trace, op, op_spec) if check and op.weight_codes is not None else None
        layers.append(LayerResult(
            name=op.name, kind=op.kind, M=op.M, K=op.K, N=op.N, tiling=tiling, cycles=cycles,
            compute_cycles=compute, stall_cycles=stalls, utilization=compute / cycles if cycles else 0.0,
            counters=d.counters, memory=d.memory, energy_pj=with_total(energy), check=checked,
            accumulator_bits=getattr(op_spec.array, design.accumulator_key), output_salient_ratio=out_ratio,
            energy_by_action_pj=actions,
            spatial_utilization=(sum(d.counters.get(k, 0) for k in design.useful_ops)
                                 / (chip.processing_elements() * cycles) if cycles else 0.0)))
        if timeline is not None:
            timeline.add([Interval("op", op.name, t_offset, t_offset + cycles)])
            timeline.add(Interval(iv.track, iv.name, iv.start + t_offset, iv.end + t_offset) for iv in rec or ())
        t_offset += cycles
        if progress:
            progress(i + 1, len(trace.ops))
    total_cycles = sum(layer.cycles for layer in layers)
    stall_tot: Counter[str] = Counter()
    energy_tot: Counter[str] = Counter()
    action_tot: Counter[str] = Counter()
    for layer in layers:
        stall_tot.update(layer.stall_cycles)
        energy_tot.update({k: v for k, v in layer.energy_pj.items() if k != "total"})
        action_tot.update(layer.energy_by_action_pj)
    manifest_text = (trace.path / "manifest.json").read_text()
    return Results(
        design=spec.design, config_name=spec.name, clock_mhz=spec.clock_mhz, technology=spec.technology,
        total_cycles=total_cycles, compute_cycles=sum(layer.compute_cycles for layer in layers),
        stall_cycles=dict(stall_tot), latency_s=cycles_to_s(total_cycles, spec.clock_mhz),
        energy_pj=with_total(dict(energy_tot)), layers=tuple(layers), energy_by_action_pj=dict(action_tot),
        energy_by_category_pj=by_category(action_tot), energy_views_pj=views(action_tot),
        provenance={"neurosim_version": __version__, "config_sha256": _sha256_text(config_text),
                    "trace_manifest_sha256": _sha256_text(manifest_text), "trace": str(trace.path),
                    "energy_table": table.source_file, "command": command},
    )
