"""``neurosim export``: a trace from a local quantized LLM (extra: export)."""

from __future__ import annotations

import argparse

from neurosim.cli.common import (
    EXIT_OK,
    add_recipe_args,
    decode_steps,
    need_export_extra,
    positive_int,
    print_ppl,
    recipe,
    stages,
)
from neurosim.fsutil import require_regular_file


def run(args: argparse.Namespace) -> int:
    """Export a trace from a local quantized LLM; optionally report perplexity per recipe."""
    need_export_extra("export")
    from neurosim.export.runner import run_eval, run_export

    for text in (args.text, args.calib_text):  # before the model loads: a FIFO would block its reader
        if text is not None:
            require_regular_file(text)

    with stages("export") as report:
        out = run_export(args.model, args.tokens, args.text, args.out, recipe=args.recipe, layers=args.layers,
                         salient_rule=args.salient_rule, salient_param=args.salient_param,
                         target_ratio=args.salient_target, weights=not args.no_weights, overwrite=args.force,
                         calib_text=args.calib_text, decode=args.decode, batch=args.batch,
                         whole_model=args.calibrate == "whole", progress=report)
    print(f"wrote {out}")
    if args.eval_ppl:
        print_ppl(run_eval(args.model, args.text, n_windows=args.windows, window=args.window_tokens,
                            recipes=["float", args.recipe], salient_rule=args.salient_rule,
                            salient_param=args.salient_param, target_ratio=args.salient_target,
                            calib_text=args.calib_text), args)
    return EXIT_OK


def register(sub) -> None:
    """Add the ``export`` subcommand to ``sub`` (argparse subparsers)."""
    e = sub.add_parser("export", help="export a trace from a local quantized LLM (extra: export)")
    add_recipe_args(e)
    e.add_argument("--tokens", type=positive_int, required=True, help="tokens M to capture (the prompt with --decode)")
    e.add_argument("--decode", type=decode_steps, default=0, metavar="D",
                   help="also D decode steps fed the text's next tokens: a whole inference with attention on the KV "
                        "cache and vector ops (trace format 4)")
    e.add_argument("--batch", type=positive_int, default=1, metavar="B",
                   help="with --decode: B sequences (consecutive windows of the text) prefilled and decoded together")
    e.add_argument("--layers", type=positive_int, help="first L decoder layers (default: all)")
    e.add_argument("--recipe", type=recipe, default="spikequant",
                   help="BASE[+MOD...]: base w4a8|w4a4|spikequant, modifiers gptq|wclip|rot|spin|smooth[ALPHA]|aclip|oclip|pow2 "
                   "(e.g. spikequant+rot+gptq)")
    e.add_argument("--calibrate", choices=("layers", "whole"), default="layers",
                   help="calibrate the salient threshold and the activation clip on the exported layers' inputs, or "
                   "on every layer's as eval does (whole: as many times slower as the model has layers over --layers)")
    e.add_argument("--no-weights", action="store_true", help="do not store weight codes")
    e.add_argument("--eval-ppl", action="store_true", help="also report perplexity per recipe")
    e.add_argument("--out", required=True, help="output trace directory")
    e.add_argument("--force", action="store_true", help="replace an existing output directory")
    e.set_defaults(func=run)
