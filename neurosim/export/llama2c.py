"""Karpathy's llama2.c models (a genuinely float LLaMA, e.g. ``stories260K``) as HuggingFace
``LlamaForCausalLM`` with their own tokenizer, so that every recipe can be scored on a model that
was never quantized (the shared SmolLM2 is a Q4_1 file already).

A model directory holds one legacy (version 0) checkpoint ``*.bin`` (7 int32: dim, hidden_dim,
n_layers, n_heads, n_kv_heads, vocab (negative: an untied classifier follows), seq_len; then
float32 tok_emb, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, two RoPE tables, and the
classifier when untied) and its tokenizer ``tok*.bin`` (int32 max_token_len; per token a float32
score, an int32 length and the bytes). Written by hand: neither transformers nor gguf reads this
format, and llama2.c's encoder (a dummy-prefix space, UTF-8 code points with a byte fallback, then
the best-scoring adjacent pair merged first) is not a HuggingFace tokenizer. q and k rows are
permuted from llama2.c's interleaved RoPE pairs to HF's rotate-half layout.
"""

from __future__ import annotations

import heapq
import struct
from pathlib import Path

import numpy as np

from neurosim.errors import UsageError

HEADER = ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len")
#: Bounds on the header (a larger file is not a llama2.c model this tool can hold).
MAX_HEADER = {"dim": 1 << 16, "hidden_dim": 1 << 18, "n_layers": 1024, "n_heads": 1024, "n_kv_heads": 1024,
              "vocab_size": 1 << 20, "seq_len": 1 << 20}
BOS, EOS = 1, 2


def model_files(d: Path) -> tuple[Path, Path] | None:
    """(checkpoint, tokenizer) of a llama2.c model directory, or None when ``d`` is not one."""
    toks = sorted(d.glob("tok*.bin"))
    ckpts = sorted(p for p in d.glob("*.bin") if p not in toks)
    return (ckpts[0], toks[0]) if len(ckpts) == 1 and len(toks) == 1 else None


def read_header(path: Path) -> dict[str, int]:
    """The checkpoint's header, checked against the file's size (one message naming the field)."""
    raw = path.read_bytes()[:28] if path.stat().st_size >= 28 else b""
    if len(raw) < 28:
        raise UsageError(f"{path}: not a llama2.c checkpoint (shorter than its 28-byte header)")
    h = dict(zip(HEADER, struct.unpack("<7i", raw), strict=True))
    shared = h["vocab_size"] > 0
    h["vocab_size"] = abs(h["vocab_size"])
    for k, v in h.items():
        if not 1 <= v <= MAX_HEADER[k]:
            raise UsageError(f"{path}: header {k} = {v}, outside 1..{MAX_HEADER[k]}")
    if h["dim"] % h["n_heads"] or h["n_heads"] % h["n_kv_heads"] or (h["dim"] // h["n_heads"]) % 2:
        raise UsageError(f"{path}: header n_heads = {h['n_heads']}, n_kv_heads = {h['n_kv_heads']} do not divide "
                         f"dim = {h['dim']} into heads of an even width")
    expected = 28 + 4 * sum(n for _, n in _layout(h, shared))
    if path.stat().st_size != expected:
        raise UsageError(f"{path}: {path.stat().st_size:,} bytes, but its header says {expected:,}")
    h["shared_classifier"] = int(shared)
    return h


def _layout(h: dict[str, int], shared: bool) -> list[tuple[str, int]]:
    """(name, float32 count) of the checkpoint's tensors in file order."""
    d, f, L, v = h["dim"], h["hidden_dim"], h["n_layers"], h["vocab_size"]
    kv = d * h["n_kv_heads"] // h["n_heads"]
    half = d // h["n_heads"] // 2
    out = [("tok_emb", v * d), ("rms_att", L * d), ("wq", L * d * d), ("wk", L * kv * d), ("wv", L * kv * d),
           ("wo", L * d * d), ("rms_ffn", L * d), ("w1", L * f * d), ("w2", L * d * f), ("w3", L * f * d),
           ("rms_final", d), ("freq_cis_real", h["seq_len"] * half), ("freq_cis_imag", h["seq_len"] * half)]
    return out if shared else [*out, ("wcls", v * d)]


def read_checkpoint(path: Path) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    """The header and the float32 tensors (flat) of a llama2.c checkpoint."""
    h = read_header(path)
    data = np.fromfile(path, dtype="<f4", offset=28)
    out, at = {}, 0
    for name, n in _layout(h, bool(h["shared_classifier"])):
        out[name], at = data[at:at + n], at + n
    return h, out


def _rotate_half(w: np.ndarray, heads: int) -> np.ndarray:
    """Rows of a q or k projection from interleaved RoPE pairs to HF's rotate-half halves."""
    rows, cols = w.shape
    return w.reshape(heads, rows // heads // 2, 2, cols).transpose(0, 2, 1, 3).reshape(rows, cols)


def to_hf(h: dict[str, int], t: dict[str, np.ndarray]):
    """A float32 ``LlamaForCausalLM`` holding the checkpoint's weights (eval mode)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    d, f, L, H, KV, v = (h[k] for k in ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size"))
    kv = d * KV // H
    cfg = LlamaConfig(hidden_size=d, intermediate_size=f, num_hidden_layers=L, num_attention_heads=H,
                      num_key_value_heads=KV, vocab_size=v, max_position_embeddings=h["seq_len"], rms_norm_eps=1e-5,
                      rope_theta=10000.0, tie_word_embeddings=bool(h["shared_classifier"]), bos_token_id=BOS,
                      eos_token_id=EOS, hidden_act="silu", attention_bias=False, mlp_bias=False)
    per = {"rms_att": (d,), "wq": (d, d), "wk": (kv, d), "wv": (kv, d), "wo": (d, d), "rms_ffn": (d,),
           "w1": (f, d), "w2": (d, f), "w3": (f, d)}
    layer = {k: t[k].reshape(L, *s) for k, s in per.items()}
    sd = {"model.embed_tokens.weight": t["tok_emb"].reshape(v, d), "model.norm.weight": t["rms_final"],
          "lm_head.weight": t.get("wcls", t["tok_emb"]).reshape(v, d)}
    names = {"rms_att": "input_layernorm", "wq": "self_attn.q_proj", "wk": "self_attn.k_proj",
             "wv": "self_attn.v_proj", "wo": "self_attn.o_proj", "rms_ffn": "post_attention_layernorm",
             "w1": "mlp.gate_proj", "w2": "mlp.down_proj", "w3": "mlp.up_proj"}
    for i in range(L):
        for k, hf in names.items():
            w = layer[k][i]
            if k in ("wq", "wk"):
                w = _rotate_half(w, H if k == "wq" else KV)
            sd[f"model.layers.{i}.{hf}.weight"] = w
    model = LlamaForCausalLM(cfg)
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(a, np.float32)) for k, a in sd.items()},
                          strict=True)
    return model.float().eval()


class Llama2cTokenizer:
    """llama2.c's encoder (``run.c`` ``encode``); text is encoded paragraph by paragraph (split at
    blank lines), each with BOS, as stories were in training."""

    def __init__(self, path: Path, vocab_size: int):
        raw = path.read_bytes()
        pieces, scores, at = [], [], 4
        try:
            for _ in range(vocab_size):
                score, n = struct.unpack_from("<fi", raw, at)
                if not 0 <= n <= len(raw):
                    raise struct.error
                pieces.append(raw[at + 8:at + 8 + n])
                scores.append(score)
                at += 8 + n
        except struct.error:
            raise UsageError(f"{path}: a llama2.c tokenizer of {vocab_size} tokens ends early (token {len(pieces)})") \
                from None
        self.pieces, self.scores = pieces, scores
        self.ids = {p: i for i, p in reversed(list(enumerate(pieces)))}  # the first of equal pieces

    def encode(self, text: str) -> list[int]:
        out: list[int] = []
        for para in text.split("\n\n"):
            if para.strip():
                out += [BOS, *self.encode_one(para)]
        return out

    def encode_one(self, text: str) -> list[int]:
        """One piece of text, without BOS (a dummy-prefix space first)."""
        toks: list[int] = []
        for ch in " " + text:
            b = ch.encode("utf-8")
            toks += [self.ids[b]] if b in self.ids else [c + 3 for c in b]
        return self._merge(toks)

    def _merge(self, toks: list[int]) -> list[int]:
        """Merge the best-scoring adjacent pair (the leftmost of equals) until none is a token:
        a heap over a linked list, stale entries skipped, equal to run.c's rescans."""
        nxt, prv, alive = list(range(1, len(toks) + 1)), list(range(-1, len(toks) - 1)), [True] * len(toks)
        heap: list[tuple[float, int, int, int]] = []

        def push(i: int) -> None:
            j = nxt[i]
            if j < len(toks) and (m := self.ids.get(self.pieces[toks[i]] + self.pieces[toks[j]])) is not None:
                heapq.heappush(heap, (-self.scores[m], i, toks[i], toks[j]))
        for i in range(len(toks) - 1):
            push(i)
        while heap:
            _, i, a, b = heapq.heappop(heap)
            j = nxt[i] if alive[i] else len(toks)
            if j >= len(toks) or toks[i] != a or toks[j] != b:
                continue  # stale: a side was merged since
            toks[i] = self.ids[self.pieces[a] + self.pieces[b]]
            alive[j], nxt[i] = False, nxt[j]
            if nxt[j] < len(toks):
                prv[nxt[j]] = i
            if prv[i] >= 0:
                push(prv[i])
            push(i)
        return [t for t, keep in zip(toks, alive, strict=True) if keep]

    def decode(self, ids: list[int]) -> str:
        """Text of ``ids`` (BOS and EOS dropped, byte tokens ``<0xHH>`` as their byte)."""
        out = []
        for i in ids:
            p = self.pieces[i]
            if i in (BOS, EOS):
                continue
            out.append(bytes([int(p[3:5], 16)]) if len(p) == 6 and p.startswith(b"<0x") and p.endswith(b">") else p)
        return b"".join(out).decode("utf-8", errors="replace")
