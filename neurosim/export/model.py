"""Load a local LLaMA-family causal LM (HuggingFace directory or GGUF file), fully offline."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

from neurosim.errors import UsageError
from neurosim.export import llama2c

LINEAR_NAMES = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")


@dataclass
class LoadedModel:
    """A model in float32 eval mode, its tokenizer, and where it came from."""

    model: object
    tokenizer: object
    name: str
    weights_file: Path
    tokenizer_name: str

    def weights_sha256(self) -> str:
        h = hashlib.sha256()
        with open(self.weights_file, "rb") as f:
            while chunk := f.read(1 << 22):
                h.update(chunk)
        return h.hexdigest()

    def encode(self, text: str) -> list[int]:
        enc = self.tokenizer.encode(text)
        return list(enc.ids) if hasattr(enc, "ids") else list(enc)

    def decoder_layers(self):
        return self.model.model.layers


def load_model(path: str | Path) -> LoadedModel:
    """A directory with ``config.json`` + weights (``*.safetensors`` or one ``*.gguf``), a
    ``.gguf`` file, or a llama2.c directory (one ``*.bin`` checkpoint and its ``tok*.bin``:
    :mod:`neurosim.export.llama2c`). The tokenizer is ``tokenizer.json`` beside it when present. The last model
    loaded is kept for the process (an export and its evaluation, or a notebook's exports, load
    it once; a changed file is loaded again): callers do not modify it (recipes work on copies)."""
    p = Path(path)
    key = (str(p.resolve()), *((st.st_size, st.st_mtime_ns) if (st := _stat(p)) else ()))
    if _LAST.get("key") != key:
        _LAST.clear()
        _LAST.update(key=key, model=_load_model(path))
    return _LAST["model"]


#: The last model :func:`load_model` loaded, by its path and its file's size and time.
_LAST: dict = {}


def _stat(p: Path):
    try:
        return p.stat()
    except OSError:
        return None


def _load_model(path: str | Path) -> LoadedModel:
    """:func:`load_model` without the cache."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging
    except ImportError as e:
        raise UsageError(f"export needs the 'export' extra (pip install torch==2.13.0 && pip install -e '.[export]'): {e}") \
            from None
    p = Path(path)
    if p.is_dir() and (files := llama2c.model_files(p)) is not None:
        return _load_llama2c(p, *files)
    if p.is_file() and p.suffix == ".gguf":
        d, gguf = p.parent, p.name
    elif p.is_dir():
        ggufs = sorted(p.glob("*.gguf"))
        d, gguf = p, (ggufs[0].name if ggufs and not list(p.glob("*.safetensors")) else None)
    else:
        raise UsageError(f"--model {path}: not a model directory or .gguf file")
    hf_logging.disable_progress_bar()  # neurosim reports its own stages; transformers' bars stop the lines
    hf_logging.set_verbosity_error()
    kwargs = {"gguf_file": gguf} if gguf else {}
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # the GGUF reader's own tqdm bar
            model = AutoModelForCausalLM.from_pretrained(str(d), dtype=torch.float32, **kwargs)
    except Exception as e:  # noqa: BLE001 - a corrupt or truncated file fails anywhere in a third-party reader
        raise UsageError(f"--model {path}: cannot load ({type(e).__name__}: "
                         f"{(str(e).splitlines() or [''])[0][:160]})") from None
    model.eval()
    if (d / "tokenizer.json").exists():
        from tokenizers import Tokenizer

        tok, tok_name = Tokenizer.from_file(str(d / "tokenizer.json")), "tokenizer.json"
    else:
        tok, tok_name = AutoTokenizer.from_pretrained(str(d), **kwargs), gguf or "auto"
    weights = d / gguf if gguf else sorted(d.glob("*.safetensors"))[0]
    return LoadedModel(model, tok, d.name, weights, tok_name)


def _load_llama2c(d: Path, checkpoint: Path, tokenizer: Path) -> LoadedModel:
    """A llama2.c model directory as a float32 HF model and its own tokenizer."""
    h, tensors = llama2c.read_checkpoint(checkpoint)
    return LoadedModel(llama2c.to_hf(h, tensors), llama2c.Llama2cTokenizer(tokenizer, h["vocab_size"]), d.name,
                       checkpoint, tokenizer.name)
