"""Benchmark: a whole llama2-7b-shaped inference (2048-token prompt, 256 decode steps, synthetic
codes, trace format 4) on the matched ACC and MAC configs: time to first token, decode tokens/s,
energy per token per phase, KV-cache traffic, and the simulator's own wall time and peak memory
(each config simulated in a fresh process, so that each peak is its own). Yardstick in the same
process: streaming every tensor of the trace once from disk.

    python benchmarks/whole_inference.py [--prompt 2048] [--decode 256] [--layers 32] [--trace DIR]
        [--hw CONFIG ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from neurosim.trace import open_trace
from neurosim.trace.inference import write_inference
from neurosim.trace.synth import BUILTIN_MODELS

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ("acc_if_64x64", "mac_64x64_os", "mac_64x64_os_outlier")

_CHILD = """
import json, resource, sys, time
from neurosim.api import simulate
t = time.perf_counter()
r = simulate(sys.argv[1], sys.argv[2], verify=False)
wall = time.perf_counter() - t
print(json.dumps({"wall_s": wall, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "phases": r.phases, "inference": r.inference, "energy_pj": r.energy_pj["total"]}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompt", type=int, default=2048)
    ap.add_argument("--decode", type=int, default=256)
    ap.add_argument("--layers", type=int, default=32)
    ap.add_argument("--trace", help="reuse or keep the trace here")
    ap.add_argument("--hw", action="append", help="config names or files (default: the matched ACC and MAC configs)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.trace or Path(tmp) / "llama2_7b_inference")
        if not (path / "manifest.json").exists():
            t = time.perf_counter()
            write_inference(path, BUILTIN_MODELS["llama2-7b"], args.prompt, args.decode, args.layers, seed=0)
            print(f"synth: {time.perf_counter() - t:.1f} s")
        trace = open_trace(path)
        t = time.perf_counter()
        for name in trace.manifest.tensors:
            np.asarray(trace.tensor(name)).sum()
        stream_s = time.perf_counter() - t
        size = sum(f.stat().st_size for f in path.iterdir())
        print(f"trace: llama2-7b shapes, {args.layers} layers, prompt {args.prompt}, {args.decode} decode steps, "
              f"{len(trace.ops)} ops + {len(trace.manifest.vector_ops)} vector ops, {size / 2**30:.2f} GiB")
        print(f"yardstick: stream every tensor once: {stream_s:.1f} s")
        print(f"{'config':<22} {'TTFT s':>9} {'tok/s':>7} {'mJ/tok pre':>11} {'mJ/tok dec':>11} {'KV read GB':>11} "
              f"{'KV MB':>7} {'sim s':>7} {'x stream':>8} {'peak MiB':>9}")
        for hw in args.hw or CONFIGS:
            cfg = hw if hw.endswith(".yaml") else str(ROOT / "hw_configs" / f"{hw}.yaml")
            out = subprocess.run([sys.executable, "-c", _CHILD, str(path), cfg], capture_output=True, text=True,
                                 check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            inf, ph = r["inference"], r["phases"]
            print(f"{Path(cfg).stem:<22} {inf['ttft_s']:9.3f} {inf.get('decode_tokens_per_s', 0):7.2f} "
                  f"{ph['prefill']['j_per_token'] * 1e3:11.3f} {ph.get('decode', {}).get('j_per_token', 0) * 1e3:11.3f} "
                  f"{inf['kv_read_bits'] / 8e9:11.2f} {inf['kv_footprint_bits'] / 8e6:7.1f} {r['wall_s']:7.1f} "
                  f"{r['wall_s'] / stream_s:8.1f} {r['peak_mib']:9.0f}")


if __name__ == "__main__":
    main()
