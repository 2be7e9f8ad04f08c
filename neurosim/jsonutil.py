"""Strict JSON: a key given twice in one object is an error (``json.loads`` keeps the last one
silently), and input that exhausts the parser (deep nesting, integers of thousands of digits,
NaN/Infinity literals) becomes a ``ValueError`` with a plain message instead of a crash."""

from __future__ import annotations

import json
from typing import Any

#: Nesting deeper than this is refused (the C parser itself stops at the recursion limit, ~1000).
MAX_DEPTH = 64


def _pairs(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k[:60]!r} in one object")
        out[k] = v
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _depth(value: Any) -> int:
    """Deepest nesting of objects and arrays in parsed JSON (a walk over the containers only)."""
    best, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        children = v.values() if isinstance(v, dict) else v if isinstance(v, list) else None
        if children is not None:
            best = max(best, d)
            stack.extend((c, d + 1) for c in children if isinstance(c, (dict, list)))
    return best


def loads_json_strict(text: str) -> Any:
    """Parse JSON text strictly; raises ``ValueError`` with a short message on any problem."""
    try:  # the C parser bounds its own recursion (RecursionError); the depth is checked after
        value = json.loads(text, object_pairs_hook=_pairs, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON: {e}") from None
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as e:  # int digit limit, duplicate keys, NaN
        raise ValueError(str(e)[:200]) from None
    if _depth(value) > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    return value
