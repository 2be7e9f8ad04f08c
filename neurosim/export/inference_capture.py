"""Export a whole inference from a real model on real text (trace format 4): a prefill of P
tokens, then D decode steps fed the text's next D tokens (teacher forcing) through the model's
KV cache, with the structure of :func:`neurosim.trace.inference.layer_schedule`.

What is captured, per forward call (the prefill, then each step) and decoder layer kept:

- the input of every linear layer, quantized by the recipe as :mod:`neurosim.export.capture`
  does (the model runs fake-quantized, so every later layer sees the quantized model);
- from the attention (a capturing attention function, numerically the eager one): the queries
  after RoPE, the cached keys after RoPE and the values, and the softmax probabilities.

Attention operands are quantized for the trace, the model's attention itself runs in float (its
perplexity does not include attention quantization): queries per token by the recipe (salient
codes and all), keys per token and values per channel at ``act_bits`` without salient codes (the
array's stationary operand), probabilities per row at ``act_bits``. The value step per channel
is taken over the whole captured sequence (a chip would use a calibrated static step). Each
KV head's query rows are its query heads, token by token.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from neurosim.export.capture import own_clip, weight_codes_of
from neurosim.export.model import LoadedModel
from neurosim.export.prepare import Prepared
from neurosim.export.quantized import quantized, target_linears
from neurosim.trace.inference import layer_schedule
from neurosim.trace.manifest import Producer, Recipe
from neurosim.trace.quantize import quantize_activations, quantize_shifted
from neurosim.trace.synth import ModelShape
from neurosim.trace.writer import TraceWriter

_ATTN = "neurosim_capture"


def _shape(lm: LoadedModel) -> ModelShape:
    c = lm.model.config
    return ModelShape(lm.name, c.hidden_size, c.intermediate_size, c.num_attention_heads,
                      c.num_key_value_heads or c.num_attention_heads, c.num_hidden_layers,
                      getattr(c, "head_dim", 0) or 0)


def _capture_calls(prepared: Prepared, seqs: list[list[int]], decode: int, layers: int):
    """Run the prefill and the decode steps of the sequences ``seqs`` (equal lengths) together;
    returns per call the linear inputs {name: [B x T, K]} (sequence by sequence) and per layer
    (q [B, H, T, d], k [B, KVH, Tkv, d], v [B, KVH, Tkv, d], p [B, H, T, Tkv])."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS
    from transformers.models.llama.modeling_llama import repeat_kv

    model = prepared.model
    calls: list[tuple[dict, dict]] = []

    def attention(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
        k, v = repeat_kv(key, module.num_key_value_groups), repeat_kv(value, module.num_key_value_groups)
        q_len, kv_len = query.shape[2], key.shape[2]
        causal = torch.ones(q_len, kv_len, dtype=torch.bool).tril(kv_len - q_len)
        p = torch.softmax((torch.matmul(query, k.transpose(2, 3)) * scaling).masked_fill(~causal, float("-inf")),
                          dim=-1, dtype=torch.float32)
        if module.layer_idx < layers:
            calls[-1][1][module.layer_idx] = tuple(t.detach().float().numpy().copy() for t in (query, key, value, p))
        return torch.matmul(p, v).transpose(1, 2).contiguous(), p

    AttentionInterface.register(_ATTN, attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(_ATTN, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])
    wanted = [(n, m) for n, m in target_linears(model) if int(n.split(".")[1]) < layers]
    handles = [m.register_forward_pre_hook(lambda mod, args, n=n: calls[-1][0].__setitem__(
        n, args[0].detach().float().flatten(0, -2).numpy().copy())) for n, m in wanted]
    saved = model.config._attn_implementation
    model.config._attn_implementation = _ATTN
    try:
        with torch.no_grad(), quantized(model, prepared.spec.recipe, weights=not prepared.weights_quantized,
                                        recipe_of=prepared.recipe_of):
            calls.append(({}, {}))
            ids = torch.tensor(seqs)
            P = ids.shape[1] - decode
            cache = model(ids[:, :P], use_cache=True).past_key_values
            for s in range(decode):
                calls.append(({}, {}))
                cache = model(ids[:, P + s:P + s + 1], past_key_values=cache, use_cache=True).past_key_values
    finally:
        model.config._attn_implementation = saved
        for h in handles:
            h.remove()
    return calls


def export_inference(lm: LoadedModel, seqs: list[list[int]], decode: int, prepared: Prepared, out: str | Path, *,
                     layers: int, text_source: str, extra: dict | None = None, overwrite: bool = False,
                     progress=None) -> Path:
    """Write the whole-inference trace of the sequences ``seqs`` (of equal lengths; the last
    ``decode`` tokens of each are its decode steps' inputs), run together as one batch, through
    the first ``layers`` decoder layers (see the module docstring)."""
    r = prepared.spec.recipe
    B, P = len(seqs), len(seqs[0]) - decode
    calls = _capture_calls(prepared, seqs, decode, layers)
    producer = Producer(model=lm.name, tokens=P, weights_sha256=lm.weights_sha256(), tokenizer=lm.tokenizer_name,
                        text_source=text_source, layers=min(layers, len(lm.decoder_layers())),
                        model_layers=len(lm.decoder_layers()))
    extra = {**(extra or {}), "decode_steps": decode, "decode_inputs": "teacher-forced: the text's next tokens",
             "attention": "operands quantized for the trace; the model's attention runs in float",
             **({"batch": B, "sequences": f"{B} consecutive windows of {P + decode} tokens of the text"}
                if B > 1 else {})}
    with TraceWriter(out, producer, dataclasses.replace(r), extra=extra, overwrite=overwrite) as w:
        cw = _CaptureWriter(w, prepared, _shape(lm), B)
        cw.weights(layers)
        cw.kv_caches(calls[-1][1], layers)
        for c, (lin, att) in enumerate(calls):
            phase, step = ("prefill", 0) if c == 0 else ("decode", c - 1)
            for L in range(layers):
                cw.layer(L, lin, att[L], "" if c == 0 else f"decode.{c - 1}.", P if c == 0 else 1, P + c,
                         {"phase": phase, "step": step})
            if progress:
                progress(c + 1, len(calls))
    return Path(out)


class _CaptureWriter:
    """The tensors and ops of a captured whole inference of ``batch`` sequences, written in the
    capture's order. A batch's attention ops, KV caches and their tensors carry the sequence in
    their names (``.s<b>``); a batch of one is named as before batches existed."""

    def __init__(self, w: TraceWriter, prepared: Prepared, shape, batch: int = 1):
        self.w, self.prepared, self.shape, self.batch = w, prepared, shape, batch
        self.r = prepared.spec.recipe
        self.kv_recipe = Recipe(salient_bits=self.r.act_bits, salient_rule="none")
        self.g = shape.heads // shape.kv_heads
        self.weight_tensors: dict[str, tuple[str, str]] = {}
        self.caches: dict[tuple[int, int, int], tuple] = {}

    def seq(self, b: int) -> str:
        """The name part of sequence ``b`` (none in a batch of one)."""
        return f".s{b}" if self.batch > 1 else ""

    def acts(self, name: str, x: np.ndarray, rec: Recipe | None = None) -> tuple[str, str, str | None]:
        rec = rec or self.r
        c, s, sh = quantize_shifted(x, rec.act_bits, rec.salient_bits, rec.salient_rule, rec.salient_param,
                                    rec.act_clip, rec.salient_shift_max)
        w = self.w
        return (w.add_tensor(f"{name}.codes", c), w.add_tensor(f"{name}.scale", s),
                w.add_tensor(f"{name}.shift", sh) if self.r.salient_shift_max else None)

    def weights(self, layers: int) -> None:
        """The weight codes of the first ``layers`` layers' linears."""
        for name, module in dict(target_linears(self.prepared.model)).items():
            if int(name.split(".")[1]) < layers:
                wq, ws = weight_codes_of(module, self.prepared.weight_scales.get(name), self.r.weight_bits)
                self.weight_tensors[name] = (self.w.add_tensor(f"{name}.weight", wq),
                                             self.w.add_tensor(f"{name}.weight_scale", ws))

    def kv_caches(self, final: list, layers: int) -> None:
        """Each layer's, sequence's and KV head's whole K and V cache, as the last step saw it."""
        ab, w = self.r.act_bits, self.w
        for L in range(layers):
            _, k, v, _ = final[L]
            for b in range(self.batch):
                for h in range(self.shape.kv_heads):
                    p = f"layers.{L}{self.seq(b)}.kv{h}"
                    kc, ks = quantize_activations(k[b, h], ab, ab, "none", 0.0)
                    vc, vs = quantize_activations(np.ascontiguousarray(v[b, h].T), ab, ab, "none", 0.0)
                    self.caches[L, b, h] = ((w.add_tensor(f"{p}.k_cache.codes", kc),
                                             w.add_tensor(f"{p}.k_cache.scale", ks)),
                                            (w.add_tensor(f"{p}.v_cache.codes", np.ascontiguousarray(vc.T)),
                                             w.add_tensor(f"{p}.v_cache.scale", vs)))

    def layer(self, L: int, lin: dict, att: tuple, tag: str, M: int, Tkv: int, sched: dict) -> None:
        """Layer ``L``'s ops of one step (prefill or a decode step, ``tag`` prefixing their names):
        ``M`` new tokens of each sequence."""
        p, shape, inputs = f"layers.{L}", self.shape, {}
        for item in layer_schedule(f"{tag}{p}", shape, M, Tkv, self.r.act_bits, self.batch):
            if item[0] == "vector":
                _, name, op, tokens, width, bits, per_head = item
                self.w.add_vector_op(name, op, tokens, width, bits=bits,
                                     repeat=shape.kv_heads * self.batch if per_head else 1, **sched)
            elif item[0] == "linear":
                _, name, kind, _ = item
                module = name[len(tag):]
                rx = self.prepared.recipe_of(module)
                if kind not in inputs:
                    inputs[kind] = self.acts(f"{tag}{p}.{kind}", lin[module], rx)
                a, s, sh = inputs[kind]
                if self.prepared.online_transform and kind == "down_in":
                    self.w.add_vector_op(f"{name}.online_hadamard", "hadamard", M * self.batch, shape.intermediate,
                                         **sched)
                wc, ws = self.weight_tensors[module]
                self.w.add_op(name, "linear", a, s, weight_bits=self.r.weight_bits, weight_codes=wc, weight_scale=ws,
                              act_shift=sh, act_clip=own_clip(rx, self.r), **sched)
            else:
                for b in range(self.batch):
                    self.attention(item[1], L, b, att, M, Tkv, sched)

    def attention(self, name: str, L: int, b: int, att: tuple, M: int, Tkv: int, sched: dict) -> None:
        """Sequence ``b``'s attention op per KV head: its query heads' Q x K^T, or their
        probabilities x V, on its own cache."""
        q, _, _, probs = att
        ab, g, shape = self.r.act_bits, self.g, self.shape
        for h in range(shape.kv_heads):
            heads = slice(h * g, (h + 1) * g)
            (kc, ks), (vc, vs) = self.caches[L, b, h]
            op = f"{name}{self.seq(b)}.kv{h}"
            if name.endswith("attn_qk"):  # the group's query heads, token by token
                a, s, sh = self.acts(f"{op}.q", np.ascontiguousarray(q[b, heads].transpose(1, 0, 2).reshape(M * g, -1)))
                self.w.add_op(op, "attn_qk", a, s, weight_bits=ab, weight_codes=kc, weight_scale=ks,
                              N=Tkv, act_shift=sh, b_source="kv_cache", **sched)
            else:
                pr = np.ascontiguousarray(probs[b, heads].transpose(1, 0, 2).reshape(M * g, Tkv))
                a, s, sh = self.acts(f"{op}.p", pr, self.kv_recipe)
                self.w.add_op(op, "attn_av", a, s, weight_bits=ab, weight_codes=vc, weight_scale=vs,
                              K=Tkv, N=shape.q_dim // shape.heads, act_shift=sh, b_source="kv_cache", **sched)
