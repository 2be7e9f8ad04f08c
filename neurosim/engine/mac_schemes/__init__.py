"""How the MAC design runs a tile: one module per array organisation and dataflow
(:mod:`os_grid`, :mod:`ws_grid`, :mod:`adder_tree`) and per salient class (:mod:`passes`,
:mod:`outlier_path`), each registered by a decorator beside its class. The config picks them:
``array.column`` (``systolic`` splits by ``array.dataflow`` into ``os_grid`` / ``ws_grid``) and
``array.salient``. Adding a scheme is one module with a
:class:`~neurosim.engine.mac_schemes.base.MacOrganisation` or
:class:`~neurosim.engine.mac_schemes.base.SalientClass` subclass and its decorator, imported
here (and its value in the config schema)."""

from __future__ import annotations

from neurosim.config.hw import MacArraySpec
from neurosim.engine.mac_schemes import adder_tree, os_grid, outlier_path, passes, ws_grid  # noqa: F401 (register)
from neurosim.engine.mac_schemes.base import ORGANISATIONS, SALIENT_CLASSES, FoldCost, MacOrganisation, SalientClass
from neurosim.engine.mac_schemes.outlier_path import outlier_unit_energies


def organisation_name(array: MacArraySpec) -> str:
    """The registry key of an array's organisation: its ``column``, the systolic grid split by
    ``dataflow``."""
    return f"{array.dataflow}_grid" if array.column == "systolic" else array.column


def organisation_for(array: MacArraySpec) -> MacOrganisation:
    return ORGANISATIONS.lookup(organisation_name(array))()


def salient_class_for(array: MacArraySpec) -> type[SalientClass]:
    return SALIENT_CLASSES.lookup(array.salient)


__all__ = ["ORGANISATIONS", "SALIENT_CLASSES", "FoldCost", "MacOrganisation", "SalientClass", "organisation_for",
           "organisation_name", "outlier_unit_energies", "salient_class_for"]
