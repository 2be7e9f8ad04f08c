"""Small facts about runs that the console, the comparison and the plots all need: the type of an
op within its block, and whether a run is a whole inference. They live here, below the three, so
that none of them imports another for a helper."""

from __future__ import annotations

import re

from neurosim.results import Results


def layer_type(name: str) -> str:
    """The op's name within its block: ``layers.3.mlp.up_proj`` -> ``up_proj`` (a per-head
    ``...attn_qk.kv2`` -> ``attn_qk``)."""
    parts = name.split(".")
    return parts[-2] if len(parts) > 1 and re.fullmatch(r"kv\d+", parts[-1]) else parts[-1]


def whole_inference(r: Results) -> bool:
    """Does the run cover more than the linear layers of a prefill (attention, vector ops, decode)?"""
    return bool(r.phases) and ("decode" in r.phases or any(layer.kind != "linear" for layer in r.layers))
