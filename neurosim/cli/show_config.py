"""``neurosim show-config``: the resolved config, or its effective energy table and area."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from neurosim.cli.common import (
    EXIT_OK,
)
from neurosim.config.schema import to_plain
from neurosim.errors import UsageError

#: The real trace a source checkout ships: ``auto`` widths are resolved against it when no
#: ``--trace`` is given (an installed package without it asks for ``--trace``).
SHIPPED_TRACE = Path(__file__).resolve().parents[2] / "traces" / "smollm2_wikitext_l1_t64_rot"


def _needs_trace(spec) -> bool:
    """Whether ``spec`` has an ``auto`` accumulator width (resolved from a trace's ops)."""
    from neurosim.engine.designs import DESIGNS

    return getattr(spec.array, DESIGNS[spec.design].accumulator_key) == "auto"


def run(args: argparse.Namespace) -> int:
    """Print the fully resolved config (defaults filled in, overrides applied) as YAML."""
    from neurosim.config.loader import load_hw_config

    spec = load_hw_config(args.file, args.set)
    if not args.energy:
        sys.stdout.write(yaml.safe_dump(to_plain(spec), sort_keys=False))
        return EXIT_OK
    from neurosim.engine.simulate import chip_area_mm2, effective_energy_table
    from neurosim.trace.reader import open_trace

    trace = open_trace(args.trace) if args.trace else None
    note = ""
    if trace is None and _needs_trace(spec) and SHIPPED_TRACE.is_dir():
        trace = open_trace(SHIPPED_TRACE)
        note = f"; auto widths resolved against the shipped {SHIPPED_TRACE.name} (--trace DIR to choose)"
    try:
        pj, power = effective_energy_table(spec, trace)
        area = chip_area_mm2(spec, trace)
    except ValueError as e:
        raise UsageError(f"{args.file}: {e} (--trace DIR)") from None
    print(f"{spec.name}: energy per counted action at {spec.technology} (after bitwidth and SRAM scaling{note})")
    for action, v in sorted(pj.items()):
        print(f"  {action:<36} {v:12.6g} pJ")
    print(f"  {'static power (SRAM + logic)':<36} {power.leakage_mw:12.6g} mW")
    print(f"  {'clock tree, every flip-flop clocked':<36} {power.clock_mw:12.6g} mW")
    print(f"  {'DRAM background, idle / streaming':<36} {power.dram_idle_mw:12.6g} / {power.dram_busy_mw:.6g} mW")
    if area:
        print(f"area by component (mm^2){'' if trace else '; the vector unit counts only with a --trace that has vector ops'}")
        for name, v in area.items():
            print(f"  {name:<36} {v:12.6g} mm^2")
    return EXIT_OK


def register(sub) -> None:
    """Add the ``show_config`` subcommand to ``sub`` (argparse subparsers)."""
    s = sub.add_parser("show-config", help="print the resolved config with defaults")
    s.add_argument("file", metavar="FILE", help="hardware config (YAML)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a key (repeatable)")
    s.add_argument("--energy", action="store_true",
                   help="print the effective energy table instead: pJ per counted action after bitwidth and SRAM "
                        "scaling, and the static power")
    s.add_argument("--trace", metavar="DIR", help="with --energy: resolve auto widths as this trace needs them")
    s.set_defaults(func=run)
