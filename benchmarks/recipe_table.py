"""The recipe table of docs/recipes.md (issue #30 item 5): every recipe's perplexity, salient
ratio and spikes per activation, and the J/token of its trace on the shipped matched pair
(acc_if_64x64 against mac_64x64_os; ``-`` where a design cannot run the trace), one section per
model, regenerated in place between the section's markers.

    python benchmarks/recipe_table.py --model stories260k            # ~25 min on 2 cores
    python benchmarks/recipe_table.py --model smollm2 [--windows 4]  # the whole split: ~3 h (8 min a recipe)

Everything runs through ``neurosim pareto``'s cached stages (``--cache``, default
``recipe_table/<model>``): a rerun, or a run with one more recipe, redoes only what is new. Each
trace is the first decoder layer on 64 tokens and 8 decode steps of the same text.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from neurosim.sweep.pareto import ParetoPlan, eval_for, run_pareto

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DOC = ROOT / "docs/recipes.md"
MODELS = {"smollm2": ("models/smollm2-135m-instruct-q4_1", "corpora/wikitext-2-raw-test/wiki.test.raw.txt"),
          "stories260k": ("models/stories260k", "corpora/tinystories-train-sample/tinystories_train_head_197k.txt")}
RECIPES = ["w4a8", "w4a8+gptq", "w4a8+rot+gptq", "w4a8+rot+gptq+wclip", "w4a4", "w4a4+gptq", "w4a4+rot", "w4a4+spin",
           "w4a4+smooth", "w4a4+rot+gptq+aclip", "w4a4+spin+gptq+aclip", "w4a4+rot+gptq+wclip+aclip",
           "w4a4+spin+gptq+wclip+aclip", "w4a4+spin+gptq+wclip+oclip", "spikequant", "spikequant+gptq",
           "spikequant+rot+gptq+aclip", "spikequant+rot+gptq+aclip+pow2", "spikequant+spin+gptq+aclip+pow2",
           "spikequant+spin+gptq+wclip+aclip+pow2", "spikequant+spin+gptq+wclip+oclip+pow2"]
#: The matched pair, and the MAC with the IF array's salient side store (the fair control for the
#: salient recipes: plain ``mac_64x64_os`` has no outlier path and pays for salient codes otherwise).
#: Config name -> its column's heading.
CONFIGS = {"acc_if_64x64": "ACC", "mac_64x64_os": "MAC", "mac_64x64_os_outlier": "MAC outlier"}


def _uj(v) -> str:
    return "-" if v is None else f"{v * 1e6:.3f}"


def _sig(v: float) -> str:
    """Four significant figures at most (a perplexity of thousands needs no decimals)."""
    return f"{v:,.0f}" if v >= 1000 else f"{v:.4g}" if v >= 100 else f"{v:.2f}"


def table(rows: list[dict], float_ppl: float) -> list[str]:
    """Markdown rows: one per recipe, its J/token on each of :data:`CONFIGS` (by config name)."""
    names = list(CONFIGS)
    heads = " | ".join(CONFIGS.values())
    out = [f"| recipe | perplexity | x float | salient | spikes/act | prefill uJ/token {heads} | "
           f"decode uJ/token {heads} |", "|---|---|---|---|---|" + "---|" * 2 * len(names)]
    for recipe in dict.fromkeys(r["recipe"] for r in rows):
        mine = [r for r in rows if r["recipe"] == recipe]
        by = {n: next((r for r in mine if r["config"] == n and not r["error"]), {}) for n in names}
        r0 = mine[0]
        sal = "-" if r0["salient_ratio"] is None else f"{r0['salient_ratio']:.2%}"
        energy = [_uj(by[n].get(f"{phase}_j_per_token")) for phase in ("prefill", "decode") for n in names]
        out.append(f"| {recipe} | {_sig(r0['perplexity'])} | {_sig(r0['perplexity'] / float_ppl)} | {sal} | "
                   f"{r0['spikes_per_activation']:.3f} | " + " | ".join(energy) + " |")
    return out


def splice(doc: str, model: str, section: list[str]) -> str:
    """``doc`` with the model's section replaced between ``<!-- recipes:MODEL -->`` and
    ``<!-- recipes:MODEL:end -->``."""
    start, end = f"<!-- recipes:{model} -->", f"<!-- recipes:{model}:end -->"
    a, b = doc.index(start) + len(start), doc.index(end)
    return doc[:a] + "\n" + "\n".join(section) + "\n" + doc[b:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=sorted(MODELS), required=True)
    ap.add_argument("--windows", type=int, default=None, help="first N windows (default: the whole text)")
    ap.add_argument("--recipes", nargs="+", default=RECIPES)
    ap.add_argument("--cache", help="the cached stages (default: recipe_table/MODEL)")
    args = ap.parse_args()
    model, text = (str(SHARED / p) for p in MODELS[args.model])
    out = Path(args.cache or f"recipe_table/{args.model}")
    out.mkdir(parents=True, exist_ok=True)
    plan = ParetoPlan(model, text, 64, 8, 1, args.windows)
    fl = eval_for(plan, "float", out, plan.source_key())  # cached like every recipe (~5 min on the whole split: 4.2 s a window)
    rows = run_pareto(plan, args.recipes, [str(ROOT / "hw_configs" / f"{c}.yaml") for c in CONFIGS], out,
                      lambda stage, done, total: print(f"  {stage}: {done}/{total}", flush=True) if done == total else None)
    which = "every window" if args.windows is None else f"the first {args.windows} windows"
    options = ("" if args.windows is None else f" --windows {args.windows}") + \
        ("" if args.recipes == RECIPES else " --recipes " + " ".join(args.recipes))
    section = [f"{fl['tokens_scored']:,} scored tokens ({which} of {fl['window']} tokens; float perplexity "
               f"{fl['perplexity']:.3f}); generated by `python benchmarks/recipe_table.py --model {args.model}"
               f"{options}`{'' if args.recipes == RECIPES else ' (those recipes only, so far)'}.",
               "", *table(rows, fl['perplexity'])]
    DOC.write_text(splice(DOC.read_text(), args.model, section))
    print("\n".join(section))


if __name__ == "__main__":
    main()
