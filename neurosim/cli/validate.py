"""``neurosim validate``: check hardware configs and energy tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from neurosim.cli.common import (
    EXIT_OK,
    EXIT_USER,
)
from neurosim.config.energy_table import FORMAT as ENERGY_FORMAT
from neurosim.config.energy_table import parse_energy_table
from neurosim.config.loader import spec_from_mapping
from neurosim.config.yaml_strict import load_yaml_mapping
from neurosim.errors import SourceError


def _validate_one(path: str) -> str:
    data = load_yaml_mapping(path)
    if data.get("format") == ENERGY_FORMAT:
        table = parse_energy_table(data, path)
        return f"{path}: ok (energy table {table.technology}, {len(table.entries)} entries)"
    spec = spec_from_mapping(data, path, base_dir=Path(path).parent)
    return f"{path}: ok ({spec.design} '{spec.name}')"


def run(args: argparse.Namespace) -> int:
    """Validate hardware configs and energy tables; report every problem of every file."""
    failed = False
    for path in args.files:
        try:
            print(_validate_one(path))
        except SourceError as e:
            failed = True
            for line in e.lines():
                print(line, file=sys.stderr)
    return EXIT_USER if failed else EXIT_OK


def register(sub) -> None:
    """Add the ``validate`` subcommand to ``sub`` (argparse subparsers)."""
    v = sub.add_parser("validate", help="validate hardware configs / energy tables")
    v.add_argument("files", nargs="+", metavar="FILE", help="hardware configs or energy tables (YAML)")
    v.set_defaults(func=run)
