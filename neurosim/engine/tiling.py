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

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

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


def choose_tiling(M: int, K: int, N: int, lim: TileLimits, salient_fits: Callable[[int, int, float], bool],
                  where: str) -> Tiling:
    """The tiling of least DRAM traffic that fits every buffer (see module docstring).

    ``salient_fits(Mb, Kb, fraction)`` checks data-dependent capacity (the IF design's salient
    side store) for a candidate using ``fraction`` of the store. ``where`` names the op in errors.
    """
    best = _least_traffic(M, K, N, lim)
    # the salient check is data-dependent, so it runs on the winner and, if that overflows, on
    # successively smaller token tiles (which keep every other buffer within bounds)
    if best is not None:
        Mb, Nb, Kb, order, single = best
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


@functools.lru_cache(maxsize=1024)
def _least_traffic(M: int, K: int, N: int, lim: TileLimits) -> tuple[int, int, int, str, bool] | None:
    """(Mb, Nb, Kb, order, single) of the data-independent search of :func:`choose_tiling`, or
    None when nothing fits (the first of :func:`ranked_tilings`); cached, since the ops of one shape
    on one array (every layer, every decode step) ask the same."""
    c = _costed(M, K, N, lim)
    return None if c is None else c.listed(c.tiler_keys, 1)[0]


@dataclass(frozen=True)
class _Costed:
    """Every fitting candidate (Kb, Mb, Nb in :func:`_candidates` order, then ``mnk``, ``nmk``)
    with its costs, as arrays over candidate x order."""

    Mb: np.ndarray
    Nb: np.ndarray
    Kb: np.ndarray
    single: np.ndarray
    idx: np.ndarray
    order_key: np.ndarray
    seq: np.ndarray
    dram: np.ndarray
    folds: np.ndarray
    tiles: np.ndarray

    @property
    def tiler_keys(self) -> tuple:
        """Least (DRAM bits, array folds, tiles, -Kb, order), ties to the first candidate."""
        return (self.seq, self.order_key, -self.Kb[self.idx], self.tiles, self.folds, self.dram)

    def listed(self, keys: tuple, n: int | None = None) -> list[tuple[int, int, int, str, bool]]:
        """(Mb, Nb, Kb, order, single) in the order of ``keys`` (lexsort, last key first), the first ``n``."""
        order = np.lexsort(keys)[:n]
        return [(int(self.Mb[i]), int(self.Nb[i]), int(self.Kb[i]), ("mnk", "nmk")[int(self.order_key[w])],
                 bool(self.single[i])) for w in order for i in (int(self.idx[w]),)]


def _costed(M: int, K: int, N: int, lim: TileLimits) -> _Costed | None:
    """Every tiling that fits the buffers, costed at once (None when nothing fits)."""
    kb, mb, nb = (np.array(_candidates(t, a), np.int64) for t, a in
                  ((K, lim.align_k), (M, lim.align_m), (N, lim.align_n)))
    Kb, Mb, Nb = (a.ravel() for a in np.meshgrid(kb, mb, nb, indexing="ij"))
    single = (Mb >= M) & (Nb >= N) & (Kb >= K)
    f = np.where(single, 1.0, 0.5)
    n_m, n_n, n_k = -(-M // Mb), -(-N // Nb), -(-K // Kb)
    psum = Mb * np.where(n_k > 1, Nb, np.minimum(Nb, lim.psum_cols_unsplit)) * lim.psum_bits
    out = Mb * Nb * lim.out_bits_per_output
    if lim.psum_shares_output:
        over = psum + out / f > lim.out_capacity_bits
    else:
        over = (psum > lim.psum_capacity_bits) | (out > f * lim.out_capacity_bits)
    fits = ~(over | (Mb * Kb * lim.act_bits_per_code > f * lim.act_capacity_bits)
             | (Kb * Nb * lim.weight_bits_per_code > f * lim.weight_capacity_bits))
    if not fits.any():
        return None
    Kb, Mb, Nb, single, n_m, n_n, n_k = (a[fits] for a in (Kb, Mb, Nb, single, n_m, n_n, n_k))
    # array folds: a tile narrower than the array wastes its rows or columns
    folds = n_m * -(-Mb // lim.align_m) * n_n * -(-Nb // lim.align_n) * n_k * -(-Kb // lim.align_k)
    act, wgt = M * K * lim.act_bits_per_code, K * N * lim.weight_bits_per_code
    outs = M * N * lim.out_bits_per_output
    # DRAM bits: a tile is loaded again whenever the one resident before it differs (what the
    # engine does), plus one write of every output; for both loop orders
    act_mnk = np.where(n_k == 1, 1, n_n)
    w_mnk = np.where((n_k == 1) & (n_n == 1), 1, n_m)
    w_nmk = np.where(n_k == 1, 1, n_m)
    act_nmk = np.where((n_k == 1) & (n_m == 1), 1, n_n)
    dram = np.concatenate([(act * act_mnk + wgt * w_mnk) + outs, (act * act_nmk + wgt * w_nmk) + outs])
    both = np.arange(2 * len(Kb))
    idx = both % len(Kb)
    order_key = both // len(Kb)  # 0: mnk, 1: nmk
    seq = idx * 2 + order_key  # candidate order: each (Kb, Mb, Nb) tries mnk then nmk
    return _Costed(Mb, Nb, Kb, single, idx, order_key, seq, dram, folds[idx], (n_m * n_n * n_k)[idx])


def ranked_tilings(M: int, K: int, N: int, lim: TileLimits) -> list[list[tuple[int, int, int, str, bool]]]:
    """Every fitting (Mb, Nb, Kb, order, single) ranked three ways: the tiler's own order (least
    DRAM bits, then array folds, then tiles), fewest array folds first, fewest tiles first; empty
    when nothing fits."""
    c = _costed(M, K, N, lim)
    if c is None:
        return []
    base = (c.seq, c.order_key, -c.Kb[c.idx])
    return [c.listed(c.tiler_keys), c.listed((*base, c.dram, c.tiles, c.folds)),
            c.listed((*base, c.dram, c.folds, c.tiles))]


def candidate_tilings(M: int, K: int, N: int, lim: TileLimits, salient_fits: Callable[[int, int, float], bool],
                      where: str, n: int) -> list[Tiling]:
    """Up to ``n`` tilings for a mapper to score: :func:`choose_tiling`'s first, then the next of
    :func:`ranked_tilings`' three rankings in turn (least DRAM traffic, fewest folds, fewest
    tiles), each fitting the salient side store as it is."""
    out = [choose_tiling(M, K, N, lim, salient_fits, where)]
    if n <= 1:  # the tiler's choice alone: no ranking of every candidate
        return out
    seen = {(out[0].Mb, out[0].Nb, out[0].Kb, out[0].order)}
    rankings = ranked_tilings(M, K, N, lim)
    for row in zip(*rankings, strict=True):
        for Mb, Nb, Kb, order, single in row:
            if len(out) >= n:
                return out
            if (Mb, Nb, Kb, order) in seen or not salient_fits(Mb, Kb, 1.0 if single else 0.5):
                continue
            seen.add((Mb, Nb, Kb, order))
            out.append(Tiling(Mb, Nb, Kb, ceil_div(M, Mb), ceil_div(N, Nb), ceil_div(K, Kb), order, not single))
    return out
