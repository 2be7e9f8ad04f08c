"""Write the notebooks (outputs stripped) from the cell sources below; run after editing.

    python notebooks/make_notebooks.py
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

NOTEBOOKS = {
    "01_quickstart.ipynb": [
        new_markdown_cell("# Quickstart: one real trace on the matched IF and MAC designs\n\n"
                          "Runs the shipped SmolLM2 trace (first decoder layer, 64 WikiText-2 tokens) on "
                          "`acc_if_64x64` and `mac_64x64_os`, prints the side-by-side report and plots the "
                          "energy breakdown."),
        new_markdown_cell("Simulate the trace on both chips (with the functional check) and print them side by "
                          "side, each ratio the MAC run over the IF run (B / A)."),
        new_code_cell("from pathlib import Path\nimport tempfile\n\nimport neurosim.api as ns\n"
                      "from neurosim.report.console import comparison_report\n"
                      "from neurosim.report.plots import plot_energy_breakdown, plot_cycles\n\n"
                      "ROOT = Path.cwd().parent if Path.cwd().name == 'notebooks' else Path.cwd()\n"
                      "out = Path(tempfile.mkdtemp())\n"
                      "runs = ns.run(ROOT / 'traces/smollm2_wikitext_l1_t64',\n"
                      "              [ROOT / 'hw_configs/acc_if_64x64.yaml', ROOT / 'hw_configs/mac_64x64_os.yaml'],\n"
                      "              out, check=True)\n"
                      "print(comparison_report(runs))"),
        new_markdown_cell("Energy by category, one bar per chip: DRAM dominates both."),
        new_code_cell("ax = plot_energy_breakdown(runs)"),
        new_markdown_cell("The same per layer: the MLP's three projections hold most of the energy."),
        new_code_cell("ax = plot_energy_breakdown(runs, per_layer=True)"),
        new_markdown_cell("The IF chip's cycles per layer: compute, and the stalls by cause on top."),
        new_code_cell("ax = plot_cycles(runs[0])"),
    ],
    "02_sweep.ipynb": [
        new_markdown_cell("# Sweep: array size x DRAM type\n\n"
                          "Sweeps the IF design's array size and its DRAM on the real trace, with the MAC design "
                          "as baseline, and plots the Pareto front."),
        new_markdown_cell("Six points in two worker processes; the table keeps each point's cycles, energy and "
                          "its ratios to the baseline."),
        new_code_cell("from pathlib import Path\nimport tempfile\n\nimport neurosim.api as ns\n"
                      "from neurosim.report.sweep_plots import plot_pareto, plot_heatmap\n\n"
                      "ROOT = Path.cwd().parent if Path.cwd().name == 'notebooks' else Path.cwd()\n"
                      "df = ns.sweep(ROOT / 'hw_configs/acc_if_64x64.yaml', [ROOT / 'traces/smollm2_wikitext_l1_t64'],\n"
                      "              Path(tempfile.mkdtemp()), grid=['array.rows=16,32,64', 'dram.type=LPDDR4,HBM2'],\n"
                      "              baseline=ROOT / 'hw_configs/mac_64x64_os.yaml', jobs=2)\n"
                      "df[['array.rows', 'dram.type', 'total_cycles', 'energy_pj_total',\n"
                      "    'energy_ratio_vs_baseline', 'latency_ratio_vs_baseline']]"),
        new_markdown_cell("Energy against latency: the points no other point beats on both form the front."),
        new_code_cell("ax = plot_pareto(df)"),
        new_markdown_cell("The energy of every point as a grid of the two swept keys."),
        new_code_cell("ax = plot_heatmap(df, 'array.rows', 'dram.type')"),
    ],
    "03_export.ipynb": [
        new_markdown_cell("# Export a trace from the shared SmolLM2 model and inspect its spikes\n\n"
                          "Needs the `export` extra and `shared/models` beside the checkout. The recipe is the "
                          "SpikeQuant-style W4A4 with 8-bit salient activations after a QuaRot-style rotation "
                          "and GPTQ weights (`spikequant+rot+gptq`; see `neurosim eval` and "
                          "`benchmarks/eval_recipes.py` for the perplexity of each recipe). Calibration comes "
                          "from the tail of the text, which the exported tokens do not reach."),
        new_markdown_cell("Export the first two decoder layers on 64 tokens of WikiText-2 and print what the "
                          "trace holds."),
        new_code_cell("from pathlib import Path\nimport tempfile\n\n"
                      "from neurosim.export.runner import run_export\n"
                      "from neurosim.trace import open_trace\nfrom neurosim.trace.info import format_info\n"
                      "from neurosim.report.plots import plot_spike_histogram\n\n"
                      "ROOT = Path.cwd().parent if Path.cwd().name == 'notebooks' else Path.cwd()\n"
                      "SHARED = ROOT.parent / 'shared'\n"
                      "out = run_export(SHARED / 'models/smollm2-135m-instruct-q4_1', 64,\n"
                      "                 SHARED / 'corpora/wikitext-2-raw-test/wiki.test.raw.txt',\n"
                      "                 Path(tempfile.mkdtemp()) / 'trace', layers=2, recipe='spikequant+rot+gptq')\n"
                      "trace = open_trace(out)\nprint(trace.manifest.recipe)\nprint(format_info(trace))"),
        new_markdown_cell("Spikes per activation: the normal codes, and the salient ones the side store holds."),
        new_code_cell("ax = plot_spike_histogram(trace)"),
    ],
    "04_acc_vs_mac.ipynb": [
        new_markdown_cell("# ACC vs MAC: every pair, three views, two energy conventions\n\n"
                          "Every shipped IF config against every shipped MAC baseline on the real trace, as "
                          "E_MAC/E_ACC in the full, on-chip and compute-only views, under the cited 28 nm table "
                          "and the SNN-paper convention (`snn-45nm-fp32`). Then the best pair's energy waterfall "
                          "and a one-at-a-time sensitivity tornado. `docs/acc_vs_mac.md` is the same study, "
                          "written by `benchmarks/acc_vs_mac_doc.py`."),
        new_markdown_cell("Every IF config against every MAC config: E_MAC/E_ACC in three views and the cycle "
                          "ratio (above 1 the IF design uses less)."),
        new_code_cell("from pathlib import Path\nimport tempfile\n\n"
                      "from neurosim.answer import CITED, best_pair, pair_table\n"
                      "from neurosim.report.compare import compare, plot_waterfall, summary_sentences\n"
                      "from neurosim.report.sweep_plots import plot_tornado\n"
                      "from neurosim.api import sensitivity\n\n"
                      "ROOT = Path.cwd().parent if Path.cwd().name == 'notebooks' else Path.cwd()\n"
                      "TRACE = ROOT / 'traces/smollm2_wikitext_l1_t64'\n"
                      "ACCS = sorted((ROOT / 'hw_configs').glob('acc_if_*.yaml'))\n"
                      "MACS = sorted((ROOT / 'hw_configs').glob('mac_*.yaml'))\n"
                      "table, runs = pair_table(TRACE, ACCS, MACS)\n"
                      "table.round(2)"),
        new_markdown_cell("The lowest-energy design of each side, compared: the IF run is A, so every ratio "
                          "is MAC / ACC, and the waterfall walks from the IF total to the MAC's."),
        new_code_cell("acc, mac = best_pair(runs, ACCS, MACS)\n"
                      "c = compare(runs[(CITED, acc)], runs[(CITED, mac)])\n"
                      "print('\\n'.join(summary_sentences(c)))\n"
                      "ax = plot_waterfall(c)"),
        new_markdown_cell("One modelling choice at a time on both chips: how far each moves E_MAC/E_ACC."),
        new_code_cell("sens = sensitivity((acc, mac), TRACE, Path(tempfile.mkdtemp()), jobs=2, plots=False)\n"
                      "ax = plot_tornado(sens)"),
    ],
}


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                "language": "python"}})
        nbformat.write(nb, HERE / name)


if __name__ == "__main__":
    main()
