"""The registry of design families: a config's ``design`` field picks the chip (runtime
components with their counters) and the op model (how one op runs on it). Adding a family is one
module with a chip and an :class:`~neurosim.engine.op_model.OpModel`, plus one line here."""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.engine.acc_if import AccIfChip, AccIfOpModel
from neurosim.engine.mac import MacChip, MacOpModel


@dataclass(frozen=True)
class Design:
    """One design family: its chip class, op-model class, the array key of its accumulator and
    its useful-operation counters."""

    chip: type
    op_model: type
    accumulator_key: str
    #: Counters of the useful array operations (one per weight added or multiplied into an output).
    useful_ops: tuple[str, ...]


DESIGNS: dict[str, Design] = {
    "acc_if": Design(AccIfChip, AccIfOpModel, "membrane_bits",
                     ("array.accumulate", "array.tree_add", "salient_lanes.accumulate")),
    "mac": Design(MacChip, MacOpModel, "acc_bits", ("mac_array.mac", "outlier_unit.mac")),
}
