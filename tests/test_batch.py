"""Batched whole inference (synth --batch B): batch 1 is today's trace byte for byte; a batch-B
decode step writes each weight into the weight SRAM once whatever B, while its KV-cache reads grow
B-fold; tokens, tokens/s and J/token count every sequence."""

import filecmp

import pytest
from helpers import ROOT, spec

from neurosim.api import simulate
from neurosim.cli import main
from neurosim.trace.inference import write_inference
from neurosim.trace.reader import open_trace
from neurosim.trace.synth import resolve_model

MODEL = resolve_model("smollm2-135m")


def _trace(tmp_path, batch: int):
    return open_trace(write_inference(tmp_path / f"b{batch}", MODEL, 8, 2, 1, seed=0, batch=batch))


def test_batch_1_is_the_unbatched_trace(tmp_path):
    a = write_inference(tmp_path / "a", MODEL, 8, 2, 1, seed=0)
    b = write_inference(tmp_path / "b", MODEL, 8, 2, 1, seed=0, batch=1)
    cmp = filecmp.dircmp(a, b)
    assert not cmp.diff_files and not cmp.left_only and not cmp.right_only


def test_a_batch_step_reads_each_weight_once_and_each_sequences_cache(tmp_path):
    one, four = _trace(tmp_path, 1), _trace(tmp_path, 4)
    s = spec("mac_64x64_ws_tree_outlier")
    r1, r4 = simulate(one, s, verify=False), simulate(four, s, verify=False)
    for a, b in zip(r1.layers, r4.layers, strict=True):
        if a.kind == "linear":
            assert b.M == 4 * a.M
            if a.phase == "decode":  # every weight (and its fp16 channel scale) written into the SRAM once
                assert b.memory["weight_sram"]["write_bits"] == a.memory["weight_sram"]["write_bits"] \
                    == a.K * a.N * 4 + a.N * 16
        if a.kind.startswith("attn"):
            assert b.repeat == 4 * a.repeat and b.kv_read_bits == 4 * a.kv_read_bits
    assert r4.inference["batch"] == 4 and r1.inference["batch"] == 1
    assert r4.inference["kv_write_bits"] == 4 * r1.inference["kv_write_bits"]
    assert r4.phases["decode"]["tokens"] == 4 * 2 and r4.phases["prefill"]["tokens"] == 4 * 8
    assert r4.inference["decode_tokens_per_s"] == pytest.approx(4 * r4.inference["decode_tokens_per_s_per_sequence"])
    assert r4.inference["decode_j_per_token"] == pytest.approx(
        r4.phases["decode"]["energy_pj"] * 1e-12 / (4 * 2), rel=1e-12)


def test_a_batch_runs_on_the_many_core_chip(tmp_path):
    """Each sequence's KV cache stays in the K and V cores beside the weights; the chip does every
    sequence's arithmetic."""
    four = _trace(tmp_path, 4)
    r = simulate(four, ROOT / "hw_configs/manycore_mac.yaml", overrides=["system.mesh=[5,4]"], verify=False)
    one = simulate(four, spec("manycore_mac", **{"system.mesh": "[1,1]", "system.weights": "streamed"}),
                   verify=False)
    assert r.chip["kv_cache"] == "sram" and r.inference["batch"] == 4
    useful = lambda x: sum(la.counters.get("mac_array.mac", 0) for la in x.layers)  # noqa: E731
    assert useful(r) == useful(one)


def test_batch_without_a_whole_inference_or_too_large_is_refused(capsys, tmp_path):
    assert main(["synth", "--model", "smollm2-135m", "--tokens", "8", "--batch", "4", "--out", str(tmp_path / "x")]) == 2
    assert main(["synth", "--model", "smollm2-135m", "--prompt", "8", "--decode", "2", "--batch", "1000000000",
                 "--out", str(tmp_path / "y")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "--batch" in err[0] and "exceeds the trace format's limits" in err[1]
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
