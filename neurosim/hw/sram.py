"""An on-chip SRAM: banked, ported, fixed word width. Counts word accesses and bits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurosim.config.hw import SramSpec
from neurosim.units import ceil_div, kib_to_bits


@dataclass
class Sram:
    """Runtime SRAM: bandwidth and capacity from its spec, access counters."""

    name: str
    spec: SramSpec
    reads: int = 0
    writes: int = 0
    read_bits: int = 0
    write_bits: int = 0

    @property
    def capacity_bits(self) -> int:
        return kib_to_bits(self.spec.size_kib)

    @property
    def bw_bits_per_cycle(self) -> int:
        """Peak bits per cycle: every port of every bank moves one word."""
        return self.spec.banks * self.spec.ports * self.spec.width_bits

    def words(self, bits: int) -> int:
        """Word accesses needed to move ``bits`` in one transfer."""
        return ceil_div(bits, self.spec.width_bits)

    def cycles(self, bits: int) -> int:
        """Cycles to move ``bits`` at peak bandwidth (0 for nothing)."""
        return ceil_div(bits, self.bw_bits_per_cycle)

    def read(self, transfers: int, bits_each: int) -> None:
        """Count ``transfers`` reads of ``bits_each`` bits (each rounded up to whole words)."""
        self.reads += transfers * self.words(bits_each)
        self.read_bits += transfers * bits_each

    def write(self, transfers: int, bits_each: int) -> None:
        """Count ``transfers`` writes of ``bits_each`` bits."""
        self.writes += transfers * self.words(bits_each)
        self.write_bits += transfers * bits_each

    def read_each(self, bits_each: np.ndarray) -> None:
        """Count one read of each entry of ``bits_each`` (as :meth:`read` once per entry)."""
        self.reads += int((-(-bits_each // self.spec.width_bits)).sum())
        self.read_bits += int(bits_each.sum())

    def write_each(self, bits_each: np.ndarray) -> None:
        """Count one write of each entry of ``bits_each`` (as :meth:`write` once per entry)."""
        self.writes += int((-(-bits_each // self.spec.width_bits)).sum())
        self.write_bits += int(bits_each.sum())

    def add(self, other: Sram, times: int = 1) -> None:
        """Add ``times`` x the counts of ``other`` (a scratch SRAM that recorded one tile)."""
        self.reads += times * other.reads
        self.writes += times * other.writes
        self.read_bits += times * other.read_bits
        self.write_bits += times * other.write_bits

    def scratch(self) -> Sram:
        """An empty SRAM of the same spec, for recording a pattern of accesses once."""
        return Sram(self.name, self.spec)

    def counters(self) -> dict[str, int]:
        return {f"{self.name}.read": self.reads, f"{self.name}.write": self.writes}

    def memory(self) -> dict[str, int]:
        return {"reads": self.reads, "writes": self.writes, "read_bits": self.read_bits, "write_bits": self.write_bits}
