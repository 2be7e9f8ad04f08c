"""Benchmark of issue #28 item 1: the getting-started export (SmolLM2-135M, the best recipe
``spikequant+rot+gptq+aclip+pow2``, 64 tokens, 8 decode steps, 1 layer: at most 3 minutes on 2
cores) and the rate of ``eval`` (one recipe, windows of 1024 tokens; the whole WikiText-2 test
split is about 280 windows: at most 15 minutes). Yardstick in the same process: one forward pass
of the float model over one 1024-token window.

    python benchmarks/export_speed.py [--windows 8]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from neurosim.export.model import load_model
from neurosim.export.runner import run_eval, run_export

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
MODEL = SHARED / "models/smollm2-135m-instruct-q4_1"
TEXT = SHARED / "corpora/wikitext-2-raw-test/wiki.test.raw.txt"
RECIPE = "spikequant+rot+gptq+aclip+pow2"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=8, help="eval windows to time (the rate extrapolates)")
    args = ap.parse_args()
    t = time.perf_counter()
    lm = load_model(MODEL)
    print(f"load model: {time.perf_counter() - t:.1f} s")
    ids = lm.encode(TEXT.read_text())
    with torch.no_grad():
        t = time.perf_counter()
        lm.model(torch.tensor([ids[:1024]]))
        fwd = time.perf_counter() - t
    print(f"yardstick: one float forward over 1024 tokens: {fwd:.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        run_export(str(MODEL), 64, str(TEXT), str(Path(tmp) / "t"), recipe=RECIPE, layers=1, decode=8)
        ex = time.perf_counter() - t
    print(f"export {RECIPE}, 64 tokens + 8 decode steps, 1 layer: {ex:.0f} s ({ex / fwd:.0f}x the yardstick; "
          "target 180 s)")
    total_windows = (len(ids) - 16 * 512) // 1024
    for recipe in ("spikequant+pow2", RECIPE):
        marks: dict[str, float] = {}

        def progress(stage: str, done: int, total: int, marks=marks) -> None:
            if stage.endswith("perplexity windows"):
                marks.setdefault("windows", time.perf_counter())
        t = time.perf_counter()
        run_eval(str(MODEL), str(TEXT), n_windows=args.windows, window=1024, recipes=[recipe], progress=progress)
        end = time.perf_counter()
        prep, per_window = marks["windows"] - t, (end - marks["windows"]) / args.windows
        whole = prep + per_window * total_windows
        print(f"eval {recipe} on {args.windows} windows: {end - t:.0f} s = {prep:.0f} s to prepare (load, "
              f"calibrate) + {per_window:.2f} s per window ({per_window / fwd:.1f}x the yardstick); the whole "
              f"test split ({total_windows} windows) about {whole / 60:.0f} min (target 15 min)")

if __name__ == "__main__":
    main()
