"""Test helpers: build small traces and configs on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from neurosim.config import load_hw_config
from neurosim.trace import Producer, Recipe, TraceWriter

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
#: The genuinely float llama2.c model and its TinyStories sample (shared/, beside the checkout).
STORIES = SHARED / "models/stories260k"
STORIES_TEXT = SHARED / "corpora/tinystories-train-sample/tinystories_train_head_197k.txt"
needs_stories = pytest.mark.skipif(not STORIES.exists(), reason="shared/models is not beside the checkout")


def make_trace(out: Path, codes: np.ndarray, N: int, *, weights: np.ndarray | None = None,
               recipe: Recipe = Recipe(), seed: int = 0, shifts: np.ndarray | None = None) -> Path:
    """A one-op trace of the given codes (and weights, random if None is not wanted: pass N;
    ``shifts``: the per-entry power-of-two steps of a recipe with ``salient_shift_max > 0``)."""
    rng = np.random.default_rng(seed)
    M, K = codes.shape
    with TraceWriter(out, Producer("test", M), recipe, overwrite=True) as w:
        a = w.add_tensor("a", codes.astype(np.int8))
        s = w.add_tensor("s", rng.uniform(0.5, 2.0, M).astype(np.float32))
        wc = ws = None
        if weights is not None:
            wc = w.add_tensor("w", weights.astype(np.int8))
            ws = w.add_tensor("ws", rng.uniform(0.5, 2.0, N).astype(np.float32))
        sh = None if shifts is None else w.add_tensor("sh", shifts.astype(np.int8))
        w.add_op("op", "linear", a, s, weight_bits=recipe.weight_bits, weight_codes=wc, weight_scale=ws, N=N,
                 act_shift=sh)
    return out


def spec(name: str, **overrides):
    """A shipped config with ``key.path=value`` overrides."""
    return load_hw_config(ROOT / "hw_configs" / f"{name}.yaml", [f"{k}={v}" for k, v in overrides.items()])


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


BIG_SRAMS = {
    # enough capacity that every test op is a single tile
    **{f"{n}.size_kib": 65536 for n in ("weight_sram", "membrane_store", "output_buffer")},
    "spike_memory.dense.size_kib": 65536, "spike_memory.salient.size_kib": 65536,
}
BIG_MAC_SRAMS = {f"{n}.size_kib": 65536 for n in ("act_sram", "weight_sram", "output_sram")}

#: Hang guard of every subprocess and notebook a test runs: a hang fails the test after this long,
#: but a loaded machine never does (DESIGN §8: no wall-clock limits in tests).
HANG_GUARD_S = 1800


def assert_run_refused(capsys, out: Path, sets: dict[str, str], where: str) -> None:
    """``run`` of the tiny trace on tiny_mac with ``sets`` exits 2, every error line names the
    config file, one names key ``where``, and nothing is written to ``out``."""
    from neurosim.cli import main

    hw = ROOT / "hw_configs/tiny_mac.yaml"
    args = [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
    code = main(["run", str(ROOT / "traces/tiny_gemm"), "--hw", str(hw), *args, "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err and all(line.startswith(f"{hw}: ") for line in err)
    assert any(f": {where}:" in line for line in err)
    assert not out.exists() or not any(out.iterdir())
