"""Tiling: the loop nest over M (tokens), N (outputs) and K (inputs) tiles of one op.

Tiles are chosen from buffer capacities: an activation tile ``Mb x Kb`` must fit its store, a
weight tile ``Kb x Nb`` the weight SRAM, partial sums (IF membranes, MAC int32 psums) of
``Mb x Nb`` outputs the psum store when K is split, and the output tile the output buffer. When
more than one tile must be loaded, input and output buffers are double-buffered (half capacity
per tile), so DRAM transfers overlap compute; where partial sums and output tiles share one SRAM
(the MAC's output SRAM) they share its capacity, psums plus a double-buffered output tile. Among
the tilings that fit, the one moving the fewest DRAM bits wins, then the fewest array folds (a
tile narrower than the array wastes rows or columns), then the fewest tiles. K is innermost, so partial sums stay on chip;
``order`` says whether M or N tiles are outermost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from neurosim.errors import NeurosimError
from neurosim.units import ceil_div


@dataclass(frozen=True)
class TileLimits:
    """Capacities (bits) and per-element sizes (bits) that bound the tiles of one design."""

    act_bits_per_code: int
    act_capacity_bits: int
    weight_bits_per_code: int
    weight_capacity_bits: int
    psum_bits: int
    psum_capacity_bits: int
    psum_cols_unsplit: int  # psum columns held when K is not split (0: none, psums stay in the array)
    out_bits_per_output: float
    out_capacity_bits: int
    align_m: int
    align_n: int
    align_k: int
    psum_shares_output: bool = False  # psums and output tiles in one SRAM (MAC): one budget for both


@dataclass(frozen=True)
class Tiling:
    """One op's loop nest: tile sizes, counts and order."""

    Mb: int
    Nb: int
    Kb: int
    n_m: int
    n_n: int
    n_k: int
    order: str  # "mnk" (M tiles outermost) or "nmk"
    double_buffered: bool

    def blocks(self) -> Iterator[tuple[int, int, int]]:
        """(m, n, k) tile indices in execution order, K innermost."""
        outer, inner = (self.n_m, self.n_n) if self.order == "mnk" else (self.n_n, self.n_m)
        for o in range(outer):
            for i in range(inner):
                m, n = (o, i) if self.order == "mnk" else (i, o)
                for k in range(self.n_k):
                    yield m, n, k

    def to_dict(self) -> dict:
        return {"Mb": self.Mb, "Nb": self.Nb, "Kb": self.Kb, "n_m": self.n_m, "n_n": self.n_n, "n_k": self.n_k,
                "order": self.order, "double_buffered": self.double_buffered}


def _candidates(total: int, align: int) -> list[int]:
    """Whole extent, multiples of ``align`` times powers of two below it, and small powers of two."""
    out = {total}
    v = align
    while v < total:
        out.add(v)
        v *= 2
    v = 1
    while v < min(align, total):
        out.add(v)
        v *= 2
    return sorted(out, reverse=True)


def dram_bits_estimate(M: int, K: int, N: int, Mb: int, Nb: int, Kb: int, order: str, lim: TileLimits) -> float:
    """DRAM bits an op moves under a tiling: a tile is loaded again whenever the one resident
    before it differs (what the engine does), plus one write of every output."""
    n_m, n_n, n_k = ceil_div(M, Mb), ceil_div(N, Nb), ceil_div(K, Kb)
    act, wgt = M * K * lim.act_bits_per_code, K * N * lim.weight_bits_per_code
    if order == "mnk":
        act_times = 1 if n_k == 1 else n_n
        w_times = 1 if (n_k == 1 and n_n == 1) else n_m
    else:
        w_times = 1 if n_k == 1 else n_m
        act_times = 1 if (n_k == 1 and n_m == 1) else n_n
    return act * act_times + wgt * w_times + M * N * lim.out_bits_per_output


def choose_tiling(M: int, K: int, N: int, lim: TileLimits, salient_fits: Callable[[int, int, float], bool],
                  where: str) -> Tiling:
    """The tiling of least DRAM traffic that fits every buffer (see module docstring).

    ``salient_fits(Mb, Kb, fraction)`` checks data-dependent capacity (the IF design's salient
    side store) for a candidate using ``fraction`` of the store. ``where`` names the op in errors.
    """
    best = None
    for Kb in _candidates(K, lim.align_k):
        for Mb in _candidates(M, lim.align_m):
            for Nb in _candidates(N, lim.align_n):
                single = Mb >= M and Nb >= N and Kb >= K
                f = 1.0 if single else 0.5
                n_k = ceil_div(K, Kb)
                psum_cols = Nb if n_k > 1 else min(Nb, lim.psum_cols_unsplit)
                psum = Mb * psum_cols * lim.psum_bits
                out = Mb * Nb * lim.out_bits_per_output
                if lim.psum_shares_output:
                    over = psum + out / f > lim.out_capacity_bits
                else:
                    over = psum > lim.psum_capacity_bits or out > f * lim.out_capacity_bits
                if (over or Mb * Kb * lim.act_bits_per_code > f * lim.act_capacity_bits
                        or Kb * Nb * lim.weight_bits_per_code > f * lim.weight_capacity_bits):
                    continue
                # array folds: a tile narrower than the array wastes its rows or columns
                folds = (ceil_div(M, Mb) * ceil_div(Mb, lim.align_m) * ceil_div(N, Nb) * ceil_div(Nb, lim.align_n)
                         * n_k * ceil_div(Kb, lim.align_k))
                for order in ("mnk", "nmk"):
                    cost = (dram_bits_estimate(M, K, N, Mb, Nb, Kb, order, lim), folds,
                            ceil_div(M, Mb) * ceil_div(N, Nb) * n_k, -Kb, order)
                    if best is None or cost < best[0]:
                        best = (cost, Mb, Nb, Kb, order, single)
    # the salient check is data-dependent, so it runs on the winner and, if that overflows, on
    # successively smaller token tiles (which keep every other buffer within bounds)
    if best is not None:
        _, Mb, Nb, Kb, order, single = best
        while True:
            if salient_fits(Mb, Kb, 1.0 if single else 0.5):
                return Tiling(Mb, Nb, Kb, ceil_div(M, Mb), ceil_div(N, Nb), ceil_div(K, Kb), order, not single)
            if Mb == 1:
                break
            Mb, single = max(1, Mb // 2), False
    raise NeurosimError(
        f"{where}: no tiling fits the buffers (one token's K={K} codes, one K x 1 weight column, or the salient "
        f"entries of one token do not fit); enlarge the SRAMs in the hardware config"
    )
