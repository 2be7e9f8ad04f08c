"""The export and eval jobs behind ``neurosim export`` / ``neurosim eval`` and
``neurosim.api.export_trace``: load, tokenize, calibrate, export, evaluate, summarise."""

from __future__ import annotations

from pathlib import Path

from neurosim.errors import UsageError
from neurosim.export.capture import export_trace
from neurosim.export.model import LoadedModel, load_model
from neurosim.export.perplexity import PplResult, perplexity, windows
from neurosim.export.prepare import prepare
from neurosim.export.recipe_names import EVAL_DEFAULTS, parse_recipe
from neurosim.fsutil import read_text_input

#: Tokens per perplexity window unless asked (the model's context when shorter).
DEFAULT_WINDOW = 1024


def read_tokens(lm: LoadedModel, text_file: str | Path | None) -> tuple[list[int], str]:
    if text_file is None:
        raise UsageError("--text FILE is required (e.g. shared/corpora/wikitext-2-raw-test/wiki.test.raw.txt)")
    return lm.encode(read_text_input(text_file)), str(text_file)


CALIB_WINDOWS, CALIB_TOKENS = 16, 512
#: The salient rule's parameter is calibrated on the text's first tokens (as the shipped trace was).
SALIENT_CALIB_TOKENS = 512


def calibration(ids: list[int], calib_ids: list[int] | None) -> tuple[list[list[int]], list[int], str]:
    """(calibration windows, the ids left for evaluation, where calibration came from): from
    ``calib_ids`` when given, else from the tail of ``ids``, which is then not evaluated."""
    n = CALIB_WINDOWS * CALIB_TOKENS
    if calib_ids is not None:
        src = calib_ids[:n]
        return [src[i:i + CALIB_TOKENS] for i in range(0, len(src) - CALIB_TOKENS + 1, CALIB_TOKENS)], ids, "calib-text"
    if len(ids) < 2 * n:
        raise UsageError(f"the text has {len(ids)} tokens: too few to hold out {n} calibration tokens "
                         "(give --calib-text)")
    tail = ids[-n:]
    return [tail[i:i + CALIB_TOKENS] for i in range(0, n, CALIB_TOKENS)], ids[:-n], f"last {n} tokens of the text"


def run_export(model: str, tokens: int, text: str | None, out: str, *, recipe: str = "spikequant", layers: int | None,
               salient_rule: str = "mad", salient_param: float | None = None, target_ratio: float = 0.025,
               weights: bool = True, overwrite: bool = False, calib_text: str | None = None, decode: int = 0,
               batch: int = 1, whole_model: bool = False, progress=None) -> Path:
    """Export ``tokens`` of ``text`` (a prefill of GEMMs; with ``decode`` > 0 a whole inference:
    the prefill and ``decode`` teacher-forced steps, attention and vector ops included; with
    ``batch`` B > 1, B consecutive windows of the text prefilled and decoded together). The
    salient threshold and the activation clip are calibrated on the exported layers' inputs, or
    with ``whole_model`` on every layer's (as ``eval`` does; slower by the model's depth over the
    exported layers). ``progress(stage, done, total)`` reports each stage."""
    report = progress or (lambda *_: None)
    if batch > 1 and not decode:
        raise UsageError("--batch B goes with a whole inference (--decode D)")
    report("load model", 0, 1)
    lm = load_model(model)
    report("load model", 1, 1)
    ids, source = read_tokens(lm, text)
    plan = _plan(recipe)
    if len(ids) < (tokens + decode) * batch:
        raise UsageError(f"--tokens {tokens}" + (f" --decode {decode}" if decode else "")
                         + (f" --batch {batch}" if batch > 1 else "") + f": the text has only {len(ids)} tokens")
    if decode and not weights:
        raise UsageError("--decode exports weights (the attention ops are checked against them): drop --no-weights")
    n_layers = len(lm.decoder_layers())
    layers = n_layers if layers is None else layers
    if not 1 <= layers <= n_layers:
        raise UsageError(f"--layers {layers}: the model has {n_layers} decoder layers")
    calib_ids = read_tokens(lm, calib_text)[0] if calib_text else None
    calib, _, calib_src = calibration(ids, calib_ids) if plan.needs_calibration else ([], ids, None)
    prepared = prepare(lm.model, recipe, calib, salient_rule=salient_rule, salient_param=salient_param,
                       salient_target=target_ratio, salient_calib=ids[:SALIENT_CALIB_TOKENS], layers=layers,
                       whole_model=whole_model, progress=report)
    extra = {"recipe_name": recipe, "salient_target_ratio": target_ratio if salient_param is None else None,
             "layers_exported": layers, "model_layers": n_layers, "token_offset": 0,
             "calibration": calib_src and {"source": calib_text or source, "which": calib_src,
                                           "windows": len(calib), "tokens": CALIB_TOKENS,
                                           "layers": "all" if whole_model else layers},
             "online_transforms": ({"op": "mlp.down_proj input", "transform": "orthogonal (Hadamard x orthogonal)",
                                    "size": lm.model.config.intermediate_size,
                                    "note": "a hadamard vector op before each down_proj, charged on the vector unit"}
                                   if plan.rotate else None)}
    if prepared.rotation:
        extra["learned_rotation"] = prepared.rotation
    def capture(done: int, total: int) -> None:
        report("capture and write", done, total)
    with prepared:
        if decode:
            from neurosim.export.inference_capture import export_inference

            n = tokens + decode
            return export_inference(lm, [ids[b * n:(b + 1) * n] for b in range(batch)], decode, prepared, out, layers=layers,
                                    text_source=source, extra=extra, overwrite=overwrite, progress=capture)
        return export_trace(lm, ids[:tokens], prepared, out, layers=layers, text_source=source, weights=weights,
                            extra=extra, overwrite=overwrite, progress=capture)


def _plan(recipe: str):
    try:
        return parse_recipe(recipe)
    except ValueError as e:
        raise UsageError(str(e)) from None


def context_window(lm, window: int | None) -> int:
    """Tokens per perplexity window: ``window``, or by default :data:`DEFAULT_WINDOW` or the
    model's context when shorter; a window beyond the model's context is refused."""
    ctx = int(getattr(lm.model.config, "max_position_embeddings", 0) or 0)
    if window is None:
        return min(DEFAULT_WINDOW, ctx) if ctx else DEFAULT_WINDOW
    if ctx and window > ctx:
        raise UsageError(f"--window-tokens {window}: {lm.name} takes at most {ctx} tokens at once")
    return window


def run_eval(model: str, text: str | None, *, n_windows: int | None, window: int | None, recipes=EVAL_DEFAULTS,
             salient_rule="mad", salient_param: float | None = None, target_ratio: float = 0.025, calib_text: str | None = None,
             progress=None, on_result=None) -> list[PplResult]:
    """Perplexity and activation statistics of each recipe on the same windows; ``on_result(r)``
    is called as each recipe finishes; ``progress(stage, done, total)`` reports each stage."""
    report = progress or (lambda *_: None)
    plans = [_plan(r) for r in recipes]
    report("load model", 0, 1)
    lm = load_model(model)
    report("load model", 1, 1)
    ids, _ = read_tokens(lm, text)
    calib_ids = read_tokens(lm, calib_text)[0] if calib_text else None
    # the calibration tail is held out for every recipe (when the text is long enough), so that
    # every recipe, float included, is scored on the same windows whichever recipes are asked for
    needed = any(p.needs_calibration for p in plans)
    if needed or calib_ids is not None or len(ids) >= 2 * CALIB_WINDOWS * CALIB_TOKENS:
        calib, eval_ids, _ = calibration(ids, calib_ids)
    else:
        calib, eval_ids = [], ids
    wins = windows(eval_ids, context_window(lm, window), n_windows)
    out = []
    for r in recipes:
        def stage(what: str, done: int, total: int, r=r) -> None:
            report(f"{r}: {what}", done, total)
        with prepare(lm.model, r, calib, salient_rule=salient_rule, salient_param=salient_param,
                     salient_target=target_ratio, salient_calib=ids[:SALIENT_CALIB_TOKENS], progress=stage) as p:
            out.append(perplexity(p.model, wins, p.spec, lambda d, t: stage("perplexity windows", d, t),
                                  weights_quantized=p.weights_quantized, recipe_of=p.recipe_of))
        if on_result:
            on_result(out[-1])
    return out
