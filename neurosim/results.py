"""Results of one simulation (one trace on one design): frozen, JSON round-trip, files.

Every run writes ``results.json``, ``layers.csv``, ``energy.csv`` and ``config.resolved.yaml``
to its output directory, atomically (temporary directory, then rename); ``neurosim report``
re-renders from those files without simulating again.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from neurosim.errors import Problem, SourceError

RESULTS_FORMAT = "neurosim-results/1"


class ResultsError(SourceError):
    """A results directory is missing or unreadable."""


@dataclass(frozen=True)
class LayerResult:
    """One op on one design."""

    name: str
    kind: str
    M: int
    K: int
    N: int
    tiling: dict[str, Any]
    cycles: int
    compute_cycles: int
    stall_cycles: dict[str, int]
    utilization: float
    counters: dict[str, int]
    memory: dict[str, dict[str, int]]
    energy_pj: dict[str, float]
    check: dict[str, Any] | None = None


@dataclass(frozen=True)
class Results:
    """A whole run: totals, per-layer results and provenance."""

    design: str
    config_name: str
    clock_mhz: float
    technology: str
    total_cycles: int
    compute_cycles: int
    stall_cycles: dict[str, int]
    latency_s: float
    energy_pj: dict[str, float]
    layers: tuple[LayerResult, ...]
    provenance: dict[str, Any]
    format: str = RESULTS_FORMAT

    def to_json(self) -> str:
        d = asdict(self)
        d["layers"] = [asdict(layer) for layer in self.layers]
        return json.dumps(d, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "results.json") -> Results:
        try:
            d = json.loads(text)
            if d.get("format") != RESULTS_FORMAT:
                raise ValueError(f"format must be {RESULTS_FORMAT!r}")
            d["layers"] = tuple(LayerResult(**layer) for layer in d["layers"])
            names = {f.name for f in fields(cls)}
            return cls(**{k: v for k, v in d.items() if k in names})
        except (ValueError, TypeError, KeyError) as e:
            raise ResultsError(source, Problem("", f"not a neurosim results file: {e}")) from None


def layers_csv(r: Results) -> str:
    """One row per layer: shapes, cycles, stalls by cause, utilization, energy by component."""
    causes = sorted({c for layer in r.layers for c in layer.stall_cycles})
    comps = sorted({c for layer in r.layers for c in layer.energy_pj})
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["name", "kind", "M", "K", "N", "cycles", "compute_cycles", *[f"stall_{c}" for c in causes],
                "utilization", *[f"energy_pj_{c}" for c in comps]])
    for layer in r.layers:
        w.writerow([layer.name, layer.kind, layer.M, layer.K, layer.N, layer.cycles, layer.compute_cycles,
                    *[layer.stall_cycles.get(c, 0) for c in causes], f"{layer.utilization:.6f}",
                    *[f"{layer.energy_pj.get(c, 0.0):.6g}" for c in comps]])
    return buf.getvalue()


def energy_csv(r: Results) -> str:
    """Tidy table: layer, component, pJ (plus the whole-run rows with layer ``TOTAL``)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["layer", "component", "energy_pj"])
    for layer in r.layers:
        for comp, pj in layer.energy_pj.items():
            w.writerow([layer.name, comp, f"{pj:.6g}"])
    for comp, pj in r.energy_pj.items():
        w.writerow(["TOTAL", comp, f"{pj:.6g}"])
    return buf.getvalue()


def write_run_dir(out_dir: str | Path, results: Results, resolved_config_yaml: str,
                  extra_files: dict[str, str] | None = None) -> Path:
    """Write the four output files (and ``extra_files``, e.g. a timeline) into ``out_dir``
    atomically, replacing an older run."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        os.chmod(tmp, 0o755)
        (tmp / "results.json").write_text(results.to_json())
        (tmp / "layers.csv").write_text(layers_csv(results))
        (tmp / "energy.csv").write_text(energy_csv(results))
        (tmp / "config.resolved.yaml").write_text(resolved_config_yaml)
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text)
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
            os.rename(out_dir, old)
            os.rename(tmp, out_dir)
            shutil.rmtree(old)
        else:
            os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def read_run_dir(run_dir: str | Path) -> Results:
    """Load ``results.json`` from a run directory."""
    path = Path(run_dir) / "results.json"
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ResultsError(str(path), Problem("", "missing: not a neurosim run directory")) from None
    return Results.from_json(text, str(path))
