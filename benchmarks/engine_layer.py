"""Benchmark: one 128x4096x4096 layer on a 32x32 output-stationary MAC array and on
acc_if_64x64 (target: under 2 s each; SCALE-Sim v3 needs ~12 min and 6.7 GB on this machine
for the MAC case, shared/references/peers.md). Yardstick in the same process: a numpy int64
GEMM of the same shape in float32 through BLAS (the cost of merely computing the layer once).

    python benchmarks/engine_layer.py [--M 128 --K 4096 --N 4096]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from neurosim.api import simulate
from neurosim.config import load_hw_config
from neurosim.trace.synth import GemmSpec, write_synthetic

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--M", type=int, default=128)
    ap.add_argument("--K", type=int, default=4096)
    ap.add_argument("--N", type=int, default=4096)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tr = write_synthetic(Path(tmp) / "t", [("in", [GemmSpec("layer", args.M, args.K, args.N)])],
                             model_name="bench", seed=0, weights=False)
        configs = {
            "mac 32x32 os": load_hw_config(ROOT / "hw_configs/mac_64x64_os.yaml", ["array.rows=32", "array.cols=32"]),
            "acc_if_64x64": load_hw_config(ROOT / "hw_configs/acc_if_64x64.yaml"),
        }
        for spec in configs.values():  # compile the numba kernels outside the timing
            simulate(tr, spec, verify=False)
        rng = np.random.default_rng(0)
        a = rng.integers(-7, 8, (args.M, args.K)).astype(np.float32)
        b = rng.integers(-7, 8, (args.K, args.N)).astype(np.float32)
        t = time.perf_counter()
        a @ b
        gemm_s = time.perf_counter() - t
        print(f"layer {args.M}x{args.K}x{args.N} ({args.M * args.K * args.N / 1e9:.2f} G MAC)")
        print(f"yardstick: numpy float32 GEMM of the same shape: {gemm_s:.3f} s")
        for name, spec in configs.items():
            t = time.perf_counter()
            r = simulate(tr, spec, verify=False)
            dt = time.perf_counter() - t
            layer = r.layers[0]
            print(f"{name:<14} {dt:7.3f} s ({dt / gemm_s:5.2f}x the GEMM)  cycles {r.total_cycles:>12,}  "
                  f"compute {r.compute_cycles:>12,}  tiles {layer.tiling['n_m'] * layer.tiling['n_n'] * layer.tiling['n_k']:>5}"
                  f"  energy {r.energy_pj['total'] / 1e6:9.2f} uJ")
            print(f"{'':<14} tiling {layer.tiling}")
            t = time.perf_counter()
            ref = simulate(tr, spec, verify=False, engine="reference")
            ref_s = time.perf_counter() - t
            print(f"{'':<14} reference engine (simpy, every tile): {ref_s:.3f} s ({ref_s / dt:.1f}x); "
                  f"same results: {ref.to_json() == r.to_json()}")
        print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
