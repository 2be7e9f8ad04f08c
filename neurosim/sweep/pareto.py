"""Accuracy against energy (``neurosim pareto``): each recipe's trace exported from a model on a
text, its perplexity evaluated on the same model and text, and the trace simulated on each
hardware config; the table holds perplexity and J/token (prefill, and decode with ``decode`` > 0)
per recipe and config, with each design's Pareto front (no other point of the design has both a
lower perplexity and a lower J/token).

Every stage is cached under the output directory by what determines it (the checksums of the
model's files and of the text, the recipe and the export or evaluation settings, the config's
resolved text), so that the same command run again, or with one more recipe or config, redoes
only what it has not done: ``traces/<key>/`` (published whole by the trace writer),
``eval/<key>.json`` and ``points/<key>.json`` (written atomically)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from neurosim.config.schema import to_plain
from neurosim.errors import NeurosimError, UsageError
from neurosim.fsutil import atomic_write_text, child
from neurosim.jsonutil import loads_json_strict

#: The table's columns after recipe and config.
COLUMNS = ("design", "perplexity", "salient_ratio", "spikes_per_activation", "prefill_j_per_token",
           "decode_j_per_token", "ttft_s", "decode_tokens_per_s")


@dataclass(frozen=True)
class ParetoPlan:
    """What every recipe shares: the model and text, the export and the evaluation settings."""

    model: str
    text: str
    tokens: int
    decode: int
    layers: int | None
    windows: int | None
    window: int | None = None

    def source_key(self) -> str:
        """The model's and the text's contents: a changed file is a new key, a copied, moved or
        touched one is not (a model folder copied afresh keeps its cache)."""
        h = hashlib.sha256()
        for f in model_files(Path(self.model)):
            with open(f, "rb") as fh:
                h.update(f"{f.name}:{hashlib.file_digest(fh, 'sha256').hexdigest()};".encode())
        with open(self.text, "rb") as fh:
            return f"{h.hexdigest()}|{hashlib.file_digest(fh, 'sha256').hexdigest()}"


#: The files of a model folder that the loaders read: weights, configs, tokenizers.
MODEL_SUFFIXES = (".gguf", ".safetensors", ".bin", ".json", ".model")


def model_files(p: Path) -> list[Path]:
    """The files of model ``p`` (a file, or a folder's :data:`MODEL_SUFFIXES` files) that its key
    hashes; a UsageError naming ``--model`` when ``p`` is neither."""
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise UsageError(f"--model {p}: not a model directory or .gguf file")
    return sorted(f for f in p.iterdir() if f.suffix in MODEL_SUFFIXES and f.is_file())


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _cached_json(path: Path, make) -> dict:
    """``path``'s record, or ``make()`` written there first."""
    if path.is_file():
        try:
            return loads_json_strict(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            pass  # a damaged record: made again
    rec = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(rec, indent=1) + "\n")
    return rec


def trace_for(plan: ParetoPlan, recipe: str, out: Path, source: str, progress=None) -> Path:
    """The recipe's exported trace (exported unless already there)."""
    from neurosim.export.runner import run_export

    d = child(out / "traces", _key("trace", source, recipe, plan.tokens, plan.decode, plan.layers))
    if not (d / "manifest.json").is_file():
        run_export(plan.model, plan.tokens, plan.text, str(d), recipe=recipe, layers=plan.layers, decode=plan.decode,
                   overwrite=True, progress=progress)
    return d


def eval_for(plan: ParetoPlan, recipe: str, out: Path, source: str, progress=None) -> dict:
    """The recipe's perplexity record (evaluated unless already there)."""
    from neurosim.export.runner import run_eval

    def make() -> dict:
        (r,) = run_eval(plan.model, plan.text, n_windows=plan.windows, window=plan.window, recipes=[recipe],
                        progress=progress)
        return asdict(r)
    return _cached_json(child(out / "eval", _key("eval", source, recipe, plan.windows, plan.window) + ".json"), make)


def point_for(trace: Path, config: str, out: Path) -> dict:
    """The trace's per-token figures on ``config`` (simulated unless already there)."""
    from neurosim.config import load_hw_config
    from neurosim.engine.simulate import simulate
    from neurosim.trace.reader import open_trace

    spec = load_hw_config(config)
    manifest = (trace / "manifest.json").read_bytes()

    def make() -> dict:
        try:
            r = simulate(open_trace(trace), spec)
        except NeurosimError as e:  # a recipe this config cannot run (8-bit codes on a 4-bit IF array)
            return {"config": spec.name, "design": spec.design, **dict.fromkeys(COLUMNS[4:]), "error": str(e)}
        inf = r.inference or {}
        return {"config": spec.name, "design": spec.design, **{k: inf.get(k) for k in COLUMNS[4:]},
                "energy_pj_total": r.energy_pj["total"], "error": None}
    key = _key("point", hashlib.sha256(manifest).hexdigest(), str(trace.resolve()),
               yaml.safe_dump(to_plain(spec), sort_keys=False))
    return _cached_json(child(out / "points", key + ".json"), make)


def front(rows: list[dict], x: str) -> list[bool]:
    """Per row: on its design's Pareto front of perplexity against ``x`` (lower both)."""
    def beats(a: dict, b: dict) -> bool:
        return (a["design"] == b["design"] and a[x] <= b[x] and a["perplexity"] <= b["perplexity"]
                and (a[x] < b[x] or a["perplexity"] < b["perplexity"]))
    return [r[x] is not None and not any(o[x] is not None and beats(o, r) for o in rows) for r in rows]


def run_pareto(plan: ParetoPlan, recipes: list[str], configs: list[str], out: Path, progress=None) -> list[dict]:
    """Every (recipe, config) row, each stage cached (see the module docstring), with the fronts
    (``front_prefill``, ``front_decode``); ``progress(stage, done, total)`` reports each stage."""
    report = progress or (lambda *_: None)
    source = plan.source_key()
    rows = []
    for i, recipe in enumerate(recipes):
        def stage(what: str, done: int, total: int, recipe=recipe) -> None:
            report(f"{recipe}: {what}", done, total)
        report(f"recipe {i + 1} of {len(recipes)}: {recipe}", 0, 1)
        trace = trace_for(plan, recipe, out, source, stage)
        ev = eval_for(plan, recipe, out, source, stage)
        for config in configs:
            pt = point_for(trace, config, out)
            rows.append({"recipe": recipe, "recipe_label": ev["recipe"], "config": pt["config"],
                         "design": pt["design"], "perplexity": ev["perplexity"],
                         "salient_ratio": ev["salient_ratio"], "spikes_per_activation": ev["mean_spikes"],
                         **{k: pt[k] for k in COLUMNS[4:]}, "error": pt["error"],
                         "trace": str(trace.relative_to(out))})
        report(f"recipe {i + 1} of {len(recipes)}: {recipe}", 1, 1)
    for x in ("prefill_j_per_token", "decode_j_per_token"):
        for r, on in zip(rows, front(rows, x), strict=True):
            r["front_" + x.split("_")[0]] = on
    return rows
