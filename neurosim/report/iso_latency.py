"""The equal-latency view of a comparison (``compare --iso-latency``): both designs at the slower
one's latency, the faster at the lowest clock and supply that meet it
(:mod:`neurosim.sweep.iso_latency`), with energy and energy x delay."""

from __future__ import annotations

from neurosim.report.style import fmt_energy
from neurosim.result_types import Results


def _row(label: str, r: Results) -> dict:
    op = r.operating_point or {"clock_mhz": r.clock_mhz, "supply_v": float("nan")}
    e_pj, t_s = r.energy_pj["total"], r.scheduled_latency_s
    return {"run": label, "config": r.config_name, "clock_mhz": op["clock_mhz"], "supply_v": op["supply_v"],
            "latency_s": t_s, "energy_pj": e_pj, "edp_pj_s": e_pj * t_s}


def iso_rows(a: Results, b: Results, iso_run: Results, faster_is_b: bool) -> list[dict]:
    """A and B as run, then the faster one at the slower one's latency (``iso_run``)."""
    fast = "B" if faster_is_b else "A"
    return [_row("A", a), _row("B", b), _row(f"{fast} at iso-latency", iso_run)]


def iso_ratios(a: Results, b: Results, iso_run: Results, faster_is_b: bool) -> dict[str, float]:
    """E_B/E_A and EDP_B/EDP_A with the faster design at the slower one's latency."""
    a_iso, b_iso = (a, iso_run) if faster_is_b else (iso_run, b)
    ra, rb = _row("A", a_iso), _row("B", b_iso)
    return {"energy_b_over_a": rb["energy_pj"] / ra["energy_pj"], "edp_b_over_a": rb["edp_pj_s"] / ra["edp_pj_s"]}


def iso_text(rows: list[dict], ratios: dict[str, float]) -> str:
    """The console table of :func:`iso_rows` and :func:`iso_ratios`."""
    lines = ["", "at equal latency (the faster design at the lowest clock and supply that meet the slower one's "
             "latency; docs/model.md, Operating point):",
             f"  {'run':<20} {'config':<28} {'MHz':>8} {'V':>6} {'latency':>11} {'energy':>10} {'E x delay':>12}"]
    for r in rows:
        lines.append(f"  {r['run']:<20} {r['config']:<28} {r['clock_mhz']:>8.1f} {r['supply_v']:>6.3f} "
                     f"{r['latency_s'] * 1e3:>8.4f} ms {fmt_energy(r['energy_pj']):>10} {r['edp_pj_s'] * 1e-12:>10.4g} Js")
    if rows[2]["latency_s"] < 0.99 * max(rows[0]["latency_s"], rows[1]["latency_s"]):
        lines.append("  (the supply reached the table's vmin_v: the faster design runs at the fastest clock there "
                     "and finishes early)")
    lines.append(f"  at equal latency: E_B/E_A {ratios['energy_b_over_a']:.3f}, EDP_B/EDP_A {ratios['edp_b_over_a']:.3f}")
    return "\n".join(lines)
