"""Chrome-trace JSON (``traceEvents``, for Perfetto or chrome://tracing) of the event-driven
schedule, streamed to disk as the simulation goes (memory stays bounded by one op's tiles).

Tracks: ``op`` (one event per op, always: the ops one after another, each as long as it takes
alone), ``phases (ops overlapped)`` (each phase as long as the schedule takes: the latency TTFT,
tokens/s and every comparison use), and at ``tile`` detail also ``dram`` (every load and
write-back transfer), ``array`` (tile compute), one ``stall: <cause>`` track per SRAM or unit
the array waits on inside a tile (``stall: membrane_store``, ``stall: spike_memory``,
``stall: weight_tile_load``, ...), and ``array_wait`` (the array waiting for DRAM loads or for an
output slot to drain). ``auto`` detail is ``tile`` for traces up to :data:`AUTO_TILE_MACS`
multiply-accumulates and ``op`` beyond, where a tile timeline would reach gigabytes.
"""

from __future__ import annotations

import json
from typing import IO

DETAILS = ("auto", "op", "tile")
AUTO_TILE_MACS = 1 << 34


def resolve_detail(detail: str, trace_macs: int) -> str:
    """``op`` or ``tile`` for a requested detail and the trace's total M x K x N."""
    if detail == "auto":
        return "tile" if trace_macs <= AUTO_TILE_MACS else "op"
    return detail


class ChromeTraceWriter:
    """Writes complete events (``ph: X``, timestamps in microseconds of simulated time) to an
    open text file; call :meth:`close` to finish the JSON document."""

    def __init__(self, f: IO[str], clock_mhz: float, detail: str):
        self.f, self.clock_mhz, self.detail = f, clock_mhz, detail
        self._tid: dict[str, int] = {}
        self._first = True
        f.write(json.dumps({"displayTimeUnit": "ns", "otherData": {"clock_mhz": clock_mhz, "detail": detail}})[:-1])
        f.write(', "traceEvents": [\n')

    def _event(self, event: dict) -> None:
        self.f.write(("" if self._first else ",\n") + json.dumps(event))
        self._first = False

    def _track(self, track: str) -> int:
        if track not in self._tid:
            self._tid[track] = len(self._tid) + 1
            self._event({"name": "thread_name", "ph": "M", "pid": 1, "tid": self._tid[track], "args": {"name": track}})
        return self._tid[track]

    def add(self, intervals) -> None:
        """Append busy intervals (objects with ``track, name, start, end`` in cycles)."""
        for iv in intervals:
            if iv.end > iv.start:
                self._event({"name": iv.name, "ph": "X", "pid": 1, "tid": self._track(iv.track),
                             "ts": iv.start / self.clock_mhz, "dur": (iv.end - iv.start) / self.clock_mhz,
                             "args": {"start_cycle": iv.start, "end_cycle": iv.end}})

    def close(self) -> None:
        self.f.write("\n]}\n")
