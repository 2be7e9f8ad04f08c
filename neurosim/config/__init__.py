"""Config layer: strict YAML -> frozen hardware specs, energy tables, ``--set`` overrides."""

from neurosim.config.energy_table import EnergyTable, load_energy_table
from neurosim.config.hw import AccIfSpec, HwSpec, MacSpec
from neurosim.config.loader import load_hw_config, spec_from_mapping

__all__ = ["AccIfSpec", "EnergyTable", "HwSpec", "MacSpec", "load_energy_table", "load_hw_config", "spec_from_mapping"]
