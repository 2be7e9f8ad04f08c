"""CLI smoke tests through a real subprocess: exit codes and messages."""

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "neurosim", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_version():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("neurosim ")


def test_validate_shipped_configs_exit_0():
    configs = sorted((ROOT / "hw_configs").glob("*.yaml"))
    r = run("validate", *configs)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(": ok") == len(configs) >= 6


def test_validate_reports_file_and_key_path(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "hw_configs/tiny_mac.yaml").read_text().replace("acc_bits: 32", "acc_bits: 0"))
    dup = tmp_path / "dup.yaml"
    dup.write_text((ROOT / "hw_configs/tiny_mac.yaml").read_text() + "name: again\n")
    r = run("validate", ROOT / "hw_configs/tiny_acc_if.yaml", bad, dup)
    assert r.returncode == 2
    assert f"{bad}: array.acc_bits: must be at least 1" in r.stderr
    assert f"{dup}: name: duplicate key" in r.stderr
    assert "Traceback" not in r.stderr


def test_show_config_with_set():
    r = run("show-config", "hw_configs/tiny_mac.yaml", "--set", "array.dataflow=ws", "--set", "array.rows=16")
    assert r.returncode == 0, r.stderr
    data = yaml.safe_load(r.stdout)
    assert data["array"]["dataflow"] == "ws" and data["array"]["rows"] == 16
    assert data["dequant"]["mode"] == "fused"  # default filled in


def test_show_config_bad_set_exit_2():
    r = run("show-config", "hw_configs/tiny_mac.yaml", "--set", "array.rows=0")
    assert r.returncode == 2 and "array.rows" in r.stderr and "Traceback" not in r.stderr
    r = run("show-config", "hw_configs/tiny_mac.yaml", "--set", "nonsense")
    assert r.returncode == 2 and "KEY.PATH=VALUE" in r.stderr


def test_usage_error_exit_2():
    assert run("validate").returncode == 2
    assert run("frobnicate").returncode == 2
