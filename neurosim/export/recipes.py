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

from neurosim.kernels.act_quant import quantize_rows, row_medians, salient_cuts
from neurosim.trace.manifest import Recipe


@dataclass(frozen=True)
class RecipeSpec:
    """A named recipe: the trace Recipe plus whether it quantizes at all."""

    name: str
    recipe: Recipe | None  # None: float
    #: The smallest and largest clip ratio of the linear inputs that have their own (``oclip``).
    op_clip_range: tuple[float, float] | None = None

    @property
    def label(self) -> str:
        r = self.recipe
        if r is None:
            return "float"
        sal = f", salient {r.salient_bits}b by {r.salient_rule}({r.salient_param:g})" if r.salient_bits > r.act_bits else ""
        clip = f", act clip {r.act_clip:g}" if r.act_clip != 1.0 else ""
        if self.op_clip_range:
            clip = ", act clip {:g}-{:g} per input".format(*self.op_clip_range)
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
    keepdim=True)`` (the two middle values interpolated half-way for an even width), by selection
    (:func:`neurosim.kernels.act_quant.row_medians`) instead of a sort: ``torch.quantile`` was most
    of an evaluation's time."""
    K = x.shape[-1]
    rows = np.ascontiguousarray(x.detach().float().cpu().reshape(-1, K).numpy())
    return torch.from_numpy(row_medians(rows)).reshape(*x.shape[:-1], 1)


def quantize_act_t(x: torch.Tensor, r: Recipe) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-token codes (float tensor of integers), scales and per-entry power-of-two shifts
    (float tensor of integers, zero unless the recipe has a salient shift) of activations
    ``x`` [..., K]: value = code x 2^shift x scale.

    Per token: salient entries by the recipe's rule (``mad``: ``|x - median| > param x MAD``, the
    medians as ``torch.quantile``'s; ``ratio``: the ``ceil(param x K)`` entries farthest from the
    median; ``none``), the normal step ``act_clip x max|normal| / qmax(act_bits)`` (1 when 0),
    salient entries on that step shifted left by the fewest powers of two (at most
    ``salient_shift_max``) that bring them within ``qmax(salient_bits)``, codes rounded half to
    even and clamped. In float32 throughout (:func:`neurosim.kernels.act_quant.quantize_rows`)."""
    codes, scale, shift = _quantize(x, r)[:3]
    lead, K = x.shape[:-1], x.shape[-1]
    return (torch.from_numpy(codes).reshape(*lead, K), torch.from_numpy(scale).reshape(*lead, 1),
            torch.from_numpy(shift).reshape(*lead, K))


def fake_quant_act_t(x: torch.Tensor, r: Recipe) -> tuple[torch.Tensor, dict[str, int]]:
    """The values :func:`quantize_act_t`'s codes stand for (``x``'s shape, float32), and their
    entries, spikes (sum of |code|) and salient codes (beyond the normal range)."""
    _, _, _, values, spikes, beyond = _quantize(x, r)
    return (torch.from_numpy(values).reshape(x.shape),
            {"entries": values.size, "spikes": int(spikes.sum()), "salient": int(beyond.sum())})


def clip_deltas_t(x: torch.Tensor, r: Recipe, clips: tuple[float, ...]) -> list[torch.Tensor]:
    """``x``'s fake quantization minus ``x`` (float32, ``x``'s shape) under each activation clip;
    the salient rule's medians are taken once for all of them."""
    rows = np.ascontiguousarray(x.detach().float().cpu().reshape(-1, x.shape[-1]).numpy())
    rule = r.salient_rule if r.salient_bits > r.act_bits else "none"
    cuts = salient_cuts(rows, rule, r.salient_param)
    top = _qmax(max(r.act_bits, r.salient_bits))
    return [torch.from_numpy(quantize_rows(rows, rule, r.salient_param, c, _qmax(r.act_bits), top,
                                           r.salient_shift_max, cuts)[3]).reshape(x.shape) - x for c in clips]


def clip_errors_t(x: torch.Tensor, r: Recipe, clips: tuple[float, ...]) -> list[float]:
    """Squared error of ``x``'s fake quantization (float32 sum) under each activation clip."""
    return [float((d ** 2).sum()) for d in clip_deltas_t(x, r, clips)]


def _quantize(x: torch.Tensor, r: Recipe) -> tuple[np.ndarray, ...]:
    rows = np.ascontiguousarray(x.detach().float().cpu().reshape(-1, x.shape[-1]).numpy())
    rule = r.salient_rule if r.salient_bits > r.act_bits else "none"
    return quantize_rows(rows, rule, r.salient_param, r.act_clip, _qmax(r.act_bits),
                         _qmax(max(r.act_bits, r.salient_bits)), r.salient_shift_max)


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
