"""Small facts about runs that the console, the comparison and the plots all need: the type of an
op within its block, whether a run is a whole inference, which part of the model it covers and
its figures extrapolated to the whole model. They live here, below the three, so that none of
them imports another for a helper."""

from __future__ import annotations

import re

from neurosim.results import LayerResult, Results

#: Beyond this many ops the console and the plots show totals per layer type and phase.
SUMMARY_ABOVE = 60


def layer_type(name: str) -> str:
    """The op's name within its block: ``layers.3.mlp.up_proj`` -> ``up_proj`` (a per-head
    ``...attn_qk.kv2`` and a sequence's ``...attn_qk.s1.kv2`` -> ``attn_qk``)."""
    parts = name.split(".")
    while len(parts) > 1 and re.fullmatch(r"kv\d+|s\d+", parts[-1]):
        parts.pop()
    return parts[-1]


def grouped(r: Results, per_layer: bool | None = None) -> list[tuple[str, list[LayerResult]]]:
    """(label, ops) per op, or per (phase, op type) in order of first appearance when
    ``per_layer`` is False, or None and the run has more than :data:`SUMMARY_ABOVE` ops."""
    if per_layer or (per_layer is None and len(r.layers) <= SUMMARY_ABOVE):
        return [(la.name.split(".", 1)[-1], [la]) for la in r.layers]
    out: dict[tuple[str, str], list[LayerResult]] = {}
    for la in r.layers:
        out.setdefault((la.phase, layer_type(la.name)), []).append(la)
    return [(f"{phase}: {kind}", ops) for (phase, kind), ops in out.items()]


def whole_inference(r: Results) -> bool:
    """Does the run cover more than the linear layers of a prefill (attention, vector ops, decode)?"""
    return bool(r.phases) and ("decode" in r.phases or any(layer.kind != "linear" for layer in r.layers))


def coverage(r: Results) -> str:
    """``"L of N layers, without the LM head"`` when the run covers less than the whole model
    (its trace says how many layers the model has); "" otherwise."""
    inf = r.inference or {}
    L, N = inf.get("layers"), inf.get("model_layers")
    if not L or not N or (L == N and inf.get("lm_head")):
        return ""
    return f"{L} of {N} layers, {'with' if inf.get('lm_head') else 'without'} the LM head"


def extrapolated(r: Results) -> dict[str, float] | None:
    """A partial run's per-token figures scaled to the whole model: each phase's time and energy
    split into the LM head's and the layers' (by the ops' own time and energy), the layers' part
    x model layers / layers, the LM head's kept once. An estimate: the layers of the trace stand
    for the others. None when the run covers the whole model or does not say."""
    inf = r.inference or {}
    L, N = inf.get("layers"), inf.get("model_layers")
    if not L or not N or L == N:
        return None
    out = {}
    for phase, p in (r.phases or {}).items():
        ops = [la for la in r.layers if la.phase == phase]
        head_t = sum(la.cycles for la in ops if la.name.endswith("lm_head")) / max(1, sum(la.cycles for la in ops))
        head_e = sum(la.energy_pj["total"] for la in ops if la.name.endswith("lm_head")) / max(p["energy_pj"], 1e-30)
        seconds = p["seconds"] * (head_t + (1 - head_t) * N / L)
        out[f"{phase}_seconds"] = seconds
        out[f"{phase}_j_per_token"] = p["j_per_token"] * (head_e + (1 - head_e) * N / L)
        if phase == "decode":
            out["decode_tokens_per_s"] = p["tokens"] / seconds if seconds else 0.0
    return out
