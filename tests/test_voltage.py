"""The operating point (``dvfs``): the alpha-power law's lowest supply for a clock, energy scaled
by V^2 and leakage by V x I_leak(V), and the equal-latency comparison (``compare --iso-latency``)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import ROOT, make_trace, spec
from hypothesis import given, settings
from hypothesis import strategies as st

from neurosim.api import simulate
from neurosim.config.energy_table import load_energy_table
from neurosim.energy.voltage import TOLERANCE_V, floor_clock_mhz, lowest_supply_v, relative_frequency
from neurosim.errors import ConfigError
from neurosim.sweep.iso_latency import TOLERANCE, at_clock, iso_latency
from neurosim.trace.reader import open_trace

T = load_energy_table("45nm")
VDD, VTH, ALPHA, VMIN = T.vdd_v, T["vth_v"], T["alpha_power"], T["vmin_v"]


@settings(max_examples=200, deadline=None)
@given(st.floats(0.01, 1.0), st.floats(0.5, 1.2), st.floats(0.1, 0.45), st.floats(1.0, 2.0))
def test_lowest_supply_meets_the_clock_and_no_lower_one_does(fraction, vdd, vth, alpha):
    v = lowest_supply_v(fraction, vdd, vth, alpha)
    assert vth < v <= vdd
    assert relative_frequency(v, vdd, vth, alpha) >= fraction
    if v < vdd:
        assert relative_frequency(v - 2 * TOLERANCE_V, vdd, vth, alpha) < fraction


def test_alpha_power_law_by_hand():
    # f ~ (V - Vth)^a / V: at V = 0.6 against 0.9 with Vth 0.35, a 1.3: (0.25^1.3 / 0.6) / (0.55^1.3 / 0.9)
    assert relative_frequency(0.6, 0.9, 0.35, 1.3) == pytest.approx((0.25 ** 1.3 / 0.6) / (0.55 ** 1.3 / 0.9))


def _run(tmp_path, name, **over):
    codes = np.random.default_rng(3).integers(-7, 8, (6, 16)).astype(np.int8)
    return simulate(make_trace(tmp_path / name, codes, 8), spec("tiny_mac", **over))


def test_a_slower_clock_scales_dynamic_energy_by_v_squared_and_leakage_by_v_and_current(tmp_path):
    """At half the nominal clock: the supply is the law's lowest (above vmin_v); every on-chip
    counted action costs (V/Vdd)^2 of its nominal energy, DRAM transfers the same; the static
    power is (V/Vdd) x 10^((V - Vdd) / leak_v_per_decade) of the nominal one."""
    nominal = _run(tmp_path, "n")
    slow = _run(tmp_path, "s", **{"clock_mhz": 100, "dvfs.nominal_clock_mhz": 200})
    v = max(VMIN, lowest_supply_v(0.5, VDD, VTH, ALPHA))
    op = slow.operating_point
    assert op["supply_v"] == pytest.approx(v) and op["clock_mhz"] == 100 and op["nominal_clock_mhz"] == 200
    assert nominal.operating_point["supply_v"] == VDD and nominal.operating_point["dynamic_scale"] == 1.0
    for action, pj in nominal.energy_table_pj.items():
        want = pj if action.startswith("dram.") else pj * (v / VDD) ** 2
        assert slow.energy_table_pj[action] == pytest.approx(want, rel=1e-12), action
    assert slow.static_power_mw == pytest.approx(
        nominal.static_power_mw * v / VDD * 10 ** ((v - VDD) / T["leak_v_per_decade"]), rel=1e-12)


def test_a_clock_above_the_nominal_one_is_refused():
    with pytest.raises(ConfigError, match="clock_mhz.*dvfs.nominal_clock_mhz"):
        spec("tiny_mac", **{"clock_mhz": 400, "dvfs.nominal_clock_mhz": 200})


@pytest.mark.parametrize("slow_name,fast_name", [("tiny_acc_if", "tiny_mac"), ("tiny_mac", "tiny_acc_if")])
def test_iso_latency_meets_the_target_at_the_lowest_clock_and_supply(tmp_path, slow_name, fast_name):
    """The faster design at the slower one's latency: it meets it; a clock 2 tolerances lower
    misses it (unless the supply is at its floor, where it runs at the floor's clock); its supply
    is the lowest that clock needs; the slower design is not re-run."""
    codes = np.random.default_rng(1).integers(-30, 31, (12, 40)).astype(np.int8)
    tr = open_trace(make_trace(tmp_path / "t", codes, 16))
    a, b = simulate(tr, spec(slow_name)), simulate(tr, spec(fast_name))
    slow, fast, fast_spec = (a, b, spec(fast_name)) if a.scheduled_latency_s > b.scheduled_latency_s else \
        (b, a, spec(slow_name))
    target = slow.scheduled_latency_s
    iso = iso_latency(tr, fast_spec, target, fast)
    op = iso.run.operating_point
    assert iso.run.scheduled_latency_s <= target and iso.nominal is fast
    nominal_mhz = fast_spec.clock_mhz
    floor = floor_clock_mhz(nominal_mhz, T)
    assert op["supply_v"] == pytest.approx(max(VMIN, lowest_supply_v(op["clock_mhz"] / nominal_mhz, VDD, VTH, ALPHA)))
    if op["clock_mhz"] > floor * (1 + 1e-9):
        lower = simulate(tr, at_clock(fast_spec, op["clock_mhz"] * (1 - 2 * TOLERANCE)))
        assert lower.scheduled_latency_s > target
    else:
        assert op["supply_v"] == pytest.approx(VMIN)


def test_compare_iso_latency_cli(tmp_path, capsys):
    import json

    from neurosim.cli import main

    codes = np.random.default_rng(1).integers(-30, 31, (12, 40)).astype(np.int8)
    tr = make_trace(tmp_path / "t", codes, 16)
    assert main(["run", str(tr), "--hw", str(ROOT / "hw_configs/tiny_acc_if.yaml"), "--hw",
                 str(ROOT / "hw_configs/tiny_mac.yaml"), "--out", str(tmp_path / "o")]) == 0
    capsys.readouterr()
    # the trace lies outside the working directory: provenance keeps its name only, so it is asked for
    assert main(["compare", str(tmp_path / "o/tiny_acc_if"), str(tmp_path / "o/tiny_mac"), "--iso-latency"]) == 2
    assert "pass --trace DIR" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "o/tiny_acc_if"), str(tmp_path / "o/tiny_mac"), "--iso-latency",
                 "--trace", str(ROOT / "traces/tiny_gemm")]) == 2  # another trace: refused by its hash
    assert "not the trace the runs replayed" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "o/tiny_acc_if"), str(tmp_path / "o/tiny_mac"), "--iso-latency",
                 "--trace", str(tr), "--out", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "at equal latency: E_B/E_A" in out
    iso = json.loads((tmp_path / "c/iso_latency.json").read_text())
    assert [r["run"] for r in iso["rows"]][:2] == ["A", "B"] and iso["rows"][2]["latency_s"] <= iso["target_latency_s"]
    from neurosim.api import load_results

    a, b = load_results(tmp_path / "o/tiny_acc_if"), load_results(tmp_path / "o/tiny_mac")
    fast_is_b = b.scheduled_latency_s < a.scheduled_latency_s
    slow, fast_iso = (a, iso["rows"][2]) if fast_is_b else (b, iso["rows"][2])
    assert iso["target_latency_s"] == slow.scheduled_latency_s
    e_a, e_b = (a.energy_pj["total"], fast_iso["energy_pj"]) if fast_is_b else (fast_iso["energy_pj"], b.energy_pj["total"])
    assert iso["ratios"]["energy_b_over_a"] == pytest.approx(e_b / e_a)  # the slower one's energy unchanged
