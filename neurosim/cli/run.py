"""``neurosim run``: simulate a trace on hardware configs and write run directories."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from neurosim.cli.common import (
    EXIT_INTERNAL,
    EXIT_OK,
    add_detail_args,
    progress,
    worker_count,
)
from neurosim.errors import UsageError


def _run_specs(args: argparse.Namespace) -> list:
    """The configs of ``run``: each ``--hw`` with ``--set`` (all) and its own ``--hw-set``, named
    by its ``--label``, or by its file's name plus its own overrides."""
    from neurosim.config.loader import load_hw_config
    from neurosim.fsutil import SAFE_NAME

    if args.label and len(args.label) != len(args.hw):
        raise UsageError(f"--label: give one per --hw ({len(args.hw)}), got {len(args.label)}")
    specs = []
    for i, hw in enumerate(args.hw):
        own = [kv for j, kv in args.hw_set if j == i]
        spec = load_hw_config(hw, [*args.set, *own])
        name = args.label[i] if args.label else (
            re.sub(r"[^A-Za-z0-9._+-]", "-", "+".join([spec.name, *own]))[:64] if own else spec.name)
        if not SAFE_NAME.match(name):
            raise UsageError(f"--label {name!r}: letters, digits, '.', '_', '+', '-' (up to 64), starting with a "
                             "letter or digit")
        specs.append(load_hw_config(hw, [*args.set, *own, f"name={name}"]))
    return specs


class _BindToHw(argparse.Action):
    """``--hw-set KEY=VALUE``: an override of the ``--hw`` given just before it."""

    def __call__(self, parser, namespace, value, option_string=None):
        if not namespace.hw:
            parser.error(f"{option_string} {value}: give it after the --hw it changes")
        namespace.hw_set = [*(namespace.hw_set or []), (len(namespace.hw) - 1, value)]


def _warn_stale_runs(out: Path, written: set[str]) -> None:
    """Run directories in ``out`` that this run did not write (an earlier run's configs): say so
    (they are never removed)."""
    from neurosim.results import RUN_MARKER

    stale = sorted(d.name for d in out.iterdir() if d.is_dir() and d.name not in written and (d / RUN_MARKER).is_file())
    if stale:
        print(f"neurosim: {out} also holds run directories from an earlier run, not from this one: "
              f"{', '.join(stale)} (left as they are; remove them or use a new --out)", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Simulate a trace on one or more hardware configs and write their run directories."""
    from neurosim.api import run
    from neurosim.report.console import comparison_report, single_report

    if not Path(args.trace).exists():
        raise UsageError(f"trace {args.trace}: does not exist")
    with progress(1, "simulate") as tick:
        results = run(args.trace, _run_specs(args), args.out, check=args.check,
                      command=" ".join(["neurosim", *sys.argv[1:]]), progress=tick, timeline=args.timeline or False,
                      force=args.force, engine=args.engine, jobs=args.jobs, sources=args.hw)
    for r in results:
        print(single_report(r, args.detail, args.extrapolate))
        print()
    if len(results) > 1:
        print(comparison_report(results, args.detail))
        from neurosim.report.compare import compare, compare_text

        for r in results[1:]:
            print()
            print(compare_text(compare(results[0], r)))
    print(f"\nwrote {', '.join(str(Path(args.out) / r.config_name) for r in results)}")
    _warn_stale_runs(Path(args.out), {r.config_name for r in results})
    if args.check:
        gemms = [layer for layer in results[0].layers if layer.kind != "vector"]
        unchecked = [layer.name for layer in gemms if not layer.check]
        if unchecked:
            what = "nothing was checked" if len(unchecked) == len(gemms) else "partly checked"
            names = ", ".join(unchecked[:8]) + (f", ... ({len(unchecked) - 8} more)" if len(unchecked) > 8 else "")
            print(f"neurosim: functional check: {what}; no weight codes in the trace for "
                  f"{len(unchecked)} op(s): {names} (synth --weights or export stores them)", file=sys.stderr)
        bad = [(r.config_name, layer.name) for r in results for layer in r.layers
               if layer.check and layer.check["accumulation_mismatches"]]
        if bad:
            print(f"neurosim: functional check FAILED on {bad}", file=sys.stderr)
            return EXIT_INTERNAL
    return EXIT_OK


def register(sub) -> None:
    """Add the ``run`` subcommand to ``sub`` (argparse subparsers)."""
    r = sub.add_parser("run", help="simulate a trace on hardware configs")
    r.add_argument("trace", metavar="TRACE", help="trace directory")
    r.add_argument("--hw", action="append", required=True, metavar="CONFIG", help="hardware config (repeatable)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a key in every config")
    r.add_argument("--hw-set", action=_BindToHw, default=[], metavar="KEY=VALUE",
                   help="override a key of the --hw just before (repeatable); the run is named after it, e.g. "
                        "--hw mac.yaml --hw mac.yaml --hw-set array.dataflow=ws compares base and variant")
    r.add_argument("--label", action="append", metavar="NAME",
                   help="name of each --hw's run (its output directory), one per --hw in order")
    r.add_argument("--out", required=True, help="output directory; one subdirectory per config")
    r.add_argument("--check", action="store_true", help="functional check against the integer GEMM")
    r.add_argument("--jobs", type=worker_count, default=1, metavar="N",
                   help="simulate the configs in N worker processes, the same results (each worker takes "
                        "about 1.5 s to start: worth it when a config takes several seconds; default: %(default)s)")
    add_detail_args(r)
    r.add_argument("--engine", choices=("fast", "reference"), default="fast",
                   help="tile pipeline: compiled event loop, or the simpy reference model (the same cycles, slower)")
    r.add_argument("--timeline", nargs="?", const="auto", choices=("auto", "op", "tile"),
                   help="also write timeline.json (Chrome trace / Perfetto): one event per op, or per tile; "
                   "auto (the default when the flag is given alone) is per tile up to 2^34 MACs")
    r.add_argument("--force", action="store_true",
                   help="write into an existing directory that is not a run directory (nothing there is removed)")
    r.set_defaults(func=run)
