"""Replay a trace on one design: the ops in schedule order on one core (vector ops before the GEMM
op they precede), then the run's totals, phases and provenance (:class:`~neurosim.result_types.Results`).
Each op's work is :class:`~neurosim.engine.replay.CoreReplay`'s. A many-core chip (a mesh larger
than one core, or resident weights) is :func:`neurosim.engine.chip_run.simulate_chip`'s."""

from __future__ import annotations

from collections.abc import Callable

from neurosim.config.energy_table import load_energy_table
from neurosim.config.hw import HwSpec, many_core
from neurosim.energy.actions import static_power_mw
from neurosim.energy.area import area_mm2
from neurosim.energy.time_power import TimePower, time_power
from neurosim.engine.designs import DESIGNS, design_energies
from neurosim.engine.pipeline import Interval
from neurosim.engine.replay import CoreReplay, PendingLayer
from neurosim.engine.summary import results_of, schedule
from neurosim.engine.vector_io import between_ops
from neurosim.engine.widths import built_widths
from neurosim.result_types import LayerResult, Results
from neurosim.trace.manifest import VectorOp
from neurosim.trace.reader import Trace


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


def effective_energy_table(spec: HwSpec, trace: Trace | None = None) -> tuple[dict[str, float], TimePower]:
    """(pJ per counted action, time-proportional power) of ``spec`` as built: after bitwidth and
    SRAM scaling, ``auto`` widths resolved to the widest ``trace`` needs (a ValueError without one)."""
    built, chip = _built_chip(spec, trace)
    table = load_energy_table(spec.technology)
    static_mw = static_power_mw(built, table, chip.logic_cells(), chip.vector_used)
    return design_energies(built, table), time_power(built, table, static_mw, chip.logic_cells_by_component())


def chip_area_mm2(spec: HwSpec, trace: Trace | None = None) -> dict[str, float] | None:
    """Area of ``spec`` as built (:func:`neurosim.energy.area.area_mm2`); the vector unit counts
    when ``trace`` has vector ops. None when the technology's table has no area entries."""
    built, chip = _built_chip(spec, trace)
    return area_mm2(built, load_energy_table(spec.technology), chip.logic_cells_by_component(), chip.vector_used)


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
    if many_core(spec):
        return _many_core(trace, spec, check, timeline, engine=engine, command=command, config_text=config_text,
                          progress=progress)
    core = CoreReplay(trace, spec, check=check, engine=engine,
                      tile_timeline=timeline is not None and timeline.detail == "tile")
    total = len(trace.ops) + len(trace.manifest.vector_ops)
    collect = _Collector(timeline)
    items = list(schedule(trace))
    try:
        for done, (item, flow) in enumerate(zip(items, between_ops(items), strict=True), 1):
            collect.add(core.vector(item, flow) if isinstance(item, VectorOp) else core.gemm(item))
            if progress:
                progress(done, total)
        layers = collect.layers()
    except BaseException:  # an error or Ctrl-C: drop the queued pipelines and checks
        core.cancel()
        raise
    r = results_of(core, layers, command, config_text)
    if timeline is not None:
        timeline.add(_phase_intervals(r))
    return r


def _phase_intervals(r: Results) -> list[Interval]:
    """The schedule's story on its own track: each phase as long as it takes with its ops
    overlapped (the ``op`` track shows them one after another, each as long as it takes alone)."""
    out, start = [], 0
    for phase, p in (r.phases or {}).items():
        cycles = int(p["cycles"])
        out.append(Interval("phases (ops overlapped)", f"{phase}: {cycles:,} cycles scheduled", start, start + cycles))
        start += cycles
    return out


class _Collector:
    """The layer results in order; the timeline gets each op's interval (and its tile intervals).
    Ops are made at the end (their pipelines run on worker threads meanwhile), but at tile detail
    as soon as each is added: its tile intervals go to the timeline's file instead of all being
    held until the last op."""

    def __init__(self, timeline):
        self.timeline, self.eager = timeline, timeline is not None and timeline.detail == "tile"
        self.pending: list[PendingLayer] = []  # each op's layer result, made once its pipeline has its cycles
        self.done: list[LayerResult] = []
        self.t_offset = 0

    def add(self, make: PendingLayer) -> None:
        self.pending.append(make)
        if self.eager:
            self.layers()

    def layers(self) -> list[LayerResult]:
        """Every op added so far, made."""
        for make in self.pending:
            layer, rec = make()
            self.done.append(layer)
            if self.timeline is not None:
                t = self.t_offset
                self.timeline.add([Interval("op", layer.name, t, t + layer.cycles)])
                self.timeline.add(Interval(iv.track, iv.name, iv.start + t, iv.end + t) for iv in rec or ())
            self.t_offset += layer.cycles
        self.pending.clear()
        return self.done


def _many_core(trace: Trace, spec: HwSpec, check: bool, timeline, **kw) -> Results:
    """The many-core chip; its timeline is the chip's schedule, item by item (no tile intervals)."""
    from neurosim.engine.chip_run import simulate_chip

    return simulate_chip(trace, spec, check=check, timeline=timeline, **kw)
