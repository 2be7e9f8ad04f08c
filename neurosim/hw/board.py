"""A board: chips, each a mesh of cores, joined by chip-to-chip links in a ring, a mesh or all to all.

Core ids run chip by chip: core ``c * chip.cores + i`` is core ``i`` of chip ``c``. Each chip's
mesh keeps its own link ids (offset by ``c * chip.link_slots``); the board's links come
after all of them. Each chip talks to the board, and to its own DRAM, through one port: the router
of its core 0 (its *edge*). A message between chips goes along its chip's mesh to the edge, along the
board's links from chip to chip, and along the other chip's mesh from its edge: one path, so the
mesh's timing kernel and counts (:mod:`neurosim.hw.noc`) serve the board unchanged, each link with
its own latency and cycles per flit. The board's routes:

- ``ring``: chips in index order, each linked to the next and to the previous; the shorter way
  round (clockwise on a tie). Link ``2 c`` leads from chip c to c + 1, ``2 c + 1`` to c - 1.
- ``mesh``: an ``X x Y`` mesh of chips, XY-routed like the cores' mesh.
- ``all_to_all``: one direct link from every chip to every other (link ``s * n + d``).

A board of one chip is that chip's mesh: the same core ids, link ids and routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from neurosim.hw.noc import Mesh


@dataclass(frozen=True)
class Board:
    """``chips_x x chips_y`` chips of ``chip`` meshes, joined in ``topology``."""

    chip: Mesh
    chips_x: int = 1
    chips_y: int = 1
    topology: str = "mesh"

    @property
    def chips(self) -> int:
        return self.chips_x * self.chips_y

    @property
    def cores(self) -> int:
        return self.chips * self.chip.cores

    @property
    def board_base(self) -> int:
        """The id of the board's first link (every chip's mesh links come before)."""
        return self.chips * self.chip.link_slots

    @property
    def board_slots(self) -> int:
        n = self.chips
        if n == 1:
            return 0
        return {"ring": 2 * n, "mesh": 4 * n, "all_to_all": n * n}[self.topology]

    @property
    def link_slots(self) -> int:
        return self.board_base + self.board_slots

    @cached_property
    def _chip_grid(self) -> Mesh:
        return Mesh(self.chips_x, self.chips_y)

    def chip_of(self, core: int) -> int:
        return core // self.chip.cores

    def edge_of(self, core: int) -> int:
        """The port core of ``core``'s chip (where its DRAM and its chip-to-chip links attach)."""
        return self.chip_of(core) * self.chip.cores

    def chip_route(self, src: int, dst: int) -> list[int]:
        """The board links from chip ``src`` to chip ``dst`` (see the module docstring)."""
        if src == dst:
            return []
        base, n = self.board_base, self.chips
        if self.topology == "all_to_all":
            return [base + src * n + dst]
        if self.topology == "mesh":
            return [base + link for link in self._chip_grid.route(src, dst)]
        forward = (dst - src) % n
        step, d = (1, 0) if forward <= n - forward else (-1, 1)
        out, c = [], src
        while c != dst:
            out.append(base + 2 * c + d)
            c = (c + step) % n
        return out

    def route(self, src: int, dst: int) -> list[int]:
        """The links from core ``src`` to core ``dst`` (empty when they are one core)."""
        cs, cd, per = self.chip_of(src), self.chip_of(dst), self.chip.cores
        slots = self.chip.link_slots
        if cs == cd:
            return [cs * slots + link for link in self.chip.route(src - cs * per, dst - cd * per)]
        out = [cs * slots + link for link in self.chip.route(src - cs * per, 0)]
        out += self.chip_route(cs, cd)
        return out + [cd * slots + link for link in self.chip.route(0, dst - cd * per)]

    def tree(self, src: int, dsts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The multicast tree from ``src`` to ``dsts`` (as :meth:`neurosim.hw.noc.Mesh.tree`): on
        the source chip to its destinations and its edge, over the board's links to every other
        destination chip (the union of the chip routes), and on each such chip from its edge."""
        dsts = np.asarray(dsts, np.int64)
        per, slots, cs = self.chip.cores, self.chip.link_slots, self.chip_of(src)
        if self.chips == 1:
            return self.chip.tree(src, dsts)
        chip, local = dsts // per, dsts % per
        remote = [int(c) for c in np.unique(chip) if c != cs]
        here = chip == cs
        links, parents, reach_here = self.chip.tree(src - cs * per, np.append(local[here], 0) if remote else local[here])
        out_l, out_p = [links + cs * slots], [parents]
        reach = np.full(len(dsts), -1, np.int64)
        reach[here] = reach_here[:int(here.sum())]
        n = len(links)
        index: dict[int, int] = {}
        into = {}
        for c in remote:  # the board's links: each chip route, links shared where routes share them
            parent = int(reach_here[-1])
            for link in self.chip_route(cs, c):
                if link not in index:
                    index[link] = n
                    out_l.append(np.asarray([link]))
                    out_p.append(np.asarray([parent]))
                    n += 1
                parent = index[link]
            into[c] = parent
        for c in remote:
            mine = chip == c
            sub_l, sub_p, sub_r = self.chip.tree(0, local[mine])
            out_l.append(sub_l + c * slots)
            out_p.append(np.where(sub_p < 0, into[c], sub_p + n))
            reach[mine] = np.where(sub_r < 0, into[c], sub_r + n)
            n += len(sub_l)
        return np.concatenate(out_l).astype(np.int64), np.concatenate(out_p).astype(np.int64), reach

    def link_timing(self, link_cycles: int, board_cycles: int, board_cycles_per_flit: int) -> tuple[np.ndarray,
                                                                                                     np.ndarray]:
        """(latency, cycles per flit) per link: the mesh's links ``link_cycles`` and one flit per
        cycle, the board's its own."""
        lat = np.full(self.link_slots, link_cycles, np.int64)
        cpf = np.ones(self.link_slots, np.int64)
        lat[self.board_base:], cpf[self.board_base:] = board_cycles, board_cycles_per_flit
        return lat, cpf
