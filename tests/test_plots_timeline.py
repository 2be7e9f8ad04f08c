"""Plot smoke tests (files written, axis labels with units) and the Chrome-trace timeline
(loads, events on every resource track, busy time agrees with results.json)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import HANG_GUARD_S

from neurosim.api import run
from neurosim.report.plots import plot_cycles, plot_energy_breakdown, plot_spike_histogram, plot_utilization
from neurosim.results import read_run_dir
from neurosim.trace import open_trace

ROOT = Path(__file__).resolve().parent.parent
TRACE = ROOT / "traces/smollm2_wikitext_l1_t64"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    rs = run(TRACE, [ROOT / "hw_configs/acc_if_64x64.yaml", ROOT / "hw_configs/mac_64x64_os.yaml"], out, timeline=True)
    return out, rs


@pytest.mark.parametrize("fn,unit", [
    (lambda rs, tr: plot_energy_breakdown(rs), "(uJ)"),
    (lambda rs, tr: plot_energy_breakdown(rs, per_layer=True), "(uJ)"),
    (lambda rs, tr: plot_cycles(rs[0]), "cycles"),
    (lambda rs, tr: plot_utilization(rs[1]), "(%"),
    (lambda rs, tr: plot_spike_histogram(tr), "(count)"),
])
def test_plot_functions_label_units_and_save(runs, tmp_path, fn, unit):
    ax = fn(runs[1], open_trace(TRACE))
    assert unit in ax.get_ylabel()
    p = tmp_path / "plot.png"
    ax.figure.savefig(p)
    assert p.stat().st_size > 1000


def test_report_plots_cli_writes_png_and_svg(runs):
    out, _ = runs
    r = subprocess.run([sys.executable, "-m", "neurosim", "report", out / "acc_if_64x64", "--plots"],
                       capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert r.returncode == 0, r.stderr
    for stem in ("energy", "cycles", "utilization"):
        for ext in ("png", "svg"):
            assert (out / "acc_if_64x64" / f"{stem}.{ext}").stat().st_size > 1000


@pytest.mark.parametrize("name", ["acc_if_64x64", "mac_64x64_os"])
def test_timeline_agrees_with_results(runs, name):
    out, _ = runs
    data = json.loads((out / name / "timeline.json").read_text())
    res = read_run_dir(out / name)
    tracks = {e["args"]["name"]: e["tid"] for e in data["traceEvents"] if e["ph"] == "M"}
    assert set(tracks) >= {"dram", "array"}
    busy = {t: 0 for t in tracks}
    end = 0
    for e in data["traceEvents"]:
        if e["ph"] == "X":
            t = next(k for k, v in tracks.items() if v == e["tid"])
            busy[t] += e["args"]["end_cycle"] - e["args"]["start_cycle"]
            end = max(end, e["args"]["end_cycle"])
    assert all(busy[t] > 0 for t in ("dram", "array"))
    assert busy["array"] == res.compute_cycles
    pipeline = res.stall_cycles["dram_load"] + res.stall_cycles["output_writeback"]
    in_tile = sum(v for t, v in busy.items() if t.startswith("stall: ") or t == "array_sram_stall")
    assert busy["array"] + in_tile == res.total_cycles - pipeline
    assert "array_sram_stall" not in busy  # every in-tile stall cycle is on its cause's track
    for cause, cycles in res.stall_cycles.items():  # each cause's track holds exactly its stall cycles
        if cause not in ("dram_load", "output_writeback"):
            assert busy.get(f"stall: {cause}", 0) == cycles
    assert busy.get("array_wait", 0) == pipeline  # every pipeline stall is an event on the wait track
    assert end == res.total_cycles
    assert busy["op"] == res.total_cycles  # one after another
    assert busy["phases (ops overlapped)"] == res.scheduled_cycles  # the schedule, the latency compared


def test_energy_plot_colours_are_fixed_per_category_and_width_is_capped(runs, tmp_path):
    """The same category has the same colour in plots of different designs; a 210-op run (30
    copies of the real layer's results) is grouped by layer type and stays within 16 inches."""
    import dataclasses

    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    from neurosim.report.style import CATEGORY_COLOURS
    _, rs = runs
    for r in rs:
        ax = plot_energy_breakdown([r])
        handles, labels = ax.get_legend_handles_labels()
        for h, label in zip(handles, labels, strict=True):
            assert to_hex(h.patches[0].get_facecolor()) == CATEGORY_COLOURS[label].lower()
        plt.close(ax.figure)
    many = dataclasses.replace(rs[0], layers=tuple(dataclasses.replace(la, name=f"layers.{i}.{la.name.split('.', 2)[2]}")
                                                   for i in range(30) for la in rs[0].layers))
    ax = plot_energy_breakdown([many, many], per_layer=True)
    assert ax.figure.get_size_inches()[0] <= 16 and len(ax.get_xticks()) == 7 * 2
    plt.close(ax.figure)


@pytest.mark.parametrize("value,label", [("energy_pj_total", "energy (uJ)"), ("latency_ratio_vs_baseline", "ratio"),
                                         ("latency_s", "latency (ms)")])
def test_heatmap_labels_follow_the_column(value, label):
    import pandas as pd

    from neurosim.report.sweep_plots import plot_heatmap
    df = pd.DataFrame({"a": [1, 1, 2, 2], "b": [1, 2, 1, 2], "energy_pj_total": [1e6, 2e6, 3e6, 4e6],
                       "latency_ratio_vs_baseline": [0.5, 1, 1.5, 2], "latency_s": [1e-3, 2e-3, 3e-3, 4e-3]})
    ax = plot_heatmap(df, "a", "b", value)
    assert label in ax.figure.axes[1].get_ylabel() and len(ax.texts) == 4


@pytest.mark.parametrize("per_layer,bars", [(None, "grouped"), (True, "every op")])
def test_plots_of_a_long_run_are_grouped_or_capped(tmp_path, per_layer, bars):
    """The whole-inference run has 252 ops: by default its cycle and utilisation plots have one bar
    pair per (phase, op type); asked per op, one per op; either way the PNGs stay under 4,000 px
    wide. Grouped cycles add up to the run's (ops one after another)."""
    import matplotlib.image as mpimg

    from neurosim.report.plots import write_run_plots
    from neurosim.report.summary import grouped

    r = run(ROOT / "traces/smollm2_wikitext_l1_p64_d8", [ROOT / "hw_configs/acc_if_64x64.yaml"], tmp_path)[0]
    groups = grouped(r, per_layer)
    assert len(r.layers) > 60 and (len(groups) == len(r.layers)) == (bars == "every op")
    assert sum(la.cycles for _, ops in groups for la in ops) == r.total_cycles
    for p in write_run_plots(r, tmp_path, per_layer):
        if p.suffix == ".png":
            assert mpimg.imread(p).shape[1] <= 4000, p
    ax = plot_cycles(r, per_layer=per_layer)
    assert len(ax.get_xticklabels()) == len(groups)


def test_report_of_two_runs_draws_them_side_by_side_and_compare_draws_the_deltas(runs, tmp_path):
    """report A B --plots: both runs in one figure (full and on chip, DRAM left out of the latter);
    compare: the waterfall's deltas alone, whose bars sum to B - A."""
    from neurosim.report.compare import compare, plot_waterfall_deltas

    out, rs = runs
    r = subprocess.run([sys.executable, "-m", "neurosim", "report", out / "acc_if_64x64", out / "mac_64x64_os",
                        "--plots"], capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert r.returncode == 0, r.stderr
    for stem in ("energy_runs", "energy_runs_on_chip"):
        assert (out / f"{stem}.png").stat().st_size > 1000
    full = plot_energy_breakdown(rs, on_chip=False)
    chip = plot_energy_breakdown(rs, on_chip=True)
    assert "dram" in [t.get_text() for t in full.get_legend().get_texts()]
    assert "dram" not in [t.get_text() for t in chip.get_legend().get_texts()]
    c = compare(rs[0], rs[1])
    ax = plot_waterfall_deltas(c)
    heights = [p.get_height() for p in ax.patches]
    assert sum(heights[:-1]) == pytest.approx(heights[-1], rel=1e-9)


@pytest.mark.parametrize("detail,eager", [("tile", True), ("op", False)])
def test_a_tile_timeline_is_written_op_by_op_not_held_to_the_end(detail, eager):
    """At tile detail each op's intervals reach the timeline before the next op is simulated
    (memory stays bounded by one op's tiles); at op detail they may wait for the end."""
    from neurosim.api import simulate

    events: list[str] = []

    class Sink:
        def add(self, intervals) -> None:
            events.extend(f"interval {iv.name}" for iv in intervals if iv.track == "op")

    Sink.detail = detail
    simulate(open_trace(TRACE), ROOT / "hw_configs/acc_if_64x64.yaml", verify=False, timeline=Sink(),
             progress=lambda done, total: events.append(f"progress {done}"))
    first = next(i for i, e in enumerate(events) if e.startswith("interval"))
    last_progress = max(i for i, e in enumerate(events) if e.startswith("progress"))
    assert (first < events.index("progress 1")) if eager else (first > last_progress), events[:6]
