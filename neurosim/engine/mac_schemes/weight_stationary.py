"""The fold walk shared by the weight-stationary organisations (the WS grid and adder-tree
columns): a fold holds an (R inputs x C outputs) weight block, loaded in R cycles, while a group
of tokens streams; the tile's folds run one after another (:func:`sequence_cycles`, double
buffered with ``weight_buffers: 2``). The load takes R cycles (one array row per cycle) or the
block's bits at the weight SRAM's bandwidth (``array.weight_load``).

A K group's digit passes (codes wider than the operands) stream again over the weights it
latched: one load and one weight-SRAM read per group, not per pass.

A tile's K groups of R rows fall in a few classes (rows, first, last): the first and the last
group carry the tile's K ends, the middle ones are alike, so counts add up by class instead of
per fold. With ``accumulator_tokens: G`` the tokens run in groups of G whose accumulators stay in
the columns: partial sums leave only at the tile's K ends; otherwise every fold's partial sums
make a round trip through the output SRAM.
"""

from __future__ import annotations

from abc import abstractmethod
from collections import Counter
from dataclasses import dataclass

import numpy as np

from neurosim.config.hw import MacSpec
from neurosim.engine.mac_schemes.base import FoldCost, MacOrganisation, psum_round_trip
from neurosim.hw.mac_array import sequence_cycles
from neurosim.hw.sram import Sram
from neurosim.units import ceil_div


@dataclass(frozen=True)
class KClass:
    """K groups alike: rows each, whether they hold the tile's first / last K, how many, their passes."""

    rows: int
    first: bool
    last: bool
    groups: int
    passes: int


def k_classes(passes: np.ndarray, Kb: int, R: int, first_k: bool, last_k: bool) -> list[KClass]:
    """The classes of a tile's K groups (see the module docstring)."""
    n_g = len(passes)
    out = [KClass(min(R, Kb), first_k, last_k and n_g == 1, 1, int(passes[0]))]
    if n_g > 2:
        out.append(KClass(R, False, False, n_g - 2, int(passes[1:-1].sum())))
    if n_g > 1:
        out.append(KClass(Kb - (n_g - 1) * R, False, last_k, 1, int(passes[-1])))
    return out


def token_groups(Mb: int, G: int) -> Counter:
    """Sizes of the token groups that run the tile's folds one after another: all Mb tokens, or
    groups of G (the last one short)."""
    return Counter([G] * (Mb // G) + ([Mb % G] if Mb % G else [])) if G else Counter([Mb])


class WeightStationary(MacOrganisation):
    """Weight-stationary folds; subclasses give a fold's cycles and their per-fold counts."""

    weight_stationary = True

    @abstractmethod
    def fold_cycles(self, tokens: int, rows: int, cols: int) -> int:
        """Cycles of one fold streaming ``tokens`` tokens, its weight load included."""

    def count_folds(self, cost: FoldCost, runs: int, tokens: int, krows: int, cols: int, act_bits: int) -> None:
        """Count what ``runs`` folds of ``tokens`` x ``krows`` x ``cols`` do beyond their products."""

    #: How a fold's weights reach the PE registers under ``array.weight_load: auto``.
    auto_weight_load = "rows"

    def load_cycles(self, spec: MacSpec, wsram: Sram, krows: int, cols: int) -> int:
        """Cycles to load a fold's ``krows`` x ``cols`` weight block: one row of the array per
        cycle (``rows``: shifted in from the top, SCALE-Sim's and TPU v1's R cycles whatever the
        block), or at the weight SRAM's bandwidth (``sram``: the block's bits over the SRAM's bits
        per cycle, as the IF array loads its sub-tiles; at least one cycle)."""
        a = spec.array
        how = self.auto_weight_load if a.weight_load == "auto" else a.weight_load
        return a.rows if how == "rows" else max(1, wsram.cycles(krows * cols * a.weight_bits))

    def fold_cost(self, spec: MacSpec, srams: dict[str, Sram], passes: np.ndarray, Mb: int, Kb: int, Nb: int,
                  first_k: bool, last_k: bool) -> FoldCost:
        a = spec.array
        R, C, G = a.rows, a.cols, a.accumulator_tokens
        col_w = Counter(min(C, Nb - j * C) for j in range(ceil_div(Nb, C)))
        classes = k_classes(passes, Kb, R, first_k, last_k)
        group_rows = np.minimum(R, Kb - R * np.arange(len(passes)))
        cost, before = FoldCost(), None
        for gt, n_gt in token_groups(Mb, G).items():
            stream = self.fold_cycles(gt, R, C) - R  # one pass without its weight load
            for cw, n_cw in col_w.items():
                loads = {r: self.load_cycles(spec, srams["weight_sram"], r, cw) for r in set(group_rows.tolist())}
                for kc in classes:
                    load = loads[kc.rows]
                    # double-buffered: a fold after the first has the longer of its streaming and
                    # the next load for its SRAM traffic (the tile's first fold, its whole length)
                    fold = load + stream
                    later = fold if a.weight_buffers == 1 else max(stream, load)
                    runs = kc.passes * n_cw * n_gt  # every pass of every group in this class
                    self._folds(spec, srams, cost, kc, (runs, kc.groups * n_cw * n_gt), gt, cw, (fold, later, stream),
                                1 if before is None and kc is classes[0] else 0)
                    mult = n_cw * n_gt * gt * cw
                    cost.macs += kc.groups * mult * kc.rows
                    cost.extra_pass_macs += (kc.passes - kc.groups) * mult * kc.rows
                    cost.extra_pass_outputs += (kc.passes - kc.groups) * mult
                streams = passes.astype(np.int64) * stream
                cost.compute += sequence_cycles(streams, np.array([loads[r] for r in group_rows.tolist()]),
                                                n_gt * n_cw, a.weight_buffers, before)
                before = int(streams[-1])
        if G and not (first_k and last_k):  # the accumulators in and out at the tile's K ends
            cost.stall_out += psum_round_trip(srams["output_sram"], Mb * Nb * a.acc_bits, first_k, last_k)
        return cost

    def _folds(self, spec: MacSpec, srams: dict[str, Sram], cost: FoldCost, kc: KClass, runs_loads: tuple[int, int],
               gt: int, cw: int, windows: tuple[int, int, int], first_fold: int) -> None:
        """Count the ``runs`` passes of one class's fold groups, ``loads`` of them loading their
        group's weights (the others stream again over the latched weights): their SRAM traffic
        and the stalls it causes past the cycles it overlaps (``windows``: the tile's first fold,
        a later fold with its load, a pass without one)."""
        a = spec.array
        act, wgt, outs = (srams[n] for n in ("act_sram", "weight_sram", "output_sram"))
        runs, loads = runs_loads
        fold, later, stream = windows
        self.count_folds(cost, runs, gt, kc.rows, cw, a.act_bits)
        a_b, w_b = gt * kc.rows * a.act_bits, kc.rows * cw * a.weight_bits
        wgt.read(loads, w_b)
        act.read(runs, a_b)
        ps = gt * cw * a.acc_bits if not a.accumulator_tokens else 0
        if not kc.first and ps:
            outs.read(runs, ps)
        if not kc.last and ps:
            outs.write(runs, ps)
        out_cyc = outs.cycles(ps * (2 - kc.first - kc.last))
        act_cyc = act.cycles(a_b)
        def exposed(cyc: int) -> int:
            return first_fold * max(0, cyc - fold) + (loads - first_fold) * max(0, cyc - later) + \
                (runs - loads) * max(0, cyc - stream)
        cost.stall_act += exposed(act_cyc)
        cost.stall_out += exposed(out_cyc)
