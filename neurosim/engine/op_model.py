"""The interface every design's op model implements, and the tile cost it returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurosim.engine.tiling import TileLimits, Tiling


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
    loaded when they differ from the resident ones (``act_tile_bits``/``weight_tile_bits``), each
    tile is costed (``tile_cost``), and finished output tiles are written back
    (``output_tile_bits``). Components count their own actions on the way.
    """

    def limits(self) -> TileLimits:
        raise NotImplementedError

    def salient_fits(self, Mb: int, Kb: int, fraction: float) -> bool:
        return True

    def act_tile_bits(self, codes: np.ndarray, key: tuple) -> int:
        raise NotImplementedError

    def weight_tile_bits(self, Kb: int, Nb: int, first_k: bool) -> int:
        raise NotImplementedError

    def output_tile_bits(self, Mb: int, Nb: int) -> int:
        raise NotImplementedError

    def tile_cost(self, codes: np.ndarray, key: tuple, Nb: int, first_k: bool, last_k: bool, tiling: Tiling) -> TileCost:
        raise NotImplementedError

    def op_end(self) -> None:
        """Per-op actions not tied to a tile."""
