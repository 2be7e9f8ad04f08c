"""``dispatch: time_stepped`` with ``lane_skew: W > 0``: per-lane spike FIFOs let a lane run up to
W steps ahead of the slowest (:mod:`neurosim.kernels.lane_skew`). Spike totals as in lockstep;
the time and the column's membrane writes from the windowed schedule; the FIFO writes counted."""

from __future__ import annotations

import numpy as np

from neurosim.engine.dispatch.base import SCHEMES, Walk
from neurosim.engine.dispatch.time_stepped import TimeStepped
from neurosim.kernels.lane_skew import skew_block_kernel


@SCHEMES.register("decoupled")
class Decoupled(TimeStepped):
    """Time-stepped lanes decoupled by W-entry spike FIFOs."""

    def walk(self, model, codes, plan, first_k: bool, last_k: bool) -> Walk:
        codes = np.ascontiguousarray(codes)
        spec, srams = model.chip.spec, model.chip.srams
        totals = super().walk(model, codes, plan, first_k, last_k).totals
        per_v, writes = skew_block_kernel(
            codes, model.R, spec.array.lane_skew, model.recipe.normal_max, spec.spike_memory.dense.code_bits,
            srams["spike_dense"].bw_bits_per_cycle, model.entry_bits, srams["spike_salient"].bw_bits_per_cycle,
            plan.mem_cyc, first_k, last_k, model.chip.side is not None)
        return Walk(per_v, totals, int(writes))

    @classmethod
    def energies(cls, spec, table) -> dict[str, float]:
        """The lanes' spike FIFOs: register bits written."""
        return {"array.fifo_bits": table["register_bit"]}

    def count_traffic(self, model, plan, walks: list[Walk], Kb: int, Nb: int) -> tuple[dict[str, np.ndarray], int]:
        model.chip.array.fifo_bits += len(walks) * plan.n_sub * plan.tokens * Kb * \
            model.chip.spec.spike_memory.salient.code_bits
        return super().count_traffic(model, plan, walks, Kb, Nb)
