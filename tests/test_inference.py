"""Whole inference (trace format v4): attention on the KV cache, vector ops, decode steps, phases."""

import json
import math

import numpy as np
import pytest
from helpers import BIG_MAC_SRAMS, BIG_SRAMS, ROOT, spec

from neurosim.api import simulate
from neurosim.errors import TraceFormatError
from neurosim.hw.vector_unit import OPS_PER_ELEMENT
from neurosim.trace import Producer, Recipe, TraceWriter, open_trace, validate_trace
from neurosim.trace.inference import write_inference
from neurosim.trace.synth import BUILTIN_MODELS
from neurosim.units import ceil_div

KV = Recipe(salient_bits=4, salient_rule="none")  # 4-bit codes on both sides


def _attention_trace(out, q, k_cache, n_tokens, kind="attn_qk", repeat=1):
    rng = np.random.default_rng(0)
    with TraceWriter(out, Producer("test", q.shape[0]), KV, overwrite=True) as w:
        a = w.add_tensor("q", q)
        s = w.add_tensor("q_scale", rng.uniform(0.5, 2, q.shape[0]).astype(np.float32))
        kc = w.add_tensor("k", k_cache)
        ks = w.add_tensor("k_scale", rng.uniform(0.5, 2, k_cache.shape[0 if kind == "attn_qk" else 1])
                          .astype(np.float32))
        if kind == "attn_qk":
            w.add_op("qk", "attn_qk", a, s, weight_bits=4, weight_codes=kc, weight_scale=ks, N=n_tokens,
                     repeat=repeat, b_source="kv_cache")
        else:
            w.add_op("av", "attn_av", a, s, weight_bits=4, weight_codes=kc, weight_scale=ks, K=n_tokens,
                     N=k_cache.shape[1], repeat=repeat, b_source="kv_cache")
    return out


@pytest.mark.parametrize("name,srams", [("tiny_acc_if", BIG_SRAMS), ("tiny_mac", BIG_MAC_SRAMS)])
def test_attention_on_a_cache_prefix_by_hand(tmp_path, name, srams):
    """Q [3 x 8] against the first 6 of 10 cached keys: the array computes Q K[:6]^T exactly
    (spike x spike on the IF array), with spikes x N accumulates (IF) or M x K x N MACs (those of a
    zero code gated), and the
    cache read is the 6 keys (8 x 4 bits each) with their fp16 scales, in whole 64-byte bursts."""
    rng = np.random.default_rng(1)
    q = rng.integers(-7, 8, (3, 8)).astype(np.int8)
    k = rng.integers(-7, 8, (10, 8)).astype(np.int8)
    tr = _attention_trace(tmp_path / "t", q, k, 6)
    t = open_trace(tr)
    np.testing.assert_array_equal(t.op_tensors(t.ops[0]).weight_codes, k[:6].T)
    layer = simulate(tr, spec(name, **srams), check=True).layers[0]
    assert layer.check["accumulation_mismatches"] == 0 and layer.check["outputs"] == 3 * 6
    if name == "tiny_acc_if":
        spikes = int(np.abs(q.astype(np.int64)).sum())
        assert layer.counters["array.accumulate"] + layer.counters.get("array.tree_add", 0) == spikes * 6
    else:
        assert layer.counters["mac_array.mac"] == np.count_nonzero(q) * 6
        assert layer.counters["mac_array.mac_gated"] == (q == 0).sum() * 6
    assert layer.kv_read_bits == ceil_div(6 * 8 * 4 + 6 * 16, 512) * 512
    doubled = simulate(_attention_trace(tmp_path / "r", q, k, 6, repeat=2), spec(name, **srams)).layers[0]
    assert doubled.cycles == 2 * layer.cycles and doubled.kv_read_bits == 2 * layer.kv_read_bits
    assert doubled.energy_pj["total"] == pytest.approx(2 * layer.energy_pj["total"])


def test_attention_av_reads_the_probability_prefix(tmp_path):
    """P x V over the first 5 of 9 cached tokens: the check compares with P[:, :5] @ V[:5]."""
    rng = np.random.default_rng(2)
    p = rng.integers(0, 8, (4, 9)).astype(np.int8)
    v = rng.integers(-7, 8, (9, 8)).astype(np.int8)
    tr = _attention_trace(tmp_path / "t", p, v, 5, kind="attn_av")
    t = open_trace(tr)
    ts = t.op_tensors(t.ops[0])
    np.testing.assert_array_equal(ts.act_codes, p[:, :5])
    np.testing.assert_array_equal(ts.weight_codes, v[:5])
    layer = simulate(tr, spec("tiny_acc_if", **BIG_SRAMS), check=True).layers[0]
    assert layer.check["accumulation_mismatches"] == 0 and layer.check["outputs"] == 4 * 8


@pytest.fixture(scope="module")
def small_inference(tmp_path_factory):
    return write_inference(tmp_path_factory.mktemp("inf") / "t", BUILTIN_MODELS["smollm2-135m"], 8, 3, 2, seed=0)


def test_kv_cache_traffic_closed_form(small_inference):
    """Per decode step s (T = 8 + s + 1 cached tokens, 2 layers, 3 KV heads of 64 channels, 4-bit
    codes): one token's K and V written per layer; each KV head reads T keys (with fp16 scales) and
    T values (with 64 fp16 channel scales); every transfer in whole 64-byte bursts."""
    r = simulate(small_inference, ROOT / "hw_configs/acc_if_64x64.yaml")
    d, kv_heads, layers, burst = 64, 3, 2, 512
    for s in range(3):
        T = 8 + s + 1
        step = [la for la in r.layers if la.phase == "decode" and la.step == s]
        assert sum(la.kv_write_bits for la in step) == layers * ceil_div(2 * kv_heads * d * 4, burst) * burst
        read = layers * kv_heads * (ceil_div(T * d * 4 + T * 16, burst) + ceil_div(T * d * 4 + d * 16, burst)) * burst
        assert sum(la.kv_read_bits for la in step) == read
    assert r.inference["kv_footprint_bits"] == layers * (8 * ceil_div(2 * kv_heads * d * 4 * 8, burst) * burst // 8
                                                         + 3 * ceil_div(2 * kv_heads * d * 4, burst) * burst)


def test_vector_unit_counts_are_elements_times_ops(small_inference):
    r = simulate(small_inference, ROOT / "hw_configs/mac_64x64_os.yaml")
    lanes = 64
    vec = [la for la in r.layers if la.kind == "vector" and la.vector_op != "kv_write"]
    assert {la.vector_op for la in vec} == {"rmsnorm", "rope", "softmax", "silu_mul", "residual_add", "quantize"}
    for la in vec:
        mul, add = OPS_PER_ELEMENT[la.vector_op]
        e = la.M * la.K
        assert la.counters["vector_unit.fp16_mul"] == e * mul * la.repeat
        assert la.counters["vector_unit.fp16_add"] == e * add * la.repeat
        assert la.counters["vector_unit.reg_bits"] == 2 * 16 * e * la.repeat
        buffer = la.memory["vector_buffer"]  # 8 banks x 256 bits a cycle
        per = max(ceil_div(e * (mul + add), lanes), ceil_div((buffer["read_bits"] + buffer["write_bits"]) // la.repeat,
                                                              8 * 256))
        assert la.stall_cycles["vector_unit"] == per * la.repeat
        assert la.cycles == la.stall_cycles["vector_unit"] + la.stall_cycles.get("vector_dram", 0)
        assert la.energy_by_action_pj["vector_unit.fp16_mul"] > 0 if mul else True


def test_phase_summary_and_check(small_inference):
    """TTFT is the prefill's time, decode tokens/s the steps over the decode time; energy per
    token per phase; every attention op passes the functional check (spike x spike = GEMM)."""
    hw = ROOT / "hw_configs/acc_if_64x64.yaml"
    r = simulate(small_inference, hw, check=True, overrides=["schedule.overlap_ops=false"])
    pre = sum(la.cycles for la in r.layers if la.phase == "prefill")
    dec = sum(la.cycles for la in r.layers if la.phase == "decode")
    assert r.phases["prefill"]["cycles"] == pre and r.phases["decode"]["cycles"] == dec
    assert r.inference["ttft_s"] == pytest.approx(pre / 500e6)
    assert r.inference["decode_tokens_per_s"] == pytest.approx(3 / (dec / 500e6))
    assert r.phases["decode"]["tokens"] == 3 and r.phases["prefill"]["tokens"] == 8
    attn = [la for la in r.layers if la.kind.startswith("attn")]
    assert attn and all(la.check and la.check["accumulation_mismatches"] == 0 for la in attn)
    assert math.isclose(sum(p["energy_pj"] for p in r.phases.values()), r.energy_pj["total"], rel_tol=1e-9)
    over = simulate(small_inference, hw)  # the default overlaps ops: never slower, same work
    for phase in ("prefill", "decode"):
        assert over.phases[phase]["cycles"] <= r.phases[phase]["cycles"] == over.phases[phase]["serial_cycles"]
    assert over.phases["prefill"]["cycles"] < r.phases["prefill"]["cycles"]
    assert over.energy_pj == r.energy_pj and [la.cycles for la in over.layers] == [la.cycles for la in r.layers]


def _cycles(bits):
    return 0 if bits <= 0 else 10 + -(-bits // 8)  # 10-cycle latency, 8 bits per cycle


def test_overlap_meets_the_compute_and_transfer_bounds():
    """Stall-free oracles of one pipeline over two ops' tiles (the overlapped schedule): compute-
    bound tiles take the first load, all the compute and the last write-back; transfer-bound tiles
    keep the channel busy back to back. Both sit between max(compute, transfer) and the ops run
    one after another."""
    from neurosim.engine.pipeline import run_arrays

    n = 6
    zeros = np.zeros(n, np.int64)
    for load, busy, wb in ((np.full(n, 8), np.full(n, 500), np.full(n, 8)),      # compute-bound
                           (np.full(n, 800), np.full(n, 5), zeros)):             # transfer-bound
        ops = [(load, busy, wb)] * 2
        serial = sum(run_arrays(a, b, c, b, _cycles)[0] for a, b, c in ops)
        cat = [np.concatenate([o[i] for o in ops]) for i in range(3)]
        over = run_arrays(*cat, cat[1], _cycles)[0]
        compute = int(cat[1].sum())
        transfer = sum(_cycles(int(b)) for b in cat[0]) + sum(_cycles(int(b)) for b in cat[2])
        assert max(compute, transfer) <= over <= serial
        if busy[0] > _cycles(load[0]) + _cycles(wb[0]):
            assert over == _cycles(load[0]) + compute + _cycles(wb[0])
        else:
            assert over == transfer + busy[0]  # the channel never idles; the last tile's compute trails


def test_linear_only_traces_report_no_inference_block(tmp_path):
    """A prefill of linear layers (formats 1-3) runs as before: no vector unit in the chip."""
    r = simulate(ROOT / "traces/smollm2_wikitext_l1_t64", ROOT / "hw_configs/acc_if_64x64.yaml")
    assert set(r.phases) == {"prefill"} and r.inference["kv_footprint_bits"] == 0
    assert all(v == 0 for k, v in r.energy_by_action_pj.items() if k.startswith("vector_unit"))


@pytest.mark.parametrize("edit,where", [
    (lambda m: m["ops"][0].update(b_source="kv_cache"), "ops[0].b_source"),
    (lambda m: m["ops"][0].update(step=2), "ops[0].step"),
    (lambda m: m["vector_ops"][0].update(position=10 ** 6), "vector_ops[0].position"),
    (lambda m: m["vector_ops"][0].update(op="gelu"), "vector_ops[0].op"),
    (lambda m: next(o for o in m["ops"] if o["kind"] == "attn_qk").update(N=10 ** 4), "weight_codes"),
])
def test_corrupt_v4_fields_are_named(small_inference, tmp_path, edit, where):
    import shutil

    out = tmp_path / "c"
    shutil.copytree(small_inference, out)
    m = json.loads((out / "manifest.json").read_text())
    edit(m)
    (out / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(TraceFormatError) as e:
        validate_trace(out)
    assert where in str(e.value) and "manifest.json" in str(e.value)


def test_phase_comparison_and_plot(small_inference, tmp_path):
    """compare and report --plots show the phases: TTFT, tokens/s and energy per token, A vs B."""
    from neurosim.report.compare import compare, compare_text, write_comparison
    from neurosim.report.plots import write_run_plots

    a = simulate(small_inference, ROOT / "hw_configs/acc_if_64x64.yaml")
    b = simulate(small_inference, ROOT / "hw_configs/mac_64x64_os.yaml")
    text = compare_text(compare(a, b))
    ratio = b.inference["decode_tokens_per_s"] / a.inference["decode_tokens_per_s"]
    assert "by phase (A, B, B/A):" in text and f"{ratio:.2f}x" in text
    written = {p.name for p in write_comparison(compare(a, b), tmp_path)}
    assert {"phases.png", "phases.svg"} <= written
    (tmp_path / "run").mkdir()
    assert "phases.png" in {p.name for p in write_run_plots(a, tmp_path / "run")}


def test_console_summarises_many_ops(small_inference):
    """Beyond 60 ops the console shows totals per layer type and phase (every op on request);
    the rows add up to the run's cycles and energy."""
    from neurosim.report.console import by_type, single_report

    r = simulate(small_inference, ROOT / "hw_configs/acc_if_64x64.yaml")
    assert len(r.layers) > 60
    text = single_report(r)
    assert "by layer type" in text and "decode   attn_qk" in text and "layers.0.self_attn.q_proj " not in text
    assert "layers.0.self_attn.q_proj " in single_report(r, "layers")
    rows = by_type(r.layers)
    assert sum(v["cycles"] for v in rows.values()) == r.total_cycles
    assert math.isclose(sum(v["energy"] for v in rows.values()), r.energy_pj["total"], rel_tol=1e-9)


def test_the_scheduled_latency_is_the_phases_and_the_serial_one_the_ops(small_inference):
    """One story, two named figures: schedule_cycles is the overlapped schedule, the phases' cycles
    summed (TTFT is the prefill's, tokens/s the decode's), and never more than total_cycles, the
    ops one after another (the sum of the per-op rows); without overlap the two are equal."""
    from neurosim.results import Results

    clock = 500e6
    r = simulate(small_inference, ROOT / "hw_configs/acc_if_64x64.yaml")
    assert r.schedule_cycles == sum(p["cycles"] for p in r.phases.values()) < r.total_cycles
    assert r.total_cycles == sum(la.cycles for la in r.layers) == sum(p["serial_cycles"] for p in r.phases.values())
    assert r.schedule_latency_s == pytest.approx(r.schedule_cycles / clock, rel=1e-12)
    assert r.schedule_latency_s == pytest.approx(r.inference["ttft_s"] + r.phases["decode"]["seconds"], rel=1e-12)
    assert r.inference["decode_tokens_per_s"] == pytest.approx(3 / r.phases["decode"]["seconds"], rel=1e-12)
    fenced = simulate(small_inference, ROOT / "hw_configs/acc_if_64x64.yaml", overrides=["schedule.overlap_ops=false"])
    assert fenced.schedule_cycles == fenced.total_cycles == r.total_cycles
    old = json.loads(r.to_json())
    del old["schedule_cycles"], old["schedule_latency_s"]  # results.json written before the field
    back = Results.from_json(json.dumps(old))
    assert back.schedule_cycles is None and back.scheduled_cycles == r.total_cycles
