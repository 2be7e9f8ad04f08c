"""Functional check of one op: the accumulations the array produces against the integer GEMM
of the trace's codes, and the fired output codes against a requantized reference.

The reference GEMM runs in float64 BLAS (exact for these integer ranges). The IF membranes are
replayed spike by spike on a sample of tokens (:data:`REPLAY_TOKENS`, evenly spaced, all of them
for small ops); the other tokens' membranes equal the GEMM exactly when no partial sum can leave
the membrane register (``K x max|q| x max|w| < 2^(membrane_bits-1)``); when that bound does not
hold, every token is replayed."""

from __future__ import annotations

import numpy as np

from neurosim.config.hw import AccIfSpec, HwSpec
from neurosim.kernels.functional import exact_matmul, fire, if_accumulate, mac_digit_gemm
from neurosim.trace.manifest import Op
from neurosim.trace.reader import Trace


def check_op(trace: Trace, op: Op, spec: HwSpec) -> dict:
    """``{accumulation_mismatches, membrane_overflows, firing_mismatches, firing_max_abs_diff,
    outputs}`` for one op with weight codes."""
    t = trace.op_tensors(op)
    codes = np.ascontiguousarray(t.act_codes)
    shifts = np.zeros(codes.shape, dtype=np.int8) if t.act_shift is None else np.ascontiguousarray(t.act_shift)
    weights = np.ascontiguousarray(t.weight_codes)
    reference = exact_matmul(t.act_values(), weights)
    overflows = 0
    if isinstance(spec, AccIfSpec):
        acc, overflows = _if_membranes(codes, shifts, weights, reference, spec)
    else:
        acc = mac_digit_gemm(codes, weights, spec.array.act_bits, outlier_max=(
            trace.manifest.recipe.normal_max if spec.array.salient == "outlier_path" else None),
            shifts=None if t.act_shift is None else shifts)
    out = {"accumulation_mismatches": int((acc != reference).sum()), "membrane_overflows": int(overflows),
           "outputs": int(reference.size)}
    if isinstance(spec, AccIfSpec):
        fired, ref_codes = fire(acc, np.asarray(t.act_scale), np.asarray(t.weight_scale), trace.manifest.recipe.act_bits)
        diff = np.abs(fired - ref_codes)
        out.update(firing_mismatches=int((diff > 0).sum()), firing_max_abs_diff=int(diff.max(initial=0)))
    return out


#: Tokens whose membranes are replayed spike by spike when the width bound rules out overflow.
REPLAY_TOKENS = 16


def _if_membranes(codes: np.ndarray, shifts: np.ndarray, weights: np.ndarray, reference: np.ndarray, spec: AccIfSpec):
    """(membranes [M, N], overflow events): replayed on sampled tokens when the membrane width
    provably holds every partial sum (the rest equal the GEMM), on every token otherwise."""
    bitplane = spec.array.encoding == "bitplane"
    mb = spec.array.membrane_bits
    value_max = int((np.abs(codes.astype(np.int64)) << shifts.astype(np.int64)).max(initial=0))
    bound = codes.shape[1] * value_max * int(np.abs(weights).max(initial=0))
    if bitplane:
        bound *= 2  # doubling between planes can exceed the final sum by one bit
    if codes.shape[0] <= REPLAY_TOKENS or bound >= 1 << (mb - 1):
        return if_accumulate(codes, shifts, weights, bitplane, mb)
    rows = np.unique(np.linspace(0, codes.shape[0] - 1, REPLAY_TOKENS).astype(np.int64))
    sample, overflows = if_accumulate(np.ascontiguousarray(codes[rows]), np.ascontiguousarray(shifts[rows]), weights,
                                      bitplane, mb)
    acc = reference.copy()
    acc[rows] = sample
    return acc, overflows
