"""Time-proportional power: leakage, the clock tree and the DRAM device's background, as energy
over a span of time.

A design that runs longer pays these for longer, whatever it computes. ``leakage`` is the SRAMs'
and the logic's static power (:func:`neurosim.energy.actions.static_power_mw`). ``clock`` is the
clock tree: every clocked flip-flop of the cell inventory draws the energy table's
``clock_reg_bit`` per cycle it is clocked; with ``power.clock_gating: idle`` a unit is clocked
only while it works (the arrays and their side units in the cycles the array computes, the
vector unit in vector ops, the sequencers always), with ``register`` a flip-flop only in the
cycles it is written (whose clock energy ``register_bit`` already holds: a lower bound, the
clock gates and buffers uncounted) and the sequencers always, with ``none`` every flip-flop
every cycle.
``dram.background`` is the device's background power (standby or power-down, refresh
included) over the whole span, plus the standby increment while it transfers data (its bits
over the bandwidth). Sources: docs/model.md, Time-proportional power.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from neurosim.config.energy_table import EnergyTable
from neurosim.config.hw import HwSpec
from neurosim.energy.breakdown import PJ_PER_MW_S
from neurosim.energy.voltage import operating_point
from neurosim.errors import ConfigError, Problem
from neurosim.hw.cells import LogicCells
from neurosim.units import BITS_PER_BYTE

#: The actions of time-proportional power.
TIMED = ("leakage", "clock", "dram.background")
#: Clock groups: the component whose flip-flops are clocked always (gated or not) and the vector unit.
ALWAYS_CLOCKED = "sequencer"
VECTOR = "vector_unit"


@dataclass(frozen=True)
class TimePower:
    """A core's time-proportional power in mW (see the module docstring)."""

    leakage_mw: float
    clock_datapath_mw: float  # the arrays, their side and control units
    clock_vector_mw: float
    clock_always_mw: float
    clock_gating: str  # power.clock_gating: idle, register or none
    dram_idle_mw: float  # the device's background between transfers
    dram_busy_mw: float  # ... while it transfers (standby)
    dram_bytes_per_s: float

    @property
    def clock_mw(self) -> float:
        """Every flip-flop clocked every cycle."""
        return self.clock_datapath_mw + self.clock_vector_mw + self.clock_always_mw

    def clock_pj(self, seconds: float, compute_seconds: float, vector: bool) -> float:
        """The clock tree over a span of ``seconds`` in which the array computes ``compute_seconds``
        (a vector op when ``vector``)."""
        if self.clock_gating == "none":
            return self.clock_mw * seconds * PJ_PER_MW_S
        unit = self.clock_vector_mw * seconds if vector else self.clock_datapath_mw * compute_seconds
        if self.clock_gating == "register":  # clocked only when written: inside register_bit
            unit = 0.0
        return (unit + self.clock_always_mw * seconds) * PJ_PER_MW_S

    def chip_clock_mw(self, busy: bool) -> float:
        """A many-core chip's core: its clock power over its busy time (``busy``) or the whole run.
        Gated, an idle core's clock is off at its root (nothing to sequence); busy, it is clocked as
        one core is."""
        if self.clock_gating == "none":
            return 0.0 if busy else self.clock_mw
        if not busy:
            return 0.0
        return self.clock_always_mw if self.clock_gating == "register" else self.clock_mw

    def dram_pj(self, seconds: float, dram_bits: int) -> float:
        """The device's background over ``seconds`` in which it transfers ``dram_bits``."""
        busy_s = min(seconds, dram_bits / BITS_PER_BYTE / self.dram_bytes_per_s)
        return (self.dram_idle_mw * seconds + (self.dram_busy_mw - self.dram_idle_mw) * busy_s) * PJ_PER_MW_S

    def energies_pj(self, seconds: float, compute_seconds: float, vector: bool, dram_bits: int) -> dict[str, float]:
        """``{"leakage", "clock", "dram.background": pJ}`` over a span (see :meth:`clock_pj`, :meth:`dram_pj`)."""
        return {"leakage": self.leakage_mw * seconds * PJ_PER_MW_S,
                "clock": self.clock_pj(seconds, compute_seconds, vector),
                "dram.background": self.dram_pj(seconds, dram_bits)}


def clock_mw_per_bit(spec: HwSpec, table: EnergyTable) -> float:
    """One flip-flop clocked every cycle at ``spec.clock_mhz`` and its supply, in mW."""
    if "clock_reg_bit" not in table:
        raise ConfigError(table.source_file, Problem(
            "entries.clock_reg_bit", "needed for the clock tree (pJ per flip-flop per clocked cycle)"))
    return table["clock_reg_bit"] * operating_point(spec, table).dynamic_scale * spec.clock_mhz * 1e6 / PJ_PER_MW_S


def dram_background_mw(spec: HwSpec, table: EnergyTable) -> tuple[float, float]:
    """(idle, busy) background power of the DRAM device: standby while it transfers, power-down
    (``dram.power_down``) or standby between; 0 for a type the table gives no entry for."""
    d = spec.dram
    standby = d.background_mw if d.background_mw != "auto" else \
        table[f"dram_standby_{d.type}"] * d.bandwidth_gbps if f"dram_standby_{d.type}" in table else 0.0
    if not d.power_down or standby == 0.0:
        return float(standby), float(standby)
    ratio = table[f"dram_powerdown_{d.type}"] / table[f"dram_standby_{d.type}"] \
        if f"dram_powerdown_{d.type}" in table and f"dram_standby_{d.type}" in table else 1.0
    return float(standby) * ratio, float(standby)


def time_power(spec: HwSpec, table: EnergyTable, leakage_mw: float,
               cells: Mapping[str, LogicCells]) -> TimePower:
    """The core's :class:`TimePower`: ``leakage_mw`` and its cell inventory ``cells`` by component."""
    per_bit = clock_mw_per_bit(spec, table)
    always = cells.get(ALWAYS_CLOCKED, LogicCells()).reg_bits * per_bit
    vector = cells.get(VECTOR, LogicCells()).reg_bits * per_bit
    datapath = sum(c.reg_bits for name, c in cells.items() if name not in (ALWAYS_CLOCKED, VECTOR)) * per_bit
    idle, busy = dram_background_mw(spec, table)
    return TimePower(leakage_mw, datapath, vector, always, spec.power.clock_gating, idle, busy,
                     spec.dram.bandwidth_gbps * 1e9)
