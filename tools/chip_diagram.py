"""Draw the block diagram of both single-core designs for the docs' front page
(``docs/img/chips.png`` and ``.svg``): what each chip holds and how data moves through it, the
components named as the results name them.

    python tools/chip_diagram.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from neurosim.report.style import CATEGORY_COLOURS  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SRAM, COMPUTE, CONTROL, DRAM = (CATEGORY_COLOURS[c] for c in ("sram", "compute", "control", "dram"))
VECTOR = "#CCCCCC"

#: The slots of one core, the same on both designs: (x, y, width, height, colour).
SLOTS = {
    "dram": (0.05, 0.88, 0.90, 0.08, DRAM), "codes": (0.05, 0.62, 0.28, 0.14, SRAM),
    "side_store": (0.05, 0.44, 0.28, 0.12, SRAM), "weights": (0.67, 0.62, 0.28, 0.14, SRAM),
    "array": (0.37, 0.40, 0.26, 0.36, COMPUTE), "side_unit": (0.67, 0.44, 0.28, 0.12, COMPUTE),
    "partial_sums": (0.37, 0.24, 0.26, 0.10, SRAM), "output_unit": (0.05, 0.22, 0.28, 0.14, CONTROL),
    "outputs": (0.05, 0.06, 0.28, 0.10, SRAM), "vector": (0.40, 0.04, 0.55, 0.14, VECTOR),
}
#: Arrows both designs share: DRAM in, operands to the array, partial sums out, to the output unit.
ARROWS = [((0.19, 0.88), (0.19, 0.76)), ((0.81, 0.88), (0.81, 0.76)), ((0.33, 0.66), (0.37, 0.62)),
          ((0.67, 0.68), (0.63, 0.66)), ((0.50, 0.40), (0.50, 0.34)), ((0.37, 0.29), (0.33, 0.29))]
DRAM_LABEL = "DRAM (weights, activations, KV cache)"

#: Per design: each slot's label (a slot it lacks is left out), then its own arrows.
CHIPS = {
    "acc_if: integrate-and-fire, accumulate only": (
        {"dram": DRAM_LABEL, "codes": "spike_dense\nnormal codes, 4 b", "side_store": "spike_salient\ncode + index",
         "weights": "weight_sram", "array": "IF array\nR x C\naccumulators:\na spike adds\nits weight",
         "side_unit": "salient side lanes\n(optional)", "partial_sums": "membrane_store",
         "output_unit": "threshold unit\nfire (or fp16 out)", "outputs": "output_buffer",
         "vector": "vector unit + vector_buffer\nnorms, RoPE, softmax, SiLU, quantize"},
        [((0.19, 0.22), (0.19, 0.16)), ((0.33, 0.11), (0.40, 0.11))]),
    "mac: systolic or adder-tree MAC array": (
        {"dram": DRAM_LABEL, "codes": "act_sram\ncodes, 4 or 8 b", "side_store": "salient_sram\n(outlier_path)",
         "weights": "weight_sram", "array": "MAC array\nR x C\nmultipliers\nand adders",
         "side_unit": "outlier unit\n(outlier_path)", "partial_sums": "output_sram\npsums, outputs",
         "output_unit": "dequant + requant\n(or fp16 out)",
         "vector": "vector unit + vector_buffer\nthe same on both designs"},
        [((0.19, 0.22), (0.40, 0.12))]),
}


def draw() -> plt.Figure:
    """Both chips side by side."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.2))
    for ax, (title, (labels, own_arrows)) in zip(axes, CHIPS.items(), strict=True):
        for slot, label in labels.items():
            x, y, w, h, colour = SLOTS[slot]
            ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.005", fc=colour, ec="black", lw=0.8,
                                        alpha=0.85))
            dark = colour in (COMPUTE, DRAM)
            ax.text(x + w / 2, y + h / 2, label, ha="center", va="center", fontsize=7.5,
                    color="white" if dark else "black")
        for a, b in ARROWS + own_arrows:
            ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=10, lw=1, color="black"))
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.axis("off")
        ax.set_title(title, fontsize=10)
    fig.suptitle("one core of each design (a many-core chip tiles them on a mesh; colours: energy categories)",
                 fontsize=9, y=0.02)
    return fig


def main() -> None:
    fig = draw()
    for ext in ("png", "svg"):
        fig.savefig(ROOT / "docs" / "img" / f"chips.{ext}", dpi=120, bbox_inches="tight")
    print("wrote docs/img/chips.png and docs/img/chips.svg")


if __name__ == "__main__":
    main()
