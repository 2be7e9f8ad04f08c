"""``neurosim compare``: two finished runs, energy waterfall and cycles by cause."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from neurosim.cli.common import (
    EXIT_OK,
)
from neurosim.errors import UsageError


def run(args: argparse.Namespace) -> int:
    """Compare two finished runs of one trace: energy waterfall, cycles by cause, views."""
    from neurosim.api import load_results
    from neurosim.fsutil import atomic_write_text, check_output_dir
    from neurosim.report.compare import compare, compare_text, write_comparison
    from neurosim.report.iso_latency import iso_text

    c = compare(load_results(args.run_a), load_results(args.run_b))
    if args.out:
        check_output_dir(args.out, args.force, evidence=("compare.json",))
    print(compare_text(c))
    written = write_comparison(c, args.out) if args.out else []
    if args.iso_latency:
        iso = _iso_latency(args, c.a, c.b)
        print(iso_text(iso["rows"], iso["ratios"]))
        if args.out:
            written.append(atomic_write_text(Path(args.out) / "iso_latency.json", json.dumps(iso, indent=1) + "\n"))
    if written:
        print(f"\nwrote {', '.join(str(p) for p in written)}")
    return EXIT_OK


def _iso_latency(args: argparse.Namespace, a, b) -> dict:
    """Re-run the faster of ``a`` and ``b`` (its run directory's config, its trace) at the slower
    one's latency (:func:`neurosim.sweep.iso_latency.iso_latency`)."""
    from neurosim.config.loader import spec_from_mapping
    from neurosim.config.yaml_strict import load_yaml_mapping
    from neurosim.report.iso_latency import iso_ratios, iso_rows
    from neurosim.sweep.iso_latency import iso_latency
    from neurosim.trace.reader import open_trace

    faster_is_b = b.scheduled_latency_s < a.scheduled_latency_s
    fast, slow, run_dir = (b, a, args.run_b) if faster_is_b else (a, b, args.run_a)
    config = Path(run_dir) / "config.resolved.yaml"
    spec = spec_from_mapping(load_yaml_mapping(config), str(config))
    iso = iso_latency(open_trace(_trace_of(args, fast)), spec, slow.scheduled_latency_s, fast)
    return {"target_latency_s": slow.scheduled_latency_s, "rows": iso_rows(a, b, iso.run, faster_is_b),
            "ratios": iso_ratios(a, b, iso.run, faster_is_b)}


def _trace_of(args: argparse.Namespace, run) -> str:
    """The runs' trace: ``--trace``, else the path their provenance keeps (relative to the
    directory they ran in); it must be the trace they replayed (its manifest's hash)."""
    import hashlib

    path = Path(args.trace or run.provenance.get("trace", ""))
    manifest = path / "manifest.json"
    if not manifest.is_file():
        raise UsageError(f"--iso-latency: the runs' trace {str(path)!r} is not here (it is kept relative to the "
                         "directory they ran in): pass --trace DIR")
    if hashlib.sha256(manifest.read_text().encode()).hexdigest() != run.provenance.get("trace_manifest_sha256"):
        raise UsageError(f"--iso-latency: {manifest} is not the trace the runs replayed (its hash differs)")
    return str(path)


def register(sub) -> None:
    """Add the ``compare`` subcommand to ``sub`` (argparse subparsers)."""
    c = sub.add_parser("compare", help="compare two finished runs: energy waterfall, cycles by cause, views",
                       description="Compare run B with run A (run directories of one trace, no re-simulation): the "
                       "energy difference as a waterfall by component, the cycle difference by stall cause, per "
                       "layer type and in the full / on-chip / compute-only views. Example: neurosim compare "
                       "out/acc_if_64x64 out/mac_64x64_os --out out/compare (B over A: with the IF run first, MAC / ACC)")
    c.add_argument("run_a", metavar="RUN_A", help="run directory (OUT/<config name>) of the reference A")
    c.add_argument("run_b", metavar="RUN_B", help="run directory of B")
    c.add_argument("--out", help="also write compare.json, compare.txt and waterfall.png/.svg here")
    c.add_argument("--iso-latency", action="store_true",
                   help="also compare at equal latency: re-run the faster design (its run directory's config, the "
                   "trace) at the lowest clock and supply that meet the slower one's latency, and report energy and "
                   "energy x delay there (iso_latency.json with --out)")
    c.add_argument("--force", action="store_true", help="write --out into a directory that is not a neurosim one "
                   "(its files are kept, but compare.txt and the plots are replaced)")
    c.add_argument("--trace", metavar="DIR", help="with --iso-latency: the runs' trace (default: the path in their "
                   "provenance, relative to the directory they ran in)")
    c.set_defaults(func=run)
