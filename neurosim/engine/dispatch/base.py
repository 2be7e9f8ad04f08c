"""What every IF dispatch scheme provides: a walk of a tile's code block (its timing kernel) and
the count of its own traffic (how weights reach the lanes, FIFO writes)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurosim.engine.registry import Registry
from neurosim.kernels.acc_tile import acc_block_kernel


@dataclass(frozen=True)
class Walk:
    """A code block's timing per column variant (``[2, N_COLS]``), its spike totals
    (``[N_TOTALS]``), when lanes are not in lockstep the membrane writes of one column
    (``None``: one per compute cycle), and in lockstep the busy cycles per token group and K-tile
    (``[2, groups, nk]``, for overlapped weight loads)."""

    per_variant: np.ndarray
    totals: np.ndarray
    column_writes: int | None = None
    busy_by_group: np.ndarray | None = None


class DispatchScheme:
    """Coupled steps through :func:`~neurosim.kernels.acc_tile.acc_block_kernel`; subclasses set
    ``event_queue`` and say how weights reach the lanes."""

    event_queue = False
    #: Weight sub-tiles are loaded into the PE registers before their tokens stream.
    loads_weight_tiles = True

    def walk(self, model, codes: np.ndarray, plan, first_k: bool, last_k: bool) -> Walk:
        """Walk the code block ``codes`` (a view into the trace; copied contiguous here, so that
        the copy runs on the worker thread that walks it)."""
        codes = np.ascontiguousarray(codes)
        spec, srams = model.chip.spec, model.chip.srams
        os_mode = bool(spec.array.membrane_tokens)
        per_v, tot, busy = acc_block_kernel(
            codes, model.R, spec.array.encoding == "bitplane", self.event_queue, model.recipe.normal_max,
            spec.spike_memory.dense.code_bits, srams["spike_dense"].bw_bits_per_cycle, model.entry_bits,
            srams["spike_salient"].bw_bits_per_cycle, plan.mem_cyc, plan.words_per_event, spec.weight_sram.banks,
            spec.weight_sram.ports, first_k or os_mode, last_k or os_mode, spec.array.weight_reads == "per_code",
            model.chip.side is not None, spec.array.membrane_tokens)
        return Walk(per_v, tot, None, busy)

    @classmethod
    def energies(cls, spec, table) -> dict[str, float]:
        """pJ per action of the scheme's own units (none for lockstep lanes)."""
        return {}

    def count_traffic(self, model, plan, walks: list[Walk], Kb: int, Nb: int) -> tuple[dict[str, np.ndarray], int]:
        """Count the scheme's own traffic on the tiles of ``walks`` (one shape: weights into the
        lanes, FIFO writes); returns (their stalls by cause, one entry per tile; the weight
        register bits loaded in all)."""
        raise NotImplementedError


SCHEMES: Registry = Registry("IF dispatch scheme")
