"""Run directories: the files of one simulation's :class:`Results` (the frozen types and their
JSON live in :mod:`neurosim.result_types`, re-exported here as the public names).

Every run writes ``results.json``, ``layers.csv``, ``energy.csv`` and ``config.resolved.yaml``
to its output directory, each file atomically, without touching other files there;
``neurosim report`` re-renders from those files without simulating again.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from pathlib import Path

from neurosim.energy.categories import category
from neurosim.errors import Problem
from neurosim.fsutil import (
    OutputError,
    atomic_write_text,
    clean_stale,
    prepare_output_dir,
    read_text_input,
    user_entries,
)
from neurosim.result_types import RESULTS_FORMAT, LayerResult, Results, ResultsError

__all__ = ["RESULTS_FORMAT", "LayerResult", "Results", "ResultsError", "check_run_dir", "energy_csv", "layers_csv",
           "read_run_dir", "write_run_dir"]


def layers_csv(r: Results) -> str:
    """One row per layer: shapes, tiling, cycles, stalls by cause, busy fraction (``utilization``),
    spatial utilization, energy by component."""
    causes = sorted({c for layer in r.layers for c in layer.stall_cycles})
    comps = sorted({c for layer in r.layers for c in layer.energy_pj})
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["name", "kind", "M", "K", "N", "tile_Mb", "tile_Kb", "tile_Nb", "cycles", "compute_cycles",
                *[f"stall_{c}" for c in causes], "utilization", "spatial_utilization", *[f"energy_pj_{c}" for c in comps]])
    for layer in r.layers:
        t = layer.tiling
        w.writerow([layer.name, layer.kind, layer.M, layer.K, layer.N, t.get("Mb", ""), t.get("Kb", ""), t.get("Nb", ""),
                    layer.cycles, layer.compute_cycles, *[layer.stall_cycles.get(c, 0) for c in causes],
                    f"{layer.utilization:.6f}",
                    "" if layer.spatial_utilization is None else f"{layer.spatial_utilization:.6f}",
                    *[f"{layer.energy_pj.get(c, 0.0):.6g}" for c in comps]])
    return buf.getvalue()


#: The columns of energy.csv (docs/results.md).
ENERGY_COLUMNS = ("scope", "layer", "phase", "step", "category", "component", "action", "count", "pj_per_count",
                  "energy_pj")


def _action_rows(scope: str, layer: str, phase: str, step: str, by_action: dict[str, float],
                 counts: dict[str, int]) -> list[list[str]]:
    """One row per action of one scope: its count and pJ per count when it is counted (the
    time-proportional entries, leakage, clock and DRAM background, have none)."""
    rows = []
    for action, pj in by_action.items():
        component, _, what = action.partition(".")
        n = counts.get(action)
        if pj or n:  # the op's actions, not every action the chip has
            rows.append([scope, layer, phase, step, category(action), component, what or component,
                         "" if n is None else str(n), f"{pj / n:.6g}" if n else "", f"{pj:.12g}"])
    return rows


def energy_csv(r: Results) -> str:
    """Tidy long table, one row per (op, action) with ``scope`` ``op`` and per whole-run action
    with ``scope`` ``run``: sum ``energy_pj`` over one scope, never over both (a run row holds the
    op rows' total, plus what a chip charges to no op: its mesh and links)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(ENERGY_COLUMNS)
    run_counts: dict[str, int] = {}
    for layer in r.layers:
        for k, v in layer.counters.items():
            run_counts[k] = run_counts.get(k, 0) + v
        w.writerows(_action_rows("op", layer.name, layer.phase, str(layer.step), layer.energy_by_action_pj or {},
                                 layer.counters))
    w.writerows(_action_rows("run", "", "", "", r.energy_by_action_pj or {}, run_counts))
    return buf.getvalue()


#: Files a run writes only when asked (``extra_files``); a stale one from an earlier run is removed.
OPTIONAL_RUN_FILES = ("timeline.json",)
#: Written first into every run directory: marks it as neurosim's even when a run was killed
#: before results.json was written.
RUN_MARKER = ".neurosim-run"


def check_run_dir(out_dir: str | Path, force: bool = False) -> Path:
    """Refuse (before simulating) a run directory that cannot be written, or that holds files of
    someone else's without ``force``; clean temporaries a killed run left behind."""
    out_dir = Path(out_dir)
    clean_stale(out_dir.parent, out_dir.name)  # an older neurosim swapped whole directories
    if out_dir.exists() or out_dir.is_symlink():
        if not out_dir.is_dir() or out_dir.is_symlink():
            raise OutputError(f"{out_dir}: exists and is not a directory")
        clean_stale(out_dir)
        entries = [e for e in user_entries(out_dir) if e.name != RUN_MARKER]  # hidden files are the user's too
        ours = (out_dir / RUN_MARKER).is_file() or (out_dir / "results.json").is_file()
        if entries and not ours and not force:
            raise OutputError(f"{out_dir}: exists, holds files and is not a neurosim run directory "
                              "(pass --force to write into it; no file of yours is removed)")
        return prepare_output_dir(out_dir)
    prepare_output_dir(out_dir.parent)
    return out_dir


def write_run_dir(out_dir: str | Path, results: Results, resolved_config_yaml: str,
                  extra_files: dict[str, str | Path] | None = None) -> Path:
    """Write the run files into ``out_dir``, each atomically; other files there are kept.

    Nothing else there is removed or replaced. ``results.json`` goes first out and last in, so a
    run killed half-way never leaves a results.json beside files of another run.
    ``extra_files`` maps a name from OPTIONAL_RUN_FILES to its text, or to a finished temporary
    file in ``out_dir`` that is renamed into place; one of those an earlier run wrote and this run
    does not is removed.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results_text = results.to_json()
    (out_dir / RUN_MARKER).write_text("written by neurosim; files of yours here are never removed\n")
    extra = dict(extra_files or {})
    for stale in ("results.json", *(n for n in OPTIONAL_RUN_FILES if n not in extra)):
        with contextlib.suppress(FileNotFoundError):
            (out_dir / stale).unlink()
    atomic_write_text(out_dir / "layers.csv", layers_csv(results))
    atomic_write_text(out_dir / "energy.csv", energy_csv(results))
    atomic_write_text(out_dir / "config.resolved.yaml", resolved_config_yaml)
    for name, content in extra.items():
        if isinstance(content, Path):
            os.replace(content, out_dir / name)
        else:
            atomic_write_text(out_dir / name, content)
    atomic_write_text(out_dir / "results.json", results_text)
    return out_dir


def read_run_dir(run_dir: str | Path) -> Results:
    """Load ``results.json`` from a run directory."""
    path = Path(run_dir) / "results.json"
    if not Path(run_dir).is_dir():
        raise ResultsError(str(run_dir), Problem("", "not a neurosim run directory (not a directory): "
                                                 "give OUT/<config name>"))
    if not path.exists() and not path.is_symlink():
        raise ResultsError(str(path), Problem("", "missing: not a neurosim run directory, or its run did not finish"))
    return Results.from_json(read_text_input(path, ResultsError), str(path))
