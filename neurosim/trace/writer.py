"""Atomic trace writer: tensors stream into a temporary directory as they are added; the
manifest is written last and the directory renamed into place, so a reader never sees a
half-written trace under the final name."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from neurosim import __version__
from neurosim.errors import TraceFormatError, UsageError
from neurosim.fsutil import OutputError, clean_stale, mark_temporary, prepare_output_dir, publish_dir, temp_prefix, writing
from neurosim.trace.manifest import Manifest, Op, Producer, Recipe, TensorInfo, VectorOp, parse_manifest

_CHUNK = 1 << 22


def sha256_file(path: str | Path) -> str:
    """sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def check_trace_out(out_dir: str | Path, overwrite: bool) -> Path:
    """Refuse an output path a trace must not replace: a file, the working directory or one of its
    parents, or a directory that is neither empty nor a trace; clean a killed writer's leftovers."""
    out_dir = Path(out_dir)
    resolved = out_dir.resolve()
    if resolved == Path.cwd() or resolved in Path.cwd().parents or resolved.parent == resolved:
        raise UsageError(f"--out {out_dir}: is the working directory or one of its parents; name a new directory")
    clean_stale(resolved.parent, resolved.name)
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise OutputError(f"--out {out_dir}: exists and is not a directory; it is never replaced")
    if out_dir.exists():
        if not overwrite:
            raise UsageError(f"--out {out_dir}: already exists (pass --force to replace it)")
        if any(out_dir.iterdir()) and not (out_dir / "manifest.json").is_file():
            raise OutputError(f"--out {out_dir}: holds files and is not a trace; it is never replaced")
    prepare_output_dir(resolved.parent, "--out")
    return out_dir


class TraceWriter:
    """Write a trace v1 directory. Use as a context manager; nothing appears at ``out_dir``
    unless the block finishes without an exception.

    >>> with TraceWriter(out, producer, recipe) as w:            # doctest: +SKIP
    ...     a = w.add_tensor("l0.attn_in", codes)                # int8 [M, K]
    ...     s = w.add_tensor("l0.attn_in.scale", scales)         # float32 [M]
    ...     w.add_op("layers.0.q_proj", "linear", a, s, weight_bits=4)
    """

    def __init__(self, out_dir: str | Path, producer: Producer, recipe: Recipe, *, synthetic_model: dict | None = None,
                 extra: dict[str, Any] | None = None, overwrite: bool = False):
        self.out_dir = check_trace_out(out_dir, overwrite)
        self._tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(self.out_dir.name), dir=self.out_dir.parent))
        os.chmod(self._tmp, 0o755)  # mkdtemp makes it private; a published trace is a normal directory
        mark_temporary(self._tmp)
        self.producer = dataclasses.replace(producer, tool=f"neurosim {__version__}")
        self.recipe, self.synthetic_model, self.extra = recipe, synthetic_model, extra or {}
        self._tensors: dict[str, TensorInfo] = {}
        self._ops: list[Op] = []
        self._vector_ops: list[VectorOp] = []

    def add_tensor(self, name: str, array: np.ndarray) -> str:
        """Write one tensor now (int8 codes or float32 scales); returns its name for ``add_op``."""
        if name in self._tensors:
            raise ValueError(f"tensor {name!r} added twice")
        arr = np.ascontiguousarray(array)
        if arr.dtype not in (np.int8, np.float32):
            raise ValueError(f"tensor {name!r}: dtype must be int8 or float32, got {arr.dtype}")
        file = f"t{len(self._tensors):05d}.npy"
        with writing(self.out_dir):
            np.save(self._tmp / file, arr, allow_pickle=False)
            digest = hashlib.sha256()
            with open(self._tmp / file, "rb") as f:  # the header; the rest is the array's bytes in C order
                digest.update(f.read((self._tmp / file).stat().st_size - arr.nbytes))
        digest.update(arr.reshape(-1).view(np.uint8))  # from memory: a third less time than reading it back
        self._tensors[name] = TensorInfo(file, str(arr.dtype), tuple(int(s) for s in arr.shape), digest.hexdigest())
        return name

    def add_op(self, name: str, kind: str, act_codes: str, act_scale: str, *, weight_bits: int,
               weight_codes: str | None = None, weight_scale: str | None = None, N: int | None = None,
               act_shift: str | None = None, K: int | None = None, phase: str = "prefill", step: int = 0,
               repeat: int = 1, b_source: str = "weights", act_clip: float | None = None) -> Op:
        """Add an op over tensors already added; M and K come from ``act_codes`` (``K`` given: an
        attention op reading a prefix of its KV cache), N from the weights (or ``N`` when the
        trace carries no weights, or for a KV-cache operand); ``act_clip``: the clip ratio of its
        activation step when it is not the recipe's."""
        M, k = self._tensors[act_codes].shape
        K = k if K is None else K
        if weight_codes is not None and N is None:
            N = self._tensors[weight_codes].shape[1]
        if N is None:
            raise ValueError(f"op {name!r}: N is needed when no weight codes are stored")
        op = Op(name, kind, M, K, int(N), weight_bits, act_codes, act_scale, weight_codes, weight_scale, act_shift,
                phase, step, repeat, b_source, act_clip)
        self._ops.append(op)
        return op

    def add_vector_op(self, name: str, op: str, tokens: int, width: int, *, bits: int = 16, phase: str = "prefill",
                      step: int = 0, repeat: int = 1) -> VectorOp:
        """Add vector-unit work that runs before the next GEMM op added."""
        v = VectorOp(name, op, tokens, width, len(self._ops), bits, phase, step, repeat)
        self._vector_ops.append(v)
        return v

    def close(self) -> Path:
        """Write the manifest, check it parses, and move the directory into place; on any failure
        the temporary directory is removed and nothing is published."""
        try:
            manifest = Manifest(self.producer, self.recipe, tuple(self._ops), dict(self._tensors),
                                synthetic=self.synthetic_model is not None, synthetic_model=self.synthetic_model,
                                extra=self.extra, vector_ops=tuple(self._vector_ops))
            text = manifest.to_json()
            try:
                parse_manifest(text, "manifest.json")  # never publish what we cannot read
            except TraceFormatError as e:
                raise RuntimeError(f"the trace writer produced an invalid manifest (a bug): {e}") from None
            with writing(self.out_dir):
                (self._tmp / "manifest.json").write_text(text)
            publish_dir(self._tmp, self.out_dir)
        except BaseException:
            self.abort()
            raise
        return self.out_dir

    def abort(self) -> None:
        """Remove the temporary directory; nothing is published."""
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
