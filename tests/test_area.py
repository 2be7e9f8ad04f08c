"""Area model (#16 item 6): closed-form areas of a hand-counted config, the tables against their
stated sources, the SRAM fit against the committed CACTI points, results/console/compare, and the
iso-area sweep."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
from pathlib import Path

import pytest
import yaml

from neurosim.cli import main
from neurosim.config.energy_table import AREA, load_energy_table, parse_energy_table, shipped_table_path
from neurosim.config.loader import load_hw_config
from neurosim.energy.area import area_mm2, sram_area_mm2
from neurosim.engine.designs import DESIGNS
from neurosim.engine.simulate import chip_area_mm2, simulate
from neurosim.errors import ConfigError
from neurosim.trace.reader import open_trace

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "traces/tiny_gemm"
TINY_ACC = ROOT / "hw_configs/tiny_acc_if.yaml"
TINY_MAC = ROOT / "hw_configs/tiny_mac.yaml"
POINTS = ROOT / "neurosim/energy_tables/sram_area_cacti.csv"

#: Aladdin common/power_func.h, TSMC 40 nm, 1 ns (um^2): REG per bit, ADD 32-bit, MUL 32x32.
ALADDIN_REG, ALADDIN_ADD32, ALADDIN_MUL32 = 5.981433, 277.9792, 6351.338
#: Stillmaker & Baas area factors from 45 nm (their table's 45 nm row) to 32, 20 and 7 nm.
F45 = {45: 1.0, 32: 0.46, 20: 0.21, 7: 0.059}


def _factor_from_45(node: float) -> float:
    """Log-log interpolation of the 45 nm row between its tabulated nodes."""
    nodes = sorted(F45, reverse=True)
    for a, b in zip(nodes, nodes[1:], strict=False):
        if b <= node <= a:
            t = math.log(a / node) / math.log(a / b)
            return math.exp(math.log(F45[a]) + t * (math.log(F45[b]) - math.log(F45[a])))
    raise AssertionError(node)


@pytest.mark.parametrize("table,node", [("45nm", 45), ("28nm", 28), ("7nm", 7), ("snn-45nm-fp32", 45)])
def test_logic_area_entries_are_aladdin_scaled_by_stillmaker(table, node):
    k = _factor_from_45(node) / _factor_from_45(40)
    t = load_energy_table(table)
    assert t["area_reg_bit"] == pytest.approx(ALADDIN_REG * k, rel=2e-3)
    assert t["area_adder_bit"] == pytest.approx(ALADDIN_ADD32 / 32 * k, rel=2e-3)
    assert t["area_mult_bit"] == pytest.approx(ALADDIN_MUL32 / 1024 * k, rel=2e-3)


def _tool():
    spec = importlib.util.spec_from_file_location("cacti_sram_area", ROOT / "tools/cacti_sram_area.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("table,node", [("45nm", 45), ("28nm", 28)])
def test_sram_area_entries_are_the_fit_of_the_committed_cacti_points(table, node):
    kib, bit, ports_exp, worst, rms = _tool().fit(POINTS)[node]
    t = load_energy_table(table)
    assert t["area_sram_kib"] == pytest.approx(kib, rel=1e-3)
    assert t["area_sram_width_bit"] == pytest.approx(bit, rel=1e-3)
    assert t["area_sram_ports_exp"] == pytest.approx(ports_exp, abs=1e-3)
    assert worst < 0.26 and rms < 0.09
    # the model against every single-port CACTI point of the node
    from neurosim.config.hw import SramSpec
    rows = [r for r in csv.DictReader(POINTS.open()) if int(r["node_nm"]) == node and r["ports"] == "1"]
    assert len(rows) == 52
    for r in rows:
        s = SramSpec(size_kib=float(r["size_kib"]), banks=1, ports=1, width_bits=int(r["width_bits"]))
        assert sram_area_mm2(t, s) == pytest.approx(float(r["area_mm2"]), rel=0.26)


def test_seven_nm_sram_area_is_the_22nm_fit_scaled_and_marked_unverified():
    kib22, bit22, *_ = _tool().fit(POINTS)[22]
    t = load_energy_table("7nm")
    k = F45[7] / _factor_from_45(22)
    assert t["area_sram_kib"] == pytest.approx(kib22 * k, rel=2e-3)
    assert t["area_sram_width_bit"] == pytest.approx(bit22 * k, rel=2e-3)
    assert t.entries["area_sram_kib"].status == "U"


def test_cacti_points_reproduce_the_energy_runs():
    """The area runs use the energy runs' settings: 45 nm, 32 KiB x 64 b reads 14.9 pJ (energy.md V18)."""
    row = next(r for r in csv.DictReader(POINTS.open())
               if (r["node_nm"], r["ports"], r["size_kib"], r["width_bits"]) == ("45", "1", "32", "64"))
    assert float(row["read_pj"]) == pytest.approx(14.9, abs=0.05)


def test_hand_counted_area_of_the_tiny_acc_design():
    spec = load_hw_config(TINY_ACC)
    t = load_energy_table("45nm")
    chip = DESIGNS[spec.design].chip(spec)
    a = area_mm2(spec, t, chip.logic_cells_by_component())
    # array: 8x8 4-bit weight registers + 8 membranes of 16 bits; per column a tree of 7 adds of
    # 4 + 1, 4 + 2 and 4 + 3 bits (4, 2 and 1 of them) and one 16-bit membrane adder
    cells = chip.logic_cells_by_component()["array"]
    assert (cells.reg_bits, cells.adder_bits, cells.mult_bits) == (8 * 8 * 4 + 8 * 16, 8 * (4 * 5 + 2 * 6 + 7 + 16), 0)
    assert a["array"] == pytest.approx((cells.reg_bits * t["area_reg_bit"] + cells.adder_bits * t["area_adder_bit"]) / 1e6)
    # SRAMs, by the formula: spike_dense 4 KiB in 2 banks of 32-bit words, one port
    dense = 2 * (2 * t["area_sram_kib"] + 32 * t["area_sram_width_bit"])
    assert a["spike_dense"] == pytest.approx(dense)
    comps = {k: v for k, v in a.items() if k not in ("logic", "sram", "total")}
    # the sequencer: address generators of 10 (4 KiB of 32-bit words), 8, 11, 9 and 8 bits and five
    # 16-bit loop counters, each bit a register and an adder bit
    seq = chip.logic_cells_by_component()["sequencer"]
    assert (seq.reg_bits, seq.adder_bits, seq.mult_bits) == (10 + 8 + 11 + 9 + 8 + 80, 10 + 8 + 11 + 9 + 8 + 80, 0)
    assert set(comps) == {"array", "threshold", "sequencer", "spike_dense", "spike_salient", "weight_sram",
                          "membrane_store", "output_buffer"}
    assert a["total"] == pytest.approx(sum(comps.values()))
    assert a["total"] == pytest.approx(a["logic"] + a["sram"])


def test_two_ports_cost_two_to_the_exponent():
    t = load_energy_table("28nm")
    from neurosim.config.hw import SramSpec
    one, two = (sram_area_mm2(t, SramSpec(size_kib=64, banks=4, ports=p, width_bits=64)) for p in (1, 2))
    assert two / one == pytest.approx(2 ** t["area_sram_ports_exp"])
    assert 2.0 < two / one < 2.2


@pytest.mark.parametrize("key,values", [("array.cols", (32, 64, 128)), ("array.rows", (16, 64, 256)),
                                        ("weight_sram.size_kib", (128, 512, 2048))])
def test_area_grows_with_every_size_knob(key, values):
    tr = open_trace(ROOT / "traces/smollm2_synth_l1_t32")
    for name in ("acc_if_64x64", "mac_64x64_os"):
        areas = [chip_area_mm2(load_hw_config(ROOT / f"hw_configs/{name}.yaml", [f"{key}={v}"]), tr)["total"]
                 for v in values]
        assert areas == sorted(areas) and len(set(areas)) == 3


def test_the_mac_pe_is_larger_than_the_if_pe():
    """A MAC PE holds a multiplier, an accumulator and its registers; an IF PE a weight register
    and a share of a narrow adder tree (docs/model.md, Area)."""
    tr = open_trace(ROOT / "traces/smollm2_wikitext_l1_t64")
    acc = chip_area_mm2(load_hw_config(ROOT / "hw_configs/acc_if_64x64.yaml"), tr)
    mac = chip_area_mm2(load_hw_config(ROOT / "hw_configs/mac_64x64_os.yaml"), tr)
    assert 3 < mac["mac_array"] / acc["array"] < 6
    assert acc["weight_sram"] == mac["weight_sram"]


def test_area_entries_come_as_a_set(tmp_path):
    data = yaml.safe_load(shipped_table_path("28nm").read_text())
    del data["entries"]["area_sram_kib"]
    with pytest.raises(ConfigError) as e:
        parse_energy_table(data, "t.yaml")
    assert "entries.area_sram_kib" in str(e.value) and "as a set" in str(e.value)
    for k in AREA:
        data["entries"].pop(k, None)
    t = parse_energy_table(data, "t.yaml")  # none at all is fine: no area is reported
    spec = load_hw_config(TINY_MAC)
    assert area_mm2(spec, t, DESIGNS[spec.design].chip(spec).logic_cells_by_component()) is None


def test_results_console_and_compare_carry_the_area(tmp_path, capsys):
    assert main(["run", str(TINY), "--hw", str(TINY_ACC), "--hw", str(TINY_MAC), "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "area (logic from cell-bits" in out and "area (mm^2)" in out and "energy x area" in out
    a = json.loads((tmp_path / "r/tiny_acc_if/results.json").read_text())["area_mm2"]
    b = json.loads((tmp_path / "r/tiny_mac/results.json").read_text())["area_mm2"]
    assert a["total"] == pytest.approx(chip_area_mm2(load_hw_config(TINY_ACC), open_trace(TINY))["total"])
    assert main(["compare", str(tmp_path / "r/tiny_acc_if"), str(tmp_path / "r/tiny_mac")]) == 0
    out = capsys.readouterr().out
    assert f"({b['total'] / a['total']:.2f}x)" in out and "Area:" in out
    assert main(["show-config", str(TINY_MAC), "--energy"]) == 0
    assert "area by component" in capsys.readouterr().out


def test_area_is_taken_before_ops_retarget_the_chip():
    """The chip is built at the widest width any op needs; the area is that chip's."""
    tr = open_trace(ROOT / "traces/smollm2_wikitext_l1_t64")
    spec = load_hw_config(ROOT / "hw_configs/acc_if_64x64.yaml", ["weight_sram.size_kib=1024"])
    assert simulate(tr, spec).area_mm2 == chip_area_mm2(spec, tr)


def test_iso_area_sweep_picks_the_largest_fitting_value(tmp_path, capsys):
    tr = ROOT / "traces/smollm2_synth_l1_t32"
    acc, mac = ROOT / "hw_configs/acc_if_64x64.yaml", ROOT / "hw_configs/mac_64x64_os.yaml"
    trace = open_trace(tr)
    target = chip_area_mm2(load_hw_config(mac), trace)["total"]
    cands = (64, 128, 192, 256, 320)
    areas = {c: chip_area_mm2(load_hw_config(acc, [f"array.cols={c}"]), trace)["total"] for c in cands}
    want = max(c for c in cands if areas[c] <= target * 1.02)
    code = main(["sweep", "--hw", str(acc), "--trace", str(tr), "--baseline", str(mac), "--out", str(tmp_path / "s"),
                 "--grid", "threshold.bits=16,24", "--iso-area", "array.cols=" + ",".join(map(str, cands))])
    assert code == 0, capsys.readouterr().err
    import pandas as pd
    df = pd.read_csv(tmp_path / "s/sweep.csv")
    assert list(df["array.cols"]) == [want, want] and set(df["status"]) == {"ok"}
    assert (df["area_ratio_vs_baseline"] <= 1.02).all() and "area_mm2" in df
    # no candidate fits: a failed row that says why, exit 1
    code = main(["sweep", "--hw", str(acc), "--trace", str(tr), "--baseline", str(mac), "--out", str(tmp_path / "u"),
                 "--iso-area", "array.cols=512,1024"])
    err = capsys.readouterr().err
    assert code == 1 and "no value fits the baseline's" in err and "Traceback" not in err


@pytest.mark.parametrize("args,msg", [
    (["--iso-area", "array.cols=64"], "--iso-area needs --baseline"),
    (["--iso-area", "array.cols=64", "--baseline", "{mac}", "--iso-area-tolerance", "-5"], "--iso-area-tolerance"),
    (["--iso-area", "array.cols", "--baseline", "{mac}"], "expected KEY=V1,V2"),
    (["--iso-area", "array.cols=64", "--grid", "array.cols=32,64", "--baseline", "{mac}"], "also swept"),
    (["--iso-area", "array.nope=1,2", "--baseline", "{mac}"], "array.nope"),
])
def test_iso_area_bad_inputs_exit_2_and_write_nothing(tmp_path, capsys, args, msg):
    mac = str(ROOT / "hw_configs/tiny_mac.yaml")
    code = main(["sweep", "--hw", str(TINY_ACC), "--trace", str(TINY), "--out", str(tmp_path / "o"),
                 *[a.format(mac=mac) for a in args]])
    err = capsys.readouterr().err
    assert code == 2 and msg in err and "Traceback" not in err, err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("leaves", [1, 2, 3, 5, 7, 8, 64, 100])
def test_adder_tree_levels(leaves):
    """A binary tree over n inputs: n - 1 adders on ceil(log2 n) levels, each level at most half
    the values below it, the top one a single add."""
    import math

    from neurosim.hw.cells import tree_levels

    levels = tree_levels(leaves)
    assert sum(levels) == leaves - 1 and len(levels) == (math.ceil(math.log2(leaves)) if leaves > 1 else 0)
    assert not levels or levels[-1] == 1
