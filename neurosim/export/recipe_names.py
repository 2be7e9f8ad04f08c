"""Recipe names, ``BASE[+MOD...]``, parsed without torch (the CLI checks them before loading
anything); see :mod:`neurosim.export.prepare` for what each part does."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

BASES = ("float", "w4a8", "w4a4", "spikequant")
MODIFIERS = ("gptq", "wclip", "rot", "spin", "smooth", "aclip", "oclip", "pow2")
#: What ``neurosim eval`` scores without ``--recipes``: float and the best recipe found of each
#: class, W4A8, W4A4 and SpikeQuant-style W4A4 + 8-bit salient (docs/recipes.md). On SmolLM2's
#: first 4 WikiText-2 windows (float 23.08): w4a8+gptq 42.90, w4a8+rot+gptq 29.29,
#: w4a8+rot+gptq+wclip 26.26 (the rotation is needed even at W4A8); w4a4+spin+gptq+wclip+aclip
#: 48.10, with a clip per input (oclip) 45.20 (its rot twin 45.92); spikequant+spin+gptq+wclip+
#: aclip+pow2 39.68, with oclip 35.04. On the whole split (float 24.78) oclip also wins: 53.03 ->
#: 49.67 and 44.21 -> 39.79; on stories260K it loses a little (8.22 -> 8.28, 7.97 -> 8.04).
EVAL_DEFAULTS = ("float", "w4a8+rot+gptq+wclip", "w4a4+spin+gptq+wclip+oclip", "spikequant+spin+gptq+wclip+oclip+pow2")


@dataclass(frozen=True)
class RecipePlan:
    """A parsed recipe name."""

    name: str
    base: str
    weights: str = "rtn"  # rtn | gptq
    weight_clip: bool = False  # wclip: each channel's step clipped by a searched ratio (with gptq too)
    rotate: bool = False
    learned_rotation: bool = False  # spin: the residual rotation learned (implies rotate)
    smooth_alpha: float | None = None
    act_clip_search: bool = False
    op_clip_search: bool = False  # oclip: a clip ratio per linear input (aclip: one for all)
    salient_pow2: bool = False

    @property
    def needs_calibration(self) -> bool:
        """GPTQ Hessians, smoothing maxima and the clip search come from calibration text."""
        return (self.weights == "gptq" or self.smooth_alpha is not None or self.act_clip_search
                or self.op_clip_search or self.learned_rotation)


def parse_recipe(name: str) -> RecipePlan:
    """``BASE[+MOD...]`` -> plan; a ValueError names what is wrong."""
    base, *mods = name.split("+")
    if base not in BASES:
        raise ValueError(f"recipe {name!r}: base must be one of {', '.join(BASES)}")
    if len(set(mods)) < len(mods):
        raise ValueError(f"recipe {name!r}: a modifier is given twice")
    plan = RecipePlan(name, base)
    for m in mods:
        s = re.fullmatch(r"smooth(0\.\d+)?", m)
        if m == "gptq":
            plan = replace(plan, weights=m)
        elif m == "wclip":
            plan = replace(plan, weight_clip=True)
        elif m == "rot":
            plan = replace(plan, rotate=True)
        elif m == "spin":
            plan = replace(plan, rotate=True, learned_rotation=True)
        elif s:
            plan = replace(plan, smooth_alpha=float(s.group(1) or 0.5))
        elif m == "aclip":
            plan = replace(plan, act_clip_search=True)
        elif m == "oclip":
            plan = replace(plan, op_clip_search=True)
        elif m == "pow2":
            plan = replace(plan, salient_pow2=True)
        else:
            raise ValueError(f"recipe {name!r}: unknown modifier {m!r}; choose from {', '.join(MODIFIERS)}")
    if base == "float" and mods:
        raise ValueError(f"recipe {name!r}: float takes no modifiers")
    if plan.salient_pow2 and base != "spikequant":
        raise ValueError(f"recipe {name!r}: pow2 puts salient codes on a power-of-two step; only spikequant has them")
    if plan.act_clip_search and plan.op_clip_search:
        raise ValueError(f"recipe {name!r}: aclip (one clip for all inputs) and oclip (one per input) are alternatives")
    if plan.rotate and plan.smooth_alpha is not None:
        raise ValueError(f"recipe {name!r}: rot (or spin) and smooth are alternatives")
    return plan
