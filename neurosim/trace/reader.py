"""Trace reader and validator: memory-mapped, op by op, so a multi-GB trace streams.

:func:`open_trace` checks the manifest and every tensor file's header and size (cheap);
:func:`validate_trace` additionally verifies sha256 checksums and value ranges (codes within the
declared bit widths, scales finite and positive, power-of-two shifts only on salient entries),
streaming through each file in chunks.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.lib import format as npformat

from neurosim.errors import Problem, TraceFormatError
from neurosim.fsutil import read_text_input
from neurosim.trace.manifest import Manifest, Op, TensorInfo, parse_manifest
from neurosim.trace.writer import sha256_file

T = TypeVar("T")

#: The largest manifest.json a trace may have (about 500,000 ops: a 7B model's 16,000 decode
#: steps); parsing holds about ten times its size in memory.
MAX_MANIFEST_BYTES = 128 << 20
#: JSON bytes of one op or vector op, for estimates before writing (265 measured on a 7B-shaped
#: whole inference; names grow with the step number).
MANIFEST_ENTRY_BYTES = 320
_CHUNK_BYTES = 1 << 22  # tensors are checked in ~4 MiB slices, whatever the row width


@dataclass(frozen=True)
class OpTensors:
    """The arrays of one op (memory-mapped, read-only)."""

    act_codes: np.ndarray
    act_scale: np.ndarray
    weight_codes: np.ndarray | None
    weight_scale: np.ndarray | None
    act_shift: np.ndarray | None = None

    def act_values(self, rows: np.ndarray | None = None) -> np.ndarray:
        """``code x 2^shift`` (int64 [M, K], or the tokens ``rows``): the input in normal steps,
        what the arrays sum."""
        codes, shift = self.act_codes, self.act_shift
        if rows is not None:
            codes, shift = codes[rows], None if shift is None else shift[rows]
        q = np.asarray(codes, dtype=np.int64)
        return q if shift is None else q << np.asarray(shift, dtype=np.int64)


def _inside(path: Path, root: Path, where: str) -> None:
    """Refuse a tensor file that is not a regular file inside the trace directory (a symlink
    may point elsewhere only if its target is still inside)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise TraceFormatError(str(path), Problem(where, "tensor file is missing")) from None
    except OSError as e:
        raise TraceFormatError(str(path), Problem(where, f"cannot read: {e.strerror}")) from None
    if not stat.S_ISREG(st.st_mode):
        raise TraceFormatError(str(path), Problem(where, "is not a regular file"))
    if path.is_symlink() and root.resolve() not in path.resolve().parents:
        raise TraceFormatError(str(path), Problem(where, "is a symbolic link to a file outside the trace directory"))


def _read_header(path: Path, info: TensorInfo, name: str) -> int:
    """Check a .npy header against the manifest; returns the data offset."""
    where = f"tensors.{name}"
    _inside(path, path.parent, where)
    try:
        with open(path, "rb") as f:
            version = npformat.read_magic(f)
            read = npformat.read_array_header_1_0 if version == (1, 0) else npformat.read_array_header_2_0
            shape, fortran, dtype = read(f)
            offset = f.tell()
    except OSError as e:
        raise TraceFormatError(str(path), Problem(where, f"cannot read: {e.strerror}")) from None
    except Exception:  # noqa: BLE001 - numpy's messages quote the file's bytes; never echo them
        raise TraceFormatError(str(path), Problem(where, "not a valid .npy file (bad magic string or header)")) from None
    problems = []
    if str(dtype) != info.dtype:
        problems.append(Problem(f"{where}.dtype", f"file holds {dtype}, manifest says {info.dtype}"))
    if tuple(shape) != info.shape:
        problems.append(Problem(f"{where}.shape", f"file holds {list(shape)}, manifest says {list(info.shape)}"))
    if fortran:
        problems.append(Problem(where, "Fortran-ordered arrays are not accepted"))
    if problems:
        raise TraceFormatError(str(path), problems)
    expected = offset + int(np.prod(shape)) * dtype.itemsize
    actual = path.stat().st_size
    if actual != expected:
        what = "truncated" if actual < expected else "has trailing bytes"
        raise TraceFormatError(str(path), Problem(where, f"file is {what}: {actual} bytes, header implies {expected}"))
    return offset


class DerivedCache:
    """Values derived from an open trace's (immutable) tensors, kept while it is open so that the
    simulations of one trace compute them once; the engine's worker threads read and fill it, so
    every access holds a lock. A value is made outside the lock (makers are slow and pure: two
    threads may both make one, the first stored wins)."""

    def __init__(self):
        self._values: dict[tuple, Any] = {}
        self._lock = threading.Lock()
        self._kept_bytes = 0

    def keys(self) -> list[tuple]:
        """The keys stored so far (a snapshot)."""
        with self._lock:
            return list(self._values)

    def get(self, key: tuple) -> Any:
        """The value stored under ``key``, or None."""
        with self._lock:
            return self._values.get(key)

    def get_or_make(self, key: tuple, make: Callable[[], T]) -> T:
        """The value under ``key``, made by ``make()`` and stored the first time."""
        with self._lock:
            if key in self._values:
                return self._values[key]
        value = make()
        with self._lock:
            return self._values.setdefault(key, value)

    def keep(self, key: tuple, array: np.ndarray, budget_bytes: int) -> None:
        """Store ``array`` under ``key`` while the arrays kept this way stay within ``budget_bytes``."""
        with self._lock:
            if key not in self._values and self._kept_bytes + array.nbytes <= budget_bytes:
                self._values[key] = array
                self._kept_bytes += array.nbytes


class Trace:
    """An opened trace: the manifest plus memory-mapped access to each op's tensors."""

    def __init__(self, path: Path, manifest: Manifest):
        self.path, self.manifest = path, manifest
        self._offsets: dict[str, int] = {}
        #: Values derived from the (immutable) tensors (:class:`DerivedCache`).
        self.derived = DerivedCache()

    @property
    def ops(self) -> tuple[Op, ...]:
        return self.manifest.ops

    def tensor(self, name: str) -> np.ndarray:
        """A read-only memory map of one tensor, as a plain array (slicing an ``np.memmap``
        runs Python code per slice: the engine slices every tile)."""
        info = self.manifest.tensors[name]
        file = self.path / info.file
        return np.asarray(np.memmap(file, dtype=np.dtype(info.dtype), mode="r", offset=self._offsets[name],
                                    shape=info.shape))

    def op_tensors(self, op: Op) -> OpTensors:
        """Memory-mapped arrays of one op, as the GEMM ``[M, K] x [K, N]`` sees them: an attention
        op's KV-cache tensors cut to the tokens it reads (the K cache transposed)."""
        def get(role):
            name = getattr(op, role)
            if name is None:
                return None
            t = self.tensor(name)
            axis = op.token_axis(role)
            if axis is not None:
                t = t[(slice(None),) * axis + (slice(0, op.expected_shape(role)[axis]),)]
            return t.T if op.kv and op.kind == "attn_qk" and role == "weight_codes" else t
        return OpTensors(get("act_codes"), get("act_scale"), get("weight_codes"), get("weight_scale"), get("act_shift"))


def open_trace(path: str | Path) -> Trace:
    """Open a trace directory: parse the manifest, check every tensor file's header and size."""
    path = Path(path)
    if not path.is_dir():
        raise TraceFormatError(str(path), Problem("", "not a trace directory (does not exist or is not a directory)"))
    mpath = path / "manifest.json"
    if not mpath.exists() and not mpath.is_symlink():
        raise TraceFormatError(str(mpath), Problem("", "manifest.json is missing"))
    _inside(mpath, path, "")  # the manifest, as every tensor, lies inside the trace directory
    text = read_text_input(mpath, TraceFormatError, MAX_MANIFEST_BYTES)
    trace = Trace(path, parse_manifest(text, str(mpath)))
    used = {t for op in trace.ops for t in op.tensor_refs().values()}
    for name, info in trace.manifest.tensors.items():
        if name in used:
            trace._offsets[name] = _read_header(path / info.file, info, name)
    return trace


def _code_limit(trace: Trace, name: str) -> int:
    """Largest |code| allowed in an int8 tensor, from the roles the ops give it."""
    limits = []
    for op in trace.ops:
        if op.act_shift == name:
            limits.append(trace.manifest.recipe.salient_shift_max)
        if op.act_codes == name:
            limits.append(trace.manifest.recipe.code_max)
        if op.weight_codes == name:
            limits.append((1 << (op.weight_bits - 1)) - 1)
    return max(limits)


def _check_values(trace: Trace, name: str) -> list[Problem]:
    """Stream one tensor in row chunks: codes within range, scales finite and positive."""
    info = trace.manifest.tensors[name]
    arr = trace.tensor(name)
    where = f"tensors.{name}"
    limit = _code_limit(trace, name) if info.dtype == "int8" else 0
    shift = any(op.act_shift == name for op in trace.ops)
    flat = arr.reshape(-1)  # C-ordered memory map: chunks of the flat view bound memory even for one huge row
    step = max(1, _CHUNK_BYTES // arr.itemsize)
    for start in range(0, flat.shape[0], step):
        chunk = np.asarray(flat[start:start + step])
        if info.dtype == "int8":
            a = chunk.astype(np.int16)
            bad = np.flatnonzero((a < 0) | (a > limit) if shift else np.abs(a) > limit)
            if len(bad):
                value = int(chunk[bad[0]])
                index = [int(i) for i in np.unravel_index(start + int(bad[0]), arr.shape)]
                what, rng = ("shift", f"0..{limit}") if shift else ("code", f"+-{limit}")
                return [Problem(where, f"{what} {value} at index {index} is outside the declared range {rng}")]
        elif not (np.isfinite(chunk).all() and (chunk > 0).all()):
            return [Problem(where, "scales must be finite and positive")]
    return []


def _check_shifts(trace: Trace, op: Op) -> list[Problem]:
    """A power-of-two shift only on a salient entry (|code| > the normal range): the arrays tell
    salient entries by their code, so a shifted normal code would be summed at the wrong step."""
    codes, shifts = trace.tensor(op.act_codes).reshape(-1), trace.tensor(op.act_shift).reshape(-1)
    normal_max = trace.manifest.recipe.normal_max
    step = _CHUNK_BYTES
    for start in range(0, codes.shape[0], step):
        c, s = np.asarray(codes[start:start + step]), np.asarray(shifts[start:start + step])
        bad = np.flatnonzero((s > 0) & (np.abs(c.astype(np.int16)) <= normal_max))
        if len(bad):
            index = [int(i) for i in np.unravel_index(start + int(bad[0]), trace.tensor(op.act_codes).shape)]
            return [Problem(f"tensors.{op.act_shift}", f"shift {int(s[bad[0]])} at index {index} is on a normal "
                            f"code {int(c[bad[0]])} (shifts are allowed only where |code| > {normal_max})")]
    return []


def validate_trace(path: str | Path) -> Trace:
    """Fully validate a trace: manifest, headers, sizes, sha256 checksums and value ranges."""
    trace = open_trace(path)
    used = dict.fromkeys(name for op in trace.ops for name in op.tensor_refs().values())
    for name in used:
        info = trace.manifest.tensors[name]
        file = trace.path / info.file
        if sha256_file(file) != info.sha256:
            raise TraceFormatError(str(file), Problem(f"tensors.{name}.sha256",
                                                      "checksum mismatch: the file was modified or corrupted"))
        problems = _check_values(trace, name)
        if problems:
            raise TraceFormatError(str(file), problems)
    for op in {op.act_shift: op for op in trace.ops if op.act_shift is not None}.values():
        problems = _check_shifts(trace, op)
        if problems:
            raise TraceFormatError(str(trace.path / trace.manifest.tensors[op.act_shift].file), problems)
    return trace
