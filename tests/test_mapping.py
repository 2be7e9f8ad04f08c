"""The mapper: shard sizes hand-counted, every weight bit placed exactly once within the core
memories on real and synthetic whole-model traces, ops that read one matrix on its cores, and
one clear line for a model that does not fit."""

import numpy as np
import pytest
from helpers import ROOT
from hypothesis import given
from hypothesis import strategies as st

from neurosim.mapping.mapper import PlacementError, place, snake, split, weight_keys
from neurosim.mapping.placement import CHANNEL_CONSTANT_BITS, Placement, WeightPlacement
from neurosim.trace.inference import write_inference
from neurosim.trace.reader import open_trace
from neurosim.trace.synth import resolve_model

KIB = 8 * 1024


def test_shards_hand_counted():
    """SmolLM2's q_proj (576 x 576, 4 bit) on 128 KiB cores of 64x64 arrays: a column costs
    576 x 4 + 16 = 2320 bits, 452 fit, 448 in whole folds: 2 cores of 320 columns (the second
    256). down_proj (1536 x 576): 6160 bits a column, 170 fit, 128: 5 cores of 128. On 16 KiB
    cores a down_proj column block of 64 needs 64 x 6160 bits > 16 KiB, so K splits: 4 blocks of
    384 rows (1552 bits a column, 84 fit, 64 columns)."""
    assert split(576, 576, 4, 128 * KIB, 64, 64) == (320, 576)
    assert split(1536, 576, 4, 128 * KIB, 64, 64) == (128, 1536)
    assert split(1536, 576, 4, 16 * KIB, 64, 64) == (64, 384)
    assert split(576, 192, 4, 128 * KIB, 64, 64) == (192, 576)  # k_proj: one core
    assert split(10, 3, 4, 1 * KIB, 8, 8) == (3, 10)


@given(st.integers(1, 3000), st.integers(1, 3000), st.sampled_from([2, 4, 8]), st.integers(1, 512),
       st.sampled_from([4, 8, 64]), st.sampled_from([4, 8, 64]))
def test_every_shard_fits_its_core_and_the_shards_cover_the_matrix(K, N, bits, cap_kib, rows, cols):
    try:
        shard_n, shard_k = split(K, N, bits, cap_kib * KIB, rows, cols)
    except PlacementError as e:
        assert "cannot hold" in str(e)
        assert (min(K, rows) * bits + CHANNEL_CONSTANT_BITS) * min(N, cols) > cap_kib * KIB
        return
    w = WeightPlacement("w", K, N, bits, shard_n, shard_k, tuple(range(0)))
    assert shard_n * shard_k * bits + shard_n * CHANNEL_CONSTANT_BITS <= cap_kib * KIB
    assert sum(w.shard(n, k)[0] * w.shard(n, k)[1] for n in range(w.n_split) for k in range(w.k_split)) \
        == K * N
    assert sum(w.shard(n, 0)[0] for n in range(w.n_split)) == N
    assert sum(w.shard(0, k)[1] for k in range(w.k_split)) == K
    assert shard_n >= min(N, cols)


def _check_placement(p: Placement, manifest):
    """Every matrix bit placed once, no core over its memory, every core of a matrix its own."""
    held = p.core_weight_bits()
    assert held.max() <= p.weight_capacity_bits
    want = sum(w.K * w.N * w.weight_bits + w.N * CHANNEL_CONSTANT_BITS for w in p.weights)
    assert held.sum() == want
    owners = [c for w in p.weights for c in w.cores]
    assert len(owners) == len(set(owners)) == p.cores_used()
    ops = dict(p.op_cores)
    for op in manifest.ops:
        if op.b_source == "weights":
            assert ops[op.name] == tuple(c for k in weight_keys(op) for c in p.weight(k).cores)


def test_the_real_whole_inference_trace_is_placed_and_decode_reuses_the_prefill_cores():
    t = open_trace(ROOT / "traces/smollm2_wikitext_l1_p64_d8")
    p = place(t.manifest, 8, 8, 128 * KIB, 64, 64)
    _check_placement(p, t.manifest)
    assert p.cores_used() == 2 + 1 + 1 + 2 + 4 + 4 + 5
    ops = dict(p.op_cores)
    assert ops["decode.3.layers.0.mlp.down_proj"] == ops["layers.0.mlp.down_proj"]
    assert ops["layers.0.self_attn.attn_qk.kv1"] == ops["layers.0.self_attn.k_proj"]
    assert ops["decode.0.layers.0.self_attn.attn_av.kv2"] == ops["layers.0.self_attn.v_proj"]
    assert ops["layers.0.input_layernorm"] == ops["layers.0.self_attn.q_proj"]


def test_the_whole_synthetic_smollm2_with_its_lm_head_fills_a_27x27_mesh_and_folded_decode_reads_every_layer(
        tmp_path):
    """30 layers x 19 cores and the LM head (576 x 49,152: 110 cores of 448 columns) = 680 of 729
    cores; a decode op folded over the 30 layers runs on the 30 layers' cores of its projection;
    every decode step's LM head on the prefill's; the snake keeps a layer's cores adjacent."""
    model = resolve_model("smollm2-135m")
    path = write_inference(tmp_path / "t", model, 8, 2, model.layers, seed=0)
    t = open_trace(path)
    p = place(t.manifest, 27, 27, 128 * KIB, 64, 64)
    _check_placement(p, t.manifest)
    assert p.cores_used() == 30 * 19 + 110 and p.weight("lm_head").n_split == 110
    ops = dict(p.op_cores)
    assert ops["decode.1.layers.mlp.up_proj"] == tuple(c for i in range(30) for c in ops[f"layers.{i}.mlp.up_proj"])
    assert ops["decode.1.lm_head"] == ops["lm_head"]
    order = snake(27, 27)
    assert ops["layers.0.self_attn.q_proj"] == tuple(order[:2])
    with pytest.raises(PlacementError, match="short by 104"):
        place(t.manifest, 24, 24, 128 * KIB, 64, 64)


def test_a_model_that_does_not_fit_is_refused_in_one_line():
    t = open_trace(ROOT / "traces/smollm2_wikitext_l1_p64_d8")
    with pytest.raises(PlacementError) as e:
        place(t.manifest, 4, 4, 128 * KIB, 64, 64)
    msg = str(e.value)
    assert "\n" not in msg and "need 19 cores of 128 KiB" in msg and "4x4 mesh has 16 (short by 3)" in msg
    with pytest.raises(PlacementError, match="cannot hold 64 columns"):
        place(t.manifest, 8, 8, 1 * KIB, 64, 64)


def test_a_placement_built_by_hand_reports_its_cores():
    w = WeightPlacement("m", K=8, N=6, weight_bits=4, shard_n=4, shard_k=4, cores=(3, 2, 0, 1))
    p = Placement(2, 2, 10_000, (w,), (("op", (3, 2, 0, 1)),))
    # shards (n, k): (0,0) 4x4 on 3, (0,1) on 2, (1,0) 2 cols x 4 on 0, (1,1) on 1; constants at k = 0
    assert p.core_weight_bits().tolist() == [2 * 4 * 4 + 2 * 16, 2 * 4 * 4, 4 * 4 * 4, 4 * 4 * 4 + 4 * 16]
    d = p.to_dict()
    assert d["mesh"] == [2, 2] and d["weights"][0]["n_split"] == 2 and d["op_cores"] == {"op": [3, 2, 0, 1]}
    assert np.array_equal(d["core_weight_bits"], p.core_weight_bits())
