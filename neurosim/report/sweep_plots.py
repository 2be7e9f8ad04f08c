"""Sweep plots from the sweep table: the energy-latency Pareto front and, for 2-D grids,
heatmaps of total energy, latency and (with a baseline) both ratios to it. Written next to the
table as PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

#: The latency sweeps rank on: the overlapped schedule, as the README headlines it.
LATENCY = "schedule_latency_s"


def pareto_mask(latency, energy) -> list[bool]:
    """True for points no other point beats on both latency and energy."""
    pts = list(zip(latency, energy, strict=True))
    return [not any((l2 <= l1 and e2 <= e1) and (l2 < l1 or e2 < e1) for l2, e2 in pts) for l1, e1 in pts]


def plot_pareto(df, keys: list[str] | None = None, ax=None):
    """Energy vs latency of every point per trace: the Pareto front highlighted, joined and each of
    its points labelled with its parameter values (``keys``), the baseline starred when the sweep
    had one; points are drawn hollow-edged so that overlapping ones stay visible."""
    from neurosim.report.style import energy_unit

    ax = ax or plt.figure(figsize=(7, 5)).gca()
    ok = df[df["status"] == "ok"]
    unit, f = energy_unit(float(ok["energy_pj_total"].max()) if len(ok) else 1.0)
    for trace, g in ok.groupby("trace"):
        lat, en = (g[LATENCY] * 1e3).to_numpy(), (g["energy_pj_total"] / f).to_numpy()
        pts = ax.scatter(lat, en, s=22, alpha=0.55, edgecolors="black", linewidths=0.4, label=Path(trace).name)
        same: dict[tuple[float, float], int] = {}
        for x, y in zip(lat, en, strict=True):  # coincident points: say how many
            same[(round(float(x), 9), round(float(y), 9))] = same.get((round(float(x), 9), round(float(y), 9)), 0) + 1
        for (x, y), n in same.items():
            if n > 1:
                ax.annotate(f"x{n}", (x, y), xytext=(-4, -9), textcoords="offset points", fontsize=6, ha="right")
        mask = pareto_mask(list(lat), list(en))
        front = sorted((x, y, i) for i, (x, y, m) in enumerate(zip(lat, en, mask, strict=True)) if m)
        ax.plot([x for x, _, _ in front], [y for _, y, _ in front], "-", lw=1.2, color=pts.get_facecolor()[0])
        ax.scatter([x for x, _, _ in front], [y for _, y, _ in front], s=60, facecolors="none", edgecolors="black",
                   linewidths=1.2)
        for x, y, i in front:
            if keys:
                label = ", ".join(f"{k}={g.iloc[i][k]}" for k in keys if k in g)
                ax.annotate(label, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=6)
        if "energy_ratio_vs_baseline" in g and g["energy_ratio_vs_baseline"].notna().any():
            r = g[g["energy_ratio_vs_baseline"].notna()].iloc[0]
            bx = r[LATENCY] * 1e3 / r["latency_ratio_vs_baseline"]
            by = r["energy_pj_total"] / f / r["energy_ratio_vs_baseline"]
            ax.scatter([bx], [by], marker="*", s=160, color="crimson", edgecolors="black", linewidths=0.5,
                       zorder=5, label=f"baseline {r['baseline']}")
    ax.set_xlabel("latency (ms, scheduled)")
    ax.set_ylabel(f"energy ({unit})")
    ax.set_title("sweep: energy vs latency (Pareto front circled and joined)")
    ax.legend(fontsize=7)
    return ax


def _heat_scale(value: str, data) -> tuple[float, str]:
    """(divisor, colour-bar label) for a sweep-table column."""
    if value.startswith("energy_pj"):
        from neurosim.report.style import energy_unit

        unit, f = energy_unit(float(abs(data).max()) if data.size else 1.0)
        return f, f"{value.removeprefix('energy_pj_')} energy ({unit})"
    if value in ("latency_s", LATENCY):
        return 1e-3, "latency (ms)" if value == "latency_s" else "latency (ms, scheduled)"
    if value.endswith("_ratio_vs_baseline"):
        return 1.0, f"{value.split('_')[0]} ratio to the baseline (1 = equal)"
    return 1.0, value


def plot_heatmap(df, x: str, y: str, value: str = "energy_pj_total", ax=None):
    """A 2-D grid of ``value`` over sweep keys ``x`` and ``y`` (one trace), each cell labelled
    with its value; units and label follow the column (energy in SI units, latency in ms,
    ratios as they are)."""
    ax = ax or plt.figure(figsize=(5, 4)).gca()
    pivot = df.pivot_table(index=y, columns=x, values=value, aggfunc="mean")
    div, label = _heat_scale(value, pivot.values)
    vals = pivot.values / div
    im = ax.imshow(vals, origin="lower", aspect="auto", cmap="viridis")
    for (r, c), v in np.ndenumerate(vals):
        ax.text(c, r, f"{v:.3g}", ha="center", va="center", fontsize=7,
                color="white" if v < np.nanmean(vals) else "black")
    ax.set_xticks(range(len(pivot.columns)), [str(c) for c in pivot.columns])
    ax.set_yticks(range(len(pivot.index)), [str(i) for i in pivot.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.figure.colorbar(im, ax=ax, label=label)
    return ax


def write_sweep_plots(df, keys: list[str], out_dir: Path) -> list[Path]:
    """Pareto PNG, plus one heatmap per trace when exactly two keys were swept."""
    written = []
    ax = plot_pareto(df, keys)
    ax.figure.savefig(out_dir / "pareto.png", dpi=120, bbox_inches="tight")
    plt.close(ax.figure)
    written.append(out_dir / "pareto.png")
    if len(keys) == 2 and "layer" not in df:
        ok = df[df["status"] == "ok"]
        values = [("energy_pj_total", "total energy", ""), (LATENCY, "latency (scheduled)", "_latency")]
        values += [(v, v.replace("_", " "), f"_{v.split('_')[0]}_ratio") for v in
                   ("energy_ratio_vs_baseline", "latency_ratio_vs_baseline") if v in ok and ok[v].notna().any()]
        for i, (trace, g) in enumerate(ok.groupby("trace")):
            for value, title, suffix in values:
                ax = plot_heatmap(g, keys[0], keys[1], value)
                ax.set_title(f"{Path(trace).name}: {title}")
                p = out_dir / f"heatmap_{i}_{Path(trace).name}{suffix}.png"
                ax.figure.savefig(p, dpi=120, bbox_inches="tight")
                plt.close(ax.figure)
                written.append(p)
    return written


def plot_tornado(df, ratio: str = "energy_ratio_b_over_a", ax=None):
    """One-at-a-time swings of a B/A ratio: per parameter a bar from its smallest to its largest
    ratio, widest swing on top, the baseline ratio as a vertical line, each end labelled with its
    parameter value."""
    ok = df[df["status"] == "ok"]
    base = float(ok[ok["param"] == "(baseline)"][ratio].iloc[0])
    params = []
    for param, g in ok[ok["param"] != "(baseline)"].groupby("param", sort=False):
        lo, hi = g.loc[g[ratio].idxmin()], g.loc[g[ratio].idxmax()]
        one_side = "notes" in g and g["notes"].fillna("").astype(str).str.len().gt(0).any()
        params.append((param + (" \u2020" if one_side else ""), float(lo[ratio]), float(hi[ratio]), str(lo["value"]),
                       str(hi["value"])))
    params.sort(key=lambda p: p[2] - p[1])
    ax = ax or plt.figure(figsize=(7, 0.45 * len(params) + 1.5)).gca()
    for i, (_, lo, hi, vlo, vhi) in enumerate(params):
        ax.barh(i, hi - lo, left=lo, color="#0072B2" if "energy" in ratio else "#E69F00", height=0.6)
        ax.annotate(vlo, (lo, i), xytext=(-3, 0), textcoords="offset points", ha="right", va="center", fontsize=7)
        ax.annotate(vhi, (hi, i), xytext=(3, 0), textcoords="offset points", ha="left", va="center", fontsize=7)
    ax.axvline(base, color="black", lw=1, label=f"baseline {base:.2f}")
    ax.set_yticks(range(len(params)), [p[0] for p in params], fontsize=8)
    a, b = ok["a"].iloc[0], ok["b"].iloc[0]
    what = "energy" if "energy" in ratio else "cycles"
    ax.set_xlabel(f"{what} ratio B / A = {b} / {a} (1 = equal)")
    ax.set_title(f"sensitivity of the {what} ratio (one parameter at a time)")
    if any(p[0].endswith("\u2020") for p in params):
        ax.text(0, -0.12, "\u2020 applied to one config only (the other has no such key, or not that value)",
                transform=ax.transAxes, fontsize=7)
    lo_all = min([p[1] for p in params] + [base])
    hi_all = max([p[2] for p in params] + [base])
    pad = 0.15 * (hi_all - lo_all or 1)
    ax.set_xlim(lo_all - pad, hi_all + pad)
    ax.legend(fontsize=7, loc="lower right")
    return ax


def write_tornado(df, out_dir: Path) -> list[Path]:
    """tornado_energy and tornado_cycles (PNG and SVG) next to the sensitivity table."""
    from neurosim.report.style import save_figure

    written = []
    for ratio, stem in (("energy_ratio_b_over_a", "tornado_energy"), ("cycle_ratio_b_over_a", "tornado_cycles")):
        ax = plot_tornado(df, ratio)
        written += save_figure(ax.figure, out_dir, stem)
        plt.close(ax.figure)
    return written
