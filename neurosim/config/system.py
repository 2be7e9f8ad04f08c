"""The chip a core is part of (``system:``), the network between its cores (``noc:``) and the
board of such chips (``board:``).

A config describes one core (the ``acc_if`` or ``mac`` array with its SRAMs); ``system.mesh``
makes the chip a ``W x H`` mesh of such cores (``[1, 1]``, the default, is one core: today's
single array, with identical results); ``board.chips`` joins ``X x Y`` such chips by chip-to-chip
links (``[1, 1]``, the default, is one chip). Sources of the defaults: docs/model.md, "Many-core
chip" and "Boards of chips".
"""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.config.schema import spec_field

WIRE_KINDS = ("repeated", "delay_optimal", "low_swing")
#: Largest mesh side: 128 x 128 = 16,384 cores (TrueNorth has 4,096, Loihi 128).
MESH_SIDE = dict(lo=1, hi=128)
#: Largest board side: 32 x 32 = 1,024 chips (Groq serves a 70B model on 576 chips).
BOARD_SIDE = dict(lo=1, hi=32)
TOPOLOGIES = ("ring", "mesh", "all_to_all")
#: Most cores on a board (chips x cores per chip): the simulator keeps a few numbers per core and
#: per link, and a placement order over them all; 2^20 is 1,024 chips of 32 x 32 cores.
MAX_BOARD_CORES = 1 << 20


@dataclass(frozen=True)
class SystemSpec:
    """A 2-D mesh of identical cores, and where the weights live."""

    mesh: tuple[int, int] = spec_field(
        (1, 1), doc="cores along x and y ([1, 1]: one core, the single array)", **MESH_SIDE)
    weights: str = spec_field(
        "streamed", doc="streamed: each op loads its weight tiles from DRAM (one core only); resident: the "
        "mapper places every weight matrix in the cores' weight SRAMs before the measured inference (that load "
        "is reported apart, not in the per-token figures)", choices=("streamed", "resident"))
    power_gating: str = spec_field(
        "none", doc="none: every core of the mesh leaks for the whole run; unused: the cores that hold no "
        "weights and run nothing are off; idle: a core leaks only while it works (perfect gating, no wake-up "
        "cost: a lower bound)", choices=("none", "unused", "idle"))
    prefill_chunk_tokens: int = spec_field(
        8, doc="resident: the prompt streams through the ops' cores in chunks of this many tokens, so that every "
        "op's cores work on one chunk while the next op's work on the previous one (layer pipelining)",
        unit="tokens", lo=1, hi=1 << 20)


@dataclass(frozen=True)
class NocSpec:
    """The mesh network: XY-routed, virtual cut-through, one router per core."""

    link_width_bits: int = spec_field(
        64, doc="bits per link per cycle (one flit; the 64-bit links of the SWIFT 8x8 mesh NoC)", unit="bit",
        lo=1, hi=4096)
    router_cycles: int = spec_field(
        2, doc="router pipeline per hop (a two-stage router: lookahead routing with speculative switch "
        "allocation)", unit="cycle", lo=1, hi=64)
    link_cycles: int = spec_field(1, doc="link traversal per hop", unit="cycle", lo=1, hi=64)
    link_mm: float | str = spec_field(
        "auto", doc="link length between neighbouring routers; auto = the side of a square core of the core's "
        "area", unit="mm", lo=0.001, hi=100, auto=True)
    wire: str = spec_field("repeated", doc="wire model of the links in the energy table", choices=WIRE_KINDS)
    activity: float = spec_field(0.5, doc="link toggle activity (0.5 for random data)", lo=0, hi=1)
    header_bits: int = spec_field(
        16, doc="routing header per packet (destination x and y of a 128 x 128 mesh and a packet type)",
        unit="bit", lo=0, hi=1024)
    packet_payload_bits: int = spec_field(
        256, doc="payload of a full packet (a 64-bit header flit and four payload flits)", unit="bit",
        lo=1, hi=1 << 16)
    encoding: str = spec_field(
        "auto", doc="how activation codes travel, on both designs: dense = every code at its stored width; "
        "events = (column index, code) per nonzero code, packed in packets; auto = the smaller of the two per "
        "message; per_spike = one packet (header + column index) per spike (acc_if only: literal address-event "
        "spikes)", choices=("auto", "dense", "events", "per_spike"))
    multicast: bool = spec_field(
        True, doc="routers copy a packet where the XY paths to its destinations fork (false: one copy per "
        "destination from the source)")


@dataclass(frozen=True)
class BoardSpec:
    """Chips joined by chip-to-chip links; the defaults are a UCIe 1.0 standard-package link
    (docs/model.md, "Boards of chips")."""

    chips: tuple[int, int] = spec_field(
        (1, 1), doc="chips along x and y ([1, 1]: one chip); chip c = y * X + x, the order the layers fill them",
        **BOARD_SIDE)
    topology: str = spec_field(
        "mesh", doc="ring: each chip linked to the next and the previous in chip order (shortest way round); mesh: "
        "an X x Y mesh of chips, XY-routed; all_to_all: a direct link between every two chips", choices=TOPOLOGIES)
    tensor_parallel: int = spec_field(
        1, doc="chips that share every matrix of their layers column-wise (tensor parallelism: each op's outputs "
        "split across them, its input gathered to all of them); the chips form groups of this many consecutive "
        "chips, which hold consecutive layers (pipeline parallelism)", lo=1, hi=1024)
    link_bandwidth_gbps: float = spec_field(
        32.0, doc="bandwidth of one chip-to-chip link per direction (UCIe 1.0 standard package, a x16 module at "
        "16 GT/s)", unit="GB/s", lo=0.001, hi=100000)
    link_latency_ns: float = spec_field(
        2.0, doc="latency of one chip-to-chip link crossing (UCIe: about 2 ns round trip, taken as the one-way "
        "figure)", unit="ns", lo=0, hi=1e6)
    link_pj_per_bit: float = spec_field(
        0.5, doc="energy per bit crossing one chip-to-chip link (UCIe standard package at up to 16 GT/s)",
        unit="pJ/bit", lo=0, hi=1000)
