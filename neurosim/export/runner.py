"""The export and eval jobs behind ``neurosim export`` / ``neurosim eval`` and
``neurosim.api.export_trace``: load, tokenize, calibrate, export, evaluate, summarise."""

from __future__ import annotations

from pathlib import Path

from neurosim.errors import UsageError
from neurosim.export.capture import calibrate, export_trace
from neurosim.export.model import LoadedModel, load_model
from neurosim.export.perplexity import PplResult, perplexity, windows
from neurosim.export.recipes import make_recipe

RECIPES = ("float", "spikequant", "w4a4", "w4a8")


def read_tokens(lm: LoadedModel, text_file: str | Path | None) -> tuple[list[int], str]:
    if text_file is None:
        raise UsageError("--text FILE is required (e.g. shared/corpora/wikitext-2-raw-test/wiki.test.raw.txt)")
    p = Path(text_file)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"--text {p}: cannot read: {e}") from None
    return lm.encode(text), str(p)


def salient_k(lm: LoadedModel, ids: list[int], rule: str, param: float | None, target: float,
              calib_tokens: int = 512) -> float:
    """The salient rule's parameter: given, or (MAD) calibrated to ``target`` on the text's start."""
    if param is not None:
        return param
    if rule == "ratio":
        return target
    return round(calibrate(lm, ids[:calib_tokens], target), 4)


def run_export(model: str, tokens: int, text: str | None, out: str, *, recipe: str = "spikequant", layers: int | None,
               salient_rule: str = "mad", salient_param: float | None = None, target_ratio: float = 0.025,
               weights: bool = True, overwrite: bool = False, progress=None) -> Path:
    lm = load_model(model)
    ids, source = read_tokens(lm, text)
    if len(ids) < tokens:
        raise UsageError(f"--tokens {tokens}: the text has only {len(ids)} tokens")
    n_layers = len(lm.decoder_layers())
    layers = n_layers if layers is None else layers
    if not 1 <= layers <= n_layers:
        raise UsageError(f"--layers {layers}: the model has {n_layers} decoder layers")
    k = salient_k(lm, ids, salient_rule, salient_param, target_ratio) if recipe == "spikequant" else 0.0
    rs = make_recipe(recipe, salient_rule=salient_rule, salient_param=k)
    extra = {"recipe_name": recipe, "salient_target_ratio": target_ratio if salient_param is None else None,
             "layers_exported": layers, "model_layers": n_layers, "token_offset": 0}
    return export_trace(lm, ids[:tokens], rs, out, layers=layers, text_source=source, weights=weights, extra=extra,
                        overwrite=overwrite, progress=progress)


def run_eval(model: str, text: str | None, *, n_windows: int, window: int, recipes=RECIPES, salient_rule="mad",
             salient_param: float | None = None, target_ratio: float = 0.025, progress=None) -> list[PplResult]:
    lm = load_model(model)
    ids, _ = read_tokens(lm, text)
    wins = windows(ids, window, n_windows)
    k = salient_k(lm, ids, salient_rule, salient_param, target_ratio)
    return [perplexity(lm.model, wins, make_recipe(r, salient_rule=salient_rule, salient_param=k), progress)
            for r in recipes]
