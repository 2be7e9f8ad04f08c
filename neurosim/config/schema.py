"""Schema machinery: frozen dataclasses whose fields carry units, ranges and docs.

``spec_field`` declares a key; :func:`build` turns a parsed YAML mapping into the dataclass,
collecting *every* problem (unknown keys with the allowed list, wrong types, out-of-range
values) with its dotted key path instead of stopping at the first one. :func:`to_plain` turns a
spec back into plain YAML-ready data, and :func:`iter_keys` walks the schema for docs and tests.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Iterator
from dataclasses import MISSING
from typing import Any

from neurosim.errors import Problem
from neurosim.fsutil import short_repr

_META = "neurosim"
MAX_STR = 4096  # longest string value (a path to an energy table)


def spec_field(
    default: Any = MISSING,
    *,
    doc: str,
    unit: str = "",
    lo: float | None = None,
    hi: float | None = None,
    lo_exclusive: bool = False,
    choices: tuple[str, ...] | None = None,
    pattern: str | None = None,
    auto: bool = False,
) -> Any:
    """Declare one config key with its documentation, unit and valid range, choices or pattern.

    Every number needs both bounds (a test checks it): a value that passes validation must keep
    every derived quantity (cycles, seconds, pJ) finite.
    """
    meta = {_META: dict(doc=doc, unit=unit, lo=lo, hi=hi, lo_exclusive=lo_exclusive, choices=choices,
                        pattern=pattern, auto=auto)}
    if dataclasses.is_dataclass(default):
        return dataclasses.field(default_factory=lambda: default, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def field_meta(f: dataclasses.Field) -> dict:
    """The metadata ``spec_field`` attached to a dataclass field."""
    return f.metadata[_META]


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """(base type, optional); an ``int | str`` / ``float | str`` key (a number or ``auto``) has
    base type int / float."""
    args = typing.get_args(tp)
    if set(args) in ({int, str}, {float, str}):
        return next(a for a in args if a is not str), False
    if type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return tp, False


def _type_name(tp: Any) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, "a mapping")


def _check_scalar(value: Any, tp: Any, meta: dict, path: str, problems: list[Problem]) -> Any:
    """Type- and range-check one scalar; returns the converted value or MISSING."""
    ok = (
        (tp is bool and isinstance(value, bool))
        or (tp is int and isinstance(value, int) and not isinstance(value, bool))
        or (tp is float and isinstance(value, (int, float)) and not isinstance(value, bool))
        or (tp is str and isinstance(value, str))
    )
    if not ok:
        problems.append(Problem(path, f"must be {_type_name(tp)}, got {short_repr(value)}"))
        return MISSING
    if tp is float:
        try:
            value = float(value)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            problems.append(Problem(path, f"must be finite, got {short_repr(value)}"))
            return MISSING
    if tp is str and len(value) > MAX_STR:
        problems.append(Problem(path, f"must be at most {MAX_STR} characters, got {len(value)}"))
        return MISSING
    if meta["choices"] is not None and value not in meta["choices"]:
        problems.append(Problem(path, f"must be one of {', '.join(meta['choices'])}; got {short_repr(value)}"))
        return MISSING
    if meta["pattern"] is not None and not re.fullmatch(meta["pattern"], value):
        problems.append(Problem(path, f"must match {meta['pattern']} ({meta['doc']}), got {short_repr(value)}"))
        return MISSING
    lo, hi = meta["lo"], meta["hi"]
    if lo is not None and (value <= lo if meta["lo_exclusive"] else value < lo):
        word = "greater than" if meta["lo_exclusive"] else "at least"
        problems.append(Problem(path, f"must be {word} {lo:g}{_unit(meta)}, got {short_repr(value)}"))
        return MISSING
    if hi is not None and value > hi:
        problems.append(Problem(path, f"must be at most {hi:g}{_unit(meta)}, got {short_repr(value)}"))
        return MISSING
    return value


def _check_tuple(value: Any, types: tuple, meta: dict, path: str, problems: list[Problem]) -> Any:
    """A fixed-length list of scalars (``[W, H]``), each checked against the key's range."""
    if not isinstance(value, list | tuple) or len(value) != len(types):
        problems.append(Problem(path, f"must be a list of {len(types)} values, got {short_repr(value)}"))
        return MISSING
    out = [_check_scalar(v, tp, meta, f"{path}[{i}]", problems) for i, (v, tp) in enumerate(zip(value, types, strict=True))]
    return MISSING if any(v is MISSING for v in out) else tuple(out)


def _unit(meta: dict) -> str:
    return f" {meta['unit']}" if meta["unit"] else ""


def build(cls: type, data: Any, path: str, problems: list[Problem]) -> Any:
    """Build dataclass ``cls`` from ``data``; append problems and return None if any were found."""
    if not isinstance(data, dict):
        problems.append(Problem(path, f"must be a mapping of keys, got {short_repr(data)}"))
        return None
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = _hints(cls)
    n_before = len(problems)
    for key in data:
        if key not in fields:
            where = f"{path}.{str(key)[:60]}" if path else str(key)[:60]
            problems.append(Problem(where, f"unknown key; allowed keys here: {', '.join(fields)}"))
    values: dict[str, Any] = {}
    for name, f in fields.items():
        where = f"{path}.{name}" if path else name
        tp, optional = _unwrap_optional(hints[name])
        if name not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                problems.append(Problem(where, "required key is missing"))
            continue
        value = data[name]
        if value is None and optional:
            values[name] = None
        elif value == "auto" and field_meta(f)["auto"]:
            values[name] = "auto"
        elif dataclasses.is_dataclass(tp):
            sub = build(tp, value, where, problems)
            if sub is not None:
                values[name] = sub
        elif typing.get_origin(tp) is tuple:
            checked = _check_tuple(value, typing.get_args(tp), field_meta(f), where, problems)
            if checked is not MISSING:
                values[name] = checked
        else:
            checked = _check_scalar(value, tp, field_meta(f), where, problems)
            if checked is not MISSING:
                values[name] = checked
    if len(problems) > n_before:
        return None
    return cls(**values)


def to_plain(spec: Any) -> Any:
    """A spec as plain dicts and scalars, in schema order (what ``show-config`` prints)."""
    if dataclasses.is_dataclass(spec):
        return {f.name: to_plain(getattr(spec, f.name)) for f in dataclasses.fields(spec)}
    return list(spec) if isinstance(spec, tuple) else spec


def iter_keys(cls: type, prefix: str = "") -> Iterator[tuple[str, dataclasses.Field, Any]]:
    """Yield (dotted path, field, type) for every leaf key of the schema ``cls``."""
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        path = f"{prefix}{f.name}"
        tp, _ = _unwrap_optional(hints[f.name])
        if dataclasses.is_dataclass(tp):
            yield from iter_keys(tp, path + ".")
        else:
            yield path, f, tp
