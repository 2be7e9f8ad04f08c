"""What the subcommands share: exit codes, progress on stderr, argument types and argument groups."""

from __future__ import annotations

import argparse
import math
import sys
import time

from neurosim.errors import UsageError
from neurosim.trace.manifest import MAX_SALIENT_SHIFT

EXIT_OK, EXIT_INTERNAL, EXIT_USER = 0, 1, 2


class progress:
    """Progress on stderr: a tqdm bar (with its ETA) on a terminal, else a plain line every
    :data:`PLAIN_EVERY_S` seconds. ``tick(done, total)`` may change the total as work is found."""

    PLAIN_EVERY_S = 10.0

    def __init__(self, total: int, desc: str):
        self.total, self.desc, self.bar = total, desc, None
        self.start = self.last = 0.0

    def __enter__(self):
        self.start = self.last = time.monotonic()
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, desc=self.desc, file=sys.stderr)
        return self.tick

    def tick(self, done: int, total: int) -> None:
        if self.bar is not None:
            if total != self.bar.total:
                self.bar.total = total
                self.bar.refresh()
            self.bar.update(done - self.bar.n)
            return
        now = time.monotonic()
        if now - self.last >= self.PLAIN_EVERY_S and 0 < done < total:
            self.last = now
            elapsed = now - self.start
            eta = elapsed * (total - done) / done
            print(f"neurosim {self.desc}: {done:,}/{total:,} ({done / total:.0%}), {elapsed:.0f} s elapsed, "
                  f"about {eta:.0f} s left", file=sys.stderr, flush=True)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()


def int_in(lo: int, hi: int, what: str):
    """An argparse type: an integer in [lo, hi], refusing over-long digit strings unparsed."""
    def parse(text: str) -> int:
        try:
            v = int(text) if len(text) <= 20 else None
        except ValueError:
            v = None
        if v is None or not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text[:40]!r}")
        return v
    return parse


class stages:
    """Stage-by-stage progress on stderr for long jobs (export, eval): ``report(stage, done,
    total)``. A line when a stage starts and ends (with its time), and, within a stage, a tqdm bar
    with its ETA on a terminal or else a line every :data:`progress.PLAIN_EVERY_S` seconds."""

    def __init__(self, desc: str):
        self.desc, self.stage, self.bar = desc, None, None
        self.start = self.last = self.t0 = 0.0

    def __enter__(self):
        self.t0 = time.monotonic()
        return self.report

    def _end(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.stage is not None:
            print(f"neurosim {self.desc}: {self.stage}: done in {time.monotonic() - self.start:.0f} s",
                  file=sys.stderr, flush=True)

    def report(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != self.stage:
            self._end()
            self.stage, self.start = stage, now
            self.last = now
            print(f"neurosim {self.desc}: {stage} ({total:,} steps) ...", file=sys.stderr, flush=True)
            if sys.stderr.isatty():
                from tqdm import tqdm

                self.bar = tqdm(total=total, desc=f"  {stage}", file=sys.stderr, leave=False)
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
        elif now - self.last >= progress.PLAIN_EVERY_S and 0 < done < total:
            self.last = now
            elapsed = now - self.start
            print(f"neurosim {self.desc}: {stage}: {done:,}/{total:,}, {elapsed:.0f} s, about "
                  f"{elapsed * (total - done) / done:.0f} s left", file=sys.stderr, flush=True)

    def __exit__(self, *exc) -> None:
        self._end()
        if exc[0] is None:
            print(f"neurosim {self.desc}: {time.monotonic() - self.t0:.0f} s in all", file=sys.stderr, flush=True)


positive_int = int_in(1, 1 << 40, "a positive integer up to 2^40")


def worker_count(text: str) -> int:
    """An argparse type: a number of worker processes, at most :func:`neurosim.cores.worker_cap`."""
    from neurosim.cores import WORKERS_PER_CORE, usable_cores, worker_cap

    return int_in(1, worker_cap(), f"a number of workers from 1 to {worker_cap()} ({WORKERS_PER_CORE} x the "
                  f"{usable_cores()} usable cores)")(text)
seed = int_in(0, (1 << 63) - 1, "a seed from 0 to 2^63-1")
#: Decode steps: each adds a layer's worth of ops to the manifest, which is held in memory.
decode_steps = int_in(0, 1 << 16, "a number of decode steps from 0 to 65536")
shift = int_in(0, MAX_SALIENT_SHIFT, f"a shift from 0 to {MAX_SALIENT_SHIFT}")


def windows(text: str) -> int | None:
    return None if text == "all" else positive_int(text)


def recipe(text: str) -> str:
    from neurosim.export.recipe_names import parse_recipe

    try:
        parse_recipe(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text[:40]!r}")
    return v


def add_detail_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--summary", dest="detail", action="store_const", const="summary",
                   help="console and plots: totals per layer type and phase (the default beyond 60 ops)")
    g.add_argument("--per-layer", dest="detail", action="store_const", const="layers",
                   help="console and plots: every op (the default up to 60 ops; plots stay under 2,000 px wide)")
    p.set_defaults(detail="auto")
    p.add_argument("--extrapolate", action="store_true",
                   help="console: a run of fewer layers than its model also scaled to the whole model (labelled as "
                        "an estimate: the layers simulated stand for the others)")


def add_recipe_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="model directory (config.json + weights or .gguf), a .gguf file, "
                   "or a llama2.c directory (a *.bin checkpoint and its tok*.bin)")
    p.add_argument("--text", help="text file the activations / perplexity come from")
    p.add_argument("--salient-rule", choices=("mad", "ratio"), default="mad",
                   help="salient codes: beyond k median absolute deviations (mad) or the largest fraction (ratio)")
    p.add_argument("--salient-param", type=float, help="MAD multiplier k (mad) or ratio (ratio); default: calibrated")
    p.add_argument("--salient-target", type=float, default=0.025, help="target salient fraction for calibration")
    p.add_argument("--windows", type=windows, default=4, help="perplexity windows, or 'all' for the whole text")
    p.add_argument("--calib-text", help="calibration text for gptq / spin / smooth / aclip / oclip (default: the last 8,192 "
                   "tokens of --text, held out of the evaluation)")
    p.add_argument("--window-tokens", type=positive_int, default=None,
                   help="tokens per perplexity window (default: 1024, or the model's context when shorter)")


def need_export_extra(command: str) -> None:
    import importlib.util

    missing = [m for m in ("torch", "transformers", "safetensors", "gguf", "accelerate")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"{command} needs the 'export' extra (missing: {', '.join(missing)}): "
                         "pip install torch==2.13.0 && pip install 'neurosim-hw[export]' (or -e '.[export]')")


def print_ppl(results, args) -> None:
    which = "all" if args.windows is None else f"the first {args.windows}"
    window = results[0].window if results else args.window_tokens
    print(f"perplexity on {which} non-overlapping {window}-token windows of {args.text}")
    print(f"  {'recipe':<64} {'ppl':>10} {'salient':>8} {'spikes/act':>10} {'time':>8}")
    for r in results:
        sal = f"{r.salient_ratio:8.2%}" if r.salient_ratio is not None else f"{'-':>8}"
        spk = f"{r.mean_spikes:10.3f}" if r.mean_spikes is not None else f"{'-':>10}"
        print(f"  {r.recipe:<64} {r.perplexity:10.3f} {sal} {spk} {r.seconds:7.1f}s  ({r.tokens_scored:,} tokens)")
