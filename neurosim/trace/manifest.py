"""Trace manifest (version 6; 1 to 5 still read): frozen dataclasses and their strict JSON (de)serialisation.

The spec is ``traces/README.md``. Parsing checks every field and raises
:class:`~neurosim.errors.TraceFormatError` naming ``manifest.json`` and the field.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

from neurosim.errors import Problem, TraceFormatError
from neurosim.fsutil import short_repr
from neurosim.jsonutil import loads_json_strict
from neurosim.trace.consistency import inference_problems
from neurosim.trace.json_fields import take_fields

FORMAT = "neurosim-trace"
VERSION = 6
#: Version 1 traces (no ``recipe.act_clip``: 1.0), version 2 traces (no
#: ``recipe.salient_shift_max``: 0, no ``act_shift``), version 3 traces (no phases, repeats,
#: KV-cache operands or vector ops), version 4 traces (no ``producer.layers`` /
#: ``producer.model_layers``: unknown) and version 5 traces (no op ``act_clip``: the recipe's)
#: still load.
READABLE_VERSIONS = (1, 2, 3, 4, 5, 6)
PHASES = ("prefill", "decode")
#: Vector-unit work between the GEMMs (format v4); see traces/README.md.
VECTOR_OPS = ("rmsnorm", "rope", "softmax", "silu_mul", "residual_add", "quantize", "hadamard", "kv_write")
#: Largest power-of-two salient shift: the shift field of a salient entry is at most 4 bits.
MAX_SALIENT_SHIFT = 15
OP_KINDS = ("linear", "attn_qk", "attn_av")
#: Largest dimension and element count of one tensor or op: 2^40 elements is a TiB of int8 codes,
#: far beyond any trace, and keeps every derived count (bits, products of dimensions) inside int64.
MAX_DIM = 1 << 32
MAX_ELEMENTS = 1 << 40
MAX_OP_MACS = 1 << 56
TENSOR_DTYPES = {"act_codes": "int8", "act_scale": "float32", "weight_codes": "int8", "weight_scale": "float32",
                 "act_shift": "int8"}


@dataclass(frozen=True)
class Producer:
    """Where the trace came from."""

    model: str
    tokens: int
    weights_sha256: str | None = None
    tokenizer: str | None = None
    text_source: str | None = None
    tool: str = ""
    layers: int | None = None  # (version 5) the model's decoder layers the trace covers; None: unknown
    model_layers: int | None = None  # (version 5) the model's decoder layers; None: unknown


@dataclass(frozen=True)
class Recipe:
    """The quantization recipe the codes were produced with."""

    weight_bits: int = 4
    act_bits: int = 4
    salient_bits: int = 8
    salient_rule: str = "mad"  # mad | ratio | none
    salient_param: float = 0.0
    act_granularity: str = "per_token"
    weight_granularity: str = "per_channel"
    act_clip: float = 1.0  # normal step = act_clip x max|normal value| / (2^(act_bits-1) - 1) (format v2)
    salient_shift_max: int = 0  # > 0: salient entries on the step x 2^s, s <= this, s per entry (format v3)

    @property
    def normal_max(self) -> int:
        """Largest |code| of a normal (non-salient) activation: symmetric signed range."""
        return (1 << (self.act_bits - 1)) - 1

    @property
    def code_max(self) -> int:
        """Largest |code| any activation may have (salient codes included)."""
        return (1 << (max(self.act_bits, self.salient_bits) - 1)) - 1

    @property
    def shift_bits(self) -> int:
        """Width of the shift field a salient entry carries (0: salient codes on the normal step)."""
        return self.salient_shift_max.bit_length()

    @property
    def value_max(self) -> int:
        """Largest |code x 2^shift|, in normal steps: what an accumulator must hold per input."""
        return self.code_max << self.salient_shift_max


@dataclass(frozen=True)
class TensorInfo:
    """One ``.npy`` file: its dtype, shape and sha256."""

    file: str
    dtype: str
    shape: tuple[int, ...]
    sha256: str


@dataclass(frozen=True)
class Op:
    """One GEMM ``[M, K] x [K, N]``: activation codes times weight codes (or a second operand)."""

    name: str
    kind: str
    M: int
    K: int
    N: int
    weight_bits: int
    act_codes: str
    act_scale: str
    weight_codes: str | None = None
    weight_scale: str | None = None
    act_shift: str | None = None  # per-entry power-of-two step of the codes (format v3)
    phase: str = "prefill"  # prefill | decode (format v4)
    step: int = 0  # decode step (0 in prefill)
    repeat: int = 1  # identical instances (heads, layers sharing one code model): costs x repeat
    b_source: str = "weights"  # weights | kv_cache: B is read from the KV cache (attention, format v4)
    act_clip: float | None = None  # the clip ratio of this op's activation step; None: the recipe's (format v6)

    def tensor_refs(self) -> dict[str, str]:
        """Role -> tensor name for every tensor the op references."""
        roles = ("act_codes", "act_scale", "weight_codes", "weight_scale", "act_shift")
        return {r: getattr(self, r) for r in roles if getattr(self, r) is not None}

    def expected_shape(self, role: str) -> tuple[int, ...]:
        """The shape a tensor must have in ``role`` (at least, along :meth:`token_axis`)."""
        if self.kv and self.kind == "attn_qk" and role == "weight_codes":  # the K cache [tokens, head dim]
            return (self.N, self.K)
        return {"act_codes": (self.M, self.K), "act_scale": (self.M,), "act_shift": (self.M, self.K),
                "weight_codes": (self.K, self.N), "weight_scale": (self.N,)}[role]

    def token_axis(self, role: str) -> int | None:
        """For attention ops, the axis of ``role``'s tensor that runs over the KV cache's tokens:
        the tensor may hold more tokens than the op reads (a decode step reads a prefix)."""
        if not self.kv:
            return None
        if self.kind == "attn_qk" and role in ("weight_codes", "weight_scale"):
            return 0
        if self.kind == "attn_av" and role in ("act_codes", "act_shift"):
            return 1
        if self.kind == "attn_av" and role == "weight_codes":
            return 0
        return None

    @property
    def kv(self) -> bool:
        """B is read from the KV cache (the tensor layout of traces/README.md, format v4)."""
        return self.b_source == "kv_cache"

    def shape_fits(self, role: str, shape: tuple[int, ...]) -> bool:
        """Does a tensor of ``shape`` serve ``role``?"""
        want, axis = self.expected_shape(role), self.token_axis(role)
        if axis is None or len(shape) != len(want):
            return tuple(shape) == want
        return all(s == w if i != axis else s >= w for i, (s, w) in enumerate(zip(shape, want, strict=True)))


@dataclass(frozen=True)
class VectorOp:
    """Vector-unit work between GEMMs (format v4): ``tokens x width`` elements of ``op`` (one
    of :data:`VECTOR_OPS`), ``bits`` wide, run before ``ops[position]``. ``kv_write`` stores
    ``tokens x width`` codes of ``bits`` into the KV cache."""

    name: str
    op: str
    tokens: int
    width: int
    position: int
    bits: int = 16
    phase: str = "prefill"
    step: int = 0
    repeat: int = 1

    @property
    def elements(self) -> int:
        return self.tokens * self.width


@dataclass(frozen=True)
class Manifest:
    """A whole trace's description; tensors are referenced by name."""

    producer: Producer
    recipe: Recipe
    ops: tuple[Op, ...]
    tensors: dict[str, TensorInfo]
    synthetic: bool = False
    synthetic_model: dict[str, Any] | None = None
    version: int = VERSION
    format: str = FORMAT
    extra: dict[str, Any] = field(default_factory=dict)
    vector_ops: tuple[VectorOp, ...] = ()

    def to_json(self) -> str:
        """Serialise to the manifest.json text."""
        d = dataclasses.asdict(self)
        d["ops"] = [dataclasses.asdict(o) for o in self.ops]
        d["vector_ops"] = [dataclasses.asdict(o) for o in self.vector_ops]
        d["tensors"] = {k: {**dataclasses.asdict(v), "shape": list(v.shape)} for k, v in self.tensors.items()}
        order = ["format", "version", "producer", "recipe", "synthetic", "synthetic_model", "extra", "tensors", "ops",
                 "vector_ops"]
        return json.dumps({k: d[k] for k in order}, indent=1) + "\n"


# --- parsing ---------------------------------------------------------------------------------

def _coverage_problems(raw: dict, producer: Producer | None) -> list[Problem]:
    """``producer.layers`` / ``model_layers``: version 5 only, and no more layers than the model's."""
    if producer is None:
        return []
    given = [k for k in ("layers", "model_layers") if getattr(producer, k) is not None]
    if given and raw.get("version", VERSION) < 5:
        return [Problem(f"producer.{given[0]}", f"is new in trace format version 5 (this is {raw.get('version')})")]
    if producer.layers and producer.model_layers and producer.layers > producer.model_layers:
        return [Problem("producer.layers", f"{producer.layers} is more than producer.model_layers "
                        f"({producer.model_layers})")]
    return []


def _positive(v):
    return None if 1 <= v <= MAX_DIM else f"must be between 1 and {MAX_DIM}, got {short_repr(v)}"


def _clip(v):
    return None if 0 < v <= 1 else f"must be in (0, 1], got {v}"


def _bits(v):
    return None if 1 <= v <= 8 else f"must be between 1 and 8 (codes are stored as int8), got {v}"


_SCHEDULE = {
    "name": lambda v: None if 0 < len(v) <= 200 and v.isprintable() else "must be 1 to 200 printable characters "
    "(no control characters: names are printed to terminals)",
    "phase": lambda v: None if v in PHASES else f"must be one of {', '.join(PHASES)}",
    "step": lambda v: None if 0 <= v <= MAX_DIM else f"must be between 0 and {MAX_DIM}",
    "repeat": _positive,
    "b_source": lambda v: None if v in ("weights", "kv_cache") else "must be weights or kv_cache",
}


def _checked_json(text: str, source: str) -> dict:
    """The manifest's JSON object, refused whole when it is not one of a readable format version."""
    try:
        raw = loads_json_strict(text)
    except ValueError as e:
        raise TraceFormatError(source, Problem("", str(e))) from None
    if not isinstance(raw, dict):
        raise TraceFormatError(source, Problem("", "must be a JSON object"))
    if raw.get("format") != FORMAT:
        raise TraceFormatError(source, Problem("format", f"must be {FORMAT!r}, got {short_repr(raw.get('format'))}"))
    if raw.get("version") not in READABLE_VERSIONS:
        raise TraceFormatError(
            source, Problem("version", f"unsupported trace format version {short_repr(raw.get('version'))}; "
                            f"this neurosim reads versions {', '.join(map(str, READABLE_VERSIONS))}")
        )
    return raw


def _recipe(raw: dict, problems: list[Problem]) -> Recipe | None:
    recipe = take_fields(Recipe, raw.get("recipe"), "recipe", problems,
                   {"weight_bits": _bits, "act_bits": _bits, "salient_bits": _bits,
                    "salient_rule": lambda v: None if v in ("mad", "ratio", "none") else "must be mad, ratio or none",
                    "act_clip": _clip,
                    "salient_shift_max": lambda v: None if 0 <= v <= MAX_SALIENT_SHIFT
                    else f"must be between 0 and {MAX_SALIENT_SHIFT}, got {v}"})
    if recipe is not None and recipe.salient_bits < recipe.act_bits:
        problems.append(Problem("recipe.salient_bits", "must be >= recipe.act_bits"))
    return recipe


def _tensors(raw_t: dict, problems: list[Problem]) -> dict[str, TensorInfo]:
    tensors = {}
    for name, t in raw_t.items():
        path = f"tensors.{name}"
        if not isinstance(t, dict) or set(t) != {"file", "dtype", "shape", "sha256"}:
            problems.append(Problem(path, "must have exactly the fields file, dtype, shape, sha256"))
            continue
        shape_ok = (isinstance(t["shape"], list) and 1 <= len(t["shape"]) <= 4
                    and all(isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= MAX_DIM for s in t["shape"])
                    and math.prod(t["shape"]) <= MAX_ELEMENTS)
        file_ok = isinstance(t["file"], str) and t["file"].endswith(".npy") and "/" not in t["file"] and ".." not in t["file"]
        sha_ok = isinstance(t["sha256"], str) and len(t["sha256"]) == 64
        if not (shape_ok and file_ok and sha_ok and t["dtype"] in ("int8", "float32")):
            problems.append(Problem(path, "needs a plain .npy file name, dtype int8|float32, a shape of 1-4 positive "
                                    "dimensions with at most 2^40 elements, and a 64-hex sha256"))
            continue
        tensors[name] = TensorInfo(t["file"], t["dtype"], tuple(t["shape"]), t["sha256"])
    return tensors


def _op_tensor_problems(op: Op, i: int, tensors: dict[str, TensorInfo], raw_t: dict, problems: list[Problem]) -> None:
    """The tensors an op names: they exist, with its role's dtype and a shape that fits the op."""
    for role, tname in op.tensor_refs().items():
        where = f"ops[{i}].{role}"
        if tname not in tensors:
            if tname not in raw_t:
                problems.append(Problem(where, f"references unknown tensor {tname!r}"))
            continue
        t = tensors[tname]
        if t.dtype != TENSOR_DTYPES[role]:
            problems.append(Problem(where, f"tensor {tname!r} has dtype {t.dtype}, {role} must be {TENSOR_DTYPES[role]}"))
        if not op.shape_fits(role, t.shape):
            more = "" if op.token_axis(role) is None else f" (axis {op.token_axis(role)} at least)"
            problems.append(Problem(where, f"tensor {tname!r} has shape {list(t.shape)}, op needs "
                                    f"{list(op.expected_shape(role))}{more} (M={op.M}, K={op.K}, N={op.N})"))


def _op_field_problems(op: Op, i: int, recipe: Recipe | None, version: int, problems: list[Problem]) -> None:
    """Fields of one op that must agree with each other and with the recipe."""
    if (op.weight_codes is None) != (op.weight_scale is None):
        problems.append(Problem(f"ops[{i}]", "weight_codes and weight_scale must be given together"))
    if recipe is not None and (op.act_shift is None) != (recipe.salient_shift_max == 0):
        problems.append(Problem(f"ops[{i}].act_shift", "required when recipe.salient_shift_max > 0, "
                                "and only then" if op.act_shift is None else
                                "given, but recipe.salient_shift_max is 0 (salient codes on the normal step)"))
    if op.phase == "prefill" and op.step:
        problems.append(Problem(f"ops[{i}].step", "must be 0 in the prefill phase"))
    if op.kv and op.kind == "linear":
        problems.append(Problem(f"ops[{i}].b_source", "kv_cache is for attention ops (attn_qk, attn_av)"))
    if op.act_clip is not None and version < 6:
        problems.append(Problem(f"ops[{i}].act_clip", f"is new in trace format version 6 (this is {version})"))


def _ops(raw_ops: list, tensors: dict[str, TensorInfo], raw_t: dict, recipe: Recipe | None, version: int,
         problems: list[Problem]) -> list[Op]:
    ops, names = [], set()
    for i, r in enumerate(raw_ops):
        op = take_fields(Op, r, f"ops[{i}]", problems, {
            "kind": lambda v: None if v in OP_KINDS else f"must be one of {', '.join(OP_KINDS)}",
            "M": _positive, "K": _positive, "N": _positive, "weight_bits": _bits, "act_clip": _clip, **_SCHEDULE})
        if op is None:
            continue
        if op.M * op.K * op.N > MAX_OP_MACS:
            problems.append(Problem(f"ops[{i}]", f"M x K x N = {op.M * op.K * op.N:.3g} exceeds the supported 2^56 "
                                    "products per op (counters are 64-bit)"))
            continue
        if op.name in names:
            problems.append(Problem(f"ops[{i}].name", f"duplicate op name {op.name!r}"))
        names.add(op.name)
        _op_tensor_problems(op, i, tensors, raw_t, problems)
        _op_field_problems(op, i, recipe, version, problems)
        ops.append(op)
    return ops


def _vector_ops(raw_v: list, n_ops: int, problems: list[Problem]) -> list[VectorOp]:
    vector_ops = []
    for i, r in enumerate(raw_v):
        v = take_fields(VectorOp, r, f"vector_ops[{i}]", problems, {
            "op": lambda x: None if x in VECTOR_OPS else f"must be one of {', '.join(VECTOR_OPS)}",
            "tokens": _positive, "width": _positive, "bits": lambda x: None if 1 <= x <= 32 else "must be 1 to 32",
            "position": lambda x: None if 0 <= x <= n_ops else f"must be 0 to {n_ops} (an op index)",
            **_SCHEDULE})
        if v is not None:
            if v.phase == "prefill" and v.step:
                problems.append(Problem(f"vector_ops[{i}].step", "must be 0 in the prefill phase"))
            vector_ops.append(v)
    return vector_ops


def parse_manifest(text: str, source: str) -> Manifest:
    """Parse and check manifest.json text; every problem is reported at once."""
    raw = _checked_json(text, source)
    problems: list[Problem] = []
    allowed = {"format", "version", "producer", "recipe", "synthetic", "synthetic_model", "extra", "tensors", "ops",
               "vector_ops"}
    problems += [Problem(str(k)[:60], f"unknown field; allowed: {', '.join(sorted(allowed))}")
                 for k in raw if k not in allowed]
    producer = take_fields(Producer, raw.get("producer"), "producer", problems,
                     {"tokens": _positive, "layers": _positive, "model_layers": _positive})
    problems += _coverage_problems(raw, producer)
    recipe = _recipe(raw, problems)
    raw_t = raw.get("tensors")
    if not isinstance(raw_t, dict):
        problems.append(Problem("tensors", "must be an object of tensor name -> {file, dtype, shape, sha256}"))
        raw_t = {}
    tensors = _tensors(raw_t, problems)
    raw_ops = raw.get("ops")
    if not isinstance(raw_ops, list) or not raw_ops:
        problems.append(Problem("ops", "must be a non-empty list"))
        raw_ops = []
    ops = _ops(raw_ops, tensors, raw_t, recipe, raw["version"], problems)
    raw_v = raw.get("vector_ops", [])
    if not isinstance(raw_v, list):
        problems.append(Problem("vector_ops", "must be a list"))
        raw_v = []
    vector_ops = _vector_ops(raw_v, len(raw_ops), problems)
    if producer is not None and not problems:
        problems += inference_problems(producer.tokens, ops, bool(vector_ops))
    synthetic = raw.get("synthetic", False)
    if not isinstance(synthetic, bool):
        problems.append(Problem("synthetic", "must be true or false"))
    if not isinstance(raw.get("extra", {}), dict):
        problems.append(Problem("extra", f"must be an object, got {short_repr(raw.get('extra'))}"))
    sm = raw.get("synthetic_model")
    if synthetic and not isinstance(sm, dict):
        problems.append(Problem("synthetic_model", "a synthetic trace must state the activation model it used"))
    if problems:
        raise TraceFormatError(source, problems)
    return Manifest(producer, recipe, tuple(ops), tensors, synthetic, sm, version=raw["version"],
                    extra=raw.get("extra") or {}, vector_ops=tuple(vector_ops))
