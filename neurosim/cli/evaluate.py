"""``neurosim eval``: perplexity of the float model and each recipe (extra: export)."""

from __future__ import annotations

import argparse
from pathlib import Path

from neurosim.cli.common import (
    EXIT_OK,
    add_recipe_args,
    need_export_extra,
    print_ppl,
    recipe,
    stages,
)
from neurosim.export.recipe_names import EVAL_DEFAULTS


def run(args: argparse.Namespace) -> int:
    """Perplexity of the float model and of each recipe on the same windows."""
    need_export_extra("eval")
    from neurosim.export.runner import run_eval
    from neurosim.fsutil import require_regular_file

    for text in (args.text, getattr(args, "calib_text", None)):  # before the model loads: a FIFO blocks
        if text is not None:
            require_regular_file(text)

    if args.out:
        from neurosim.fsutil import check_output_dir

        check_output_dir(args.out, args.force, evidence=("eval.json",))
    with stages("eval") as report:
        results = run_eval(args.model, args.text, n_windows=args.windows, window=args.window_tokens,
                           recipes=args.recipes, salient_rule=args.salient_rule, salient_param=args.salient_param,
                           target_ratio=args.salient_target, calib_text=args.calib_text, progress=report)
    print_ppl(results, args)
    if args.out:
        import dataclasses
        import json

        import pandas as pd

        from neurosim.fsutil import atomic_write_text

        rows = [dataclasses.asdict(r) for r in results]
        atomic_write_text(Path(args.out) / "eval.json", json.dumps(rows, indent=1, allow_nan=False) + "\n")
        atomic_write_text(Path(args.out) / "eval.csv", pd.DataFrame(rows).to_csv(index=False))
        print(f"wrote {Path(args.out) / 'eval.csv'}, {Path(args.out) / 'eval.json'}")
    return EXIT_OK


def register(sub) -> None:
    """Add the ``eval`` subcommand to ``sub`` (argparse subparsers)."""
    ev = sub.add_parser("eval", help="perplexity of the float model and each recipe (extra: export)")
    add_recipe_args(ev)
    ev.add_argument("--recipes", nargs="+", type=recipe, default=list(EVAL_DEFAULTS),
                    help="recipes, each BASE[+MOD...] as for export (float needs no modifiers); default: float "
                         f"and the best found of each class, {', '.join(EVAL_DEFAULTS[1:])} (the first run on a "
                         "model learns two rotations, cached for later runs)")
    ev.add_argument("--out", help="also write eval.csv and eval.json here")
    ev.add_argument("--force", action="store_true", help="write --out into a directory that is not a neurosim one "
                    "(its files are kept, but eval.csv and eval.json are replaced)")
    ev.set_defaults(func=run)
