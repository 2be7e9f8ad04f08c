"""Strict JSON: a key given twice in one object is an error (``json.loads`` keeps the last one
silently), and input that exhausts the parser (deep nesting, integers of thousands of digits,
NaN/Infinity literals) becomes a ``ValueError`` with a plain message instead of a crash."""

from __future__ import annotations

import json
from typing import Any

#: Nesting deeper than this is refused before parsing (Python's parser recurses per level).
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


def _depth(text: str) -> int:
    """Maximum bracket nesting outside strings (a cheap linear scan)."""
    depth = best = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            best = max(best, depth)
        elif ch in "]}":
            depth -= 1
    return best


def loads_json_strict(text: str) -> Any:
    """Parse JSON text strictly; raises ``ValueError`` with a short message on any problem."""
    if _depth(text) > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text, object_pairs_hook=_pairs, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON: {e}") from None
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as e:  # int digit limit, duplicate keys, NaN
        raise ValueError(str(e)[:200]) from None
