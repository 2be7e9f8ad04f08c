"""The quantization recipe, shared by the synthetic generator and the exporter.

Activations: per-token symmetric; the normal step is set by the largest *normal* value so that
normal codes fill ``±(2^(act_bits-1)-1)``; salient values (chosen per token by a MAD rule or a
target ratio) keep the same step and get up to ``salient_bits``; with a power-of-two salient
step (``salient_shift_max > 0``) each salient value is instead put on the finest step
``normal step x 2^s``, ``0 <= s <= salient_shift_max``, that holds it in ``salient_bits``
(values beyond the coarsest step clip). Weights: per-output-channel symmetric. Codes are signed
int8; spike count = |code|; value = code x scale x 2^shift.
"""

from __future__ import annotations

import numpy as np


def qmax(bits: int) -> int:
    """Largest magnitude of a symmetric signed ``bits``-bit code."""
    return (1 << (bits - 1)) - 1


def salient_mask(x: np.ndarray, rule: str, param: float) -> np.ndarray:
    """Boolean mask of salient entries of ``x`` [M, K], chosen independently per token (row).

    ``mad``: ``|x - median| > param * MAD``; ``ratio``: the ``ceil(param * K)`` entries with the
    largest ``|x - median|``; ``none``: nothing is salient.
    """
    if rule == "none":
        return np.zeros(x.shape, dtype=bool)
    dev = np.abs(x - np.median(x, axis=1, keepdims=True))
    if rule == "mad":
        mad = np.median(dev, axis=1, keepdims=True)
        return dev > param * mad
    if rule == "ratio":
        k = int(np.ceil(param * x.shape[1]))
        if k <= 0:
            return np.zeros(x.shape, dtype=bool)
        cut = np.partition(dev, x.shape[1] - k, axis=1)[:, x.shape[1] - k: x.shape[1] - k + 1]
        return dev >= cut
    raise ValueError(f"unknown salient rule {rule!r}")


def quantize_activations(x: np.ndarray, act_bits: int, salient_bits: int, rule: str, param: float,
                         act_clip: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-token codes (int8 [M, K]) and scales (float32 [M]) of activations ``x`` [M, K], salient
    codes on the normal step. With ``act_clip < 1`` the normal step shrinks and normal values
    beyond it clip to the normal range."""
    codes, scale, _ = quantize_shifted(x, act_bits, salient_bits, rule, param, act_clip, 0)
    return codes, scale


def quantize_shifted(x: np.ndarray, act_bits: int, salient_bits: int, rule: str, param: float,
                     act_clip: float, shift_max: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes (int8 [M, K]), scales (float32 [M]) and per-entry shifts (int8 [M, K], zero on normal
    entries) of ``x`` [M, K]; see the module docstring. ``shift_max = 0``: every shift is zero."""
    x = np.asarray(x, dtype=np.float32)
    sal = salient_mask(x, rule, param) if salient_bits > act_bits else np.zeros(x.shape, dtype=bool)
    normal_abs = np.where(sal, 0.0, np.abs(x)).max(axis=1)
    scale = (np.float32(act_clip) * normal_abs / np.float32(qmax(act_bits))).astype(np.float32)
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    v = x / scale[:, None]
    top = qmax(max(act_bits, salient_bits))
    shift = np.zeros(x.shape, dtype=np.int8)
    for _ in range(shift_max):  # dividing by a power of two is exact: the torch recipe matches bit for bit
        grow = sal & (np.rint(np.abs(v) / np.exp2(shift, dtype=np.float32)) > top)
        if not grow.any():
            break
        shift += grow
    limit = np.where(sal, top, qmax(act_bits))
    codes = np.clip(np.rint(v / np.exp2(shift, dtype=np.float32)), -limit, limit).astype(np.int8)
    return codes, scale, shift


def quantize_weights(w: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel symmetric codes (int8 [K, N]) and scales (float32 [N]) of ``w`` [K, N]."""
    w = np.asarray(w, dtype=np.float32)
    scale = np.abs(w).max(axis=0) / qmax(bits)
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    codes = np.clip(np.rint(w / scale[None, :]), -qmax(bits), qmax(bits)).astype(np.int8)
    return codes, scale
