"""The vector unit: the element-wise and per-token work between GEMMs, the same on both designs.

Each vector op costs ``fp16 multiplies`` and ``fp16 adds`` (compares and subtractions count as
adds) per element from :data:`OPS_PER_ELEMENT`; a lane does one of them per cycle, so an op of
``e`` elements takes ``ceil(e x (mul + add) / lanes)`` cycles. Every element is read from and
written back to the unit's register file once (``element_bits`` each way). Per-token terms (one
reciprocal square root per token of an RMSNorm, the salient detector's threshold) are small
against ``width`` element operations and are not counted.

Counts: ``vector_unit.fp16_mul``, ``vector_unit.fp16_add``, ``vector_unit.reg_bits``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from neurosim.config.hw import VectorUnitSpec
from neurosim.hw.cells import FP16_ADD, FP16_MUL, LogicCells, register
from neurosim.units import ceil_div

#: (fp16 multiplies, fp16 adds) per element, and why. exp and sigmoid follow I-BERT's integer
#: approximations (Kim et al., ICML 2021): range reduction x = -z ln2 + p (1 mul, 1 add), a
#: second-order polynomial a(p + b)^2 + c (2 mul, 2 add), the shift by z (1 add): 3 mul, 4 add.
OPS_PER_ELEMENT: dict[str, tuple[int, int]] = {
    "rmsnorm": (3, 1),       # x^2 and its running sum (1 mul, 1 add); x * rsqrt(mean) * gain (2 mul)
    "rope": (2, 1),          # x cos(theta) -/+ y sin(theta): 2 mul, 1 add per output element
    "softmax": (4, 7),       # running max (1 add), x - max (1 add), exp (3 mul, 4 add), sum (1 add), / sum (1 mul)
    "silu_mul": (7, 6),      # sigmoid(x) = 1 / (1 + exp(-x)): exp (3 mul, 4 add), + 1 (1 add), reciprocal by
                             # one Newton step from a table seed (2 mul, 1 add); x * sigmoid, * gate (2 mul)
    "residual_add": (0, 1),  # x + residual
    "quantize": (1, 4),      # running max |x| (1 add), x / step (1 mul), round and clamp (1 add); salient
                             # detector: |x - median| (1 add) and its compare with the threshold (1 add)
    "hadamard": (0, 0),      # log2(width) butterfly adds per element: see ops()
    "kv_write": (0, 0),      # no arithmetic: the codes go to the KV cache (DRAM)
}


def ops(op: str, width: int) -> tuple[int, int]:
    """(fp16 multiplies, fp16 adds) per element of vector op ``op`` on rows of ``width``."""
    if op == "hadamard":  # a fast Walsh-Hadamard transform of a row: log2(width) add/sub stages
        return 0, max(1, math.ceil(math.log2(width)))
    return OPS_PER_ELEMENT[op]


@dataclass
class VectorUnit:
    """Runtime vector unit with its counters."""

    spec: VectorUnitSpec
    fp16_mul: int = 0
    fp16_add: int = 0
    reg_bits: int = 0

    def run(self, op: str, tokens: int, width: int) -> int:
        """Count one vector op over ``tokens x width`` elements; returns its cycles."""
        mul, add = ops(op, width)
        elements = tokens * width
        if mul + add == 0:
            return 0
        self.fp16_mul += elements * mul
        self.fp16_add += elements * add
        self.reg_bits += 2 * elements * self.spec.element_bits
        return ceil_div(elements * (mul + add), self.spec.lanes)

    def cells(self) -> LogicCells:
        """Per lane an fp16 multiplier and adder with an element register each side."""
        return (FP16_MUL + FP16_ADD + register(2 * self.spec.element_bits)).times(self.spec.lanes)

    def counters(self) -> dict[str, int]:
        return {"vector_unit.fp16_mul": self.fp16_mul, "vector_unit.fp16_add": self.fp16_add,
                "vector_unit.reg_bits": self.reg_bits}
