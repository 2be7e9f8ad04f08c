"""Data between ops (docs/model.md "Data between ops"): where a vector op's operands live and
what moving them costs, and the vector unit's buffer as a part of the chip.

With ``vector_unit.operands: counted`` a vector op reads its inputs and writes its output at
their real width (``bits`` of the trace; a quantizer's output is codes of the recipe's normal
width plus an fp16 scale per token). A GEMM writes its output at fp16 through the engine's
output path (DRAM on one core), and the vector ops after it read those bits back from there, in
schedule order, as many as their inputs take (the v projection's output, say, is read by the
quantizer after RoPE). A vector op directly before a GEMM writes its output (the GEMM's input
codes) to DRAM, from where the GEMM reads it. Every other operand (the residual stream, a norm's
output, the probabilities before their quantizer) is a tensor of ``tokens x width`` that stays
in the vector unit's buffer when it fits in half of it (beside another of its size: a
producer's output and its consumer's), else goes to DRAM and back. Written by hand: no library
models an accelerator's activation buffer.
"""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.config.hw import operands_counted
from neurosim.hw.sram import Sram
from neurosim.trace.manifest import Op, VectorOp
from neurosim.units import FP16_BITS, SCALE_BITS

#: Input tensors of ``tokens x width`` each vector op reads (its output is one more).
INPUTS: dict[str, int] = {"rmsnorm": 1, "rope": 1, "softmax": 1, "silu_mul": 2, "residual_add": 2,
                          "quantize": 1, "hadamard": 1}


@dataclass(frozen=True)
class VectorIo:
    """One instance of a vector op's data: bits read from and written to DRAM and the buffer."""

    dram_read: int = 0
    dram_write: int = 0
    buffer_read: int = 0
    buffer_write: int = 0


def output_bits(v: VectorOp, act_bits: int) -> int:
    """Bits of one instance's output: fp16 (``bits``) elements, or a quantizer's codes and scales."""
    if v.op == "quantize":
        return v.elements * act_bits + v.tokens * SCALE_BITS
    return v.elements * v.bits


def vector_io(v: VectorOp, act_bits: int, flow: Flow, buffer: Sram) -> VectorIo:
    """Where one instance of ``v`` finds its inputs and puts its output (the module docstring):
    GEMM outputs and a GEMM's input in DRAM, codes for the KV cache left to ``kv_write``, every
    other tensor in the buffer when it fits in half of it, else in DRAM."""
    fits = v.elements * v.bits <= buffer.capacity_bits // 2
    own_in = INPUTS[v.op] * v.elements * v.bits - flow.from_gemm_bits
    out = max(0, output_bits(v, act_bits) - flow.to_cache_bits)
    in_buffer = own_in if fits else 0
    out_buffer = out if fits and not flow.to_gemm else 0
    return VectorIo(dram_read=flow.from_gemm_bits + own_in - in_buffer, dram_write=out - out_buffer,
                    buffer_read=in_buffer, buffer_write=out_buffer)


@dataclass(frozen=True)
class Flow:
    """Where one instance of a vector op meets the GEMMs around it: the bits of GEMM outputs it
    reads, whether its output is the next GEMM's input, and the bits of that output that go to
    the KV cache instead (written by the ``kv_write`` between them)."""

    from_gemm_bits: int = 0
    to_gemm: bool = False
    to_cache_bits: int = 0


def between_ops(items: list[Op | VectorOp]) -> list[Flow | None]:
    """Per item of a schedule (one core's, in order), a vector op's :class:`Flow` (None for GEMMs
    and ``kv_write``). GEMM outputs (fp16) wait in DRAM until the vector ops after them in the same
    phase or decode step have read as many as their inputs take; a new step drops what is left
    (the LM head's logits leave the chip)."""
    out: list[Flow | None] = []
    pending, at = 0, None
    for i, item in enumerate(items):
        if (item.phase, item.step) != at:
            pending, at = 0, (item.phase, item.step)
        if not isinstance(item, VectorOp):
            pending += item.M * item.N * FP16_BITS * item.repeat
            out.append(None)
            continue
        if item.op == "kv_write":
            out.append(None)
            continue
        take = min(pending // item.repeat, INPUTS[item.op] * item.elements * item.bits)
        pending -= take * item.repeat
        j, cache = i + 1, 0
        while j < len(items) and isinstance(items[j], VectorOp) and items[j].op == "kv_write":
            cache += items[j].tokens * items[j].width * items[j].bits * items[j].repeat
            j += 1
        nxt = items[j] if j < len(items) else None
        to_gemm = nxt is not None and not isinstance(nxt, VectorOp) and (nxt.phase, nxt.step) == at
        out.append(Flow(take, to_gemm, cache // item.repeat if to_gemm else 0))
    return out


class VectorHost:
    """A chip's vector unit with its buffer: both are part of the chip once the trace has vector
    ops (``vector_used``: their cells and the buffer leak, the buffer is counted)."""

    @property
    def vector_used(self) -> bool:
        return getattr(self, "_vector_used", False)

    @vector_used.setter
    def vector_used(self, used: bool) -> None:
        self._vector_used = used
        self.srams.pop("vector_buffer", None)
        if used and operands_counted(self.spec):
            self.srams["vector_buffer"] = Sram("vector_buffer", self.spec.vector_unit.buffer)

    def gemm_output_fp16(self) -> bool:
        """A GEMM's output feeds a vector op, so it leaves at fp16 (not as next-layer codes)."""
        return self.vector_used and operands_counted(self.spec)
