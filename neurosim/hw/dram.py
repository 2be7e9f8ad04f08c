"""Off-chip DRAM: a latency plus a bandwidth-limited burst transfer; counts bits moved."""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.config.hw import DramSpec
from neurosim.units import BITS_PER_BYTE, ceil_div, gbps_to_bits_per_cycle, ns_to_cycles


@dataclass
class Dram:
    """Runtime DRAM channel at a given clock."""

    spec: DramSpec
    clock_mhz: float
    level = "dram"  # its memory level in the results
    reads: int = 0
    writes: int = 0
    read_bits: int = 0
    write_bits: int = 0

    @property
    def latency_cycles(self) -> int:
        return ns_to_cycles(self.spec.latency_ns, self.clock_mhz)

    @property
    def bits_per_cycle(self) -> float:
        return gbps_to_bits_per_cycle(self.spec.bandwidth_gbps, self.clock_mhz)

    def burst_bits(self, bits: int) -> int:
        """Bits actually moved: whole bursts."""
        burst = self.spec.burst_bytes * BITS_PER_BYTE
        return ceil_div(bits, burst) * burst

    def transfer_cycles(self, bits: int) -> int:
        """Cycles of one transfer of ``bits`` (rounded up to bursts): latency + serialisation."""
        if bits <= 0:
            return 0
        return self.latency_cycles + int(-(-self.burst_bits(bits) // self.bits_per_cycle))

    def read(self, bits: int) -> None:
        """Count one read transfer."""
        if bits > 0:
            self.reads += ceil_div(self.burst_bits(bits), self.spec.burst_bytes * BITS_PER_BYTE)
            self.read_bits += self.burst_bits(bits)

    def write(self, bits: int) -> None:
        """Count one write transfer."""
        if bits > 0:
            self.writes += ceil_div(self.burst_bits(bits), self.spec.burst_bytes * BITS_PER_BYTE)
            self.write_bits += self.burst_bits(bits)

    def counters(self) -> dict[str, int]:
        return {"dram.read_bits": self.read_bits, "dram.write_bits": self.write_bits}

    def memory(self) -> dict[str, int]:
        return {"reads": self.reads, "writes": self.writes, "read_bits": self.read_bits, "write_bits": self.write_bits}
