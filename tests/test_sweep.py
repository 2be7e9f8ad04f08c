"""Sweeps: a real SIGKILL mid-sweep then resume; Dask LocalCluster == process pool; every
invalid point reported before anything runs; failing points recorded, not fatal."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from helpers import HANG_GUARD_S

from neurosim.api import sweep
from neurosim.errors import ConfigError
from neurosim.sweep.grid import expand

ROOT = Path(__file__).resolve().parent.parent
BASE = str(ROOT / "hw_configs/tiny_acc_if.yaml")
TRACE = str(ROOT / "traces/smollm2_synth_l1_t32")
GRID = ["array.rows=4,8,16", "array.cols=8,16"]


def _cmd(out, *extra):
    return [sys.executable, "-m", "neurosim", "sweep", "--hw", BASE, "--trace", TRACE,
            *[a for g in GRID for a in ("--grid", g)], "--out", str(out), *extra]


def _finished(out):
    points = Path(out) / "points"
    return len(list(points.glob("*.json"))) if points.exists() else 0


def _table(out):
    return pd.read_csv(Path(out) / "sweep.csv").sort_values(["array.rows", "array.cols"]).reset_index(drop=True)


def test_expand_grid_and_zip():
    rows = expand(["a.x=1,2"], ["b.y=3,4", "c.z=x,y"])
    assert rows == [(("a.x", 1), ("b.y", 3), ("c.z", "x")), (("a.x", 1), ("b.y", 4), ("c.z", "y")),
                    (("a.x", 2), ("b.y", 3), ("c.z", "x")), (("a.x", 2), ("b.y", 4), ("c.z", "y"))]


def test_invalid_points_all_reported_before_running(tmp_path):
    with pytest.raises(ConfigError) as ei:
        sweep(BASE, [TRACE], tmp_path / "o", grid=["array.rows=0,8,-2", "dram.type=LPDDR4,NOPE"])
    paths = [p.path for p in ei.value.problems]
    # 6 points; only (8, LPDDR4) is valid; rows 0/-2 with NOPE have two problems each
    assert len(paths) == 7
    assert {p.split(" ")[1] for p in paths} == {"0", "1", "3", "4", "5"}
    assert not (tmp_path / "o").exists()


def test_failing_point_is_recorded_not_fatal(tmp_path):
    df = sweep(BASE, [TRACE], tmp_path / "o", grid=["spike_memory.salient.index_bits=4,12"], plots=False)
    assert list(df["status"]) == ["failed", "ok"]
    assert "index_bits" in df.loc[0, "error"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    r = subprocess.run(_cmd(out, "--jobs", "2"), capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert r.returncode == 0, r.stderr
    return out


def test_sigkill_then_resume_loses_nothing_and_duplicates_nothing(tmp_path, reference):
    out = tmp_path / "killed"
    proc = subprocess.Popen(_cmd(out, "--jobs", "1"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + HANG_GUARD_S
    while time.time() < deadline and _finished(out) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = _finished(out)
    assert 1 <= done_before < 6, "the kill should land mid-sweep"
    r = subprocess.run(_cmd(out, "--jobs", "2"), capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert r.returncode == 0, r.stderr
    assert len(list((out / "points").glob("*.json"))) == 6
    resumed, ref = _table(out), _table(reference)
    assert len(resumed) == 6 and not resumed.duplicated(["array.rows", "array.cols"]).any()
    pd.testing.assert_frame_equal(resumed, ref)


def test_rerun_skips_finished_points(tmp_path, reference):
    stamp = {p.name: p.stat().st_mtime_ns for p in (reference / "points").glob("*.json")}
    r = subprocess.run(_cmd(reference, "--jobs", "1"), capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert r.returncode == 0
    assert {p.name: p.stat().st_mtime_ns for p in (reference / "points").glob("*.json")} == stamp


def test_dask_local_cluster_equals_process_pool(tmp_path, reference):
    pytest.importorskip("dask.distributed")
    df = sweep(BASE, [TRACE], tmp_path / "dask", grid=GRID, dask_local=2, plots=False)
    assert len(df) == 6
    pd.testing.assert_frame_equal(_table(tmp_path / "dask"), _table(reference))


def test_sweep_outputs_and_baseline(tmp_path):
    df = sweep(BASE, [TRACE], tmp_path / "o", grid=["array.rows=4,8", "threshold.fold=per_token,static"],
               baseline=str(ROOT / "hw_configs/tiny_mac.yaml"), jobs=2)
    assert set(df["baseline"]) == {"tiny_mac"} and (df["energy_ratio_vs_baseline"] > 0).all()
    for f in ("sweep.csv", "pareto.png"):
        assert (tmp_path / "o" / f).stat().st_size > 0
    names = {p.name for p in (tmp_path / "o").glob("heatmap_*.png")}
    assert len(names) == 4 and any(n.endswith("_energy_ratio.png") for n in names)  # energy, latency, two ratios
    from neurosim.report.sweep_plots import pareto_mask, plot_pareto

    ax = plot_pareto(df, ["array.rows", "threshold.fold"])
    labels = [t.get_text() for t in ax.texts if not t.get_text().startswith("x")]
    front = sum(pareto_mask(list(df["schedule_latency_s"]), list(df["energy_pj_total"])))
    assert len(labels) == front and all(t.startswith("array.rows=") for t in labels)
    assert any(t.get_text().startswith("baseline tiny_mac") for t in ax.get_legend().get_texts())
    per_layer = sweep(BASE, [TRACE], tmp_path / "pl", grid=["array.rows=4,8"], per_layer=True, plots=False)
    assert len(per_layer) == 2 * 7 and "layer" in per_layer


def test_sensitivity_rows_equal_separate_runs(tmp_path):
    """Each row's energies and cycles are those of a separate run at the same settings; a key
    one design lacks leaves that design at its config; a second call resumes (runs nothing)."""
    from neurosim.api import sensitivity, simulate
    a, b = str(ROOT / "hw_configs/tiny_mac.yaml"), BASE
    params = ["dram.type=HBM2,DDR4", "array.acc_bits|array.membrane_bits=20", "array.salient_lanes=2"]
    df = sensitivity((a, b), TRACE, tmp_path / "s", params=params, plots=True)
    assert list(df["param"]) == ["(baseline)", "dram.type", "dram.type", "array.acc_bits|array.membrane_bits",
                                 "array.salient_lanes"]
    want = {
        ("(baseline)", ""): ([], []),
        ("dram.type", "HBM2"): (["dram.type=HBM2"], ["dram.type=HBM2"]),
        ("dram.type", "DDR4"): (["dram.type=DDR4"], ["dram.type=DDR4"]),
        ("array.acc_bits|array.membrane_bits", "20"): (["array.acc_bits=20"], ["array.membrane_bits=20"]),
        ("array.salient_lanes", "2"): ([], ["array.salient_lanes=2"]),
    }
    assert sorted(zip(df["param"], df["value"], strict=True)) == sorted(want)
    for _, row in df.iterrows():
        ov_a, ov_b = want[(row["param"], row["value"])]
        ra, rb = simulate(TRACE, a, overrides=ov_a), simulate(TRACE, b, overrides=ov_b)
        assert row["energy_a_pj"] == pytest.approx(ra.energy_pj["total"], rel=1e-12)
        assert row["energy_b_pj"] == pytest.approx(rb.energy_pj["total"], rel=1e-12)
        # the scheduled (overlapped) cycles, the latency the README headlines
        assert (row["cycles_a"], row["cycles_b"]) == (ra.schedule_cycles, rb.schedule_cycles)
        assert row["energy_ratio_b_over_a"] == pytest.approx(rb.energy_pj["total"] / ra.energy_pj["total"])
    assert {p.name for p in (tmp_path / "s").glob("tornado_*")} == {
        "tornado_energy.png", "tornado_energy.svg", "tornado_cycles.png", "tornado_cycles.svg"}
    stored = sorted((tmp_path / "s" / "points").iterdir())
    mtimes = [p.stat().st_mtime_ns for p in stored]
    sensitivity((a, b), TRACE, tmp_path / "s", params=params, plots=False)
    assert [p.stat().st_mtime_ns for p in sorted((tmp_path / "s" / "points").iterdir())] == mtimes


def test_sweep_console_shows_the_table_head_and_the_files(tmp_path, capsys):
    """The console prints the swept keys' rows with latency and energy, and the files it wrote."""
    from neurosim.cli import main

    assert main(["sweep", "--hw", str(ROOT / "hw_configs/tiny_mac.yaml"), "--trace", str(ROOT / "traces/tiny_gemm"),
                 "--grid", "array.rows=4,8", "--out", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out.splitlines()
    head = next(i for i, line in enumerate(out) if "array.rows" in line)
    assert "schedule_latency_s" in out[head] and "energy_pj_total" in out[head]
    assert out[head + 1].split()[0] == "4" and out[head + 2].split()[0] == "8"
    assert any(line.startswith(f"wrote in {tmp_path / 's'}: ") and "sweep.csv" in line for line in out)
