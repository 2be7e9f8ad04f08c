"""``dispatch: event_queue``: address-event packets issued R per cycle; each nonzero code's
weight row (or each spike's, ``weight_reads: per_spike``) is read from the banked weight SRAM,
so there are no PE weight loads but one row read per code."""

from __future__ import annotations

import numpy as np

from neurosim.engine.dispatch.base import SCHEMES, DispatchScheme, Walks
from neurosim.kernels.acc_tile import NONZERO, SPIKES


@SCHEMES.register("event_queue")
class EventQueue(DispatchScheme):
    """Address-event dispatch with weight rows read per code (or per spike)."""

    event_queue = True
    loads_weight_tiles = False

    @classmethod
    def energies(cls, spec, table) -> dict[str, float]:
        """An event (its K index at the side store's index width, a sign bit, and with bitplane a
        3-bit plane tag) written into and read out of the queue's registers."""
        event_bits = spec.spike_memory.salient.index_bits + 1 + (3 if spec.array.encoding == "bitplane" else 0)
        return {"event_queue.push": table["register_bit"] * event_bits,
                "event_queue.pop": table["register_bit"] * event_bits}

    def count_traffic(self, model, plan, walks: Walks, Kb: int, Nb: int) -> tuple[dict[str, np.ndarray], int]:
        spec, wsram = model.chip.spec, model.chip.srams["weight_sram"]
        which = NONZERO if spec.array.weight_reads == "per_code" else SPIKES
        rows = int(walks.totals[:, which].sum())
        for v in range(2):
            wsram.reads += int(plan.mult[v]) * rows * int(plan.words_per_event[v])
            wsram.read_bits += int(plan.mult[v]) * rows * plan.widths[v] * spec.array.weight_bits
        return {}, 0
