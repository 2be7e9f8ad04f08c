"""The learned residual rotation (issue #30 item 1, recipe modifier ``spin``): the Cayley step
keeps the rotation orthogonal, learning lowers the quantized reconstruction error of a tiny layer
below the fixed randomized Hadamard it starts from, the float model computes the same logits
with the learned rotation fused, the rotation is cached, and the trace of a ``spin`` recipe is
what its model computes, code for code."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import STORIES, STORIES_TEXT, needs_stories

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from neurosim.export import learned_rotation as lr  # noqa: E402
from neurosim.export.recipes import make_recipe, quantize_act_t  # noqa: E402
from neurosim.export.transforms import fold_norms, orthogonal, rotate  # noqa: E402


def test_cayley_steps_stay_orthogonal():
    g = torch.Generator().manual_seed(0)
    rot, _ = torch.linalg.qr(torch.randn(48, 48, generator=g, dtype=torch.float64))
    for _ in range(50):
        rot = lr.cayley_step(rot, torch.randn(48, 48, generator=g, dtype=torch.float64), 0.5)
    assert torch.allclose(rot.T @ rot, torch.eye(48, dtype=torch.float64), atol=1e-12)


def _tiny_layer() -> lr.Objective:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(256, 64, generator=g)
    x[:, 7] *= 40.0  # an outlier channel, as LLM activations have
    w = torch.randn(96, 64, generator=g) / 8
    return lr.Objective([(x, w)], [torch.randn(64, 32, generator=g)], make_recipe("w4a4").recipe)


def test_learning_lowers_the_error_below_the_fixed_hadamard_and_stays_orthogonal():
    objective = _tiny_layer()
    start = orthogonal(64, 0)
    rot, losses = lr.learn(objective, start, steps=40)
    assert torch.allclose(rot.float().T @ rot.float(), torch.eye(64), atol=1e-5)  # fp32 tolerance
    assert float(objective(rot.float())) == min(losses) < 0.9 * losses[0]
    assert float(objective(torch.eye(64))) > losses[0]  # the Hadamard already beats no rotation


@needs_stories
def test_learned_rotation_keeps_float_logits_and_is_cached(tmp_path, monkeypatch):
    from neurosim.export.model import load_model
    from neurosim.export.prepare import _inputs

    monkeypatch.setenv("NEUROSIM_CACHE", str(tmp_path))
    lm = load_model(STORIES)
    ids = lm.encode(STORIES_TEXT.read_text()[:20000])
    m = __import__("copy").deepcopy(lm.model)
    fold_norms(m)

    def capture(windows):
        out = {}
        _inputs(m, windows, lambda n, x: out.__setitem__(n, x) if n.endswith(("q_proj", "gate_proj")) else None)
        return out
    r = make_recipe("spikequant").recipe
    rot, info = lr.rotation_for(m, r, [ids[:256]], orthogonal(64, 0), 0, capture)
    assert not info["cached"] and info["loss_best"] < info["loss_start"]
    monkeypatch.setattr(lr, "learn", lambda *a, **k: pytest.fail("learned again instead of read from the cache"))
    again, info2 = lr.rotation_for(m, r, [ids[:256]], orthogonal(64, 0), 0, capture)
    assert info2["cached"] and torch.equal(again, rot)
    x = torch.tensor([ids[:64]])
    with torch.no_grad():
        ref = lm.model(x).logits
        rotate(m, rot)
        got = m(x).logits
    assert (got - ref).abs().max() < 1e-4 * ref.abs().max()


@needs_stories
def test_a_spin_trace_is_its_model_code_for_code(tmp_path, monkeypatch):
    from neurosim.export.capture import capture_inputs, export_trace
    from neurosim.export.model import load_model
    from neurosim.export.prepare import prepare
    from neurosim.trace import validate_trace

    monkeypatch.setenv("NEUROSIM_CACHE", str(tmp_path / "cache"))
    lm = load_model(STORIES)
    ids = lm.encode(STORIES_TEXT.read_text()[:40000])
    with prepare(lm.model, "spikequant+spin+gptq", [ids[-512:], ids[-1024:-512]], salient_param=4.0, layers=1) as p:
        assert p.rotation["loss_best"] < p.rotation["loss_start"]
        out = export_trace(lm, ids[:32], p, tmp_path / "t", layers=1, text_source=str(STORIES_TEXT))
        records = capture_inputs(p, ids[:32], 1)
    trace = validate_trace(out)
    for op in trace.ops:
        x = next(x for n, _, x, _ in records if n == op.name)
        codes, _, _ = quantize_act_t(torch.from_numpy(x), trace.manifest.recipe)
        np.testing.assert_array_equal(np.asarray(trace.op_tensors(op).act_codes), codes.numpy().astype(np.int8))
