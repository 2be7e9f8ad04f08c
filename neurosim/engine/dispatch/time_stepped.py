"""``dispatch: time_stepped``: the lanes of a step run in lockstep; a step lasts its busiest lane
(count encoding) or its bit planes (bitplane). Weight sub-tiles are loaded into the PE registers
before their tokens stream (the ``weight_tile_load`` stall); with ``weight_buffers: 2`` each
load overlaps the previous sub-tile's steps and only its excess stalls."""

from __future__ import annotations

import numpy as np

from neurosim.engine.dispatch.base import SCHEMES, DispatchScheme, Walk


@SCHEMES.register("time_stepped")
class TimeStepped(DispatchScheme):
    """Lockstep lanes, weight-stationary PE registers."""

    def count_traffic(self, model, plan, walk: Walk, Kb: int, Nb: int) -> tuple[dict[str, int], int]:
        bits = plan.groups * Kb * Nb * model.chip.spec.array.weight_bits
        if model.chip.spec.array.weight_buffers == 1:
            return {"weight_tile_load": plan.load_cyc}, bits
        return {"weight_tile_load": exposed_loads(plan.load_kt, plan.mult, walk.busy_by_group)}, bits


def exposed_loads(load_kt: np.ndarray, mult: np.ndarray, busy: np.ndarray) -> int:
    """Stall cycles of double-buffered weight sub-tile loads: per token group, N sub-tiles (full,
    then partial) outer, K sub-tiles inner, each sub-tile's load (``load_kt[v, kt]``) runs while
    the previous one's steps (``busy[v, group, kt]``) stream; the first load and every load's
    excess over the steps before it stall the array."""
    loads, steps = [], []
    for g in range(busy.shape[1]):
        for v in range(2):
            for _ in range(int(mult[v])):
                loads.append(load_kt[v])
                steps.append(busy[v, g])
    if not loads:
        return 0
    L, B = np.concatenate(loads), np.concatenate(steps)
    return int(L[0] + np.maximum(L[1:] - B[:-1], 0).sum())
