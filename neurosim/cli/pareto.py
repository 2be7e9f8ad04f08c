"""``neurosim pareto``: perplexity against J/token of recipes on hardware configs, with each
design's Pareto front; exports, evaluations and simulations are cached, so it resumes (extra:
export)."""

from __future__ import annotations

import argparse
from pathlib import Path

from neurosim.cli.common import EXIT_OK, decode_steps, need_export_extra, positive_int, recipe, stages, windows


def run(args: argparse.Namespace) -> int:
    """Export, evaluate and simulate what is not cached; write and print the table and the figure."""
    need_export_extra("pareto")
    import json

    import pandas as pd

    from neurosim.fsutil import atomic_write_text, check_output_dir, require_regular_file
    from neurosim.report.pareto_plot import write_pareto_plot
    from neurosim.sweep.pareto import ParetoPlan, model_files, run_pareto

    model_files(Path(args.model))  # a missing model is refused before the output directory is made
    require_regular_file(args.text)  # before the model loads: a FIFO blocks
    for config in args.hw:
        require_regular_file(config)
    out = check_output_dir(args.out, args.force, evidence=("pareto.csv",))
    plan = ParetoPlan(args.model, args.text, args.tokens, args.decode, args.layers, args.windows, args.window_tokens)
    with stages("pareto") as report:
        rows = run_pareto(plan, list(dict.fromkeys(args.recipes)), list(dict.fromkeys(args.hw)), out, report)
    df = pd.DataFrame(rows)
    atomic_write_text(out / "pareto.csv", df.to_csv(index=False))
    atomic_write_text(out / "pareto.json", json.dumps(rows, indent=1, allow_nan=False) + "\n")
    figures = write_pareto_plot(rows, out)
    cols = [c for c in ("recipe", "config", "perplexity", "prefill_j_per_token", "decode_j_per_token",
                        "front_prefill", "front_decode") if c in df and df[c].notna().any()]
    print(df[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for r in rows:
        if r["error"]:
            print(f"  {r['recipe']} on {r['config']}: not run ({r['error']})")
    print(f"wrote {out / 'pareto.csv'}, {out / 'pareto.json'}, {', '.join(str(f) for f in figures)} "
          f"(cached stages in {out / 'traces'}, {out / 'eval'}, {out / 'points'})")
    return EXIT_OK


def register(sub) -> None:
    """Add the ``pareto`` subcommand to ``sub`` (argparse subparsers)."""
    p = sub.add_parser("pareto", help="perplexity vs energy per token of recipes on configs (extra: export)")
    p.add_argument("--model", required=True, help="model directory, .gguf file or llama2.c directory")
    p.add_argument("--text", required=True, help="text the traces are exported from and the perplexity scored on")
    p.add_argument("--recipes", nargs="+", type=recipe, required=True, help="recipes, each BASE[+MOD...]")
    p.add_argument("--hw", action="append", required=True, metavar="CONFIG", help="hardware config (repeatable)")
    p.add_argument("--tokens", type=positive_int, default=64, help="tokens of each exported trace (the prompt)")
    p.add_argument("--decode", type=decode_steps, default=0, help="decode steps of each trace (0: a prefill)")
    p.add_argument("--layers", type=positive_int, default=1, help="decoder layers exported (perplexity: all)")
    p.add_argument("--windows", type=windows, default=4, help="perplexity windows, or 'all' for the whole text")
    p.add_argument("--window-tokens", type=positive_int, default=None,
                   help="tokens per perplexity window (default: 1024, or the model's context when shorter)")
    p.add_argument("--out", required=True, help="output directory: pareto.csv/.json/.png/.svg and the cached stages")
    p.add_argument("--force", action="store_true", help="write into a directory that is not a neurosim one")
    p.set_defaults(func=run)
