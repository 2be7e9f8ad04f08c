"""Spike statistics of a trace (what ``neurosim trace info`` prints), streamed in row chunks."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neurosim.trace.manifest import Recipe
from neurosim.trace.quantize import quantize_activations
from neurosim.trace.reader import Trace

_CHUNK_BYTES = 1 << 22  # codes are read in ~4 MiB slices, whatever the row width
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


@dataclass(frozen=True)
class CodeStats:
    """Counts over one activation-code tensor ``[M, K]``."""

    entries: int
    spikes: int  # sum |q|: spikes under count encoding
    bitplane_spikes: int  # sum popcount(|q|): spikes under bitplane encoding
    zeros: int
    salient: int  # |q| above the normal range
    K: int

    @property
    def mean_spikes(self) -> float:
        return self.spikes / self.entries

    @property
    def salient_ratio(self) -> float:
        return self.salient / self.entries

    @property
    def zero_fraction(self) -> float:
        return self.zeros / self.entries

    def storage_bits(self, recipe: Recipe) -> dict[str, int]:
        """Bits by bitwidth class: a dense store of normal-width codes for every position, and a
        side store of salient codes with their column index."""
        index_bits = max(1, math.ceil(math.log2(self.K)))
        return {f"dense_{recipe.act_bits}b": self.entries * recipe.act_bits,
                f"salient_{recipe.salient_bits}b+idx{index_bits}": self.salient * (recipe.salient_bits + index_bits)}


def code_stats(codes: np.ndarray, normal_max: int) -> CodeStats:
    """Statistics of one int8 code tensor, read in flat chunks (works on memory maps, and one very
    wide row costs no more memory than a narrow one)."""
    spikes = bitplane = zeros = salient = 0
    flat = codes.reshape(-1)
    for start in range(0, flat.shape[0], _CHUNK_BYTES):
        a = np.abs(np.asarray(flat[start:start + _CHUNK_BYTES]).astype(np.int16)).astype(np.uint8)
        spikes += int(a.sum(dtype=np.int64))
        bitplane += int(_POPCOUNT[a].sum(dtype=np.int64))
        zeros += int((a == 0).sum())
        salient += int((a > normal_max).sum())
    return CodeStats(int(codes.size), spikes, bitplane, zeros, salient, int(codes.shape[1]))


def trace_stats(trace: Trace) -> dict[str, CodeStats]:
    """Statistics per activation tensor (shared inputs counted once), keyed by tensor name."""
    out: dict[str, CodeStats] = {}
    for op in trace.ops:
        if op.act_codes not in out:
            out[op.act_codes] = code_stats(trace.tensor(op.act_codes), trace.manifest.recipe.normal_max)
    return out


#: Tokens whose outputs are requantized to measure an op's output salient ratio (evenly spaced;
#: every token when the op has fewer).
OUTPUT_SAMPLE_TOKENS = 64


def output_salient_ratio(trace: Trace, op) -> float | None:
    """Fraction of an op's output codes that are salient under the trace's recipe: the outputs
    ``y = ((codes x 2^shift) @ weights) x s_in x s_w`` of up to :data:`OUTPUT_SAMPLE_TOKENS` evenly spaced
    tokens, quantized per token by the recipe's rule (what a threshold unit with a salient
    detector fires and writes back). ``None`` when the op has no weight codes."""
    if op.weight_codes is None:
        return None
    return trace.derived.get_or_make(("output_salient_ratio", op.name), lambda: _output_salient_ratio(trace, op))


def _output_salient_ratio(trace: Trace, op) -> float:
    r = trace.manifest.recipe
    if r.salient_bits <= r.act_bits or r.salient_rule == "none":
        return 0.0
    t = trace.op_tensors(op)
    rows = np.unique(np.linspace(0, op.M - 1, min(op.M, OUTPUT_SAMPLE_TOKENS)).astype(np.int64))
    # float32 products of integer codes (x 2^shift) are exact below 2^24; beyond, the rounding is
    # far below one quantization step of the outputs
    acc = t.act_values(rows).astype(np.float32) @ np.asarray(t.weight_codes, np.float32)
    y = acc * np.asarray(t.act_scale[rows], np.float32)[:, None] * np.asarray(t.weight_scale, np.float32)[None, :]
    codes, _ = quantize_activations(y, r.act_bits, r.salient_bits, r.salient_rule, r.salient_param, r.act_clip)
    return float((np.abs(codes.astype(np.int16)) > r.normal_max).mean())
