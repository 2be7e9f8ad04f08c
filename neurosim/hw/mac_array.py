"""MAC array: a systolic PE grid (output- or weight-stationary, SCALE-Sim's fold timing) or
weight-stationary adder-tree columns.

Per fold, for an R x C array (SCALE-Sim v3 counts the same, minus one cycle per layer):

- ``os``: the fold holds an (R tokens x C outputs) block; K operands stream through:
  ``K + R + C - 2`` cycles (skewed fill, K accumulations, drain overlapped with the next fold);
- ``ws``: the fold holds an (R inputs x C outputs) weight block, loaded in R cycles; the M
  tokens stream through: ``R + (M + R + C - 2)`` cycles. Partial sums of each K fold leave the
  array and are accumulated in the output SRAM.
- ``column: adder_tree`` (ws only): the same weight block, loaded in R cycles (or at the weight
  SRAM's bandwidth: ``array.weight_load``, :mod:`neurosim.engine.mac_schemes.weight_stationary`);
  then one token per
  cycle is broadcast along the rows and every column sums its R products in a combinational tree
  into its accumulator: ``R + M`` cycles, no skewed fill or drain (the IF array's organisation,
  with multipliers in place of the spike gating).
- ``weight_buffers: 2`` (ws): the next fold's weights load while the current fold streams
  (:func:`sequence_cycles`).
- ``accumulator_tokens: G`` (adder trees): G tokens' accumulators stay in the columns while the
  tile's K folds stream; each group of G tokens runs its own folds (``R + G`` cycles each).

Wider activation codes than the operand width take one pass per signed digit
(:mod:`neurosim.kernels.mac_fold`). How each organisation runs its folds, counts and prices its
work is :mod:`neurosim.engine.mac_schemes`; this module holds the timing formulas and the
counters.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np


def os_fold_cycles(K: int, rows: int, cols: int) -> int:
    """Cycles of one output-stationary fold streaming K operands."""
    return K + rows + cols - 2


def ws_fold_cycles(M: int, rows: int, cols: int) -> int:
    """Cycles of one weight-stationary fold: R cycles of weight load, then M tokens streaming."""
    return rows + M + rows + cols - 2


def tree_fold_cycles(M: int, rows: int) -> int:
    """Cycles of one adder-tree fold: R cycles of weight load, then one token per cycle."""
    return rows + M


def sequence_cycles(streams: np.ndarray, loads: np.ndarray, copies: int, buffers: int, before: int | None) -> int:
    """Cycles of ``copies`` runs, one after another, of a tile's weight-stationary K groups in
    order: group g loads its weights in ``loads[g]`` cycles, then streams ``streams[g]`` cycles
    (every digit pass over the latched weights). One buffer: each load before its group
    streams. Two buffers: each load under the previous group's streaming (a buffer is free once
    its group has streamed), so only the first load (whole, or its excess over ``before``, the
    streaming of the group just before) and each load's excess over the group before it stall."""
    total = copies * int(streams.sum())
    if buffers == 1:
        return total + copies * int(loads.sum())
    inner = int(np.maximum(0, loads[1:] - streams[:-1]).sum())
    first = int(loads[0]) if before is None else max(0, int(loads[0]) - before)
    return total + first + copies * inner + (copies - 1) * max(0, int(loads[0]) - int(streams[-1]))


class _MacArrayCounters:
    """Counting methods of the runtime array (its fields are the counters)."""

    def count(self, counts: dict[str, int]) -> None:
        for name, n in counts.items():
            setattr(self, name, getattr(self, name) + n)

    def counters(self) -> dict[str, int]:
        return {f"mac_array.{f.name}": getattr(self, f.name) for f in dataclasses.fields(self)}


@functools.cache
def mac_array_class(counter_names: tuple[str, ...]) -> type:
    """The runtime MAC array of an organisation with these counters (``mac_array.<name>``): a
    dataclass with one int field per counter, since the tile walk scales repeated tiles' counts
    through the int fields of the chip's runtime dataclasses."""
    return dataclasses.make_dataclass("MacArray", [(n, int, 0) for n in counter_names], bases=(_MacArrayCounters,))
