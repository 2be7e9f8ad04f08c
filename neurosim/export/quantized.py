"""Run a model under a recipe: every decoder linear layer sees fake-quantized weights and
inputs (``with quantized(model, recipe): ...``); the float weights are restored afterwards."""

from __future__ import annotations

from contextlib import contextmanager

import torch

from neurosim.export.model import LINEAR_NAMES
from neurosim.export.recipes import fake_quant_act, fake_quant_weight
from neurosim.trace.manifest import Recipe


def target_linears(model) -> list[tuple[str, torch.nn.Linear]]:
    """(trace op name, module) of every decoder linear layer, in execution order."""
    out = []
    for i, layer in enumerate(model.model.layers):
        for name in LINEAR_NAMES:
            out.append((f"layers.{i}.{name}", layer.get_submodule(name)))
    return out


@contextmanager
def quantized(model, recipe: Recipe | None):
    """Fake-quantize weights (per output channel) and inputs (per token) of the decoder linears."""
    if recipe is None:
        yield model
        return
    saved, handles = [], []
    try:
        with torch.no_grad():
            for _, lin in target_linears(model):
                saved.append((lin, lin.weight.data.clone()))
                lin.weight.data = fake_quant_weight(lin.weight.data, recipe.weight_bits)
                handles.append(lin.register_forward_pre_hook(lambda m, args: (fake_quant_act(args[0], recipe), *args[1:])))
        yield model
    finally:
        for h in handles:
            h.remove()
        for lin, w in saved:
            lin.weight.data = w
