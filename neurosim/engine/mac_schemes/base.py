"""What every MAC scheme provides.

An **organisation** (array organisation and dataflow: the output-stationary grid, the
weight-stationary grid, adder-tree columns) runs a tile's folds: it returns their cycles, SRAM
stalls and array work (:class:`FoldCost`), names and counts the array's own counters
(``mac_array.<name>``), lists the array's cells and prices its actions. A **salient class**
(digit passes, outlier path) decides how codes wider than the operands are stored and run: the
precision passes of each fold group, the side store and side unit, and the op's code widths.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from neurosim.config.energy_table import EnergyTable
from neurosim.config.hw import MacArraySpec, MacSpec
from neurosim.engine.registry import Registry
from neurosim.hw.cells import LogicCells
from neurosim.hw.sram import Sram
from neurosim.kernels.mac_fold import col_group_passes, row_group_passes
from neurosim.units import ceil_div


@dataclass
class FoldCost:
    """One tile's folds: compute cycles, stall cycles by SRAM, and the array work they did
    (useful products, products and outputs of extra digit passes, and what else the organisation
    tallies for its own counters, e.g. an adder tree's column-cycles)."""

    compute: int = 0
    stall_act: int = 0
    stall_weight: int = 0
    stall_out: int = 0
    macs: int = 0
    extra_pass_macs: int = 0
    extra_pass_outputs: int = 0
    work: Counter = field(default_factory=Counter)


class MacOrganisation(ABC):
    """An array organisation and dataflow; see the module docstring."""

    name: ClassVar[str]
    #: A fold holds a weight block: its precision passes go by K group, tiles align on K.
    weight_stationary: ClassVar[bool]
    #: The array's counters (``mac_array.<name>``), in the order results list them.
    counter_names: ClassVar[tuple[str, ...]] = ("mac", "mac_extra_pass", "digit_add", "reg_bits")

    def alignment(self, rows: int, cols: int) -> dict[str, int]:
        """The tiler's alignment of a tile on this array (:class:`~neurosim.engine.tiling.TileLimits`)."""
        ws = self.weight_stationary
        return {"align_m": 1 if ws else rows, "align_n": cols, "align_k": rows if ws else 1,
                "psum_cols_unsplit": cols if ws else 0}

    def digit_passes(self, codes: np.ndarray, rows: int, act_bits: int) -> np.ndarray:
        """Precision passes of each group of ``rows`` along the fold's grouped dimension."""
        return (col_group_passes if self.weight_stationary else row_group_passes)(codes, rows, act_bits)

    def single_passes(self, Mb: int, Kb: int, rows: int) -> np.ndarray:
        """One pass per fold group (codes that fit the operands)."""
        return np.ones(ceil_div(Kb if self.weight_stationary else Mb, rows), dtype=np.int64)

    @abstractmethod
    def fold_cost(self, spec: MacSpec, srams: dict[str, Sram], passes: np.ndarray, Mb: int, Kb: int, Nb: int,
                  first_k: bool, last_k: bool) -> FoldCost:
        """Run the folds of an ``Mb x Kb`` code tile against ``Nb`` outputs, counting the SRAM
        traffic; ``first_k``/``last_k``: the tile holds the op's first / last K block."""

    @abstractmethod
    def counts(self, spec: MacArraySpec, cost: FoldCost) -> dict[str, int]:
        """The array counters of ``cost`` (keys: :attr:`counter_names`)."""

    @abstractmethod
    def cells(self, spec: MacArraySpec) -> LogicCells:
        """The array's logic (static power and area)."""

    @abstractmethod
    def energies(self, spec: MacSpec, table: EnergyTable) -> dict[str, float]:
        """pJ per action of every array counter (``mac_array.<name>``)."""


class SalientClass(ABC):
    """How codes wider than the operands are stored and run; see the module docstring. An
    instance serves one op model (``model``: the :class:`~neurosim.engine.mac.MacOpModel`)."""

    name: ClassVar[str]

    def __init__(self, model):
        self.model = model

    @abstractmethod
    def code_bits(self) -> int:
        """Bits of one stored activation code."""

    @abstractmethod
    def out_bits(self, output_salient_ratio: float) -> float:
        """Bits stored per output (its code, plus its share of side entries)."""

    def fits(self, Mb: int, Kb: int, fraction: float) -> bool:
        """Do the side entries of every (Mb x Kb) tile fit their store?"""
        return True

    @abstractmethod
    def side_bits(self, m: np.ndarray, k: np.ndarray, tiling) -> np.ndarray | int:
        """Write the side entries of the activation tiles ``(m[i], k[i])`` into their SRAM (one
        load each); returns their bits per tile."""

    @abstractmethod
    def passes(self, codes: np.ndarray, key: tuple, tiling) -> np.ndarray:
        """Precision passes of each fold group of the code tile ``codes``."""

    def zero_operands(self, m: np.ndarray, k: np.ndarray, tiling) -> np.ndarray:
        """Activation operands of the code tiles ``(m[i], k[i])`` that are zero in the array (the
        zero codes), per tile: each gates its products under ``array.zero_gating``."""
        return self.model.zero_tiles(tiling.Mb, tiling.Kb)[m, k]

    @abstractmethod
    def tiles_side(self, m: np.ndarray, k: np.ndarray, tiling, Nb: int, n_col_folds: int,
                   compute: int) -> dict[str, np.ndarray]:
        """Count the side work of the code tiles ``(m[i], k[i])`` after their folds (``compute``
        cycles each); returns their stalls by cause, one entry per tile."""

    @classmethod
    def side_cells(cls, chip) -> dict[str, LogicCells]:
        """The class's own units on the chip, by component."""
        return {}

    @classmethod
    def side_lanes(cls, spec: MacSpec) -> int:
        """The class's processing elements beside the array."""
        return 0


ORGANISATIONS: Registry = Registry("MAC array organisation")
SALIENT_CLASSES: Registry = Registry("MAC salient class")


def psum_round_trip(outs: Sram, bits: int, first_k: bool, last_k: bool) -> int:
    """Partial sums of a split K: read back unless the first K block, written out unless the
    last; returns the output SRAM's cycles for them."""
    if not first_k:
        outs.read(1, bits)
    if not last_k:
        outs.write(1, bits)
    return outs.cycles(bits * (2 - first_k - last_k))
