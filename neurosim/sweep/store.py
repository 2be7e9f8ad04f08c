"""The resumable result store: one JSON file per finished point, written atomically, plus the
table ``sweep.csv`` rebuilt after each point (and ``sweep.parquet``, when pyarrow is installed,
at the end of the run).

A point's key is the sha256 of its resolved config and the trace's manifest checksum, so the
same command run again finds its finished points and skips them.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path


def point_key(config_yaml: str, trace_manifest_sha256: str) -> str:
    return hashlib.sha256(f"{config_yaml}\n{trace_manifest_sha256}".encode()).hexdigest()[:24]


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class Store:
    """``DIR/points/<key>.json`` per point; ``DIR/sweep.csv`` (+ parquet) for the table."""

    def __init__(self, out_dir: str | Path):
        self.dir = Path(out_dir)
        self.points = self.dir / "points"
        self.points.mkdir(parents=True, exist_ok=True)

    def put(self, key: str, record: dict) -> None:
        _atomic_write(self.points / f"{key}.json", json.dumps(record, sort_keys=True))

    def records(self) -> list[dict]:
        return [json.loads(p.read_text()) for p in sorted(self.points.glob("*.json"))]

    def write_table(self, rows: list[dict], parquet: bool = True) -> None:
        """Rewrite ``sweep.csv`` (after every point) and ``sweep.parquet`` (when asked: at the end)."""
        import pandas as pd

        df = pd.DataFrame(rows)
        _atomic_write(self.dir / "sweep.csv", df.to_csv(index=False))
        if not parquet:
            return
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            return
        tmp = self.dir / ".sweep.parquet.tmp"
        df.to_parquet(tmp, index=False)
        os.replace(tmp, self.dir / "sweep.parquet")
