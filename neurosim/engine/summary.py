"""A run's schedule order and its summary: totals, phases, provenance (shared by the single core
and the many-core chip)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from neurosim import __version__
from neurosim.energy.breakdown import with_total
from neurosim.energy.categories import by_category, views
from neurosim.energy.voltage import operating_point
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


def results_of(core, layers: list[LayerResult], command: str, config_text: str, *,
               phase_cycles: dict[str, int] | None = None, capped: bool = True, chip: dict | None = None,
               static_mw: float | None = None, area: dict | None = None,
               energy_table: dict[str, float] | None = None) -> Results:
    """The run's totals, phases and provenance from its layer results (``core``: the
    :class:`~neurosim.engine.replay.CoreReplay` that ran them). A chip passes its own phase
    cycles (not capped by the ops' serial sum: its messages take time of their own), its figures,
    static power, area and prices."""
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
    phases, inference = phase_summary(layers, trace, spec.clock_mhz,
                                      core.phase_cycles() if phase_cycles is None else phase_cycles, capped)
    scheduled = sum(p["cycles"] for p in phases.values())
    return Results(
        design=spec.design, config_name=spec.name, clock_mhz=spec.clock_mhz, technology=spec.technology,
        total_cycles=total_cycles, compute_cycles=sum(layer.compute_cycles for layer in layers),
        stall_cycles=dict(stall_tot), latency_s=cycles_to_s(total_cycles, spec.clock_mhz),
        energy_pj=with_total(dict(energy_tot)), layers=tuple(layers), energy_by_action_pj=dict(action_tot),
        energy_by_category_pj=by_category(action_tot), energy_views_pj=views(action_tot),
        provenance={"neurosim_version": __version__, "config_sha256": _sha256_text(config_text),
                    "trace_manifest_sha256": _sha256_text(manifest_text), "trace": portable_path(trace.path),
                    "energy_table": portable_path(core.table.source_file), "command": command},
        phases=phases, inference=inference,
        energy_table_pj=dict(core.pj_by_spec[core.built]) if energy_table is None else energy_table,
        static_power_mw=core.static_mw if static_mw is None else static_mw, area_mm2=area if chip else core.area,
        schedule_cycles=scheduled, schedule_latency_s=cycles_to_s(scheduled, spec.clock_mhz), chip=chip,
        operating_point=operating_point(spec, core.table).to_dict(),
    )


def batch_of(trace: Trace) -> int:
    """Sequences a whole-inference trace runs together: its first prefill linear op's tokens over
    the prompt's (``synth --batch``); 1 for a trace of linear ops alone."""
    prompt = trace.manifest.producer.tokens
    if not trace.manifest.vector_ops or not prompt:
        return 1
    m = next((op.M for op in trace.ops if op.phase == "prefill" and op.kind == "linear"), prompt)
    return max(1, m // prompt)


def phase_summary(layers: list[LayerResult], trace: Trace, clock_mhz: float,
                  overlapped: dict[str, int] | None = None, capped: bool = True) -> tuple[dict, dict]:
    """Per phase (prefill, decode): cycles (``overlapped`` when the schedule overlaps ops, else the
    sum of the ops'), seconds, energy, tokens (every sequence's), ops; and the whole-inference
    figures: the batch, the decoder layers covered and the model's (None: the trace does not say)
    and whether the LM head is in, time to first token (the prefill), decode tokens per second (every
    sequence's, and one sequence's), energy per token of each phase, KV-cache bits read and
    written (DRAM) and its final footprint. Leakage stays charged over each op's own time
    (an upper bound when ops overlap)."""
    phases: dict[str, dict[str, float]] = {}
    batch = batch_of(trace)
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
        p["cycles"] = (min(overlapped[name], p["serial_cycles"]) if capped else overlapped[name]) if overlapped \
            else p["serial_cycles"]
        p["seconds"] = cycles_to_s(p["cycles"], clock_mhz)
        p["tokens"] = batch * (trace.manifest.producer.tokens if name == "prefill" else len(p.pop("steps")))
        p.pop("steps", None)
        p["j_per_token"] = p["energy_pj"] * 1e-12 / p["tokens"]
    producer = trace.manifest.producer
    out = {"batch": batch, "layers": producer.layers, "model_layers": producer.model_layers,
           "lm_head": int(any(layer.name.endswith("lm_head") for layer in layers)),
           "ttft_s": phases["prefill"]["seconds"] if "prefill" in phases else 0.0,
           "kv_read_bits": sum(layer.kv_read_bits for layer in layers),
           "kv_write_bits": sum(layer.kv_write_bits for layer in layers)}
    out["kv_footprint_bits"] = out["kv_write_bits"]  # the cache only grows: all it ever held
    if "decode" in phases:
        d = phases["decode"]
        out["decode_tokens_per_s"] = d["tokens"] / d["seconds"] if d["seconds"] else 0.0  # every sequence's
        out["decode_tokens_per_s_per_sequence"] = out["decode_tokens_per_s"] / batch
        out["decode_j_per_token"] = d["j_per_token"]
    if "prefill" in phases:
        out["prefill_j_per_token"] = phases["prefill"]["j_per_token"]
    return phases, out


def portable_path(path: str | Path) -> str:
    """A path as provenance keeps it, free of this machine's layout: relative to the working
    directory when under it, ``neurosim/...`` for the package's own files, else its last part
    (the stored hashes identify the file)."""
    p = Path(path).resolve()
    for base, prefix in ((Path.cwd().resolve(), ""), (Path(__file__).resolve().parent.parent, "neurosim/")):
        if p.is_relative_to(base):
            return prefix + p.relative_to(base).as_posix()
    return p.name
