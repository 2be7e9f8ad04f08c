"""GEMM shapes from an ONNX model (the ``onnx`` package): every ``MatMul`` and ``Gemm`` whose
second operand is a stored 2-D weight becomes a linear op ``[M, K] x [K, N]`` with M the given
token count; ops that read the same input tensor share one activation tensor (as q/k/v do).
MatMuls of two activations (attention scores) have no stored weight and are skipped, and are
reported; so are weights of other ranks."""

from __future__ import annotations

from pathlib import Path

from neurosim.errors import Problem, TraceFormatError, UsageError
from neurosim.fsutil import require_regular_file
from neurosim.trace.synth import MAX_DIM, GemmSpec


def onnx_gemms(path: str | Path, tokens: int) -> tuple[list[tuple[str, list[GemmSpec]]], list[str]]:
    """(groups of GEMMs sharing an input, names of the MatMul/Gemm nodes skipped and why)."""
    try:
        import onnx
    except ImportError as e:
        raise UsageError(f"--onnx needs the onnx package (pip install -e '.[onnx]'): {e}") from None
    path = require_regular_file(path, TraceFormatError)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except FileNotFoundError:
        raise UsageError(f"--onnx {path}: does not exist") from None
    except Exception as e:  # noqa: BLE001 - protobuf's errors quote bytes; keep one line
        raise TraceFormatError(str(path), Problem("", f"not a readable ONNX model ({type(e).__name__})")) from None
    weights = {t.name: tuple(t.dims) for t in model.graph.initializer}
    groups: dict[str, list[GemmSpec]] = {}
    skipped = []
    names: dict[str, int] = {}  # a name -> the next suffix to try: linear, however many repeat
    for i, node in enumerate(model.graph.node):
        if node.op_type not in ("MatMul", "Gemm"):
            continue
        name = node.name or (node.output[0] if node.output else f"{node.op_type.lower()}_{i}")
        if len(node.input) < 2 or not node.input[0] or not node.input[1]:
            skipped.append(f"{name[:80]} (fewer than two inputs)")
            continue
        a, b = node.input[0], node.input[1]
        if b not in weights:
            skipped.append(f"{name} (second operand {b!r} is not a stored weight)")
            continue
        dims = weights[b]
        if len(dims) != 2:
            skipped.append(f"{name} (weight of rank {len(dims)})")
            continue
        if min(dims) < 1 or max(dims) > MAX_DIM:
            skipped.append(f"{name[:80]} (weight dimensions {list(dims)} not from 1 to {MAX_DIM})")
            continue
        trans_b = node.op_type == "Gemm" and any(at.name == "transB" and at.i for at in node.attribute)
        K, N = (dims[1], dims[0]) if trans_b else dims
        name = _unique("".join(c if c.isprintable() else "_" for c in name[:100]), names)
        groups.setdefault(a, []).append(GemmSpec(name, tokens, int(K), int(N)))
    if not groups:
        raise TraceFormatError(str(path), Problem("graph.node", "no MatMul or Gemm with a stored 2-D weight"))
    out = []
    for a, gemms in groups.items():
        ks = {g.K for g in gemms}
        if len(ks) > 1:  # one input tensor, several inner widths: the graph is not a plain GEMM list
            raise TraceFormatError(str(path), Problem(f"graph.node {gemms[0].name}",
                                                      f"ops reading {a!r} disagree on K: {sorted(ks)}"))
        out.append((f"{gemms[0].name}.in", gemms))
    return out, skipped


def _unique(name: str, taken: dict[str, int]) -> str:
    """``name``, or ``name.2``, ``name.3``, ... the first not yet taken (recorded in ``taken``)."""
    if name not in taken:
        taken[name] = 2
        return name
    k = taken[name]
    while f"{name}.{k}" in taken:
        k += 1
    taken[name] = k + 1
    taken[f"{name}.{k}"] = 2
    return f"{name}.{k}"
