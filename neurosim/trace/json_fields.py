"""A flat frozen dataclass built from a JSON object, every field type-checked against the
dataclass's annotations (``int``, ``float``, ``str``, ``bool``, optionally ``| None``): what the
trace manifest's parser uses for each of its records."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from neurosim.errors import Problem
from neurosim.fsutil import short_repr

_TYPES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def take_fields(cls, raw: Any, path: str, problems: list[Problem], checks: dict[str, Any] | None = None):
    """Build a flat dataclass from ``raw``, type-checking each field; None if anything is wrong."""
    if not isinstance(raw, dict):
        problems.append(Problem(path, "must be an object"))
        return None
    n = len(problems)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for k in raw:
        if k not in fields:
            problems.append(Problem(f"{path}.{str(k)[:60]}", f"unknown field; allowed: {', '.join(fields)}"))
    hints = {f.name: f.type for f in dataclasses.fields(cls)}
    out = {}
    for name, f in fields.items():
        where = f"{path}.{name}"
        if name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                problems.append(Problem(where, "required field is missing"))
            continue
        value, tp = raw[name], hints[name]
        optional = "None" in tp
        base = {"int": int, "float": float, "str": str, "bool": bool}.get(tp.split(" |")[0])
        if value is None and optional:
            out[name] = None
            continue
        ok = base is not None and (
            (base is float and isinstance(value, (int, float)) and not isinstance(value, bool) and _finite(value))
            or (base is int and isinstance(value, int) and not isinstance(value, bool))
            or (base in (str, bool) and isinstance(value, base))
        )
        if not ok:
            problems.append(Problem(where, f"must be {_TYPES.get(base, tp)}, got {short_repr(value)}"))
            continue
        if checks and name in checks and (msg := checks[name](value)):
            problems.append(Problem(where, msg))
            continue
        out[name] = float(value) if base is float else value
    return cls(**out) if len(problems) == n else None


def _finite(v) -> bool:
    try:
        return math.isfinite(float(v))
    except OverflowError:
        return False
