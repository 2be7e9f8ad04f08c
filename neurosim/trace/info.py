"""Text rendering of ``neurosim trace info``: ops with shapes and spike statistics."""

from __future__ import annotations

from neurosim.trace.reader import Trace
from neurosim.trace.stats import trace_stats


def _bytes(bits: int) -> str:
    b = bits / 8
    for unit in ("B", "KiB", "MiB", "GiB"):
        if b < 1024 or unit == "GiB":
            return f"{b:.1f} {unit}" if unit != "B" else f"{int(b)} B"
        b /= 1024
    return ""


def format_info(trace: Trace) -> str:
    """A human-readable summary: producer, recipe, per-op shapes and statistics, totals."""
    m = trace.manifest
    r = m.recipe
    stats = trace_stats(trace)
    lines = [
        f"trace {trace.path}  (format v{m.version}{', synthetic' if m.synthetic else ''})",
        f"model {m.producer.model}; tokens {m.producer.tokens}; source {m.producer.text_source or '-'}",
        f"recipe W{r.weight_bits}A{r.act_bits}, salient {r.salient_bits}-bit by {r.salient_rule}"
        f"({r.salient_param:g}); normal codes |q| <= {r.normal_max}"
        + (f"; normal step clipped to {r.act_clip:g} of the max" if r.act_clip != 1.0 else "")
        + (f"; salient codes on the normal step x 2^0..2^{r.salient_shift_max} per entry "
           f"({r.shift_bits}-bit shift field)" if r.salient_shift_max else ""),
    ]
    own = sorted({op.act_clip for op in m.ops if op.act_clip is not None})
    if own:
        lines.append(f"{sum(op.act_clip is not None for op in m.ops)} ops with their own clip of the normal step: "
                     + ", ".join(f"{c:g}" for c in own))
    if m.extra.get("recipe_name"):
        lines.append(f"recipe name {m.extra['recipe_name']}"
                     + (f"; calibration {m.extra['calibration']['which']}" if m.extra.get("calibration") else ""))
    if m.synthetic:
        lines.append("activation model: " + ", ".join(f"{k}={v}" for k, v in m.synthetic_model.items()))
    hdr = f"{'op':<34} {'kind':<7} {'M':>6} {'K':>6} {'N':>6} {'spikes':>12} {'spk/act':>7} {'salient':>8} {'zeros':>7} {'W':>2}"
    lines += ["", hdr, "-" * len(hdr)]
    for op in m.ops:
        s = stats[op.act_codes]
        lines.append(f"{op.name:<34} {op.kind:<7} {op.M:>6} {op.K:>6} {op.N:>6} {s.spikes:>12,} {s.mean_spikes:>7.3f} "
                     f"{s.salient_ratio:>8.3%} {s.zero_fraction:>7.2%} {'y' if op.weight_codes else '-':>2}")
    entries = sum(s.entries for s in stats.values())
    spikes = sum(s.spikes for s in stats.values())
    salient = sum(s.salient for s in stats.values())
    zeros = sum(s.zeros for s in stats.values())
    bitplane = sum(s.bitplane_spikes for s in stats.values())
    by_class: dict[str, int] = {}
    for s in stats.values():
        for k, v in s.storage_bits(r).items():
            cls = k.split("+")[0]
            by_class[cls] = by_class.get(cls, 0) + v
    lines += [
        "",
        f"activation tensors: {len(stats)} (shared inputs counted once), {entries:,} codes",
        f"total spikes (count encoding): {spikes:,}; bitplane encoding: {bitplane:,}",
        f"mean spikes per activation: {spikes / entries:.3f}",
        f"salient ratio: {salient / entries:.3%}; zero fraction: {zeros / entries:.2%}",
        "activation storage by bitwidth class: "
        + "; ".join(f"{k} {_bytes(v)}" for k, v in by_class.items())
        + " (salient entries carry a column index)",
    ]
    lines += ["", "by layer type (ops named ...<type>; shared inputs counted for each op that reads them):",
              f"  {'type':<10} {'ops':>4} {'salient':>9} {'spk/act':>8} {'zeros':>7}"]
    for kind, ss in by_type(trace, stats).items():
        n = sum(s.entries for s in ss)
        lines.append(f"  {kind:<10} {len(ss):>4} {sum(s.salient for s in ss) / n:>9.3%} "
                     f"{sum(s.spikes for s in ss) / n:>8.3f} {sum(s.zeros for s in ss) / n:>7.2%}")
    return "\n".join(lines)


def by_type(trace: Trace, stats: dict) -> dict[str, list]:
    """Per-op input statistics grouped by the last part of the op name (q_proj, down_proj, ...)."""
    out: dict[str, list] = {}
    for op in trace.manifest.ops:
        out.setdefault(op.name.rsplit(".", 1)[-1], []).append(stats[op.act_codes])
    return out
