"""``neurosim report``: re-render finished runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from neurosim.cli.common import (
    EXIT_OK,
    add_detail_args,
)
from neurosim.errors import UsageError


def run(args: argparse.Namespace) -> int:
    """Re-render the console report of finished runs (no simulation)."""
    from neurosim.api import load_results
    from neurosim.report.console import comparison_report, single_report

    results = [load_results(d) for d in args.dirs]
    shas = {r.provenance.get("trace_manifest_sha256") for r in results}
    if len(results) > 1 and (len(shas) > 1 or len({tuple(la.name for la in r.layers) for r in results}) > 1):
        raise UsageError("report: these runs replayed different traces (" + ", ".join(
            f"{d}: {r.provenance.get('trace', '?')}" for d, r in zip(args.dirs, results, strict=True))
            + "); a side-by-side comparison needs runs of one trace (report them one at a time)")
    for d, r in zip(args.dirs, results, strict=True):
        print(single_report(r, args.detail, args.extrapolate))
        print()
        if args.plots:
            from neurosim.report.plots import write_run_plots

            per_layer = {"layers": True, "summary": False}.get(args.detail)  # auto: by the number of ops
            print(f"wrote {', '.join(str(p) for p in write_run_plots(r, d, per_layer))}\n")
    if len(results) > 1:
        print(comparison_report(results, args.detail))
        if args.plots:
            from neurosim.report.plots import write_side_by_side

            out = Path(args.dirs[0]).resolve().parent  # beside the run directories (OUT of OUT/<config>)
            print(f"\nwrote {', '.join(str(p) for p in write_side_by_side(results, out))}")
    return EXIT_OK


def register(sub) -> None:
    """Add the ``report`` subcommand to ``sub`` (argparse subparsers)."""
    rep = sub.add_parser("report", help="re-render the report of finished runs")
    rep.add_argument("dirs", nargs="+", metavar="DIR", help="run directory (OUT/<config name>)")
    rep.add_argument("--plots", action="store_true", help="write PNG and SVG plots into each run directory (and, for "
                     "several runs, the runs side by side beside them: energy_runs, energy_runs_on_chip)")
    add_detail_args(rep)
    rep.set_defaults(func=run)
