"""What crosses the mesh of a many-core chip, and what it costs.

An op's input codes travel from the cores that produced them to the op's cores, encoded by
``noc.encoding`` on both designs: ``dense`` (every code at the stored width, plus each token's fp16
scale), ``events`` ((column index, code) per nonzero code, plus the scales), ``auto`` (the smaller
of the two, per tensor), or ``per_spike`` (acc_if: one packet of header + column index per spike,
literal address events). Dense codes go at the trace's normal width, with each salient code as a
side entry (column index + salient code), the mixed-width format of the IF spike memory; the network
format is the sender's choice, so both designs use the same one. The payload goes in packets of
``packet_payload_bits``, each with a ``header_bits`` header (``per_spike``: one packet per spike),
and in flits of ``link_width_bits``. The fp16 residual stream travels as 16-bit values. Each source
core sends its share of the bits (the columns it produced) to every destination core, as one
multicast message or one copy per destination.

Prices: a bit crossing a link costs the wire model's pJ per bit per mm x the link length x the
activity; a bit entering a router costs the table's ``noc_router_bit``. Time: each link's latency
and cycles per flit, the board's chip-to-chip links from their own bandwidth and latency
(:func:`board_timing`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from neurosim.config.energy_table import EnergyTable
from neurosim.config.hw import HwSpec
from neurosim.energy import scaling as sc
from neurosim.energy.voltage import operating_point
from neurosim.errors import ConfigError, Problem
from neurosim.hw.board import Board
from neurosim.hw.noc import Message, Routed, route_messages, router_bits
from neurosim.kernels.acc_tile import code_totals
from neurosim.units import SCALE_BITS, ceil_div


@dataclass(frozen=True)
class TensorStats:
    """What an encoding needs of a code tensor: its shape, its nonzero and salient codes, and
    its spikes (sum of |code|)."""

    tokens: int
    width: int
    nonzero: int
    salient: int
    spikes: int


def tensor_stats(codes: np.ndarray, normal_max: int) -> TensorStats:
    """The stats of a code tensor (one compiled pass: a 16k-token input of 11,008 channels is
    180 MB of int8 codes, read once with no widened copy)."""
    nonzero, salient, spikes = code_totals(codes, normal_max)
    return TensorStats(codes.shape[0], codes.shape[1], int(nonzero), int(salient), int(spikes))


def payload_bits(stats: TensorStats, act_bits: int, salient_bits: int, encoding: str) -> tuple[int, int]:
    """(payload bits, packets) of a code tensor under ``encoding`` (module docstring), before
    headers; ``packets`` is 0 for the packed encodings (their packets follow from the payload)."""
    index_bits = max(1, math.ceil(math.log2(stats.width)))
    side = stats.salient * (index_bits + salient_bits)  # salient codes as (column, code) side entries
    dense = stats.tokens * stats.width * act_bits + side + stats.tokens * SCALE_BITS
    events = stats.nonzero * (index_bits + act_bits) + stats.salient * (salient_bits - act_bits) + \
        stats.tokens * SCALE_BITS
    if encoding == "per_spike":
        return stats.spikes * index_bits + stats.tokens * SCALE_BITS, stats.spikes + stats.tokens
    return {"dense": dense, "events": events, "auto": min(dense, events)}[encoding], 0


def wire_bits(payload: int, packets: int, spec: HwSpec) -> tuple[int, int]:
    """(bits on the wire with their headers, flits) of a payload."""
    noc = spec.noc
    packets = packets or ceil_div(payload, noc.packet_payload_bits)
    bits = payload + packets * noc.header_bits
    return bits, max(packets, ceil_div(bits, noc.link_width_bits))


def noc_prices(spec: HwSpec, table: EnergyTable, core_area_mm2: float | None) -> dict[str, float]:
    """pJ per ``noc.link_bits`` and per ``noc.router_bits`` (``link_mm: auto``: the side of a
    square core of ``core_area_mm2``)."""
    noc = spec.noc
    if "noc_router_bit" not in table:
        raise ConfigError(table.source_file, Problem("entries.noc_router_bit",
                                                     "needed by a mesh of cores (system.mesh larger than [1, 1])"))
    if noc.link_mm == "auto" and core_area_mm2 is None:
        raise ConfigError(spec.name, Problem("noc.link_mm", f"auto needs the area model, which the {spec.technology} "
                                             "table lacks: give the link length in mm"))
    link_mm = math.sqrt(core_area_mm2) if noc.link_mm == "auto" else float(noc.link_mm)
    scale = operating_point(spec, table).dynamic_scale
    return {"noc.link_bits": sc.wire_pj_per_bit(table, noc.wire, link_mm, noc.activity) * scale,
            "noc.router_bits": table["noc_router_bit"] * scale}


def messages(src: tuple[int, ...], dst: tuple[int, ...], bits: int, flits: int, ready: int) -> list[Message]:
    """Each source core's share of ``bits`` (and of the flits) to every destination core."""
    n = len(src)
    return [Message(s, dst, ceil_div(bits, n), max(1, ceil_div(flits, n)), ready) for s in src]


@dataclass
class Route:
    """One transfer laid out on the network, once: its messages (ready at cycle 0), the links it
    uses with the bits each carries, its router bits, and its timings seen so far."""

    routed: Routed
    links: np.ndarray
    bits: np.ndarray
    router_bits: int
    #: ``bits`` summed over the chips' mesh links, and over the board's chip-to-chip links.
    mesh_bits: int
    board_bits: int
    #: Its deliveries seen so far, by the occupancy of its links when it was sent: each link's
    #: next free cycle past the first cycle a head can ask for it (``ready + router``), clipped
    #: at 0, as bytes -> (tail arrival, head arrival) per destination and each link's next free
    #: cycle, all relative to the ready cycle. The kernel reads a link's free cycle only as
    #: ``max(request, free)`` with every request at or past ``ready + router``, and all its
    #: times are relative to the ready cycle, so the same occupancy gives the same delivery
    #: (decode steps and prompt chunks send the same transfers into the same patterns).
    timings: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)


class RouteCache:
    """Routes by (sources, destinations, bits, flits): the chip sends the same transfer once per
    chunk and decode step; only its ready cycle, and the links' occupancy, change. A transfer's
    layout on the links depends on its cores alone (every source's message carries the same
    share of the bits), so it is laid out once per (sources, destinations) and only its sizes
    change with the bits."""

    def __init__(self, mesh: Board, multicast: bool):
        self.mesh, self.multicast = mesh, multicast
        self._routes: dict[tuple, Route] = {}
        self._layouts: dict[tuple, tuple[Routed, np.ndarray, np.ndarray, int]] = {}

    def _layout(self, src: tuple[int, ...], dst: tuple[int, ...]) -> tuple[Routed, np.ndarray, np.ndarray, int]:
        """(the messages of one bit and one flit each, the links used, the crossings of each,
        the router crossings in all)."""
        if (src, dst) not in self._layouts:
            routed = route_messages(self.mesh, messages(src, dst, len(src), 1, 0), self.multicast)
            per_link = np.bincount(routed.edge_link)
            links = np.flatnonzero(per_link)
            self._layouts[src, dst] = (routed, links, per_link[links].astype(np.int64), router_bits(routed))
        return self._layouts[src, dst]

    def route(self, src: tuple[int, ...], dst: tuple[int, ...], bits: int, flits: int) -> Route:
        key = (src, dst, bits, flits)
        if key not in self._routes:
            unit, links, crossings, routers = self._layout(src, dst)
            (m,) = messages(src[:1], dst, ceil_div(bits, len(src)), max(1, ceil_div(flits, len(src))), 0)
            routed = Routed(unit.edge_link, unit.edge_parent, unit.edge_msg, unit.msg_ready,
                            np.full_like(unit.msg_flits, m.flits), unit.dest_edge, unit.dest_msg,
                            np.full_like(unit.msg_bits, m.bits))
            link_bits = crossings * m.bits
            board = int(link_bits[links >= self.mesh.board_base].sum())
            self._routes[key] = Route(routed, links, link_bits, routers * m.bits, int(link_bits.sum()) - board, board)
        return self._routes[key]


def shifted(r: Routed, ready: int) -> Routed:
    """The routed messages ready at cycle ``ready``."""
    return Routed(r.edge_link, r.edge_parent, r.edge_msg, r.msg_ready + ready, r.msg_flits, r.dest_edge,
                  r.dest_msg, r.msg_bits)


def board_timing(board: Board, spec: HwSpec) -> tuple[np.ndarray, np.ndarray]:
    """(latency, cycles per flit) per link: the mesh's from ``noc``, a chip-to-chip link's
    ``board.link_latency_ns`` (at least a cycle) and a flit of ``noc.link_width_bits`` at
    ``board.link_bandwidth_gbps`` (at most one flit per cycle: the routers' rate)."""
    b, clock_hz = spec.board, spec.clock_mhz * 1e6
    latency = max(1, math.ceil(b.link_latency_ns * 1e-9 * clock_hz))
    per_flit = max(1, math.ceil(spec.noc.link_width_bits * clock_hz / (b.link_bandwidth_gbps * 8e9)))
    return board.link_timing(spec.noc.link_cycles, latency, per_flit)
