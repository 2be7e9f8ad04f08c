"""Threshold unit: quantization scales folded into per-neuron firing thresholds.

``theta[t, j] = s_out / (s_in[t] * s_w[j])``: with ``fold: per_token`` one fp16 multiply per
(token, neuron) sets it (the per-token activation scale changes every token); with
``fold: static`` one per neuron per layer. Firing compares the membrane with the threshold:
``threshold.compare`` per output. No dequantization multiply anywhere. With ``output_scale:
two_phase`` the per-token ``s_out`` comes from the row maximum of ``|acc_j| x s_w[j]``: one fp16
multiply (``threshold.max_scale``) and one compare (``threshold.max_compare``) per output.

When a vector op takes the output (whole-inference traces, ``vector_unit.operands: counted``)
nothing fires: the unit dequantizes each membrane to fp16 as the MAC design's dequantizer does,
one convert (``threshold.convert``) and :data:`DEQUANT_MULTIPLIES` fp16 multiplies
(``threshold.dequant_mul``) per output, with a converter per lane beside its multiplier.
"""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.config.hw import ThresholdSpec
from neurosim.hw.cells import CONVERT_I32_FP16, FP16_ADD, FP16_MUL, LogicCells, adder

#: fp16 multiplies per dequantized output: the per-token activation scale and the per-channel
#: weight scale (the MAC dequantizer's default ``dequant.scale_multiplies``).
DEQUANT_MULTIPLIES = 2


@dataclass
class ThresholdUnit:
    """Runtime threshold unit with its counters."""

    spec: ThresholdSpec
    setup: int = 0
    compare: int = 0
    row_max: int = 0
    convert: int = 0
    dequant_mul: int = 0

    def count_outputs(self, tokens: int, neurons: int, fp16: bool = False) -> None:
        """Fire ``tokens x neurons`` outputs (or, ``fp16``, dequantize them)."""
        if fp16:
            self.convert += tokens * neurons
            self.dequant_mul += tokens * neurons * DEQUANT_MULTIPLIES
            return
        self.compare += tokens * neurons
        if self.spec.fold == "per_token":
            self.setup += tokens * neurons

    def count_row_max(self, outputs: int) -> None:
        """Running maximum over ``outputs`` (two-phase output scale)."""
        self.row_max += outputs

    def count_layer(self, neurons: int) -> None:
        """Once per layer: static thresholds are set up per neuron."""
        if self.spec.fold == "static":
            self.setup += neurons

    def cells(self, lanes: int, convert: bool = False) -> LogicCells:
        """One fp16 multiplier and one threshold comparator per lane (one lane per array column),
        plus a running-max multiplier and compare per lane with a two-phase output scale, and a
        converter per lane when it dequantizes (``convert``)."""
        per_lane = FP16_MUL + adder(self.spec.bits) + (CONVERT_I32_FP16 if convert else LogicCells())
        if self.spec.output_scale == "two_phase":
            per_lane = per_lane + FP16_MUL + FP16_ADD
        return per_lane.times(lanes)

    def counters(self) -> dict[str, int]:
        out = {"threshold.setup": self.setup, "threshold.compare": self.compare}
        if self.convert:
            out.update({"threshold.convert": self.convert, "threshold.dequant_mul": self.dequant_mul})
        if self.spec.output_scale == "two_phase":
            out.update({"threshold.max_scale": self.row_max, "threshold.max_compare": self.row_max})
        return out
