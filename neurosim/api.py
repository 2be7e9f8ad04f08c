"""The Python surface notebooks use: ``simulate``, ``run`` (simulate and write run directories),
``sweep``, ``load_results``."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from neurosim.config.hw import HwSpec
from neurosim.config.loader import load_hw_config
from neurosim.config.schema import to_plain
from neurosim.engine.simulate import simulate as _simulate
from neurosim.errors import ConfigError, NeurosimError
from neurosim.fsutil import child, prepare_output_dir, temp_prefix, umask, writing
from neurosim.results import Results, check_run_dir, read_run_dir, write_run_dir
from neurosim.trace.reader import Trace, open_trace, validate_trace


def _spec(hw: str | Path | HwSpec, overrides=()) -> HwSpec:
    return hw if not isinstance(hw, (str, Path)) else load_hw_config(hw, overrides)


@contextmanager
def _config_named(spec: HwSpec, hw) -> Iterator[None]:
    """A problem the engine finds in a config (say, a model that does not fit its mesh) names the
    engine's spec; when the config came from a file, name the file."""
    try:
        yield
    except ConfigError as e:
        if isinstance(hw, (str, Path)) and e.source == spec.name:
            raise ConfigError(str(hw), e.problems) from None
        raise


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
    with _config_named(spec, hw):
        return _simulate(tr, spec, check=check, command=command, config_text=config_text, progress=progress,
                         timeline=timeline, engine=engine)


def run(trace: str | Path | Trace, hws: list, out_dir: str | Path, *, overrides=(), check: bool = False,
        command: str = "", progress=None, timeline: bool | str = False, force: bool = False,
        engine: str = "fast", jobs: int = 1, sources: list | None = None) -> list[Results]:
    """Simulate on each hardware config and write ``out_dir/<config name>/`` for each.

    Every run directory is checked before anything is simulated (it must stay under
    ``out_dir``, be writable, and be a run directory, empty or new unless ``force``); files there
    that neurosim did not write are never removed. ``timeline`` (True = ``auto``, or ``op`` /
    ``tile``) adds ``timeline.json``, a Chrome trace streamed to disk as the run goes.

    ``sources``: the config files ``hws`` were loaded from (specs given, not paths), so that a
    problem the engine finds in a config names its file.

    ``jobs`` > 1 simulates the configs in that many worker processes (a timeline run stays in
    this process). Each config's simulation is the serial one, so the results are identical. A
    worker pays about 1.5 s to start and load the compiled kernels: it pays off on traces that
    take several seconds per config (docs/model.md, Time).
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
    per_config = len(tr.ops) + len(tr.manifest.vector_ops)
    workers = min(jobs, len(specs))
    if workers > 1 and detail is None:
        results = _simulate_parallel(tr.path, specs, workers, per_config, progress,
                                     dict(check=check, command=command, engine=engine))
        for spec, run_dir, r in zip(specs, run_dirs, results, strict=True):
            write_run_dir(run_dir, r, yaml.safe_dump(to_plain(spec), sort_keys=False), {})
        return results
    out = []
    for i, (spec, run_dir) in enumerate(zip(specs, run_dirs, strict=True)):
        extra: dict[str, str | Path] = {}
        # one count over every config: ops x configs
        tick = None if progress is None else (lambda done, _, i=i: progress(i * per_config + done,
                                                                             len(specs) * per_config))
        if detail is None:
            with _config_named(spec, (sources or hws)[i]):
                r = simulate(tr, spec, check=check, verify=False, command=command, progress=tick, engine=engine)
        else:
            r, extra["timeline.json"] = _simulate_with_timeline(tr, spec, run_dir, detail, check=check,
                                                                 command=command, progress=tick, engine=engine)
        write_run_dir(run_dir, r, yaml.safe_dump(to_plain(spec), sort_keys=False), extra)
        out.append(r)
    return out


_PROGRESS = None  # a worker's progress queue (set by _init_worker)


def _init_worker(queue) -> None:
    """Worker set-up: Ctrl-C is the parent's to handle; progress goes to ``queue``."""
    import signal

    global _PROGRESS
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _PROGRESS = queue


def _simulate_one(index: int, trace_path: str, spec: HwSpec, kwargs: dict):
    """Simulate one config in a worker: ("ok", Results) or ("error", message) for a NeurosimError
    (its message travels; the exception object may not pickle)."""
    def tick(done, _total):
        _PROGRESS.put((index, done))
    try:
        return "ok", simulate(trace_path, spec, verify=False, progress=tick, **kwargs)
    except NeurosimError as e:
        return "error", str(e)


def _simulate_parallel(trace_path, specs: list[HwSpec], workers: int, per_config: int, progress,
                       kwargs: dict) -> list[Results]:
    """Every config in its own worker process; progress counts ops over all configs."""
    import multiprocessing
    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

    with multiprocessing.Manager() as manager:
        queue = manager.Queue()
        done = [0] * len(specs)
        with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(queue,)) as pool:
            futures = [pool.submit(_simulate_one, i, str(trace_path), s, kwargs) for i, s in enumerate(specs)]
            pending = set(futures)
            while pending:
                _, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
                while not queue.empty():
                    i, d = queue.get()
                    done[i] = max(done[i], d)
                if progress is not None:
                    progress(sum(done), len(specs) * per_config)
            outcomes = [f.result() for f in futures]
    for status, value in outcomes:
        if status == "error":
            raise NeurosimError(value)
    return [value for _, value in outcomes]


def _simulate_with_timeline(tr: Trace, spec: HwSpec, run_dir: Path, detail: str, **kwargs) -> tuple[Results, Path]:
    """Simulate while streaming the Chrome trace into a temporary file inside ``run_dir``."""
    from neurosim.report.timeline import ChromeTraceWriter

    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix("timeline.json"), dir=run_dir)
    try:
        os.chmod(tmp, 0o666 & ~umask())
        with writing(run_dir / "timeline.json"), os.fdopen(fd, "w", encoding="utf-8", buffering=1 << 20) as f:
            writer = ChromeTraceWriter(f, spec.clock_mhz, detail)
            r = simulate(tr, spec, verify=False, timeline=writer, **kwargs)
            writer.close()
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        if created:
            run_dir.rmdir()
        raise
    return r, Path(tmp)


def sweep(base, traces, out_dir, *, plots: bool = True, **kwargs):
    """Run or resume a sweep (see :func:`neurosim.sweep.runner.sweep`); returns a DataFrame. With
    ``plots`` it also writes ``pareto.png`` and, for a 2-D grid, heatmaps into ``out_dir``."""
    from neurosim.sweep.runner import sweep as _sweep

    df = _sweep(base, traces, out_dir, **kwargs)
    if plots and not df.empty and "energy_pj_total" in df:
        from neurosim.report.sweep_plots import write_sweep_plots

        write_sweep_plots(df, df.attrs["plot_keys"], Path(out_dir))
    return df


def sensitivity(configs, trace, out_dir, *, plots: bool = True, **kwargs):
    """Run or resume a sensitivity study (see :func:`neurosim.sweep.sensitivity.sensitivity`);
    returns a DataFrame. With ``plots`` and every row ok it also writes the tornado plots."""
    from neurosim.sweep.sensitivity import sensitivity as _sensitivity

    df = _sensitivity(configs, trace, out_dir, **kwargs)
    if plots and (df["status"] == "ok").all():
        from neurosim.report.sweep_plots import write_tornado

        write_tornado(df, Path(out_dir))
    return df


def load_results(run_dir: str | Path) -> Results:
    """Results of a finished run directory."""
    return read_run_dir(run_dir)
