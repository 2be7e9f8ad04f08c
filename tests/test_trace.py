"""Trace v1: round-trip properties, one test per corruption, synthetic generation, GEMM lists."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import HANG_GUARD_S
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurosim.errors import TraceFormatError, UsageError
from neurosim.trace import Producer, Recipe, TraceWriter, open_trace, validate_trace
from neurosim.trace.manifest import VERSION
from neurosim.trace.quantize import quantize_activations, quantize_weights, salient_mask
from neurosim.trace.stats import code_stats
from neurosim.trace.synth import BUILTIN_MODELS, llm_gemms, model_from_hf_config, read_topology, write_synthetic

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "traces" / "tiny_gemm"


def _write(out, M, K, N, codes, weights=True, recipe=Recipe()):
    rng = np.random.default_rng(0)
    with TraceWriter(out, Producer("test", M), recipe, overwrite=True) as w:
        a = w.add_tensor("a", codes)
        s = w.add_tensor("s", rng.uniform(0.1, 2, M).astype(np.float32))
        wc = ws = None
        if weights:
            wc = w.add_tensor("w", rng.integers(-7, 8, (K, N)).astype(np.int8))
            ws = w.add_tensor("ws", rng.uniform(0.1, 2, N).astype(np.float32))
        w.add_op("op0", "linear", a, s, weight_bits=4, weight_codes=wc, weight_scale=ws, N=N)
        w.add_op("op1", "attn_qk", a, s, weight_bits=4, weight_codes=wc, weight_scale=ws, N=N)
    return out


@st.composite
def code_arrays(draw):
    M, K = draw(st.integers(1, 9)), draw(st.integers(1, 17))
    flat = draw(st.lists(st.integers(-127, 127), min_size=M * K, max_size=M * K))
    return np.array(flat, dtype=np.int8).reshape(M, K)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(codes=code_arrays(), N=st.integers(1, 7), weights=st.booleans())
def test_write_read_identity_and_validate_accepts(tmp_path, codes, N, weights):
    out = _write(tmp_path / "t", codes.shape[0], codes.shape[1], N, codes, weights)
    trace = validate_trace(out)
    op = trace.ops[0]
    assert (op.M, op.K, op.N) == (*codes.shape, N)
    got = trace.op_tensors(op)
    np.testing.assert_array_equal(got.act_codes, codes)
    assert (got.weight_codes is None) == (not weights)
    # the shared input is stored once
    assert trace.ops[0].act_codes == trace.ops[1].act_codes
    assert len(list(out.glob("*.npy"))) == (4 if weights else 2)


def test_writer_is_atomic_on_error(tmp_path):
    out = tmp_path / "t"
    with pytest.raises(RuntimeError):
        with TraceWriter(out, Producer("x", 2), Recipe()) as w:
            w.add_tensor("a", np.zeros((2, 3), np.int8))
            raise RuntimeError("interrupted")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_writer_refuses_existing_dir(tmp_path):
    (tmp_path / "t").mkdir()
    with pytest.raises(UsageError, match="already exists"):
        TraceWriter(tmp_path / "t", Producer("x", 2), Recipe())


@pytest.fixture
def trace_copy(tmp_path):
    dst = tmp_path / "tr"
    shutil.copytree(TINY, dst)
    return dst


def _manifest(d):
    return json.loads((d / "manifest.json").read_text())


def _save_manifest(d, m):
    (d / "manifest.json").write_text(json.dumps(m))


def _file_of(d, role="act_codes", op=0):
    m = _manifest(d)
    return d / m["tensors"][m["ops"][op][role]]["file"]


def _expect(d, *fragments):
    with pytest.raises(TraceFormatError) as ei:
        validate_trace(d)
    text = str(ei.value)
    for f in fragments:
        assert f in text, text
    return ei.value


def test_shipped_tiny_trace_is_valid():
    t = validate_trace(TINY)
    assert [(op.M, op.K, op.N) for op in t.ops] == [(16, 64, 32), (8, 32, 8)]


def test_corruption_flipped_bytes(trace_copy):
    f = _file_of(trace_copy)
    data = bytearray(f.read_bytes())
    data[-3] ^= 0x01
    f.write_bytes(bytes(data))
    e = _expect(trace_copy, "checksum mismatch", str(f))
    assert e.source == str(f)


def test_corruption_truncated_npy(trace_copy):
    f = _file_of(trace_copy)
    f.write_bytes(f.read_bytes()[:-10])
    _expect(trace_copy, "truncated", str(f))


def test_corruption_truncated_header(trace_copy):
    f = _file_of(trace_copy)
    f.write_bytes(f.read_bytes()[:20])
    _expect(trace_copy, "not a valid .npy", str(f))


def test_corruption_wrong_dtype(trace_copy):
    f = _file_of(trace_copy)
    arr = np.load(f)
    np.save(f, arr.astype(np.int16))
    _expect(trace_copy, "dtype", "int16", str(f))


def test_corruption_missing_file(trace_copy):
    f = _file_of(trace_copy, "weight_codes")
    f.unlink()
    _expect(trace_copy, "missing", str(f))


def test_corruption_missing_manifest(trace_copy):
    (trace_copy / "manifest.json").unlink()
    _expect(trace_copy, "manifest.json is missing")


def test_corruption_code_out_of_range(tmp_path):
    codes = np.zeros((3, 4), np.int8)
    codes[1, 2] = 100  # salient_bits 6 allows |q| <= 31
    out = _write(tmp_path / "t", 3, 4, 2, codes, recipe=Recipe(salient_bits=6))
    _expect(out, "code 100 at index [1, 2]", "+-31")


def test_corruption_weight_code_out_of_range(tmp_path):
    out = _write(tmp_path / "t", 3, 4, 2, np.zeros((3, 4), np.int8))
    m = _manifest(out)
    m["ops"][0]["weight_bits"] = m["ops"][1]["weight_bits"] = 2  # weights hold up to +-7, now +-1 allowed
    _save_manifest(out, m)
    _expect(out, "outside the declared range +-1")


def test_corruption_nonpositive_scale(tmp_path):
    out = tmp_path / "t"
    with TraceWriter(out, Producer("x", 2), Recipe()) as w:
        a = w.add_tensor("a", np.zeros((2, 3), np.int8))
        s = w.add_tensor("s", np.array([1.0, -1.0], np.float32))
        w.add_op("op", "linear", a, s, weight_bits=4, N=2)
    _expect(out, "finite and positive")


def test_corruption_unknown_version(trace_copy):
    m = _manifest(trace_copy)
    m["version"] = 99
    _save_manifest(trace_copy, m)
    _expect(trace_copy, "version", "99", "manifest.json")


def test_corruption_manifest_shape_mismatch(trace_copy):
    m = _manifest(trace_copy)
    m["ops"][0]["K"] += 1
    _save_manifest(trace_copy, m)
    _expect(trace_copy, "ops[0].act_codes", "shape", "manifest.json")


def test_corruption_tensor_shape_differs_from_file(trace_copy):
    m = _manifest(trace_copy)
    name = m["ops"][0]["act_scale"]
    m["tensors"][name]["shape"] = [m["tensors"][name]["shape"][0] + 1]
    m["ops"][0]["M"] += 1
    m["ops"][0]["act_codes"] = m["ops"][0]["act_codes"]  # codes shape now mismatches too
    _save_manifest(trace_copy, m)
    _expect(trace_copy, "manifest.json")


def test_corruption_manifest_not_json(trace_copy):
    (trace_copy / "manifest.json").write_text("{not json")
    _expect(trace_copy, "not valid JSON")


def test_corruption_unknown_tensor_reference(trace_copy):
    m = _manifest(trace_copy)
    m["ops"][0]["act_codes"] = "nope"
    _save_manifest(trace_copy, m)
    _expect(trace_copy, "unknown tensor 'nope'")


def test_corruption_unknown_field(trace_copy):
    m = _manifest(trace_copy)
    m["ops"][0]["bogus"] = 1
    _save_manifest(trace_copy, m)
    _expect(trace_copy, "ops[0].bogus", "unknown field")


def test_not_a_directory(tmp_path):
    with pytest.raises(TraceFormatError, match="not a trace directory"):
        open_trace(tmp_path / "missing")


# --- recipe and statistics ------------------------------------------------------------------

def test_quantize_activations_ranges_and_salient_ratio():
    rng = np.random.default_rng(1)
    x = rng.standard_t(3, (64, 512)).astype(np.float32)
    codes, scale = quantize_activations(x, 4, 8, "ratio", 0.025)
    assert codes.dtype == np.int8 and scale.shape == (64,)
    assert np.abs(codes).max() <= 127
    mask = salient_mask(x, "ratio", 0.025)
    assert np.abs(codes[~mask]).max() <= 7  # normal entries fit the 4-bit range
    assert 0.02 <= mask.mean() <= 0.03
    plain, _ = quantize_activations(x, 4, 4, "none", 0)
    assert np.abs(plain).max() <= 7


def test_quantize_weights_per_channel():
    w = np.array([[1.2, -0.5], [-2.0, 0.3]], np.float32)
    codes, scale = quantize_weights(w, 4)
    np.testing.assert_array_equal(codes, [[4, -7], [-7, 4]])
    np.testing.assert_allclose(scale, [2 / 7, 0.5 / 7])


def test_code_stats_closed_form():
    codes = np.array([[0, 3, -9], [7, -1, 0]], np.int8)
    s = code_stats(codes, normal_max=7)
    assert (s.spikes, s.bitplane_spikes, s.zeros, s.salient, s.entries) == (20, 2 + 2 + 3 + 1, 2, 1, 6)


# --- synthetic ------------------------------------------------------------------------------

def test_synthetic_is_deterministic(tmp_path):
    groups = llm_gemms(BUILTIN_MODELS["smollm2-135m"], 8, 1)
    a = write_synthetic(tmp_path / "a", groups, model_name="m", seed=7, weights=True)
    b = write_synthetic(tmp_path / "b", groups, model_name="m", seed=7, weights=True)
    c = write_synthetic(tmp_path / "c", groups, model_name="m", seed=8, weights=False)
    ta, tb, tc = (json.loads((d / "manifest.json").read_text())["tensors"] for d in (a, b, c))
    assert {k: v["sha256"] for k, v in ta.items()} == {k: v["sha256"] for k, v in tb.items()}
    assert ta["layers.0.attn_in.codes"]["sha256"] != tc["layers.0.attn_in.codes"]["sha256"]
    m = json.loads((a / "manifest.json").read_text())
    assert m["synthetic"] is True and m["synthetic_model"]["seed"] == 7 and m["synthetic_model"]["df"] == 3.0


def test_llm_shapes_llama2_7b():
    groups = llm_gemms(BUILTIN_MODELS["llama2-7b"], 16, 2)
    ops = {g.name: (g.M, g.K, g.N) for _, gs in groups for g in gs}
    assert len(ops) == 14
    assert ops["layers.1.mlp.down_proj"] == (16, 11008, 4096)
    assert ops["layers.0.mlp.up_proj"] == (16, 4096, 11008)
    assert BUILTIN_MODELS["llama3-8b"].kv_dim == 1024


def test_hf_config_shapes():
    m = model_from_hf_config(ROOT.parent / "shared/models/smollm2-135m-instruct-q4_1/config.json") \
        if (ROOT.parent / "shared/models").exists() else BUILTIN_MODELS["smollm2-135m"]
    assert (m.hidden, m.intermediate, m.heads, m.kv_heads, m.layers) == (576, 1536, 9, 3, 30)
    assert m.kv_dim == 192


def test_hf_config_missing_keys(tmp_path):
    p = tmp_path / "config.json"
    p.write_text(json.dumps({"hidden_size": 8}))
    with pytest.raises(TraceFormatError, match="intermediate_size"):
        model_from_hf_config(p)


def test_scalesim_topology_column_order(tmp_path):
    p = tmp_path / "topo.csv"
    p.write_text("Layer, M, N, K,\nfc1, 16, 32, 64,\nfc2,8,4,2,\n")
    gemms = read_topology(p)
    assert [(g.name, g.M, g.K, g.N) for g in gemms] == [("fc1", 16, 64, 32), ("fc2", 8, 2, 4)]


def test_scalesim_conv_topology_is_its_im2col_gemm_by_hand(tmp_path):
    """SCALE-Sim's conv rows: a 7x7 IFMAP, 3x3 filter, 4 channels, 8 filters, stride 2 gives
    ceil((7 - 3 + 2) / 2) = 3 output rows and columns: M = 9 pixels, K = 3 x 3 x 4 = 36, N = 8;
    strides given as height 1 and width 2 give 5 x 3 = 15 pixels; a GEMM row beside them stays."""
    p = tmp_path / "conv.csv"
    p.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
                 "Strides,\nconv1, 7, 7, 3, 3, 4, 8, 2,\nconv2, 7, 7, 3, 3, 4, 8, 1, 2,\nfc, 16, 32, 64,\n")
    assert [(g.name, g.M, g.K, g.N) for g in read_topology(p)] == [("conv1", 9, 36, 8), ("conv2", 15, 36, 8),
                                                                   ("fc", 16, 64, 32)]
    p.write_text("conv1, 2, 2, 3, 3, 4, 8, 1,\n")
    with pytest.raises(TraceFormatError, match="line 1.*does not fit"):
        read_topology(p)


def test_scalesim_topology_bad_row(tmp_path):
    p = tmp_path / "topo.csv"
    p.write_text("Layer,M,N,K,\nfc1,16,x,64,\n")
    with pytest.raises(TraceFormatError, match="line 2"):
        read_topology(p)


# --- format v3: power-of-two salient step ----------------------------------------------------------

def _write_shifted(out, codes, shifts, shift_max=4):
    with TraceWriter(out, Producer("test", codes.shape[0]), Recipe(salient_shift_max=shift_max), overwrite=True) as w:
        a = w.add_tensor("a", codes)
        s = w.add_tensor("s", np.ones(codes.shape[0], np.float32))
        sh = w.add_tensor("sh", shifts)
        w.add_op("op0", "linear", a, s, weight_bits=4, N=8, act_shift=sh)
    return out


def test_shifted_trace_round_trips(tmp_path):
    codes = np.array([[1, 100, -7], [-90, 3, 0]], np.int8)
    shifts = np.array([[0, 4, 0], [2, 0, 0]], np.int8)
    t = validate_trace(_write_shifted(tmp_path / "t", codes, shifts))
    assert t.manifest.version == VERSION and t.manifest.recipe.shift_bits == 3
    np.testing.assert_array_equal(t.op_tensors(t.ops[0]).act_values(), [[1, 1600, -7], [-360, 3, 0]])


@pytest.mark.parametrize("shifts,message", [
    ([[1, 0, 0], [0, 0, 0]], "is on a normal code 1"),  # a shift on a normal code
    ([[0, 5, 0], [0, 0, 0]], "outside the declared range 0..4"),
    ([[0, -1, 0], [0, 0, 0]], "outside the declared range 0..4"),
])
def test_corruption_bad_shift(tmp_path, shifts, message):
    codes = np.array([[1, 100, -7], [-90, 3, 0]], np.int8)
    with pytest.raises(TraceFormatError, match="act_shift|sh") as e:
        validate_trace(_write_shifted(tmp_path / "t", codes, np.array(shifts, np.int8)))
    assert message in str(e.value)


def test_corruption_shift_tensor_presence_follows_the_recipe(tmp_path):
    out = _write_shifted(tmp_path / "t", np.array([[100]], np.int8), np.array([[1]], np.int8))
    m = json.loads((out / "manifest.json").read_text())
    m["recipe"]["salient_shift_max"] = 0
    (out / "manifest.json").write_text(json.dumps(m))
    _expect(out, "ops[0].act_shift", "salient_shift_max is 0", "manifest.json")
    m["recipe"]["salient_shift_max"] = 3
    m["ops"][0]["act_shift"] = None
    (out / "manifest.json").write_text(json.dumps(m))
    _expect(out, "ops[0].act_shift", "required when", "manifest.json")
    m["recipe"]["salient_shift_max"] = 16
    (out / "manifest.json").write_text(json.dumps(m))
    _expect(out, "recipe.salient_shift_max", "between 0 and 15", "manifest.json")


def test_version_2_trace_still_loads(tmp_path):
    out = _write(tmp_path / "t", 2, 3, 4, np.ones((2, 3), np.int8))
    m = json.loads((out / "manifest.json").read_text())
    m["version"] = 2
    del m["recipe"]["salient_shift_max"]
    for op in m["ops"]:
        del op["act_shift"]
    (out / "manifest.json").write_text(json.dumps(m))
    t = validate_trace(out)
    assert t.manifest.recipe.salient_shift_max == 0 and t.op_tensors(t.ops[0]).act_shift is None


# --- the compiled quantizer and generator of synthetic traces ---------------------------------------

@st.composite
def quantizer_cases(draw):
    M, K = draw(st.integers(1, 6)), draw(st.integers(1, 48))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = (rng.standard_t(3, (M, K)) * rng.choice([1.0, 1.0, 300.0, 0.0], K)).astype(np.float32)
    rule = draw(st.sampled_from(["none", "mad", "ratio"]))
    param = {"none": 0.0, "mad": draw(st.floats(0.5, 10)), "ratio": draw(st.floats(0, 0.3))}[rule]
    return (x, draw(st.integers(2, 5)), draw(st.sampled_from([5, 6, 8])), rule, param,
            draw(st.sampled_from([1.0, 0.9, 0.7])), draw(st.sampled_from([0, 2, 15])))


@st.composite
def wide_quantizer_cases(draw):
    """Rows wide enough, and with values repeated enough, that the median's and the cut's bins
    hold more candidates than are sorted."""
    M, K = draw(st.integers(1, 3)), draw(st.integers(300, 1200))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    levels = rng.standard_t(3, draw(st.integers(1, 6))).astype(np.float32)
    x = levels[rng.integers(0, len(levels), (M, K))] * rng.choice([1.0, 1.0, 300.0], K).astype(np.float32)
    rule = draw(st.sampled_from(["mad", "ratio"]))
    param = draw(st.floats(0.5, 10)) if rule == "mad" else draw(st.floats(0, 0.3))
    return x, 4, 8, rule, param, 1.0, draw(st.sampled_from([0, 15]))


@settings(max_examples=300, deadline=None)
@given(st.one_of(quantizer_cases(), wide_quantizer_cases()))
def test_compiled_quantizer_equals_trace_quantizer(case):
    """neurosim.trace.token_quantizer = neurosim.trace.quantize, code for code, scale for scale."""
    from neurosim.trace.quantize import quantize_shifted
    from neurosim.trace.token_quantizer import RULES, quantize_rows

    x, act_bits, salient_bits, rule, param, clip, shift_max = case
    codes, scale, shift = quantize_shifted(x, act_bits, salient_bits, rule, param, clip, shift_max)
    c, s, h = np.empty(x.shape, np.int8), np.empty(x.shape[0], np.float32), np.zeros(x.shape, np.int8)
    quantize_rows(x, act_bits, salient_bits, RULES[rule], param, clip, shift_max, c, s, h)
    np.testing.assert_array_equal(c, codes)
    np.testing.assert_array_equal(s, scale)
    np.testing.assert_array_equal(h, shift)


def _draw(seed, K, gain, scale):
    """One row of the synthetic generator from a fresh state: (values, state after, uniforms)."""
    from neurosim.trace.synth import ActivationModel
    from neurosim.trace.token_quantizer import LANES, draw_row, seed_state
    state = seed_state(seed)
    bits = np.empty(-(-K // (2 * LANES)) * 2 * LANES, np.uint32)
    out = np.empty(K, np.float32)
    draw_row(state, bits, np.empty((2, K), np.float32), *ActivationModel(df=3.0).tables(), gain, np.float32(scale), out)
    return out, state, bits


def test_synthetic_values_follow_the_student_t():
    """The inverse-CDF generator draws Student-t values: empirical quantiles of 400k draws (unit
    gains and token scale) match scipy's within sampling error, and the tail is there."""
    from scipy.special import stdtr

    t, _, _ = _draw(1, 400_000, np.ones(400_000, np.float32), 1.0)
    for q in (0.001, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999):
        assert abs(stdtr(3.0, np.quantile(t, q)) - q) < 4 * np.sqrt(q * (1 - q) / len(t)) + 1e-4
    assert np.abs(t).max() > 30  # P(|T3| > 30) ~ 4e-5
    assert abs(np.mean(t > 0) - 0.5) < 4 * np.sqrt(0.25 / len(t))


def test_inverse_cdf_table_is_accurate_over_the_whole_range():
    """The octave table, interpolated as the generator does, is within 4e-5 of scipy's quantile
    (or 1e-7 near zero) at a million u spread log-uniformly over [2^-33, 1/2]."""
    from scipy.special import stdtrit

    from neurosim.trace.synth import ActivationModel
    from neurosim.trace.token_quantizer import OCTAVE_BITS
    (table,) = ActivationModel(df=3.0).tables()
    u = np.exp2(np.random.default_rng(2).uniform(-33, -1, 1_000_000))
    U = np.float32(u * 2.0 ** 33).view(np.uint32)  # the generator's rounding of u * 2^33
    j = (U >> (23 - OCTAVE_BITS)) - (127 << OCTAVE_BITS)
    f = (U & ((1 << (23 - OCTAVE_BITS)) - 1)).astype(np.float32) / np.float32(1 << (23 - OCTAVE_BITS))
    got = table[j] + f * (table[j + 1] - table[j])
    want = stdtrit(3.0, U.view(np.float32).astype(np.float64) / 2.0 ** 33)
    assert np.all(np.abs(got - want) <= np.maximum(4e-5 * np.abs(want), 1e-7))
    assert table[0] == np.float32(stdtrit(3.0, 2.0 ** -33)) and table[-1] == table[-2] == 0


def _xoshiro256plus(state, n):
    """The reference xoshiro256+ (Blackman and Vigna), in Python integers: n 64-bit outputs."""
    s0, s1, s2, s3 = (int(v) for v in state)
    mask = (1 << 64) - 1
    out = []
    for _ in range(n):
        out.append((s0 + s3) & mask)
        t = (s1 << 17) & mask
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = ((s3 << 45) | (s3 >> 19)) & mask
    return out, (s0, s1, s2, s3)


def _splitmix64(x, n):
    """The reference SplitMix64 (Steele, Lea and Flood), in Python integers: n outputs."""
    mask = (1 << 64) - 1
    out = []
    for _ in range(n):
        x = (x + 0x9E3779B97F4A7C15) & mask
        z = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        out.append(z ^ (z >> 31))
    return out


def test_generator_row_follows_the_reference_generators():
    """icdf-v4: a row's values are, per uniform of eight reference xoshiro256+ lanes seeded by
    the reference SplitMix64 (high halves, then low halves, lane by lane), the table's
    interpolation at u = (2 b + 1) / 2^33 with bit 31 as the sign, times the gains and the
    token scale; the lanes' states advance like the reference and the padding is discarded."""
    from neurosim.trace.synth import ActivationModel
    from neurosim.trace.token_quantizer import LANES, OCTAVE_BITS
    (table,) = ActivationModel(df=3.0).tables()
    K, seed = 1000, 12345  # 1000 = 62.5 steps of 16: the last step's second half is padding
    gain = np.random.default_rng(0).choice([1.0, 12.0], K).astype(np.float32)
    out, state, bits = _draw(seed, K, gain, 0.75)
    words = _splitmix64(seed, 4 * LANES)
    steps = -(-K // (2 * LANES))
    lanes = [_xoshiro256plus(words[4 * lane:4 * lane + 4], steps) for lane in range(LANES)]
    ref = []
    for j in range(steps):
        ref += [lanes[lane][0][j] >> 32 for lane in range(LANES)]
        ref += [lanes[lane][0][j] & 0xFFFFFFFF for lane in range(LANES)]
    assert bits.tolist() == ref
    assert [tuple(int(w) for w in state[:, lane]) for lane in range(LANES)] == [lane[1] for lane in lanes]
    b = np.array(ref[:K], np.uint64)
    U = ((b & 0x7FFFFFFF) * 2 + 1).astype(np.float32).view(np.uint32)
    j = (U >> (23 - OCTAVE_BITS)) - (127 << OCTAVE_BITS)
    f = (U & ((1 << (23 - OCTAVE_BITS)) - 1)).astype(np.float32) * np.float32(1.0 / (1 << (23 - OCTAVE_BITS)))
    v = table[j] + f * (table[j + 1] - table[j])
    want = np.where(b >> 31 == 1, -v, v) * gain * np.float32(0.75)
    assert np.array_equal(out, want)


def test_onnx_graph_becomes_a_gemm_trace(tmp_path):
    """MatMul and Gemm (transB) with stored weights become linear ops at M = --tokens, ops on one
    input share it, activation x activation MatMuls are skipped and reported."""
    import subprocess
    import sys

    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n)
             for n, s in (("w1", (16, 8)), ("w2", (16, 4)), ("w3", (12, 8)))]
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["y1"], name="q"),
             helper.make_node("MatMul", ["x", "w2"], ["y2"], name="k"),
             helper.make_node("Gemm", ["y1", "w3"], ["y3"], name="proj", transB=1),
             helper.make_node("MatMul", ["y1", "y1t"], ["s"], name="scores")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["T", 16]),
                                           helper.make_tensor_value_info("y1t", TensorProto.FLOAT, [8, "T"])],
                              [helper.make_tensor_value_info("s", TensorProto.FLOAT, None)], inits)
    onnx.save(helper.make_model(graph), tmp_path / "m.onnx")
    r = subprocess.run([sys.executable, "-m", "neurosim", "synth", "--onnx", str(tmp_path / "m.onnx"), "--tokens", "5",
                        "--out", str(tmp_path / "t")], capture_output=True, text=True, cwd=ROOT, timeout=HANG_GUARD_S)
    assert r.returncode == 0, r.stderr
    assert "scores" in r.stderr and "skipped" in r.stderr
    t = validate_trace(tmp_path / "t")
    assert [(op.name, op.M, op.K, op.N) for op in t.ops] == [("q", 5, 16, 8), ("k", 5, 16, 4), ("proj", 5, 8, 12)]
    assert t.ops[0].act_codes == t.ops[1].act_codes != t.ops[2].act_codes
    (tmp_path / "bad.onnx").write_bytes(b"not a protobuf at all")
    r = subprocess.run([sys.executable, "-m", "neurosim", "synth", "--onnx", str(tmp_path / "bad.onnx"), "--tokens", "5",
                        "--out", str(tmp_path / "u")], capture_output=True, text=True, cwd=ROOT, timeout=HANG_GUARD_S)
    assert r.returncode == 2 and "bad.onnx" in r.stderr and "Traceback" not in r.stderr


_FLOAT32S = st.one_of(st.floats(width=32, allow_nan=False, allow_infinity=False),
                     st.sampled_from([0.0, -0.0, 1.0, -1.0]))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.lists(_FLOAT32S, min_size=1, max_size=200),
                 st.lists(st.sampled_from([0.0, -0.0, 1.0, -2.5, 3.0, 1e-30]), min_size=300, max_size=1500)),
       st.data())
def test_exact_selection_equals_numpy(values, data):
    """The quantizer's exact selections: the radix select's k-th smallest as np.partition finds
    it, the histogram-and-candidates median as np.median, the ranked keys of a pair of ranks as
    np.sort, with duplicates, signed zeros, huge and tiny values, and bins of more equal values
    than are sorted (the radix fallback); input left unchanged, the histogram left zero."""
    from neurosim.trace.token_quantizer import SIGNED_SHIFT, _key, _key_value, _median, _ranked_keys, _select

    a = np.array(values, np.float32)
    n = len(a)
    k = data.draw(st.integers(0, n - 1))
    r = data.draw(st.integers(0, n - 1))
    before = a.copy()
    keys = np.array([_key(b) for b in a.view(np.uint32)], np.uint32)
    hist = np.zeros(2048, np.int32)
    assert _key_value(_select(keys, n, k, np.empty(n, np.uint32), hist)) == np.partition(a, k)[k]
    work = [np.empty(n, np.uint32) for _ in range(3)]
    assert _median(a, *work, hist) == np.median(a)
    lo, hi = _ranked_keys(a, SIGNED_SHIFT, r, min(r + 1, n - 1), *work, hist)
    want = np.sort(np.array([_key(b) for b in a.view(np.uint32)], np.uint32))
    assert (lo, hi) == (want[r], want[min(r + 1, n - 1)])
    assert np.array_equal(a, before) and not hist.any()


def test_op_act_clip_is_version_6_and_in_range():
    """An op's own clip ratio (format v6): refused in an older manifest and outside (0, 1], read
    back as given; an op without one takes the recipe's."""
    import json

    from neurosim.errors import TraceFormatError
    from neurosim.trace.manifest import parse_manifest

    base = json.loads((ROOT / "traces/smollm2_wikitext_l1_p64_d8/manifest.json").read_text())
    base["ops"][0]["act_clip"] = 0.8
    with pytest.raises(TraceFormatError, match=r"ops\[0\]\.act_clip: is new in trace format version 6 \(this is 4\)"):
        parse_manifest(json.dumps(base), "m.json")
    base["version"] = 6
    assert [op.act_clip for op in parse_manifest(json.dumps(base), "m.json").ops[:2]] == [0.8, None]
    for bad in (0.0, 1.5, "0.8"):
        base["ops"][0]["act_clip"] = bad
        with pytest.raises(TraceFormatError, match=r"ops\[0\]\.act_clip: must be"):
            parse_manifest(json.dumps(base), "m.json")
