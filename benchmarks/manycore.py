"""Benchmark: SmolLM2-135M, the whole model (30 layers), a 64-token prompt and 64 decode steps,
on both shipped many-core configs (target: at most 10 s each on 2 cores). Yardstick in the same
process: the same trace on the config's own core as one array streaming its weights from DRAM
(``system.mesh [1, 1]``, ``weights: streamed``), the simulator's single-core path.

    python benchmarks/manycore.py [--prompt 64 --decode 64]

Prints ``simulate on CONFIG: S s (Rx the stream)`` per config, and the per-token answer.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from neurosim.api import simulate
from neurosim.config import load_hw_config
from neurosim.trace.inference import write_inference
from neurosim.trace.reader import open_trace
from neurosim.trace.synth import resolve_model

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ("manycore_acc_if", "manycore_mac")


def _timed(trace, spec) -> tuple[float, object]:
    t0 = time.perf_counter()
    r = simulate(trace, spec, verify=False)
    return time.perf_counter() - t0, r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompt", type=int, default=64)
    ap.add_argument("--decode", type=int, default=64)
    args = ap.parse_args()
    model = resolve_model("smollm2-135m")
    with tempfile.TemporaryDirectory() as tmp:
        trace = open_trace(write_inference(Path(tmp) / "t", model, args.prompt, args.decode, model.layers, seed=0))
        for name in CONFIGS:
            spec = load_hw_config(ROOT / "hw_configs" / f"{name}.yaml")
            stream = load_hw_config(ROOT / "hw_configs" / f"{name}.yaml",
                                    ["system.mesh=[1,1]", "system.weights=streamed"])
            _timed(trace, stream)  # compile the kernels outside the timing
            s_chip, r = _timed(trace, spec)
            s_stream, one = _timed(trace, stream)
            print(f"simulate on {name}: {s_chip:.2f} s ({s_chip / s_stream:.2f}x the stream, {s_stream:.2f} s)")
            inf = r.inference
            print(f"  chip: TTFT {inf['ttft_s'] * 1e3:.2f} ms, decode {inf['decode_tokens_per_s']:.0f} tokens/s, "
                  f"prefill {inf['prefill_j_per_token'] * 1e6:.1f} uJ/token, decode "
                  f"{inf['decode_j_per_token'] * 1e6:.1f} uJ/token; KV cache in {r.chip['kv_cache']}; "
                  f"weight load {r.chip['weight_load']['energy_pj'] * 1e-6:.0f} uJ apart")
            cats = {k: v / r.energy_pj['total'] for k, v in r.energy_by_category_pj.items() if v}
            print("  energy shares: " + ", ".join(f"{k} {v:.1%}" for k, v in cats.items()))
            oi = one.inference
            print(f"  one core streaming: decode {oi['decode_tokens_per_s']:.1f} tokens/s, "
                  f"{oi['decode_j_per_token'] * 1e6:.1f} uJ/token")


if __name__ == "__main__":
    main()
