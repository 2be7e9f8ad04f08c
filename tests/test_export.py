"""Exporter on the real shared SmolLM2-135M model (CPU, a minute or two): trace validity, shared
inputs, recipe equivalence between torch fake-quant and trace codes, perplexity ordering."""

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch  # the export extra, installed by .ci/run
from helpers import HANG_GUARD_S
from hypothesis import given, settings
from hypothesis import strategies as st

from neurosim.api import simulate
from neurosim.export.recipes import clip_errors_t, fake_quant_act_t, make_recipe, quantize_act_t
from neurosim.trace import validate_trace
from neurosim.trace.manifest import Recipe
from neurosim.trace.quantize import quantize_activations, quantize_shifted
from neurosim.trace.stats import trace_stats

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
MODEL = SHARED / "models/smollm2-135m-instruct-q4_1"
TEXT = SHARED / "corpora/wikitext-2-raw-test/wiki.test.raw.txt"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"  # SOURCE.md

needs_model = pytest.mark.skipif(not MODEL.exists(), reason="shared/models is not beside the checkout")


@pytest.fixture(scope="module")
def lm():
    from neurosim.export.model import load_model

    return load_model(MODEL)


@pytest.fixture(scope="module")
def ids(lm):
    return lm.encode(TEXT.read_text())


@pytest.mark.parametrize("shift_max", [0, 3, 15])
@pytest.mark.parametrize("clip", [1.0, 0.8])
@pytest.mark.parametrize("rule,param", [("mad", 3.0), ("ratio", 0.03), ("none", 0.0)])
def test_torch_recipe_equals_trace_quantizer(rule, param, clip, shift_max):
    x = np.random.default_rng(0).standard_t(3, (16, 96)).astype(np.float32)
    x[:, 5] *= 3000.0  # massive activations: salient values far beyond 127 normal steps
    r = Recipe(4, 4, 8 if rule != "none" else 4, rule, param, act_clip=clip, salient_shift_max=shift_max)
    codes_np, scale_np, shift_np = quantize_shifted(x, r.act_bits, r.salient_bits, r.salient_rule, r.salient_param,
                                                    r.act_clip, r.salient_shift_max)
    codes_t, scale_t, shift_t = quantize_act_t(torch.from_numpy(x), r)
    np.testing.assert_array_equal(codes_t.numpy().astype(np.int8), codes_np)
    xt = torch.from_numpy(x)  # the clip search's errors: each clip's quantization, medians shared
    assert clip_errors_t(xt, r, (1.0, 0.7)) == [float(((q * torch.exp2(s) * sc - xt) ** 2).sum()) for q, sc, s in
                                                 (quantize_act_t(xt, replace(r, act_clip=c)) for c in (1.0, 0.7))]
    values, counts = fake_quant_act_t(torch.from_numpy(x), r)  # what the model sees, and its statistics
    assert torch.equal(values, codes_t * torch.exp2(shift_t) * scale_t)
    assert counts == {"entries": codes_np.size, "spikes": int(np.abs(codes_np.astype(np.int64)).sum()),
                      "salient": int((np.abs(codes_np) > r.normal_max).sum())}
    np.testing.assert_array_equal(shift_t.numpy().astype(np.int8), shift_np)
    np.testing.assert_allclose(scale_t.numpy()[:, 0], scale_np, rtol=1e-6)
    if shift_max == 0:
        np.testing.assert_array_equal(codes_np, quantize_activations(x, r.act_bits, r.salient_bits, r.salient_rule,
                                                                     r.salient_param, r.act_clip)[0])
    elif rule != "none":
        assert shift_np.max() > 0 and (np.abs(codes_np[shift_np > 0]) > r.normal_max).all()


@needs_model
def test_export_real_model_trace(lm, ids, tmp_path):
    from neurosim.export.capture import export_trace
    from neurosim.export.prepare import prepare

    p = prepare(lm.model, "spikequant", [], salient_param=None, salient_calib=ids[:256])
    k = p.spec.recipe.salient_param
    assert 2.0 < k < 20.0
    out = export_trace(lm, ids[:48], p, tmp_path / "t", layers=2, text_source=str(TEXT))
    trace = validate_trace(out)
    m = trace.manifest
    assert m.producer.weights_sha256 == GGUF_SHA256 and m.producer.tokens == 48 and not m.synthetic
    assert m.recipe.salient_rule == "mad" and m.recipe.salient_param == k
    ops = {op.name: op for op in trace.ops}
    assert len(ops) == 14
    q, kk, v = (ops[f"layers.1.self_attn.{p}_proj"] for p in "qkv")
    assert q.act_codes == kk.act_codes == v.act_codes  # stored once
    assert ops["layers.0.mlp.gate_proj"].act_codes == ops["layers.0.mlp.up_proj"].act_codes
    assert ops["layers.0.mlp.down_proj"].act_codes != ops["layers.0.mlp.up_proj"].act_codes
    # regression: inputs were grouped by id(), which Python reuses after a tensor is freed
    assert len({op.act_codes for op in trace.ops}) == 4 * 2
    assert (q.M, q.K, q.N) == (48, 576, 576) and (kk.N, ops["layers.0.mlp.down_proj"].K) == (192, 1536)
    stats = trace_stats(trace)
    ratio = sum(s.salient for s in stats.values()) / sum(s.entries for s in stats.values())
    assert 0.01 <= ratio <= 0.05
    # weights: per-channel codes reproduce the dequantized float weights within half a step
    wt = trace.op_tensors(q)
    w = lm.model.model.layers[1].self_attn.q_proj.weight.detach().numpy().T
    assert np.abs(wt.weight_codes * wt.weight_scale - w).max() <= wt.weight_scale.max() / 2 + 1e-6
    r = simulate(trace, ROOT / "hw_configs/acc_if_64x64.yaml", check=True, verify=False)
    assert all(layer.check["accumulation_mismatches"] == 0 for layer in r.layers)


@needs_model
def test_perplexity_ordering(lm, ids):
    from neurosim.export.perplexity import perplexity, windows

    wins = windows(ids, 256, 1)
    ppl = {name: perplexity(lm.model, wins, make_recipe(name, salient_param=6.0)).perplexity
           for name in ("float", "spikequant", "w4a4", "w4a8")}
    assert 5 < ppl["float"] < 60
    assert ppl["float"] < ppl["w4a8"] < ppl["w4a4"]
    assert ppl["spikequant"] < ppl["w4a4"]  # salient handling recovers part of the A4 loss


def test_gptq_beats_round_to_nearest_on_a_tiny_layer():
    """Output reconstruction error on correlated inputs: GPTQ < RTN, and its weights stay on the
    same per-channel grid (codes within +-7)."""
    from neurosim.export.gptq import gptq, quantize_rows, weight_scale
    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, 48, generator=g) @ torch.randn(48, 48, generator=g) + torch.randn(48, generator=g)
    w = torch.randn(24, 48, generator=g)
    h = 2 * x.T @ x / x.shape[0]
    s = weight_scale(w, 4)

    def err(wq):
        return float(((x @ (wq - w).T) ** 2).mean())
    wg = gptq(w, h, 4)
    assert err(wg) < 0.7 * err(quantize_rows(w, s, 4))
    codes = wg / s
    assert torch.allclose(codes, codes.round(), atol=1e-4) and codes.abs().max() <= 7 + 1e-4


@needs_model
def test_rotation_keeps_the_float_model(lm, ids):
    """Folded norms, the residual rotation and the online transform of down_proj's input leave
    the float model's logits unchanged (fp32 tolerance)."""
    import copy

    from neurosim.export.transforms import fold_norms, online_hadamard, orthogonal, rotate, rotate_heads
    x = torch.tensor([ids[:96]])
    m = copy.deepcopy(lm.model)
    with torch.no_grad():
        ref = lm.model(x).logits
        fold_norms(m)
        rotate(m, orthogonal(m.config.hidden_size, 0))
        rotate_heads(m)
        q = orthogonal(576, 3)
        assert torch.allclose(q @ q.T, torch.eye(576, dtype=q.dtype), atol=1e-12)
        hooks = online_hadamard(m)
        got = m(x).logits
    for h in hooks:
        h.remove()
    assert (got - ref).abs().max() < 1e-4 * ref.abs().max()


@needs_model
def test_prepared_recipe_trace_equals_the_model(lm, ids, tmp_path):
    """spikequant+rot+gptq+aclip: the trace's weight codes x steps are the prepared model's
    weights exactly, its activation codes are what the model's fake quantizer produced (code
    for code), and the check passes."""
    from neurosim.export.capture import capture_inputs, export_trace
    from neurosim.export.prepare import prepare
    calib = [ids[-256 * (i + 1):len(ids) - 256 * i] for i in range(2)]
    with prepare(lm.model, "spikequant+rot+gptq+aclip", calib, salient_param=6.0, layers=1) as p:
        out = export_trace(lm, ids[:32], p, tmp_path / "t", layers=1, text_source=str(TEXT))
        records = capture_inputs(p, ids[:32], 1)
    trace = validate_trace(out)
    r = trace.manifest.recipe
    assert r.act_clip == p.spec.recipe.act_clip
    for op in trace.ops:
        t = trace.op_tensors(op)
        w = {n: m for n, m, _, _ in records}[op.name].weight.detach().numpy().T
        np.testing.assert_array_equal(t.weight_codes * t.weight_scale[None, :], w.astype(np.float32))
        x = next(x for n, _, x, _ in records if n == op.name)
        codes_t, _, _ = quantize_act_t(torch.from_numpy(x), r)
        np.testing.assert_array_equal(np.asarray(t.act_codes), codes_t.numpy().astype(np.int8))
    res = simulate(trace, ROOT / "hw_configs/acc_if_64x64.yaml", check=True, verify=False)
    assert all(layer.check["accumulation_mismatches"] == 0 for layer in res.layers if layer.kind != "vector")
    # the rotation's online transform of down_proj's input is an op the engine charges
    (had,) = [v for v in trace.manifest.vector_ops if v.op == "hadamard"]
    down = next(i for i, op in enumerate(trace.ops) if op.name.endswith("mlp.down_proj"))
    assert had.position == down and had.width == lm.model.config.intermediate_size and had.tokens == 32
    layer = next(la for la in res.layers if la.vector_op == "hadamard")
    assert layer.counters["vector_unit.fp16_add"] == 32 * 1536 * 11  # log2(1536) rounded up: 11 add stages


@needs_model
def test_export_op_clips(lm, ids, tmp_path):
    """w4a4+oclip through one layer: each linear op records its input's own clip ratio (format
    v6; the readers of one input share it), its codes are the recipe quantizer's at that ratio,
    code for code, the whole inference's decode steps carry the same ratios, and ``trace info``
    reports them."""
    from neurosim.export.capture import capture_inputs, export_trace
    from neurosim.export.inference_capture import export_inference
    from neurosim.export.prepare import prepare
    from neurosim.trace.info import format_info

    calib = [ids[-256 * (i + 1):len(ids) - 256 * i] for i in range(2)]
    with prepare(lm.model, "w4a4+oclip", calib, layers=1, whole_model=False) as p:
        out = export_trace(lm, ids[:32], p, tmp_path / "t", layers=1, text_source=str(TEXT))
        records = capture_inputs(p, ids[:32], 1)
        whole = export_inference(lm, [ids[:18]], 2, p, tmp_path / "i", layers=1, text_source=str(TEXT))
    trace = validate_trace(out)
    r = trace.manifest.recipe
    clips = {op.name: op.act_clip for op in trace.ops}
    assert trace.manifest.version == 6 and r.act_clip == 1.0 and sum(c is not None for c in clips.values()) >= 3
    assert len({clips[f"layers.0.self_attn.{x}_proj"] for x in "qkv"}) == 1
    assert clips["layers.0.mlp.gate_proj"] == clips["layers.0.mlp.up_proj"]
    for op in trace.ops:
        x = next(x for n, _, x, _ in records if n == op.name)
        codes_t, _, _ = quantize_act_t(torch.from_numpy(x), replace(r, act_clip=op.act_clip or r.act_clip))
        np.testing.assert_array_equal(np.asarray(trace.op_tensors(op).act_codes), codes_t.numpy().astype(np.int8))
    linear = [op for op in validate_trace(whole).ops if op.kind == "linear"]
    assert len(linear) == 3 * len(clips) and all(op.act_clip == clips[op.name.split(".", 2)[-1] if op.phase == "decode"
                                                                       else op.name] for op in linear)
    assert "ops with their own clip" in format_info(trace)
    lo, hi = min(c or 1.0 for c in clips.values()), max(c or 1.0 for c in clips.values())
    assert p.spec.label.endswith(f"act clip {lo:g}-{hi:g} per input)")


@needs_model
def test_export_pow2_salient_step_round_trips(lm, ids, tmp_path):
    """spikequant+pow2 on the real model: the massive activations get shifts (no clipping), the
    trace's codes and shifts equal the torch recipe's, and both arrays sum them exactly."""
    from neurosim.export.capture import capture_inputs, export_trace
    from neurosim.export.prepare import prepare

    with prepare(lm.model, "spikequant+pow2", [], salient_param=None, salient_calib=ids[:256], layers=1) as p:
        r = p.spec.recipe
        out = export_trace(lm, ids[:32], p, tmp_path / "t", layers=1, text_source=str(TEXT))
        records = capture_inputs(p, ids[:32], 1)
    assert 1 <= r.salient_shift_max <= 15
    trace = validate_trace(out)
    assert trace.manifest.recipe == r
    shifted = 0
    for op in trace.ops:
        t = trace.op_tensors(op)
        x = next(x for n, _, x, _ in records if n == op.name)
        codes_t, _, shift_t = quantize_act_t(torch.from_numpy(x), r)
        np.testing.assert_array_equal(np.asarray(t.act_codes), codes_t.numpy().astype(np.int8))
        np.testing.assert_array_equal(np.asarray(t.act_shift), shift_t.numpy().astype(np.int8))
        shifted += int((np.asarray(t.act_shift) > 0).sum())
    assert shifted > 0
    for cfg in ("acc_if_64x64", "mac_64x64_os", "mac_64x64_os_outlier"):
        res = simulate(trace, ROOT / "hw_configs" / f"{cfg}.yaml", check=True, verify=False)
        assert all(layer.check["accumulation_mismatches"] == 0 for layer in res.layers)
        assert res.energy_by_action_pj["salient_shifter.bit_stages"] > 0


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "neurosim", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=HANG_GUARD_S)


def test_export_cli_usage_errors(tmp_path):
    r = _cli("export", "--model", tmp_path / "nope", "--text", TEXT, "--tokens", "8", "--out", tmp_path / "o")
    assert r.returncode == 2 and "not a model directory" in r.stderr and "Traceback" not in r.stderr
    r = _cli("eval", "--model", MODEL, "--windows", "0")
    assert r.returncode == 2
    if MODEL.exists():  # a batch the text cannot fill, and a batch without decode steps: one line, nothing written
        for extra, why in ((["--decode", "2", "--batch", "1000000000"], "the text has only"),
                           (["--batch", "2"], "goes with a whole inference")):
            r = _cli("export", "--model", MODEL, "--text", TEXT, "--tokens", "8", *extra, "--out", tmp_path / "o")
            assert r.returncode == 2 and why in r.stderr and "Traceback" not in r.stderr, r.stderr
            assert not (tmp_path / "o").exists()
    for bad, why in (("w4a4+nope", "unknown modifier"), ("w4a4+rot+smooth", "alternatives"), ("float+gptq", "float"),
                     ("w5a5", "base must be")):
        r = _cli("eval", "--model", MODEL, "--text", TEXT, "--recipes", bad)
        assert r.returncode == 2 and why in r.stderr and "Traceback" not in r.stderr, (bad, r.stderr)


def test_recipe_names_parse():
    from neurosim.export.recipe_names import parse_recipe
    p = parse_recipe("spikequant+rot+gptq+aclip")
    assert (p.base, p.weights, p.rotate, p.smooth_alpha, p.act_clip_search) == ("spikequant", "gptq", True, None, True)
    assert parse_recipe("w4a4+smooth0.7").smooth_alpha == 0.7
    assert [(p.weights, p.weight_clip) for p in map(parse_recipe, ("w4a8+wclip", "w4a8+gptq", "w4a8+gptq+wclip"))] \
        == [("rtn", True), ("gptq", False), ("gptq", True)]
    with pytest.raises(ValueError, match="twice"):
        parse_recipe("w4a8+gptq+rot+gptq")
    p = parse_recipe("w4a4+spin+gptq+wclip+oclip")
    assert (p.op_clip_search, p.act_clip_search, p.needs_calibration) == (True, False, True)
    with pytest.raises(ValueError, match="alternatives"):
        parse_recipe("w4a4+aclip+oclip")


def test_op_clips_least_output_error():
    """oclip's search on a hand-made calibration: two linears reading one input share a ratio, a
    third reading another input gets its own; each is the grid's ratio of least summed squared
    output error, recomputed here with the trace's numpy quantizer (quantize_shifted)."""
    from neurosim.export.act_clip import OP_CLIP_GRID, op_clips

    g = torch.Generator().manual_seed(3)
    x1, x2 = torch.randn(64, 32, generator=g), torch.randn(64, 32, generator=g)
    x1[:, 7] = x2[:, 5] = 4.0  # one large channel in every row: it sets the step at clip 1
    w = {"a": torch.zeros(8, 32), "b": 10 * torch.randn(4, 32, generator=g), "c": torch.zeros(6, 32)}
    w["b"][:, 7] = 0.0
    w["a"][:, 7] = w["c"][:, 5] = 1.0  # a and c read only the large channel: clipping it costs them
    r = make_recipe("w4a4").recipe

    def feed(want):
        for name, x in (("a", x1), ("b", x1), ("c", x2)):
            want(name, x)
    got = op_clips(feed, r, w)

    def delta(x, c):  # the trace quantizer's values minus x
        codes, scale, _ = quantize_shifted(x.numpy(), 4, 4, "none", 0.0, c, 0)
        return codes.astype(np.float64) * scale[:, None] - x.numpy()

    def best(x, readers):
        errs = [sum(float(((delta(x, c) @ w[n].numpy().T) ** 2).sum()) for n in readers) for c in OP_CLIP_GRID]
        return OP_CLIP_GRID[int(np.argmin(errs))]
    assert got == {"a": best(x1, "ab"), "b": best(x1, "ab"), "c": best(x2, "c")}
    # the case is the oracle's: a alone would keep its channel whole, b's error decides their
    # ratio; c's output wants no clip, though its input's own error would want one
    assert got["a"] < 1.0 and best(x1, "a") == 1.0 and got["c"] == 1.0
    assert min(OP_CLIP_GRID, key=lambda c: float((delta(x2, c) ** 2).sum())) < 1.0


def test_gptq_on_a_clipped_grid():
    """wclip with gptq: GPTQ rounds on the clip-searched per-channel step (each channel's codes
    within the 4-bit range of that step), and on a layer whose inputs are white (Hessian = I,
    where GPTQ's updates vanish and it is round to nearest) it equals round to nearest on the
    clipped step exactly."""
    import torch

    from neurosim.export.gptq import clip_search, gptq, quantize_rows

    torch.manual_seed(0)
    w = torch.distributions.StudentT(3.0).sample((8, 64)).double()
    s = clip_search(w, 4)
    assert bool((s.flatten() < w.abs().amax(dim=1) / 7).any())  # heavy tails: some channel clipped
    q = gptq(w, torch.eye(64, dtype=torch.float64), 4, scale=s, percdamp=0.0)
    assert torch.equal(q, quantize_rows(w, s, 4).to(q.dtype))


def test_shipped_rotated_trace():
    """The shipped trace of the best SpikeQuant-style recipe: format v2, its recipe recorded,
    salient ratio near the 2.5 % target."""
    trace = validate_trace(ROOT / "traces/smollm2_wikitext_l1_t64_rot")
    m = trace.manifest
    assert m.version == 2 and m.extra["recipe_name"] == "spikequant+rot+gptq+aclip" and m.recipe.act_clip < 1
    assert m.extra["online_transforms"]["size"] == 1536
    stats = trace_stats(trace)
    ratio = sum(s.salient for s in stats.values()) / sum(s.entries for s in stats.values())
    assert 0.01 <= ratio <= 0.04


def test_shipped_real_trace():
    trace = validate_trace(ROOT / "traces/smollm2_wikitext_l1_t64")
    assert trace.manifest.producer.weights_sha256 == GGUF_SHA256
    stats = trace_stats(trace)
    ratio = sum(s.salient for s in stats.values()) / sum(s.entries for s in stats.values())
    assert 0.01 <= ratio <= 0.05


@needs_model
def test_export_whole_inference(lm, ids, tmp_path):
    """A prefill of 16 tokens and 2 teacher-forced decode steps through 1 layer: the trace holds
    the layer schedule per phase, attention per KV head on the cached keys and values, softmax
    rows that sum to 1 (within their quantization), and every GEMM checks exactly."""
    from neurosim.export.inference_capture import export_inference
    from neurosim.export.prepare import prepare
    from neurosim.trace.inference import layer_schedule

    with prepare(lm.model, "spikequant", [], salient_param=6.0) as p:
        out = export_inference(lm, [ids[:18]], 2, p, tmp_path / "t", layers=1, text_source=str(TEXT))
    trace = validate_trace(out)
    kv_heads = lm.model.config.num_key_value_heads
    per_layer = sum(1 if it[0] == "linear" else kv_heads for it in layer_schedule("x", _shape_of(lm), 1, 1, 4)
                    if it[0] != "vector")
    assert len(trace.ops) == 3 * per_layer and {op.phase for op in trace.ops} == {"prefill", "decode"}
    steps = [op for op in trace.ops if op.kind == "attn_av"]
    assert [op.K for op in steps] == [16] * kv_heads + [17] * kv_heads + [18] * kv_heads  # the cache grows
    for op in steps:
        t = trace.op_tensors(op)
        rows = np.asarray(t.act_codes, np.float64) * np.asarray(t.act_scale, np.float64)[:, None]
        assert np.all(np.abs(rows.sum(axis=1) - 1) <= op.K * np.asarray(t.act_scale) / 2 + 1e-6)
    res = simulate(trace, ROOT / "hw_configs/acc_if_64x64.yaml", check=True, verify=False)
    assert all(la.check["accumulation_mismatches"] == 0 for la in res.layers if la.kind != "vector")
    assert res.inference["kv_write_bits"] > 0 and res.phases["decode"]["tokens"] == 2


@needs_model
def test_export_batch(lm, ids, tmp_path):
    """Three sequences (consecutive 10-token windows: 8 prompt tokens, 2 decode steps) exported
    together: each linear op carries every sequence's tokens, each sequence attends over its own
    cache (its K and V codes those of the same window exported alone, up to float summation
    order), every GEMM checks exactly, and the run counts every sequence's tokens."""
    from neurosim.engine.summary import batch_of
    from neurosim.export.inference_capture import export_inference
    from neurosim.export.prepare import prepare
    from neurosim.report.summary import layer_type

    seqs = [ids[10 * b:10 * (b + 1)] for b in range(3)]
    with prepare(lm.model, "spikequant", [], salient_param=6.0) as p:
        out = export_inference(lm, seqs, 2, p, tmp_path / "b", layers=1, text_source=str(TEXT))
        alone = export_inference(lm, seqs[1:2], 2, p, tmp_path / "one", layers=1, text_source=str(TEXT))
    trace, single = validate_trace(out), validate_trace(alone)
    kv_heads = lm.model.config.num_key_value_heads
    assert batch_of(trace) == 3 and trace.manifest.extra["batch"] == 3
    linear = [op for op in trace.ops if op.kind == "linear"]
    assert {op.M for op in linear if op.phase == "prefill"} == {24} and {op.M for op in linear
                                                                          if op.phase == "decode"} == {3}
    av = [op for op in trace.ops if op.kind == "attn_av"]
    assert [op.K for op in av] == [8] * 3 * kv_heads + [9] * 3 * kv_heads + [10] * 3 * kv_heads
    assert av[kv_heads].name == "layers.0.self_attn.attn_av.s1.kv0"
    assert {layer_type(op.name) for op in trace.ops} == {layer_type(op.name) for op in single.ops}  # report rows
    for kind in ("k_cache", "v_cache"):
        mine = np.asarray(trace.tensor(f"layers.0.s1.kv0.{kind}.codes"))
        ref = np.asarray(single.tensor(f"layers.0.kv0.{kind}.codes"))
        assert mine.shape == ref.shape and np.mean(mine == ref) > 0.98 and np.abs(mine.astype(int) - ref).max() <= 1
    res = simulate(trace, ROOT / "hw_configs/acc_if_64x64.yaml", check=True, verify=False)
    assert all(la.check["accumulation_mismatches"] == 0 for la in res.layers if la.kind != "vector")
    assert res.inference["batch"] == 3 and res.phases["decode"]["tokens"] == 6


def _shape_of(lm):
    from neurosim.export.inference_capture import _shape

    return _shape(lm)


@given(st.integers(1, 40), st.integers(1, 300), st.floats(1e-3, 1e3))
@settings(max_examples=60, deadline=None)
def test_median_by_selection_is_torch_quantile_exactly(rows, width, spread):
    """The linear-time median equals torch.quantile(x, 0.5) bit for bit, odd and even widths."""
    from neurosim.export.recipes import median_t

    x = torch.randn(rows, width, generator=torch.Generator().manual_seed(rows * 1000 + width)) * spread
    assert torch.equal(median_t(x), torch.quantile(x, 0.5, dim=-1, keepdim=True))


def test_export_reports_its_stages_without_a_terminal(lm, tmp_path, capsys):
    """A non-TTY export says stage by stage what it does (load, calibrations, weights, capture),
    each with its time (in process: the model the fixture loaded is reused)."""
    from neurosim.cli import main

    calib = tmp_path / "calib.txt"  # one calibration window: the stages, not their cost, are tested
    calib.write_text(Path(TEXT).read_text()[:4000])
    assert main(["export", "--model", str(MODEL), "--text", str(TEXT), "--tokens", "16", "--layers", "1",
                 "--calib-text", str(calib), "--recipe", "spikequant+gptq+aclip", "--out", str(tmp_path / "t")]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("neurosim export: ")]
    started = [line.split(": ", 1)[1].rsplit(" (", 1)[0] for line in lines if line.endswith("steps) ...")]
    assert started == ["load model", "calibration: salient threshold", "calibration: GPTQ Hessians",
                       "calibration: activation clip (7 candidates)", "weights (gptq)", "capture and write"]
    assert sum(": done in " in line for line in lines) == len(started) and lines[-1].endswith(" s in all")
    import json

    assert json.loads((tmp_path / "t/manifest.json").read_text())["extra"]["calibration"]["layers"] == 1
