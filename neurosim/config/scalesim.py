"""Import a SCALE-Sim ``.cfg`` (INI) as a neurosim MAC config, so that a SCALE-Sim study reruns
with energy (its GEMM topologies already import with ``synth --topology``).

What comes from the ``.cfg`` (``[architecture_presets]``): ``ArrayHeight`` / ``ArrayWidth`` ->
``array.rows`` / ``array.cols``, ``Dataflow`` (os, ws; SCALE-Sim's is, input stationary, is not
modelled), ``IfmapSramSzkB`` / ``FilterSramSzkB`` / ``OfmapSramSzkB`` -> ``act_sram`` /
``weight_sram`` / ``output_sram`` sizes, ``MemoryBanks`` (v3, default 1) -> each SRAM's banks,
and with ``[run_presets] InterfaceBandwidth: USER`` the ``Bandwidth`` in words per cycle -> the
DRAM bandwidth at the clock (one word = one byte, SCALE-Sim's default); ``CALC`` (SCALE-Sim's
stall-free bandwidth) becomes a DRAM fast enough never to stall (:data:`CALC_GBPS`, no latency).
``[general] run_name`` names the config.

What SCALE-Sim does not describe comes from ``hw_configs/mac_64x64_os.yaml`` and is listed in the
written file's header: clock, technology (energy table), operand widths (8-bit words),
dequantization, the DRAM type and the interconnect.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import yaml

from neurosim.errors import ConfigError, Problem
from neurosim.fsutil import read_text_input

#: DRAM bandwidth standing in for SCALE-Sim's stall-free CALC bandwidth.
CALC_GBPS = 10_000.0
WORD_BYTES = 1


def _template() -> dict:
    """What SCALE-Sim leaves unsaid, as the shipped ``hw_configs/mac_64x64_os.yaml`` has it (a
    test keeps the two equal)."""
    return {
        "name": "", "design": "mac", "clock_mhz": 500, "technology": "28nm",
        "array": {"rows": 64, "cols": 64, "dataflow": "os", "act_bits": 4, "weight_bits": 4, "acc_bits": "auto"},
        "dequant": {"mode": "fused", "spill_to": "dram", "scale_multiplies": 2},
        "requant": {"out_bits": 4},
        "act_sram": {"size_kib": 160, "banks": 8, "ports": 1, "width_bits": 64, "latency_cycles": 1},
        "weight_sram": {"size_kib": 512, "banks": 16, "ports": 1, "width_bits": 128, "latency_cycles": 2},
        "output_sram": {"size_kib": 96, "banks": 8, "ports": 1, "width_bits": 128, "latency_cycles": 1},
        "dram": {"type": "LPDDR4", "bandwidth_gbps": 12.8, "latency_ns": 100, "burst_bytes": 64},
        "interconnect": {"width_bits": 256, "wire_length_mm": 1.0, "wire": "repeated", "activity": 0.5},
        "leakage": {"sram_cell": "lstp", "logic_static_mw": "auto"},
    }


def mac_config_from_scalesim(path: str | Path) -> dict:
    """The MAC config (a plain mapping for YAML) equivalent to a SCALE-Sim ``.cfg``; every problem
    names the file and the key."""
    path = Path(path)
    cp = configparser.ConfigParser()
    try:
        cp.read_string(read_text_input(path, ConfigError))
    except configparser.Error as e:
        raise ConfigError(str(path), Problem("", f"not a SCALE-Sim .cfg (INI): {str(e).splitlines()[0]}")) from None
    arch = "architecture_presets"
    if not cp.has_section(arch):
        raise ConfigError(str(path), Problem(f"[{arch}]", "section is missing"))
    problems: list[Problem] = []

    def number(key: str, default=None, lo: float = 1) -> float | None:
        raw = cp.get(arch, key, fallback=None)
        if raw is None:
            if default is None:
                problems.append(Problem(f"{arch}.{key}", "required key is missing"))
            return default
        try:
            v = float(raw.strip())
        except ValueError:
            problems.append(Problem(f"{arch}.{key}", f"must be a number, got {raw.strip()[:40]!r}"))
            return default
        if v < lo or v != v:
            problems.append(Problem(f"{arch}.{key}", f"must be at least {lo:g}, got {raw.strip()[:40]}"))
        return v

    rows, cols = number("ArrayHeight"), number("ArrayWidth")
    sizes = {k: number(k) for k in ("IfmapSramSzkB", "FilterSramSzkB", "OfmapSramSzkB")}
    banks = number("MemoryBanks", 1)
    dataflow = cp.get(arch, "Dataflow", fallback="os").strip().lower()
    if dataflow not in ("os", "ws"):
        problems.append(Problem(f"{arch}.Dataflow", f"must be os or ws (input stationary is not modelled), "
                                f"got {dataflow[:20]!r}"))
    mode = cp.get("run_presets", "InterfaceBandwidth", fallback="CALC").strip().upper()
    if mode not in ("CALC", "USER"):
        problems.append(Problem("run_presets.InterfaceBandwidth", f"must be CALC or USER, got {mode[:20]!r}"))
    words_per_cycle = number("Bandwidth", 10) if mode == "USER" else None
    if problems:
        raise ConfigError(str(path), problems)
    cfg = _template()
    raw_name = cp.get("general", "run_name", fallback=path.stem).strip() or path.stem
    cfg["name"] = re.sub(r"[^A-Za-z0-9._+-]", "_", raw_name).lstrip("._+-")[:64] or "scalesim"
    cfg["array"].update(rows=int(rows), cols=int(cols), dataflow=dataflow, act_bits=8, weight_bits=8)
    for sram, key in (("act_sram", "IfmapSramSzkB"), ("weight_sram", "FilterSramSzkB"), ("output_sram", "OfmapSramSzkB")):
        cfg[sram].update(size_kib=sizes[key], banks=int(banks))
    if words_per_cycle is None:
        cfg["dram"].update(bandwidth_gbps=CALC_GBPS, latency_ns=0)
    else:
        cfg["dram"]["bandwidth_gbps"] = words_per_cycle * WORD_BYTES * cfg["clock_mhz"] / 1000
    return cfg


def scalesim_yaml(path: str | Path) -> str:
    """The YAML text of the imported config, with a header saying what came from where."""
    cfg = mac_config_from_scalesim(path)
    header = (f"# Imported from the SCALE-Sim config {Path(path).name} by neurosim import-scalesim.\n"
              "# From the .cfg: name, array rows/cols/dataflow, SRAM sizes and banks, DRAM bandwidth "
              f"(CALC: {CALC_GBPS:g} GB/s, no latency).\n"
              "# Not in SCALE-Sim, from hw_configs/mac_64x64_os.yaml: clock, technology, 8-bit operands "
              "(one word = one byte), dequant/requant, DRAM type, SRAM widths, interconnect, leakage.\n")
    return header + yaml.safe_dump(cfg, sort_keys=False)
