"""Replay a trace on one design: the ops in schedule order on one core (vector ops before the GEMM
op they precede), then the run's totals, phases and provenance (:class:`~neurosim.result_types.Results`).
Each op's work is :class:`~neurosim.engine.replay.CoreReplay`'s."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator

from neurosim import __version__
from neurosim.config.energy_table import load_energy_table
from neurosim.config.hw import HwSpec
from neurosim.energy.actions import static_power_mw
from neurosim.energy.area import area_mm2
from neurosim.energy.breakdown import with_total
from neurosim.energy.categories import by_category, views
from neurosim.engine.designs import DESIGNS, design_energies
from neurosim.engine.pipeline import Interval
from neurosim.engine.replay import CoreReplay, PendingLayer
from neurosim.engine.widths import built_widths
from neurosim.result_types import LayerResult, Results
from neurosim.trace.manifest import Op, VectorOp
from neurosim.trace.reader import Trace
from neurosim.units import cycles_to_s


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def schedule(trace: Trace) -> Iterator[Op | VectorOp]:
    """The trace's ops in the order they run: each GEMM op after the vector ops placed before it."""
    vector_at: dict[int, list[VectorOp]] = {}
    for v in trace.manifest.vector_ops:
        vector_at.setdefault(v.position, []).append(v)
    for i, op in enumerate(trace.ops):
        yield from vector_at.get(i, ())
        yield op
    yield from vector_at.get(len(trace.ops), ())


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
    return design_energies(built, table), static_power_mw(built, table, chip.logic_cells())


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
    core = CoreReplay(trace, spec, check=check, engine=engine,
                      tile_timeline=timeline is not None and timeline.detail == "tile")
    total = len(trace.ops) + len(trace.manifest.vector_ops)
    pending: list[PendingLayer] = []  # each op's layer result, made once its pipeline has its cycles
    try:
        for item in schedule(trace):
            pending.append(core.vector(item) if isinstance(item, VectorOp) else core.gemm(item))
            if progress:
                progress(len(pending), total)
        layers = _collect(pending, timeline)
    except BaseException:  # an error or Ctrl-C: drop the queued pipelines and checks
        core.cancel()
        raise
    return _results(core, layers, command, config_text)


def _collect(pending: list[PendingLayer], timeline) -> list[LayerResult]:
    """The layer results in order; the timeline gets each op's interval (and its tile intervals)."""
    layers, t_offset = [], 0
    for make in pending:
        layer, rec = make()
        layers.append(layer)
        if timeline is not None:
            timeline.add([Interval("op", layer.name, t_offset, t_offset + layer.cycles)])
            timeline.add(Interval(iv.track, iv.name, iv.start + t_offset, iv.end + t_offset) for iv in rec or ())
        t_offset += layer.cycles
    return layers


def _results(core: CoreReplay, layers: list[LayerResult], command: str, config_text: str) -> Results:
    """The run's totals, phases and provenance from its layer results."""
    spec, trace = core.spec, core.trace
    total_cycles = sum(layer.cycles for layer in layers)
    stall_tot: Counter[str] = Counter()
    energy_tot: Counter[str] = Counter()
    action_tot: Counter[str] = Counter()
    for layer in layers:
        stall_tot.update(layer.stall_cycles)
        energy_tot.update({k: v for k, v in layer.energy_pj.items() if k != "total"})
        action_tot.update(layer.energy_by_action_pj)
    manifest_text = (trace.path / "manifest.json").read_text()
    phases, inference = phase_summary(layers, trace, spec.clock_mhz, core.phase_cycles())
    scheduled = sum(p["cycles"] for p in phases.values())
    return Results(
        design=spec.design, config_name=spec.name, clock_mhz=spec.clock_mhz, technology=spec.technology,
        total_cycles=total_cycles, compute_cycles=sum(layer.compute_cycles for layer in layers),
        stall_cycles=dict(stall_tot), latency_s=cycles_to_s(total_cycles, spec.clock_mhz),
        energy_pj=with_total(dict(energy_tot)), layers=tuple(layers), energy_by_action_pj=dict(action_tot),
        energy_by_category_pj=by_category(action_tot), energy_views_pj=views(action_tot),
        provenance={"neurosim_version": __version__, "config_sha256": _sha256_text(config_text),
                    "trace_manifest_sha256": _sha256_text(manifest_text), "trace": str(trace.path),
                    "energy_table": core.table.source_file, "command": command},
        phases=phases, inference=inference, energy_table_pj=dict(core.pj_by_spec[core.built]),
        static_power_mw=core.static_mw, area_mm2=core.area, schedule_cycles=scheduled,
        schedule_latency_s=cycles_to_s(scheduled, spec.clock_mhz),
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
