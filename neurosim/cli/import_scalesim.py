"""``neurosim import-scalesim``: a MAC config from a SCALE-Sim .cfg."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from neurosim.cli.common import (
    EXIT_OK,
)
from neurosim.config.loader import spec_from_mapping
from neurosim.errors import UsageError


def run(args: argparse.Namespace) -> int:
    """Write a neurosim MAC config equivalent to a SCALE-Sim .cfg."""
    from neurosim.config.scalesim import scalesim_yaml
    from neurosim.fsutil import atomic_write_text

    out = Path(args.out)
    if out.exists() and not args.force:
        raise UsageError(f"--out {out}: exists (--force replaces it)")
    if out.exists() and not out.is_file():
        raise UsageError(f"--out {out}: not a file")
    text, notes = scalesim_yaml(args.cfg)
    spec = spec_from_mapping(yaml.safe_load(text), str(args.cfg))  # checked before anything is written
    atomic_write_text(out, text)
    for note in notes:
        print(f"neurosim: warning: {args.cfg}: {note}", file=sys.stderr)
    print(f"wrote {out} ({spec.name}: {spec.array.rows}x{spec.array.cols} {spec.array.dataflow}); "
          f"run it with: neurosim run TRACE --hw {out} --out DIR")
    return EXIT_OK


def register(sub) -> None:
    """Add the ``import_scalesim`` subcommand to ``sub`` (argparse subparsers)."""
    im = sub.add_parser("import-scalesim", help="write a MAC config from a SCALE-Sim .cfg")
    im.add_argument("cfg", metavar="CFG", help="SCALE-Sim .cfg file")
    im.add_argument("--out", required=True, metavar="FILE.yaml", help="the MAC config to write")
    im.add_argument("--force", action="store_true", help="replace an existing file")
    im.set_defaults(func=run)
