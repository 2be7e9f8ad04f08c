"""Typed errors survive processes: every error class pickles back to the same type with all its
problems, a worker process's error reaches the parent whole (process pool and Dask), and a failed
sweep point records the error type and each problem."""

import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest

from neurosim.errors import ConfigError, NeurosimError, Problem, SourceError, TraceFormatError, UsageError
from neurosim.fsutil import OutputError
from neurosim.results import ResultsError
from neurosim.sweep.runner import execute, run_point
from neurosim.sweep.store import Store

PROBLEMS = [Problem("array.rows", "must be >= 1, got 0"), Problem("dram.type", "must be one of LPDDR4, HBM2"),
            Problem("", "not a mapping")]


def _raise(cls):
    if issubclass(cls, SourceError):
        raise cls("cfg.yaml", PROBLEMS)
    raise cls("a message")


@pytest.mark.parametrize("cls", [ConfigError, TraceFormatError, ResultsError, SourceError, UsageError, OutputError,
                                 NeurosimError])
def test_every_error_pickles_to_the_same_type_with_all_its_problems(cls):
    with pytest.raises(cls) as ei:
        _raise(cls)
    back = pickle.loads(pickle.dumps(ei.value))
    assert type(back) is cls and str(back) == str(ei.value)
    if issubclass(cls, SourceError):
        assert back.source == "cfg.yaml" and back.problems == PROBLEMS
        assert back.lines() == ["cfg.yaml: array.rows: must be >= 1, got 0",
                                "cfg.yaml: dram.type: must be one of LPDDR4, HBM2", "cfg.yaml: not a mapping"]


def test_a_worker_process_error_reaches_the_parent_whole():
    with ProcessPoolExecutor(1) as pool, pytest.raises(ConfigError) as ei:
        pool.submit(_raise, ConfigError).result()
    assert ei.value.source == "cfg.yaml" and ei.value.problems == PROBLEMS


def test_a_dask_worker_error_reaches_the_parent_whole():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client, pytest.raises(ConfigError) as ei:
        client.submit(_raise, ConfigError).result()
    assert ei.value.source == "cfg.yaml" and ei.value.problems == PROBLEMS


def _task(key: str, config_yaml: str) -> dict:
    return {"key": key, "overrides": [["array.rows", 0]], "trace": "traces/tiny_gemm", "role": "point",
            "config_yaml": config_yaml, "per_layer": False}


def test_a_failed_point_records_the_error_type_and_every_problem(tmp_path):
    bad = "name: bad\ndesign: acc_if\nclock_mhz: 0\ntechnology: 45nm\narray: {rows: 0, cols: 8}\n"
    records = execute([_task("a", bad)], Store(tmp_path / "s"), jobs=2)
    rec = records["a"]
    assert rec == run_point(_task("a", bad))  # the worker's record is the in-process one
    assert rec["status"] == "failed" and rec["error_type"] == "ConfigError" and rec["source"] == "point a"
    assert {p["path"] for p in rec["problems"]} == {"clock_mhz", "array.rows"}
    assert all(p["message"].startswith("must be") for p in rec["problems"])
