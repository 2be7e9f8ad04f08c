"""Strict YAML loading, for config files and ``--set`` values alike.

- Scalars resolve by the YAML 1.2 core schema, not PyYAML's YAML 1.1 rules: ``010`` is ten (not
  octal eight), ``1:30`` is a string (not ninety), ``1e3`` is a number, ``yes``/``on`` are strings.
- A key seen twice in one mapping is an error (PyYAML keeps the last one silently); keys must be
  plain scalars.
- Documents are bounded: a text over :data:`MAX_TEXT_CHARS`, nesting deeper than :data:`MAX_DEPTH`
  and more than :data:`MAX_NODES` nodes, aliases expanded (a "billion laughs" file), are refused
  before anything is built.
- Syntax errors name the file and line; the top level must be a mapping; FIFOs, devices and
  directories are refused before they are opened.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from neurosim.errors import ConfigError, Problem
from neurosim.fsutil import read_text_input

MAX_DEPTH = 32
MAX_NODES = 100_000
#: Largest YAML text read (a config or an energy table is a few KiB): bounded before parsing, whose
#: cost grows with the text.
MAX_TEXT_CHARS = 1 << 20
_INT_DIGITS = 64  # no config value needs more; Python's int parser is quadratic beyond thousands


class _Refused(Exception):
    def __init__(self, message: str, line: int | None = None, key: str = ""):
        self.message, self.line, self.key = message, line, key


_INT = re.compile(r"^[-+]?[0-9]+$|^0o[0-7]+$|^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$"
                    r"|^\.(?:nan|NaN|NAN)$")


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core scalars, no duplicate keys and only scalar keys."""

    yaml_implicit_resolvers: dict = {}

    def construct_mapping(self, node, deep=False):  # noqa: D102 - PyYAML hook
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Refused("keys must be plain names, not lists or mappings", line)
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise _Refused(f"duplicate key (line {line}; first defined on line {seen[key]})", key=str(key)[:60])
            seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node):  # noqa: D102 - PyYAML hook
        text = self.construct_scalar(node)
        if len(text) > _INT_DIGITS:
            raise _Refused(f"integer of {len(text)} digits is too long", node.start_mark.line + 1)
        if text.startswith("0o"):
            return int(text[2:], 8)
        if text.startswith("0x"):
            return int(text[2:], 16)
        return int(text, 10)

    def construct_yaml_float(self, node):  # noqa: D102 - PyYAML hook
        text = self.construct_scalar(node).lower()
        if len(text) > _INT_DIGITS:
            raise _Refused(f"number of {len(text)} characters is too long", node.start_mark.line + 1)
        sign = -1.0 if text.startswith("-") else 1.0
        body = text.lstrip("+-")
        if body == ".inf":
            return sign * float("inf")
        if body == ".nan":
            return float("nan")
        return float(text)


_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"),
                                    ["~", "n", "N", ""])
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                    list("tTfF"))
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+.0123456789"))
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:float", _StrictLoader.construct_yaml_float)


def _check_size(root: yaml.Node) -> None:
    """Refuse documents nested too deeply or whose aliases expand beyond MAX_NODES nodes."""
    sizes: dict[int, int] = {}
    aliased = [False]  # a node met twice: the document uses aliases

    def size(node: yaml.Node, depth: int, stack: set[int]) -> int:
        if depth > MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels", node.start_mark.line + 1)
        key = id(node)
        if key in sizes:
            aliased[0] = True
            return sizes[key]
        if key in stack:
            raise _Refused("an alias refers to itself (recursive document)", node.start_mark.line + 1)
        total = 1
        if isinstance(node, (yaml.SequenceNode, yaml.MappingNode)):
            stack.add(key)
            children = node.value if isinstance(node, yaml.SequenceNode) else [n for kv in node.value for n in kv]
            for c in children:
                total += size(c, depth + 1, stack)
                if total > MAX_NODES:
                    what = " (counting what its aliases expand to)" if aliased[0] else ""
                    raise _Refused(f"has more than {MAX_NODES:,} entries{what}: refused", node.start_mark.line + 1)
            stack.discard(key)
        sizes[key] = total
        return total

    size(root, 0, set())


def loads_strict(text: str, source: str) -> Any:
    """Parse YAML text strictly; ``source`` names the file in error messages."""
    if len(text) > MAX_TEXT_CHARS:
        raise ConfigError(source, Problem("", f"{len(text):,} characters, more than the {MAX_TEXT_CHARS:,} a config or "
                                          "energy table may have (they are a few thousand)"))
    try:
        loader = _StrictLoader(text)  # its reader refuses control characters (a NUL byte) at once
    except yaml.YAMLError as e:
        raise ConfigError(source, Problem("", f"not YAML text: {str(e).splitlines()[0][:200]}")) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node)
        return loader.construct_document(node)
    except _Refused as e:
        where = f"line {e.line}: " if e.line else ""
        raise ConfigError(source, Problem(e.key, f"{where}{e.message}")) from None
    except RecursionError:
        raise ConfigError(source, Problem("", f"nested deeper than {MAX_DEPTH} levels")) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = getattr(e, "problem", None) or str(e)
        raise ConfigError(source, Problem("", f"YAML syntax error: {where}{what[:200]}")) from None
    finally:
        loader.dispose()


def load_yaml_mapping(path: str | Path) -> dict:
    """Read a YAML file whose top level must be a mapping."""
    data = loads_strict(read_text_input(path, ConfigError, 4 * MAX_TEXT_CHARS), str(path))  # UTF-8: <= 4 bytes each
    if not isinstance(data, dict):
        raise ConfigError(str(path), Problem("", "top level must be a mapping of keys"))
    return data
