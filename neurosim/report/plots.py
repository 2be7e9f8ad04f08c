"""Plots of finished runs and traces. Every function takes Results (or a trace) and an optional
matplotlib Axes, labels its axes with units, returns the Axes, and never calls ``plt.show()``."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from neurosim.energy.categories import CATEGORIES, by_category
from neurosim.report.mesh_plot import plot_mesh
from neurosim.report.style import CATEGORY_COLOURS, cause_colour, energy_unit, fig_width
from neurosim.report.summary import grouped, whole_inference
from neurosim.results import Results


def _ax(ax, size=(7, 4)):
    return ax if ax is not None else plt.figure(figsize=size).gca()


MAX_BARS = 48  # beyond this many (layer, run) bars, layers are grouped by type


def _groups(r: Results, by_type: bool) -> list[tuple[str, dict[str, float]]]:
    """(label, {category: pJ}) per layer, or per layer type summed over the decoder blocks."""
    out: dict[str, dict[str, float]] = {}
    for la in r.layers:
        key = la.name.rsplit(".", 1)[-1] if by_type else la.name.split(".", 1)[-1]
        cats = by_category(la.energy_by_action_pj or {})
        acc = out.setdefault(key, dict.fromkeys(CATEGORIES, 0.0))
        for c, v in cats.items():
            acc[c] += v
    return list(out.items())


def plot_energy_breakdown(runs: list[Results], ax=None, per_layer: bool = False, on_chip: bool = False):
    """Stacked bars of energy by category (one fixed colour per category in every plot): one bar
    per run, or per (layer, run) with ``per_layer`` (per (layer type, run) once there would be
    more than :data:`MAX_BARS` bars); ``on_chip`` leaves DRAM out (the on-chip view). The energy
    unit follows the data; the figure width is capped."""
    if per_layer:
        by_type = len(runs[0].layers) * len(runs) > MAX_BARS
        groups = [_groups(r, by_type) for r in runs]
        labels = [f"{groups[0][i][0]}\n{r.config_name}" for i in range(len(groups[0])) for r in runs]
        cells = [g[i][1] for i in range(len(groups[0])) for g in groups]
    else:
        by_type = False
        labels = [r.config_name for r in runs]
        cells = [r.energy_by_category_pj or by_category(r.energy_by_action_pj or {}) for r in runs]
    if on_chip:
        cells = [{k: v for k, v in c.items() if k != "dram"} for c in cells]
    unit, f = energy_unit(max((sum(c.values()) for c in cells), default=1.0))
    ax = _ax(ax, (fig_width(len(labels), 0.5, 6.0), 4.5))
    bottom = np.zeros(len(labels))
    for cat in CATEGORIES:
        v = np.array([c.get(cat, 0.0) / f for c in cells])
        if v.any():
            ax.bar(range(len(labels)), v, bottom=bottom, label=cat, color=CATEGORY_COLOURS[cat])
            bottom += v
    ax.set_xticks(range(len(labels)), labels, fontsize=7, rotation=45 if per_layer else 0,
                  ha="right" if per_layer else "center")
    ax.set_ylabel(f"energy ({unit})")
    ax.set_ylim(0, 1.08 * max(bottom.max(initial=0), 1e-12))
    what = " per layer type (summed over blocks)" if by_type else (" per layer" if per_layer else "")
    ax.set_title(("on-chip energy (DRAM left out)" if on_chip else "energy") + " by category" + what)
    ax.legend(fontsize=7, ncol=2)
    return ax


def plot_cycles(r: Results, ax=None, per_layer: bool | None = None):
    """Per op (or per layer type and phase beyond 60 ops: :func:`grouped`): compute cycles and
    stall cycles by cause, stacked (ops one after another); each cause keeps one colour."""
    bars = grouped(r, per_layer)
    ax = _ax(ax, (fig_width(len(bars)), 4))
    x = np.arange(len(bars))
    bottom = np.array([sum(la.compute_cycles for la in ops) for _, ops in bars], dtype=float)
    ax.bar(x, bottom, label="compute", color=CATEGORY_COLOURS["compute"])
    for cause in sorted({c for la in r.layers for c in la.stall_cycles}):
        v = np.array([sum(la.stall_cycles.get(cause, 0) for la in ops) for _, ops in bars], dtype=float)
        if v.any():
            ax.bar(x, v, bottom=bottom, label=f"stall: {cause}", color=cause_colour(cause))
            bottom += v
    ax.set_xticks(x, [label for label, _ in bars], fontsize=7, rotation=45, ha="right")
    ax.set_ylabel("cycles (ops one after another)")
    ax.set_title(f"{r.config_name}: cycles per {'op' if len(bars) == len(r.layers) else 'layer type and phase'}")
    ax.legend(fontsize=7)
    return ax


def plot_utilization(r: Results, ax=None, per_layer: bool | None = None):
    """Per op (or layer type and phase): busy (compute cycles / cycles) beside spatial utilisation
    (useful array operations / (processing elements x cycles)): an accumulate-only array can be
    busy every cycle with most of its lanes idle."""
    bars = grouped(r, per_layer)
    ax = _ax(ax, (fig_width(len(bars)), 3.5))
    x = np.arange(len(bars))
    cycles = [sum(la.cycles for la in ops) or 1 for _, ops in bars]
    busy = [100 * sum(la.compute_cycles for la in ops) / c for (_, ops), c in zip(bars, cycles, strict=True)]
    spatial = [100 * sum((la.spatial_utilization or 0.0) * la.cycles for la in ops) / c
               for (_, ops), c in zip(bars, cycles, strict=True)]
    ax.bar(x - 0.2, busy, width=0.4, label="busy (% of cycles computing)", color=CATEGORY_COLOURS["compute"])
    ax.bar(x + 0.2, spatial, width=0.4, label="spatial (% of lane-cycles doing useful work)",
           color=CATEGORY_COLOURS["registers"])
    ax.set_xticks(x, [label for label, _ in bars], fontsize=7, rotation=45, ha="right")
    ax.set_ylabel("utilisation (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{r.config_name}: array utilisation")
    ax.legend(fontsize=7)
    return ax


def plot_spike_histogram(trace, ax=None, max_codes: int = 2_000_000):
    """Histogram of spike counts |q| per activation, normal and salient codes apart."""
    ax = _ax(ax)
    normal_max = trace.manifest.recipe.normal_max
    counts = np.zeros(128, dtype=np.int64)
    seen = 0
    for name in dict.fromkeys(op.act_codes for op in trace.ops):
        a = np.abs(np.asarray(trace.tensor(name)).astype(np.int16)).ravel()[: max_codes - seen]
        counts += np.bincount(a, minlength=128)[:128]
        seen += a.size
        if seen >= max_codes:
            break
    x = np.arange(128)
    ax.bar(x[: normal_max + 1], counts[: normal_max + 1], label=f"normal (|q| <= {normal_max})")
    ax.bar(x[normal_max + 1:], counts[normal_max + 1:], color="tab:red", label="salient")
    ax.set_yscale("log")
    ax.set_xlabel("spikes per activation (|q|)")
    ax.set_ylabel("activations (count)")
    ax.set_title("spike-count histogram")
    ax.legend(fontsize=8)
    return ax


def plot_phases(runs: list[Results], ax=None):
    """Energy per token of each phase (prefill, decode), by category, one group of bars per run;
    each bar is labelled with the phase's time per token (TTFT for the prefill, 1 / tokens/s in
    decode)."""
    ax = _ax(ax, (max(5.0, 1.6 * len(runs) * 2), 4))
    phases = [p for p in ("prefill", "decode") if all(p in (r.phases or {}) for r in runs)]
    per_token: list[tuple[str, dict[str, float], str]] = []
    for r in runs:
        for ph in phases:
            cats = dict.fromkeys(CATEGORIES, 0.0)
            for la in r.layers:
                if la.phase == ph:
                    for c, v in by_category(la.energy_by_action_pj or {}).items():
                        cats[c] += v
            tokens = r.phases[ph]["tokens"]
            label_t = (f"TTFT {r.inference['ttft_s']:.4g} s" if ph == "prefill"
                       else f"{r.inference.get('decode_tokens_per_s', 0):.4g} tok/s")
            per_token.append((f"{r.config_name}\n{ph}", {c: v / tokens for c, v in cats.items()}, label_t))
    unit, f = energy_unit(max((sum(c.values()) for _, c, _ in per_token), default=1.0))
    x = np.arange(len(per_token))
    bottom = np.zeros(len(per_token))
    for c in CATEGORIES:
        vals = np.array([cats[c] / f for _, cats, _ in per_token])
        if vals.any():
            ax.bar(x, vals, bottom=bottom, color=CATEGORY_COLOURS[c], label=c)
            bottom += vals
    for xi, top, (_, _, label_t) in zip(x, bottom, per_token, strict=True):
        ax.annotate(label_t, (xi, top), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, [lab for lab, _, _ in per_token], fontsize=8)
    ax.set_ylabel(f"energy per token ({unit})")
    ax.set_ylim(0, max(bottom.max(initial=0) * 1.15, 1e-12))
    ax.legend(fontsize=8)
    ax.set_title("energy per token by phase")
    return ax


def write_run_plots(r: Results, out_dir: str | Path, per_layer: bool | None = None) -> list[Path]:
    """PNG and SVG of the energy breakdown, cycles and utilisation of one run (and, for a whole
    inference, the energy per token by phase; for a many-core chip, the mesh heatmap): per op up
    to 60 ops, else per layer type and phase (``per_layer`` True or False forces one)."""

    out_dir = Path(out_dir)
    written = []
    figures = [("energy", lambda: plot_energy_breakdown([r], per_layer=True)),
               ("energy_on_chip", lambda: plot_energy_breakdown([r], per_layer=True, on_chip=True)),
               ("cycles", lambda: plot_cycles(r, per_layer=per_layer)),
               ("utilization", lambda: plot_utilization(r, per_layer=per_layer))]
    if whole_inference(r):
        figures.append(("phases", lambda: plot_phases([r])))
    if r.chip is not None:
        figures.append(("mesh", lambda: plot_mesh(r).axes[0]))
    for stem, fn in figures:
        ax = fn()
        for ext in ("png", "svg"):
            p = out_dir / f"{stem}.{ext}"
            ax.figure.savefig(p, dpi=120, bbox_inches="tight")
            written.append(p)
        plt.close(ax.figure)
    return written


def write_side_by_side(runs: list[Results], out_dir: str | Path) -> list[Path]:
    """Several runs of one trace in one figure each: the energy by category (full and on chip)
    and, for a whole inference, the energy per token by phase."""
    from neurosim.report.style import save_figure

    written = []
    figures = [("energy_runs", lambda: plot_energy_breakdown(runs)),
               ("energy_runs_on_chip", lambda: plot_energy_breakdown(runs, on_chip=True))]
    if all(whole_inference(r) for r in runs):
        figures.append(("phases_runs", lambda: plot_phases(runs)))
    for stem, fn in figures:
        ax = fn()
        written += save_figure(ax.figure, out_dir, stem)
        plt.close(ax.figure)
    return written
