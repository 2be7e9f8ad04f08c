"""The Python surface notebooks use: ``simulate``, ``run`` (simulate and write run directories),
``sweep``, ``load_results``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from neurosim.config.hw import HwSpec
from neurosim.config.loader import load_hw_config
from neurosim.config.schema import to_plain
from neurosim.engine.simulate import simulate as _simulate
from neurosim.errors import NeurosimError
from neurosim.fsutil import child, prepare_output_dir, umask
from neurosim.results import Results, check_run_dir, read_run_dir, write_run_dir
from neurosim.trace.reader import Trace, open_trace, validate_trace


def _spec(hw: str | Path | HwSpec, overrides=()) -> HwSpec:
    return hw if not isinstance(hw, (str, Path)) else load_hw_config(hw, overrides)


def _trace(trace: str | Path | Trace, verify: bool) -> Trace:
    if isinstance(trace, Trace):
        return trace
    return validate_trace(trace) if verify else open_trace(trace)


def simulate(trace: str | Path | Trace, hw: str | Path | HwSpec, *, overrides=(), check: bool = False,
             verify: bool = True, command: str = "", progress=None, timeline=None, engine: str = "fast") -> Results:
    """Replay ``trace`` (a directory or an opened Trace) on ``hw`` (a config path or spec).

    ``verify`` runs the full trace validation (checksums, code ranges) first; ``check`` adds the
    functional check (ops with weight codes); ``timeline`` is an optional sink of busy intervals;
    ``engine`` is ``fast`` (compiled tile pipeline) or ``reference`` (simpy; the same cycles)
    (see :func:`neurosim.engine.simulate.simulate`).
    """
    spec = _spec(hw, overrides)
    tr = _trace(trace, verify)
    config_text = yaml.safe_dump(to_plain(spec), sort_keys=False)
    return _simulate(tr, spec, check=check, command=command, config_text=config_text, progress=progress,
                     timeline=timeline, engine=engine)


def run(trace: str | Path | Trace, hws: list, out_dir: str | Path, *, overrides=(), check: bool = False,
        command: str = "", progress=None, timeline: bool | str = False, force: bool = False,
        engine: str = "fast") -> list[Results]:
    """Simulate on each hardware config and write ``out_dir/<config name>/`` for each.

    Every run directory is checked before anything is simulated (it must stay under
    ``out_dir``, be writable, and be a run directory, empty or new unless ``force``); files there
    that neurosim did not write are never removed. ``timeline`` (True = ``auto``, or ``op`` /
    ``tile``) adds ``timeline.json``, a Chrome trace streamed to disk as the run goes.
    """
    specs = [_spec(h, overrides) for h in hws]
    names = [s.name.casefold() for s in specs]
    if len(set(names)) != len(names):
        raise NeurosimError(f"two --hw configs share a name ({', '.join(s.name for s in specs)}): "
                            "output directories would collide")
    tr = _trace(trace, verify=True)
    prepare_output_dir(out_dir)
    run_dirs = [check_run_dir(child(out_dir, s.name), force) for s in specs]
    detail = None
    if timeline:
        from neurosim.report.timeline import resolve_detail

        detail = resolve_detail("auto" if timeline is True else timeline, sum(op.M * op.K * op.N for op in tr.ops))
    out = []
    per_config = len(tr.ops) + len(tr.manifest.vector_ops)
    for i, (spec, run_dir) in enumerate(zip(specs, run_dirs, strict=True)):
        extra: dict[str, str | Path] = {}
        # one count over every config: ops x configs
        tick = None if progress is None else (lambda done, _, i=i: progress(i * per_config + done,
                                                                             len(specs) * per_config))
        if detail is None:
            r = simulate(tr, spec, check=check, verify=False, command=command, progress=tick, engine=engine)
        else:
            r, extra["timeline.json"] = _simulate_with_timeline(tr, spec, run_dir, detail, check=check,
                                                                 command=command, progress=tick, engine=engine)
        write_run_dir(run_dir, r, yaml.safe_dump(to_plain(spec), sort_keys=False), extra)
        out.append(r)
    return out


def _simulate_with_timeline(tr: Trace, spec: HwSpec, run_dir: Path, detail: str, **kwargs) -> tuple[Results, Path]:
    """Simulate while streaming the Chrome trace into a temporary file inside ``run_dir``."""
    from neurosim.report.timeline import ChromeTraceWriter

    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".timeline.json.tmp-", dir=run_dir)
    try:
        os.chmod(tmp, 0o666 & ~umask())
        with os.fdopen(fd, "w", encoding="utf-8", buffering=1 << 20) as f:
            writer = ChromeTraceWriter(f, spec.clock_mhz, detail)
            r = simulate(tr, spec, verify=False, timeline=writer, **kwargs)
            writer.close()
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        if created:
            run_dir.rmdir()
        raise
    return r, Path(tmp)


def sweep(base, traces, out_dir, **kwargs):
    """Run or resume a sweep (see :func:`neurosim.sweep.runner.sweep`); returns a DataFrame."""
    from neurosim.sweep.runner import sweep as _sweep

    return _sweep(base, traces, out_dir, **kwargs)


def load_results(run_dir: str | Path) -> Results:
    """Results of a finished run directory."""
    return read_run_dir(run_dir)
