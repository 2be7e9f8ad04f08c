"""The LM head of a whole-model trace: after the last layer of the prefill and of each decode step,
the final norm, its quantizer and a [hidden x vocab] linear op on each sequence's last token,
counted by hand on a tiny vocabulary; a partial model has none."""

import json

import numpy as np
from helpers import spec

from neurosim.api import simulate
from neurosim.trace.inference import write_inference
from neurosim.trace.reader import open_trace
from neurosim.trace.synth import model_from_hf_config


def _tiny(tmp_path, **extra):
    cfg = {"hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2, "num_key_value_heads": 1,
           "num_hidden_layers": 2, "vocab_size": 40, "_name_or_path": "tiny", **extra}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    return model_from_hf_config(tmp_path / "config.json")


def test_the_lm_head_counted_by_hand(tmp_path):
    """Prompt 4, 2 decode steps, batch 3: three LM heads (prefill, step 0, step 1), each 3 tokens
    x 16 inputs x 40 outputs = 1,920 products on the MAC array (those of a zero code gated), after a
    3 x 16 norm and quantizer."""
    model = _tiny(tmp_path)
    t = open_trace(write_inference(tmp_path / "t", model, 4, 2, 2, seed=0, batch=3))
    heads = [op for op in t.ops if op.name.endswith("lm_head")]
    assert [(op.name, op.M, op.K, op.N, op.phase, op.step) for op in heads] == [
        ("lm_head", 3, 16, 40, "prefill", 0), ("decode.0.lm_head", 3, 16, 40, "decode", 0),
        ("decode.1.lm_head", 3, 16, 40, "decode", 1)]
    before = {v.name: (v.op, v.tokens, v.width, v.position) for v in t.manifest.vector_ops if v.position in
              [t.ops.index(op) for op in heads]}
    assert before["norm"] == ("rmsnorm", 3, 16, t.ops.index(heads[0]))
    assert before["decode.1.lm_in.quantize"] == ("quantize", 3, 16, t.ops.index(heads[2]))
    r = simulate(t, spec("tiny_mac"), verify=False)
    for layer in (la for la in r.layers if la.name.endswith("lm_head")):
        codes = np.asarray(t.tensor(next(op for op in heads if op.name == layer.name).act_codes))
        assert layer.counters["mac_array.mac"] == np.count_nonzero(codes) * 40
        assert layer.counters["mac_array.mac"] + layer.counters["mac_array.mac_gated"] == 3 * 16 * 40


def test_a_partial_model_or_an_unknown_vocabulary_has_no_lm_head(tmp_path):
    model = _tiny(tmp_path)
    t = open_trace(write_inference(tmp_path / "a", model, 4, 1, 1, seed=0))  # 1 of 2 layers
    assert not [op for op in t.ops if "lm_head" in op.name]
    (tmp_path / "b").mkdir()
    novocab = _tiny(tmp_path / "b", vocab_size=None)
    t = open_trace(write_inference(tmp_path / "c", novocab, 4, 1, 2, seed=0))
    assert not [op for op in t.ops if "lm_head" in op.name]
