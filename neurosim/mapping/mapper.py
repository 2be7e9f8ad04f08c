"""The mapper: place a trace's weight matrices on a mesh of cores so the whole model is resident.

Rules (docs/model.md, "Many-core chip"):

- **What is one matrix.** Ops that read one weight matrix share its placement: a real trace
  names the matrix (``weight_codes``); otherwise the op name does, without its decode prefix
  (``decode.<step>.``). A folded op (``repeat: r`` of ``layers.<proj>``, the synthetic decode)
  reads the matrices of layers ``0 .. r-1``; an unfolded op with ``repeat: r`` reads r copies.
- **How one matrix splits.** Whole columns first: each core takes as many output columns (all K
  inputs each, plus their per-channel constants) as its weight memory holds, in whole column
  folds of the array (multiples of ``cols``) when a core holds at least one; the columns are
  spread evenly. Only when a core cannot hold ``min(N, cols)`` whole columns are the inputs split
  too, into the fewest row blocks (multiples of ``rows``) that let it.
- **Which cores.** Matrices in trace order (layer by layer) take consecutive cores along a snake
  over the mesh (row 0 left to right, row 1 right to left, ...), so that an op's cores and the
  next op's are neighbours. A core holds shards of one matrix only. On a board the snake runs
  through chip 0, then chip 1, ... (pipeline parallelism: consecutive layers on consecutive
  chips; a layer may span two). With ``board.tensor_parallel`` T, the chips form groups of T;
  each matrix's column blocks (a multiple of T of them) are dealt to the group's chips in T
  contiguous runs, each chip filling its own snake, and a chip passes to the same member of the
  next group when it is full.
- **Ops without weights.** An attention op runs on the cores of its layer's K projection
  (``attn_qk``) or V projection (``attn_av``), where its half of the KV cache is produced; a
  vector op runs on the cores of the op it feeds.

It refuses, with one line, a model whose weights need more cores than the mesh has, or a core
memory that cannot hold one ``rows x 1`` block.
"""

from __future__ import annotations

import re

from neurosim.errors import NeurosimError
from neurosim.mapping.placement import CHANNEL_CONSTANT_BITS, Placement, WeightPlacement
from neurosim.trace.manifest import Manifest, Op
from neurosim.units import ceil_div

_NAME = re.compile(r"^(?:decode\.\d+\.)?(layers\.)(\d+\.)?(.+)$")


class PlacementError(NeurosimError):
    """The model cannot be placed on the chip."""


def weight_keys(op: Op) -> list[str]:
    """The weight matrices op ``op`` reads, one per instance (see the module docstring)."""
    if op.weight_codes is not None:
        return [op.weight_codes] if op.repeat == 1 else [f"{op.weight_codes}#{i}" for i in range(op.repeat)]
    m = _NAME.match(op.name)
    if m and m.group(2) is None:  # folded over layers
        return [f"layers.{i}.{m.group(3)}" for i in range(op.repeat)]
    base = f"{m.group(1)}{m.group(2)}{m.group(3)}" if m else re.sub(r"^decode\.\d+\.", "", op.name)
    return [base] if op.repeat == 1 else [f"{base}#{i}" for i in range(op.repeat)]


def split(K: int, N: int, weight_bits: int, capacity_bits: int, rows: int, cols: int) -> tuple[int, int]:
    """(shard_n, shard_k) of a ``K x N`` matrix on cores of ``capacity_bits`` (module docstring)."""
    want, k_split, shard_k = min(N, cols), 1, K
    while (fit := capacity_bits // (shard_k * weight_bits + CHANNEL_CONSTANT_BITS)) < want:
        if shard_k <= rows:
            raise PlacementError(f"a core's {capacity_bits / 8 / 1024:g} KiB of weight memory cannot hold {want} "
                                 f"columns of {shard_k} {weight_bits}-bit weights")
        k_split += 1
        shard_k = ceil_div(ceil_div(K, k_split), rows) * rows
    if fit >= N:
        return N, shard_k
    fit -= fit % cols if fit >= cols else 0
    shard_n = ceil_div(N, ceil_div(N, fit))  # spread evenly, then in whole column folds where a core holds them
    return (min(fit, ceil_div(shard_n, cols) * cols) if fit >= cols else shard_n), shard_k


def snake(width: int, height: int) -> list[int]:
    """Core ids along the snake: row 0 left to right, row 1 right to left, ..."""
    return [y * width + (x if y % 2 == 0 else width - 1 - x) for y in range(height) for x in range(width)]


def member_orders(width: int, height: int, chips: int, tensor_parallel: int) -> list[list[int]]:
    """The cores each tensor-parallel member fills, in order: member t has chips t, t + T, t + 2T,
    ... (one per group of T consecutive chips), each along its snake."""
    per = width * height
    chip = snake(width, height)
    return [[c * per + i for c in range(t, chips, tensor_parallel) for i in chip] for t in range(tensor_parallel)]


def _tp_split(N: int, shard_n: int, tensor_parallel: int) -> int:
    """The column block size that splits ``N`` outputs into a multiple of ``tensor_parallel``
    blocks of at most ``shard_n`` (the block count rounded up)."""
    blocks = ceil_div(ceil_div(N, shard_n), tensor_parallel) * tensor_parallel
    return ceil_div(N, blocks)


def place(manifest: Manifest, width: int, height: int, capacity_bits: int, rows: int, cols: int, *,
          chips: int = 1, tensor_parallel: int = 1) -> Placement:
    """Place every weight matrix of ``manifest`` on ``chips`` meshes of ``width x height`` cores with
    ``capacity_bits`` of weight memory each and ``rows x cols`` arrays; with ``tensor_parallel`` T,
    each matrix's column blocks are dealt to the T chips of a group in T contiguous runs."""
    orders = member_orders(width, height, chips, tensor_parallel)
    matrices: dict[str, WeightPlacement] = {}
    need = [0] * tensor_parallel
    for op in manifest.ops:
        if op.b_source != "weights":
            continue
        for key in weight_keys(op):
            if key not in matrices:
                shard_n, shard_k = split(op.K, op.N, op.weight_bits, capacity_bits, rows, cols)
                if tensor_parallel > 1:
                    shard_n = _tp_split(op.N, shard_n, tensor_parallel)
                n_split, k_split = ceil_div(op.N, shard_n), ceil_div(op.K, shard_k)
                cores = []
                for t in range(tensor_parallel):  # member t: column blocks [lo, hi)
                    lo, hi = ceil_div(n_split * t, tensor_parallel), ceil_div(n_split * (t + 1), tensor_parallel)
                    n = (hi - lo) * k_split
                    cores += orders[t][need[t]:need[t] + n]
                    need[t] += n
                fits = all(n <= len(o) for n, o in zip(need, orders, strict=True))
                matrices[key] = WeightPlacement(key, op.K, op.N, op.weight_bits, shard_n, shard_k,
                                                tuple(cores) if fits else ())
    if any(n > len(o) for n, o in zip(need, orders, strict=True)):
        raise PlacementError(_short(matrices, need, orders, width, height, chips, capacity_bits))
    return Placement(width, height, capacity_bits, tuple(matrices.values()), _op_cores(manifest, matrices), chips)


def _short(matrices: dict[str, WeightPlacement], need: list[int], orders: list[list[int]], width: int, height: int,
           chips: int, capacity_bits: int) -> str:
    total = sum(w.K * w.N * w.weight_bits for w in matrices.values())
    where = f"the {width}x{height} mesh" if chips == 1 else f"the board's {chips} chips of {width}x{height}"
    have = sum(len(o) for o in orders)
    short = sum(max(0, n - len(o)) for n, o in zip(need, orders, strict=True))
    return (f"the weights ({total / 8 / 2**20:.1f} MiB in {len(matrices)} matrices) need {sum(need)} cores of "
            f"{capacity_bits / 8 / 1024:g} KiB weight memory; {where} has {have} (short by {short})")


#: A projection's matrix key: ``...<proj>_proj[.weight][#instance]``.
_PROJECTION = re.compile(r"([^.]+_proj)(\.weight)?(#\d+)?$")
#: The projections whose outputs are the KV cache (attention runs on their cores).
KV_PROJECTIONS = ("k_proj", "v_proj")


def projection(key: str) -> str | None:
    """The projection a matrix key names (``q_proj``, ``k_proj``, ...), or None."""
    m = _PROJECTION.search(key)
    return m[1] if m else None


def _layer_matrix(key: str, proj: str) -> str:
    """The key of the ``proj`` projection in the layer of matrix ``key``."""
    return _PROJECTION.sub(lambda m: proj + (m[2] or "") + (m[3] or ""), key)


def _op_cores(manifest: Manifest, matrices: dict[str, WeightPlacement]) -> tuple:
    """Op name -> the cores it runs on (module docstring)."""
    out: dict[str, tuple[int, ...]] = {}
    last_kv: dict[str, tuple[int, ...]] = {}
    for op in manifest.ops:
        if op.b_source == "weights":
            out[op.name] = tuple(c for key in weight_keys(op) for c in matrices[key].cores)
            for proj in KV_PROJECTIONS:
                keys = [_layer_matrix(k, proj) for k in weight_keys(op)]
                if all(k in matrices for k in keys):
                    last_kv[proj] = tuple(c for k in keys for c in matrices[k].cores)
        else:
            out[op.name] = last_kv.get("k_proj" if op.kind == "attn_qk" else "v_proj", ())
    names = [op.name for op in manifest.ops]
    for v in manifest.vector_ops:
        out[v.name] = out[names[v.position]] if v.position < len(names) else ()
    return tuple(out.items())
