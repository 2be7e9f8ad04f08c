"""Perplexity of a model under each recipe on the same non-overlapping token windows."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from neurosim.export.quantized import quantized
from neurosim.export.recipes import RecipeSpec


@dataclass(frozen=True)
class PplResult:
    recipe: str
    perplexity: float
    tokens_scored: int


def windows(ids: list[int], window: int, n: int) -> list[list[int]]:
    """The first ``n`` non-overlapping windows of ``window`` tokens."""
    out = [ids[i:i + window] for i in range(0, len(ids) - window + 1, window)][:n]
    if not out:
        raise ValueError(f"text has {len(ids)} tokens, fewer than one {window}-token window")
    return out


def perplexity(model, wins: list[list[int]], recipe: RecipeSpec, progress=None) -> PplResult:
    """exp(mean next-token NLL) over the windows (no BOS; every token after the first is scored)."""
    nll, count = 0.0, 0
    with torch.no_grad(), quantized(model, recipe.recipe):
        for i, w in enumerate(wins):
            ids = torch.tensor([w])
            loss = model(ids, labels=ids).loss
            nll += float(loss) * (len(w) - 1)
            count += len(w) - 1
            if progress:
                progress(i + 1, len(wins))
    return PplResult(recipe.label, math.exp(nll / count), count)
