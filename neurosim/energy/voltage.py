"""The operating point: the supply voltage a clock needs, and how energy scales with it.

A design meets timing at ``dvfs.nominal_clock_mhz`` at the energy table's ``vdd_v``; run at a
lower ``clock_mhz`` it can run at a lower supply. The maximum clock follows the alpha-power law
(Sakurai & Newton, IEEE JSSC 25(2), 1990): f(V) is proportional to (V - Vth)^alpha / V, with the
table's ``vth_v`` and ``alpha_power``; the supply is the lowest V in (Vth, vdd_v] whose f(V)
meets the clock (bisection: the law has no closed-form inverse), but never below the table's
``vmin_v``, the lowest supply its SRAMs hold their data at (a slower clock saves no more there). At V every on-chip dynamic
energy (counted actions and the clock tree) scales by (V / vdd_v)^2; static power by
(V / vdd_v) x I_leak(V) / I_leak(vdd_v), the leakage current falling one decade per the table's
``leak_v_per_decade`` of supply (drain-induced barrier lowering over the subthreshold swing).
DRAM and the chip-to-chip links keep their own supplies (docs/model.md, Operating point).
"""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.config.energy_table import EnergyTable
from neurosim.config.hw import HwSpec
from neurosim.errors import ConfigError, Problem

#: Supply precision of the bisection, in volts.
TOLERANCE_V = 1e-6
#: Actions on their own supplies: DRAM transfers and the chip-to-chip links.
OFF_CHIP = ("dram.", "noc.board_link_bits")
#: The energy table's entries of the voltage-frequency model.
ENTRIES = ("vth_v", "alpha_power", "leak_v_per_decade", "vmin_v")


@dataclass(frozen=True)
class OperatingPoint:
    """A design's clock and supply against its nominal ones, and the energy scale factors."""

    clock_mhz: float
    nominal_clock_mhz: float
    supply_v: float
    nominal_supply_v: float
    dynamic_scale: float  # (V / Vdd)^2
    static_scale: float  # (V / Vdd) x I_leak(V) / I_leak(Vdd)

    def to_dict(self) -> dict[str, float]:
        return {"clock_mhz": self.clock_mhz, "nominal_clock_mhz": self.nominal_clock_mhz,
                "supply_v": self.supply_v, "nominal_supply_v": self.nominal_supply_v,
                "dynamic_scale": self.dynamic_scale, "static_scale": self.static_scale}


def relative_frequency(v: float, vdd: float, vth: float, alpha: float) -> float:
    """f(v) / f(vdd) by the alpha-power law (0 at or below the threshold)."""
    if v <= vth:
        return 0.0
    return ((v - vth) ** alpha / v) / ((vdd - vth) ** alpha / vdd)


def lowest_supply_v(fraction: float, vdd: float, vth: float, alpha: float) -> float:
    """The lowest supply whose clock is at least ``fraction`` of the clock at ``vdd`` (0 < fraction <= 1)."""
    if fraction >= 1.0:
        return vdd
    lo, hi = vth, vdd  # f rises with v above the threshold (alpha >= 1)
    while hi - lo > TOLERANCE_V:
        mid = (lo + hi) / 2
        if relative_frequency(mid, vdd, vth, alpha) >= fraction:
            hi = mid
        else:
            lo = mid
    return hi


def operating_point(spec: HwSpec, table: EnergyTable) -> OperatingPoint:
    """``spec``'s operating point: nominal when ``dvfs.nominal_clock_mhz`` is ``auto``."""
    nominal = spec.dvfs.nominal_clock_mhz
    if nominal == "auto" or nominal == spec.clock_mhz:
        vdd = table.vdd_v or 1.0
        return OperatingPoint(spec.clock_mhz, spec.clock_mhz, vdd, vdd, 1.0, 1.0)
    missing = [k for k in ENTRIES if k not in table]
    if missing or table.vdd_v is None:
        raise ConfigError(table.source_file, Problem(
            f"entries.{missing[0]}" if missing else "vdd_v",
            "needed by dvfs.nominal_clock_mhz (the voltage-frequency model)"))
    vdd = table.vdd_v
    v = max(table["vmin_v"], lowest_supply_v(spec.clock_mhz / nominal, vdd, table["vth_v"], table["alpha_power"]))
    leak = 10 ** ((v - vdd) / table["leak_v_per_decade"])
    return OperatingPoint(spec.clock_mhz, float(nominal), v, vdd, (v / vdd) ** 2, v / vdd * leak)


def at_operating_point(pj: dict[str, float], op: OperatingPoint) -> dict[str, float]:
    """``pj`` per action at ``op``: every on-chip action x the dynamic scale, DRAM transfers and the
    chip-to-chip links (their own supplies) as they are."""
    if op.dynamic_scale == 1.0:
        return pj
    return {a: v if a.startswith(OFF_CHIP) else v * op.dynamic_scale for a, v in pj.items()}


def floor_clock_mhz(nominal_clock_mhz: float, table: EnergyTable) -> float:
    """The clock a design of ``nominal_clock_mhz`` reaches at the table's ``vmin_v``: below it a
    slower clock saves no dynamic energy (0 without the voltage-frequency entries)."""
    if any(k not in table for k in ENTRIES) or table.vdd_v is None:
        return 0.0
    return nominal_clock_mhz * relative_frequency(table["vmin_v"], table.vdd_v, table["vth_v"], table["alpha_power"])
