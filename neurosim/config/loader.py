"""Load a hardware config: strict YAML -> overrides -> schema validation -> frozen spec."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from neurosim.config.combinations import combination_problems
from neurosim.config.energy_table import resolve_technology
from neurosim.config.hw import DESIGNS, HwSpec
from neurosim.config.overrides import apply_overrides, parse_override
from neurosim.config.schema import build
from neurosim.config.yaml_strict import load_yaml_mapping
from neurosim.errors import ConfigError, Problem
from neurosim.fsutil import short_repr


def spec_from_mapping(data: dict, source: str, overrides: Iterable[str] = (), base_dir: Path | None = None) -> HwSpec:
    """Validate a raw config mapping (plus ``--set`` overrides) into a frozen spec.

    ``overrides`` are ``KEY=VALUE`` strings or already parsed ``(key, value)`` pairs. All
    problems are collected and raised together as one :class:`ConfigError` naming ``source``;
    problems caused by an override say so.
    """
    parsed = dict(o if isinstance(o, tuple) else parse_override(o) for o in overrides)
    data = apply_overrides(data, parsed, source)
    design = data.get("design")
    if design not in DESIGNS:
        raise ConfigError(source, Problem("design", f"must be one of {', '.join(DESIGNS)}; got {short_repr(design)}"))
    problems: list[Problem] = []
    spec = build(DESIGNS[design], data, "", problems)
    if spec is not None:
        try:
            spec = dataclasses.replace(spec, technology=resolve_technology(spec.technology, base_dir))
        except ConfigError as e:
            problems.extend(Problem("technology", f"{e.source}: {p}") for p in e.problems)
        problems.extend(combination_problems(spec))
    if problems:
        problems = [
            Problem(p.path, f"{p.message} (set by --set)") if p.path in parsed else p for p in problems
        ]
        raise ConfigError(source, problems)
    return spec


def load_hw_config(path: str | Path, overrides: Iterable[str] = ()) -> HwSpec:
    """Read and validate a hardware config YAML file, applying ``--set`` overrides."""
    path = Path(path)
    return spec_from_mapping(load_yaml_mapping(path), str(path), overrides, path.parent)
