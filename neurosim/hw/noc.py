"""The 2-D mesh network-on-chip: geometry, XY routes and multicast trees, the messages it carries
and their counts.

Cores sit at ``(x, y)`` of a ``W x H`` mesh, core id ``y * W + x``, each with a router joined to
its four neighbours by one link per direction. Routing is dimension-ordered (XY: along the row
first, then along the column), deadlock-free on a mesh without virtual channels. A *message* is
the packets of one transfer from one core to a set of cores, sent back to back; with multicast
the routers copy it where the XY paths to its destinations fork (the union of those paths is a
tree, each of its links crossed once), without multicast the source sends one copy per
destination. Counts: ``noc.link_bits`` (bits x links crossed) and ``noc.router_bits`` (bits x
routers crossed: every link's two ends, shared at a fork). How long messages take is
:mod:`neurosim.kernels.noc_sim` (and its simpy reference :mod:`neurosim.engine.noc_reference`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurosim.errors import NeurosimError
from neurosim.kernels.noc_sim import key_span, noc_kernel
from neurosim.kernels.xy_tree import xy_tree

#: The timing kernel's heap keys are int64: (cycle - first) * (crossings + 1) + crossing.
KEY_LIMIT = 1 << 62

#: Link direction offsets: link id = core id * 4 + direction.
EAST, WEST, NORTH, SOUTH = range(4)
_STEP = {EAST: (1, 0), WEST: (-1, 0), NORTH: (0, 1), SOUTH: (0, -1)}


@dataclass(frozen=True)
class Mesh:
    """A ``width x height`` mesh of cores."""

    width: int
    height: int

    @property
    def cores(self) -> int:
        return self.width * self.height

    @property
    def link_slots(self) -> int:
        """Size of a per-link array (four directions per router, the edge ones unused)."""
        return 4 * self.cores

    def xy(self, core: int) -> tuple[int, int]:
        return core % self.width, core // self.width

    def link_end(self, link: int) -> int:
        """The core a link leads to."""
        x, y = self.xy(link // 4)
        dx, dy = _STEP[link % 4]
        return (y + dy) * self.width + x + dx

    def route(self, src: int, dst: int) -> list[int]:
        """The links of the XY path from ``src`` to ``dst`` (empty when they are one core)."""
        (x, y), (tx, ty) = self.xy(src), self.xy(dst)
        links = []
        while x != tx:
            d = EAST if tx > x else WEST
            links.append((y * self.width + x) * 4 + d)
            x += 1 if d == EAST else -1
        while y != ty:
            d = NORTH if ty > y else SOUTH
            links.append((y * self.width + x) * 4 + d)
            y += 1 if d == NORTH else -1
        return links

    def hops(self, src: int, dst: int) -> int:
        (x, y), (tx, ty) = self.xy(src), self.xy(dst)
        return abs(tx - x) + abs(ty - y)

    def tree(self, src: int, dsts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The multicast tree of the XY paths from ``src`` to ``dsts``: (link, parent edge or -1)
        per edge, and per destination the edge that reaches it (-1: ``src`` itself). Built segment
        by segment, each link once: the row from the source out to the farthest destination column
        east and west, then up and down each destination column."""
        return xy_tree(self.width, src, np.asarray(dsts, np.int64), EAST, WEST, NORTH, SOUTH)


@dataclass(frozen=True)
class Message:
    """One transfer: ``bits`` in ``flits`` from core ``src`` to the cores ``dsts``, ready to leave
    at cycle ``ready``."""

    src: int
    dsts: tuple[int, ...]
    bits: int
    flits: int
    ready: int = 0


@dataclass(frozen=True)
class Routed:
    """Messages as the timing kernel takes them: each message a tree of link crossings (edges)
    in topological order. ``edge_link[e]``, ``edge_parent[e]`` (an edge index, or -1 at the
    source), ``edge_msg[e]``; ``msg_ready``/``msg_flits`` per message; ``dest_edge[d]`` the edge
    that reaches destination ``d`` (-1: the source itself), ``dest_msg[d]`` its message."""

    edge_link: np.ndarray
    edge_parent: np.ndarray
    edge_msg: np.ndarray
    msg_ready: np.ndarray
    msg_flits: np.ndarray
    dest_edge: np.ndarray
    dest_msg: np.ndarray
    msg_bits: np.ndarray


def _copies(mesh: Mesh, src: int, dsts: tuple[int, ...], multicast: bool) -> tuple[list, np.ndarray, np.ndarray]:
    """(copies, each (links, parents within the copy); per destination its copy and the edge of
    that copy that reaches it, or -1): one copy, a tree, with multicast, else one chain per
    destination."""
    if multicast:
        links, parents, reach = mesh.tree(src, np.asarray(dsts))
        return [(links, parents)], np.zeros(len(dsts), np.int64), reach
    copies = []
    for d in dsts:
        chain = np.asarray(mesh.route(src, d), np.int64)
        copies.append((chain, np.arange(-1, len(chain) - 1)))
    return copies, np.arange(len(dsts)), np.asarray([len(c) - 1 for c, _ in copies], np.int64)


def route_messages(mesh: Mesh, messages: list[Message], multicast: bool) -> Routed:
    """Lay each message out as link crossings (see :class:`Routed`); without multicast a message
    to n cores is n copies, each its own chain (they share the source's links in turn)."""
    link, parent, emsg, dest_edge, dest_msg = [], [], [], [], []
    ready, flits, bits = [], [], []
    edges = 0
    for m in messages:
        copies, copy_of, reach = _copies(mesh, m.src, m.dsts, multicast)
        base = np.zeros(len(copies), np.int64)
        for i, (links, parents) in enumerate(copies):
            base[i] = edges
            link.append(links)
            parent.append(np.where(parents < 0, -1, parents + edges))
            emsg.append(np.full(len(links), len(ready) + i, np.int64))
            edges += len(links)
        dest_edge.append(np.where(reach < 0, -1, reach + base[copy_of]))
        dest_msg.append(len(ready) + copy_of)
        ready += [m.ready] * len(copies)
        flits += [m.flits] * len(copies)
        bits += [m.bits] * len(copies)
    cat = lambda v: np.concatenate(v).astype(np.int64) if v else np.zeros(0, np.int64)  # noqa: E731
    i64 = lambda v: np.asarray(v, dtype=np.int64)  # noqa: E731
    return Routed(cat(link), cat(parent), cat(emsg), i64(ready), i64(flits), cat(dest_edge), cat(dest_msg),
                  i64(bits))


def link_bits(mesh: Mesh, routed: Routed) -> np.ndarray:
    """Bits carried by each link (``[mesh.link_slots]``)."""
    return np.bincount(routed.edge_link, weights=routed.msg_bits[routed.edge_msg],
                       minlength=mesh.link_slots).astype(np.int64)


def router_bits(routed: Routed) -> int:
    """Bits x routers crossed: each copy enters the network at its source router and every link
    delivers its bits to one more router."""
    copies = np.unique(routed.edge_msg[routed.edge_parent < 0])
    return int(routed.msg_bits[copies].sum() + routed.msg_bits[routed.edge_msg].sum())


@dataclass(frozen=True)
class Delivery:
    """When routed messages arrive: ``arrival[d]`` per destination (the cycle its last flit
    reached the core) and ``head_arrival[d]`` (its first flit), ``edge_start``/``edge_wait`` per
    link crossing (head on the link; cycles it waited for it), ``link_busy`` per link."""

    arrival: np.ndarray
    head_arrival: np.ndarray
    edge_start: np.ndarray
    edge_wait: np.ndarray
    link_busy: np.ndarray

    @property
    def contention_cycles(self) -> int:
        """Cycles heads spent waiting for busy links, summed over crossings."""
        return int(self.edge_wait.sum())


def arrivals(routed: Routed, edge_start: np.ndarray, edge_tail: np.ndarray, router_cycles: int,
             link_lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(tail, head) arrival cycle per destination: the last link's tail (head) time + its latency
    + the destination router, or the ready cycle for the source itself."""
    e = routed.dest_edge
    last = np.append(routed.edge_link, 0)[e]  # index -1 (the source itself) reads the appended 0
    lat = link_lat[last] + router_cycles
    ready = routed.msg_ready[routed.dest_msg]
    tail = np.where(e < 0, ready, np.append(edge_tail, 0)[e] + lat)
    head = np.where(e < 0, ready, np.append(edge_start, 0)[e] + lat)
    return tail, head


def link_timing(mesh: Mesh, link_cycles: int, link_lat: np.ndarray | None = None,
                link_cpf: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(latency, cycles per flit) per link: the given arrays, or every link ``link_cycles`` and 1."""
    lat = np.full(mesh.link_slots, link_cycles, np.int64) if link_lat is None else link_lat
    cpf = np.ones(mesh.link_slots, np.int64) if link_cpf is None else link_cpf
    return lat, cpf


def deliver(mesh: Mesh, routed: Routed, router_cycles: int, link_cycles: int, free: np.ndarray | None = None,
            link_lat: np.ndarray | None = None, link_cpf: np.ndarray | None = None) -> Delivery:
    """Time routed messages on the mesh (:func:`neurosim.kernels.noc_sim.noc_kernel`); ``free``
    (per link, the cycle it is next free) carries link occupancy from earlier messages and is
    updated in place; ``link_lat`` / ``link_cpf`` give links their own latency and cycles per
    flit (default: every link ``link_cycles`` and one flit per cycle)."""
    free = np.zeros(mesh.link_slots, np.int64) if free is None else free
    lat, cpf = link_timing(mesh, link_cycles, link_lat, link_cpf)
    span = key_span(routed.edge_link, routed.edge_msg, routed.msg_ready, routed.msg_flits, router_cycles, lat, cpf, free)
    if span >= KEY_LIMIT // (len(routed.edge_link) + 1):
        raise NeurosimError(f"the network's times span up to {span:.3g} cycles over {len(routed.edge_link)} link "
                            "crossings, beyond the timing kernel's int64 keys: a link too slow for the traffic")
    start, wait, busy, tail = noc_kernel(routed.edge_link, routed.edge_parent, routed.edge_msg, routed.msg_ready,
                                         routed.msg_flits, router_cycles, lat, cpf, free)
    t_arr, h_arr = arrivals(routed, start, tail, router_cycles, lat)
    return Delivery(t_arr, h_arr, start, wait, busy)


def zero_load_cycles(hops: int, flits: int, router_cycles: int, link_cycles: int) -> int:
    """A lone message's cycles from ready to its last flit at a core ``hops`` away:
    ``(hops + 1)`` routers, ``hops`` links, one cycle per flit (0 hops: no network)."""
    return (hops + 1) * router_cycles + hops * link_cycles + flits if hops else 0


@dataclass
class NocPort:
    """A core's port onto the mesh, where a single core has its DRAM channel: a tile's inputs
    arrive through it and its outputs leave, one flit per cycle after a router and a link. The
    chip counts and prices what crosses the mesh hop by hop, so the port has no priced counters;
    its transfers are reported as the memory level ``noc_port``."""

    width_bits: int
    latency_cycles: int
    level = "noc_port"
    reads: int = 0
    writes: int = 0
    read_bits: int = 0
    write_bits: int = 0

    def burst_bits(self, bits: int) -> int:
        """Bits moved: whole flits."""
        return -(-bits // self.width_bits) * self.width_bits

    def transfer_cycles(self, bits: int) -> int:
        return 0 if bits <= 0 else self.latency_cycles + -(-bits // self.width_bits)

    def read(self, bits: int) -> None:
        if bits > 0:
            self.reads += 1
            self.read_bits += self.burst_bits(bits)

    def write(self, bits: int) -> None:
        if bits > 0:
            self.writes += 1
            self.write_bits += self.burst_bits(bits)

    def counters(self) -> dict[str, int]:
        return {}

    def memory(self) -> dict[str, int]:
        return {"reads": self.reads, "writes": self.writes, "read_bits": self.read_bits, "write_bits": self.write_bits}
