"""Benchmark: LLMs at system scale (issue #26 targets). A 7B-shaped model (llama2-7b: 32 layers and
its LM head), a 2,048-token prompt and 256 decode steps at batch 8, on the shipped boards of each
design (``board_acc_if``, ``board_mac``: at most 60 s and 2 GB each on 2 cores); SmolLM2-135M's
whole model at batch 64 on one many-core chip (``manycore_*``: at most 20 s). Yardstick in the
same process: streaming every tensor of the trace once from disk (a numpy sum over the memory
maps). Each simulation runs in a child process of its own, whose peak resident memory is printed,
and its peak anonymous memory (sampled every 0.2 s: resident memory less the trace's memory-mapped
file pages, which the kernel can drop).

    python benchmarks/system_scale.py [--prompt 2048 --decode 256 --batch 8] [--trace DIR]
    python benchmarks/system_scale.py --growth

``--growth`` instead times the ACC board on smaller runs, doubling one of layers, prompt tokens,
decode steps, batch and cores at a time, and prints each doubling's time ratio (linear: about 2x;
cores: about 1x, since the work is the same).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from neurosim.api import simulate
from neurosim.config import load_hw_config
from neurosim.trace.inference import write_inference
from neurosim.trace.reader import open_trace
from neurosim.trace.synth import resolve_model

ROOT = Path(__file__).resolve().parent.parent


def _anon_mib() -> float:
    """This process's resident anonymous memory (not the trace's memory-mapped file pages)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _child(trace: str, config: str, sets: list[str], out) -> None:
    spec = load_hw_config(ROOT / "hw_configs" / f"{config}.yaml", sets)
    peak, done = [0.0], threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], _anon_mib())
    threading.Thread(target=sample, daemon=True).start()
    t = time.perf_counter()
    r = simulate(open_trace(trace), spec, verify=False)
    wall = time.perf_counter() - t
    done.set()
    inf = r.inference
    out.put({"wall_s": wall, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
             "anon_mib": max(peak[0], _anon_mib()),
             "ttft_ms": inf["ttft_s"] * 1e3, "tok_s": inf["decode_tokens_per_s"],
             "mj_token": inf["decode_j_per_token"] * 1e3, "kv": r.chip["kv_cache"],
             "board_uj": r.chip.get("board_link_energy_pj", 0.0) * 1e-6,
             "static": r.energy_by_category_pj["static"] / r.energy_pj["total"]})


def run(trace: Path, config: str, sets: list[str] | None = None) -> dict:
    """Simulate ``trace`` on ``config`` in a child process; its figures and peak memory."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(str(trace), config, sets or [], q))
    p.start()
    out = q.get()
    p.join()
    return out


def stream_s(trace: Path) -> float:
    """The yardstick: every tensor of the trace read once from disk."""
    t = time.perf_counter()
    for f in sorted(trace.glob("*.npy")):
        np.load(f, mmap_mode="r").sum(dtype=np.int64)
    return time.perf_counter() - t


def synth(out: Path, model: str, prompt: int, decode: int, batch: int, layers: int | None = None) -> Path:
    if not (out / "manifest.json").exists():
        m = resolve_model(model)
        t = time.perf_counter()
        write_inference(out, m, prompt, decode, layers or m.layers, seed=0, batch=batch, overwrite=True)
        print(f"synth {model} prompt {prompt} decode {decode} batch {batch}: {time.perf_counter() - t:.1f} s")
    return out


def _line(config: str, r: dict, stream: float) -> str:
    return (f"simulate on {config}: {r['wall_s']:.1f} s ({r['wall_s'] / stream:.1f}x the stream), peak "
            f"{r['peak_mib']:.0f} MiB resident ({r['anon_mib']:.0f} MiB anonymous, the rest the trace's mapped "
            f"pages); TTFT {r['ttft_ms']:.1f} ms, decode {r['tok_s']:.0f} tokens/s, "
            f"{r['mj_token']:.2f} mJ/token, KV cache in {r['kv']}, chip links {r['board_uj']:.0f} uJ, "
            f"static {r['static']:.0%}")


def growth(tmp: Path) -> None:
    """Doubling layers, tokens, batch and cores one at a time on the ACC board."""
    base = dict(layers=8, prompt=128, decode=8, batch=2)
    cases = [("base", base, [])]
    for key in ("layers", "prompt", "batch"):
        cases.append((f"{key} x2", {**base, key: base[key] * 2}, []))
    cases.append(("decode x2", {**base, "decode": 16}, []))
    cases.append(("cores x2 (36 chips)", base, ["board.chips=[6,6]"]))
    first = None
    for name, c, sets in cases:
        trace = synth(tmp / "_".join(str(v) for v in c.values()), "llama2-7b", c["prompt"], c["decode"], c["batch"],
                      c["layers"])
        r = run(trace, "board_acc_if", sets)
        first = first or r["wall_s"]
        print(f"  {name:22s} {r['wall_s']:6.1f} s  ({r['wall_s'] / first:.2f}x the base)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompt", type=int, default=2048)
    ap.add_argument("--decode", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--trace", help="reuse or keep the 7B trace here")
    ap.add_argument("--growth", action="store_true", help="time doublings of layers, tokens, batch, cores instead")
    args = ap.parse_args()
    if args.growth:
        with tempfile.TemporaryDirectory() as tmp:
            print("growth of the simulation time on board_acc_if (7B-shaped):")
            growth(Path(tmp))
        return
    with tempfile.TemporaryDirectory() as tmp:
        trace = synth(Path(args.trace or Path(tmp) / "llama2_7b"), "llama2-7b", args.prompt, args.decode, args.batch)
        stream = stream_s(trace)
        print(f"yardstick: stream every tensor once: {stream:.1f} s")
        for config in ("board_acc_if", "board_mac"):
            print(_line(config, run(trace, config), stream), flush=True)
        small = synth(Path(tmp) / "smollm2", "smollm2-135m", 64, 64, 64)
        small_stream = stream_s(small)
        for config in ("manycore_acc_if", "manycore_mac"):
            print("SmolLM2-135M, batch 64: " + _line(config, run(small, config), small_stream), flush=True)


if __name__ == "__main__":
    main()
