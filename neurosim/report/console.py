"""Console report: per-layer cycles and the energy breakdown; with several runs, side by side
with ratios to the first."""

from __future__ import annotations

from neurosim.report.summary import SUMMARY_ABOVE, coverage, extrapolated, whole_inference
from neurosim.report.summary import layer_type as op_type
from neurosim.results import LayerResult, Results


def _e(pj: float) -> str:
    for unit, f in (("mJ", 1e9), ("uJ", 1e6), ("nJ", 1e3)):
        if abs(pj) >= f:
            return f"{pj / f:.3f} {unit}"
    return f"{pj:.1f} pJ"


def _cyc(c: int) -> str:
    return f"{c:,}"


def _bits(b: float) -> str:
    for unit, f in (("GB", 8e9), ("MB", 8e6), ("kB", 8e3)):
        if b >= f:
            return f"{b / f:.3f} {unit}"
    return f"{b / 8:.0f} B"


def inference_lines(r: Results) -> list[str]:
    """Time to first token, decode throughput, energy per token and KV-cache traffic of one run."""
    inf, ph = r.inference, r.phases
    part = coverage(r)
    lines = ["", "whole inference, by phase" + (f" ({part}):" if part else ":")]
    for name, p in ph.items():
        serial = f" (ops one after another: {_cyc(int(p['serial_cycles']))})" if p["serial_cycles"] != p["cycles"] else ""
        lines.append(f"  {name:<8} {int(p['tokens']):>6} tokens  {_cyc(int(p['cycles'])):>15} cycles = "
                     f"{p['seconds'] * 1e3:10.4f} ms  {_e(p['energy_pj']):>12}  {p['j_per_token'] * 1e3:.4f} mJ/token"
                     + serial)
    lines.append(f"  time to first token {inf['ttft_s'] * 1e3:.4f} ms"
                 + (f"; decode {inf['decode_tokens_per_s']:.1f} tokens/s" if "decode_tokens_per_s" in inf else "")
                 + (f" ({part})" if part else ""))
    lines.append(f"  KV cache (DRAM): read {_bits(inf['kv_read_bits'])}, written {_bits(inf['kv_write_bits'])}, "
                 f"footprint {_bits(inf['kv_footprint_bits'])}")
    return lines


def extrapolation_lines(r: Results) -> list[str]:
    """``--extrapolate``: a partial run's figures scaled to the whole model, labelled as such."""
    x = extrapolated(r)
    if x is None:
        return []
    inf = r.inference
    head = "the LM head's kept once" if inf.get("lm_head") else "the LM head (not in this run) not added"
    lines = ["", f"extrapolated to the whole model ({inf['layers']} of {inf['model_layers']} layers simulated; the "
             f"layers' time and energy scaled by the layer count, {head}: an estimate):"]
    if "prefill_seconds" in x:
        lines.append(f"  time to first token {x['prefill_seconds'] * 1e3:.4f} ms; prefill "
                     f"{x['prefill_j_per_token'] * 1e3:.4f} mJ/token")
    if "decode_seconds" in x:
        lines.append(f"  decode {x['decode_tokens_per_s']:.1f} tokens/s; {x['decode_j_per_token'] * 1e3:.4f} mJ/token")
    return lines


def summarised(r: Results, detail: str) -> bool:
    """Show per-layer-type totals instead of every op (``auto``: when there are many ops)?"""
    return detail == "summary" or (detail == "auto" and len(r.layers) > SUMMARY_ABOVE)


def by_type(layers: tuple[LayerResult, ...]) -> dict[tuple[str, str], dict[str, float]]:
    """(phase, op type) -> ops (repeats counted), cycles, compute cycles, energy (pJ), in order."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    for la in layers:
        row = out.setdefault((la.phase, op_type(la.name)), {"ops": 0, "cycles": 0, "compute": 0, "energy": 0.0})
        row["ops"] += la.repeat
        row["cycles"] += la.cycles
        row["compute"] += la.compute_cycles
        row["energy"] += la.energy_pj["total"]
    return out


def _chip_lines(r: Results) -> list[str]:
    """A many-core run's chip: mesh, cores used, where the KV cache lives, the mesh's traffic and
    energy, how busy the cores were, and the weight load reported apart."""
    if r.chip is None:
        return []
    c = r.chip
    held = sum(1 for b in c["placement"]["core_weight_bits"] if b)
    busy = c["core_utilization"]
    noc = r.energy_by_category_pj.get("noc", 0.0)
    w = c["weight_load"]
    return [f"chip: {c['mesh'][0]}x{c['mesh'][1]} mesh, weights resident on {held} of {c['cores']} cores, KV cache in "
            f"{c['kv_cache']}; mesh {sum(c['link_bits'].values()):,} link bits ({_e(noc)}, "
            f"{noc / r.energy_pj['total']:.1%}); cores busy {sum(busy) / len(busy):.1%} on average, at most "
            f"{max(busy):.1%}; weight load before the run (not counted) {_e(w['energy_pj'])}, {w['seconds'] * 1e3:.3g} ms"
            ] + _board_lines(r)


def _board_lines(r: Results) -> list[str]:
    """A board's chips, topology and chip-to-chip traffic."""
    c = r.chip
    if "chips" not in c:
        return []
    x, y = c["chips"]
    e = c["board_link_energy_pj"]
    return [f"board: {x}x{y} chips ({c['topology']}, tensor parallel {c['tensor_parallel']}); chip-to-chip links "
            f"{sum(c['board_link_bits'].values()):,} bits ({_e(e)}, {e / r.energy_pj['total']:.1%})"]


def single_report(r: Results, detail: str = "auto", extrapolate: bool = False) -> str:
    """One run: summary, per-layer table (or, with many ops or ``detail="summary"``, totals per
    layer type and phase), stalls by cause, energy by component (and with ``extrapolate`` a
    partial run's figures scaled to the whole model)."""
    lines = [
        f"{r.config_name} ({r.design}, {r.clock_mhz:g} MHz, {r.technology}) on {r.provenance.get('trace', '?')}",
        f"scheduled {_cyc(r.scheduled_cycles)} cycles = {r.scheduled_latency_s * 1e3:.4f} ms "
        f"({'the chip' if r.chip else 'ops overlapped'}); ops one "
        f"after another {_cyc(r.total_cycles)}; compute {_cyc(r.compute_cycles)}; energy {_e(r.energy_pj['total'])}",
        *_chip_lines(r),
        "",
    ]
    if summarised(r, detail):
        lines.append(f"{len(r.layers)} ops, by layer type (the per-layer table: --per-layer; layers.csv has every op)")
        lines.append(f"{'phase':<8} {'layer type':<26} {'ops':>7} {'cycles':>17} {'compute':>17} {'busy':>6} "
                     f"{'energy':>12} {'share':>6}")
        total = r.energy_pj["total"] or 1.0
        for (phase, t), row in by_type(r.layers).items():
            busy = row["compute"] / row["cycles"] if row["cycles"] else 0.0
            lines.append(f"{phase:<8} {t:<26} {int(row['ops']):>7,} {_cyc(int(row['cycles'])):>17} "
                         f"{_cyc(int(row['compute'])):>17} {busy:>6.1%} {_e(row['energy']):>12} "
                         f"{row['energy'] / total:>6.1%}")
    else:
        lines.append(f"{'layer':<34} {'M':>5} {'K':>6} {'N':>6} {'tile Mb x Kb x Nb':>19} {'cycles':>13} "
                     f"{'compute':>13} {'busy':>6} {'spatial':>7} {'energy':>12}")
    for layer in ([] if summarised(r, detail) else r.layers):
        t = layer.tiling
        tile = f"{t.get('Mb', '?')} x {t.get('Kb', '?')} x {t.get('Nb', '?')}"
        spatial = "-" if layer.spatial_utilization is None else f"{layer.spatial_utilization:.1%}"
        lines.append(f"{layer.name:<34} {layer.M:>5} {layer.K:>6} {layer.N:>6} {tile:>19} {_cyc(layer.cycles):>13} "
                     f"{_cyc(layer.compute_cycles):>13} {layer.utilization:>6.1%} {spatial:>7} "
                     f"{_e(layer.energy_pj['total']):>12}")
    lines += ["", "stall cycles by cause:"]
    for cause, c in sorted(r.stall_cycles.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {cause:<20} {_cyc(c):>13}  ({c / r.total_cycles:.1%} of total)" if r.total_cycles else "")
    lines += ["", "energy by component:"]
    total = r.energy_pj["total"]
    for comp, pj in sorted(((k, v) for k, v in r.energy_pj.items() if k != "total"), key=lambda kv: -kv[1]):
        lines.append(f"  {comp:<20} {_e(pj):>12}  {pj / total:6.1%}")
    lines.append(f"  {'total':<20} {_e(total):>12}")
    if r.energy_by_category_pj:
        lines += ["", "energy by category:"]
        for cat, pj in r.energy_by_category_pj.items():
            if pj:
                lines.append(f"  {cat:<20} {_e(pj):>12}  {pj / total:6.1%}")
    if r.energy_views_pj:
        v = r.energy_views_pj
        lines += ["", f"energy views: full {_e(v['full'])}; on-chip (no DRAM) {_e(v['on_chip'])}; "
                  f"compute-only (synaptic arithmetic, the SNN-paper convention) {_e(v['compute_only'])}"]
    lines += area_lines(r)
    if whole_inference(r):
        lines += inference_lines(r) + (extrapolation_lines(r) if extrapolate else [])
    return "\n".join(lines + check_lines(r))


def check_lines(r: Results) -> list[str]:
    """The functional check's totals over the checked layers (nothing when none was checked)."""
    checks = [layer for layer in r.layers if layer.check]
    if not checks:
        return []
    mism = sum(layer.check["accumulation_mismatches"] for layer in checks)
    outs = sum(layer.check["outputs"] for layer in checks)
    replayed = sum(layer.check.get("replayed_outputs", layer.check["outputs"]) for layer in checks)
    fire = sum(layer.check.get("firing_mismatches", 0) for layer in checks)
    fired = sum(layer.check.get("firing_outputs", layer.check["outputs"]) for layer in checks)
    return ["", f"functional check on {len(checks)} layers, {outs:,} outputs ({replayed:,} recomputed by the "
            f"array model, the rest equal to the GEMM by the width bound or linearity; docs/model.md): "
            f"accumulation mismatches {mism}"
            + (f"; firing differences vs requantized reference {fire} of {fired:,}" if r.design == "acc_if" else "")]


def area_lines(r: Results) -> list[str]:
    """The chip's area by component (nothing when the energy table has no area model)."""
    if not r.area_mm2:
        return []
    a = r.area_mm2
    out = ["", f"area (logic from cell-bits, SRAM from a CACTI fit; docs/model.md, Area): {a['total']:.4g} mm^2 "
           f"= logic {a['logic']:.4g} + SRAM {a['sram']:.4g}"]
    parts = sorted(((k, v) for k, v in a.items() if k not in ("logic", "sram", "total")), key=lambda kv: -kv[1])
    out += [f"  {k:<20} {v:10.4g} mm^2  {v / a['total']:6.1%}" for k, v in parts]
    return out


def comparison_report(runs: list[Results], detail: str = "auto") -> str:
    """Several runs of the same trace side by side; ratios are run / first run (per layer, or
    per layer type and phase when summarised)."""
    base = runs[0]
    head = f"{'':<34}" + "".join(f" {r.config_name[:22]:>22}" for r in runs)
    lines = ["comparison (ratios to " + base.config_name + ")", head]

    def row(label, vals, fmt):
        cells = [fmt(v) + (f" ({v / vals[0]:.2f}x)" if i and vals[0] else "") for i, v in enumerate(vals)]
        lines.append(f"{label:<34}" + "".join(f" {c:>22}" for c in cells))

    row("cycles, scheduled (ops overlapped)", [r.scheduled_cycles for r in runs], _cyc)
    row("cycles, ops one after another", [r.total_cycles for r in runs], _cyc)
    row("latency (ms, scheduled)", [r.scheduled_latency_s * 1e3 for r in runs], lambda v: f"{v:.4f}")
    row("energy", [r.energy_pj["total"] for r in runs], _e)
    if all(r.area_mm2 for r in runs):
        row("area (mm^2)", [r.area_mm2["total"] for r in runs], lambda v: f"{v:.4g}")
        row("energy x area (mJ mm^2)", [r.energy_pj["total"] * 1e-9 * r.area_mm2["total"] for r in runs],
            lambda v: f"{v:.4g}")
    if all(r.energy_views_pj for r in runs):
        row("energy, on-chip view", [r.energy_views_pj["on_chip"] for r in runs], _e)
        row("energy, compute-only view", [r.energy_views_pj["compute_only"] for r in runs], _e)
    if all(whole_inference(r) for r in runs):
        row("time to first token (ms)", [r.inference["ttft_s"] * 1e3 for r in runs], lambda v: f"{v:.4f}")
        for phase in runs[0].phases:
            if all(phase in r.phases for r in runs):
                row(f"{phase}: energy per token", [r.phases[phase]["energy_pj"] / r.phases[phase]["tokens"]
                                                   for r in runs], _e)
        if all("decode_tokens_per_s" in r.inference for r in runs):
            row("decode tokens/s", [r.inference["decode_tokens_per_s"] for r in runs], lambda v: f"{v:.1f}")
    if summarised(base, detail):
        types = [by_type(r.layers) for r in runs]
        lines.append("per layer type: cycles")
        for key in types[0]:
            row(f"  {key[0]} {key[1]}", [t[key]["cycles"] for t in types], lambda v: _cyc(int(v)))
        lines.append("per layer type: energy")
        for key in types[0]:
            row(f"  {key[0]} {key[1]}", [t[key]["energy"] for t in types], _e)
    else:
        lines.append("per layer: cycles")
        for i, layer in enumerate(base.layers):
            row(f"  {layer.name}", [r.layers[i].cycles for r in runs], _cyc)
        lines.append("per layer: energy")
        for i, layer in enumerate(base.layers):
            row(f"  {layer.name}", [r.layers[i].energy_pj["total"] for r in runs], _e)
    lines.append("energy by component")
    comps = sorted({c for r in runs for c in r.energy_pj if c != "total"})
    for c in comps:
        lines.append(f"  {c:<32}" + "".join(f" {_e(r.energy_pj[c]) if c in r.energy_pj else '-':>22}" for r in runs))
    return "\n".join(lines)
