"""GPTQ weight quantization (Frantar et al., ICLR 2023): quantize a linear layer's weight one
input column at a time, each time spreading the rounding error over the columns not yet
quantized through the inverse Hessian of the layer's inputs (``H = 2 X^T X / n`` from
calibration text), with act-order (columns by decreasing ``H_ii``), damping ``percdamp x
mean(diag H)`` and lazy batched updates over blocks of columns. The grid is the same symmetric
per-output-channel ``bits`` grid as round-to-nearest (:func:`weight_scale`), so the codes are
the trace's weight codes."""

from __future__ import annotations

import torch


def weight_scale(w: torch.Tensor, bits: int, clip: float = 1.0) -> torch.Tensor:
    """Per-output-channel step of ``w`` [N, K]: ``clip x max|w_row| / (2^(bits-1) - 1)``."""
    qmax = (1 << (bits - 1)) - 1
    s = clip * w.abs().amax(dim=1, keepdim=True) / qmax
    return torch.where(s > 0, s, torch.ones_like(s))


def quantize_rows(w: torch.Tensor, scale: torch.Tensor, bits: int) -> torch.Tensor:
    """Round ``w`` to its grid and back (fake quantization)."""
    qmax = (1 << (bits - 1)) - 1
    return torch.clamp(torch.round(w / scale), -qmax, qmax) * scale


def clip_search(w: torch.Tensor, bits: int, grid=(1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7)) -> torch.Tensor:
    """Per output channel, the clip ratio of the step that minimises the squared rounding error."""
    best_err = torch.full((w.shape[0], 1), float("inf"), dtype=w.dtype)
    best = torch.ones_like(best_err)
    for c in grid:
        s = weight_scale(w, bits, c)
        err = ((quantize_rows(w, s, bits) - w) ** 2).sum(dim=1, keepdim=True)
        better = err < best_err
        best_err = torch.where(better, err, best_err)
        best = torch.where(better, torch.full_like(best, c), best)
    return weight_scale(w, bits) * best


def gptq(w: torch.Tensor, h: torch.Tensor, bits: int, *, scale: torch.Tensor | None = None, percdamp: float = 0.01,
         blocksize: int = 128, act_order: bool = True) -> torch.Tensor:
    """The GPTQ-quantized (fake-quantized) ``w`` [N, K] given the input Hessian ``h`` [K, K]."""
    w = w.detach().double().clone()
    h = h.detach().double().clone()
    scale = (weight_scale(w, bits) if scale is None else scale).double()
    dead = torch.diag(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    perm = torch.argsort(torch.diag(h), descending=True) if act_order else torch.arange(w.shape[1])
    w, h = w[:, perm], h[perm][:, perm]
    h += torch.eye(h.shape[0], dtype=h.dtype) * percdamp * torch.mean(torch.diag(h))
    hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    q = torch.zeros_like(w)
    for i1 in range(0, w.shape[1], blocksize):
        i2 = min(i1 + blocksize, w.shape[1])
        w1, hinv1 = w[:, i1:i2].clone(), hinv[i1:i2, i1:i2]
        err1 = torch.zeros_like(w1)
        for i in range(i2 - i1):
            col = w1[:, i:i + 1]
            qc = quantize_rows(col, scale, bits)
            q[:, i1 + i:i1 + i + 1] = qc
            e = (col - qc) / hinv1[i, i]
            w1[:, i:] -= e @ hinv1[i:i + 1, i:]
            err1[:, i:i + 1] = e
        w[:, i2:] -= err1 @ hinv[i1:i2, i2:]
    out = torch.empty_like(q)
    out[:, perm] = q
    return out.float()
