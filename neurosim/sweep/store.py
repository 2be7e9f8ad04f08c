"""The resumable result store: one JSON file per finished point, written atomically, plus the
table ``sweep.csv`` rebuilt after each point (and ``sweep.parquet``, when pyarrow is installed,
at the end of the run).

A point's key is the sha256 of its resolved config, the trace's manifest checksum and the trace
path, so the same command run again finds its finished points and skips them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path

from neurosim.fsutil import OutputError, atomic_write, atomic_write_text, clean_stale
from neurosim.jsonutil import loads_json_strict

log = logging.getLogger("neurosim.sweep")
_KEY = re.compile(r"^[0-9a-f]{24}$")
_RECORD_FIELDS = {"key": str, "status": str, "trace": str, "role": str, "overrides": list}


def point_key(config_yaml: str, trace_manifest_sha256: str, trace_path: str) -> str:
    """Key of one point: its resolved config, its trace's manifest checksum and the trace's path
    (two byte-identical traces given twice are two rows, not one)."""
    text = f"{config_yaml}\n{trace_manifest_sha256}\n{trace_path}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _valid_record(rec, key: str) -> bool:
    return (isinstance(rec, dict) and rec.get("key") == key
            and all(isinstance(rec.get(k), t) for k, t in _RECORD_FIELDS.items()))


class Store:
    """``DIR/points/<key>.json`` per point; ``DIR/sweep.csv`` (+ parquet) for the table."""

    def __init__(self, out_dir: str | Path):
        self.dir = Path(out_dir)
        self.points = self.dir / "points"
        if self.points.is_symlink() or (self.points.exists() and not self.points.is_dir()):
            raise OutputError(f"{self.points}: is a symbolic link or not a directory: the points stay inside --out")
        self.points.mkdir(parents=True, exist_ok=True)
        clean_stale(self.points)
        clean_stale(self.dir)

    def put(self, key: str, record: dict) -> None:
        atomic_write_text(self.points / f"{key}.json", json.dumps(record, sort_keys=True))

    def records(self) -> list[dict]:
        """Every stored point; a file that is not a point record of ours is skipped with a warning
        (the point it stood for, if any, simply runs again)."""
        out = []
        for p in sorted(self.points.glob("*.json")):
            try:
                rec = loads_json_strict(p.read_text(encoding="utf-8")) if p.is_file() else None
            except (OSError, UnicodeDecodeError, ValueError):
                rec = None
            if _KEY.match(p.stem) and _valid_record(rec, p.stem):
                out.append(rec)
            else:
                log.warning("sweep store: skipping %s: not a point record of this sweep store", p)
        return out

    def write_table(self, rows: list[dict], parquet: bool = True, name: str = "sweep") -> None:
        """Rewrite ``NAME.csv`` (after every point) and ``NAME.parquet`` (when asked: at the end)."""
        import pandas as pd

        df = pd.DataFrame(rows)
        atomic_write_text(self.dir / f"{name}.csv", df.to_csv(index=False))
        if not parquet:
            return
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            return
        atomic_write(self.dir / f"{name}.parquet", lambda f: df.to_parquet(f, index=False))
