"""The Python surface notebooks use: ``simulate``, ``run`` (simulate and write run directories),
``sweep``, ``load_results``."""

from __future__ import annotations

from pathlib import Path

import yaml

from neurosim.config.hw import HwSpec
from neurosim.config.loader import load_hw_config
from neurosim.config.schema import to_plain
from neurosim.engine.simulate import simulate as _simulate
from neurosim.errors import NeurosimError
from neurosim.results import Results, read_run_dir, write_run_dir
from neurosim.trace.reader import Trace, open_trace, validate_trace


def _spec(hw: str | Path | HwSpec, overrides=()) -> HwSpec:
    return hw if not isinstance(hw, (str, Path)) else load_hw_config(hw, overrides)


def _trace(trace: str | Path | Trace, verify: bool) -> Trace:
    if isinstance(trace, Trace):
        return trace
    return validate_trace(trace) if verify else open_trace(trace)


def simulate(trace: str | Path | Trace, hw: str | Path | HwSpec, *, overrides=(), check: bool = False,
             verify: bool = True, command: str = "", progress=None, timeline=None) -> Results:
    """Replay ``trace`` (a directory or an opened Trace) on ``hw`` (a config path or spec).

    ``verify`` runs the full trace validation (checksums, code ranges) first; ``check`` adds the
    functional check (ops with weight codes); ``timeline`` collects busy intervals if a list.
    """
    spec = _spec(hw, overrides)
    tr = _trace(trace, verify)
    config_text = yaml.safe_dump(to_plain(spec), sort_keys=False)
    return _simulate(tr, spec, check=check, command=command, config_text=config_text, progress=progress,
                     timeline=timeline)


def run(trace: str | Path | Trace, hws: list, out_dir: str | Path, *, overrides=(), check: bool = False,
        command: str = "", progress=None, timeline: bool = False) -> list[Results]:
    """Simulate on each hardware config and write ``out_dir/<config name>/`` for each; with
    ``timeline``, also ``timeline.json`` (Chrome trace of the schedule)."""
    specs = [_spec(h, overrides) for h in hws]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise NeurosimError(f"two --hw configs share a name ({', '.join(names)}): output directories would collide")
    tr = _trace(trace, verify=True)
    out = []
    for spec in specs:
        intervals: list | None = [] if timeline else None
        r = simulate(tr, spec, check=check, verify=False, command=command, progress=progress, timeline=intervals)
        extra = {}
        if timeline:
            import json

            from neurosim.report.timeline import chrome_trace

            extra["timeline.json"] = json.dumps(chrome_trace(intervals, spec.clock_mhz))
        write_run_dir(Path(out_dir) / spec.name, r, yaml.safe_dump(to_plain(spec), sort_keys=False), extra)
        out.append(r)
    return out


def sweep(base, traces, out_dir, **kwargs):
    """Run or resume a sweep (see :func:`neurosim.sweep.runner.sweep`); returns a DataFrame."""
    from neurosim.sweep.runner import sweep as _sweep

    return _sweep(base, traces, out_dir, **kwargs)


def load_results(run_dir: str | Path) -> Results:
    """Results of a finished run directory."""
    return read_run_dir(run_dir)
