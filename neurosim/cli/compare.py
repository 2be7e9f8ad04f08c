"""``neurosim compare``: two finished runs, energy waterfall and cycles by cause."""

from __future__ import annotations

import argparse

from neurosim.cli.common import (
    EXIT_OK,
)


def run(args: argparse.Namespace) -> int:
    """Compare two finished runs of one trace: energy waterfall, cycles by cause, views."""
    from neurosim.api import load_results
    from neurosim.fsutil import prepare_output_dir
    from neurosim.report.compare import compare, compare_text, write_comparison

    c = compare(load_results(args.run_a), load_results(args.run_b))
    if args.out:
        prepare_output_dir(args.out)
    print(compare_text(c))
    if args.out:
        print(f"\nwrote {', '.join(str(p) for p in write_comparison(c, args.out))}")
    return EXIT_OK


def register(sub) -> None:
    """Add the ``compare`` subcommand to ``sub`` (argparse subparsers)."""
    c = sub.add_parser("compare", help="compare two finished runs: energy waterfall, cycles by cause, views",
                       description="Compare run B with run A (run directories of one trace, no re-simulation): the "
                       "energy difference as a waterfall by component, the cycle difference by stall cause, per "
                       "layer type and in the full / on-chip / compute-only views. Example: neurosim compare "
                       "out/mac_64x64_os out/acc_if_64x64 --out out/compare")
    c.add_argument("run_a", metavar="RUN_A", help="run directory (OUT/<config name>) of the reference A")
    c.add_argument("run_b", metavar="RUN_B", help="run directory of B")
    c.add_argument("--out", help="also write compare.json, compare.txt and waterfall.png/.svg here")
    c.set_defaults(func=run)
