"""Command-line interface: argparse subcommands. The only module that prints or configures
logging. Exit codes: 0 ok, 2 bad usage / config / input, 1 internal error."""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

import yaml

import neurosim
from neurosim.config.energy_table import FORMAT as ENERGY_FORMAT
from neurosim.config.energy_table import parse_energy_table
from neurosim.config.loader import spec_from_mapping
from neurosim.config.schema import to_plain
from neurosim.config.yaml_strict import load_yaml_mapping
from neurosim.errors import NeurosimError, SourceError

EXIT_OK, EXIT_INTERNAL, EXIT_USER = 0, 1, 2


def _validate_one(path: str) -> str:
    data = load_yaml_mapping(path)
    if data.get("format") == ENERGY_FORMAT:
        table = parse_energy_table(data, path)
        return f"{path}: ok (energy table {table.technology}, {len(table.entries)} entries)"
    spec = spec_from_mapping(data, path, base_dir=Path(path).parent)
    return f"{path}: ok ({spec.design} '{spec.name}')"


def cmd_validate(args: argparse.Namespace) -> int:
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


def cmd_show_config(args: argparse.Namespace) -> int:
    """Print the fully resolved config (defaults filled in, overrides applied) as YAML."""
    from neurosim.config.loader import load_hw_config

    spec = load_hw_config(args.file, args.set)
    sys.stdout.write(yaml.safe_dump(to_plain(spec), sort_keys=False))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    p = argparse.ArgumentParser(prog="neurosim", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"neurosim {neurosim.__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    v = sub.add_parser("validate", help="validate hardware configs / energy tables")
    v.add_argument("files", nargs="+", metavar="FILE")
    v.set_defaults(func=cmd_validate)

    s = sub.add_parser("show-config", help="print the resolved config with defaults")
    s.add_argument("file", metavar="FILE")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a key (repeatable)")
    s.set_defaults(func=cmd_show_config)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SourceError as e:
        for line in e.lines():
            print(line, file=sys.stderr)
        return EXIT_USER
    except NeurosimError as e:
        print(f"neurosim: {e}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print("neurosim: interrupted", file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001 - the one place that reports internal errors
        traceback.print_exc()
        print("neurosim: internal error (a bug: please report it with the traceback above)", file=sys.stderr)
        return EXIT_INTERNAL
