"""Functional check of one op: the accumulations the array produces against the integer GEMM
of the trace's codes, and the fired output codes against a requantized reference.

The reference GEMM runs in floating-point BLAS (exact for these integer ranges, see
:func:`~neurosim.kernels.functional.exact_matmul`). The IF membranes are replayed spike by spike
on a sample: :data:`REPLAY_TOKENS` tokens x :data:`REPLAY_COLUMNS` output columns, evenly spaced
(all of them for small ops). The other membranes equal the GEMM exactly when no partial sum can
leave the membrane register (``K x max|q| x max|w| < 2^(membrane_bits-1)``); when that bound
does not hold, every membrane is replayed. The MAC's digit passes run on the same sampled tokens
when every code's digits recombine to the code (checked on all of them): the passes are linear,
so the other tokens' accumulations equal the GEMM."""

from __future__ import annotations

import threading

import numpy as np

from neurosim.config.hw import AccIfSpec, HwSpec
from neurosim.kernels.functional import exact_matmul, fire, if_accumulate, mac_digit_gemm, operand_digits
from neurosim.trace.manifest import Op
from neurosim.trace.reader import OpTensors, Trace


def check_op(trace: Trace, op: Op, spec: HwSpec) -> dict:
    """``{accumulation_mismatches, membrane_overflows, firing_mismatches, firing_max_abs_diff,
    outputs}`` for one op with weight codes."""
    t = trace.op_tensors(op)
    codes = np.ascontiguousarray(t.act_codes)
    shifts = np.zeros(codes.shape, dtype=np.int8) if t.act_shift is None else np.ascontiguousarray(t.act_shift)
    weights = np.ascontiguousarray(t.weight_codes)
    reference = _reference(trace, op, t, weights)
    overflows = 0
    if isinstance(spec, AccIfSpec):
        acc, overflows = _if_membranes(codes, shifts, weights, reference, spec)
    else:
        acc = _mac_accumulations(codes, None if t.act_shift is None else shifts, weights, reference, spec,
                                 trace.manifest.recipe.normal_max)
    out = {"accumulation_mismatches": int((acc != reference).sum()), "membrane_overflows": int(overflows),
           "outputs": int(reference.size)}
    if isinstance(spec, AccIfSpec):
        fired, ref_codes = fire(acc, np.asarray(t.act_scale), np.asarray(t.weight_scale), trace.manifest.recipe.act_bits)
        diff = np.abs(fired - ref_codes)
        out.update(firing_mismatches=int((diff > 0).sum()), firing_max_abs_diff=int(diff.max(initial=0)))
    return out


#: Bytes of reference GEMM results an open trace keeps, so that the configs of one run (which
#: share the trace) compute each op's reference once.
REFERENCE_CACHE_BYTES = 256 << 20


def _reference(trace: Trace, op: Op, tensors: OpTensors, weights: np.ndarray) -> np.ndarray:
    """The op's integer GEMM (read-only), from the trace's cache when an earlier config made it."""
    key = ("check_reference", op.name)
    if key in trace.derived:
        return trace.derived[key]
    ref = exact_matmul(tensors.act_values(), weights)
    ref.flags.writeable = False
    used = trace.derived.get(("check_reference_bytes",), 0)
    if used + ref.nbytes <= REFERENCE_CACHE_BYTES:
        trace.derived[key] = ref
        trace.derived[("check_reference_bytes",)] = used + ref.nbytes
    return ref


def _mac_accumulations(codes: np.ndarray, shifts: np.ndarray | None, weights: np.ndarray, reference: np.ndarray,
                       spec: HwSpec, normal_max: int) -> np.ndarray:
    """The MAC array's accumulations: its digit passes on sampled tokens when every code's digits
    recombine to the code (checked on all codes; the passes are linear, so the other tokens equal
    the GEMM), on every token otherwise."""
    outlier_max = normal_max if spec.array.salient == "outlier_path" else None
    dense = codes if outlier_max is None else np.where(np.abs(codes.astype(np.int16)) > outlier_max, 0, codes)
    planes = operand_digits(dense, spec.array.act_bits)
    recombined = sum(d << (spec.array.act_bits * p) for p, d in enumerate(planes))
    if codes.shape[0] <= REPLAY_TOKENS or not np.array_equal(recombined, dense):
        return mac_digit_gemm(codes, weights, spec.array.act_bits, outlier_max=outlier_max, shifts=shifts)
    rows = np.unique(np.linspace(0, codes.shape[0] - 1, REPLAY_TOKENS).astype(np.int64))
    acc = reference.copy()
    acc[rows] = mac_digit_gemm(np.ascontiguousarray(codes[rows]), weights, spec.array.act_bits,
                               outlier_max=outlier_max, shifts=None if shifts is None else shifts[rows])
    return acc


#: numba's default (workqueue) threading layer runs one parallel kernel at a time per process:
#: callers on several threads take turns.
_REPLAY_LOCK = threading.Lock()


def _replay(codes, shifts, weights, bitplane: bool, membrane_bits: int):
    with _REPLAY_LOCK:
        return if_accumulate(codes, shifts, weights, bitplane, membrane_bits)


#: Tokens and output columns whose membranes are replayed spike by spike when the width bound
#: rules out overflow (four 64-column array tiles' worth of columns).
REPLAY_TOKENS = 16
REPLAY_COLUMNS = 256


def _if_membranes(codes: np.ndarray, shifts: np.ndarray, weights: np.ndarray, reference: np.ndarray, spec: AccIfSpec):
    """(membranes [M, N], overflow events): replayed on sampled tokens and columns when the
    membrane width provably holds every partial sum (the rest equal the GEMM), everywhere
    otherwise."""
    bitplane = spec.array.encoding == "bitplane"
    mb = spec.array.membrane_bits
    value_max = int((np.abs(codes.astype(np.int64)) << shifts.astype(np.int64)).max(initial=0))
    bound = codes.shape[1] * value_max * int(np.abs(weights).max(initial=0))
    if bitplane:
        bound *= 2  # doubling between planes can exceed the final sum by one bit
    (M, N) = reference.shape
    if (M <= REPLAY_TOKENS and N <= REPLAY_COLUMNS) or bound >= 1 << (mb - 1):
        return _replay(codes, shifts, weights, bitplane, mb)
    rows = np.unique(np.linspace(0, M - 1, min(M, REPLAY_TOKENS)).astype(np.int64))
    cols = np.unique(np.linspace(0, N - 1, min(N, REPLAY_COLUMNS)).astype(np.int64))
    sample, overflows = _replay(np.ascontiguousarray(codes[rows]), np.ascontiguousarray(shifts[rows]),
                                np.ascontiguousarray(weights[:, cols]), bitplane, mb)
    acc = reference.copy()
    acc[np.ix_(rows, cols)] = sample
    return acc, overflows
