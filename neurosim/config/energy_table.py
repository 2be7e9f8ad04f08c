"""Energy tables: one YAML per technology node, pJ per action, every entry with a source.

A table holds the cited *anchor points* (e.g. Horowitz's 8- and 32-bit adds); the bitwidth and
SRAM-size scaling formulas that interpolate between anchors live in
:mod:`neurosim.energy.scaling`. Shipped tables: ``neurosim/energy_tables/{45nm,28nm,7nm}.yaml``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from neurosim.config.yaml_strict import load_yaml_mapping
from neurosim.errors import ConfigError, Problem
from neurosim.fsutil import short_repr

FORMAT = "neurosim-energy-table/1"
SHIPPED = ("45nm", "28nm", "7nm", "snn-45nm-fp32")
UNITS = ("pJ", "pJ/bit", "pJ/bit/mm", "mW/KiB", "mW/bit", "mW/(GB/s)", "um2/bit", "mm2/KiB", "mm2/bit", "V", "1")
STATUSES = ("V", "S", "D", "U")
#: No action costs a microjoule; a larger value is a typo (and keeps every product finite).
MAX_VALUE = 1e6

#: Every entry a table must define, with its unit. The simulator reads nothing else.
REQUIRED: Mapping[str, str] = MappingProxyType(
    {
        "int_add_8b": "pJ", "int_add_32b": "pJ",
        "int_mul_8x8": "pJ", "int_mul_32x32": "pJ",
        "fp16_add": "pJ", "fp16_mul": "pJ", "fp32_add": "pJ", "fp32_mul": "pJ",
        "convert_i32_fp16": "pJ",
        "register_bit": "pJ/bit",
        "sram_read_e0": "pJ", "sram_read_size_exp": "1", "sram_read_width_exp": "1",
        "sram_write_e0": "pJ", "sram_write_size_exp": "1", "sram_write_width_exp": "1",
        "sram_leak_lstp": "mW/KiB", "sram_leak_hp": "mW/KiB",
        "dram_LPDDR4": "pJ/bit", "dram_HBM2": "pJ/bit", "dram_HMC": "pJ/bit",
        "dram_GDDR5": "pJ/bit", "dram_GDDR6": "pJ/bit", "dram_DDR4": "pJ/bit",
        "wire_repeated": "pJ/bit/mm", "wire_delay_optimal": "pJ/bit/mm", "wire_low_swing": "pJ/bit/mm",
    }
)

#: Entries a table may define; a config that needs one the table lacks gets a clear error there.
#: Logic leakage per cell-bit (``leakage.logic_static_mw: auto``); the area model (all or none);
#: the NoC router's energy per bit; the clock energy per flip-flop and cycle; the DRAM background.
AREA: Mapping[str, str] = MappingProxyType(
    {"area_reg_bit": "um2/bit", "area_adder_bit": "um2/bit", "area_mult_bit": "um2/bit",
     "area_sram_kib": "mm2/KiB", "area_sram_width_bit": "mm2/bit", "area_sram_ports_exp": "1"}
)
#: The DRAM device's background power per GB/s of bandwidth, in standby and in power-down
#: (refresh included), by type: a type without them has no background power charged.
DRAM_BACKGROUND: Mapping[str, str] = MappingProxyType(
    {f"dram_{state}_{t}": "mW/(GB/s)" for state in ("standby", "powerdown")
     for t in ("LPDDR4", "HBM2", "HMC", "GDDR5", "GDDR6", "DDR4")}
)
OPTIONAL: Mapping[str, str] = MappingProxyType(
    {"leak_reg_bit": "mW/bit", "leak_adder_bit": "mW/bit", "leak_mult_bit": "mW/bit", **AREA,
     "noc_router_bit": "pJ/bit",  # a mesh of cores (system.mesh larger than [1, 1])
     "clock_reg_bit": "pJ/bit", **DRAM_BACKGROUND,  # the clock tree; the DRAM's background
     "vth_v": "V", "alpha_power": "1", "leak_v_per_decade": "V", "vmin_v": "V"}  # the voltage-frequency model (dvfs)
)
KNOWN: Mapping[str, str] = MappingProxyType({**REQUIRED, **OPTIONAL})


@dataclass(frozen=True)
class Entry:
    """One table value with its unit, citation and confidence tag (V/S/D/U, see energy.md)."""

    value: float
    unit: str
    source: str
    status: str


@dataclass(frozen=True)
class SramPoint:
    """A CACTI reference point the SRAM fit is checked against (not used by the simulator)."""

    size_kib: float
    width_bits: int
    read_pj: float
    write_pj: float


@dataclass(frozen=True)
class EnergyTable:
    """A validated energy table for one technology node."""

    technology: str
    entries: Mapping[str, Entry]
    sram_points: tuple[SramPoint, ...]
    source_file: str
    vdd_v: float | None = None  # the supply the table's energies hold at

    def __getitem__(self, key: str) -> float:
        return self.entries[key].value

    def __contains__(self, key: str) -> bool:
        return key in self.entries


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _entry(key: str, raw, problems: list[Problem]) -> Entry | None:
    path = f"entries.{key}"
    if not isinstance(raw, dict):
        problems.append(Problem(path, "must be a mapping with value, unit, source, status"))
        return None
    n = len(problems)
    allowed = {"value", "unit", "source", "status"}
    for k in raw:
        if k not in allowed:
            problems.append(Problem(f"{path}.{str(k)[:60]}",
                                    f"unknown key; allowed keys here: {', '.join(sorted(allowed))}"))
    if not _number(raw.get("value")) or not 0 <= raw["value"] <= MAX_VALUE:
        problems.append(Problem(f"{path}.value", f"must be a number from 0 to {MAX_VALUE:g}, "
                                f"got {short_repr(raw.get('value'))}"))
    if raw.get("unit") != KNOWN.get(key, raw.get("unit")) or raw.get("unit") not in UNITS:
        want = KNOWN.get(key, " | ".join(UNITS))
        problems.append(Problem(f"{path}.unit", f"must be {want}, got {short_repr(raw.get('unit'))}"))
    if not isinstance(raw.get("source"), str) or not raw["source"].strip():
        problems.append(Problem(f"{path}.source", "every entry needs a non-empty source citation"))
    if raw.get("status") not in STATUSES:
        problems.append(Problem(f"{path}.status", f"must be one of {', '.join(STATUSES)}"))
    if len(problems) > n:
        return None
    return Entry(float(raw["value"]), raw["unit"], raw["source"], raw["status"])


def _points(raw, problems: list[Problem]) -> tuple[SramPoint, ...]:
    out = []
    if raw is not None and not isinstance(raw, list):
        problems.append(Problem("sram_points", "must be a list of {size_kib, width_bits, read_pj, write_pj}"))
        return ()
    for i, p in enumerate(raw or []):
        keys = ("size_kib", "width_bits", "read_pj", "write_pj")
        if not isinstance(p, dict) or set(p) != set(keys) or not all(_number(p[k]) and 0 < p[k] <= MAX_VALUE
                                                                    for k in keys):
            problems.append(Problem(f"sram_points[{i}]", f"must have positive {', '.join(keys)} and nothing else"))
            continue
        out.append(SramPoint(float(p["size_kib"]), int(p["width_bits"]), float(p["read_pj"]), float(p["write_pj"])))
    return tuple(out)


def parse_energy_table(data: dict, source: str) -> EnergyTable:
    """Validate a parsed energy-table mapping; every problem is reported at once."""
    problems: list[Problem] = []
    allowed = ("format", "technology", "vdd_v", "entries", "sram_points")
    for k in data:
        if k not in allowed:
            problems.append(Problem(str(k)[:60], f"unknown key; allowed keys here: {', '.join(allowed)}"))
    if data.get("format") != FORMAT:
        problems.append(Problem("format", f"must be {FORMAT!r}, got {short_repr(data.get('format'))}"))
    if not isinstance(data.get("technology"), str) or not 0 < len(data["technology"]) <= 64:
        problems.append(Problem("technology", "must be a short string such as 45nm"))
    if "vdd_v" in data and not (_number(data["vdd_v"]) and 0 < data["vdd_v"] <= 10):
        problems.append(Problem("vdd_v", f"must be a supply voltage in volts (0 to 10), got {short_repr(data['vdd_v'])}"))
    raw_entries = data.get("entries")
    entries: dict[str, Entry] = {}
    if not isinstance(raw_entries, dict):
        problems.append(Problem("entries", "must be a mapping of entry name -> {value, unit, source, status}"))
    else:
        for key in REQUIRED:
            if key not in raw_entries:
                problems.append(Problem(f"entries.{key}", "required entry is missing"))
        for key, raw in raw_entries.items():
            if key not in KNOWN:
                problems.append(Problem(f"entries.{str(key)[:60]}",
                                        "unknown entry; the simulator reads only documented ones"))
            elif (e := _entry(key, raw, problems)) is not None:
                entries[key] = e
        present = [k for k in AREA if k in raw_entries]
        if present and len(present) < len(AREA):
            missing = next(k for k in AREA if k not in raw_entries)
            problems.append(Problem(f"entries.{missing}", "the area entries come as a set: "
                                    f"{', '.join(AREA)} (or none of them)"))
    points = _points(data.get("sram_points"), problems)
    if problems:
        raise ConfigError(source, problems)
    return EnergyTable(data["technology"], MappingProxyType(entries), points, source, data.get("vdd_v"))


def shipped_table_path(name: str) -> Path:
    """Path of a shipped table (``45nm``, ``28nm``, ``7nm``)."""
    return Path(str(resources.files("neurosim") / "energy_tables" / f"{name}.yaml"))


def resolve_technology(technology: str, base_dir: Path | None = None) -> str:
    """A shipped node name stays as is; a YAML path becomes absolute and is validated."""
    if technology in SHIPPED:
        return technology
    path = Path(technology)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if path.suffix not in (".yaml", ".yml"):
        raise ConfigError(technology, Problem("", f"not a shipped node ({', '.join(SHIPPED)}) nor a .yaml path"))
    load_energy_table(str(path.resolve()))
    return str(path.resolve())


def load_energy_table(technology: str) -> EnergyTable:
    """Load and validate the table for a node name or an (absolute) YAML path."""
    path = shipped_table_path(technology) if technology in SHIPPED else Path(technology)
    return parse_energy_table(load_yaml_mapping(path), str(path))
