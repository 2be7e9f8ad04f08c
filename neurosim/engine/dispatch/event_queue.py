"""``dispatch: event_queue``: address-event packets issued R per cycle; each nonzero code's
weight row (or each spike's, ``weight_reads: per_spike``) is read from the banked weight SRAM,
so there are no PE weight loads but one row read per code."""

from __future__ import annotations

from neurosim.engine.dispatch.base import DispatchScheme, Walk
from neurosim.kernels.acc_tile import NONZERO, SPIKES


class EventQueue(DispatchScheme):
    """Address-event dispatch with weight rows read per code (or per spike)."""

    event_queue = True
    loads_weight_tiles = False

    def count_traffic(self, model, plan, walk: Walk, Kb: int, Nb: int) -> tuple[dict[str, int], int]:
        spec, wsram = model.chip.spec, model.chip.srams["weight_sram"]
        rows = int(walk.totals[NONZERO]) if spec.array.weight_reads == "per_code" else int(walk.totals[SPIKES])
        for v in range(2):
            wsram.reads += int(plan.mult[v]) * rows * int(plan.words_per_event[v])
            wsram.read_bits += int(plan.mult[v]) * rows * plan.widths[v] * spec.array.weight_bits
        return {}, 0
