"""Function-preserving model transforms that make activations and weights easier to quantize.

- :func:`fold_norms`: each RMSNorm's gain is folded into the linears it feeds (their input
  columns); the gains become 1 (``lm_head`` is untied from the embedding first).
- :func:`rotate`: QuaRot-style orthogonal rotation ``Q`` of the residual stream, fused into the
  weights: the embedding and every linear reading the residual (q/k/v, gate/up, lm_head) take
  ``W Q``, every linear writing it (o_proj, down_proj) ``Q^T W``. With folded (unit) gains RMSNorm
  commutes with ``Q``, so the float model computes the same logits; outliers are spread over
  all channels.
- :func:`rotate_heads`: a Hadamard rotation of each attention head's values, fused into v_proj's
  output rows and o_proj's input columns (no online work: softmax mixes tokens, not channels).
- :func:`online_hadamard`: an orthogonal ``H`` applied to down_proj's input at run time (a hook:
  real work on the chip, ``K log2 K`` adds per token for a Hadamard) and fused into its weight.
- :func:`smooth`: SmoothQuant migration ``X / s``, ``W x s`` with
  ``s_j = max|X_j|^alpha / max|W_j|^(1 - alpha)``, folded into the preceding RMSNorm gain (q/k/v,
  gate/up) or up_proj's output rows (down_proj).

``orthogonal(d)`` is a randomized Hadamard matrix when ``d`` is a power of two, else the Kronecker
product of a Hadamard matrix (the largest power of two dividing ``d``) with a random orthogonal
matrix of the rest (576 = 64 x 9), times random signs.
"""

from __future__ import annotations

import torch


def hadamard(n: int) -> torch.Tensor:
    """The n x n Sylvester Hadamard matrix scaled to be orthogonal (n a power of two)."""
    h = torch.ones(1, 1, dtype=torch.float64)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h / h.shape[0] ** 0.5


def orthogonal(d: int, seed: int = 0) -> torch.Tensor:
    """A d x d orthogonal matrix (float64): randomized Hadamard, or Hadamard x random orthogonal."""
    g = torch.Generator().manual_seed(seed)
    p = d & -d  # the largest power of two dividing d
    m = d // p
    q = hadamard(p)
    if m > 1:
        r, _ = torch.linalg.qr(torch.randn(m, m, generator=g, dtype=torch.float64))
        q = torch.kron(q.contiguous(), r.contiguous())
    signs = torch.randint(0, 2, (d,), generator=g).to(torch.float64) * 2 - 1
    return signs[:, None] * q


def _linears(layer):
    a, m = layer.self_attn, layer.mlp
    return (a.q_proj, a.k_proj, a.v_proj), a.o_proj, (m.gate_proj, m.up_proj), m.down_proj


@torch.no_grad()
def fold_norms(model) -> None:
    """Fold every RMSNorm gain into the following linears' input columns; gains become 1."""
    if model.lm_head.weight is model.model.embed_tokens.weight:
        model.lm_head.weight = torch.nn.Parameter(model.lm_head.weight.detach().clone())
    for layer in model.model.layers:
        qkv, _, gate_up, _ = _linears(layer)
        for norm, lins in ((layer.input_layernorm, qkv), (layer.post_attention_layernorm, gate_up)):
            for lin in lins:
                lin.weight.mul_(norm.weight[None, :])
            norm.weight.fill_(1.0)
    model.lm_head.weight.mul_(model.model.norm.weight[None, :])
    model.model.norm.weight.fill_(1.0)


def _right(lin, q: torch.Tensor) -> None:
    lin.weight.copy_(lin.weight @ q.float())  # fp32 products: errors far below fp32 model tolerance


@torch.no_grad()
def rotate(model, q: torch.Tensor) -> None:
    """Rotate the residual stream by ``q`` (d x d orthogonal); needs :func:`fold_norms` first."""
    qf = q.float()
    emb = model.model.embed_tokens
    emb.weight.copy_(emb.weight @ qf)
    for layer in model.model.layers:
        qkv, o, gate_up, down = _linears(layer)
        for lin in (*qkv, *gate_up):
            _right(lin, q)
        for lin in (o, down):
            lin.weight.copy_(qf.T @ lin.weight)
            if lin.bias is not None:
                lin.bias.copy_(lin.bias @ qf)
    _right(model.lm_head, q)


@torch.no_grad()
def rotate_heads(model) -> None:
    """Rotate every value head by a Hadamard matrix, fused into v_proj and o_proj."""
    cfg = model.config
    d = cfg.hidden_size // cfg.num_attention_heads
    h = hadamard(d)
    for layer in model.model.layers:
        v, o = layer.self_attn.v_proj, layer.self_attn.o_proj
        wv, wo = v.weight.double().clone(), o.weight.double().clone()
        for kv in range(cfg.num_key_value_heads):
            wv[kv * d:(kv + 1) * d] = h.T @ wv[kv * d:(kv + 1) * d]
        for head in range(cfg.num_attention_heads):
            wo[:, head * d:(head + 1) * d] = wo[:, head * d:(head + 1) * d] @ h
        v.weight.copy_(wv.float())
        o.weight.copy_(wo.float())
        if v.bias is not None:
            bv = v.bias.double()
            for kv in range(cfg.num_key_value_heads):
                bv[kv * d:(kv + 1) * d] = bv[kv * d:(kv + 1) * d] @ h
            v.bias.copy_(bv.float())


@torch.no_grad()
def online_hadamard(model, seed: int = 1) -> list:
    """Transform down_proj's input by an orthogonal H at run time (forward pre-hooks, returned)
    and fuse H into its weight; the float model is unchanged."""
    handles = []
    hf = orthogonal(model.config.intermediate_size, seed).float()
    for layer in model.model.layers:
        down = layer.mlp.down_proj
        _right(down, hf)
        handles.append(down.register_forward_pre_hook(lambda m, args: (args[0] @ hf, *args[1:])))
    return handles


@torch.no_grad()
def smooth(model, act_absmax: dict[str, torch.Tensor], alpha: float) -> None:
    """SmoothQuant with migration strength ``alpha``; ``act_absmax`` maps ``layers.i.<linear>``
    to the per-channel max |input| on calibration text."""
    for i, layer in enumerate(model.model.layers):
        qkv, _, gate_up, down = _linears(layer)
        for norm, lins, name in ((layer.input_layernorm, qkv, "self_attn.q_proj"),
                                 (layer.post_attention_layernorm, gate_up, "mlp.gate_proj")):
            s = _scales(act_absmax[f"layers.{i}.{name}"], torch.stack([lin.weight.abs().amax(0) for lin in lins]).amax(0),
                        alpha)
            norm.weight.div_(s)
            for lin in lins:
                lin.weight.mul_(s[None, :])
        s = _scales(act_absmax[f"layers.{i}.mlp.down_proj"], down.weight.abs().amax(0), alpha)
        up = layer.mlp.up_proj
        up.weight.div_(s[:, None])
        down.weight.mul_(s[None, :])


def _scales(x_max: torch.Tensor, w_max: torch.Tensor, alpha: float) -> torch.Tensor:
    s = x_max.clamp_min(1e-5) ** alpha / w_max.clamp_min(1e-5) ** (1 - alpha)
    return s.clamp_min(1e-5)
