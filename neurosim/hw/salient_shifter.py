"""The log shifters that put salient products on their power-of-two step (traces whose recipe
has ``salient_shift_max > 0``).

A salient entry ``(t, k, q, s)`` stands for ``q x 2^s`` normal steps. The IF array shifts the
weight ``w[k, j]`` by ``s`` once per entry and output column, then adds it ``|q|`` times (a spike
still adds a weight: no multiplier); the MAC designs shift the product ``q x w[k, j]`` once per
entry and output before it is accumulated. A log shifter of ``data_bits`` and ``stages`` (the
width of the shift field) is ``data_bits x stages`` 2:1 multiplexers; the counter is in those
units (``salient_shifter.bit_stages``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SalientShifter:
    """Runtime shifter bank with its counter."""

    bit_stages: int = 0

    def count(self, entries: int, outputs: int, data_bits: int, stages: int) -> None:
        """``entries`` salient entries each reach ``outputs`` columns through a ``data_bits``-wide
        shifter of ``stages`` stages."""
        self.bit_stages += entries * outputs * data_bits * stages

    def counters(self) -> dict[str, int]:
        return {"salient_shifter.bit_stages": self.bit_stages}
