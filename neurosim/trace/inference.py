"""Synthetic whole-inference traces: a prefill of P tokens, then D decode steps, of a LLaMA-family
decoder (trace format v4, see traces/README.md).

Per layer and phase, in execution order: RMSNorm and the quantizer, q/k/v, RoPE and the
quantizer, the K and V codes written to the KV cache, ``attn_qk`` (Q x K^T) per KV head, the
softmax and its quantizer, ``attn_av`` (P x V) per KV head, the quantizer, o_proj, the residual
add, RMSNorm and the quantizer, gate/up, SiLU x gate and the quantizer, down_proj, the residual
add. A decode step is the same with one token, reading the whole cache so far (prefill tokens
plus the steps before, plus its own).

The code model (stated in the manifest's ``synthetic_model``):

- prefill linear inputs: the heavy-tailed activation model of :mod:`neurosim.trace.synth`, one
  tensor per layer and input, as ``synth --tokens`` draws them;
- attention operands: Q and the K cache drawn from the same model, K per token (its scale is
  per column of K^T), V per channel (per column of V), K and V at ``act_bits`` with no salient
  codes (they are the array's stationary operand); attention probabilities: the causal softmax
  of N(0, ``attention_logit_sigma``^2) logits, quantized per row at ``act_bits`` (non-negative);
  one set shared by every layer and KV head (``repeat``);
- decode: one token's codes per input kind (and one query and probability row per head group)
  shared by every step and layer; the K/V cache holds P + D tokens and step s reads its first
  P + s + 1;
- the whole model (every layer, a model whose vocabulary is known): after the last layer of the
  prefill and of each decode step, the final RMSNorm, its quantizer and the LM head (a
  [hidden x vocab] linear op) on each sequence's last token, the one whose next token is
  generated; its input codes drawn once for the prefill and once for the decode steps. The
  embedding lookup is the first op's input, read from DRAM;
- a batch of B sequences (``synth --batch B``): the linear ops carry every sequence's tokens (B x P
  in the prefill, B per decode step, each sequence's rows drawn), the attention ops and their
  softmax repeat per sequence (each on its own cache; the attention operands are shared as
  above), and every sequence writes its own K and V.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from neurosim.cores import usable_cores
from neurosim.errors import UsageError
from neurosim.trace.manifest import Producer, Recipe
from neurosim.trace.quantize import quantize_activations
from neurosim.trace.reader import MANIFEST_ENTRY_BYTES, MAX_MANIFEST_BYTES
from neurosim.trace.synth import ActivationModel, GemmSpec, ModelShape, check_footprint, llm_gemms
from neurosim.trace.writer import TraceWriter

#: Standard deviation of the synthetic attention logits (q.k / sqrt(d)).
ATTENTION_LOGIT_SIGMA = 2.0


def layer_schedule(p: str, model: ModelShape, M: int, Tkv: int, kv_bits: int, batch: int = 1) -> list[tuple]:
    """One decoder layer's work in execution order, for ``M`` new tokens of each of ``batch``
    sequences, each attending to its own ``Tkv`` cached ones: ``("vector", name, op, tokens, width,
    bits, per_kv_head)`` (a per-KV-head op's tokens are one sequence's: it repeats per head and
    sequence), ``("linear", name, input kind, N)`` (input kinds ``attn_in``, ``o_in``, ``mlp_in``,
    ``down_in``; M = every sequence's new tokens) and ``("attention", name)`` for ``attn_qk`` then
    ``attn_av`` (one per KV head and sequence). Shared by the synthetic generator and the exporter,
    so that both write the same structure."""
    h, inter = model.hidden, model.intermediate
    g = model.heads // model.kv_heads
    q, kv = model.q_dim, model.kv_dim
    Ms, M = M, M * batch  # one sequence's new tokens; every sequence's
    return [
        ("vector", f"{p}.input_layernorm", "rmsnorm", M, h, 16, False),
        ("vector", f"{p}.attn_in.quantize", "quantize", M, h, 16, False),
        ("linear", f"{p}.self_attn.q_proj", "attn_in", q),
        ("linear", f"{p}.self_attn.k_proj", "attn_in", kv),
        ("linear", f"{p}.self_attn.v_proj", "attn_in", kv),
        ("vector", f"{p}.self_attn.rope", "rope", M, q + kv, 16, False),
        ("vector", f"{p}.self_attn.qkv.quantize", "quantize", M, q + 2 * kv, 16, False),
        ("vector", f"{p}.self_attn.kv_write", "kv_write", M, 2 * kv, kv_bits, False),
        ("attention", f"{p}.self_attn.attn_qk"),
        ("vector", f"{p}.self_attn.softmax", "softmax", Ms * g, Tkv, 16, True),
        ("vector", f"{p}.self_attn.probs.quantize", "quantize", Ms * g, Tkv, 16, True),
        ("attention", f"{p}.self_attn.attn_av"),
        ("vector", f"{p}.o_in.quantize", "quantize", M, q, 16, False),
        ("linear", f"{p}.self_attn.o_proj", "o_in", h),
        ("vector", f"{p}.attn_residual", "residual_add", M, h, 16, False),
        ("vector", f"{p}.post_attention_layernorm", "rmsnorm", M, h, 16, False),
        ("vector", f"{p}.mlp_in.quantize", "quantize", M, h, 16, False),
        ("linear", f"{p}.mlp.gate_proj", "mlp_in", inter),
        ("linear", f"{p}.mlp.up_proj", "mlp_in", inter),
        ("vector", f"{p}.mlp.silu_mul", "silu_mul", M, inter, 16, False),
        ("vector", f"{p}.down_in.quantize", "quantize", M, inter, 16, False),
        ("linear", f"{p}.mlp.down_proj", "down_in", h),
        ("vector", f"{p}.mlp_residual", "residual_add", M, h, 16, False),
    ]


def _probabilities(rng: np.random.Generator, rows: int, cols: int, group: int, causal_from: int | None,
                   act_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Quantized softmax rows: row r is query token ``r // group`` (+ ``causal_from`` when causal:
    it sees keys 0..that token), codes and per-row scales."""
    codes = np.zeros((rows, cols), np.int8)
    scales = np.ones(rows, np.float32)
    for r0 in range(0, rows, 256):
        r1 = min(rows, r0 + 256)
        logits = rng.normal(0.0, ATTENTION_LOGIT_SIGMA, (r1 - r0, cols)).astype(np.float32)
        if causal_from is not None:
            token = causal_from + np.arange(r0, r1) // group
            logits[np.arange(cols)[None, :] > token[:, None]] = -np.inf
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        codes[r0:r1], scales[r0:r1] = quantize_activations(p, act_bits, act_bits, "none", 0.0)
    return codes, scales


def check_manifest(model: ModelShape, prompt: int, decode: int, layers: int, batch: int) -> None:
    """Refuse, before writing anything, a whole inference whose manifest would pass
    :data:`MAX_MANIFEST_BYTES` (every decode step adds a layer's ops and the LM head's)."""
    per_layer = len(layer_schedule("", model, prompt, prompt, 4, batch))
    head = 3 if model.vocab and layers == model.layers else 0
    entries = layers * per_layer + head + decode * (per_layer + head)
    size = entries * MANIFEST_ENTRY_BYTES
    if size > MAX_MANIFEST_BYTES:
        raise UsageError(f"--decode {decode}: the trace would list about {entries:,} ops ({per_layer + head} per decode "
                         f"step), a manifest of about {size / 2**20:,.0f} MiB, more than the "
                         f"{MAX_MANIFEST_BYTES / 2**20:.0f} MiB a trace may have: use fewer decode steps")


def write_inference(out: str | Path, model: ModelShape, prompt: int, decode: int, layers: int, *, seed: int,
                    act_model: ActivationModel = ActivationModel(), overwrite: bool = False, progress=None,
                    batch: int = 1) -> Path:
    """Write the whole-inference trace (see the module docstring); ``batch`` sequences prefill and
    decode together (each linear op has every sequence's tokens; each attends to its own cache)."""
    if layers > model.layers:
        raise UsageError(f"--layers {layers}: {model.name} has {model.layers} layers")
    recipe = Recipe(salient_rule="ratio", salient_param=act_model.salient_ratio)
    d = model.head_dim or model.hidden // model.heads
    g, T = model.heads // model.kv_heads, prompt + decode
    prefill = llm_gemms(model, prompt * batch, layers)
    # the attention operands are activation tensors too: the same disk and memory check
    attention = [(name, [GemmSpec(name, rows, cols, 1)]) for name, rows, cols in (
        ("attn.q.prefill", prompt * g, d), ("attn.k_cache", T, d), ("attn.v_cache", d, T),
        ("attn.probs.prefill", prompt * g, prompt), ("attn.probs.decode", g, T))]
    decode_in = [(f"decode.{i}", [GemmSpec(f"decode.{i}", batch, model.intermediate, 1)]) for i in range(4)]
    check_manifest(model, prompt, decode, layers, batch)
    check_footprint(out, prefill + attention + decode_in, False)
    meta = {**dataclasses.asdict(act_model), "seed": seed, "attention_logit_sigma": ATTENTION_LOGIT_SIGMA,
            "code_model": "prefill linear inputs per layer; attention operands shared by layers and KV heads; "
                          "decode codes shared by steps and layers (neurosim/trace/inference.py)",
            "prompt_tokens": prompt, "decode_steps": decode, **({"batch": batch} if batch > 1 else {})}
    producer = Producer(model=model.name, tokens=prompt, text_source=f"synthetic (seed {seed})", layers=layers,
                        model_layers=model.layers)
    ticks = _Ticks(2 + 4 * layers + decode, progress)
    with TraceWriter(out, producer, recipe, synthetic_model=meta, overwrite=overwrite) as w, \
            ThreadPoolExecutor(usable_cores()) as pool:
        iw = _InferenceWriter(w, pool, model, recipe, act_model, seed, prompt, T, batch)
        iw.attention_operands(g, d)
        ticks()
        iw.decode_inputs()
        ticks()
        for L in range(layers):
            inputs = {}
            for j, kind in enumerate(("attn_in", "o_in", "mlp_in", "down_in")):
                gname, gemms = prefill[4 * L + j]
                inputs[kind] = iw.acts(gname, [0, 4 * L + j], prompt * batch, gemms[0].K)
                ticks()
            iw.layer(f"layers.{L}", prompt, inputs, prompt, "prefill", 0, 1)
        head = bool(model.vocab) and layers == model.layers  # the whole model: its LM head too
        if head:
            iw.lm_head("", "prefill", 0)
        for s in range(decode):
            iw.layer(f"decode.{s}.layers", 1, iw.dec, prompt + s + 1, "decode", s, layers)
            if head:
                iw.lm_head(f"decode.{s}.", "decode", s)
            ticks()
    return Path(out)


class _Ticks:
    """Progress: ``ticks()`` counts one of ``total`` steps done."""

    def __init__(self, total: int, progress):
        self.total, self.progress, self.done = total, progress, 0

    def __call__(self) -> None:
        self.done += 1
        if self.progress:
            self.progress(self.done, self.total)


class _InferenceWriter:
    """The tensors and ops of a whole inference, written in a fixed order (the codes are drawn in
    that order from seeded streams, so the trace is the same byte for byte)."""

    def __init__(self, w: TraceWriter, pool: ThreadPoolExecutor, model: ModelShape, recipe: Recipe,
                 act_model: ActivationModel, seed: int, prompt: int, T: int, batch: int = 1):
        self.w, self.pool, self.model, self.recipe, self.act_model = w, pool, model, recipe, act_model
        self.seed, self.prompt, self.T, self.batch = seed, prompt, T, batch
        self.tables = act_model.tables()
        self.kv_recipe = Recipe(salient_bits=recipe.act_bits, salient_rule="none")  # K and V: no salient codes
        self.d = model.head_dim or model.hidden // model.heads
        self.dec: dict[str, tuple[str, str]] = {}
        self.lm_in: dict[str, tuple[str, str]] = {}

    def acts(self, name: str, key: list[int], rows: int, cols: int, r: Recipe | None = None) -> tuple[str, str]:
        c, s, _ = self.act_model.draw_codes([self.seed, *key], rows, cols, r or self.recipe, self.tables, self.pool)
        return self.w.add_tensor(f"{name}.codes", c), self.w.add_tensor(f"{name}.scale", s)

    def attention_operands(self, g: int, d: int) -> None:
        """Q, the KV cache and the probabilities, shared by every layer and KV head."""
        w, ab, prompt, T = self.w, self.recipe.act_bits, self.prompt, self.T
        self.q_pre = self.acts("attn.q.prefill", [1, 0], prompt * g, d)
        self.q_dec = self.acts("attn.q.decode", [1, 1], g, d)
        self.k_cache = self.acts("attn.k_cache", [1, 2], T, d, self.kv_recipe)
        vc, vs, _ = self.act_model.draw_codes([self.seed, 1, 3], d, T, self.kv_recipe, self.tables, self.pool)
        # per channel: rows are channels
        self.v_cache = (w.add_tensor("attn.v_cache.codes", np.ascontiguousarray(vc.T)),
                        w.add_tensor("attn.v_cache.scale", vs))
        rng = np.random.default_rng([self.seed, 1, 4])
        pc, ps = _probabilities(rng, prompt * g, prompt, g, 0, ab)
        self.p_pre = (w.add_tensor("attn.probs.prefill.codes", pc), w.add_tensor("attn.probs.prefill.scale", ps))
        pc, ps = _probabilities(rng, g, T, g, None, ab)
        self.p_dec = (w.add_tensor("attn.probs.decode.codes", pc), w.add_tensor("attn.probs.decode.scale", ps))

    def decode_inputs(self) -> None:
        """One token's linear inputs per sequence, shared by every decode step and layer."""
        m = self.model
        self.dec = {kind: self.acts(f"decode.{kind}", [2, i], self.batch, width)
                    for i, (kind, width) in enumerate((("attn_in", m.hidden), ("o_in", m.q_dim), ("mlp_in", m.hidden),
                                                       ("down_in", m.intermediate)))}

    def lm_head(self, p: str, phase: str, step: int) -> None:
        """The final norm, its quantizer and the LM head ([hidden x vocab]) on each sequence's last
        token (the one whose next token is generated); its input codes drawn once per phase kind."""
        m, B = self.model, self.batch
        if phase not in self.lm_in:
            self.lm_in[phase] = self.acts(f"{'decode.' if phase == 'decode' else ''}lm_in", [3, len(self.lm_in)],
                                          B, m.hidden)
        sched = {"phase": phase, "step": step}
        self.w.add_vector_op(f"{p}norm", "rmsnorm", B, m.hidden, bits=16, **sched)
        self.w.add_vector_op(f"{p}lm_in.quantize", "quantize", B, m.hidden, bits=16, **sched)
        self.w.add_op(f"{p}lm_head", "linear", *self.lm_in[phase], weight_bits=self.recipe.weight_bits, N=m.vocab,
                      **sched)

    def layer(self, p: str, M: int, inputs: dict[str, tuple[str, str]], Tkv: int, phase: str, step: int,
              rep: int) -> None:
        """One decoder layer's ops; ``rep`` identical layers."""
        w, m, ab = self.w, self.model, self.recipe.act_bits
        sched = {"phase": phase, "step": step}
        q_in, probs = (self.q_pre, self.p_pre) if phase == "prefill" else (self.q_dec, self.p_dec)
        B = self.batch
        for item in layer_schedule(p, m, M, Tkv, ab, B):
            if item[0] == "vector":
                _, name, op, tokens, width, bits, per_head = item
                w.add_vector_op(name, op, tokens, width, bits=bits, repeat=rep * (m.kv_heads * B if per_head else 1),
                                **sched)
            elif item[0] == "linear":
                _, name, kind, n = item
                w.add_op(name, "linear", *inputs[kind], weight_bits=self.recipe.weight_bits, N=n, repeat=rep, **sched)
            elif item[1].endswith("attn_qk"):
                w.add_op(item[1], "attn_qk", *q_in, weight_bits=ab, weight_codes=self.k_cache[0],
                         weight_scale=self.k_cache[1], N=Tkv, repeat=rep * m.kv_heads * B, b_source="kv_cache",
                         **sched)
            else:
                w.add_op(item[1], "attn_av", *probs, weight_bits=ab, weight_codes=self.v_cache[0],
                         weight_scale=self.v_cache[1], K=Tkv, N=self.d, repeat=rep * m.kv_heads * B,
                         b_source="kv_cache", **sched)
