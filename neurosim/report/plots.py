"""Plots of finished runs and traces. Every function takes Results (or a trace) and an optional
matplotlib Axes, labels its axes with units, returns the Axes, and never calls ``plt.show()``."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from neurosim.results import Results


def _ax(ax, size=(7, 4)):
    return ax if ax is not None else plt.figure(figsize=size).gca()


def plot_energy_breakdown(runs: list[Results], ax=None, per_layer: bool = False):
    """Stacked bars of energy by component: one bar per run (totals) or per (layer, run)."""
    ax = _ax(ax, (max(6, 1.2 * len(runs) * (len(runs[0].layers) if per_layer else 1)), 4.5))
    comps = sorted({c for r in runs for c in r.energy_pj if c != "total"})
    if per_layer:
        labels = [f"{la.name.split('.')[-1]}\n{r.config_name}" for i in range(len(runs[0].layers)) for r in runs
                  for la in [r.layers[i]]]
        values = [[la.energy_pj.get(c, 0.0) / 1e6 for i in range(len(runs[0].layers)) for r in runs
                   for la in [r.layers[i]]] for c in comps]
    else:
        labels = [r.config_name for r in runs]
        values = [[r.energy_pj.get(c, 0.0) / 1e6 for r in runs] for c in comps]
    bottom = np.zeros(len(labels))
    for c, v in zip(comps, values, strict=True):
        ax.bar(range(len(labels)), v, bottom=bottom, label=c)
        bottom += np.array(v)
    ax.set_xticks(range(len(labels)), labels, fontsize=7, rotation=45 if per_layer else 0, ha="right" if per_layer else "center")
    ax.set_ylabel("energy (uJ)")
    ax.set_title("energy by component" + (" per layer" if per_layer else ""))
    ax.legend(fontsize=7, ncol=2)
    return ax


def plot_cycles(r: Results, ax=None):
    """Per layer: compute cycles and stall cycles by cause, stacked."""
    ax = _ax(ax, (max(6, 0.6 * len(r.layers)), 4))
    names = [la.name.split(".", 1)[-1] for la in r.layers]
    bottom = np.array([la.compute_cycles for la in r.layers], dtype=float)
    ax.bar(range(len(names)), bottom, label="compute")
    for cause in sorted({c for la in r.layers for c in la.stall_cycles}):
        v = np.array([la.stall_cycles.get(cause, 0) for la in r.layers], dtype=float)
        if v.any():
            ax.bar(range(len(names)), v, bottom=bottom, label=f"stall: {cause}")
            bottom += v
    ax.set_xticks(range(len(names)), names, fontsize=7, rotation=45, ha="right")
    ax.set_ylabel("cycles")
    ax.set_title(f"{r.config_name}: cycles per layer")
    ax.legend(fontsize=7)
    return ax


def plot_utilization(r: Results, ax=None):
    """Per layer: compute cycles / total cycles."""
    ax = _ax(ax, (max(6, 0.6 * len(r.layers)), 3.5))
    ax.bar(range(len(r.layers)), [100 * la.utilization for la in r.layers])
    ax.set_xticks(range(len(r.layers)), [la.name.split(".", 1)[-1] for la in r.layers], fontsize=7, rotation=45,
                  ha="right")
    ax.set_ylabel("utilization (% of cycles computing)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{r.config_name}: array utilization")
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


def write_run_plots(r: Results, out_dir: str | Path) -> list[Path]:
    """PNG and SVG of the energy breakdown, cycles and utilization of one run."""
    out_dir = Path(out_dir)
    written = []
    for stem, fn in (("energy", lambda: plot_energy_breakdown([r], per_layer=True)), ("cycles", lambda: plot_cycles(r)),
                     ("utilization", lambda: plot_utilization(r))):
        ax = fn()
        for ext in ("png", "svg"):
            p = out_dir / f"{stem}.{ext}"
            ax.figure.savefig(p, dpi=120, bbox_inches="tight")
            written.append(p)
        plt.close(ax.figure)
    return written
