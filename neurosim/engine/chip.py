"""A many-core chip replaying a trace (``system.mesh`` larger than [1, 1], or resident weights).

The mapper (:mod:`neurosim.mapping`) places every weight matrix in the cores' weight SRAMs; the
chip replays that placement (docs/model.md, "Many-core chip"):

- **Work per core.** An op's cores each run their column shard of it (the op with N = the shard's
  outputs, on the same input codes) on the core model of a single array, the weights resident (no
  weight tile loads) and the tiles arriving and leaving through the core's port onto the mesh
  (:class:`~neurosim.hw.noc.NocPort`) instead of a DRAM channel. Cores with equal shards share one
  simulation. An op's counts are its cores' summed; its time is its slowest core's.
- **Attention and the KV cache** run on the layer's K (``attn_qk``) or V (``attn_av``) projection
  cores, the heads spread over them: an exported op of KV head h on the core that holds head h's
  columns, a synthetic op of several heads one head per core of its layer while there are heads
  (each core's heads one after another; each receives its layer's whole query input, multicast);
  the cache stays in those cores' weight SRAMs when it fits beside the weights, else in DRAM at
  the mesh edge (core 0 of the chip), each core's share multicast to its layer's cores.
- **Vector ops** run on the cores that produced their input, split evenly across them.
- **What moves** (:mod:`neurosim.engine.chip_traffic`): each op's input codes, from the cores of
  the last op before it that read another tensor (the first op's from DRAM through core 0); the
  fp16 residual stream at each residual add, from the previous one's cores; the KV cache to and
  from core 0 when it is in DRAM.
- **Schedule.** The prefill streams in chunks of ``system.prefill_chunk_tokens`` tokens: an item
  (op or vector op) starts chunk j once the item before it has finished chunk j, the head of its
  input has crossed the mesh (the core's tile pipeline streams the rest in through its port, at
  one flit per cycle) and its cores have finished their earlier work; a chunk takes the item's
  time in proportion to its tokens. A decode step takes its token through the items in order. Links
  serve messages in that order, oldest first within one item (:func:`neurosim.hw.noc.deliver`).
  Cycles an item's cores wait for its input on the mesh are its stall cause ``noc``.
- **Static power.** Every core leaks for the whole run (no power gating of idle cores): the
  chip's static power x each phase's time, shared among the phase's items by their own time.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from neurosim.config.hw import HwSpec
from neurosim.energy.breakdown import with_total
from neurosim.energy.time_power import TIMED
from neurosim.engine.chip_traffic import (
    Route,
    RouteCache,
    TensorStats,
    board_timing,
    noc_prices,
    payload_bits,
    shifted,
    tensor_stats,
    wire_bits,
)
from neurosim.engine.pipeline import Interval
from neurosim.engine.replay import CoreReplay, tensor_totals
from neurosim.engine.summary import batch_of
from neurosim.engine.widths import resolve_widths
from neurosim.engine.workers import thread_pool
from neurosim.errors import ConfigError, Problem
from neurosim.hw.board import Board
from neurosim.hw.noc import Mesh, NocPort, deliver
from neurosim.mapping.mapper import KV_PROJECTIONS, PlacementError, place, projection, weight_keys
from neurosim.mapping.placement import Placement
from neurosim.result_types import LayerResult
from neurosim.trace.manifest import Op, VectorOp
from neurosim.trace.reader import Trace
from neurosim.trace.stats import output_salient_ratio
from neurosim.units import ceil_div

EDGE = 0  # the core whose router the DRAM hangs off (on a board, chip 0's; each chip has its own)
_SLICE = re.compile(r"(.+)\[(\d+):(\d+)\]")
_KV_HEAD = re.compile(r"\.kv(\d+)$")
#: Deliveries a route remembers (a bound on memory: the patterns a run meets repeat).
TIMINGS_PER_ROUTE = 64


class ShardedTrace:
    """The trace as the chip's cores see it: its tensors, and the column blocks of its activation
    tensors that input-split shards read, named ``<tensor>[k0:k1]`` (the block's rows of K)."""

    def __init__(self, trace: Trace):
        self._trace = trace

    def __getattr__(self, attr: str):
        return getattr(self._trace, attr)

    def tensor(self, name: str) -> np.ndarray:
        m = _SLICE.fullmatch(name)
        return self._trace.tensor(m[1])[:, int(m[2]):int(m[3])] if m else self._trace.tensor(name)


def sliced(name: str | None, k0: int, k1: int, K: int) -> str | None:
    """The name of rows k0..k1 of activation tensor ``name`` (the tensor itself when that is all of it)."""
    return name if name is None or (k0, k1) == (0, K) else f"{name}[{k0}:{k1}]"


@dataclass
class Transfer:
    """Bits an item needs moved before it runs (the whole phase's worth; a chunk moves its share)."""

    src: tuple[int, ...]
    dst: tuple[int, ...]
    payload_bits: int
    packets: int = 0


@dataclass
class Item:
    """One op or vector op of the chip's schedule, once its cores have run it."""

    layer: LayerResult
    cores: tuple[int, ...]
    transfers: list[Transfer] = field(default_factory=list)
    #: Counts the chip adds to its cores': DRAM bits at the edge, noc.link_bits / noc.router_bits.
    extra: Counter = field(default_factory=Counter)
    #: Cycles its cores waited for its input on the mesh (the stall cause ``noc``).
    noc_wait: int = 0
    #: Core-cycles its cores worked (its cycles per chunk x its cores), for idle power gating.
    core_cycles: int = 0
    #: Bits it sends once it has run (partial sums to be added); it is done when they have arrived.
    after: list[Transfer] = field(default_factory=list)


class ChipReplay:
    """The chip's cores replaying one trace (see the module docstring)."""

    def __init__(self, trace: Trace, spec: HwSpec, *, check: bool = False, engine: str = "fast"):
        self.trace, self.spec, self.check = trace, spec, check
        self.mesh = Board(Mesh(*spec.system.mesh), *spec.board.chips, spec.board.topology)
        noc = spec.noc
        self.core = CoreReplay(ShardedTrace(trace), spec, engine=engine, phase_streams=False,
                               port=NocPort(noc.link_width_bits, noc.router_cycles + noc.link_cycles))
        self.placement = self._place()
        self.core.chip.kv_on_chip = self._kv_fits()
        area = self.core.area["total"] if self.core.area else None
        self.prices = noc_prices(spec, self.core.table, area)
        if self.mesh.chips > 1:
            self.prices["noc.board_link_bits"] = spec.board.link_pj_per_bit
        self.link_lat, self.link_cpf = board_timing(self.mesh, spec)
        self.routes = RouteCache(self.mesh, noc.multicast)
        self.op_cores = dict(self.placement.op_cores)
        self._stats: dict[str, TensorStats] = {}
        self._sums: dict[tuple, list[Transfer]] = {}
        self._last_residual: tuple[int, ...] = (EDGE,)
        #: KV heads per attention op family (``<name>.kv<h>``: h = 0 .. n - 1).
        self._kv_heads = Counter(op.name[:m.start()] for op in trace.ops if op.kv and (m := _KV_HEAD.search(op.name)))

    def _place(self) -> Placement:
        a, board = self.spec.array, self.spec.board
        try:
            p = place(self.trace.manifest, *self.spec.system.mesh, self.core.chip.srams["weight_sram"].capacity_bits,
                      a.rows, a.cols, chips=self.mesh.chips, tensor_parallel=board.tensor_parallel)
        except PlacementError as e:
            raise ConfigError(self.spec.name, Problem("system.mesh" if self.mesh.chips == 1 else "board.chips",
                                                      str(e))) from None
        return p

    def _kv_fits(self) -> bool:
        """Does every layer's KV cache (all the trace's tokens, of every sequence) fit beside the
        weights of its K and V projection cores?"""
        tokens = max((op.N if op.kind == "attn_qk" else op.K) for op in self.trace.ops if op.kv) \
            if any(op.kv for op in self.trace.ops) else 0
        free = self.placement.weight_capacity_bits - self.placement.core_weight_bits()
        bits = self.trace.manifest.recipe.act_bits * batch_of(self.trace)  # every sequence's cache
        for w in self.placement.weights:
            if projection(w.key) in KV_PROJECTIONS:
                if any(tokens * w.shard(n, 0)[0] * bits > free[w.cores[n]] for n in range(w.n_split)):
                    return False
        return True

    # --- items ------------------------------------------------------------------------------
    def gemm(self, op: Op, src: tuple[int, ...]):
        """Run ``op`` on its cores; returns a maker of its :class:`Item` (its shards' pipelines
        finish on worker threads). ``src``: the cores its input comes from."""
        cores, fold = self.op_cores[op.name], 1
        if op.kv:  # attention: its heads spread over the layer's K or V cores, each core's in turn
            cores, fold = self.kv_cores(op), self._kv_fold(op)
            heads = head_counts(op.repeat, len(cores))
            shards = [(dataclasses.replace(op, repeat=r), heads.count(r)) for r in sorted(set(heads), reverse=True)]
            transfers, after = self._input(op, src, [(cores, 1.0)], fold), []
        else:
            w = self.placement.weight(weight_keys(op)[0])
            output_salient_ratio(self.core.trace, op)  # the op's, cached under its name: every shard's
            shards = self._shards(op, w)
            blocks_k = [(tuple(c for key in weight_keys(op) for c in self._k_cores(key, k)), w.shard(0, k)[1] / op.K)
                        for k in range(w.k_split)]
            transfers, after = self._input(op, src, blocks_k), self._partial_sums(op)
        pending = [(self.core.gemm(s), k) for s, k in shards]
        checked = self._check(op)
        per = len(cores) // fold  # each layer's cores, for an attention op folded over layers
        from_dram = [Transfer((self.mesh.edge_of(cores[i]),), cores[i:i + per], 0) for i in range(0, len(cores), per)] \
            if op.kv and not self.core.chip.kv_on_chip else []  # each layer's cache, from its chip's DRAM
        transfers += from_dram

        def make() -> Item:
            layers = [(p()[0], k) for p, k in pending]
            layer = _combine(op.name, layers, len(cores) // blocks(cores, op.repeat) if not op.kv else len(cores))
            layer = dataclasses.replace(layer, M=op.M, K=op.K, N=op.N,
                                        check=checked.result() if checked is not None else None)
            item = Item(layer, cores, transfers, after=after)
            if from_dram:  # sized now that the KV bits read are known: a core's share, multicast to its layer's
                read = layer.memory["noc_port"]["read_bits"]
                for t in from_dram:
                    t.payload_bits = ceil_div(read, len(cores))
                item.extra["dram.read_bits"] += read
            return item
        return make

    def kv_cores(self, op: Op) -> tuple[int, ...]:
        """The cores an attention op runs on, among its layer's K or V projection cores (which hold
        the heads' columns in order): KV head h of n (an op named ``...kv<h>``, as exported) on the
        core that holds its columns; an op of several heads (``repeat``; folded over layers in a
        synthetic decode step: each layer's) on the first cores of its layer, one per head while
        there are heads."""
        cores = self.op_cores[op.name]
        m = _KV_HEAD.search(op.name)
        if m:
            return (cores[int(m[1]) * len(cores) // self._kv_heads[op.name[:m.start()]]],)
        fold = self._kv_fold(op)
        per = len(cores) // fold
        h = min(per, op.repeat // fold)
        return tuple(c for i in range(fold) for c in cores[i * per:i * per + h])

    def _kv_fold(self, op: Op) -> int:
        """The layers an attention op is folded over (1 unless a synthetic decode op)."""
        return 1 if _KV_HEAD.search(op.name) else blocks(self.op_cores[op.name], op.repeat)

    @staticmethod
    def _shards(op: Op, w) -> list[tuple[Op, int]]:
        """The op's distinct shards with how many cores run each: N = the shard's outputs, and for an
        input-split matrix K = its rows, reading those rows of the input. A shard keeps the op's
        name and weight tensors (its outputs' salient share is the op's)."""
        count: Counter = Counter()
        for n in range(w.n_split):
            for k in range(w.k_split):
                cols, rows = w.shard(n, k)
                count[cols, k * w.shard_k, k * w.shard_k + rows] += 1
        return [(dataclasses.replace(op, N=cols, K=k1 - k0, act_codes=sliced(op.act_codes, k0, k1, op.K),
                                     act_shift=sliced(op.act_shift, k0, k1, op.K)), c)
                for (cols, k0, k1), c in count.items()]

    def _k_cores(self, key: str, k: int) -> tuple[int, ...]:
        """The cores holding row block k of matrix ``key`` (one per column block)."""
        w = self.placement.weight(key)
        return tuple(w.cores[n * w.k_split + k] for n in range(w.n_split))

    def _partial_sums(self, op: Op) -> list[Transfer]:
        """An input-split matrix: each later row block's partial sums (tokens x its columns x the
        accumulator width) go to its column block's first core, which adds them (kept per matrices
        and tokens: every decode step sends the same)."""
        keys = tuple(weight_keys(op))
        if (keys, op.M) not in self._sums:
            acc, out = getattr(self.core.built.array, self.core.design.accumulator_key), []
            for wk in map(self.placement.weight, keys):
                ks = wk.k_split
                out += [Transfer((wk.cores[n * ks + k],), (wk.cores[n * ks],), op.M * wk.shard(n, k)[0] * acc)
                        for n in range(wk.n_split) for k in range(1, ks)]
            self._sums[keys, op.M] = out
        return list(self._sums[keys, op.M])

    def _check(self, op: Op):
        """The op's functional check (a future), when asked for and the trace has its weights. Each
        core computes a column block of the op on the one core model, so the whole op's check is
        every core's: each output column is one core's."""
        if not self.check or op.weight_codes is None:
            return None
        from neurosim.engine.check import check_op

        spec = resolve_widths(self.spec, op, self.trace.manifest.recipe)
        return thread_pool().submit(check_op, self.trace, op, spec)

    def _input(self, op: Op, src: tuple[int, ...], dst_blocks: list[tuple[tuple[int, ...], float]],
               fold: int | None = None) -> list[Transfer]:
        """The op's input codes from ``src`` to its cores: to each row block's cores its share of the
        rows (all of them when the matrix is not input-split); layer by layer for an op folded over
        layers (``fold``: over how many, by default its instances)."""
        name = op.act_codes
        if name not in self._stats:
            codes = self.trace.tensor(name)
            if codes.shape == (op.M, op.K):  # the whole tensor: its totals as the cores' ops read them
                self._stats[name] = TensorStats(op.M, op.K, *tensor_totals(self.trace, name))
            else:
                self._stats[name] = tensor_stats(codes[: op.M, : op.K], self.trace.manifest.recipe.normal_max)
        r = self.trace.manifest.recipe
        salient_bits = r.salient_bits if r.salient_bits > r.act_bits else r.act_bits
        bits, packets = payload_bits(self._stats[name], r.act_bits, salient_bits, self.spec.noc.encoding)
        return [t for dst, share in dst_blocks
                for t in blockwise(src, dst, math.ceil(bits * share) * op.repeat, math.ceil(packets * share) * op.repeat,
                                   fold or op.repeat)]

    def vector(self, v: VectorOp, cores: tuple[int, ...]):
        """Run vector op ``v`` split across ``cores`` (the residual add also moves the residual stream)."""
        n = len(cores) // blocks(cores, v.repeat)  # the cores of one instance share its width
        pending = self.core.vector(dataclasses.replace(v, width=ceil_div(v.width, n)))
        transfers = []
        if v.op == "residual_add":
            transfers += blockwise(self._last_residual, cores, v.tokens * v.width * 16 * v.repeat, 0, v.repeat)
            self._last_residual = cores
        if v.op == "kv_write" and not self.core.chip.kv_on_chip:
            transfers.append(Transfer(cores, (self.mesh.edge_of(cores[0]),), v.tokens * v.width * v.bits * v.repeat))

        def make() -> Item:
            layer = _combine(v.name, [(pending()[0], n)], n)
            item = Item(dataclasses.replace(layer, M=v.tokens, K=v.width, N=v.width), cores, transfers)
            if v.op == "kv_write" and not self.core.chip.kv_on_chip:
                item.extra["dram.write_bits"] += v.tokens * v.width * v.bits * v.repeat
            return item
        return make


def head_counts(heads: int, cores: int) -> list[int]:
    """The heads (instances) each of ``cores`` cores runs, spread evenly, the first ones one more."""
    per, more = divmod(heads, cores)
    return [per + 1] * more + [per] * (cores - more)


def _track(cores: tuple[int, ...]) -> str:
    """A timeline track for a core group (an op's cores lie together along the snake)."""
    return f"core {cores[0]}" if len(cores) == 1 else f"cores {min(cores)}-{max(cores)}"


def blocks(cores: tuple[int, ...], repeat: int) -> int:
    """How many equal blocks of ``cores`` an op with ``repeat`` instances runs on: an op folded over
    r layers (a synthetic decode op) has each layer's cores in turn (gcd of the two; 1 for an op
    whose instances, such as attention heads, share its cores)."""
    return math.gcd(len(cores), repeat) if len(cores) > 1 else 1


def blockwise(src: tuple[int, ...], dst: tuple[int, ...], bits: int, packets: int, repeat: int) -> list[Transfer]:
    """A transfer of ``repeat`` instances, block by block when both ends split into per-instance
    blocks (each layer's sources to that layer's destinations; from DRAM, only the first layer's
    input comes from core 0, each later layer's from the layer before), else whole."""
    b = blocks(dst, repeat)
    d = len(dst) // b
    parts = [dst[i * d:(i + 1) * d] for i in range(b)]
    if b > 1 and src == (EDGE,):  # from DRAM into the first layer; each later layer from the one before
        srcs = [src] + parts[:-1]
    elif b > 1 and len(src) % b == 0:
        srcs = [src[i * (len(src) // b):(i + 1) * (len(src) // b)] for i in range(b)]
    else:
        return [Transfer(src, dst, bits, packets)]
    return [Transfer(si, di, ceil_div(bits, b), ceil_div(packets, b)) for si, di in zip(srcs, parts, strict=True)]


def _sum_dicts(dicts: list[tuple[dict, int]]) -> dict:
    out: Counter = Counter()
    for d, k in dicts:
        out.update({key: v * k for key, v in d.items()})
    return dict(out)


def _combine(name: str, layers: list[tuple[LayerResult, int]], n_cores: int) -> LayerResult:
    """One op's result from its cores' (each shard's result x how many cores ran it): counts
    summed, the slowest core's time, no time-proportional power (the chip charges it)."""
    slow = max((la for la, _ in layers), key=lambda la: la.cycles)
    memory = {lvl: _sum_dicts([(la.memory[lvl], k) for la, k in layers]) for lvl in slow.memory}
    actions = _sum_dicts([({a: v for a, v in la.energy_by_action_pj.items() if a not in TIMED}, k)
                          for la, k in layers])
    energy = _sum_dicts([({c: v for c, v in la.energy_pj.items() if c not in ("total", *TIMED)}, k)
                         for la, k in layers])
    if "dram" in energy:  # the device's background is the chip's, over the chip's time
        energy["dram"] = math.fsum(v for a, v in actions.items() if a.startswith("dram."))
    useful = sum(la.spatial_utilization * la.cycles * k for la, k in layers)  # PE-cycles of useful work
    return dataclasses.replace(
        slow, name=name, N=sum(la.N * k for la, k in layers), counters=_sum_dicts([(la.counters, k) for la, k in layers]),
        memory=memory, energy_pj=with_total(energy), energy_by_action_pj=actions,
        spatial_utilization=useful / (slow.cycles * n_cores) if slow.cycles else 0.0)


class ChipSchedule:
    """The chip's schedule of items over time (see the module docstring): per phase its cycles,
    per core its busy cycles, per link its bits; each item's NoC counts go into its ``extra``."""

    def __init__(self, chip: ChipReplay):
        self.chip, self.mesh, self.noc = chip, chip.mesh, chip.spec.noc
        self.core_free = np.zeros(self.mesh.cores, np.int64)
        self.busy = np.zeros(self.mesh.cores, np.int64)
        self.link_free = np.zeros(self.mesh.link_slots, np.int64)
        self.link_bits = np.zeros(self.mesh.link_slots, np.int64)
        self.now = 0
        #: Every item's chunks as busy intervals, one track per core group (the timeline).
        self.intervals: list[Interval] = []

    def run_phase(self, items: list[Item], shares: list[tuple[int, int]]) -> int:
        """Run one phase (the prefill in chunks, each ``(tokens, of the prompt's)``, or a decode
        step); returns its cycles."""
        start = self.now
        finish = np.zeros((len(items), len(shares)), np.int64)
        for j, share in enumerate(shares):
            for i, item in enumerate(items):
                ready = int(finish[i - 1, j]) if i else start
                arrive = max([ready] + [self._send(item, t, share, ready) for t in item.transfers])
                cores = np.asarray(item.cores)
                free = max(ready, int(self.core_free[cores].max()))
                begin = max(arrive, free)
                item.noc_wait += begin - free  # its cores idle, waiting for its input to cross the mesh
                took = ceil_div(item.layer.cycles * share[0], share[1])
                finish[i, j] = max([begin + took] + [self._send(item, t, share, begin + took, tail=True)
                                                     for t in item.after])
                self.intervals.append(Interval(_track(item.cores), item.layer.name + (f" [{j}]" if j else ""),
                                               begin, int(finish[i, j])))
                self.core_free[cores] = finish[i, j]
                each = ceil_div(took, blocks(item.cores, item.layer.repeat))  # a folded op: its layers in turn
                self.busy[cores] += each
                item.core_cycles += each * len(cores)
        self.now = int(finish.max(initial=start))
        return self.now - start

    def _send(self, item: Item, t: Transfer, share: tuple[int, int], ready: int, tail: bool = False) -> int:
        """Move a chunk's share of transfer ``t`` on the mesh; returns when the head of the last
        copy reached its core (the core's tile pipeline streams the flits in through its port), or
        with ``tail`` its last flit."""
        payload, packets = ceil_div(t.payload_bits * share[0], share[1]), ceil_div(t.packets * share[0], share[1])
        if payload <= 0:
            return ready
        bits, flits = wire_bits(payload, packets, self.chip.spec)
        route = self.chip.routes.route(t.src, t.dst, bits, flits)
        arrival, head = self._deliver(route, ready)
        self.link_bits[route.links] += route.bits
        item.extra["noc.link_bits"] += route.mesh_bits
        if route.board_bits:
            item.extra["noc.board_link_bits"] += route.board_bits
        item.extra["noc.router_bits"] += route.router_bits
        return int((arrival if tail else head).max(initial=ready))

    def _deliver(self, route: Route, ready: int) -> tuple[np.ndarray, np.ndarray]:
        """(tail arrival, head arrival) per destination of ``route`` sent at ``ready``, the links'
        occupancy updated: as when the route last met the same occupancy, else by the timing
        kernel (see :attr:`~neurosim.engine.chip_traffic.Route.timings`)."""
        occupied = np.maximum(self.link_free[route.links] - (ready + self.noc.router_cycles), 0).tobytes()
        seen = route.timings.get(occupied)
        if seen is not None:
            arrival, head, free = seen
            self.link_free[route.links] = free + ready
            return arrival + ready, head + ready
        d = deliver(self.mesh, shifted(route.routed, ready), self.noc.router_cycles, self.noc.link_cycles,
                    self.link_free, self.chip.link_lat, self.chip.link_cpf)
        if len(route.timings) < TIMINGS_PER_ROUTE:
            route.timings[occupied] = (d.arrival - ready, d.head_arrival - ready, self.link_free[route.links] - ready)
        return d.arrival, d.head_arrival
