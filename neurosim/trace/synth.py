"""Synthetic traces, for models a user cannot run and for SCALE-Sim-style GEMM lists.

Activations come from a stated heavy-tailed model (:class:`ActivationModel`: Student-t values,
persistent outlier channels, log-normal per-token scales), quantized with the recipe code the
exporter uses (:mod:`neurosim.trace.quantize`, compiled as
:mod:`neurosim.trace.token_quantizer`, equal code for code). The model and its parameters go in
the manifest with ``synthetic: true``. Output is deterministic for a seed: each tensor draws from
its own generators seeded by ``(seed, tensor index)``. Tensors are generated on every core at
once (compiled code without the GIL) and written in order.

Generator ``icdf-v4`` (since neurosim 0.2): Student-t values by the inverse CDF
(``scipy.special.stdtrit``, tabulated in float32 on 256 points per octave of u from 2^-33 to 1/2
and interpolated linearly; :func:`neurosim.trace.token_quantizer.draw_row`) of 32-bit uniforms
from eight interleaved xoshiro256+ generators seeded through SplitMix64. It draws about three
times as fast as ``icdf-v3`` (one xoshiro256+ stream, 53-bit uniforms, a float64 table on a
uniform grid of u and a log2 grid in the tail), which it replaces; the same seed gives other
codes than ``icdf-v3``, ``icdf-v2`` (numba's Mersenne Twister) and the 0.1 generator (numpy
``standard_t``), with the same distribution, truncated at u = 2^-33 (|T| below about 2,100 at
df = 3; the table's interpolation error is within 4e-5 of the value). A trace records its
generator in ``synthetic_model.generator``.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurosim.cores import usable_cores
from neurosim.errors import Problem, TraceFormatError, UsageError
from neurosim.fsutil import read_text_input, short_repr
from neurosim.jsonutil import loads_json_strict
from neurosim.trace.manifest import MAX_DIM, MAX_ELEMENTS, MAX_OP_MACS, Producer, Recipe
from neurosim.trace.quantize import quantize_weights
from neurosim.trace.token_quantizer import RULES, octave_grid, synth_rows
from neurosim.trace.writer import TraceWriter

_ROWS = 256  # rows per generator seed: a tensor's blocks of rows are drawn on any thread, the same codes


@dataclass(frozen=True)
class ModelShape:
    """The shapes of a LLaMA-family decoder that determine its linear layers."""

    name: str
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    layers: int
    head_dim: int = 0  # 0: hidden // heads
    vocab: int = 0  # the LM head's outputs (0: unknown, no LM head in whole inferences)

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * (self.head_dim or self.hidden // self.heads)

    @property
    def q_dim(self) -> int:
        return self.heads * (self.head_dim or self.hidden // self.heads)


#: From the models' published config.json files.
BUILTIN_MODELS = {
    m.name: m for m in (
        ModelShape("llama2-7b", 4096, 11008, 32, 32, 32, vocab=32000),
        ModelShape("llama2-13b", 5120, 13824, 40, 40, 40, vocab=32000),
        ModelShape("llama3-8b", 4096, 14336, 32, 8, 32, vocab=128256),
        ModelShape("mistral-7b", 4096, 14336, 32, 8, 32, vocab=32000),
        ModelShape("smollm2-135m", 576, 1536, 9, 3, 30, vocab=49152),
    )
}


def model_from_hf_config(path: str | Path) -> ModelShape:
    """Shapes from a HuggingFace ``config.json`` of a LLaMA-family model; every field used is
    checked (a positive integer, at most 2^20) and a problem names the file and the key."""
    path = Path(path)
    try:
        cfg = loads_json_strict(read_text_input(path, TraceFormatError))
    except ValueError as e:
        raise TraceFormatError(str(path), Problem("", f"cannot read config.json: {e}")) from None
    if not isinstance(cfg, dict):
        raise TraceFormatError(str(path), Problem("", "must be a JSON object"))
    need = ("hidden_size", "intermediate_size", "num_attention_heads", "num_hidden_layers")
    optional = ("num_key_value_heads", "head_dim", "vocab_size")
    problems = []
    for k in need + optional:
        v = cfg.get(k)
        if v is None and k in optional:
            continue
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 1 << 20:
            problems.append(Problem(k, f"must be a positive integer up to 2^20, got {short_repr(v)}"))
    name = cfg.get("_name_or_path") or cfg.get("model_type") or path.parent.name
    if not isinstance(name, str):
        problems.append(Problem("_name_or_path", f"must be a string, got {short_repr(name)}"))
    if not problems and cfg["num_attention_heads"] % (cfg.get("num_key_value_heads") or cfg["num_attention_heads"]):
        problems.append(Problem("num_key_value_heads", "must divide num_attention_heads"))
    if not problems and not cfg.get("head_dim") and cfg["hidden_size"] % cfg["num_attention_heads"]:
        problems.append(Problem("num_attention_heads", f"{cfg['num_attention_heads']} heads do not divide hidden_size "
                                f"{cfg['hidden_size']} (give head_dim)"))
    if problems:
        raise TraceFormatError(str(path), problems)
    return ModelShape(
        name=name[:200] or "model", hidden=cfg["hidden_size"], intermediate=cfg["intermediate_size"],
        heads=cfg["num_attention_heads"], kv_heads=cfg.get("num_key_value_heads") or cfg["num_attention_heads"],
        layers=cfg["num_hidden_layers"], head_dim=cfg.get("head_dim") or 0, vocab=cfg.get("vocab_size") or 0,
    )


def resolve_model(name_or_path: str) -> ModelShape:
    """A built-in model name or a path to a HuggingFace config.json."""
    if name_or_path in BUILTIN_MODELS:
        return BUILTIN_MODELS[name_or_path]
    path = Path(name_or_path)
    if path.is_dir():
        path = path / "config.json"
    if path.suffix == ".json" and path.exists():
        return model_from_hf_config(path)
    raise UsageError(f"--model {name_or_path!r}: not a built-in model ({', '.join(BUILTIN_MODELS)}) "
                     "nor an existing config.json")


@dataclass(frozen=True)
class ActivationModel:
    """Heavy-tailed activation model: ``x[t, k] = s_t * g_k * T_df`` with ``s_t`` log-normal per
    token, ``g_k = outlier_gain`` on a fixed ``outlier_channel_fraction`` of channels (else 1)
    and ``T_df`` Student-t; salient entries chosen per token by target ratio."""

    distribution: str = "student_t"
    df: float = 3.0
    outlier_channel_fraction: float = 0.005
    outlier_gain: float = 12.0
    token_scale_sigma: float = 0.5
    salient_ratio: float = 0.025
    generator: str = "icdf-v4"

    def __post_init__(self):
        if not 0 <= self.salient_ratio < 1:
            raise UsageError(f"salient ratio must be in [0, 1), got {self.salient_ratio!r}")

    def tables(self) -> tuple:
        """The inverse-CDF table of the value distribution on
        :func:`~neurosim.trace.token_quantizer.octave_grid` (float32), as a 1-tuple."""
        from scipy.special import stdtrit

        return (stdtrit(self.df, octave_grid()).astype(np.float32),)

    def draw_codes(self, seed: list[int], M: int, K: int, recipe: Recipe, tables: tuple, pool=None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Codes, scales and shifts of one ``[M, K]`` activation tensor, its blocks of
        ``_ROWS`` rows each drawn from its own seed (on ``pool``'s threads when given: the same
        codes whatever the thread count)."""
        rng = np.random.default_rng(seed)
        gain = np.ones(K, dtype=np.float32)
        gain[rng.choice(K, size=int(round(self.outlier_channel_fraction * K)), replace=False)] = self.outlier_gain
        token_scale = rng.lognormal(0.0, self.token_scale_sigma, size=M).astype(np.float32)
        starts = range(0, M, _ROWS)
        seeds = rng.integers(0, 1 << 32, len(starts))
        codes = np.empty((M, K), np.int8)
        shifts = np.zeros((M, K), np.int8)  # written only where salient entries shift (calloc: untouched pages)
        scales = np.empty(M, np.float32)

        def block(i: int) -> None:
            rows = slice(starts[i], starts[i] + _ROWS)
            synth_rows(int(seeds[i]), gain, token_scale[rows], *tables, recipe.act_bits, recipe.salient_bits,
                       RULES[recipe.salient_rule], recipe.salient_param, recipe.act_clip, recipe.salient_shift_max,
                       codes[rows], scales[rows], shifts[rows])
        for _ in (pool.map if pool is not None else map)(block, range(len(starts))):
            pass
        return codes, scales, shifts


@dataclass(frozen=True)
class GemmSpec:
    """One plain linear op of a GEMM list: A [M, K] x B [K, N]."""

    name: str
    M: int
    K: int
    N: int


def llm_gemms(model: ModelShape, tokens: int, layers: int) -> list[tuple[str, list[GemmSpec]]]:
    """Per layer, the shared-input groups of a LLaMA decoder's linear ops (q/k/v share the
    attention input; gate/up share the MLP input)."""
    if layers > model.layers:
        raise UsageError(f"--layers {layers}: {model.name} has {model.layers} layers")
    h, i, M = model.hidden, model.intermediate, tokens
    groups = []
    for L in range(layers):
        p = f"layers.{L}"
        groups += [
            (f"{p}.attn_in", [GemmSpec(f"{p}.self_attn.q_proj", M, h, model.q_dim),
                              GemmSpec(f"{p}.self_attn.k_proj", M, h, model.kv_dim),
                              GemmSpec(f"{p}.self_attn.v_proj", M, h, model.kv_dim)]),
            (f"{p}.o_in", [GemmSpec(f"{p}.self_attn.o_proj", M, model.q_dim, h)]),
            (f"{p}.mlp_in", [GemmSpec(f"{p}.mlp.gate_proj", M, h, i), GemmSpec(f"{p}.mlp.up_proj", M, h, i)]),
            (f"{p}.down_in", [GemmSpec(f"{p}.mlp.down_proj", M, i, h)]),
        ]
    return groups


def conv_gemm(name: str, dims: list[int]) -> GemmSpec:
    """A SCALE-Sim conv layer as the GEMM its im2col makes, as SCALE-Sim computes it (no
    padding: the IFMAP is taken as padded already): ``dims`` = IFMAP height, width, filter height,
    width, channels, filters, stride (or stride height, width). Output pixels
    ``ceil((H - Fh + S) / S) x ceil((W - Fw + S) / S)`` are M, the window ``Fh x Fw x C`` is K,
    the filters are N. A ValueError says which dimension is wrong."""
    h, w, fh, fw, c, nf, *strides = dims
    sh, sw = (strides[0], strides[0]) if len(strides) == 1 else strides
    if fh > h or fw > w:
        raise ValueError(f"a {fh}x{fw} filter does not fit a {h}x{w} IFMAP")
    return GemmSpec(name, -(-(h - fh + sh) // sh) * -(-(w - fw + sw) // sw), fh * fw * c, nf)


#: Cells of a topology row: a GEMM (Layer, M, N, K) or a conv layer (Layer, IFMAP H, W, filter
#: H, W, channels, filters, strides; or strides as height and width).
_ROW_KINDS = {4: "gemm", 8: "conv", 9: "conv"}


def _topology_row(cells: list[str]) -> GemmSpec:
    """One topology row as a GemmSpec; a ValueError says what is wrong with it."""
    if len(cells) not in _ROW_KINDS:
        raise ValueError(f"expected 'Layer, M, N, K' or a conv row 'Layer, IFMAP H, IFMAP W, filter H, filter W, "
                         f"channels, filters, strides', got {len(cells)} cells")
    try:
        dims = [int(c) for c in cells[1:]]
    except ValueError:
        raise ValueError(f"dimensions must be whole numbers, got {short_repr(cells[1:])}") from None
    if not 1 <= min(dims) <= max(dims) <= MAX_DIM:
        raise ValueError(f"dimensions must be positive, at most {MAX_DIM}")
    if _ROW_KINDS[len(cells)] == "gemm":
        m, n, k = dims
        return GemmSpec(cells[0][:100], m, k, n)
    g = conv_gemm(cells[0][:100], dims)
    if max(g.M, g.K, g.N) > MAX_DIM:
        raise ValueError(f"its im2col GEMM M={g.M}, K={g.K}, N={g.N} exceeds {MAX_DIM}")
    return g


def read_topology(path: str | Path) -> list[GemmSpec]:
    """SCALE-Sim topology CSV, GEMM rows ``Layer, M, N, K`` (note the order: N before K; A is
    M x K, B is K x N) and conv rows ``Layer, IFMAP H, IFMAP W, filter H, filter W, channels,
    filters, strides`` (:func:`conv_gemm`), one per line; a header line starting with ``Layer``
    is skipped."""
    path = Path(path)
    lines = read_text_input(path, TraceFormatError).splitlines()
    out, problems, seen = [], [], {}
    for lineno, row in enumerate(csv.reader(lines), start=1):
        cells = [c.strip() for c in row if c.strip()]
        if not cells or cells[0].lower().lstrip("\ufeff") in ("layer", "layer name") or cells[0].startswith("#"):
            continue
        try:
            g = _topology_row(cells)
            if not g.name.isprintable():
                raise ValueError(f"layer name {short_repr(g.name)} has control characters")
            if g.name in seen:  # the name is the op's and its tensors' in the trace
                raise ValueError(f"layer name {short_repr(g.name)} repeats line {seen[g.name]}")
            seen[g.name] = lineno
            out.append(g)
        except ValueError as e:
            problems.append(Problem(f"line {lineno}", str(e)))
        if len(problems) > 20:
            break
    if not out and not problems:
        problems.append(Problem("", "no GEMM rows found"))
    if problems:
        raise TraceFormatError(str(path), problems)
    return out


def parse_gemm(text: str, index: int) -> GemmSpec:
    """``--gemm M,K,N`` -> a GemmSpec named ``gemm{index}``."""
    try:
        m, k, n = (int(x) for x in text.split(",") if len(x) <= 20)
        if not 1 <= min(m, k, n) <= max(m, k, n) <= MAX_DIM:
            raise ValueError
    except ValueError:
        raise UsageError(f"--gemm {text[:80]!r}: expected three positive integers M,K,N (each at most "
                         f"{MAX_DIM})") from None
    return GemmSpec(f"gemm{index}", m, k, n)


def footprint(groups: list[tuple[str, list[GemmSpec]]], weights: bool, shifts: bool = False) -> tuple[int, int]:
    """(bytes written to disk, peak bytes of memory) of :func:`write_synthetic` for ``groups``
    (``shifts``: a power-of-two salient step stores a shift per entry beside the codes). Each
    tensor in flight holds its codes and shifts; each worker a row and its work arrays."""
    disk = peak = 0
    per_entry = 2 if shifts else 1
    for _, gemms in groups:
        M, K = gemms[0].M, gemms[0].K
        block = 2 * (2 * M * K) + usable_cores() * K * 4 * 7  # two tensors in flight; per worker 7 words a value
        disk += per_entry * M * K + 4 * M
        w_peak = 0
        if weights:
            disk += sum(g.K * g.N + 4 * g.N for g in gemms)
            w_peak = max(g.K * g.N * 4 * 4 for g in gemms)  # float32 draw, its abs/scaled copies, int8 codes
        peak = max(peak, block + w_peak)
    return disk, peak


def _available_memory() -> int:
    """Bytes of memory available to a new allocation (MemAvailable on Linux)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check_footprint(out: str | Path, groups: list[tuple[str, list[GemmSpec]]], weights: bool,
                    shifts: bool = False) -> None:
    """Refuse, before allocating anything, a trace larger than the free disk or memory."""
    for _, gemms in groups:
        for g in gemms:
            if g.M * g.K > MAX_ELEMENTS or g.K * g.N > MAX_ELEMENTS or g.M * g.K * g.N > MAX_OP_MACS:
                raise UsageError(f"{g.name}: M={g.M}, K={g.K}, N={g.N} exceeds the trace format's limits "
                                 "(2^40 elements per tensor, 2^56 products per op)")
    disk, peak = footprint(groups, weights, shifts)
    parent = Path(out).resolve().parent
    while not parent.exists():
        parent = parent.parent
    free = shutil.disk_usage(parent).free
    if disk > free:
        raise UsageError(f"--out {out}: the trace would take {disk / 2**30:.2f} GiB, but only "
                         f"{free / 2**30:.2f} GiB are free on that disk")
    avail = _available_memory()
    if peak > avail:
        raise UsageError(f"this trace needs about {peak / 2**30:.2f} GiB of memory to generate, but only "
                         f"{avail / 2**30:.2f} GiB are available (use fewer --tokens or --layers, or a smaller --gemm)")


def write_synthetic(out: str | Path, groups: list[tuple[str, list[GemmSpec]]], *, model_name: str, seed: int,
                    weights: bool, act_model: ActivationModel = ActivationModel(), recipe: Recipe | None = None,
                    overwrite: bool = False, progress=None, coverage: tuple[int, int] | None = None) -> Path:
    """Generate and write a synthetic trace; each group is one shared activation tensor.
    ``coverage``: (decoder layers in the trace, the model's), for a model's layers."""
    recipe = recipe or Recipe(salient_rule="ratio", salient_param=act_model.salient_ratio)
    check_footprint(out, groups, weights, recipe.salient_shift_max > 0)
    tokens = groups[0][1][0].M
    layers, model_layers = coverage or (None, None)
    producer = Producer(model=model_name, tokens=tokens, text_source=f"synthetic (seed {seed})", layers=layers,
                        model_layers=model_layers)
    meta = {**dataclasses.asdict(act_model), "seed": seed}
    tables = act_model.tables()

    with TraceWriter(out, producer, recipe, synthetic_model=meta, overwrite=overwrite) as w, \
            ThreadPoolExecutor(usable_cores()) as pool, ThreadPoolExecutor(1) as ahead:
        def draw(gi: int):
            gemms = groups[gi][1]
            return act_model.draw_codes([seed, gi], gemms[0].M, gemms[0].K, recipe, tables, pool)

        nxt = ahead.submit(draw, 0)  # the next tensor is drawn (on every core) while this one is written
        for gi in range(len(groups)):
            codes, scales, shifts = nxt.result()
            if gi + 1 < len(groups):
                nxt = ahead.submit(draw, gi + 1)
            gname, gemms = groups[gi]
            a = w.add_tensor(f"{gname}.codes", codes)
            s = w.add_tensor(f"{gname}.scale", scales)
            sh = w.add_tensor(f"{gname}.shift", shifts) if recipe.salient_shift_max else None
            for gj, g in enumerate(gemms):
                wc = ws = None
                if weights:
                    wrng = np.random.default_rng([seed, gi, gj + 1])
                    wq, wsc = quantize_weights(wrng.standard_normal((g.K, g.N), dtype=np.float32),
                                               recipe.weight_bits)
                    wc, ws = w.add_tensor(f"{g.name}.weight", wq), w.add_tensor(f"{g.name}.weight_scale", wsc)
                w.add_op(g.name, "linear", a, s, weight_bits=recipe.weight_bits, weight_codes=wc, weight_scale=ws,
                         N=g.N, act_shift=sh)
            if progress:
                progress(gi + 1, len(groups))
            del codes, shifts
    return Path(out)
