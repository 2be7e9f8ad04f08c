"""Activation clip searches on calibration text: the ``aclip`` and ``oclip`` recipe modifiers.

The clip ratio ``c`` shrinks a token's normal step to ``c x max|normal value| / qmax``: values
beyond it clip, the rest round more finely. Both searches pick, from a grid, the ratio with the
least squared error; they differ in what is shared and what error counts:

- ``aclip`` (:func:`uniform_clip`): one ratio for every linear input, by the inputs' own
  quantization error summed over all of them (as QuaRot's single ``--a_clip_ratio``).
- ``oclip`` (:func:`op_clips`): one ratio per linear input, by the error it makes in the outputs
  of the linears that read it, ``||(Q(X) - X) W^T||^2`` summed over them (q/k/v read one input,
  gate/up another: each such group has one ratio, as it has one set of codes in a trace). The
  output error weighs each input channel by what the layer makes of it. On SmolLM2-135M at W4A4
  (``w4a4+spin+gptq+wclip``, 4 WikiText-2 windows, float 23.08) the inputs' best ratios differ by
  class (q/k/v and gate/up 0.8, o 0.7-0.85, down 0.7 but 0.95-1.0 in the three layers of large
  outliers); one ratio for all gave 48.10, this search 45.20 (``neurosim eval --windows 4``), and
  in a first experiment a ratio per input by its own (input) error 45.62 against 45.33 by the
  output error.

The errors are computed by the recipe's own quantizer (:func:`neurosim.export.recipes.clip_deltas_t`),
with the weights as they are when the search runs (float: before weight quantization).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from neurosim.export.recipes import clip_deltas_t, clip_errors_t
from neurosim.trace.manifest import Recipe

#: ``aclip``'s candidates (one ratio for all inputs).
ACT_CLIP_GRID = (1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7)
#: ``oclip``'s candidates (a ratio per input): down_proj's inputs chose 0.7 on SmolLM2, the old
#: grid's edge; 0.65 and 0.6 were chosen by none, so the grid holds the optimum inside it.
OP_CLIP_GRID = (1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6)

#: ``feed(want)`` runs the calibration text, calling ``want(linear name, its input [n, K])`` for
#: every linear in execution order (the linears that read one tensor get views of its data).
Feed = Callable[[Callable[[str, torch.Tensor], None]], None]


def _same(a: torch.Tensor | None, b: torch.Tensor) -> bool:
    return a is not None and a.data_ptr() == b.data_ptr() and a.shape == b.shape and torch.equal(a, b)


def uniform_clip(feed: Feed, r: Recipe) -> float:
    """``aclip``: the ratio of :data:`ACT_CLIP_GRID` with the least squared error of every linear
    input's quantization, summed (an input read by several linears counts once per reader)."""
    err = dict.fromkeys(ACT_CLIP_GRID, 0.0)
    last: list = [None, None]

    def want(_, x):
        if not _same(last[0], x):
            last[:] = x, clip_errors_t(x, r, ACT_CLIP_GRID)
        for c, e in zip(ACT_CLIP_GRID, last[1], strict=True):
            err[c] += e
    feed(want)
    return min(err, key=err.get)


def op_clips(feed: Feed, r: Recipe, weights: dict[str, torch.Tensor]) -> dict[str, float]:
    """``oclip``: each linear's ratio (of :data:`OP_CLIP_GRID`), the one with the least squared
    output error summed over the linears that read the same input (``weights``: each linear's
    ``[out, in]`` weight by name); linears reading one input get one ratio."""
    err: dict[str, torch.Tensor] = {}  # the group's first reader -> error per candidate
    group: dict[str, str] = {}  # linear -> its group's first reader
    last: list = [None, None, None]  # the input, its first reader, its deltas per candidate

    def want(name, x):
        if not _same(last[0], x):
            last[:] = x, name, clip_deltas_t(x, r, OP_CLIP_GRID)
        w = weights[name].float()
        e = torch.tensor([float(((d @ w.T) ** 2).sum()) for d in last[2]], dtype=torch.float64)
        group[name] = last[1]
        err[last[1]] = err.get(last[1], 0) + e
    feed(want)
    return {name: OP_CLIP_GRID[int(torch.argmin(err[first]))] for name, first in group.items()}
