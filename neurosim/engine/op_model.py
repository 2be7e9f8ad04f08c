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


@dataclass
class TileCosts:
    """:class:`TileCost` of many tiles as arrays, one entry per tile: compute cycles and the
    in-tile stalls by cause."""

    compute_cycles: np.ndarray
    stalls: dict[str, np.ndarray]

    @property
    def busy_cycles(self) -> np.ndarray:
        return self.compute_cycles + sum(self.stalls.values(), np.zeros_like(self.compute_cycles))

    def __len__(self) -> int:
        return len(self.compute_cycles)

    def at(self, i: int) -> TileCost:
        """Tile ``i``'s cost."""
        return TileCost(int(self.compute_cycles[i]), {s: int(v[i]) for s, v in self.stalls.items()})

    @staticmethod
    def gather(parts: list[tuple[np.ndarray, TileCosts]], n: int) -> TileCosts:
        """The costs of ``n`` tiles from ``parts``, each (the tiles' indices, their costs): a cause a
        part lacks is 0 on its tiles; the causes in the order of their first tile (as listing
        every tile's dict in turn would give them)."""
        compute = np.zeros(n, np.int64)
        first: dict[str, tuple[int, int]] = {}
        for idx, c in parts:
            compute[idx] = c.compute_cycles
            lo = int(idx.min(initial=n))
            for p, s in enumerate(c.stalls):
                first[s] = min(first.get(s, (n, 0)), (lo, p))
        stalls = {s: np.zeros(n, np.int64) for s in sorted(first, key=first.__getitem__)}
        for idx, c in parts:
            for s, v in c.stalls.items():
                stalls[s][idx] = v
        return TileCosts(compute, stalls)

    @staticmethod
    def of(costs: list[TileCost]) -> TileCosts:
        """Costs of the tiles ``costs`` in order."""
        return TileCosts.gather([(np.array([i]), TileCosts(np.array([c.compute_cycles], np.int64),
                                                           {s: np.array([v], np.int64) for s, v in c.stalls.items()}))
                                 for i, c in enumerate(costs)], len(costs))


def distinct_rows(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows of the distinct keys in order of first occurrence, inverse index, counts)."""
    radix = [int(h) + 1 for h in keys.max(axis=0, initial=0)]
    if keys.min(initial=0) >= 0 and np.prod(radix, dtype=object) < 2 ** 62:
        # rows of small non-negative ints as one mixed-radix integer: a 1-D unique is much faster
        code = np.zeros(len(keys), np.int64)
        for j, r in enumerate(radix):
            code = code * r + keys[:, j].astype(np.int64)
        _, first, inverse, counts = np.unique(code, return_index=True, return_inverse=True, return_counts=True)
        uniq = keys[first]
    else:
        uniq, first, inverse, counts = np.unique(keys, axis=0, return_index=True, return_inverse=True,
                                                 return_counts=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return uniq[order], rank[inverse.reshape(-1)], counts[order]


class OpModel:
    """One design executing one op. Subclasses: :class:`AccIfOpModel`, :class:`MacOpModel`.

    The engine asks for the tile limits, picks a tiling, then walks the tiles: input tiles are
    loaded when they differ from the resident ones (``act_tiles_bits``/``weight_tile_bits``), the
    tiles are costed (``tile_costs``), and finished output tiles are written back
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

    def tile_costs(self, m: np.ndarray, k: np.ndarray, nb: np.ndarray, tiling: Tiling) -> TileCosts:
        """The costs of the tiles of activation tile ``(m[i], k[i])`` and ``nb[i]`` outputs (each
        tile once; a model counts them together), counting their actions on the components."""
        raise NotImplementedError

    def prefetch(self, m: np.ndarray, k: np.ndarray, nb: np.ndarray, tiling: Tiling) -> None:
        """Optionally start, in parallel, pure work that :meth:`tile_costs` will ask for on the
        same tiles. It must not count anything."""

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
