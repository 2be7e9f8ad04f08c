"""``dispatch: time_stepped``: the lanes of a step run in lockstep; a step lasts its busiest lane
(count encoding) or its bit planes (bitplane). Weight sub-tiles are loaded into the PE registers
before their tokens stream (the ``weight_tile_load`` stall); with ``weight_buffers: 2`` each
load overlaps the previous sub-tile's steps and only its excess stalls."""

from __future__ import annotations

import numpy as np

from neurosim.engine.dispatch.base import SCHEMES, DispatchScheme, Walks


@SCHEMES.register("time_stepped")
class TimeStepped(DispatchScheme):
    """Lockstep lanes, weight-stationary PE registers."""

    def count_traffic(self, model, plan, walks: Walks, Kb: int, Nb: int) -> tuple[dict[str, np.ndarray], int]:
        bits = len(walks) * plan.groups * Kb * Nb * model.chip.spec.array.weight_bits
        if model.chip.spec.array.weight_buffers == 1:
            return {"weight_tile_load": np.full(len(walks), plan.load_cyc, np.int64)}, bits
        return {"weight_tile_load": exposed_loads(plan.load_kt, plan.mult, walks.busy_by_group)}, bits


def exposed_loads(load_kt: np.ndarray, mult: np.ndarray, busy: np.ndarray) -> np.ndarray:
    """Stall cycles of double-buffered weight sub-tile loads, per tile (``busy[t, v, group, kt]``:
    tile t's steps): per token group, N sub-tiles (full, then partial) outer, K sub-tiles inner,
    each sub-tile's load (``load_kt[v, kt]``) runs while the previous one's steps stream; the
    first load and every load's excess over the steps before it stall the array."""
    order = [(g, v) for g in range(busy.shape[2]) for v in range(2) for _ in range(int(mult[v]))]
    if not order:
        return np.zeros(busy.shape[0], np.int64)
    groups, variants = (np.array(a, np.int64) for a in zip(*order, strict=True))
    loads = load_kt[variants].reshape(-1)
    steps = busy[:, variants, groups].reshape(busy.shape[0], -1)
    return loads[0] + np.maximum(loads[None, 1:] - steps[:, :-1], 0).sum(axis=1)
