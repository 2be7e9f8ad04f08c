"""``dispatch: time_stepped``: the lanes of a step run in lockstep; a step lasts its busiest lane
(count encoding) or its bit planes (bitplane). Weight sub-tiles are loaded into the PE registers
before their tokens stream, not overlapped (the ``weight_tile_load`` stall)."""

from __future__ import annotations

from neurosim.engine.dispatch.base import DispatchScheme, Walk


class TimeStepped(DispatchScheme):
    """Lockstep lanes, weight-stationary PE registers."""

    def count_traffic(self, model, plan, walk: Walk, Kb: int, Nb: int) -> tuple[dict[str, int], int]:
        return {"weight_tile_load": plan.load_cyc}, plan.groups * Kb * Nb * model.chip.spec.array.weight_bits
