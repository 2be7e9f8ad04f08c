"""CLI smoke tests through a real subprocess: exit codes and messages."""

import subprocess
import sys
from pathlib import Path

import yaml
from helpers import HANG_GUARD_S

ROOT = Path(__file__).resolve().parent.parent


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "neurosim", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=HANG_GUARD_S)


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


SCALESIM_CFG = """[general]
run_name = scale example 32x32 ws

[architecture_presets]
ArrayHeight:    32
ArrayWidth:     16
IfmapSramSzkB:    64
FilterSramSzkB:   128
OfmapSramSzkB:    32
Dataflow : ws
Bandwidth : 10
MemoryBanks: 2

[run_presets]
InterfaceBandwidth: USER
"""


def test_import_scalesim_cfg(tmp_path):
    """A SCALE-Sim .cfg becomes a loadable MAC config: array, dataflow, SRAM sizes and banks, USER
    bandwidth in words/cycle x 1 byte x clock; the rest is the shipped MAC's; errors name the key."""
    from neurosim.config.loader import load_hw_config
    from neurosim.config.scalesim import _template

    cfg = tmp_path / "s.cfg"
    cfg.write_text(SCALESIM_CFG)
    r = subprocess.run([sys.executable, "-m", "neurosim", "import-scalesim", str(cfg), "--out", str(tmp_path / "s.yaml")],
                       capture_output=True, text=True, cwd=ROOT, timeout=HANG_GUARD_S)
    assert r.returncode == 0, r.stderr
    s = load_hw_config(tmp_path / "s.yaml")
    assert (s.name, s.array.rows, s.array.cols, s.array.dataflow) == ("scale_example_32x32_ws", 32, 16, "ws")
    assert (s.act_sram.size_kib, s.weight_sram.size_kib, s.output_sram.size_kib, s.weight_sram.banks) == (64, 128, 32, 2)
    assert s.dram.bandwidth_gbps == 10 * 1 * 500 / 1000
    assert s.requant.out_bits == 8  # outputs at one SCALE-Sim word, as the operands
    header = (tmp_path / "s.yaml").read_text().split("\nname:")[0]
    assert "USER: 5 GB/s" in header and "CALC" not in header  # the header says what the file holds
    assert "dram.latency_ns 100 comes from the template" in header and "dram.latency_ns 100" in r.stderr
    cfg.write_text(SCALESIM_CFG.replace("InterfaceBandwidth: USER", "InterfaceBandwidth: CALC")
                   + "\n[layout]\nIfmapCustomLayout: False\n\n[sparsity]\nSparsitySupport: false\n")
    r = subprocess.run([sys.executable, "-m", "neurosim", "import-scalesim", str(cfg), "--out", str(tmp_path / "c.yaml")],
                       capture_output=True, text=True, cwd=ROOT, timeout=HANG_GUARD_S)
    header = (tmp_path / "c.yaml").read_text().split("\nname:")[0]
    assert r.returncode == 0 and "CALC: stall-free" in header and "latency_ns 100" not in header
    for sec in ("layout", "sparsity"):
        assert f"section [{sec}] is ignored" in header and f"section [{sec}] is ignored" in r.stderr
    shipped = yaml.safe_load((ROOT / "hw_configs/mac_64x64_os.yaml").read_text())
    assert {**_template(), "name": shipped["name"]} == shipped
    cfg.write_text(SCALESIM_CFG.replace("ArrayWidth:     16", "ArrayWidth: wide"))
    r = subprocess.run([sys.executable, "-m", "neurosim", "import-scalesim", str(cfg), "--out", str(tmp_path / "t.yaml")],
                       capture_output=True, text=True, cwd=ROOT, timeout=HANG_GUARD_S)
    assert r.returncode == 2 and "s.cfg" in r.stderr and "ArrayWidth" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "t.yaml").exists()


def test_every_option_has_help_and_no_empty_default():
    """Every argument of every command says what it is; no help shows '(default: None)'."""
    import argparse
    import io
    from contextlib import redirect_stdout

    from neurosim.cli import build_parser

    def walk(parser):
        for a in parser._actions:
            if isinstance(a, argparse._SubParsersAction):
                for sp in a.choices.values():
                    yield from walk(sp)
            elif not isinstance(a, argparse._HelpAction):
                yield parser.prog, a
        buf = io.StringIO()
        with redirect_stdout(buf):
            parser.print_help()
        assert "(default: None)" not in buf.getvalue() and "(default: [])" not in buf.getvalue(), parser.prog

    missing = [f"{prog} {a.option_strings or a.dest}" for prog, a in walk(build_parser()) if not a.help]
    assert not missing, missing
