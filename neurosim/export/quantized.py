"""Run a model under a recipe: every decoder linear layer sees fake-quantized inputs (and, unless
they were quantized already, fake-quantized weights) inside ``with quantized(model, recipe):``;
the float weights are restored afterwards. ``stats`` (a dict) collects the activation codes'
entries, spikes (sum |q|) and salient entries."""

from __future__ import annotations

from contextlib import contextmanager

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
def quantized(model, recipe: Recipe | None, *, weights: bool = True, stats: dict | None = None):
    """Fake-quantize inputs (per token) and, with ``weights``, weights (per output channel) of
    the decoder linears."""
    if recipe is None:
        yield model
        return
    saved, handles = [], []
    last: list = [None, -1, None]  # the input last quantized, its version, its (values, statistics)

    def hook(mod, args):
        x = args[0]
        if last[0] is not x or last[1] != x._version:  # q/k/v (and gate/up) read one tensor: quantized once
            last[:] = x, x._version, fake_quant_act_t(x, recipe)
        values, counts = last[2]
        if stats is not None:  # every linear's input counts, as in the trace
            for k, v in counts.items():
                stats[k] = stats.get(k, 0) + v
        return (values.to(x.dtype), *args[1:])

    try:
        with torch.no_grad():
            for _, lin in target_linears(model):
                if weights:
                    saved.append((lin, lin.weight.data.clone()))
                    lin.weight.data = fake_quant_weight(lin.weight.data, recipe.weight_bits)
                handles.append(lin.register_forward_pre_hook(hook))
        yield model
    finally:
        last[:] = None, -1, None
        for h in handles:
            h.remove()
        for lin, w in saved:
            lin.weight.data = w
