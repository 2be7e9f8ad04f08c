"""Where a recipe loses its perplexity (issue #30): the decoder's linear inputs in four classes
(q/k/v, o, gate/up, down), each quantized at the recipe's activation bits alone while the others
get 8 bits, and each class's activation clip ratio varied alone (the others at the recipe's).
The weights, rotations and calibration are the recipe's own (``neurosim.export.prepare``); the
windows are ``neurosim eval``'s.

    python benchmarks/recipe_sensitivity.py --model smollm2 --recipe w4a4+spin+gptq+wclip+aclip [--windows 4]
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace

import torch
from recipe_table import MODELS, SHARED

from neurosim.export.prepare import prepare
from neurosim.export.quantized import target_linears
from neurosim.export.recipes import fake_quant_act_t
from neurosim.export.runner import SALIENT_CALIB_TOKENS, calibration, context_window, load_model, read_tokens, windows

CLASSES = {"q/k/v": ("q_proj", "k_proj", "v_proj"), "o": ("o_proj",), "gate/up": ("gate_proj", "up_proj"),
           "down": ("down_proj",)}
CLIPS = (1.0, 0.9, 0.8, 0.7, 0.6)


def perplexity(model, wins, recipe_of) -> float:
    """Perplexity with each linear's input fake-quantized by ``recipe_of(name)`` (its weights as
    prepared); an input shared by several linears is quantized once per recipe."""
    last, handles = [None, -1, None, None], []
    for name, lin in target_linears(model):
        def hook(mod, args, r=recipe_of(name)):
            x = args[0]
            if last[0] is not x or last[1] != x._version or last[2] is not r:
                last[:] = x, x._version, r, fake_quant_act_t(x, r)[0]
            return (last[3].to(x.dtype), *args[1:])
        handles.append(lin.register_forward_pre_hook(hook))
    nll = count = 0
    try:
        with torch.no_grad():
            for w in wins:
                ids = torch.tensor([w])
                nll += float(model(ids, labels=ids).loss) * (len(w) - 1)
                count += len(w) - 1
    finally:
        for h in handles:
            h.remove()
    return math.exp(nll / count)


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
        r8 = replace(r, act_bits=8, salient_bits=max(8, r.salient_bits))
        print(f"{args.recipe} on {args.model}, {args.windows} windows of {len(wins[0])} tokens; act clip {r.act_clip}")
        print(f"all inputs at {r.act_bits} bits: {perplexity(p.model, wins, lambda n: r):.2f}; "
              f"all at 8 bits: {perplexity(p.model, wins, lambda n: r8):.2f}")
        for cls in CLASSES:
            alone = perplexity(p.model, wins, lambda n, cls=cls: r if in_class(n, cls) else r8)
            clipped = {c: perplexity(p.model, wins, lambda n, cls=cls, rc=replace(r, act_clip=c):
                                     rc if in_class(n, cls) else r) for c in CLIPS}
            print(f"{cls:>8}: alone at {r.act_bits} bits {alone:.2f}; its clip varied alone: "
                  + "  ".join(f"{c:g}: {v:.2f}" for c, v in clipped.items()), flush=True)


if __name__ == "__main__":
    main()
