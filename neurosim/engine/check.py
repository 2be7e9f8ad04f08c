"""Functional check of one op: the accumulations the array produces against the integer GEMM
of the trace's codes, and the fired output codes against a requantized reference."""

from __future__ import annotations

import numpy as np

from neurosim.config.hw import AccIfSpec, HwSpec
from neurosim.kernels.functional import fire, if_accumulate, mac_digit_gemm
from neurosim.trace.manifest import Op
from neurosim.trace.reader import Trace


def check_op(trace: Trace, op: Op, spec: HwSpec) -> dict:
    """``{accumulation_mismatches, membrane_overflows, firing_mismatches, firing_max_abs_diff,
    outputs}`` for one op with weight codes."""
    t = trace.op_tensors(op)
    codes = np.ascontiguousarray(t.act_codes)
    weights = np.ascontiguousarray(t.weight_codes)
    reference = codes.astype(np.int64) @ weights.astype(np.int64)
    overflows = 0
    if isinstance(spec, AccIfSpec):
        acc, overflows = if_accumulate(codes, weights, spec.array.encoding == "bitplane", spec.array.membrane_bits)
    else:
        acc = mac_digit_gemm(codes, weights, spec.array.act_bits, outlier_max=(
            trace.manifest.recipe.normal_max if spec.array.salient == "outlier_path" else None))
    out = {"accumulation_mismatches": int((acc != reference).sum()), "membrane_overflows": int(overflows),
           "outputs": int(reference.size)}
    if isinstance(spec, AccIfSpec):
        fired, ref_codes = fire(acc, np.asarray(t.act_scale), np.asarray(t.weight_scale), trace.manifest.recipe.act_bits)
        diff = np.abs(fired - ref_codes)
        out.update(firing_mismatches=int((diff > 0).sum()), firing_max_abs_diff=int(diff.max(initial=0)))
    return out
