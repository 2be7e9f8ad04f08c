"""Where a recipe loses its perplexity (issue #30): the decoder's linear inputs in four classes
(q/k/v, o, gate/up, down), each quantized at the recipe's activation bits alone while the others
get 8 bits, and each class's activation clip ratio varied alone (the others at the recipe's).
The weights, rotations and calibration are the recipe's own (``neurosim.export.prepare``); the
windows are ``neurosim eval``'s.

    python benchmarks/recipe_sensitivity.py --model smollm2 --recipe w4a4+spin+gptq+wclip+aclip [--windows 4]
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from recipe_table import MODELS, SHARED

from neurosim.export.perplexity import perplexity
from neurosim.export.prepare import prepare
from neurosim.export.runner import SALIENT_CALIB_TOKENS, calibration, context_window, load_model, read_tokens, windows

CLASSES = {"q/k/v": ("q_proj", "k_proj", "v_proj"), "o": ("o_proj",), "gate/up": ("gate_proj", "up_proj"),
           "down": ("down_proj",)}
CLIPS = (1.0, 0.9, 0.8, 0.7, 0.6)


def in_class(name: str, cls: str) -> bool:
    return any(name.endswith(c) for c in CLASSES[cls])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=sorted(MODELS), required=True)
    ap.add_argument("--recipe", required=True, help="a quantized recipe, e.g. w4a4+spin+gptq+wclip+aclip")
    ap.add_argument("--windows", type=int, default=4)
    args = ap.parse_args()
    model, text = (str(SHARED / p) for p in MODELS[args.model])
    lm = load_model(model)
    ids, _ = read_tokens(lm, text)
    calib, eval_ids, _ = calibration(ids, None)
    wins = windows(eval_ids, context_window(lm, None), args.windows)
    with prepare(lm.model, args.recipe, calib, salient_param=None, salient_calib=ids[:SALIENT_CALIB_TOKENS]) as p:
        r = p.spec.recipe

        def ppl(recipe_of) -> float:
            """Perplexity with each linear's input quantized by ``recipe_of(op name)``."""
            return perplexity(p.model, wins, p.spec, weights_quantized=p.weights_quantized,
                              recipe_of=recipe_of).perplexity

        r8 = replace(r, act_bits=8, salient_bits=max(8, r.salient_bits))
        print(f"{args.recipe} on {args.model}, {args.windows} windows of {len(wins[0])} tokens; act clip {r.act_clip}")
        print(f"all inputs at {r.act_bits} bits: {ppl(lambda n: r):.2f}; "
              f"all at 8 bits: {ppl(lambda n: r8):.2f}")
        for cls in CLASSES:
            alone = ppl(lambda n, cls=cls: r if in_class(n, cls) else r8)
            clipped = {c: ppl(lambda n, cls=cls, rc=replace(r, act_clip=c): rc if in_class(n, cls) else r)
                       for c in CLIPS}
            print(f"{cls:>8}: alone at {r.act_bits} bits {alone:.2f}; its clip varied alone: "
                  + "  ".join(f"{c:g}: {v:.2f}" for c, v in clipped.items()), flush=True)


if __name__ == "__main__":
    main()
