"""The interface every design's op model implements, and the tile cost it returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurosim.engine.tiling import TileLimits, Tiling
from neurosim.engine.workers import by_rows
from neurosim.hw.sram import Sram
from neurosim.kernels.acc_tile import salient_counts, salient_tile_counts


@dataclass
class TileCost:
    """Cycles and stalls of one tile on the array; counters are added to the components."""

    compute_cycles: int
    stalls: dict[str, int] = field(default_factory=dict)

    @property
    def busy_cycles(self) -> int:
        return self.compute_cycles + sum(self.stalls.values())


class OpModel:
    """One design executing one op. Subclasses: :class:`AccIfOpModel`, :class:`MacOpModel`.

    The engine asks for the tile limits, picks a tiling, then walks the tiles: input tiles are
    loaded when they differ from the resident ones (``act_tiles_bits``/``weight_tile_bits``), each
    tile is costed (``tile_cost``), and finished output tiles are written back
    (``output_tile_bits``: the bits written to DRAM and the bits read back, for results that make
    a round trip). Components count their own actions on the way.
    """

    def limits(self) -> TileLimits:
        raise NotImplementedError

    def salient_tiles(self, Mb: int, Kb: int) -> tuple[np.ndarray, np.ndarray]:
        """Salient entries and tokens holding any per ``Mb x Kb`` tile of the op's activation
        tensor (``[ceil(M / Mb), ceil(K / Kb)]`` each). Kept on the chip, by (tensor, Kb) per
        token and by (tensor, Mb, Kb) per tile, so that the ops reading one tensor and the
        tiling search's candidates count its codes once."""
        cache, name = self.chip.salient_tiles, self.op.act_codes
        if (name, Mb, Kb) not in cache:
            if (name, Kb) not in cache:
                cache[name, Kb] = np.concatenate(by_rows(salient_counts, np.ascontiguousarray(self.codes),
                                                         self.recipe.normal_max, Kb))
            cache[name, Mb, Kb] = salient_tile_counts(cache[name, Kb], Mb)
        return cache[name, Mb, Kb]

    def salient_fits(self, Mb: int, Kb: int, fraction: float) -> bool:
        return True

    def b_resident(self) -> bool:
        """The op's B operand already sits in the core's weight SRAM: resident weights, and the KV
        cache when the chip keeps it on chip. Its tiles are then read there, never loaded."""
        return self.chip.spec.system.weights == "resident" and (not self.op.kv or self.chip.kv_on_chip)

    def act_tiles_bits(self, m: np.ndarray, k: np.ndarray, tiling: Tiling) -> np.ndarray:
        """Load the activation tiles ``(m[i], k[i])`` (one load each) into their memories, counting
        the writes; their bits."""
        raise NotImplementedError

    def tile_extents(self, m: np.ndarray, k: np.ndarray, tiling: Tiling) -> tuple[np.ndarray, np.ndarray]:
        """(tokens, channels) of the activation tiles ``(m[i], k[i])`` (edge tiles are partial)."""
        return np.minimum(tiling.Mb, self.op.M - m * tiling.Mb), np.minimum(tiling.Kb, self.op.K - k * tiling.Kb)

    def weight_tile_bits(self, Kb: int, Nb: int, first_k: bool) -> int:
        raise NotImplementedError

    def output_tile_bits(self, Mb: int, Nb: int) -> tuple[int, int]:
        raise NotImplementedError

    def tile_cost(self, codes: np.ndarray, key: tuple, Nb: int, first_k: bool, last_k: bool, tiling: Tiling) -> TileCost:
        raise NotImplementedError

    def tile_costs(self, tiles: list[tuple], tiling: Tiling) -> list[TileCost]:
        """:meth:`tile_cost` of each of ``tiles`` (its arguments but the tiling), in order; a model
        may count them together."""
        return [self.tile_cost(*t, tiling) for t in tiles]

    def prefetch(self, tiles: list[tuple], tiling: Tiling) -> None:
        """Optionally precompute, in parallel, pure per-tile work that :meth:`tile_cost` will ask
        for: ``tiles`` holds ``(codes, key, Nb, first_k, last_k)`` of every distinct tile. It
        must not count anything."""

    def op_end(self) -> None:
        """Per-op actions not tied to a tile."""

    # -- shared: the row buffer of a two-phase output scale (both designs) -----------------------

    def row_buffer_spills(self, store: Sram, acc_bits: int, Mb: int) -> bool:
        """Whether the final accumulators of ``Mb`` tokens' whole output rows (all N) exceed half
        of ``store`` (the other half keeps working psums and outputs) and go to DRAM instead."""
        return Mb * self.op.N * acc_bits > store.capacity_bits // 2

    def row_buffer_tile(self, store: Sram, acc_bits: int, Mb: int, Nb: int) -> int:
        """Count one output tile's trip through the row buffer (written in phase one, read back in
        phase two) when it stays on chip; returns the SRAM cycles it adds (0 when it spills: the
        DRAM traffic is then part of the tile's write-back, see :meth:`row_buffer_dram_bits`)."""
        if self.row_buffer_spills(store, acc_bits, Mb):
            return 0
        bits = Mb * Nb * acc_bits
        store.write(1, bits)
        store.read(1, bits)
        return 2 * store.cycles(bits)

    def row_buffer_dram_bits(self, store: Sram, acc_bits: int, Mb: int, Nb: int) -> int:
        """DRAM bits of one output tile's row buffer when it spills, each way (written out in phase
        one, read back in phase two)."""
        return Mb * Nb * acc_bits if self.row_buffer_spills(store, acc_bits, Mb) else 0
