"""Dequantization unit (int32 accumulator -> fp16: one convert and ``scale_multiplies`` fp16
multiplies per output, QuaRot-style per-token x per-channel) and requantization unit (fp16 ->
the next layer's integer code: one fp16 multiply by 1/s_out and a round/clamp per output). With
``requant.output_scale: two_phase`` the per-token ``s_out`` comes from the row maximum of the
dequantized outputs: one fp16 compare per output (``requant.max_compare``)."""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.config.hw import DequantSpec, RequantSpec
from neurosim.hw.cells import CONVERT_I32_FP16, FP16_ADD, FP16_MUL, LogicCells, adder


@dataclass
class DequantUnit:
    """Runtime dequantization + requantization counters."""

    spec: DequantSpec
    requant: RequantSpec
    convert: int = 0
    scale_mul: int = 0
    requant_mul: int = 0
    requant_round: int = 0
    row_max: int = 0

    def count_outputs(self, n: int, requant: bool = True) -> None:
        """Dequantize ``n`` outputs, and requantize them to codes unless a vector op takes them
        at fp16 (``requant`` False)."""
        self.convert += n
        self.scale_mul += n * self.spec.scale_multiplies
        if requant:
            self.requant_mul += n
            self.requant_round += n

    def count_row_max(self, outputs: int) -> None:
        """Running maximum over ``outputs`` (two-phase output scale)."""
        self.row_max += outputs

    def cells(self, lanes: int) -> LogicCells:
        """Per lane (one per array column): a converter, the scale multipliers, the requant
        multiplier and a 16-bit rounder, plus a running-max compare with a two-phase scale."""
        per_lane = CONVERT_I32_FP16 + FP16_MUL.times(self.spec.scale_multiplies + 1) + adder(16)
        if self.requant.output_scale == "two_phase":
            per_lane = per_lane + FP16_ADD
        return per_lane.times(lanes)

    def counters(self) -> dict[str, int]:
        out = {"dequant.convert": self.convert, "dequant.scale_mul": self.scale_mul,
               "requant.scale_mul": self.requant_mul, "requant.round": self.requant_round}
        if self.requant.output_scale == "two_phase":
            out["requant.max_compare"] = self.row_max
        return out
