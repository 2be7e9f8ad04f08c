"""Walk one op's tiles in execution order: load inputs when they change, cost each tile on the
array, write finished outputs back; the components count their actions on the way.

Two walks, one result:

- :func:`walk_tiles` asks the op model about every tile in turn (the reference);
- :func:`aggregate_tiles` asks once per *distinct* call (an activation tile, a weight tile shape,
  a tile cost for one activation tile and output width, an output tile shape) and adds the
  counts that call made times the number of tiles that make it. The op model's answers depend
  only on their arguments, so the totals are the same; the distinct tile costs of one tile count
  are asked for together, as arrays.

Both return a :class:`TileStream`: the per-tile DRAM loads, array times and write-backs the
pipeline (:mod:`neurosim.engine.pipeline`) schedules.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass

import numpy as np

from neurosim.engine.op_model import OpModel, TileCosts, distinct_rows
from neurosim.engine.tiling import Tiling
from neurosim.hw.dram import Dram


@dataclass
class TileStream:
    """Per tile, in execution order: DRAM bits loaded and written back (whole bursts), array
    busy and compute cycles; and the op's in-tile stalls by cause."""

    load_bits: np.ndarray
    busy_cycles: np.ndarray
    writeback_bits: np.ndarray
    compute_cycles: np.ndarray
    stalls: dict[str, int]
    weight_bits: int = 0  # DRAM bits of B tiles loaded (weights or the KV cache), whole bursts
    tile_costs: TileCosts | None = None  # the distinct tile costs
    cost_index: np.ndarray | None = None  # per tile: its cost in tile_costs (its in-tile stalls by cause)

    def tile_stalls(self, t: int) -> dict[str, int]:
        """In-tile stall cycles of tile ``t`` by cause."""
        return self.tile_costs.at(int(self.cost_index[t])).stalls if self.cost_index is not None else {}


def walk_tiles(model: OpModel, tiling: Tiling, op, dram: Dram) -> TileStream:
    """Every tile in turn (see the module docstring)."""
    n = tiling.n_m * tiling.n_n * tiling.n_k
    load_bits, busy, wb_bits, comp = (np.zeros(n, np.int64) for _ in range(4))
    stalls: Counter[str] = Counter()
    resident_act = resident_w = None
    b_bits = 0
    costs = []
    for t, (mi, ni, ki) in enumerate(tiling.blocks()):
        m0, k0, n0 = mi * tiling.Mb, ki * tiling.Kb, ni * tiling.Nb
        m1, k1, n1 = min(op.M, m0 + tiling.Mb), min(op.K, k0 + tiling.Kb), min(op.N, n0 + tiling.Nb)
        load = 0
        if (mi, ki) != resident_act:
            load += int(model.act_tiles_bits(np.array([mi]), np.array([ki]), tiling)[0])
            resident_act = (mi, ki)
        if (ki, ni) != resident_w:
            w_bits = model.weight_tile_bits(k1 - k0, n1 - n0, ki == 0)
            load += w_bits
            b_bits += dram.burst_bits(w_bits)
            resident_w = (ki, ni)
        last_k = ki == tiling.n_k - 1
        cost = model.tile_costs(np.array([mi]), np.array([ki]), np.array([n1 - n0]), tiling).at(0)
        # results that make a DRAM round trip (spilled row buffer or int32 results) count their
        # way back as reads; the writer moves both ways over the one channel
        wb, back = model.output_tile_bits(m1 - m0, n1 - n0) if last_k else (0, 0)
        dram.read(load)
        dram.read(back)
        dram.write(wb)
        wb += back
        stalls.update(cost.stalls)
        costs.append(cost)
        load_bits[t] = dram.burst_bits(load) if load else 0
        busy[t], comp[t] = cost.busy_cycles, cost.compute_cycles
        wb_bits[t] = dram.burst_bits(wb) if wb else 0
    return TileStream(load_bits, busy, wb_bits, comp, dict(stalls), b_bits, TileCosts.of(costs), np.arange(n))


class _Counts:
    """Every integer counter of a chip's runtime components and the DRAM (fields of their
    non-frozen dataclasses; the frozen specs never change): read as copies of the components'
    attribute dicts, and what changed since added back scaled."""

    def __init__(self, chip, dram: Dram):
        objs = [dram, *(v for v in vars(chip).values() if dataclasses.is_dataclass(v)), *chip.srams.values()]
        self.objs = [(o, names) for o in objs if not type(o).__dataclass_params__.frozen
                     if (names := tuple(f.name for f in dataclasses.fields(o) if type(getattr(o, f.name)) is int))]

    def read(self) -> list[dict]:
        return [vars(o).copy() for o, _ in self.objs]

    def add_since(self, before: list[dict], times: int) -> None:
        """Add ``times`` more of every counter's change since ``before``."""
        if times:
            for (o, names), b in zip(self.objs, before, strict=True):
                now = vars(o)
                if now != b:  # most calls touch a few components
                    for f in names:
                        if now[f] != b[f]:
                            now[f] += (now[f] - b[f]) * times


    def each(self, distinct: tuple, call) -> tuple[list, np.ndarray]:
        """``call(row)`` once per distinct row (``distinct``: :func:`~neurosim.engine.op_model.distinct_rows`'s rows, inverse
        index and counts), its counts scaled by the row's tiles; returns (the answers, the
        inverse index). The rows of one tile count are called together and their counts scaled
        at once (the counts add up, whatever the order)."""
        rows, inverse, times = distinct
        out = [None] * len(rows)
        for t in np.unique(times):
            before = self.read()
            for i in np.flatnonzero(times == t):
                out[i] = call(rows[i])
            self.add_since(before, int(t) - 1)
        return out, inverse


    def each_rows(self, distinct: tuple, call_many) -> TileCosts:
        """As :meth:`each`, ``call_many(idx)`` answering the rows ``idx`` of one tile count at
        once with their :class:`TileCosts`; returns the costs of every row."""
        rows, _, times = distinct
        parts = []
        for t in np.unique(times):
            before = self.read()
            idx = np.flatnonzero(times == t)
            parts.append((idx, call_many(idx)))
            self.add_since(before, int(t) - 1)
        return TileCosts.gather(parts, len(rows))


def _tile_indices(tiling: Tiling) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (m, n, k) tile indices of every tile in execution order (:meth:`Tiling.blocks`)."""
    outer, inner = (tiling.n_m, tiling.n_n) if tiling.order == "mnk" else (tiling.n_n, tiling.n_m)
    o, i, k = (a.ravel() for a in np.meshgrid(np.arange(outer), np.arange(inner), np.arange(tiling.n_k),
                                               indexing="ij"))
    m, n = (o, i) if tiling.order == "mnk" else (i, o)
    return m, n, k


def aggregate_tiles(model: OpModel, tiling: Tiling, op, dram: Dram, chip) -> TileStream:
    """One call per distinct tile question, counts scaled by its tiles (see the module docstring)."""
    m, n, k = _tile_indices(tiling)
    T = len(k)
    mb = np.minimum(tiling.Mb, op.M - m * tiling.Mb)
    kb = np.minimum(tiling.Kb, op.K - k * tiling.Kb)
    nb = np.minimum(tiling.Nb, op.N - n * tiling.Nb)
    first_k, last_k = k == 0, k == tiling.n_k - 1
    act_load = np.ones(T, bool)
    act_load[1:] = (m[1:] != m[:-1]) | (k[1:] != k[:-1])
    w_load = np.ones(T, bool)
    w_load[1:] = (k[1:] != k[:-1]) | (n[1:] != n[:-1])
    counts = _Counts(chip, dram)

    def each(keys: np.ndarray, call, distinct=None) -> tuple[list, np.ndarray]:
        return counts.each(distinct_rows(keys) if distinct is None else distinct, call)

    load = np.zeros(T, np.int64)
    sel = np.flatnonzero(act_load)
    load[sel] += model.act_tiles_bits(m[sel], k[sel], tiling)
    sel = np.flatnonzero(w_load)
    bits, inv = each(np.stack([kb[sel], nb[sel], first_k[sel]], 1),
                     lambda r: model.weight_tile_bits(int(r[0]), int(r[1]), bool(r[2])))
    w_bits = np.array(bits, np.int64)[inv]
    load[sel] += w_bits
    rows, cost_index, times = distinct_rows(np.stack([m, k, nb], 1))
    rm, rk, rn = (np.ascontiguousarray(rows[:, j]) for j in range(3))
    model.prefetch(rm, rk, rn, tiling)
    costs = counts.each_rows((rows, cost_index, times), lambda idx: model.tile_costs(rm[idx], rk[idx], rn[idx], tiling))
    busy, comp = costs.busy_cycles[cost_index], costs.compute_cycles[cost_index]
    stalls = {s: int((v * times).sum()) for s, v in costs.stalls.items()}
    wb = np.zeros(T, np.int64)
    back = np.zeros(T, np.int64)
    sel = np.flatnonzero(last_k)
    outs, inv = each(np.stack([mb[sel], nb[sel]], 1), lambda r: model.output_tile_bits(int(r[0]), int(r[1])))
    wb[sel] = np.array([w for w, _ in outs], np.int64)[inv]
    back[sel] = np.array([b for _, b in outs], np.int64)[inv]
    for bits_t, fn in ((load, dram.read), (back, dram.read), (wb, dram.write)):
        each(bits_t[bits_t > 0][:, None], lambda r, fn=fn: fn(int(r[0])))
    wb += back
    burst = _bursts(dram)
    return TileStream(burst(load), busy, burst(wb), comp, stalls, int(burst(w_bits).sum()), costs, cost_index)


def _bursts(dram: Dram):
    """Bits rounded up to whole DRAM bursts, element-wise (0 stays 0)."""
    return lambda bits: np.where(bits > 0, -(-bits // dram.burst_bits(1)) * dram.burst_bits(1), 0)
