"""Capture the inputs of every decoder linear layer on real text, quantize them with the recipe
(:mod:`neurosim.trace.quantize`, the same code synthetic traces use) and write a trace with
weight codes and scales (and, for a power-of-two salient step, the shifts). Inputs shared by
several layers (q/k/v, gate/up) are stored once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from neurosim.export.model import LoadedModel
from neurosim.export.prepare import Prepared
from neurosim.export.quantized import quantized, target_linears
from neurosim.trace.manifest import Producer, Recipe
from neurosim.trace.quantize import quantize_shifted, quantize_weights
from neurosim.trace.writer import TraceWriter


def capture_inputs(prepared: Prepared, ids: list[int], layers: int
                   ) -> list[tuple[str, torch.nn.Linear, np.ndarray, int]]:
    """Run the prepared (fake-quantized) model once on ``ids``; return (op name, module, float
    input [T, K], group id) for the linears of the first ``layers`` decoder layers. Ops that
    received the very same input tensor share a group id."""
    model = prepared.model
    wanted = [(n, m) for n, m in target_linears(model) if int(n.split(".")[1]) < layers]
    seen: dict[int, int] = {}
    alive: list[torch.Tensor] = []  # an id() is only unique while its tensor lives
    records: list = []
    handles = []

    def hook(name, module):
        def fn(mod, args):
            x = args[0]
            alive.append(x)
            group = seen.setdefault(id(x), len(seen))
            records.append((name, module, x[0].detach().float().numpy().copy(), group))
        return fn

    # capture hooks go after the recipe's online transforms and before its fake quantization
    for n, m in wanted:
        handles.append(m.register_forward_pre_hook(hook(n, m)))
    try:
        with torch.no_grad(), quantized(model, prepared.spec.recipe, weights=not prepared.weights_quantized,
                                        recipe_of=prepared.recipe_of):
            model(torch.tensor([ids]))
    finally:
        for h in handles:
            h.remove()
    return records


def own_clip(rx: Recipe, r: Recipe) -> float | None:
    """An op's ``act_clip`` field (format v6): its input's clip ratio ``rx.act_clip`` when that is
    not the trace recipe ``r``'s, else None."""
    return rx.act_clip if rx.act_clip != r.act_clip else None


def weight_codes_of(module, scale, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes [K, N] and steps [N] of a linear's weight: on the prepared steps when the recipe
    quantized it already, else round-to-nearest."""
    w = module.weight.detach().float().numpy().T
    if scale is None:
        return quantize_weights(w, bits)
    s = scale.numpy().astype(np.float32)
    q = (1 << (bits - 1)) - 1
    return np.clip(np.rint(w / s[None, :]), -q, q).astype(np.int8), s


def export_trace(lm: LoadedModel, ids: list[int], prepared: Prepared, out: str | Path, *, layers: int,
                 text_source: str, weights: bool = True, extra: dict | None = None, overwrite: bool = False,
                 progress=None) -> Path:
    """Write the trace of ``ids`` through the first ``layers`` decoder layers under the prepared
    recipe. Weight codes are the prepared weights on their own steps (GPTQ / clipped steps kept)."""
    r = prepared.spec.recipe
    online = prepared.online_transform
    records = capture_inputs(prepared, ids, layers)
    producer = Producer(model=lm.name, tokens=len(ids), weights_sha256=lm.weights_sha256(),
                        tokenizer=lm.tokenizer_name, text_source=text_source,
                        layers=min(layers, len(lm.decoder_layers())), model_layers=len(lm.decoder_layers()))
    with TraceWriter(out, producer, dataclasses.replace(r), extra=extra, overwrite=overwrite) as w:
        stored: dict[int, tuple[str, str]] = {}
        for i, (name, module, x, group) in enumerate(records):
            rx = prepared.recipe_of(name)
            if group not in stored:
                codes, scale, shift = quantize_shifted(x, r.act_bits, r.salient_bits, r.salient_rule, r.salient_param,
                                                       rx.act_clip, r.salient_shift_max)
                stored[group] = (w.add_tensor(f"{name}.in", codes), w.add_tensor(f"{name}.in_scale", scale),
                                 w.add_tensor(f"{name}.in_shift", shift) if r.salient_shift_max else None)
            a, s, sh = stored[group]
            wc = ws = None
            if weights:
                wq, wsc = weight_codes_of(module, prepared.weight_scales.get(name), r.weight_bits)
                wc, ws = w.add_tensor(f"{name}.weight", wq), w.add_tensor(f"{name}.weight_scale", wsc)
            if online and name.endswith("mlp.down_proj"):  # the rotation's online transform: vector-unit work
                w.add_vector_op(f"{name}.online_hadamard", "hadamard", x.shape[0], x.shape[1])
            w.add_op(name, "linear", a, s, weight_bits=r.weight_bits, weight_codes=wc, weight_scale=ws,
                     N=module.out_features, act_shift=sh, act_clip=own_clip(rx, r))
            if progress:
                progress(i + 1, len(records))
    return Path(out)
