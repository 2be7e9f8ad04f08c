"""Quantization recipes as fake-quant functions in torch, matching :mod:`neurosim.trace.quantize`
(the numpy code that makes trace codes) rule for rule.

Recipes: ``spikequant`` (W4A4, per-token salient values by a MAD rule kept at 8 bits, on the
normal step or, with ``salient_shift_max``, on a power-of-two multiple of it per entry), ``w4a4``
(no salient handling: the largest value sets the step), ``w4a8``, and ``float``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from neurosim.kernels.median import row_middles
from neurosim.trace.manifest import Recipe


@dataclass(frozen=True)
class RecipeSpec:
    """A named recipe: the trace Recipe plus whether it quantizes at all."""

    name: str
    recipe: Recipe | None  # None: float

    @property
    def label(self) -> str:
        r = self.recipe
        if r is None:
            return "float"
        sal = f", salient {r.salient_bits}b by {r.salient_rule}({r.salient_param:g})" if r.salient_bits > r.act_bits else ""
        clip = f", act clip {r.act_clip:g}" if r.act_clip != 1.0 else ""
        step = f", salient step x2^0..{r.salient_shift_max}" if r.salient_shift_max else ""
        return f"{self.name} (W{r.weight_bits}A{r.act_bits}{sal}{step}{clip})"


def make_recipe(name: str, *, weight_bits: int = 4, act_bits: int = 4, salient_bits: int = 8,
                salient_rule: str = "mad", salient_param: float = 6.0, salient_shift_max: int = 0) -> RecipeSpec:
    """Build one of the named recipes."""
    if name == "float":
        return RecipeSpec(name, None)
    if name == "spikequant":
        return RecipeSpec(name, Recipe(weight_bits, act_bits, salient_bits, salient_rule, salient_param,
                                       salient_shift_max=salient_shift_max))
    if name == "w4a4":
        return RecipeSpec(name, Recipe(weight_bits, act_bits, act_bits, "none", 0.0))
    if name == "w4a8":
        return RecipeSpec(name, Recipe(weight_bits, 8, 8, "none", 0.0))
    raise ValueError(f"unknown recipe {name!r}; choose float, spikequant, w4a4, w4a8")


def _qmax(bits: int) -> int:
    return (1 << (bits - 1)) - 1


def median_t(x: torch.Tensor) -> torch.Tensor:
    """The median of ``x`` over its last axis, kept: exactly ``torch.quantile(x, 0.5, dim=-1,
    keepdim=True)`` (the two middle values interpolated half-way for an even width), by a
    linear-time selection of the middle values of every row, rows in parallel
    (:func:`neurosim.kernels.median.row_middles`), instead of a sort: ``torch.quantile`` was most
    of an evaluation's time."""
    K = x.shape[-1]
    if K == 1:
        return x.detach().clone()
    rows = np.ascontiguousarray(x.detach().cpu().reshape(-1, K).numpy())
    mid = torch.from_numpy(row_middles(rows, K // 2)).reshape(*x.shape[:-1], 2)
    return mid[..., 1:] if K % 2 else torch.lerp(mid[..., :1], mid[..., 1:], 0.5)


def salient_mask_t(x: torch.Tensor, rule: str, param: float) -> torch.Tensor:
    """Per-token salient mask of ``x`` [..., K] (same rules as ``trace.quantize.salient_mask``)."""
    if rule == "none":
        return torch.zeros_like(x, dtype=torch.bool)
    dev = (x - median_t(x)).abs()
    if rule == "mad":
        return dev > param * median_t(dev)
    k = int(-(-param * x.shape[-1] // 1))
    if k <= 0:
        return torch.zeros_like(x, dtype=torch.bool)
    cut = torch.topk(dev, k, dim=-1).values[..., -1:]
    return dev >= cut


def quantize_act_t(x: torch.Tensor, r: Recipe) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-token codes (float tensor of integers), scales and per-entry power-of-two shifts
    (float tensor of integers, zero unless the recipe has a salient shift) of activations
    ``x`` [..., K]: value = code x 2^shift x scale."""
    x = x.float()
    sal = salient_mask_t(x, r.salient_rule, r.salient_param) if r.salient_bits > r.act_bits \
        else torch.zeros_like(x, dtype=torch.bool)
    normal_abs = torch.where(sal, torch.zeros_like(x), x.abs()).amax(dim=-1, keepdim=True)
    scale = torch.tensor(r.act_clip, dtype=torch.float32) * normal_abs / _qmax(r.act_bits)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    v = x / scale
    top = float(_qmax(max(r.act_bits, r.salient_bits)))
    shift = torch.zeros_like(v)
    for _ in range(r.salient_shift_max):
        grow = sal & (torch.round(v.abs() / torch.exp2(shift)) > top)
        if not bool(grow.any()):
            break
        shift = shift + grow
    lim = torch.where(sal, top, float(_qmax(r.act_bits)))
    return torch.clamp(torch.round(v / torch.exp2(shift)), -lim, lim), scale, shift


def fake_quant_weight(w: torch.Tensor, bits: int) -> torch.Tensor:
    """Per-output-channel symmetric fake quantization of a torch Linear weight ``[N, K]``."""
    scale = w.abs().amax(dim=1, keepdim=True) / _qmax(bits)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return torch.clamp(torch.round(w / scale), -_qmax(bits), _qmax(bits)) * scale


def calibrate_mad_k(samples: list[torch.Tensor], target_ratio: float) -> float:
    """The MAD multiplier k that makes ``target_ratio`` of the sampled activations salient."""
    ratios = []
    for x in samples:
        x = x.float().reshape(-1, x.shape[-1])
        dev = (x - median_t(x)).abs()
        mad = median_t(dev).clamp_min(1e-12)
        ratios.append((dev / mad).flatten())
    allr = torch.cat(ratios)
    if allr.numel() > 16_000_000:
        allr = allr[torch.randperm(allr.numel(), generator=torch.Generator().manual_seed(0))[:16_000_000]]
    return float(torch.quantile(allr, 1.0 - target_ratio))
