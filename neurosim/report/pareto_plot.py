"""The accuracy-energy figure of ``neurosim pareto``: perplexity against J/token, one colour per
design, each design's Pareto front joined and its recipes named; a panel for the prefill and,
when the traces decode, one for the decode steps."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from neurosim.report.style import energy_unit, save_figure

#: Design colours (Okabe-Ito): the same in every accuracy-energy figure.
DESIGN_COLOURS = {"acc_if": "#0072B2", "mac": "#D55E00"}


def plot_accuracy_energy(rows: list[dict], phase: str, ax=None):
    """Perplexity against ``phase`` (``prefill`` or ``decode``) J/token of every row."""
    ax = ax or plt.figure(figsize=(7, 5)).gca()
    x = f"{phase}_j_per_token"
    pts = [r for r in rows if r.get(x) is not None]
    unit, f = energy_unit(max((r[x] * 1e12 for r in pts), default=1.0))
    for design in sorted({r["design"] for r in pts}):
        mine = [r for r in pts if r["design"] == design]
        colour = DESIGN_COLOURS.get(design, "#999999")
        ax.scatter([r[x] * 1e12 / f for r in mine], [r["perplexity"] for r in mine], s=26, color=colour,
                   edgecolors="black", linewidths=0.4, alpha=0.8, label=design)
        on = sorted((r for r in mine if r[f"front_{phase}"]), key=lambda r: r[x])
        ax.plot([r[x] * 1e12 / f for r in on], [r["perplexity"] for r in on], "-", lw=1.2, color=colour)
        for r in on:
            ax.annotate(f"{r['recipe']} @ {r['config']}", (r[x] * 1e12 / f, r["perplexity"]), xytext=(4, 3),
                        textcoords="offset points", fontsize=6)
    ax.set_xlabel(f"{phase} energy per token ({unit})")
    ax.set_ylabel("perplexity")
    ax.set_title(f"{phase}: perplexity vs energy per token (each design's front joined)")
    ax.legend(fontsize=7)
    return ax


def write_pareto_plot(rows: list[dict], out_dir: Path) -> list[Path]:
    """``pareto.png`` and ``pareto.svg``: the prefill panel, and the decode panel when any row decodes."""
    phases = ["prefill"] + (["decode"] if any(r.get("decode_j_per_token") is not None for r in rows) else [])
    fig, axes = plt.subplots(1, len(phases), figsize=(7 * len(phases), 5), squeeze=False)
    for phase, ax in zip(phases, axes[0], strict=True):
        plot_accuracy_energy(rows, phase, ax)
    fig.tight_layout()
    try:
        return save_figure(fig, out_dir, "pareto")
    finally:
        plt.close(fig)
