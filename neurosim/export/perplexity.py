"""Perplexity of a model under each recipe on the same non-overlapping token windows, with the
activation statistics the recipe produces (salient ratio, mean spikes per activation)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from neurosim.export.quantized import quantized
from neurosim.export.recipes import RecipeSpec


@dataclass(frozen=True)
class PplResult:
    recipe: str
    perplexity: float
    tokens_scored: int
    salient_ratio: float | None = None  # over every decoder linear's input codes
    mean_spikes: float | None = None  # mean |code| per activation
    seconds: float = 0.0
    window: int = 0  # tokens per window


def windows(ids: list[int], window: int, n: int | None) -> list[list[int]]:
    """The first ``n`` (all, for None) non-overlapping windows of ``window`` tokens."""
    out = [ids[i:i + window] for i in range(0, len(ids) - window + 1, window)][:n]
    if not out:
        raise ValueError(f"text has {len(ids)} tokens, fewer than one {window}-token window")
    return out


def perplexity(model, wins: list[list[int]], recipe: RecipeSpec, progress=None, *,
               weights_quantized: bool = False, recipe_of=None) -> PplResult:
    """exp(mean next-token NLL) over the windows (no BOS; every token after the first is scored);
    ``recipe_of``: each linear's input recipe by op name, as :func:`quantized` takes it."""
    nll, count = 0.0, 0
    stats: dict = {}
    t0 = time.perf_counter()
    with torch.no_grad(), quantized(model, recipe.recipe, weights=not weights_quantized, stats=stats,
                                         recipe_of=recipe_of):
        for i, w in enumerate(wins):
            ids = torch.tensor([w])
            loss = model(ids, labels=ids).loss
            nll += float(loss) * (len(w) - 1)
            count += len(w) - 1
            if progress:
                progress(i + 1, len(wins))
    entries = stats.get("entries", 0)
    return PplResult(recipe.label, math.exp(nll / count), count,
                     stats["salient"] / entries if entries else None, stats["spikes"] / entries if entries else None,
                     time.perf_counter() - t0, len(wins[0]))
