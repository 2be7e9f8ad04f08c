"""``--set key.path=value`` overrides: parsed, typed by YAML 1.2 core scalar rules (as config
files are), applied to the raw
config mapping before validation so they are checked exactly like keys in the file."""

from __future__ import annotations

import copy
import re

from neurosim.config.yaml_strict import loads_strict
from neurosim.errors import ConfigError, Problem, UsageError

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def parse_override(text: str) -> tuple[str, object]:
    """``"array.rows=32"`` -> ``("array.rows", 32)``; a malformed override is a UsageError."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not _KEY.match(key):
        raise UsageError(f"--set {text!r}: expected KEY.PATH=VALUE, e.g. --set array.rows=32")
    try:
        value = loads_strict(raw.strip() or "null", f"--set {key}")
    except ConfigError as e:
        raise UsageError(f"--set {text!r}: value is not valid YAML ({e.problems[0].message})") from None
    if isinstance(value, dict) or (isinstance(value, list) and (
            len(value) > 8 or any(isinstance(v, (list, dict)) for v in value))):
        raise UsageError(f"--set {text[:80]!r}: the value must be a scalar or a short flat list ([4, 4]), not a "
                         "mapping or a nested list")
    return key, value


def apply_overrides(data: dict, overrides: dict[str, object], source: str) -> dict:
    """A copy of ``data`` with each dotted key set; intermediate mappings are created as needed."""
    out = copy.deepcopy(data)
    problems = []
    for key, value in overrides.items():
        node = out
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                problems.append(Problem(key, f"--set: {'.'.join(parts[: i + 1])} is not a mapping"))
                break
            node = nxt
        else:
            node[parts[-1]] = value
    if problems:
        raise ConfigError(source, problems)
    return out
