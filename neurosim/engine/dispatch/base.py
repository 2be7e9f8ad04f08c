"""What every IF dispatch scheme provides: a walk of a tile's code block (its timing kernel) and
the count of its own traffic (how weights reach the lanes, FIFO writes)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurosim.engine.registry import Registry
from neurosim.kernels.acc_tile import acc_blocks_kernel


@dataclass(frozen=True)
class Walks:
    """Code blocks' timing, stacked over the blocks: per column variant (``[n, 2, N_COLS]``),
    spike totals (``[n, N_TOTALS]``), when lanes are not in lockstep each block's membrane
    writes of one column (``[n]``; ``None``: one per compute cycle), and in lockstep the busy
    cycles per token group and K-tile (``[n, 2, groups, nk]``, for overlapped weight loads)."""

    per_variant: np.ndarray
    totals: np.ndarray
    column_writes: np.ndarray | None = None
    busy_by_group: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.totals)

    def take(self, idx: np.ndarray) -> Walks:
        """The walks of blocks ``idx``."""
        return Walks(*(None if a is None else a[idx] for a in self._arrays()))

    @staticmethod
    def concat(parts: list[Walks]) -> Walks:
        """The walks of ``parts`` one after the other."""
        if len(parts) == 1:
            return parts[0]
        return Walks(*(None if a[0] is None else np.concatenate(a)
                       for a in zip(*(p._arrays() for p in parts), strict=True)))

    def _arrays(self) -> tuple:
        return self.per_variant, self.totals, self.column_writes, self.busy_by_group


class DispatchScheme:
    """Coupled steps through :func:`~neurosim.kernels.acc_tile.acc_blocks_kernel`; subclasses set
    ``event_queue`` and say how weights reach the lanes."""

    event_queue = False
    #: Weight sub-tiles are loaded into the PE registers before their tokens stream.
    loads_weight_tiles = True

    def walk(self, model, ms: np.ndarray, ks: np.ndarray, shape: tuple[int, int], plan, first_k: bool,
             last_k: bool, tiling) -> Walks:
        """Walk the code blocks ``(ms[i], ks[i])`` of ``tiling`` in the op's activation tensor, all of
        ``shape`` (tokens, channels), in place: one compiled pass (pure; it releases the GIL)."""
        spec, srams = model.chip.spec, model.chip.srams
        os_mode = bool(spec.array.membrane_tokens)
        per_v, tot, busy = acc_blocks_kernel(
            model.codes, tiling.Mb, tiling.Kb, ms, ks, *shape, model.R, spec.array.encoding == "bitplane",
            self.event_queue, model.recipe.normal_max, spec.spike_memory.dense.code_bits,
            srams["spike_dense"].bw_bits_per_cycle, model.entry_bits, srams["spike_salient"].bw_bits_per_cycle,
            plan.mem_cyc, plan.words_per_event, spec.weight_sram.banks, spec.weight_sram.ports, first_k or os_mode,
            last_k or os_mode, spec.array.weight_reads == "per_code", model.chip.side is not None,
            spec.array.membrane_tokens)
        return Walks(per_v, tot, None, busy)

    @classmethod
    def energies(cls, spec, table) -> dict[str, float]:
        """pJ per action of the scheme's own units (none for lockstep lanes)."""
        return {}

    def count_traffic(self, model, plan, walks: Walks, Kb: int, Nb: int) -> tuple[dict[str, np.ndarray], int]:
        """Count the scheme's own traffic on the tiles of ``walks`` (one shape: weights into the
        lanes, FIFO writes); returns (their stalls by cause, one entry per tile; the weight
        register bits loaded in all)."""
        raise NotImplementedError


SCHEMES: Registry = Registry("IF dispatch scheme")
