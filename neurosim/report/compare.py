"""Compare two finished runs of one trace: where the energy and the cycles go.

The energy difference is a waterfall from A's total to B's total, one step per group of actions
(:func:`neurosim.energy.categories.group`: compute, registers, each SRAM, interconnect, DRAM,
static, control units); the steps sum to the difference of the totals. The cycle difference is
split into compute cycles and each stall cause. Both are also given per layer type (the op's
name within its decoder block, e.g. ``q_proj``) and in the three energy views.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from neurosim.energy.categories import CATEGORIES, VIEWS, group, group_category, views
from neurosim.errors import NeurosimError
from neurosim.fsutil import atomic_write_text
from neurosim.report.style import CATEGORY_COLOURS, energy_unit, fig_width, fmt_energy, save_figure
from neurosim.report.summary import layer_type, whole_inference
from neurosim.results import Results


@dataclass(frozen=True)
class Step:
    """One row of a comparison: a name with A's and B's value."""

    name: str
    a: float
    b: float

    @property
    def delta(self) -> float:
        return self.b - self.a


@dataclass(frozen=True)
class Comparison:
    """A against B; see the module docstring."""

    a: Results
    b: Results
    energy_steps: tuple[Step, ...]
    actions: tuple[Step, ...]
    cycle_steps: tuple[Step, ...]
    views: tuple[Step, ...]
    layer_types: tuple[tuple[str, Step, Step], ...]  # (type, energy, cycles)

    @property
    def energy_ratio(self) -> float:
        return self.b.energy_pj["total"] / self.a.energy_pj["total"]

    @property
    def cycle_ratio(self) -> float:
        """B / A of the scheduled (overlapped) cycles, the latency the README headlines."""
        return self.b.scheduled_cycles / self.a.scheduled_cycles


def _actions(r: Results, what: str) -> dict[str, float]:
    if r.energy_by_action_pj is None:
        raise NeurosimError(f"{what} ({r.config_name}) has no energy by action (a run of neurosim < 0.3): "
                            "re-run it to compare")
    return r.energy_by_action_pj


def _grouped(by_action: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for action, pj in by_action.items():
        out[group(action)] = out.get(group(action), 0.0) + pj
    return out


def _order(name: str) -> tuple[int, str]:
    return CATEGORIES.index(group_category(name)), name


def compare(a: Results, b: Results) -> Comparison:
    """Compare run ``b`` with run ``a`` (both of the same trace)."""
    sa, sb = a.provenance.get("trace_manifest_sha256"), b.provenance.get("trace_manifest_sha256")
    if sa != sb or [la.name for la in a.layers] != [la.name for la in b.layers]:
        raise NeurosimError(f"compare: the runs replayed different traces ({a.config_name}: "
                            f"{a.provenance.get('trace', '?')}; {b.config_name}: {b.provenance.get('trace', '?')}); "
                            "compare runs of one trace")
    act_a, act_b = _actions(a, "run A"), _actions(b, "run B")
    ga, gb = _grouped(act_a), _grouped(act_b)
    steps = tuple(Step(g, ga.get(g, 0.0), gb.get(g, 0.0)) for g in sorted(set(ga) | set(gb), key=_order))
    actions = tuple(sorted((Step(k, act_a.get(k, 0.0), act_b.get(k, 0.0)) for k in set(act_a) | set(act_b)),
                           key=lambda s: (-abs(s.delta), s.name)))  # ties by name: the same order every run
    causes = sorted(c for c in set(a.stall_cycles) | set(b.stall_cycles) if a.stall_cycles.get(c) or b.stall_cycles.get(c))
    cycles = (Step("compute", a.compute_cycles, b.compute_cycles),
              *(Step(f"stall: {c}", a.stall_cycles.get(c, 0), b.stall_cycles.get(c, 0)) for c in causes))
    va, vb = views(act_a), views(act_b)
    types: dict[str, list[float]] = {}
    for la, lb in zip(a.layers, b.layers, strict=True):
        t = types.setdefault(layer_type(la.name), [0.0, 0.0, 0, 0])
        t[0] += la.energy_pj["total"]
        t[1] += lb.energy_pj["total"]
        t[2] += la.cycles
        t[3] += lb.cycles
    return Comparison(a, b, steps, actions, cycles, tuple(Step(v, va[v], vb[v]) for v in VIEWS),
                      tuple((t, Step("energy", v[0], v[1]), Step("cycles", v[2], v[3])) for t, v in types.items()))


def _ratio(step: Step) -> str:
    return f"{step.b / step.a:.2f}x" if step.a else "-"


def summary_sentences(c: Comparison) -> list[str]:
    """A few plain sentences: the totals and the groups that move them most."""
    A, B = c.a.config_name, c.b.config_name
    e_word = "less" if c.energy_ratio < 1 else "more"
    diff = fmt_energy(abs(c.b.energy_pj["total"] - c.a.energy_pj["total"]))
    out = [f"{B} uses {c.energy_ratio:.2f}x the energy of {A} ({diff} {e_word}) and takes {c.cycle_ratio:.2f}x "
           "its cycles."]
    saves = sorted((s for s in c.energy_steps if s.delta < 0), key=lambda s: s.delta)[:2]
    costs = sorted((s for s in c.energy_steps if s.delta > 0), key=lambda s: -s.delta)[:2]
    parts = []
    if saves:
        parts.append(f"{B} spends " + " and ".join(f"{fmt_energy(-s.delta)} less on {s.name}" for s in saves))
    if costs:
        parts.append(("but " if saves else f"{B} spends ") + " and ".join(f"{fmt_energy(s.delta)} more on {s.name}"
                                                                         for s in costs))
    if parts:
        out.append(" ".join(parts) + ".")
    cyc = sorted(c.cycle_steps, key=lambda s: -abs(s.delta))[:2]
    out.append("Cycles: " + "; ".join(f"{s.name} {s.a:,.0f} -> {s.b:,.0f}" for s in cyc) + ".")
    v = {s.name: s for s in c.views}
    out.append(f"Energy ratio {B}/{A} by view: full {_ratio(v['full'])}, on-chip {_ratio(v['on_chip'])}, "
               f"compute-only {_ratio(v['compute_only'])}.")
    if c.a.area_mm2 and c.b.area_mm2:
        out.append(f"Area: {A} {c.a.area_mm2['total']:.4g} mm^2, {B} {c.b.area_mm2['total']:.4g} mm^2 "
                   f"({c.b.area_mm2['total'] / c.a.area_mm2['total']:.2f}x).")
    return out


def compare_text(c: Comparison) -> str:
    """The console report of a comparison."""
    A, B = c.a.config_name, c.b.config_name
    lines = [f"compare A = {A} ({c.a.design}) with B = {B} ({c.b.design}) on {c.a.provenance.get('trace', '?')}",
             f"ratios are B / A ({B} over {A}; above 1: A uses less)", *summary_sentences(c), "",
             f"energy waterfall, A -> B ({'step':<22} {'A':>12} {'B':>12} {'B - A':>12})",
             f"  {'A total':<22} {fmt_energy(c.a.energy_pj['total']):>12}"]
    for s in c.energy_steps:
        lines.append(f"  {s.name:<22} {_or_dash(s.a):>12} {_or_dash(s.b):>12} {_signed(s.delta):>12}")
    lines += [f"  {'B total':<22} {'':>12} {fmt_energy(c.b.energy_pj['total']):>12}", "",
              "largest changes by action:"]
    for s in c.actions[:8]:
        lines.append(f"  {s.name:<34} {_or_dash(s.a):>12} {_or_dash(s.b):>12} {_signed(s.delta):>12}")
    lines += ["", f"cycles, A -> B {'':<12} {'A':>14} {'B':>14} {'B - A':>14}"]
    for s in c.cycle_steps:
        lines.append(f"  {s.name:<26} {s.a:>14,.0f} {s.b:>14,.0f} {s.delta:>+14,.0f}")
    lines.append(f"  {'total, ops one after another':<26} {c.a.total_cycles:>14,} {c.b.total_cycles:>14,} "
                 f"{c.b.total_cycles - c.a.total_cycles:>+14,}  ({c.b.total_cycles / c.a.total_cycles:.2f}x)")
    lines.append(f"  {'scheduled (ops overlapped)':<26} {c.a.scheduled_cycles:>14,} {c.b.scheduled_cycles:>14,} "
                 f"{c.b.scheduled_cycles - c.a.scheduled_cycles:>+14,}  ({c.cycle_ratio:.2f}x)")
    lines += ["", f"per layer type {'':<12} {'E_B/E_A':>9} {'cyc_B/cyc_A':>12}"]
    for t, e, cy in c.layer_types:
        lines.append(f"  {t:<26} {_ratio(e):>9} {_ratio(cy):>12}")
    lines += ["", "energy views (A, B, B/A):"]
    for s in c.views:
        lines.append(f"  {s.name:<26} {fmt_energy(s.a):>12} {fmt_energy(s.b):>12} {_ratio(s):>9}")
    lines += phase_lines(c.a, c.b)
    return "\n".join(lines)


def phase_lines(a: Results, b: Results) -> list[str]:
    """Whole-inference figures of A and B side by side (nothing for prefill-only linear traces)."""
    if not (whole_inference(a) and whole_inference(b)):
        return []
    rows = [("time to first token (s)", a.inference["ttft_s"], b.inference["ttft_s"], "{:.4g}")]
    if "decode_tokens_per_s" in a.inference and "decode_tokens_per_s" in b.inference:
        rows.append(("decode tokens/s", a.inference["decode_tokens_per_s"], b.inference["decode_tokens_per_s"], "{:.4g}"))
    for ph in ("prefill", "decode"):
        if ph in a.phases and ph in b.phases:
            rows.append((f"{ph}: energy per token", a.phases[ph]["energy_pj"] / a.phases[ph]["tokens"],
                         b.phases[ph]["energy_pj"] / b.phases[ph]["tokens"], None))
    rows.append(("KV cache read (DRAM bits)", a.inference["kv_read_bits"], b.inference["kv_read_bits"], "{:,.0f}"))
    out = ["", "by phase (A, B, B/A):"]
    for name, va, vb, fmt in rows:
        show = fmt_energy if fmt is None else fmt.format
        ratio = f"{vb / va:.2f}x" if va else "-"
        out.append(f"  {name:<26} {show(va):>14} {show(vb):>14} {ratio:>9}")
    return out


def _or_dash(pj: float) -> str:
    """A design without the component shows ``-``, not 0 pJ."""
    return fmt_energy(pj) if pj else "-"


def _signed(pj: float) -> str:
    return ("+" if pj >= 0 else "-") + fmt_energy(abs(pj))


def compare_dict(c: Comparison) -> dict:
    """compare.json: every table of the comparison, in pJ and cycles."""
    def rows(steps):
        return [{"name": s.name, "a": s.a, "b": s.b, "delta": s.delta} for s in steps]
    return {
        "format": "neurosim-compare/1", "a": c.a.config_name, "b": c.b.config_name,
        "trace": c.a.provenance.get("trace"), "energy_ratio_b_over_a": c.energy_ratio,
        "cycle_ratio_b_over_a": c.cycle_ratio, "summary": summary_sentences(c),
        "energy_waterfall_pj": rows(c.energy_steps), "energy_by_action_pj": rows(c.actions),
        "cycles": rows(c.cycle_steps), "energy_views_pj": rows(c.views),
        "layer_types": [{"type": t, "energy_a_pj": e.a, "energy_b_pj": e.b, "cycles_a": cy.a, "cycles_b": cy.b}
                        for t, e, cy in c.layer_types],
        "area_mm2": {"a": c.a.area_mm2, "b": c.b.area_mm2},
    }


def plot_waterfall(c: Comparison, ax=None):
    """The energy waterfall from A's total to B's total, steps coloured by category."""
    import matplotlib.pyplot as plt

    steps = [s for s in c.energy_steps if s.delta]
    ax = ax if ax is not None else plt.figure(figsize=(fig_width(len(steps) + 2, 0.9), 4.5)).gca()
    top = max(c.a.energy_pj["total"], c.b.energy_pj["total"])
    unit, f = energy_unit(top)
    level = c.a.energy_pj["total"]
    ax.bar(0, level / f, color="#444444")
    for i, s in enumerate(steps, 1):
        bottom = min(level, level + s.delta)
        ax.bar(i, abs(s.delta) / f, bottom=bottom / f, color=CATEGORY_COLOURS[group_category(s.name)],
               edgecolor="black", linewidth=0.5, hatch="//" if s.delta > 0 else None)
        ax.annotate(("+" if s.delta > 0 else "-") + f"{abs(s.delta) / f:.3g}", (i, (bottom + abs(s.delta)) / f),
                    ha="center", va="bottom", fontsize=7)
        level += s.delta
    n = len(steps) + 1
    ax.bar(n, c.b.energy_pj["total"] / f, color="#444444")
    ax.set_xticks(range(n + 1), [f"A: {c.a.config_name}", *[s.name for s in steps], f"B: {c.b.config_name}"],
                  rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(f"energy ({unit})")
    ax.set_ylim(0, 1.1 * top / f)
    ax.set_title(f"energy A -> B: {c.energy_ratio:.2f}x (hatched: B spends more)")
    from matplotlib.patches import Patch

    used = dict.fromkeys(group_category(s.name) for s in steps)
    ax.legend(handles=[Patch(color=CATEGORY_COLOURS[k], label=k) for k in used], fontsize=7, loc="upper left",
              bbox_to_anchor=(1.01, 1))
    return ax


def plot_waterfall_deltas(c: Comparison, ax=None):
    """The waterfall's steps alone, each a signed bar from zero (B - A), then their sum: small
    deltas that vanish beside the totals of :func:`plot_waterfall` show here at their own scale."""
    import matplotlib.pyplot as plt

    steps = [s for s in c.energy_steps if s.delta]
    ax = ax if ax is not None else plt.figure(figsize=(fig_width(len(steps) + 1, 0.9), 4.5)).gca()
    net = c.b.energy_pj["total"] - c.a.energy_pj["total"]
    unit, f = energy_unit(max([abs(s.delta) for s in steps] + [abs(net), 1e-12]))
    for i, s in enumerate(steps):
        ax.bar(i, s.delta / f, color=CATEGORY_COLOURS[group_category(s.name)], edgecolor="black", linewidth=0.5,
               hatch="//" if s.delta > 0 else None)
    ax.bar(len(steps), net / f, color="#444444")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(steps) + 1), [s.name for s in steps] + ["B - A"], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(f"B - A energy ({unit})")
    ax.set_title(f"energy differences, B = {c.b.config_name} minus A = {c.a.config_name} (hatched: B spends more)")
    return ax


def write_comparison(c: Comparison, out_dir) -> list:
    """compare.json, compare.txt, the waterfall and its deltas alone (PNG and SVG) into ``out_dir``."""
    import matplotlib.pyplot as plt

    written = [atomic_write_text(Path(out_dir) / "compare.json", json.dumps(compare_dict(c), indent=1, allow_nan=False)),
               atomic_write_text(Path(out_dir) / "compare.txt", compare_text(c) + "\n")]
    for plot, stem in ((plot_waterfall, "waterfall"), (plot_waterfall_deltas, "waterfall_deltas")):
        ax = plot(c)
        written += save_figure(ax.figure, out_dir, stem)
        plt.close(ax.figure)
    if whole_inference(c.a) and whole_inference(c.b):
        from neurosim.report.plots import plot_phases

        ax = plot_phases([c.a, c.b])
        written += save_figure(ax.figure, out_dir, "phases")
        plt.close(ax.figure)
    return written


def waterfall_residual(c: Comparison) -> float:
    """B's total minus A's total minus the sum of the steps (zero up to float rounding)."""
    return (c.b.energy_pj["total"] - c.a.energy_pj["total"]) - math.fsum(s.delta for s in c.energy_steps)
