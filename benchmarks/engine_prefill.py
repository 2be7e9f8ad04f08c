"""Benchmark: a whole llama2-7b-shaped prefill (32 layers x 7 linear ops, 2048 tokens,
synthetic codes) on acc_if_64x64 (issue #14 targets: simulate in 5 s and 8x the stream
yardstick, synth in 10 s, 1 GB peak). Yardsticks in the same process: writing the trace's bytes
to disk (for ``synth``) and streaming every activation tensor once from disk (numpy sum over the
memory maps, for the simulation). ``--reference`` also times the simpy reference engine.

    python benchmarks/engine_prefill.py [--tokens 2048] [--layers 32] [--hw CONFIG] [--trace DIR] [--reference]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from neurosim.api import simulate
from neurosim.config import load_hw_config
from neurosim.trace import open_trace
from neurosim.trace.synth import BUILTIN_MODELS, llm_gemms, write_synthetic

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=2048)
    ap.add_argument("--layers", type=int, default=32)
    ap.add_argument("--hw", default=str(ROOT / "hw_configs/acc_if_64x64.yaml"))
    ap.add_argument("--trace", help="reuse or keep the trace here")
    ap.add_argument("--reference", action="store_true", help="also time the simpy reference engine")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.trace or Path(tmp) / "llama2_7b")
        if not (path / "manifest.json").exists():
            t = time.perf_counter()
            write_synthetic(path, llm_gemms(BUILTIN_MODELS["llama2-7b"], args.tokens, args.layers),
                            model_name="llama2-7b", seed=0, weights=False)
            synth_s = time.perf_counter() - t
            size = sum(f.stat().st_size for f in path.iterdir())
            t = time.perf_counter()
            with open(Path(tmp) / "yardstick.bin", "wb") as f:  # the same bytes, written once
                chunk = np.ones(1 << 26, np.int8)
                for _ in range(0, size, chunk.size):
                    chunk.tofile(f)
                os.fsync(f.fileno())
            write_s = time.perf_counter() - t
            os.remove(Path(tmp) / "yardstick.bin")
            print(f"synth: {synth_s:.1f} s ({synth_s / write_s:.1f}x writing the same {size / 2**30:.2f} GiB: "
                  f"{write_s:.1f} s); peak RSS so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
        size = sum(f.stat().st_size for f in path.iterdir())
        trace = open_trace(path)
        t = time.perf_counter()
        for name in dict.fromkeys(op.act_codes for op in trace.ops):
            int(np.asarray(trace.tensor(name)).sum(dtype=np.int64))
        stream_s = time.perf_counter() - t
        spec = load_hw_config(args.hw)
        t = time.perf_counter()
        r = simulate(trace, spec, verify=False)
        sim_s = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        tiles = sum(la.tiling["n_m"] * la.tiling["n_n"] * la.tiling["n_k"] for la in r.layers)
        print(f"trace: llama2-7b shapes, {args.layers} layers, {args.tokens} tokens, {len(trace.ops)} ops, "
              f"{size / 2**30:.2f} GiB on disk")
        print(f"yardstick: stream all activation tensors once: {stream_s:.1f} s")
        print(f"simulate on {spec.name}: {sim_s:.1f} s ({sim_s / stream_s:.1f}x the stream), {tiles:,} tiles")
        print(f"simulated: {r.total_cycles:,} cycles = {r.latency_s:.3f} s at {spec.clock_mhz:g} MHz; "
              f"energy {r.energy_pj['total'] / 1e9:.3f} mJ")
        print(f"peak RSS: {peak:.0f} MiB")
        if args.reference:
            t = time.perf_counter()
            ref = simulate(open_trace(path), spec, verify=False, engine="reference")
            ref_s = time.perf_counter() - t
            print(f"reference engine (simpy, every tile): {ref_s:.1f} s ({ref_s / sim_s:.1f}x the fast engine); "
                  f"same cycles: {ref.total_cycles == r.total_cycles}, same results: {ref.to_json() == r.to_json()}")


if __name__ == "__main__":
    main()
