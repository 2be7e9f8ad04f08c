"""The control of a core: the address generators and loop counters that step its tiles.

Every SRAM has an address generator (a register and an incrementer as wide as the address of one
of its words), and a tile walk is five nested loops (the M, K and N tiles, a tile's rows and its
columns), each a 16-bit counter (register and incrementer: 65,536 steps cover every trace
dimension here). These are the flip-flops a sequencer clocks every cycle and the cells it leaks
through; its switching (one increment per step) is not counted (docs/model.md, Time-proportional
power). The MAC and the IF cores have the same structure, so it is the same for both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from neurosim.config.hw import SramSpec
from neurosim.hw.cells import LogicCells
from neurosim.units import kib_to_bits

LOOP_COUNTERS = 5
LOOP_COUNTER_BITS = 16


def address_bits(spec: SramSpec) -> int:
    """Bits of a word address of ``spec`` (at least one)."""
    return max(1, math.ceil(math.log2(max(2, kib_to_bits(spec.size_kib) // spec.width_bits))))


def sequencer_cells(srams: Mapping[str, SramSpec]) -> LogicCells:
    """The sequencer of a core with ``srams``: one address generator per SRAM plus the loop counters,
    each a register and an incrementer of its width."""
    bits = sum(address_bits(s) for s in srams.values()) + LOOP_COUNTERS * LOOP_COUNTER_BITS
    return LogicCells(reg_bits=bits, adder_bits=bits)
