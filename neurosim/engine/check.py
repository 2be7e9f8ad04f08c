"""Functional check of one op: the accumulations the array produces against the integer GEMM
of the trace's codes, and the fired output codes against a requantized reference.

The IF membranes are replayed spike by spike on a sample: :data:`REPLAY_TOKENS` tokens x
:data:`REPLAY_COLUMNS` output columns, evenly spaced (all of them for small ops). The other
membranes equal the GEMM exactly when no partial sum can leave the membrane register
(``K x max|q| x max|w| < 2^(membrane_bits-1)``); when that bound does not hold, every membrane is
replayed. The MAC's digit passes run on the same sampled tokens when every code's digits
recombine to the code (checked on every code value present): the passes are linear, so the other
tokens' accumulations equal the GEMM. The reference GEMM is computed where it is compared: the sampled
tokens' rows (every column, which the per-token output scale of firing needs), or the whole
product when every token is replayed (in floating-point BLAS, exact for these integer ranges, see
:func:`~neurosim.kernels.functional.exact_matmul`). Firing is compared on the rows computed."""

from __future__ import annotations

import threading

import numpy as np

from neurosim.config.hw import AccIfSpec, HwSpec
from neurosim.kernels.functional import exact_matmul, fire, if_accumulate, mac_digit_gemm, operand_digits
from neurosim.trace.manifest import Op
from neurosim.trace.reader import OpTensors, Trace


def check_op(trace: Trace, op: Op, spec: HwSpec) -> dict:
    """``{accumulation_mismatches, membrane_overflows, outputs, replayed_outputs}`` for one op
    with weight codes (``outputs``: every output, the ones not replayed shown equal to the GEMM
    by the width bound or linearity), and for the IF array ``firing_mismatches``,
    ``firing_max_abs_diff`` and ``firing_outputs`` (the outputs whose firing was compared)."""
    t = trace.op_tensors(op)
    codes = np.ascontiguousarray(t.act_codes)
    shifts = np.zeros(codes.shape, dtype=np.int8) if t.act_shift is None else np.ascontiguousarray(t.act_shift)
    weights = np.ascontiguousarray(t.weight_codes)
    M, N = op.M, weights.shape[1]
    sample = np.unique(np.linspace(0, M - 1, min(M, REPLAY_TOKENS)).astype(np.int64))
    made: dict[bool, np.ndarray] = {}

    def reference_of(rows: np.ndarray | None) -> np.ndarray:  # rows: None or the sample
        whole = rows is None
        if whole not in made:
            made[whole] = _reference(trace, op, t, weights, rows)
        return made[whole]
    overflows = 0
    if isinstance(spec, AccIfSpec):
        rows, acc, overflows, replayed = _if_membranes(codes, shifts, weights, sample, spec, reference_of)
    else:
        rows, acc, replayed = _mac_accumulations(codes, None if t.act_shift is None else shifts, weights, sample,
                                                 spec, trace.manifest.recipe.normal_max)
    reference = reference_of(rows)
    out = {"accumulation_mismatches": int((acc != reference).sum()), "membrane_overflows": int(overflows),
           "outputs": M * N, "replayed_outputs": int(replayed)}
    if isinstance(spec, AccIfSpec):
        scale = np.asarray(t.act_scale)
        fired, ref_codes = fire(acc, scale if rows is None else scale[rows], np.asarray(t.weight_scale),
                                trace.manifest.recipe.act_bits)
        diff = np.abs(fired - ref_codes)
        out.update(firing_mismatches=int((diff > 0).sum()), firing_max_abs_diff=int(diff.max(initial=0)),
                   firing_outputs=int(diff.size))
    return out


#: Bytes of reference GEMM results an open trace keeps, so that the configs of one run (which
#: share the trace) compute each op's reference once.
REFERENCE_CACHE_BYTES = 256 << 20


def _reference(trace: Trace, op: Op, tensors: OpTensors, weights: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    """The op's integer GEMM (read-only) on ``rows`` (None: every row), from the trace's cache
    when an earlier config made it (or the whole product)."""
    whole = trace.derived.get(("check_reference", op.name))
    if whole is not None:
        return whole if rows is None else whole[rows]
    key = ("check_reference", op.name) if rows is None else ("check_reference", op.name, rows.tobytes())
    ref = trace.derived.get(key)
    if ref is None:
        ref = exact_matmul(tensors.act_values(rows), weights)
        ref.flags.writeable = False
        trace.derived.keep(key, ref, REFERENCE_CACHE_BYTES)
    return ref


def _mac_accumulations(codes: np.ndarray, shifts: np.ndarray | None, weights: np.ndarray, sample: np.ndarray,
                       spec: HwSpec, normal_max: int):
    """(rows, the MAC array's accumulations on them, outputs computed by its passes): its digit
    passes on the sampled tokens when every code's digits recombine to the code (checked on every
    code value present; the passes are linear, so the other tokens equal the GEMM), on every
    token otherwise (rows None)."""
    outlier_max = normal_max if spec.array.salient == "outlier_path" else None
    dense = codes if outlier_max is None else np.where(np.abs(codes.astype(np.int16)) > outlier_max, 0, codes)
    # every code value present (int8: at most 256 of them), split and recombined
    present = (np.flatnonzero(np.bincount(dense.astype(np.int8).ravel().view(np.uint8), minlength=256))
               .astype(np.uint8).view(np.int8)[None, :])
    planes = operand_digits(present, spec.array.act_bits)
    recombined = sum(d << (spec.array.act_bits * p) for p, d in enumerate(planes))
    if codes.shape[0] <= REPLAY_TOKENS or not np.array_equal(recombined, present):
        acc = mac_digit_gemm(codes, weights, spec.array.act_bits, outlier_max=outlier_max, shifts=shifts)
        return None, acc, acc.size
    acc = mac_digit_gemm(np.ascontiguousarray(codes[sample]), weights, spec.array.act_bits,
                         outlier_max=outlier_max, shifts=None if shifts is None else shifts[sample])
    return sample, acc, acc.size


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


def _if_membranes(codes: np.ndarray, shifts: np.ndarray, weights: np.ndarray, sample: np.ndarray, spec: AccIfSpec,
                  reference_of):
    """(rows, membranes on them [rows, N], overflow events, membranes replayed): replayed on the
    sampled tokens and columns when the membrane width provably holds every partial sum (the
    rest of those rows equal the GEMM, ``reference_of(rows)``), on every token (rows None)
    otherwise."""
    bitplane = spec.array.encoding == "bitplane"
    mb = spec.array.membrane_bits
    q_max = int(np.abs(codes.astype(np.int16)).max(initial=0))
    value_max = q_max if not shifts.any() else int((np.abs(codes.astype(np.int64)) << shifts.astype(np.int64)).max())
    bound = codes.shape[1] * value_max * int(np.abs(weights.astype(np.int16)).max(initial=0))
    if bitplane:
        bound *= 2  # doubling between planes can exceed the final sum by one bit
    M, N = codes.shape[0], weights.shape[1]
    if (M <= REPLAY_TOKENS and N <= REPLAY_COLUMNS) or bound >= 1 << (mb - 1):
        acc, overflows = _replay(codes, shifts, weights, bitplane, mb)
        return None, acc, overflows, acc.size
    cols = np.unique(np.linspace(0, N - 1, min(N, REPLAY_COLUMNS)).astype(np.int64))
    replayed, overflows = _replay(np.ascontiguousarray(codes[sample]), np.ascontiguousarray(shifts[sample]),
                                  np.ascontiguousarray(weights[:, cols]), bitplane, mb)
    acc = reference_of(sample).copy()
    acc[:, cols] = replayed
    return sample, acc, overflows, replayed.size
