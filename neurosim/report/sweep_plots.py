"""Sweep plots from the sweep table: the energy-latency Pareto front and, for 2-D grids,
heatmaps of total energy. Written next to the table as PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt


def pareto_mask(latency, energy) -> list[bool]:
    """True for points no other point beats on both latency and energy."""
    pts = list(zip(latency, energy, strict=True))
    return [not any((l2 <= l1 and e2 <= e1) and (l2 < l1 or e2 < e1) for l2, e2 in pts) for l1, e1 in pts]


def plot_pareto(df, ax=None):
    """Energy (uJ) vs latency (ms) of every point, the Pareto front joined, per trace."""
    ax = ax or plt.figure(figsize=(6, 4.5)).gca()
    ok = df[df["status"] == "ok"]
    for trace, g in ok.groupby("trace"):
        lat, en = g["latency_s"] * 1e3, g["energy_pj_total"] / 1e6
        ax.scatter(lat, en, s=18, alpha=0.6, label=Path(trace).name)
        front = sorted((x, y) for x, y, m in zip(lat, en, pareto_mask(list(lat), list(en)), strict=True) if m)
        ax.plot([x for x, _ in front], [y for _, y in front], "-", lw=1)
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("energy (uJ)")
    ax.set_title("sweep: energy vs latency (Pareto front joined)")
    ax.legend(fontsize=7)
    return ax


def plot_heatmap(df, x: str, y: str, value: str = "energy_pj_total", ax=None):
    """A 2-D grid of ``value`` over sweep keys ``x`` and ``y`` (one trace)."""
    ax = ax or plt.figure(figsize=(5, 4)).gca()
    pivot = df.pivot_table(index=y, columns=x, values=value, aggfunc="mean")
    im = ax.imshow(pivot.values / 1e6, origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(pivot.columns)), [str(c) for c in pivot.columns])
    ax.set_yticks(range(len(pivot.index)), [str(i) for i in pivot.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.figure.colorbar(im, ax=ax, label="energy (uJ)")
    return ax


def write_sweep_plots(df, keys: list[str], out_dir: Path) -> list[Path]:
    """Pareto PNG, plus one heatmap per trace when exactly two keys were swept."""
    written = []
    ax = plot_pareto(df)
    ax.figure.savefig(out_dir / "pareto.png", dpi=120, bbox_inches="tight")
    plt.close(ax.figure)
    written.append(out_dir / "pareto.png")
    if len(keys) == 2 and "layer" not in df:
        ok = df[df["status"] == "ok"]
        for i, (trace, g) in enumerate(ok.groupby("trace")):
            ax = plot_heatmap(g, keys[0], keys[1])
            ax.set_title(f"{Path(trace).name}: total energy")
            p = out_dir / f"heatmap_{i}_{Path(trace).name}.png"
            ax.figure.savefig(p, dpi=120, bbox_inches="tight")
            plt.close(ax.figure)
            written.append(p)
    return written
