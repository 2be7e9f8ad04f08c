"""The mapper of one op onto one core: candidate tilings scored by the engine's own cost model.

:func:`neurosim.engine.tiling.candidate_tilings` proposes the tiler's choice (least DRAM traffic)
and the next candidates of three rankings; each is simulated in full (its tiles, its pipeline,
the two-phase output-scale spill and every counted action included) and priced with the chip's
energy table and time-proportional power. ``mapper.objective`` picks the winner: ``energy``,
``latency`` (the op's pipeline cycles), ``edp`` (their product) or ``dram`` (default: the tiler's
choice alone, not simulated twice). A real op has over a thousand fitting tilings and the
candidates are a ranked few of them, so the winner depends on how many are simulated
(docs/model.md measures how far): until the search is complete or guided, the default stays the
tiler's rule, the same for both designs. Ties keep the earlier candidate, so the tiler's choice wins
a tie. The same mapper serves every core of a many-core chip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from neurosim.engine.tiling import Tiling

OBJECTIVES = ("energy", "latency", "edp", "dram")


@dataclass(frozen=True)
class Candidate:
    """One tiling simulated: its energy (pJ) and cycles, and whatever its run produced."""

    tiling: Tiling
    energy_pj: float
    cycles: int
    run: Any

    def score(self, objective: str) -> float:
        """The candidate's cost under ``objective`` (lower is better)."""
        return {"energy": self.energy_pj, "latency": float(self.cycles),
                "edp": self.energy_pj * self.cycles}[objective]

    def to_dict(self, objective: str) -> dict:
        return {**self.tiling.to_dict(), "energy_pj": self.energy_pj, "cycles": self.cycles,
                "score": self.score(objective)}


def choose(tilings: list[Tiling], start: Callable[[Tiling], Any], finish: Callable[[Tiling, Any], Candidate],
           objective: str) -> tuple[Candidate, dict | None]:
    """(the winning candidate, the mapping report: objective, candidates, chosen and runner-up)
    of ``tilings`` (``dram``: the first alone, no report). Every candidate is ``start``-ed before any is
    ``finish``-ed, so that their pipelines run on worker threads while the next ones start."""
    if objective == "dram":  # the tiler's choice: nothing scored, nothing to report
        return finish(tilings[0], start(tilings[0])), None
    if len(tilings) == 1:
        best = finish(tilings[0], start(tilings[0]))
        return best, {"objective": objective, "candidates": 1, "chosen": best.to_dict(objective), "runner_up": None}
    started = [(t, start(t)) for t in tilings]
    ranked = sorted((finish(t, s) for t, s in started), key=lambda c: c.score(objective))  # stable: ties keep order
    return ranked[0], {"objective": objective, "candidates": len(ranked), "chosen": ranked[0].to_dict(objective),
                       "runner_up": ranked[1].to_dict(objective)}
