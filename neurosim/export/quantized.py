"""Run a model under a recipe: every decoder linear layer sees fake-quantized inputs (and, unless
they were quantized already, fake-quantized weights) inside ``with quantized(model, recipe):``;
the float weights are restored afterwards. ``stats`` (a dict) collects the activation codes'
entries, spikes (sum |q|) and salient entries."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from functools import partial

import torch

from neurosim.export.model import LINEAR_NAMES
from neurosim.export.recipes import fake_quant_act_t, fake_quant_weight
from neurosim.trace.manifest import Recipe


def target_linears(model) -> list[tuple[str, torch.nn.Linear]]:
    """(trace op name, module) of every decoder linear layer, in execution order."""
    out = []
    for i, layer in enumerate(model.model.layers):
        for name in LINEAR_NAMES:
            out.append((f"layers.{i}.{name}", layer.get_submodule(name)))
    return out


@contextmanager
def quantized(model, recipe: Recipe | None, *, weights: bool = True, stats: dict | None = None,
              recipe_of: Callable[[str], Recipe] | None = None):
    """Fake-quantize inputs (per token) and, with ``weights``, weights (per output channel) of
    the decoder linears; ``recipe_of(op name)``: each linear's input recipe, when not all take
    ``recipe`` (its weights still take ``recipe``'s bits)."""
    if recipe is None:
        yield model
        return
    saved, handles = [], []
    last: list = [None, -1, None, None]  # the input last quantized, its version, its recipe, (values, statistics)

    def hook(mod, args, r):
        x = args[0]
        if last[0] is not x or last[1] != x._version or last[2] is not r:  # q/k/v (gate/up) share one input
            last[:] = x, x._version, r, fake_quant_act_t(x, r)
        values, counts = last[3]
        if stats is not None:  # every linear's input counts, as in the trace
            for k, v in counts.items():
                stats[k] = stats.get(k, 0) + v
        return (values.to(x.dtype), *args[1:])

    try:
        with torch.no_grad():
            for name, lin in target_linears(model):
                if weights:
                    saved.append((lin, lin.weight.data.clone()))
                    lin.weight.data = fake_quant_weight(lin.weight.data, recipe.weight_bits)
                handles.append(lin.register_forward_pre_hook(partial(hook, r=recipe_of(name) if recipe_of else recipe)))
        yield model
    finally:
        last[:] = None, -1, None, None
        for h in handles:
            h.remove()
        for lin, w in saved:
            lin.weight.data = w
