"""``neurosim sweep``: config overrides over traces, resumable."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from neurosim.cli.common import (
    EXIT_INTERNAL,
    EXIT_OK,
    progress,
    worker_count,
)
from neurosim.errors import UsageError


def run(args: argparse.Namespace) -> int:
    """Run or resume a sweep; print where the table is and a short summary."""
    from neurosim.api import sweep

    if sum(x is not None for x in (args.dask_local, args.scheduler)) > 1:
        raise UsageError("give at most one of --dask-local, --scheduler")
    if not 0 <= args.iso_area_tolerance <= 100:
        raise UsageError(f"--iso-area-tolerance {args.iso_area_tolerance:g}: must be a percentage from 0 to 100")
    with progress(1, "sweep") as tick:
        df = sweep(args.hw, args.trace, args.out, grid=args.grid, zipped=args.zip, jobs=args.jobs,
                   dask_local=args.dask_local, scheduler=args.scheduler, baseline=args.baseline,
                   per_layer=args.per_layer, progress=tick, iso_area=args.iso_area,
                   iso_area_tolerance=args.iso_area_tolerance / 100, force=args.force)
    failed = int((df["status"] != "ok").sum()) if not df.empty else 0
    if failed:
        for _, row in df[df["status"] != "ok"].iterrows():
            print(f"  failed: {row.get('error', '')}", file=sys.stderr)
    print(f"{len(df)} rows ({failed} failed) in {Path(args.out) / 'sweep.csv'}")
    _print_head(df, args.out)
    if failed:
        print(f"neurosim: sweep: {failed} of {len(df)} points FAILED (see the error column of sweep.csv); "
              "exit status 1", file=sys.stderr)
        return EXIT_INTERNAL
    return EXIT_OK


#: The columns of the console's head of the table, after the swept keys.
HEAD_COLUMNS = ("trace", "status", "schedule_latency_s", "energy_pj_total", "area_mm2")


def _print_head(df, out: str) -> None:
    """The first rows of the table (the swept keys and the headline columns) and the files written."""
    if df.empty:
        return
    swept = [c for c in df.columns if "." in c and not c.startswith("energy_pj")]
    cols = swept + [c for c in HEAD_COLUMNS if c in df.columns] + [c for c in df.columns if c.endswith("_vs_baseline")]
    head = df[cols].head(10).copy()
    head["trace"] = head["trace"].map(lambda t: Path(str(t)).name)
    print(head.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if len(df) > 10:
        print(f"... {len(df) - 10} more rows in sweep.csv")
    files = sorted(p.name for p in Path(out).iterdir() if p.is_file() and not p.name.startswith("."))
    print(f"wrote in {out}: {', '.join(files)} (and points/, one record per point)")


def register(sub) -> None:
    """Add the ``sweep`` subcommand to ``sub`` (argparse subparsers)."""
    w = sub.add_parser("sweep", help="sweep config overrides over traces (resumable)")
    w.add_argument("--hw", required=True, metavar="BASE.yaml", help="the base hardware config every point overrides")
    w.add_argument("--trace", action="append", required=True, metavar="DIR", help="trace (repeatable)")
    w.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...", help="cartesian axis (repeatable)")
    w.add_argument("--zip", action="append", default=[], metavar="KEY=V1,V2,...", help="axes taken in lockstep")
    w.add_argument("--jobs", type=worker_count, default=1, help="local worker processes")
    w.add_argument("--dask-local", type=worker_count, metavar="N", help="run on a Dask LocalCluster of N workers")
    w.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on a running Dask scheduler")
    w.add_argument("--baseline", metavar="CONFIG", help="add ratio columns against this config")
    w.add_argument("--per-layer", action="store_true", help="one row per layer")
    w.add_argument("--iso-area", metavar="KEY=V1,V2,...",
                   help="size every point to the --baseline's chip area: run the candidate value of KEY "
                        "giving the largest area not above the baseline's (docs/model.md, Area)")
    w.add_argument("--iso-area-tolerance", type=float, default=2.0, metavar="PCT",
                   help="how far above the baseline's area a point may be, in percent (default: %(default)s)")
    w.add_argument("--out", required=True, help="output directory: sweep.csv, plots, stored points")
    w.add_argument("--force", action="store_true", help="write into a directory that is not a neurosim one (its "
                   "files are kept, but sweep.csv and the plots are replaced)")
    w.set_defaults(func=run)
