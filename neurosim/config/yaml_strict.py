"""Strict YAML loading: duplicate keys are errors (PyYAML's ``safe_load`` keeps the last one
silently), syntax errors name the file and line, and the top level must be a mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from neurosim.errors import ConfigError, Problem


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int, first_line: int):
        self.key, self.line, self.first_line = key, line, first_line


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key seen twice in one mapping."""

    def construct_mapping(self, node, deep=False):  # noqa: D102 - PyYAML hook
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _DuplicateKey(str(key), line, seen[key])
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def loads_strict(text: str, source: str) -> Any:
    """Parse YAML text strictly; ``source`` names the file in error messages."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as e:
        raise ConfigError(
            source, Problem(e.key, f"duplicate key (line {e.line}; first defined on line {e.first_line})")
        ) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = getattr(e, "problem", None) or str(e)
        raise ConfigError(source, Problem("", f"YAML syntax error: {where}{what}")) from None


def load_yaml_mapping(path: str | Path) -> dict:
    """Read a YAML file whose top level must be a mapping."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), Problem("", "file not found")) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(str(path), Problem("", f"cannot read: {e}")) from None
    data = loads_strict(text, str(path))
    if not isinstance(data, dict):
        raise ConfigError(str(path), Problem("", "top level must be a mapping of keys"))
    return data
