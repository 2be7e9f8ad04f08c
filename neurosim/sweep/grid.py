"""Grid expansion and up-front validation of every sweep point."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from neurosim.config.hw import HwSpec
from neurosim.config.loader import load_hw_config
from neurosim.config.overrides import parse_override
from neurosim.errors import ConfigError, Problem, UsageError


@dataclass(frozen=True)
class Point:
    """One sweep point: the overrides applied to the base config, and the resolved spec."""

    overrides: tuple[tuple[str, object], ...]
    spec: HwSpec

    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.overrides) or "(base)"


def _top_level_split(values: str) -> list[str]:
    """Split on the commas outside brackets: ``[4,4],[8,8]`` is two values."""
    items, depth, start = [], 0, 0
    for i, ch in enumerate(values):
        depth += (ch == "[") - (ch == "]")
        if ch == "," and depth == 0:
            items.append(values[start:i])
            start = i + 1
    return items + [values[start:]]


def parse_axis(text: str, flag: str) -> tuple[str, list[object]]:
    """``KEY=V1,V2`` -> (KEY, [V1, V2]); each value typed as ``--set`` types it (``null`` included);
    a list value keeps its commas (``system.mesh=[4,4],[8,8]``)."""
    key, sep, values = text.partition("=")
    if not sep or not values:
        raise UsageError(f"{flag} {text[:80]!r}: expected KEY=V1,V2,...")
    items = _top_level_split(values)
    for i, v in enumerate(items):
        if not v.strip():
            raise UsageError(f"{flag} {text[:80]!r}: value {i + 1} of {len(items)} is empty "
                             "(write null for a null value)")
    return key.strip(), [parse_override(f"{key.strip()}={v}")[1] for v in items]


def expand(grid: list[str], zipped: list[str] = ()) -> list[tuple[tuple[str, object], ...]]:
    """Cartesian product of the ``--grid`` axes, times the ``--zip`` axes taken in lockstep."""
    axes = [parse_axis(g, "--grid") for g in grid]
    zaxes = [parse_axis(z, "--zip") for z in zipped]
    keys = [k for k, _ in axes] + [k for k, _ in zaxes]
    if len(set(keys)) != len(keys):
        raise UsageError(f"a key is swept twice: {', '.join(keys)}")
    if zaxes and len({len(v) for _, v in zaxes}) != 1:
        raise UsageError("--zip lists must all have the same length: " + ", ".join(f"{k} ({len(v)})" for k, v in zaxes))
    zip_rows = list(zip(*[[(k, v) for v in vals] for k, vals in zaxes], strict=True)) if zaxes else [()]
    grid_rows = itertools.product(*[[(k, v) for v in vals] for k, vals in axes])
    return [tuple(g) + tuple(z) for g in grid_rows for z in zip_rows]


def validate_points(base: str | Path, rows: list[tuple[tuple[str, object], ...]]) -> list[Point]:
    """Resolve every point; all invalid points are reported together before anything runs."""
    points, problems = [], []
    for i, row in enumerate(rows):
        try:
            points.append(Point(row, load_hw_config(base, list(row))))
        except ConfigError as e:
            label = ", ".join(f"{k}={v}" for k, v in row)
            problems += [Problem(f"point {i} ({label}): {p.path}", p.message) for p in e.problems]
    if problems:
        raise ConfigError(str(base), problems)
    return points
