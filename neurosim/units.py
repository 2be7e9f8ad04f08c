"""Unit helpers: cycles, bits, bytes, picojoules. Time inside the engine is integer cycles;
seconds appear only in reports."""

from __future__ import annotations

BITS_PER_BYTE = 8
BYTES_PER_KIB = 1024
FP16_BITS = 16
SCALE_BITS = FP16_BITS  # an fp16 scale: per token of activations, per channel of weights


def kib_to_bits(size_kib: float) -> int:
    """Capacity in KiB -> bits."""
    return int(round(size_kib * BYTES_PER_KIB * BITS_PER_BYTE))


def ceil_div(a: int, b: int) -> int:
    """Integer ceiling of a / b for non-negative a and positive b."""
    return -(-a // b)


def cycles_to_s(cycles: int, clock_mhz: float) -> float:
    """Cycles at ``clock_mhz`` -> seconds."""
    return cycles / (clock_mhz * 1e6)


def ns_to_cycles(latency_ns: float, clock_mhz: float) -> int:
    """A latency in ns -> whole cycles at ``clock_mhz`` (rounded up: a partial cycle is spent)."""
    return max(0, int(-(-(latency_ns * clock_mhz) // 1000)))


def gbps_to_bits_per_cycle(bandwidth_gbps: float, clock_mhz: float) -> float:
    """A bandwidth in GB/s (1e9 bytes/s) -> bits per cycle at ``clock_mhz``."""
    return bandwidth_gbps * 1e9 * BITS_PER_BYTE / (clock_mhz * 1e6)
