"""Runs say what they cover: a trace records the decoder layers it covers and the model's (format
5), results carry them with whether the LM head is in, the console labels a partial run's figures,
and --extrapolate scales them to the whole model (closed form)."""

import json

import pytest
from helpers import ROOT

from neurosim.api import simulate
from neurosim.cli import main
from neurosim.errors import TraceFormatError
from neurosim.report.summary import coverage, extrapolated
from neurosim.trace.inference import write_inference
from neurosim.trace.manifest import VERSION, parse_manifest
from neurosim.trace.reader import open_trace
from neurosim.trace.synth import resolve_model

MODEL = resolve_model("smollm2-135m")


def test_a_partial_run_says_so_and_extrapolates_by_the_layer_count(tmp_path, capsys):
    """2 of 30 layers, no LM head: every phase's time and energy per token x 15."""
    path = write_inference(tmp_path / "t", MODEL, 8, 2, 2, seed=0)
    t = open_trace(path)
    assert (t.manifest.producer.layers, t.manifest.producer.model_layers, t.manifest.version) == (2, 30, VERSION)
    r = simulate(t, ROOT / "hw_configs/tiny_mac.yaml", verify=False)
    assert (r.inference["layers"], r.inference["model_layers"], r.inference["lm_head"]) == (2, 30, 0)
    assert coverage(r) == "2 of 30 layers, without the LM head"
    x = extrapolated(r)
    assert x["decode_seconds"] == pytest.approx(15 * r.phases["decode"]["seconds"], rel=1e-12)
    assert x["prefill_j_per_token"] == pytest.approx(15 * r.phases["prefill"]["j_per_token"], rel=1e-12)
    assert x["decode_tokens_per_s"] == pytest.approx(r.inference["decode_tokens_per_s"] / 15, rel=1e-12)
    assert main(["run", str(path), "--hw", str(ROOT / "hw_configs/tiny_mac.yaml"), "--out", str(tmp_path / "o"),
                 "--extrapolate"]) == 0
    out = capsys.readouterr().out
    assert "whole inference, by phase (2 of 30 layers, without the LM head):" in out
    assert "extrapolated to the whole model (2 of 30 layers simulated" in out


def test_a_whole_model_run_or_an_older_trace_needs_no_label():
    r = simulate(ROOT / "traces/smollm2_wikitext_l1_p64_d8", ROOT / "hw_configs/tiny_mac.yaml", verify=False)
    assert r.inference["layers"] is None and coverage(r) == "" and extrapolated(r) is None  # a v4 trace: unknown


def test_coverage_fields_are_version_5_and_consistent():
    base = json.loads((ROOT / "traces/smollm2_wikitext_l1_p64_d8/manifest.json").read_text())
    base["producer"]["layers"] = 1
    with pytest.raises(TraceFormatError, match="producer.layers: is new in trace format version 5"):
        parse_manifest(json.dumps(base), "m.json")
    base["version"], base["producer"]["model_layers"], base["producer"]["layers"] = 5, 30, 31
    with pytest.raises(TraceFormatError, match="producer.layers: 31 is more than producer.model_layers"):
        parse_manifest(json.dumps(base), "m.json")
