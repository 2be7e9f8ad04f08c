"""Benchmark: sweep throughput in points per minute on a 1-layer trace, with 1 and 2 local
workers (process pool), and the speedup from 1 to 2. Each point is a full simulation of the
shipped real SmolLM2 layer trace on acc_if_64x64 with one override.

    python benchmarks/sweep_points.py [--points 240]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from neurosim.api import sweep

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=240)
    args = ap.parse_args()
    values = ",".join(str(12.8 + 0.1 * i) for i in range(args.points))
    grid = [f"dram.bandwidth_gbps={values}"]
    base, trace = ROOT / "hw_configs/acc_if_64x64.yaml", ROOT / "traces/smollm2_wikitext_l1_t64"
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        sweep(base, [trace], Path(tmp) / "warm", grid=["dram.bandwidth_gbps=12.8"], plots=False)  # numba cache
        for jobs in (1, 2):
            t = time.perf_counter()
            df = sweep(base, [trace], Path(tmp) / f"j{jobs}", grid=grid, jobs=jobs, plots=False)
            dt = time.perf_counter() - t
            assert (df["status"] == "ok").all()
            rates[jobs] = len(df) / dt * 60
            print(f"{jobs} worker(s): {len(df)} points in {dt:.1f} s = {rates[jobs]:.0f} points/min")
    print(f"speedup 1 -> 2 workers: {rates[2] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
