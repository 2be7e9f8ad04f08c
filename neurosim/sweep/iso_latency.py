"""Equal-latency comparison: the faster design slowed to the slower one's latency, at the lowest
clock that still meets it and the lowest supply that clock needs (:mod:`neurosim.energy.voltage`).

The latency of a run falls as its clock rises (compute cycles take less time; DRAM time does
not), so the clock is found by bisection, each step a full simulation: a DRAM-bound run slows
less than its clock does. The bracket starts at the clock that would meet the target if all of
the run were compute (a run whose DRAM part does not grow meets it there) and halves downwards
until a clock misses; the slower design is not re-run: its energy is unchanged. When that clock
needs less than the table's ``vmin_v``, the design runs at the clock ``vmin_v`` reaches instead
(the same supply, less time to leak), finishing before the target.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from neurosim.config.energy_table import load_energy_table
from neurosim.config.hw import HwSpec
from neurosim.energy.voltage import floor_clock_mhz
from neurosim.engine.simulate import simulate
from neurosim.result_types import Results
from neurosim.trace.reader import Trace

#: Relative precision of the clock found.
TOLERANCE = 1e-3
#: The lowest clock tried, in MHz (the config's own lower bound).
MIN_CLOCK_MHZ = 1.0


@dataclass(frozen=True)
class IsoLatency:
    """The faster design at the slower one's latency: its run there, and its nominal run."""

    run: Results
    nominal: Results
    target_s: float


def at_clock(spec: HwSpec, clock_mhz: float) -> HwSpec:
    """``spec`` run at ``clock_mhz`` against its own nominal clock (its supply follows)."""
    nominal = spec.clock_mhz if spec.dvfs.nominal_clock_mhz == "auto" else spec.dvfs.nominal_clock_mhz
    return dataclasses.replace(spec, clock_mhz=clock_mhz,
                               dvfs=dataclasses.replace(spec.dvfs, nominal_clock_mhz=nominal))


def iso_latency(trace: Trace, spec: HwSpec, target_s: float, nominal: Results | None = None) -> IsoLatency:
    """``spec`` at the lowest clock whose scheduled latency on ``trace`` is at most ``target_s``
    (its nominal run when that already takes as long)."""
    nominal = nominal or simulate(trace, spec)
    if nominal.scheduled_latency_s >= target_s:
        return IsoLatency(nominal, nominal, target_s)

    def run(clock_mhz: float) -> Results:
        return simulate(trace, at_clock(spec, clock_mhz))

    hi_mhz, best = spec.clock_mhz, nominal
    lo_mhz = max(MIN_CLOCK_MHZ, spec.clock_mhz * nominal.scheduled_latency_s / target_s)
    while True:  # halve down from the compute-bound guess until a clock misses the target
        r = run(lo_mhz)
        if r.scheduled_latency_s > target_s or lo_mhz == MIN_CLOCK_MHZ:
            if r.scheduled_latency_s <= target_s:
                hi_mhz, best = lo_mhz, r
            break
        hi_mhz, best = lo_mhz, r
        lo_mhz = max(MIN_CLOCK_MHZ, lo_mhz / 2)
    while hi_mhz - lo_mhz > TOLERANCE * hi_mhz:
        mid = (lo_mhz + hi_mhz) / 2
        r = run(mid)
        if r.scheduled_latency_s <= target_s:
            hi_mhz, best = mid, r
        else:
            lo_mhz = mid
    floor = floor_clock_mhz(spec.clock_mhz, load_energy_table(spec.technology))
    if hi_mhz < floor:  # at the supply's floor the fastest clock there costs least: less time leaking
        best = run(min(floor, spec.clock_mhz))
    return IsoLatency(best, nominal, target_s)
