"""Render every shipped energy table, entry by entry with its value, status and source, as the
Markdown of ``docs/energy_sources.md`` (a test keeps the file current:
``python -m neurosim.energy.sources_doc`` prints it)."""

from __future__ import annotations

from pathlib import Path

import yaml

TABLES = Path(__file__).resolve().parent.parent / "energy_tables"

STATUS = {
    "V": "confirmed in a primary artifact read in full (a tool's source or data file, a paper's abstract)",
    "S": "seen only in secondary transcriptions that agree; the primary could not be read",
    "D": "derived: by a stated formula, or from CACTI-7 runs",
    "U": "unverified: recalled or from one non-authoritative place; check before citing",
}


def render() -> str:
    """The page: the status tags, then one table per node."""
    out = ["# Energy sources", "",
           "Every number of every shipped energy table (`neurosim/energy_tables/`), with its status and its "
           "source as the table states it. `energy.md` sections (a.1, b.3, ...) refer to the project's research "
           "notes on energy; the primary citations are given in each source.", "", "Status tags:", ""]
    out += [f"- **{k}**: {v}" for k, v in STATUS.items()]
    for path in sorted(TABLES.glob("*.yaml")):
        t = yaml.safe_load(path.read_text())
        out += ["", f"## {t['technology']} (`{path.name}`)", "", "| entry | value | unit | status | source |",
                "|---|---|---|---|---|"]
        for name, e in t["entries"].items():
            src = str(e.get("source", "")).replace("|", "\\|")
            out.append(f"| `{name}` | {e['value']:g} | {e.get('unit', '')} | {e.get('status', '')} | {src} |")
        if t.get("sram_points"):
            out += ["", "SRAM points the fit is checked against (pJ per access):", "",
                    "| size (KiB) | width (bits) | read | write |", "|---|---|---|---|"]
            out += [f"| {p['size_kib']:g} | {p['width_bits']} | {p['read_pj']:g} | {p['write_pj']:g} |"
                    for p in t["sram_points"]]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(render(), end="")
