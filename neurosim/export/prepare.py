"""Composable quantization recipes: a base recipe plus modifiers, applied to a copy of the model.

A recipe name is ``BASE[+MOD...]``: ``BASE`` is ``float``, ``w4a8``, ``w4a4`` (no salient
handling) or ``spikequant`` (W4A4 with per-token salient values at 8 bits); modifiers:

- ``gptq``: GPTQ weights (:mod:`neurosim.export.gptq`) from the calibration text's Hessians;
- ``wclip``: each channel's weight step clipped by the ratio (of a grid) that gives the least
  squared rounding error; alone with round-to-nearest, with ``gptq`` as GPTQ's grid (as QuaRot's
  ``--w_clip`` does with its GPTQ);
- ``rot``: fold the RMSNorm gains, rotate the residual stream (randomized Hadamard x orthogonal)
  and each value head (Hadamard), and transform down_proj's input online
  (:mod:`neurosim.export.transforms`);
- ``spin``: as ``rot``, the residual rotation learned by Cayley SGD with the quantizers in the
  loop, starting from ``rot``'s (:mod:`neurosim.export.learned_rotation`; cached);
- ``smooth``: SmoothQuant migration, alpha 0.5 (``smooth0.7``: alpha 0.7);
- ``aclip``: a per-token clip ratio of the normal activation step, searched on the calibration
  text for least squared error over every linear input; ``oclip``: a ratio per linear input,
  each for the least squared error of the outputs of the linears that read it (the two are
  alternatives; :mod:`neurosim.export.act_clip`);
- ``pow2`` (``spikequant`` only): each salient value on the finest power-of-two multiple of the
  normal step that holds it in 8 bits, so that none clips; the largest shift (the width of the
  shift field each salient entry carries) is the largest the calibration text needs.

Calibration text is separate from the evaluation text (its source is recorded).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

import torch

from neurosim.export.act_clip import ACT_CLIP_GRID, OP_CLIP_GRID, op_clips, uniform_clip
from neurosim.export.gptq import clip_search, gptq, quantize_rows, weight_scale
from neurosim.export.learned_rotation import rotation_for
from neurosim.export.quantized import target_linears
from neurosim.export.recipe_names import parse_recipe
from neurosim.export.recipes import RecipeSpec, calibrate_mad_k, make_recipe, quantize_act_t
from neurosim.export.transforms import fold_norms, online_hadamard, orthogonal, rotate, rotate_heads, smooth
from neurosim.trace.manifest import MAX_SALIENT_SHIFT, Recipe


@dataclass
class Prepared:
    """A model ready to run a recipe: transformed, its linear weights quantized (their steps kept
    in ``weight_scales`` for the trace's weight codes), online hooks installed. Use it in a
    ``with`` block: leaving it removes the hooks."""

    model: object
    spec: RecipeSpec
    weight_scales: dict[str, torch.Tensor]
    hooks: list
    #: How the residual rotation was learned (``spin``), for the manifest.
    rotation: dict | None = None
    #: The input recipe of each linear whose clip is its own (``oclip``); the rest take the spec's.
    op_recipes: dict[str, Recipe] = field(default_factory=dict)

    def recipe_of(self, name: str) -> Recipe:
        """The recipe linear ``name``'s input is quantized by (the linears that read one input get
        one Recipe object, so that it is quantized once)."""
        return self.op_recipes.get(name, self.spec.recipe)

    @property
    def weights_quantized(self) -> bool:
        return bool(self.weight_scales)

    @property
    def online_transform(self) -> bool:
        """down_proj's input is transformed at run time (the ``rot`` recipe): a trace records it
        as a ``hadamard`` vector op before each down_proj."""
        return parse_recipe(self.spec.name).rotate if self.spec.recipe is not None else False

    def __enter__(self) -> Prepared:
        return self

    def __exit__(self, *exc) -> None:
        for h in self.hooks:
            h.remove()
        self.hooks = []


class _Done(Exception):
    """Raised by a hook to end a calibration forward early."""


def _linears(model, layers: int | None) -> list[tuple[str, torch.nn.Linear]]:
    return [(n, m) for n, m in target_linears(model) if layers is None or int(n.split(".")[1]) < layers]


def _inputs(model, ids: list[list[int]], want, layers: int | None = None, tick=None) -> None:
    """Run calibration windows; ``want(name, x)`` accumulates per linear input (of the first
    ``layers`` decoder layers); ``tick(done, total)`` after each window."""
    handles = [m.register_forward_pre_hook(lambda mod, args, n=n: want(n, args[0].detach()[0].float()))
               for n, m in _linears(model, layers)]
    if layers is not None:  # nothing past the last wanted layer is needed: stop the forward there
        def stop(*_):
            raise _Done
        handles.append(model.model.layers[layers - 1].register_forward_hook(stop))
    try:
        with torch.no_grad():
            for i, w in enumerate(ids, 1):
                try:
                    model(torch.tensor([w]))
                except _Done:
                    pass
                if tick:
                    tick(i, len(ids))
    finally:
        for h in handles:
            h.remove()


def prepare(model, name: str, calib: list[list[int]], *, salient_rule: str = "mad", salient_param: float | None = 6.0,
            salient_target: float = 0.025, salient_calib: list[int] | None = None, seed: int = 0,
            layers: int | None = None, whole_model: bool = True, progress=None) -> Prepared:
    """A transformed, weight-quantized copy of ``model`` for recipe ``name`` (``model`` is kept).
    For ``spikequant`` with ``salient_param=None`` the rule's parameter is calibrated on the
    *transformed* float model so that ``salient_target`` of the linear inputs of
    ``salient_calib`` are salient (MAD: the multiplier k; ratio: the target itself). With
    ``layers`` only the first ``layers`` decoder layers get quantized weights (all an export of
    those layers depends on; the transforms always apply to the whole model); without
    ``whole_model`` the salient threshold and the activation clip are calibrated on those layers'
    inputs only (else on every layer's, as an evaluation of the whole model does).
    ``progress(stage, done, total)`` reports each stage as it goes."""
    plan = parse_recipe(name)
    if plan.base == "float":
        return Prepared(model, RecipeSpec(name, None), {}, [])
    report = progress or (lambda *_: None)

    def stage(what: str):
        return lambda done, total: report(what, done, total)
    scope = None if whole_model else layers  # the layers the calibrations read
    m = copy.deepcopy(model)
    hooks, rotation = _transform(m, plan, calib, seed, stage)
    k = salient_param
    samples: list[tuple[str, torch.Tensor]] = []
    if plan.base == "spikequant" and ((k is None and salient_rule != "ratio") or plan.salient_pow2):
        _inputs(m, [salient_calib or calib[0]], lambda n, x: samples.append((n, x)), scope,
                stage("calibration: salient threshold"))
    if plan.base == "spikequant" and k is None:
        k = salient_target if salient_rule == "ratio" else round(calibrate_mad_k([x for _, x in samples],
                                                                                salient_target), 4)
    # while the clip is searched, salient values get every shift they need (none clips)
    shift_max = MAX_SALIENT_SHIFT if plan.salient_pow2 else 0
    r = make_recipe(plan.base, salient_rule=salient_rule, salient_param=k or 0.0, salient_shift_max=shift_max).recipe
    hess: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    if plan.weights == "gptq":
        def acc(n, x):
            hess[n] = hess.get(n, 0) + 2 * x.double().T @ x.double()
            counts[n] = counts.get(n, 0) + x.shape[0]
        _inputs(m, calib, acc, layers, stage("calibration: GPTQ Hessians"))
    r, clips = _clip_search(m, plan, r, lambda want, what: _inputs(m, calib, want, scope, stage(what)))
    if plan.salient_pow2:
        needed = max(int(quantize_act_t(x, replace(r, act_clip=clips.get(n, r.act_clip)))[2].max()) for n, x in samples)
        r = replace(r, salient_shift_max=max(1, needed))
    by_clip = {c: replace(r, act_clip=c) for c in set(clips.values())}
    spec = RecipeSpec(name, r, (min(clips.values()), max(clips.values())) if clips else None)
    return Prepared(m, spec, _quantize_weights(m, plan, r.weight_bits, hess, counts, layers,
                                                              stage(f"weights ({plan.weights})")), hooks, rotation,
                    {n: by_clip[c] for n, c in clips.items()})


def _clip_search(m, plan, r: Recipe, feed) -> tuple[Recipe, dict[str, float]]:
    """The recipe with ``aclip``'s ratio, and ``oclip``'s ratio per linear (op name -> ratio);
    ``feed(want, stage name)`` runs the calibration text (:mod:`neurosim.export.act_clip`)."""
    if plan.act_clip_search:
        return replace(r, act_clip=uniform_clip(lambda want: feed(want, "calibration: activation clip "
                                                                  f"({len(ACT_CLIP_GRID)} candidates)"), r)), {}
    if plan.op_clip_search:
        weights = {n: lin.weight.data for n, lin in target_linears(m)}
        return r, op_clips(lambda want: feed(want, "calibration: activation clip per input "
                                             f"({len(OP_CLIP_GRID)} candidates)"), r, weights)
    return r, {}


def _transform(m, plan, calib: list[list[int]], seed: int, stage) -> tuple[list, dict | None]:
    """The recipe's float transforms of ``m`` in place (SmoothQuant scales, which every layer
    needs, rotations); returns the online-transform hooks and how a learned rotation was made."""
    if plan.smooth_alpha is not None:
        absmax: dict[str, torch.Tensor] = {}
        _inputs(m, calib, lambda n, x: absmax.__setitem__(n, torch.maximum(absmax.get(n, x.abs().amax(0)),
                                                                                x.abs().amax(0))), None,
                stage("calibration: SmoothQuant maxima (every layer)"))
        smooth(m, absmax, plan.smooth_alpha)
    if not plan.rotate:
        return [], None
    fold_norms(m)
    q, info = orthogonal(m.config.hidden_size, seed), None
    if plan.learned_rotation:
        def capture(windows: list[list[int]]) -> dict[str, torch.Tensor]:
            out: dict[str, torch.Tensor] = {}
            _inputs(m, windows, lambda n, x: out.__setitem__(n, x) if n.endswith(("q_proj", "gate_proj")) else None)
            return out
        q, info = rotation_for(m, make_recipe(plan.base).recipe, calib, q, seed, capture,
                               stage("calibration: learned rotation (Cayley SGD steps)"))
    rotate(m, q)
    rotate_heads(m)
    return online_hadamard(m, seed + 1), info


def _quantize_weights(m, plan, bits: int, hess: dict, counts: dict, layers: int | None,
                      tick) -> dict[str, torch.Tensor]:
    """Quantize the weights of ``m``'s linears in place (round to nearest, clip search or GPTQ);
    returns each linear's per-channel scales; ``tick(done, total)`` after each linear."""
    scales = {}
    linears = _linears(m, layers)
    with torch.no_grad():
        for i, (n, lin) in enumerate(linears, 1):
            w = lin.weight.data
            s = clip_search(w, bits) if plan.weight_clip else weight_scale(w, bits)
            lin.weight.data = gptq(w, hess[n] / counts[n], bits, scale=s) if plan.weights == "gptq" \
                else quantize_rows(w, s, bits)
            scales[n] = s.flatten().float()
            tick(i, len(linears))
    return scales
