"""Accumulator and membrane widths from the op (``acc_bits: auto`` / ``membrane_bits: auto``).

The same rule on both designs: a signed register that holds the largest possible sum of the op,
``K x max|code x 2^shift| x max|weight|`` with ``max|code x 2^shift|`` the trace's widest value
(salient included, on its power-of-two step when the recipe has one) and
``max|weight| = 2^(weight_bits-1) - 1``: ``ceil(log2(bound + 1)) + 1`` bits (at most 63). The
functional check wraps in that width, so a rule that were too narrow would show as mismatches.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from neurosim.config.hw import HwSpec
from neurosim.engine.designs import DESIGNS
from neurosim.trace.manifest import Op, Recipe


def needed_bits(K: int, code_max: int, weight_max: int) -> int:
    """Bits of a two's-complement register holding any sum of K products |q| <= code_max,
    |w| <= weight_max."""
    bound = K * code_max * weight_max
    return min(63, max(2, math.ceil(math.log2(bound + 1)) + 1))


def built_widths(spec: HwSpec, ops: Sequence[Op], recipe: Recipe) -> HwSpec:
    """``spec`` with an ``auto`` width replaced by the widest any op needs: the registers and
    adders the chip is built with (they leak whether or not an op uses their top bits)."""
    key = DESIGNS[spec.design].accumulator_key
    if getattr(spec.array, key) != "auto" or not ops:
        return spec
    bits = max(getattr(resolve_widths(spec, op, recipe).array, key) for op in ops)
    return dataclasses.replace(spec, array=dataclasses.replace(spec.array, **{key: bits}))


def resolve_widths(spec: HwSpec, op: Op, recipe: Recipe) -> HwSpec:
    """``spec`` with an ``auto`` accumulator or membrane width replaced by what ``op`` needs."""
    key = DESIGNS[spec.design].accumulator_key
    if getattr(spec.array, key) != "auto":
        return spec
    bits = needed_bits(op.K, recipe.value_max, (1 << (op.weight_bits - 1)) - 1)
    return dataclasses.replace(spec, array=dataclasses.replace(spec.array, **{key: bits}))
