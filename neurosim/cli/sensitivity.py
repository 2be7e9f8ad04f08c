"""``neurosim sensitivity``: one-at-a-time swings of a B/A ratio."""

from __future__ import annotations

import argparse
from pathlib import Path

from neurosim.cli.common import (
    EXIT_INTERNAL,
    EXIT_OK,
    progress,
    worker_count,
)
from neurosim.errors import UsageError


def run(args: argparse.Namespace) -> int:
    """One-at-a-time sensitivity of the B/A energy and cycle ratios (resumable)."""
    from neurosim.api import sensitivity
    from neurosim.sweep.sensitivity import DEFAULT_PARAMS

    if len(args.hw) != 2:
        raise UsageError(f"sensitivity needs exactly two --hw configs (A and B), got {len(args.hw)}")
    if sum(x is not None for x in (args.dask_local, args.scheduler)) > 1:
        raise UsageError("give at most one of --dask-local, --scheduler")
    with progress(1, "sensitivity") as tick:
        df = sensitivity(tuple(args.hw), args.trace, args.out, params=args.param or list(DEFAULT_PARAMS),
                         jobs=args.jobs, dask_local=args.dask_local, scheduler=args.scheduler, progress=tick,
                         force=args.force)
    print(f"ratios B / A: {Path(args.hw[1]).stem} over {Path(args.hw[0]).stem} (above 1: A uses less)")
    print(f"{'parameter':<40} {'value':>14} {'E_B/E_A':>9} {'cyc_B/cyc_A':>12}")
    for _, row in df.iterrows():
        if row["status"] == "ok":
            print(f"{row['param']:<40} {row['value']:>14} {row['energy_ratio_b_over_a']:>9.3f} "
                  f"{row['cycle_ratio_b_over_a']:>12.3f}" + (f"  ({row['notes']})" if row["notes"] else ""))
        else:
            print(f"{row['param']:<40} {row['value']:>14}  FAILED: {row['error']}")
    print(f"\nwrote {Path(args.out) / 'sensitivity.csv'} and tornado_energy/tornado_cycles (.png, .svg)")
    return EXIT_INTERNAL if (df["status"] != "ok").any() else EXIT_OK


def register(sub) -> None:
    """Add the ``sensitivity`` subcommand to ``sub`` (argparse subparsers)."""
    se = sub.add_parser("sensitivity", help="one-at-a-time sensitivity of a B/A ratio, with tornado plots",
                        description="Swing one parameter at a time on both configs (each that has the key) and "
                        "record E_B/E_A and cycles_B/cycles_A (B over A, as compare; with the IF design as A: MAC / ACC); "
                        "points are stored as they finish (re-running "
                        "resumes). Default parameters: static power, SRAM cell, DRAM type, wire length, "
                        "accumulator/membrane width, IF dispatch, salient lanes. Example: neurosim sensitivity "
                        "--hw hw_configs/acc_if_64x64.yaml --hw hw_configs/mac_64x64_os.yaml "
                        "--trace traces/smollm2_wikitext_l1_t64 --out out/sens")
    se.add_argument("--hw", action="append", required=True, metavar="CONFIG", help="config A, then config B")
    se.add_argument("--trace", required=True, metavar="DIR", help="trace directory")
    se.add_argument("--param", action="append", metavar="KEY=V1,V2,...",
                    help="a parameter and its values (repeatable; KEY may be k1|k2 for a key named differently "
                    "on each design); default: the built-in set")
    se.add_argument("--jobs", type=worker_count, default=1, help="local worker processes")
    se.add_argument("--dask-local", type=worker_count, metavar="N", help="run on a Dask LocalCluster of N workers")
    se.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on a running Dask scheduler")
    se.add_argument("--out", required=True, help="output directory: sensitivity.csv, tornado plots, stored points")
    se.add_argument("--force", action="store_true", help="write into a directory that is not a neurosim one (its "
                    "files are kept, but sensitivity.csv and the plots are replaced)")
    se.set_defaults(func=run)
