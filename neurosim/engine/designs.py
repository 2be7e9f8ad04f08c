"""The registry of design families: a config's ``design`` field picks the chip (runtime
components with their counters) and the op model (how one op runs on it). Adding a family is one
module with a chip and an :class:`~neurosim.engine.op_model.OpModel`, plus one line here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from neurosim.config.energy_table import EnergyTable
from neurosim.config.hw import HwSpec
from neurosim.energy.actions import action_energies
from neurosim.energy.voltage import at_operating_point, operating_point
from neurosim.engine.acc_if import AccIfChip, AccIfOpModel, acc_if_energies
from neurosim.engine.mac import MacChip, MacOpModel, mac_energies


@dataclass(frozen=True)
class Design:
    """One design family: its chip class, op-model class, the array key of its accumulator, its
    useful-operation counters and the pricer of its own components."""

    chip: type
    op_model: type
    accumulator_key: str
    #: Counters of the useful array operations (one per weight added or multiplied into an output).
    useful_ops: tuple[str, ...]
    energies: Callable[[HwSpec, EnergyTable], dict[str, float]]


DESIGNS: dict[str, Design] = {
    "acc_if": Design(AccIfChip, AccIfOpModel, "membrane_bits",
                     ("array.accumulate", "array.tree_add", "salient_lanes.accumulate"), acc_if_energies),
    "mac": Design(MacChip, MacOpModel, "acc_bits", ("mac_array.mac", "outlier_unit.mac"), mac_energies),
}


def design_energies(spec: HwSpec, table: EnergyTable) -> dict[str, float]:
    """pJ per counted action of ``spec`` (:func:`~neurosim.energy.actions.action_energies` with
    its family's pricer) at its operating point (:mod:`neurosim.energy.voltage`)."""
    return at_operating_point(action_energies(spec, table, DESIGNS[spec.design].energies),
                              operating_point(spec, table))
