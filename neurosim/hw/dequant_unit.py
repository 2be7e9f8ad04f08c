"""Dequantization unit (int32 accumulator -> fp16: one convert and ``scale_multiplies`` fp16
multiplies per output, QuaRot-style per-token x per-channel) and requantization unit (fp16 ->
the next layer's integer code: one fp16 multiply by 1/s_out and a round/clamp per output)."""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.config.hw import DequantSpec


@dataclass
class DequantUnit:
    """Runtime dequantization + requantization counters."""

    spec: DequantSpec
    convert: int = 0
    scale_mul: int = 0
    requant_mul: int = 0
    requant_round: int = 0

    def count_outputs(self, n: int) -> None:
        self.convert += n
        self.scale_mul += n * self.spec.scale_multiplies
        self.requant_mul += n
        self.requant_round += n

    def counters(self) -> dict[str, int]:
        return {"dequant.convert": self.convert, "dequant.scale_mul": self.scale_mul,
                "requant.scale_mul": self.requant_mul, "requant.round": self.requant_round}
