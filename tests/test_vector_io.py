"""Data between ops (docs/model.md "Data between ops"): closed-form flows on hand-built schedules
and a hand-counted tiny trace on both designs."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import BIG_MAC_SRAMS, BIG_SRAMS, spec

from neurosim.api import simulate
from neurosim.config.hw import VectorBufferSpec
from neurosim.engine.vector_io import Flow, VectorIo, between_ops, vector_io
from neurosim.hw.sram import Sram
from neurosim.trace import Producer, Recipe, TraceWriter
from neurosim.trace.manifest import Op, VectorOp
from neurosim.trace.reader import open_trace


def _op(name: str, M: int, K: int, N: int, step: int = 0) -> Op:
    return Op(name, "linear", M, K, N, 4, "a", "s", None, None, None, "prefill" if step == 0 else "decode", step)


def _vec(name: str, op: str, tokens: int, width: int, bits: int = 16, step: int = 0) -> VectorOp:
    return VectorOp(name, op, tokens, width, 0, bits, "prefill" if step == 0 else "decode", step)


def test_flows_of_an_attention_block_by_hand():
    """q (4x8), k and v (4x4) leave 512 + 256 + 256 fp16 bits; RoPE over q and k reads 4 x 12 x 16 =
    768 of them, the quantizer after it the v projection's 256 (the rest of its 1,024 input bits
    from RoPE's output); its output feeds the attention GEMM, less the 4 x 8 x 4 = 128 bits of K
    and V codes that kv_write sends to the cache. A new decode step drops what is left."""
    items = [_op("q", 4, 8, 8), _op("k", 4, 8, 4), _op("v", 4, 8, 4), _vec("rope", "rope", 4, 12),
             _vec("qkv.quantize", "quantize", 4, 16), _vec("kv_write", "kv_write", 4, 8, bits=4),
             _op("attn", 4, 8, 4), _vec("next", "rmsnorm", 1, 8, step=1)]
    assert between_ops(items) == [None, None, None, Flow(768, False, 0), Flow(256, True, 128), None, None,
                                  Flow(0, False, 0)]


def test_vector_io_closed_form():
    """The quantizer above on a 256 KiB buffer: 256 bits of v from DRAM, 768 from the buffer; its
    4 x 16 codes of 4 bits and 4 fp16 scales (320 bits) less 128 for the cache go to DRAM. On a
    buffer whose half is smaller than its 1,024-bit input everything goes through DRAM."""
    v = _vec("qkv.quantize", "quantize", 4, 16)
    big = Sram("vector_buffer", VectorBufferSpec())
    assert vector_io(v, 4, Flow(256, True, 128), big) == VectorIo(dram_read=256, dram_write=192, buffer_read=768)
    small = Sram("vector_buffer", VectorBufferSpec(size_kib=0.1))  # 819 bits: half holds 409 < 1,024
    io = vector_io(v, 4, Flow(256, True, 128), small)
    assert (io.dram_read, io.dram_write, io.buffer_read, io.buffer_write) == (1024, 192, 0, 0)
    norm = vector_io(_vec("n", "rmsnorm", 4, 16), 4, Flow(), big)  # between vector ops: all in the buffer
    assert (norm.dram_read, norm.dram_write, norm.buffer_read, norm.buffer_write) == (0, 0, 1024, 1024)


def _block_trace(path, rng) -> str:
    """GEMM (4x16x8), residual add, RMSNorm and quantizer over 4 x 8, then GEMM (4x8x8)."""
    with TraceWriter(path, Producer("test", 4), Recipe(), overwrite=True) as w:
        a = w.add_tensor("a", rng.integers(-7, 8, (4, 16)).astype(np.int8))
        s = w.add_tensor("s", np.ones(4, np.float32))
        b = w.add_tensor("b", rng.integers(-7, 8, (4, 8)).astype(np.int8))
        w.add_op("o_proj", "linear", a, s, weight_bits=4, N=8)
        for name, op in (("residual", "residual_add"), ("norm", "rmsnorm"), ("quantize", "quantize")):
            w.add_vector_op(name, op, 4, 8)
        w.add_op("up", "linear", b, s, weight_bits=4, N=8)
    return str(path)


@pytest.mark.parametrize("name,srams", [("tiny_acc_if", BIG_SRAMS), ("tiny_mac", BIG_MAC_SRAMS)])
def test_data_between_ops_hand_counted(tmp_path, name, srams):
    """Each GEMM writes its 4 x 8 outputs at fp16 (512 bits: one 64-byte burst) and dequantizes
    them (one convert and two multiplies each, no requantizing); the residual add reads o_proj's
    512 bits back from DRAM and the residual (512) from the buffer, writes 512 there; the norm
    reads and writes 512 in the buffer; the quantizer reads 512 there and writes its 4 x 8 codes
    of 4 bits and 4 fp16 scales (192 bits: one burst) to DRAM for the GEMM after it. With
    ``vector_unit.operands: ignored`` none of this moves and the GEMMs write codes."""
    trace = open_trace(_block_trace(tmp_path / "t", np.random.default_rng(0)))
    r = simulate(trace, spec(name, **srams))
    by = {la.name: la for la in r.layers}
    for g in ("o_proj", "up"):
        assert by[g].memory["dram"]["write_bits"] == 512
    expect = {"residual": (512, 0, 512, 512), "norm": (0, 0, 512, 512), "quantize": (0, 512, 512, 0)}
    for v, (dr, dw, br, bw) in expect.items():
        m = by[v].memory
        assert (m["dram"]["read_bits"], m["dram"]["write_bits"]) == (dr, dw), v
        assert (m["vector_buffer"]["read_bits"], m["vector_buffer"]["write_bits"]) == (br, bw), v
    if name == "tiny_acc_if":
        c = by["o_proj"].counters
        assert c["threshold.convert"] == 32 and c["threshold.dequant_mul"] == 64 and c["threshold.compare"] == 0
    else:
        c = by["o_proj"].counters
        assert c["dequant.convert"] == 32 and c["dequant.scale_mul"] == 64 and c["requant.scale_mul"] == 0
    old = simulate(trace, spec(name, **srams, **{"vector_unit.operands": "ignored"}))
    assert all("vector_buffer" not in la.memory for la in old.layers)
    assert all(la.memory["dram"]["read_bits"] == la.memory["dram"]["write_bits"] == 0
               for la in old.layers if la.kind == "vector")
    assert r.area_mm2["vector_buffer"] > 0 and "vector_buffer" not in old.area_mm2


def test_counted_operands_refused_on_a_many_core_chip():
    """The one-core model of the data between ops on a mesh is refused, naming the key."""
    from neurosim.errors import ConfigError

    with pytest.raises(ConfigError, match="vector_unit.operands"):
        spec("manycore_acc_if", **{"vector_unit.operands": "counted"})
    assert spec("manycore_acc_if").vector_unit.operands == "auto"
