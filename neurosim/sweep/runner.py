"""Run sweep points on a local process pool or on Dask distributed; each finished point is
stored at once. Points already in the store are skipped, so re-running resumes."""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import yaml

from neurosim.config.loader import spec_from_mapping
from neurosim.config.schema import to_plain
from neurosim.errors import NeurosimError, UsageError, error_record
from neurosim.fsutil import check_output_dir
from neurosim.sweep.grid import Point, expand, parse_axis, validate_points
from neurosim.sweep.store import Store, point_key
from neurosim.trace.reader import open_trace, validate_trace

STATUS_OK, STATUS_FAILED = "ok", "failed"


def run_point(task: dict) -> dict:
    """Simulate one (config, trace) point in a worker; never raises (errors become records)."""
    from neurosim.engine.simulate import simulate

    base = {"key": task["key"], "overrides": task["overrides"], "trace": task["trace"], "role": task["role"]}
    try:
        spec = spec_from_mapping(yaml.safe_load(task["config_yaml"]), f"point {task['key']}")
        r = simulate(open_trace(task["trace"]), spec, config_text=task["config_yaml"])
        rec = {**base, "status": STATUS_OK, "config_name": spec.name, "design": spec.design,
               "total_cycles": r.total_cycles, "compute_cycles": r.compute_cycles, "latency_s": r.latency_s,
               "schedule_cycles": r.scheduled_cycles, "schedule_latency_s": r.scheduled_latency_s,
               "energy_pj": r.energy_pj, "area_mm2": r.area_mm2["total"] if r.area_mm2 else None}
        if task["per_layer"]:
            rec["layers"] = [{"layer": la.name, "M": la.M, "K": la.K, "N": la.N, "cycles": la.cycles,
                              "compute_cycles": la.compute_cycles, "energy_pj_total": la.energy_pj["total"]}
                             for la in r.layers]
        return rec
    except NeurosimError as e:
        return {**base, "status": STATUS_FAILED, **error_record(e)}
    except Exception as e:  # noqa: BLE001 - a failing point is recorded, not fatal to the sweep
        return {**base, "status": STATUS_FAILED, **error_record(e), "error": traceback.format_exc(limit=3)}


def tasks_for(points: list[Point], traces: list[str], per_layer: bool, role: str) -> list[dict]:
    """One task per (point, trace), keyed by the resolved config and the trace."""
    out = []
    for tr in traces:
        manifest_sha = hashlib.sha256((Path(tr) / "manifest.json").read_bytes()).hexdigest()
        for p in points:
            cfg = yaml.safe_dump(to_plain(p.spec), sort_keys=False)
            out.append({"key": point_key(cfg, manifest_sha, str(Path(tr).resolve())),
                        "overrides": [[k, v] for k, v in p.overrides],
                        "config_yaml": cfg, "trace": tr, "per_layer": per_layer, "role": role})
    return out


def rows(records: list[dict], per_layer: bool) -> list[dict]:
    """The tidy table: override values as columns, totals, energy by component, baseline ratios."""
    base = {r["trace"]: r for r in records if r["role"] == "baseline" and r["status"] == STATUS_OK}
    out = []
    def order(r):
        return r["trace"], [(0, v, "") if isinstance(v, (int, float)) else (1, 0, str(v)) for _, v in r["overrides"]]

    for r in sorted((r for r in records if r["role"] == "point"), key=order):
        # a list value (system.mesh: [4, 4]) is one cell: written as 4x4, so the table can group by it
        row = {**{k: "x".join(map(str, v)) if isinstance(v, list) else v for k, v in r["overrides"]},
               "trace": r["trace"], "status": r["status"]}
        if r["status"] != STATUS_OK:
            out.append({**row, "error_type": r.get("error_type", ""), "error": r["error"]})
            continue
        row.update(config_name=r["config_name"], design=r["design"], total_cycles=r["total_cycles"],
                   compute_cycles=r["compute_cycles"], latency_s=r["latency_s"], schedule_cycles=r["schedule_cycles"],
                   schedule_latency_s=r["schedule_latency_s"], area_mm2=r.get("area_mm2"),
                   **{f"energy_pj_{c}": v for c, v in sorted(r["energy_pj"].items())})
        if r["trace"] in base:
            b = base[r["trace"]]
            row["baseline"] = b["config_name"]
            row["energy_ratio_vs_baseline"] = r["energy_pj"]["total"] / b["energy_pj"]["total"]
            row["latency_ratio_vs_baseline"] = r["schedule_latency_s"] / b["schedule_latency_s"]
            if r.get("area_mm2") and b.get("area_mm2"):
                row["area_ratio_vs_baseline"] = r["area_mm2"] / b["area_mm2"]
        if per_layer:
            out += [{**row, **layer} for layer in r["layers"]]
        else:
            out.append(row)
    return out


def _worker_init(parent_pid: int) -> None:
    """Worker set-up: Ctrl-C is the parent's to handle (no worker tracebacks), and a worker whose
    parent died (SIGKILL gives it no chance to shut the pool down) exits on its own."""
    _ignore_sigint()

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="neurosim-parent-watch").start()


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


SCHEDULER_TIMEOUT_S = 20


def _executor(jobs: int, dask_local: int | None, scheduler: str | None):
    """(submit, as_completed, close) for the chosen backend."""
    if dask_local or scheduler:
        try:
            from dask.distributed import Client, LocalCluster
            from dask.distributed import as_completed as dask_completed
        except ImportError:
            raise UsageError("Dask backends need the 'dist' extra: pip install -e '.[dist]'") from None
        if scheduler:
            try:
                client = Client(scheduler, timeout=f"{SCHEDULER_TIMEOUT_S}s")
            except (OSError, TimeoutError, ValueError) as e:
                raise UsageError(f"--scheduler {scheduler}: no Dask scheduler answered within "
                                 f"{SCHEDULER_TIMEOUT_S} s ({type(e).__name__}: {str(e)[:120]})") from None
            cluster = None
        else:
            cluster = LocalCluster(n_workers=dask_local, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=logging.CRITICAL)
            client = Client(cluster)
            client.run(_ignore_sigint)

        def close():
            client.close()
            if cluster is not None:
                cluster.close()
        return (lambda t: client.submit(run_point, t, pure=False)), dask_completed, close
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_worker_init, initargs=(os.getpid(),))
    return (lambda t: pool.submit(run_point, t)), as_completed, lambda: pool.shutdown(cancel_futures=True)


def execute(tasks: list[dict], store: Store, *, jobs: int = 1, dask_local: int | None = None,
            scheduler: str | None = None, progress=None, after_each=None) -> dict[str, dict]:
    """Run the tasks not yet stored as finished on the chosen backend, storing each record as it
    comes; returns ``{key: record}`` for every task. ``after_each(records)`` runs after each."""
    keys = {t["key"] for t in tasks}  # a table holds this run's points only
    records = {r["key"]: r for r in store.records() if r["key"] in keys}
    # a point is done when stored ok by this version (records before 0.3 lack the schedule's latency)
    todo = list({t["key"]: t for t in tasks if records.get(t["key"], {}).get("status") != STATUS_OK
                 or "schedule_cycles" not in records[t["key"]]}.values())
    if todo:
        # one worker per pending point at most: a spare one would only start and wait
        submit, completed, close = _executor(min(jobs, len(todo)), dask_local and min(dask_local, len(todo)),
                                             scheduler)
        try:
            futures = [submit(t) for t in todo]
            for i, fut in enumerate(completed(futures), 1):
                rec = fut.result()
                store.put(rec["key"], rec)
                records[rec["key"]] = rec
                if after_each:
                    after_each(list(records.values()))
                if progress:
                    progress(i, len(todo))
        finally:
            close()
    return records


def iso_area_candidates(base: str | Path, points: list[Point], iso_area: str) -> tuple[str, list[list[Point]]]:
    """``--iso-area KEY=V1,V2,...``: KEY and, per point, its validated candidates (one per value)."""
    key, values = parse_axis(iso_area, "--iso-area")
    if any(key == k for k, _ in (points[0].overrides if points else ())):
        raise UsageError(f"--iso-area {key}: the key is also swept by --grid/--zip")
    return key, [validate_points(base, [p.overrides + ((key, v),) for v in values]) for p in points]


def iso_area_points(points: list[Point], key: str, candidates: list[list[Point]], baseline: str | Path,
                    trace: str, tolerance: float) -> tuple[list[Point], list[dict]]:
    """For each point, the candidate whose chip area is the largest not above the baseline's
    area x (1 + ``tolerance``) on ``trace`` (areas as built for that trace). Returns the chosen
    points and a failed record for each point no candidate fits."""
    from neurosim.engine.simulate import chip_area_mm2

    tr = open_trace(trace)
    target = chip_area_mm2(validate_points(baseline, [()])[0].spec, tr)
    if target is None:
        raise UsageError(f"--iso-area: the baseline's energy table ({baseline}) has no area entries")
    limit = target["total"] * (1 + tolerance)
    chosen, failed = [], []
    for p, cands in zip(points, candidates, strict=True):
        areas = [chip_area_mm2(c.spec, tr) for c in cands]
        if any(a is None for a in areas):
            raise UsageError(f"--iso-area: point ({p.label()}) uses an energy table without area entries")
        fits = [(a["total"], c) for a, c in zip(areas, cands, strict=True) if a["total"] <= limit]
        if fits:
            chosen.append(max(fits, key=lambda ac: ac[0])[1])
        else:
            smallest = min(a["total"] for a in areas)
            failed.append({"overrides": [[k, v] for k, v in p.overrides], "trace": trace, "role": "point",
                           "status": STATUS_FAILED,
                           "error": f"--iso-area {key}: no value fits the baseline's {target['total']:.4g} mm^2 "
                                    f"(+{tolerance:.0%}); the smallest candidate gives {smallest:.4g} mm^2"})
    return chosen, failed


def sweep(base: str | Path, traces: list[str | Path], out_dir: str | Path, *, grid=(), zipped=(), jobs: int = 1,
          dask_local: int | None = None, scheduler: str | None = None, baseline: str | Path | None = None,
          per_layer: bool = False, progress=None, iso_area: str | None = None, iso_area_tolerance: float = 0.02,
          force: bool = False):
    """Run (or resume) a sweep; returns the table as a pandas DataFrame (its ``attrs["plot_keys"]``:
    the swept keys; :func:`neurosim.api.sweep` also draws the plots).

    With ``iso_area`` (``KEY=V1,V2,...``, needs ``baseline``) each point is sized to the
    baseline's area: of the candidate values of KEY, the one giving the largest chip area not
    above the baseline's x (1 + ``iso_area_tolerance``) is run (:func:`iso_area_points`; areas are
    taken on each trace, so a point may be sized differently per trace)."""
    import pandas as pd

    points = validate_points(base, expand(list(grid), list(zipped)))
    if iso_area is not None and baseline is None:
        raise UsageError("--iso-area needs --baseline (the config whose area every point matches)")
    iso_key, candidates = iso_area_candidates(base, points, iso_area) if iso_area is not None else (None, [])
    check_output_dir(out_dir, force, evidence=("points",))
    traces = [str(Path(t)) for t in traces]
    for t in traces:
        validate_trace(t)
    tasks, presized = [], []
    for t in traces:
        run = points
        if iso_key is not None:
            run, failed = iso_area_points(points, iso_key, candidates, baseline, t, iso_area_tolerance)
            presized += failed
        tasks += tasks_for(run, [t], per_layer, "point")
    if baseline is not None:
        tasks += tasks_for(validate_points(baseline, [()]), traces, per_layer, "baseline")
    for i, rec in enumerate(presized):
        rec["key"] = f"iso-area-unfit-{i}"
    store = Store(out_dir)
    records = execute(tasks, store, jobs=jobs, dask_local=dask_local, scheduler=scheduler, progress=progress,
                      after_each=lambda recs: store.write_table(rows(recs + presized, per_layer), parquet=False))
    table = rows(list(records.values()) + presized, per_layer)
    store.write_table(table)
    df = pd.DataFrame(table)
    # the swept keys, for the plots the caller draws (neurosim.api.sweep: reports sit above sweeps)
    df.attrs["plot_keys"] = [k for k, _ in points[0].overrides] if points else []
    if iso_key is not None:
        df.attrs["plot_keys"].append(iso_key)
    return df
