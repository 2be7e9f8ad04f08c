"""Benchmark: size on disk and peak memory while streaming a 7B-shaped 2048-token single-layer
trace (validate with checksums + spike statistics), each phase in a fresh process so its peak
RSS is its own. Yardstick: the bytes of the activation tensors, i.e. what loading them whole
would cost.

    python benchmarks/trace_stream.py [--tokens 2048] [--weights] [--keep DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STREAM = """
import resource, sys, time
from neurosim.trace.reader import validate_trace
from neurosim.trace.stats import trace_stats
t = time.perf_counter()
tr = validate_trace(sys.argv[1])
st = trace_stats(tr)
dt = time.perf_counter() - t
print(f"{dt:.2f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
"""
BASELINE = "import resource, neurosim.trace.stats; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=2048)
    ap.add_argument("--weights", action="store_true")
    ap.add_argument("--keep", help="write the trace here instead of a temporary directory")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.keep or Path(tmp) / "llama2_7b_l1")
        cmd = [sys.executable, "-m", "neurosim", "synth", "--model", "llama2-7b", "--tokens", str(args.tokens),
               "--layers", "1", "--out", str(out), "--force"] + (["--weights"] if args.weights else [])
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        gen_s = time.perf_counter() - t
        files = list(out.iterdir())
        disk = sum(f.stat().st_size for f in files)
        dt, peak = subprocess.run([sys.executable, "-c", STREAM, str(out)], check=True, capture_output=True,
                                  text=True).stdout.split()
        base = float(subprocess.run([sys.executable, "-c", BASELINE], check=True, capture_output=True,
                                    text=True).stdout)
        print(f"trace: llama2-7b shapes, 1 layer, {args.tokens} tokens, weights={'yes' if args.weights else 'no'}")
        print(f"generate (synth):            {gen_s:8.2f} s")
        print(f"size on disk:                {disk / 2**20:8.1f} MiB in {len(files)} files")
        print(f"validate+stats (streaming):  {float(dt):8.2f} s")
        print(f"peak RSS while streaming:    {float(peak):8.1f} MiB (interpreter + imports alone: {base:.1f} MiB)")
        print(f"streaming overhead / tensor bytes: {(float(peak) - base) / (disk / 2**20):.2f}x")


if __name__ == "__main__":
    main()
