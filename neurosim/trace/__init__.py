"""Trace format v1 (spec: ``traces/README.md``): manifest, atomic writer, memory-mapped reader
and validator, statistics, synthetic generation."""

from neurosim.trace.manifest import Manifest, Op, Producer, Recipe
from neurosim.trace.reader import Trace, open_trace, validate_trace
from neurosim.trace.writer import TraceWriter

__all__ = ["Manifest", "Op", "Producer", "Recipe", "Trace", "TraceWriter", "open_trace", "validate_trace"]
