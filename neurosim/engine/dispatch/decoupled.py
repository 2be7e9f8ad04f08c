"""``dispatch: time_stepped`` with ``lane_skew: W > 0``: per-lane spike FIFOs let a lane run up to
W steps ahead of the slowest (:mod:`neurosim.kernels.lane_skew`). Spike totals as in lockstep;
the time and the column's membrane writes from the windowed schedule; the FIFO writes counted."""

from __future__ import annotations

import numpy as np

from neurosim.engine.dispatch.base import SCHEMES, Walks
from neurosim.engine.dispatch.time_stepped import TimeStepped
from neurosim.kernels.acc_tile import N_COLS
from neurosim.kernels.lane_skew import skew_block_kernel


@SCHEMES.register("decoupled")
class Decoupled(TimeStepped):
    """Time-stepped lanes decoupled by W-entry spike FIFOs."""

    def walk(self, model, ms: np.ndarray, ks: np.ndarray, shape: tuple[int, int], plan, first_k: bool,
             last_k: bool, tiling) -> Walks:
        spec, srams = model.chip.spec, model.chip.srams
        totals = super().walk(model, ms, ks, shape, plan, first_k, last_k, tiling).totals
        per_v = np.zeros((len(ms), 2, N_COLS), np.int64)
        writes = np.zeros(len(ms), np.int64)
        for b, (mi, ki) in enumerate(zip(ms.tolist(), ks.tolist(), strict=True)):  # a block's copy, as the kernel takes it
            m0, k0 = mi * tiling.Mb, ki * tiling.Kb
            codes = np.ascontiguousarray(model.codes[m0:m0 + shape[0], k0:k0 + shape[1]])
            per_v[b], writes[b] = skew_block_kernel(
                codes, model.R, spec.array.lane_skew, model.recipe.normal_max, spec.spike_memory.dense.code_bits,
                srams["spike_dense"].bw_bits_per_cycle, model.entry_bits, srams["spike_salient"].bw_bits_per_cycle,
                plan.mem_cyc, first_k, last_k, model.chip.side is not None)
        return Walks(per_v, totals, writes)

    @classmethod
    def energies(cls, spec, table) -> dict[str, float]:
        """The lanes' spike FIFOs: register bits written."""
        return {"array.fifo_bits": table["register_bit"]}

    def count_traffic(self, model, plan, walks: Walks, Kb: int, Nb: int) -> tuple[dict[str, np.ndarray], int]:
        model.chip.array.fifo_bits += len(walks) * plan.n_sub * plan.tokens * Kb * \
            model.chip.spec.spike_memory.salient.code_bits
        return super().count_traffic(model, plan, walks, Kb, Nb)
