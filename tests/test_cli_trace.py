"""CLI smoke tests for trace commands (subprocess)."""

import shutil
import subprocess
import sys
from pathlib import Path

from helpers import HANG_GUARD_S

ROOT = Path(__file__).resolve().parent.parent


def run(*args):
    return subprocess.run([sys.executable, "-m", "neurosim", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=HANG_GUARD_S)


def test_trace_validate_shipped():
    shipped = sorted(d for d in (ROOT / "traces").iterdir() if d.is_dir())
    assert len(shipped) == 5
    for d in shipped:
        r = run("trace", "validate", d)
        assert r.returncode == 0, r.stderr


def test_trace_validate_corrupt_exit_2(tmp_path):
    dst = tmp_path / "t"
    shutil.copytree(ROOT / "traces/tiny_gemm", dst)
    f = sorted(dst.glob("*.npy"))[0]
    f.write_bytes(f.read_bytes()[:-1])
    r = run("trace", "validate", dst)
    assert r.returncode == 2 and str(f) in r.stderr and "Traceback" not in r.stderr


def test_trace_validate_missing_dir_exit_2(tmp_path):
    r = run("trace", "validate", tmp_path / "nope")
    assert r.returncode == 2 and "not a trace directory" in r.stderr


def test_synth_llama2_7b_info_shows_shapes_and_salient_ratio(tmp_path):
    out = tmp_path / "l7"
    r = run("synth", "--model", "llama2-7b", "--tokens", "16", "--layers", "1", "--out", out)
    assert r.returncode == 0, r.stderr
    r = run("trace", "info", out)
    assert r.returncode == 0, r.stderr
    assert "4096" in r.stdout and "11008" in r.stdout
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("layers.0.mlp.down_proj"))
    assert line.split()[2:5] == ["16", "11008", "4096"]
    assert "salient ratio:" in r.stdout and "mean spikes per activation" in r.stdout
    assert "dense_4b" in r.stdout and "salient_8b" in r.stdout


def test_synth_gemm_and_topology(tmp_path):
    topo = tmp_path / "t.csv"
    topo.write_text("Layer,M,N,K,\nfc,4,6,8,\n")
    assert run("synth", "--topology", topo, "--weights", "--out", tmp_path / "a").returncode == 0
    r = run("trace", "info", tmp_path / "a")
    assert "fc " in r.stdout and r.stdout.split("fc ")[1].split()[1:4] == ["4", "8", "6"]
    assert run("synth", "--gemm", "2,3,4", "--out", tmp_path / "b").returncode == 0


def test_synth_usage_errors(tmp_path):
    assert run("synth", "--gemm", "2,3", "--out", tmp_path / "x").returncode == 2
    assert run("synth", "--model", "gpt-5", "--tokens", "2", "--out", tmp_path / "x").returncode == 2
    assert run("synth", "--model", "llama2-7b", "--out", tmp_path / "x").returncode == 2
    assert run("synth", "--model", "llama2-7b", "--tokens", "0", "--out", tmp_path / "x").returncode == 2
    r = run("synth", "--gemm", "2,3,4", "--out", ROOT / "traces/tiny_gemm")
    assert r.returncode == 2 and "already exists" in r.stderr
