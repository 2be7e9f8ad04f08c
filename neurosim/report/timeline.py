"""Chrome-trace JSON (``traceEvents``, for Perfetto or chrome://tracing) of the event-driven
schedule, one track per resource: ``dram`` (every load and write-back transfer), ``array``
(tile compute), ``array_sram_stall`` (in-tile stalls on SRAM banks/ports and weight loads) and
``array_wait`` (the array waiting for DRAM loads or for an output slot to drain)."""

from __future__ import annotations


def chrome_trace(intervals, clock_mhz: float) -> dict:
    """Complete events (``ph: X``) with timestamps in microseconds of simulated time."""
    tracks = sorted({iv.track for iv in intervals})
    tid = {t: i + 1 for i, t in enumerate(tracks)}
    events = [{"name": "thread_name", "ph": "M", "pid": 1, "tid": tid[t], "args": {"name": t}} for t in tracks]
    events += [{"name": iv.name, "ph": "X", "pid": 1, "tid": tid[iv.track], "ts": iv.start / clock_mhz,
                "dur": (iv.end - iv.start) / clock_mhz, "args": {"start_cycle": iv.start, "end_cycle": iv.end}}
               for iv in intervals if iv.end > iv.start]
    return {"traceEvents": events, "displayTimeUnit": "ns", "otherData": {"clock_mhz": clock_mhz}}
