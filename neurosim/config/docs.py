"""Render the config schema as Markdown tables (kept in ``hw_configs/README.md``; a test checks
the file is current: ``python -m neurosim.config.docs`` prints the tables)."""

from __future__ import annotations

from dataclasses import MISSING

from neurosim.config.hw import DESIGNS
from neurosim.config.schema import field_meta, iter_keys


def _default(f) -> str:
    if f.default is not MISSING:
        return "null" if f.default is None else f"`{list(f.default) if isinstance(f.default, tuple) else f.default}`"
    return "required"


def _range(meta: dict) -> str:
    if meta["choices"]:
        return " \\| ".join(f"`{c}`" for c in meta["choices"])
    if meta["pattern"]:
        return f"`{meta['pattern']}`".replace("|", "\\|")
    lo, hi = meta["lo"], meta["hi"]
    if lo is None and hi is None:
        return ""
    lo_s = "" if lo is None else (f"> {lo:g}" if meta["lo_exclusive"] else f">= {lo:g}")
    hi_s = "" if hi is None else f"<= {hi:g}"
    return ("`auto` or " if meta["auto"] else "") + ", ".join(s for s in (lo_s, hi_s) if s)


def keys_table(design: str) -> str:
    """A Markdown table of every key of one design family, with unit, default, range, meaning."""
    rows = ["| key | unit | default | valid | meaning |", "|---|---|---|---|---|"]
    for path, f, _ in iter_keys(DESIGNS[design]):
        meta = field_meta(f)
        rows.append(f"| `{path}` | {meta['unit']} | {_default(f)} | {_range(meta)} | {meta['doc']} |")
    return "\n".join(rows)


def all_tables() -> str:
    """Tables for every design family, as embedded in ``hw_configs/README.md``."""
    return "\n\n".join(f"### `design: {d}`\n\n{keys_table(d)}" for d in DESIGNS)


if __name__ == "__main__":
    print(all_tables())
