"""Capture the inputs of every decoder linear layer on real text, quantize them with the recipe
(:mod:`neurosim.trace.quantize`, the same code synthetic traces use) and write a trace v1 with
weight codes and scales. Inputs shared by several layers (q/k/v, gate/up) are stored once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from neurosim.export.model import LoadedModel
from neurosim.export.quantized import quantized, target_linears
from neurosim.export.recipes import RecipeSpec, calibrate_mad_k
from neurosim.trace.manifest import Producer
from neurosim.trace.quantize import quantize_activations, quantize_weights
from neurosim.trace.writer import TraceWriter


def capture_inputs(lm: LoadedModel, ids: list[int], recipe: RecipeSpec, layers: int
                   ) -> list[tuple[str, torch.nn.Linear, np.ndarray, int]]:
    """Run the (fake-quantized) model once on ``ids``; return (op name, module, float input
    [T, K], group id) for the linears of the first ``layers`` decoder layers. Ops that received
    the very same input tensor share a group id."""
    wanted = [(n, m) for n, m in target_linears(lm.model) if int(n.split(".")[1]) < layers]
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

    # capture hooks go first, so they see the input before the recipe's fake quantization
    for n, m in wanted:
        handles.append(m.register_forward_pre_hook(hook(n, m)))
    try:
        with torch.no_grad(), quantized(lm.model, recipe.recipe):
            lm.model(torch.tensor([ids]))
    finally:
        for h in handles:
            h.remove()
    return records


def calibrate(lm: LoadedModel, ids: list[int], target_ratio: float) -> float:
    """MAD multiplier k that makes ``target_ratio`` of the float model's linear inputs salient."""
    samples = []
    handles = [m.register_forward_pre_hook(lambda mod, args: samples.append(args[0].detach()))
               for _, m in target_linears(lm.model)]
    try:
        with torch.no_grad():
            lm.model(torch.tensor([ids]))
    finally:
        for h in handles:
            h.remove()
    return calibrate_mad_k(samples, target_ratio)


def export_trace(lm: LoadedModel, ids: list[int], recipe: RecipeSpec, out: str | Path, *, layers: int,
                 text_source: str, weights: bool = True, extra: dict | None = None, overwrite: bool = False,
                 progress=None) -> Path:
    """Write the trace of ``ids`` through the first ``layers`` decoder layers under ``recipe``."""
    r = recipe.recipe
    records = capture_inputs(lm, ids, recipe, layers)
    producer = Producer(model=lm.name, tokens=len(ids), weights_sha256=lm.weights_sha256(),
                        tokenizer=lm.tokenizer_name, text_source=text_source)
    with TraceWriter(out, producer, dataclasses.replace(r), extra=extra, overwrite=overwrite) as w:
        stored: dict[int, tuple[str, str]] = {}
        for i, (name, module, x, group) in enumerate(records):
            if group not in stored:
                codes, scale = quantize_activations(x, r.act_bits, r.salient_bits, r.salient_rule, r.salient_param)
                stored[group] = (w.add_tensor(f"{name}.in", codes), w.add_tensor(f"{name}.in_scale", scale))
            a, s = stored[group]
            wc = ws = None
            if weights:
                wq, wsc = quantize_weights(module.weight.detach().float().numpy().T, r.weight_bits)
                wc, ws = w.add_tensor(f"{name}.weight", wq), w.add_tensor(f"{name}.weight_scale", wsc)
            w.add_op(name, "linear", a, s, weight_bits=r.weight_bits, weight_codes=wc, weight_scale=ws,
                     N=module.out_features)
            if progress:
                progress(i + 1, len(records))
    return Path(out)
