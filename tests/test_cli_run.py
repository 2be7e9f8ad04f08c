"""`neurosim run` / `neurosim report` through a real subprocess; results files and round trip."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import HANG_GUARD_S

from neurosim.results import Results, read_run_dir

ROOT = Path(__file__).resolve().parent.parent


def run(*args):
    return subprocess.run([sys.executable, "-m", "neurosim", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=HANG_GUARD_S)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    r = run("run", "traces/smollm2_synth_l1_t32", "--hw", "hw_configs/acc_if_64x64.yaml", "--hw",
            "hw_configs/mac_64x64_os.yaml", "--out", out, "--check")
    assert r.returncode == 0, r.stderr
    return out, r.stdout


def test_run_writes_the_four_files_per_config(run_dir):
    out, stdout = run_dir
    for name in ("acc_if_64x64", "mac_64x64_os"):
        d = out / name
        assert {p.name for p in d.iterdir()} == {".neurosim-run", "results.json", "layers.csv", "energy.csv",
                                                 "config.resolved.yaml"}
        res = json.loads((d / "results.json").read_text())
        for key in ("design", "clock_mhz", "total_cycles", "compute_cycles", "stall_cycles", "latency_s", "energy_pj",
                    "layers", "provenance"):
            assert key in res
        layer = res["layers"][0]
        for key in ("name", "kind", "M", "K", "N", "tiling", "cycles", "compute_cycles", "stall_cycles",
                    "utilization", "counters", "memory", "energy_pj"):
            assert key in layer
        assert res["energy_pj"]["total"] == pytest.approx(sum(v for k, v in res["energy_pj"].items() if k != "total"))
        assert res["total_cycles"] == sum(la["cycles"] for la in res["layers"])
        assert set(res["provenance"]) >= {"neurosim_version", "config_sha256", "trace_manifest_sha256", "command"}
        assert res["provenance"]["energy_table"] == "neurosim/energy_tables/28nm.yaml"  # no machine paths
        assert not res["provenance"]["trace"].startswith("/")
        assert yaml.safe_load((d / "config.resolved.yaml").read_text())["name"] == name
        rows = list(csv.DictReader((d / "layers.csv").open()))
        assert len(rows) == 7 and int(rows[0]["cycles"]) == res["layers"][0]["cycles"]
    mac = json.loads((out / "mac_64x64_os/results.json").read_text())
    assert all(la["counters"]["mac_array.mac"] + la["counters"]["mac_array.mac_gated"] == la["M"] * la["K"] * la["N"]
               for la in mac["layers"])
    assert "comparison (ratios to acc_if_64x64)" in stdout
    assert "accumulation mismatches 0" in stdout


def test_energy_csv_is_tidy_and_each_scope_sums_to_its_total(run_dir):
    """One row per (op, action) and per whole-run action, a scope column apart: the op rows of a
    layer sum to its energy, the run rows to the run's; count x pJ per count is the energy."""
    out, _ = run_dir
    d = out / "acc_if_64x64"
    res = json.loads((d / "results.json").read_text())
    rows = list(csv.DictReader((d / "energy.csv").open()))
    assert list(rows[0]) == ["scope", "layer", "phase", "step", "category", "component", "action", "count",
                             "pj_per_count", "energy_pj"]
    assert {r["scope"] for r in rows} == {"op", "run"}
    for la in res["layers"]:
        mine = [r for r in rows if r["scope"] == "op" and r["layer"] == la["name"]]
        assert sum(float(r["energy_pj"]) for r in mine) == pytest.approx(la["energy_pj"]["total"], rel=1e-9)
    run_rows = [r for r in rows if r["scope"] == "run"]
    assert sum(float(r["energy_pj"]) for r in run_rows) == pytest.approx(res["energy_pj"]["total"], rel=1e-9)
    assert all(r["layer"] == "" for r in run_rows)
    for r in rows:
        if r["count"] and int(r["count"]):
            assert int(r["count"]) * float(r["pj_per_count"]) == pytest.approx(float(r["energy_pj"]), rel=1e-5)
    by_cat = {}
    for r in run_rows:
        by_cat[r["category"]] = by_cat.get(r["category"], 0.0) + float(r["energy_pj"])
    for cat, pj in res["energy_by_category_pj"].items():
        assert by_cat.get(cat, 0.0) == pytest.approx(pj, rel=1e-9, abs=1e-6)


def test_check_has_zero_accumulation_mismatches(run_dir):
    out, _ = run_dir
    for name in ("acc_if_64x64", "mac_64x64_os"):
        r = read_run_dir(out / name)
        assert all(layer.check["accumulation_mismatches"] == 0 for layer in r.layers)


def test_results_json_round_trip(run_dir):
    out, _ = run_dir
    text = (out / "acc_if_64x64/results.json").read_text()
    assert Results.from_json(text).to_json() == text


def test_report_rerenders_without_simulating(run_dir):
    out, stdout = run_dir
    r = run("report", out / "acc_if_64x64", out / "mac_64x64_os")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() in stdout  # identical text
    r = run("report", out / "nope")
    assert r.returncode == 2 and "not a neurosim run directory" in r.stderr


def test_run_missing_trace_exit_2(tmp_path):
    r = run("run", tmp_path / "nope", "--hw", "hw_configs/tiny_mac.yaml", "--out", tmp_path / "o")
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr


def test_run_bad_config_exit_2(tmp_path):
    r = run("run", "traces/tiny_gemm", "--hw", "hw_configs/tiny_mac.yaml", "--set", "array.rows=0", "--out", tmp_path)
    assert r.returncode == 2 and "array.rows" in r.stderr and "Traceback" not in r.stderr


def test_run_config_that_cannot_hold_the_trace_exit_2(tmp_path):
    r = run("run", "traces/tiny_gemm", "--hw", "hw_configs/tiny_acc_if.yaml", "--set",
            "spike_memory.salient.index_bits=2", "--out", tmp_path)
    assert r.returncode == 2 and "index_bits" in r.stderr and "Traceback" not in r.stderr


def test_run_corrupt_trace_exit_2_and_no_output(tmp_path):
    import shutil

    tr = tmp_path / "tr"
    shutil.copytree(ROOT / "traces/tiny_gemm", tr)
    f = sorted(tr.glob("*.npy"))[0]
    f.write_bytes(f.read_bytes()[:-2])
    r = run("run", tr, "--hw", "hw_configs/tiny_mac.yaml", "--out", tmp_path / "o")
    assert r.returncode == 2 and str(f) in r.stderr
    assert not (tmp_path / "o" / "tiny_mac").exists()


def test_run_with_two_configs_prints_the_comparison(run_dir):
    _, stdout = run_dir
    assert "energy waterfall, A -> B" in stdout and "energy views (A, B, B/A)" in stdout


def test_compare_waterfall_sums_to_the_difference(run_dir, tmp_path):
    """The waterfall steps add up to B's total minus A's; cycle steps to the cycle difference;
    the views nest; the files are written."""
    from neurosim.report.compare import compare, waterfall_residual
    out, _ = run_dir
    a, b = read_run_dir(out / "mac_64x64_os"), read_run_dir(out / "acc_if_64x64")
    c = compare(a, b)
    assert abs(waterfall_residual(c)) <= 1e-9 * a.energy_pj["total"]
    assert sum(s.delta for s in c.cycle_steps) == b.total_cycles - a.total_cycles
    for r in (a, b):
        v = r.energy_views_pj
        assert v["compute_only"] <= v["on_chip"] <= v["full"]
    r = run("compare", out / "mac_64x64_os", out / "acc_if_64x64", "--out", tmp_path / "cmp")
    assert r.returncode == 0, r.stderr
    assert {p.name for p in (tmp_path / "cmp").iterdir()} == {".neurosim-out", "compare.json", "compare.txt", "waterfall.png",
                                                              "waterfall.svg", "waterfall_deltas.png",
                                                              "waterfall_deltas.svg"}
    data = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert data["energy_ratio_b_over_a"] == pytest.approx(b.energy_pj["total"] / a.energy_pj["total"])


def test_compare_refuses_runs_of_different_traces_and_missing_files(run_dir, tmp_path):
    out, _ = run_dir
    other = tmp_path / "other"
    r = run("run", "traces/smollm2_wikitext_l1_t64", "--hw", "hw_configs/mac_64x64_os.yaml", "--out", other)
    assert r.returncode == 0, r.stderr
    r = run("compare", out / "acc_if_64x64", other / "mac_64x64_os")
    assert r.returncode == 2 and "different traces" in r.stderr and "Traceback" not in r.stderr
    (other / "mac_64x64_os" / "results.json").unlink()
    r = run("compare", out / "acc_if_64x64", other / "mac_64x64_os")
    assert r.returncode == 2 and "mac_64x64_os" in r.stderr and "Traceback" not in r.stderr


def test_progress_is_a_plain_line_when_stderr_is_not_a_terminal(capsys, monkeypatch):
    """Not a TTY: one plain line with the count, share and time left, at most every few seconds."""
    from neurosim.cli.common import progress

    monkeypatch.setattr(progress, "PLAIN_EVERY_S", 0.0)
    with progress(1, "simulate") as tick:
        tick(3, 12)
        tick(12, 12)  # done: no line
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("neurosim simulate: 3/12 (25%)") and "s left" in err[0]


def test_labels_and_per_config_overrides(tmp_path):
    """Base vs variant in one command: --hw-set binds to the --hw before it and names the run;
    --label names each run; a label count that does not match the configs is a usage error."""
    r = run("run", "traces/tiny_gemm", "--hw", "hw_configs/tiny_mac.yaml", "--hw", "hw_configs/tiny_mac.yaml",
            "--hw-set", "array.dataflow=ws", "--out", tmp_path / "a")
    assert r.returncode == 0, r.stderr
    base, variant = (read_run_dir(tmp_path / "a" / n) for n in ("tiny_mac", "tiny_mac+array.dataflow-ws"))
    assert base.total_cycles != variant.total_cycles
    r = run("run", "traces/tiny_gemm", "--hw", "hw_configs/tiny_mac.yaml", "--hw", "hw_configs/tiny_acc_if.yaml",
            "--label", "mac", "--label", "snn", "--out", tmp_path / "b")
    assert r.returncode == 0 and {p.name for p in (tmp_path / "b").iterdir() if p.is_dir()} == {"mac", "snn"}
    r = run("run", "traces/tiny_gemm", "--hw", "hw_configs/tiny_mac.yaml", "--label", "a", "--label", "b",
            "--out", tmp_path / "c")
    assert r.returncode == 2 and "--label" in r.stderr and "Traceback" not in r.stderr
    r = run("run", "traces/tiny_gemm", "--hw-set", "array.rows=4", "--hw", "hw_configs/tiny_mac.yaml",
            "--out", tmp_path / "d")
    assert r.returncode == 2 and "after the --hw" in r.stderr


def test_stale_run_directories_are_flagged_not_removed(tmp_path):
    """Re-running into an --out with fewer configs names the earlier run's other directories on
    stderr and leaves them (and the user's files) in place."""
    assert run("run", "traces/tiny_gemm", "--hw", "hw_configs/tiny_mac.yaml", "--hw", "hw_configs/tiny_acc_if.yaml",
               "--out", tmp_path / "o").returncode == 0
    (tmp_path / "o" / "notes.txt").write_text("mine")
    r = run("run", "traces/tiny_gemm", "--hw", "hw_configs/tiny_mac.yaml", "--out", tmp_path / "o")
    assert r.returncode == 0 and "earlier run" in r.stderr and "tiny_acc_if" in r.stderr
    assert (tmp_path / "o" / "tiny_acc_if" / "results.json").is_file() and (tmp_path / "o" / "notes.txt").is_file()



def test_run_with_jobs_gives_the_serial_results(tmp_path):
    """Configs simulated in worker processes: every results.json equal to the serial run's (the
    command aside), the same console report, progress over ops x configs."""
    from neurosim.api import run as api_run

    tr = ROOT / "traces/smollm2_synth_l1_t32"
    hws = [ROOT / "hw_configs/acc_if_64x64.yaml", ROOT / "hw_configs/mac_64x64_os.yaml"]
    ticks = []
    api_run(tr, hws, tmp_path / "p", jobs=2, progress=lambda d, t: ticks.append((d, t)))
    api_run(tr, hws, tmp_path / "s", jobs=1)
    for name in ("acc_if_64x64", "mac_64x64_os"):
        a, b = (json.loads((tmp_path / d / name / "results.json").read_text()) for d in ("p", "s"))
        assert a == b
    assert ticks[-1] == (14, 14) and all(t == 14 for _, t in ticks)
    par = run("run", tr, "--hw", hws[0], "--hw", hws[1], "--out", tmp_path / "cp", "--jobs", "2")
    ser = run("run", tr, "--hw", hws[0], "--hw", hws[1], "--out", tmp_path / "cs")
    assert par.returncode == ser.returncode == 0, par.stderr
    assert par.stdout.replace(str(tmp_path / "cp"), "X") == ser.stdout.replace(str(tmp_path / "cs"), "X")


def test_run_with_jobs_reports_a_config_error_cleanly(tmp_path):
    """A config the trace cannot run (weights wider than the array) fails in its worker: one clean
    message, exit 2, no results written for it."""
    r = run("run", "traces/smollm2_synth_l1_t32", "--hw", "hw_configs/acc_if_64x64.yaml",
            "--hw", "hw_configs/mac_64x64_os.yaml", "--hw-set", "array.weight_bits=2", "--out", tmp_path / "o",
            "--jobs", "2")
    assert r.returncode == 2 and "weight_bits" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "o" / "mac_64x64_os" / "results.json").exists()
