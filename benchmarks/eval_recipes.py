"""Perplexity of every recipe on the whole WikiText-2 test split (or the first N windows), with
the salient ratio, mean spikes per activation and time per recipe; one row printed as each
recipe finishes, the table written to CSV and JSON.

    python benchmarks/eval_recipes.py [--windows N] [--recipes R ...] [--out DIR]
    python benchmarks/eval_recipes.py --model stories260k   # the float llama2.c model on TinyStories

``--model stories260k`` scores the same recipes on a model that was never quantized (its own
512-token windows of the shared TinyStories sample), separating a recipe's own loss from
re-quantizing the Q4_1 SmolLM2.

The default recipe list is the table of issue 13: float; W4A8; W4A4 RTN; W4A4 with each of GPTQ,
rotation, smoothing, salient (SpikeQuant-style); and the combinations. On 2 cores the whole split
(about 280 windows of 1024 tokens) takes roughly 15 minutes per recipe.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import pandas as pd

from neurosim.export.runner import run_eval

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
#: (model directory, text) under shared/.
MODELS = {"smollm2": ("models/smollm2-135m-instruct-q4_1", "corpora/wikitext-2-raw-test/wiki.test.raw.txt"),
          "stories260k": ("models/stories260k", "corpora/tinystories-train-sample/tinystories_train_head_197k.txt")}
RECIPES = ["float", "w4a8", "w4a8+gptq", "w4a4", "w4a4+gptq", "w4a4+rot", "w4a4+smooth", "spikequant",
           "w4a4+rot+gptq", "w4a4+rot+gptq+aclip", "spikequant+gptq", "spikequant+rot+gptq",
           "spikequant+rot+gptq+aclip"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=None, help="first N windows (default: the whole split)")
    ap.add_argument("--recipes", nargs="+", default=RECIPES)
    ap.add_argument("--out", default="eval_recipes")
    ap.add_argument("--model", choices=sorted(MODELS), default="smollm2")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    t0 = time.perf_counter()

    def row(res) -> None:  # printed and written as soon as each recipe is known
        rows.append(dataclasses.asdict(res))
        sal = "-" if res.salient_ratio is None else f"{res.salient_ratio:.2%}"
        spk = "-" if res.mean_spikes is None else f"{res.mean_spikes:.3f}"
        print(f"{res.recipe:<64} ppl {res.perplexity:10.3f}  salient {sal:>7}  spikes/act {spk:>6}  "
              f"{res.seconds:7.0f} s  ({res.tokens_scored:,} tokens)", flush=True)
        (out / "eval.json").write_text(json.dumps(rows, indent=1) + "\n")
        pd.DataFrame(rows).to_csv(out / "eval.csv", index=False)

    model, text = MODELS[args.model]
    run_eval(SHARED / model, SHARED / text, n_windows=args.windows, window=None, recipes=args.recipes, on_result=row)
    print(f"({time.perf_counter() - t0:.0f} s in all; {out / 'eval.csv'})")


if __name__ == "__main__":
    main()
