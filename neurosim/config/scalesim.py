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
written file's header: clock, technology (energy table), operand widths (8-bit words, and 8-bit
requantized outputs to match), dequantization, the DRAM type and the interconnect. The header
also names what the import ignores (sections other than ``[general]``, ``[architecture_presets]``
and ``[run_presets]``, e.g. ``[layout]`` and ``[sparsity]``) and the template values that move the
answer (the DRAM latency under ``USER`` bandwidth: SCALE-Sim has none); ``import-scalesim`` prints
those as warnings.
"""

from __future__ import annotations

import configparser
import math
import re
from pathlib import Path

import yaml

from neurosim.errors import ConfigError, Problem
from neurosim.fsutil import read_text_input

#: DRAM bandwidth standing in for SCALE-Sim's stall-free CALC bandwidth.
CALC_GBPS = 10_000.0
WORD_BYTES = 1
#: Largest number a .cfg key may hold (sizes in KiB, array sides, words per cycle).
MAX_VALUE = 1 << 24
#: The sections the import reads; any other is named in the header as ignored.
KNOWN_SECTIONS = ("general", "architecture_presets", "run_presets")


def _template() -> dict:
    """What SCALE-Sim leaves unsaid, as the shipped ``hw_configs/mac_64x64_os.yaml`` has it (a
    test keeps the two equal)."""
    return {
        "name": "", "design": "mac", "clock_mhz": 500, "technology": "28nm",
        "array": {"rows": 64, "cols": 64, "dataflow": "os", "act_bits": 4, "weight_bits": 4, "acc_bits": "auto"},
        "dequant": {"mode": "fused", "spill_to": "dram", "scale_multiplies": 2},
        "requant": {"out_bits": 4},  # the import sets 8: one SCALE-Sim word
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
    cp = configparser.ConfigParser(interpolation=None)  # a '%' in a value is a character, not a reference
    try:
        cp.read_string(read_text_input(path, ConfigError))
    except configparser.Error as e:
        raise ConfigError(str(path), Problem("", f"not a SCALE-Sim .cfg (INI): {str(e).splitlines()[0]}")) from None
    arch = "architecture_presets"
    if not cp.has_section(arch):
        raise ConfigError(str(path), Problem(f"[{arch}]", "section is missing"))
    problems: list[Problem] = []

    def number(key: str, default=None, lo: float = 1, integer: bool = True) -> float | None:
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
        if not math.isfinite(v) or v < lo or v > MAX_VALUE:
            problems.append(Problem(f"{arch}.{key}", f"must be a finite number from {lo:g} to {MAX_VALUE:g}, got "
                                    f"{raw.strip()[:40]}"))
            return default
        if integer and v != int(v):
            problems.append(Problem(f"{arch}.{key}", f"must be a whole number, got {raw.strip()[:40]}"))
        return v

    rows, cols = number("ArrayHeight"), number("ArrayWidth")
    sizes = {k: number(k, integer=False) for k in ("IfmapSramSzkB", "FilterSramSzkB", "OfmapSramSzkB")}
    banks = number("MemoryBanks", 1)
    dataflow = cp.get(arch, "Dataflow", fallback="os").strip().lower()
    if dataflow not in ("os", "ws"):
        problems.append(Problem(f"{arch}.Dataflow", f"must be os or ws (input stationary is not modelled), "
                                f"got {dataflow[:20]!r}"))
    mode = cp.get("run_presets", "InterfaceBandwidth", fallback="CALC").strip().upper()
    if mode not in ("CALC", "USER"):
        problems.append(Problem("run_presets.InterfaceBandwidth", f"must be CALC or USER, got {mode[:20]!r}"))
    words_per_cycle = number("Bandwidth", 10, integer=False) if mode == "USER" else None
    if problems:
        raise ConfigError(str(path), problems)
    cfg = _template()
    raw_name = cp.get("general", "run_name", fallback=path.stem).strip() or path.stem
    cfg["name"] = re.sub(r"[^A-Za-z0-9._+-]", "_", raw_name).lstrip("._+-")[:64] or "scalesim"
    cfg["array"].update(rows=int(rows), cols=int(cols), dataflow=dataflow, act_bits=8, weight_bits=8)
    cfg["requant"]["out_bits"] = 8
    for sram, key in (("act_sram", "IfmapSramSzkB"), ("weight_sram", "FilterSramSzkB"), ("output_sram", "OfmapSramSzkB")):
        cfg[sram].update(size_kib=sizes[key], banks=int(banks))
    if words_per_cycle is None:
        cfg["dram"].update(bandwidth_gbps=CALC_GBPS, latency_ns=0)
    else:
        cfg["dram"]["bandwidth_gbps"] = words_per_cycle * WORD_BYTES * cfg["clock_mhz"] / 1000
    return cfg


def import_notes(path: str | Path) -> list[str]:
    """What the import ignores or inherits that can move the answer (warnings and header lines)."""
    cp = configparser.ConfigParser(interpolation=None)
    cp.read_string(read_text_input(Path(path), ConfigError))
    notes = [f"section [{sec}] is ignored (neurosim models dense operands and its own SRAM layout)"
             for sec in cp.sections() if sec not in KNOWN_SECTIONS]
    if cp.get("run_presets", "InterfaceBandwidth", fallback="CALC").strip().upper() == "USER":
        notes.append(f"dram.latency_ns {_template()['dram']['latency_ns']} comes from the template (SCALE-Sim has no "
                     "DRAM latency): every DRAM transfer pays it; set dram.latency_ns: 0 to match SCALE-Sim")
    return notes


def scalesim_yaml(path: str | Path) -> tuple[str, list[str]]:
    """The YAML text of the imported config, with a header saying what came from where (and the
    import's notes, also returned for the console)."""
    cfg = mac_config_from_scalesim(path)
    notes = import_notes(path)
    calc = cfg["dram"]["bandwidth_gbps"] == CALC_GBPS and cfg["dram"]["latency_ns"] == 0
    bw = (f"CALC: stall-free, {CALC_GBPS:g} GB/s and no latency" if calc else
          f"USER: {cfg['dram']['bandwidth_gbps']:g} GB/s = Bandwidth words/cycle x 1 byte x {cfg['clock_mhz']} MHz")
    header = (f"# Imported from the SCALE-Sim config {Path(path).name} by neurosim import-scalesim.\n"
              f"# From the .cfg: name, array rows/cols/dataflow, SRAM sizes and banks, DRAM bandwidth ({bw}).\n"
              "# Not in SCALE-Sim, from hw_configs/mac_64x64_os.yaml: clock, technology, 8-bit operands and "
              "outputs (one word = one byte), dequant, DRAM type and latency, SRAM widths, interconnect, leakage.\n"
              + "".join(f"# Note: {n}.\n" for n in notes))
    return header + yaml.safe_dump(cfg, sort_keys=False), notes
