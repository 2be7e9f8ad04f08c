"""A learned residual rotation (the ``spin`` recipe modifier, SpinQuant-style): the orthogonal
``R`` that :func:`neurosim.export.transforms.rotate` fuses into the weights, optimised on the
Stiefel manifold by Cayley SGD (Li, Li & Todorovic, ICLR 2020; SpinQuant, Liu et al. 2024)
with the recipe's quantizers in the loop, starting from the fixed randomized Hadamard.

Objective (layer-wise, so that no backward pass through the whole model is needed): over every
decoder layer's residual-reading linears (q/k/v on the attention input, gate/up on the MLP
input, whose inputs ``X`` a calibration pass captures once), the relative error of the
quantized product ``Q_a(X R) Q_w(W R)^T`` against ``X W^T``, plus the relative weight error of
the residual-writing linears (o_proj, down_proj: ``R^T W``). Quantizers are the recipe's (the
activation kernel of :mod:`neurosim.kernels.act_quant`, per-channel weights), with straight-
through gradients. The Cayley step ``R <- (I + a/2 A)^-1 (I - a/2 A) R``, ``A = G R^T - R G^T``,
keeps ``R`` orthogonal; the best ``R`` seen is kept (so never worse than the start on the
objective).

Learned rotations are cached (``NEUROSIM_CACHE``, default ``~/.cache/neurosim``, under
``rotations/``) by the model's weights, the calibration tokens, the recipe and the settings:
later exports and evaluations of the same model reuse them. Written by hand: no library learns
rotations for a HuggingFace model on CPU (SpinQuant's code needs CUDA and its own LLaMA fork).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from neurosim.export.recipes import quantize_act_t
from neurosim.trace.manifest import Recipe

#: Cayley SGD settings: steps, step size (on the gradient scaled to unit norm), rows per layer.
STEPS, LR, ROWS = 60, 0.5, 256


def cache_dir() -> Path:
    """Where learned rotations are kept."""
    return Path(os.environ.get("NEUROSIM_CACHE") or Path.home() / ".cache" / "neurosim") / "rotations"


def _ste_act(x: torch.Tensor, r: Recipe) -> torch.Tensor:
    """The recipe's activation quantizer (codes from :func:`quantize_act_t`), rounding passed
    straight through and the per-token step differentiable (it is the largest normal value:
    the gradient reaches the outliers that set it)."""
    codes, _, shift = quantize_act_t(x.detach(), r)
    normal = ~((codes.abs() > r.normal_max) | (shift > 0))
    step = r.act_clip * (x.abs() * normal).amax(dim=-1, keepdim=True).clamp_min(1e-30) / r.normal_max
    step = step * torch.exp2(shift)
    return step * (x / step + (codes - x / step).detach())


def _ste_weight(w: torch.Tensor, bits: int) -> torch.Tensor:
    """Per-output-channel weights: rounding straight through, the step (the row's largest
    weight) differentiable."""
    qmax = (1 << (bits - 1)) - 1
    step = w.abs().amax(dim=1, keepdim=True).clamp_min(1e-30) / qmax
    return step * (w / step + (torch.clamp(torch.round(w / step), -qmax, qmax) - w / step).detach())


class Objective:
    """The layer-wise quantization error of a residual rotation (see the module docstring):
    ``groups`` is per layer a list of (inputs ``X`` [n, d], reading weights ``W`` [out, d]), and
    ``writes`` the residual-writing weights [d, in]."""

    def __init__(self, groups: list[tuple[torch.Tensor, torch.Tensor]], writes: list[torch.Tensor], r: Recipe):
        self.groups, self.writes, self.r = groups, writes, r
        self.ref = [(x @ w.T).pow(2).sum() for x, w in groups]

    def __call__(self, rot: torch.Tensor) -> torch.Tensor:
        loss = rot.new_zeros(())
        for (x, w), ref in zip(self.groups, self.ref, strict=True):
            y = _ste_act(x @ rot, self.r) @ _ste_weight(w @ rot, self.r.weight_bits).T
            loss = loss + (y - x @ w.T).pow(2).sum() / ref
        for w in self.writes:
            rw = rot.T @ w
            loss = loss + (_ste_weight(rw, self.r.weight_bits) - rw).pow(2).sum() / w.pow(2).sum()
        return loss / (len(self.groups) + len(self.writes))


def cayley_step(rot: torch.Tensor, grad: torch.Tensor, lr: float) -> torch.Tensor:
    """One Cayley SGD step on the orthogonal group (float64): stays orthogonal."""
    a = grad @ rot.T - rot @ grad.T
    eye = torch.eye(rot.shape[0], dtype=rot.dtype)
    return torch.linalg.solve(eye + lr / 2 * a, (eye - lr / 2 * a) @ rot)


def learn(objective: Objective, start: torch.Tensor, steps: int = STEPS, lr: float = LR,
          progress=None) -> tuple[torch.Tensor, list[float]]:
    """Cayley SGD from ``start`` (float64, orthogonal); (the best rotation, the loss per step)."""
    rot, best, losses = start.clone(), start.clone(), []
    for i in range(steps + 1):
        r32 = rot.float().requires_grad_(True)
        loss = objective(r32)
        losses.append(float(loss.detach()))
        if losses[-1] <= min(losses):
            best = rot.clone()
        if i == steps:
            break
        (g,) = torch.autograd.grad(loss, r32)
        g = g.double()
        rot = cayley_step(rot, g / g.norm().clamp_min(1e-30), lr)
        if progress:
            progress(i + 1, steps)
    return best, losses


def objective_for(model, inputs: dict[str, torch.Tensor], r: Recipe) -> Objective:
    """The objective of ``model`` (norms folded, not yet rotated) with each linear's captured
    inputs (``layers.i.self_attn.q_proj`` -> [n, d], ``layers.i.mlp.gate_proj`` -> [n, d])."""
    groups, writes = [], []
    with torch.no_grad():
        for i, layer in enumerate(model.model.layers):
            a, m = layer.self_attn, layer.mlp
            for name, lins in (("self_attn.q_proj", (a.q_proj, a.k_proj, a.v_proj)), ("mlp.gate_proj", (m.gate_proj, m.up_proj))):
                x = inputs[f"layers.{i}.{name}"].float()
                groups.append((x, torch.cat([lin.weight.float() for lin in lins])))
            writes += [a.o_proj.weight.float().clone(), m.down_proj.weight.float().clone()]
    return Objective(groups, writes, r)


def cache_key(model, calib: list[list[int]], r: Recipe, seed: int) -> str:
    """The model's weights (embedding and every linear), the calibration tokens, the recipe and
    the optimiser's settings."""
    h = hashlib.sha256(json.dumps([calib, repr(r), seed, STEPS, LR, ROWS]).encode())
    for p in model.parameters():
        h.update(p.detach().float().numpy().tobytes())
    return h.hexdigest()[:32]


def rotation_for(model, r: Recipe, calib: list[list[int]], start: torch.Tensor, seed: int, capture,
                 progress=None) -> tuple[torch.Tensor, dict]:
    """The learned rotation of ``model`` (norms folded, not rotated) for recipe ``r``, from the
    cache or learned on the first calibration window (``capture(windows)``: each residual-reading
    linear's inputs by name); and what to record of it."""
    key = cache_key(model, calib[:1], r, seed)
    path = cache_dir() / f"{key}.pt"
    if path.is_file():
        saved = torch.load(path, weights_only=True)
        return saved["rotation"], {**json.loads(saved["info"]), "cached": True}
    inputs = capture(calib[:1])
    gen = torch.Generator().manual_seed(seed)
    inputs = {n: x[torch.randperm(len(x), generator=gen)[:ROWS]] for n, x in inputs.items()}
    rot, losses = learn(objective_for(model, inputs, r), start, progress=progress)
    info = {"method": "Cayley SGD on the layer-wise quantization error (neurosim.export.learned_rotation)",
            "steps": STEPS, "lr": LR, "rows_per_layer": ROWS, "loss_start": losses[0], "loss_best": min(losses),
            "key": key}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save({"rotation": rot, "info": json.dumps(info)}, tmp)
    os.replace(tmp, path)
    return rot, {**info, "cached": False}
