"""``neurosim trace validate | info``: check or describe a trace."""

from __future__ import annotations

import argparse

from neurosim.cli.common import (
    EXIT_OK,
)


def cmd_trace_validate(args: argparse.Namespace) -> int:
    """Fully validate a trace directory (manifest, headers, checksums, value ranges)."""
    from neurosim.trace.reader import validate_trace

    trace = validate_trace(args.dir)
    m = trace.manifest
    print(f"{args.dir}: ok (trace v{m.version}, {len(m.ops)} ops, {len(m.tensors)} tensors)")
    return EXIT_OK


def cmd_trace_info(args: argparse.Namespace) -> int:
    """Print a trace's ops with shapes and spike statistics."""
    from neurosim.trace.info import format_info
    from neurosim.trace.reader import open_trace

    print(format_info(open_trace(args.dir)))
    return EXIT_OK


def register(sub) -> None:
    """Add the ``trace`` subcommand to ``sub`` (argparse subparsers)."""
    t = sub.add_parser("trace", help="inspect and validate traces")
    tsub = t.add_subparsers(dest="trace_command", required=True, metavar="SUBCOMMAND")
    tv = tsub.add_parser("validate", help="validate a trace: manifest, checksums, shapes, code ranges")
    tv.add_argument("dir", metavar="DIR", help="trace directory")
    tv.set_defaults(func=cmd_trace_validate)
    ti = tsub.add_parser("info", help="ops, shapes and spike statistics of a trace")
    ti.add_argument("dir", metavar="DIR", help="trace directory")
    ti.set_defaults(func=cmd_trace_info)
