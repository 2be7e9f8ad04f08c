"""The system section of docs/acc_vs_mac.md (imported by ``benchmarks/acc_vs_mac_doc.py``): a
7B-shaped model (llama2-7b, 32 layers and its LM head) resident on the shipped boards of each design
(``board_acc_if``, ``board_mac``: 18 chips of 32 x 32 cores), at batch 1, 8 and 64, every core leaking
and idle cores gated, against one of their cores streaming the weights from DRAM; J/token against
batch for both designs, and the waterfall of the pair at batch 8.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from neurosim.api import simulate
from neurosim.report.compare import compare, plot_waterfall, summary_sentences
from neurosim.trace import synth
from neurosim.trace.inference import write_inference

ROOT = Path(__file__).resolve().parent.parent
BOARDS = (ROOT / "hw_configs/board_mac.yaml", ROOT / "hw_configs/board_acc_if.yaml")
BATCHES = (1, 8, 64)
PROMPT, DECODE = 64, 16
CASES = {"board, every core leaking": [], "board, idle cores gated": ["system.power_gating=idle"],
         "one core, streamed": ["system.mesh=[1,1]", "system.weights=streamed", "board.chips=[1,1]"]}


def _runs(tmp: Path) -> dict:
    """(batch, case, config) -> Results for every batch and case."""
    model = synth.resolve_model("llama2-7b")
    out = {}
    for b in BATCHES:
        trace = write_inference(tmp / f"7b_batch{b}", model, PROMPT, DECODE, model.layers, seed=0, batch=b)
        for case, over in CASES.items():
            for p in BOARDS:
                out[b, case, p.stem] = simulate(trace, p, overrides=over, verify=False)
    return out


def _row(runs: dict, b: int, case: str) -> str:
    mac, acc = (runs[b, case, p.stem].inference for p in BOARDS)
    return (f"| {b} | {case} | {mac['decode_j_per_token'] * 1e3:.2f} | {acc['decode_j_per_token'] * 1e3:.2f} | "
            f"{mac['decode_j_per_token'] / acc['decode_j_per_token']:.2f} | {mac['prefill_j_per_token'] * 1e3:.2f} | "
            f"{acc['prefill_j_per_token'] * 1e3:.2f} | {mac['decode_tokens_per_s']:.0f} | {acc['decode_tokens_per_s']:.0f} |")


def plot_against_batch(value, configs: tuple[Path, ...], cases, batches: tuple[int, ...], ylabel: str, title: str,
                       out: Path) -> None:
    """Log-log lines of ``value(batch, case, config stem)`` against batch, one per config and case
    (colour by config, line style by case); also the many-core section's plot."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for case, style in zip(cases, ("-", ":", "--"), strict=True):
        for p, colour in zip(configs, ("#D55E00", "#0072B2"), strict=True):
            ax.plot(batches, [value(b, case, p.stem) for b in batches], style, marker="o", color=colour,
                    label=f"{p.stem}: {case}")
    ax.set(xscale="log", yscale="log", xlabel="batch (sequences decoded together)", ylabel=ylabel, title=title)
    ax.set_xticks(batches, [str(b) for b in batches])
    ax.legend(fontsize=7)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)


def system_section(tmp: Path, img: Path) -> str:
    """The section's markdown (and its two figures in ``img``)."""
    runs = _runs(tmp)
    plot_against_batch(lambda b, case, stem: runs[b, case, stem].inference["decode_j_per_token"] * 1e3, BOARDS, CASES,
                       BATCHES, "decode mJ per token", "7B-shaped model: decode energy per token against batch",
                       img / "acc_vs_mac_system_batch.png")
    mac, acc = (runs[8, "board, every core leaking", p.stem] for p in BOARDS)
    c = compare(acc, mac)  # B / A = MAC / ACC
    ax = plot_waterfall(c)
    ax.figure.savefig(img / "acc_vs_mac_system_waterfall.png", dpi=110, bbox_inches="tight")
    plt.close(ax.figure)
    chips = acc.chip["chips"][0] * acc.chip["chips"][1]
    used = sum(1 for b in acc.chip["placement"]["core_weight_bits"] if b)
    shares = "; ".join(f"{r.config_name}: " + ", ".join(
        f"{k} {v / r.energy_pj['total']:.0%}" for k, v in r.energy_by_category_pj.items() if v / r.energy_pj["total"] >= 0.01)
        for r in (acc, mac))
    return "\n".join([
        "## At system scale: a 7B-shaped model on a board of chips",
        "",
        "A 7B-shaped model (`llama2-7b`: 32 layers and its 32,000-word LM head, 4-bit weights) resident on the shipped",
        f"boards (`board_acc_if`, `board_mac`: {chips} chips of 32 x 32 cores with 256 KiB of weights per core on a 6 x 3",
        f"mesh of UCIe standard-package links; the mapper uses {used:,} cores, docs/model.md, Boards of chips),",
        f"{PROMPT}-token prompts and {DECODE} decode steps at batch 1, 8 and 64 (`synth --model llama2-7b --batch B`),",
        "every core leaking, idle cores gated (a lower bound), and one of the boards' cores streaming the whole model",
        "from DRAM (each decode step reads every weight once whatever the batch):",
        "",
        "| batch | case | board_mac decode mJ/token | board_acc_if decode mJ/token | MAC / ACC | "
        "board_mac prefill mJ/token | board_acc_if prefill mJ/token | board_mac tokens/s | board_acc_if tokens/s |",
        "|---|---|---|---|---|---|---|---|---|",
        *[_row(runs, b, case) for b in BATCHES for case in CASES],
        "",
        "![decode energy per token against batch, 7B board](img/acc_vs_mac_system_batch.png)",
        "",
        "The rows with every core leaking follow the decode time: the MAC board's cores take one cycle per token",
        "where the IF lanes step through each code's spikes, and both load their weights at the SRAM's bandwidth",
        "(the many-core section), so the MAC board decodes faster and leaks for less time per token; with idle",
        "cores gated the two boards' energy per token is within a few per cent at every batch, and streaming the",
        "weights from DRAM both pay the same per token.",
        "",
        f"Energy shares at batch 8 on the boards: {shares}. Chip-to-chip links carry "
        f"{sum(acc.chip['board_link_bits'].values()) / 8e6:.1f} MB at batch 8 "
        f"({acc.chip['board_link_energy_pj'] * 1e-6:.0f} uJ on the IF board). Waterfall of the pair at batch 8:",
        "",
        *["- " + s for s in summary_sentences(c)],
        "",
        "![energy waterfall, 7B boards at batch 8](img/acc_vs_mac_system_waterfall.png)",
        "",
    ])
