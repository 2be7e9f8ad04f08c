"""File-system safety for every input and output neurosim touches.

Inputs must be regular files (a FIFO would block a reader forever, a symlink could point a
trace outside its directory). Outputs are written atomically with the user's umask (``mkstemp``
alone makes them 0600), stay under the output directory the user named, and never remove a file
neurosim did not write itself. A directory replaced as a whole (a trace) is swapped with two
renames; a crash between them leaves ``.NAME.old-*`` beside it, which the next write restores.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

from neurosim.errors import NeurosimError, Problem, SourceError, UsageError

#: A name that may become one path component: no separators, no leading dot, bounded length.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
_STALE = re.compile(r"^\.(?P<name>.+)\.(?:tmp|old)-[A-Za-z0-9_]+$")


class OutputError(NeurosimError):
    """An output path cannot be written (exists as a file, read-only, disk full, ...)."""


def umask() -> int:
    """The process umask (read without changing it for longer than one call)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def require_regular_file(path: str | Path, source_cls: type[SourceError] = SourceError) -> Path:
    """``path``, refused (one line naming it) unless it is a regular file: a FIFO would block its
    reader forever, a device or a directory is never an input. Checked without opening it."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise source_cls(str(path), Problem("", "file not found")) from None
    except OSError as e:
        raise source_cls(str(path), Problem("", f"cannot read: {e.strerror}")) from None
    if not stat.S_ISREG(st.st_mode):
        what = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise source_cls(str(path), Problem("", f"cannot read: {what}"))
    return path


def read_text_input(path: str | Path, source_cls: type[SourceError] = SourceError) -> str:
    """UTF-8 text of a user input file; refuses FIFOs, devices and directories before opening."""
    path = require_regular_file(path, source_cls)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise source_cls(str(path), Problem("", "cannot read: not UTF-8 text")) from None
    except OSError as e:
        raise source_cls(str(path), Problem("", f"cannot read: {e.strerror}")) from None


def check_name(name: str) -> str | None:
    """Why ``name`` cannot be one path component (None when it can)."""
    if not isinstance(name, str) or not SAFE_NAME.match(name):
        return ("must be 1-64 characters of letters, digits, '.', '_', '+', '-', starting with a letter or "
                f"digit (it names an output directory), got {short_repr(name)}")
    return None


def child(out_dir: str | Path, name: str) -> Path:
    """``out_dir/name``, refusing any name that would resolve outside ``out_dir``."""
    if (why := check_name(name)) is not None:
        raise UsageError(f"output name {why}")
    base = Path(out_dir).resolve()
    path = (base / name).resolve()
    if path.parent != base:
        raise UsageError(f"output name {name!r} resolves outside {out_dir}")
    return Path(out_dir) / name


def short_repr(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters: error messages never print unbounded input."""
    import reprlib

    r = reprlib.Repr()
    r.maxstring, r.maxother, r.maxlist, r.maxdict, r.maxlevel = limit, limit, 6, 6, 3
    r.maxlong = 40
    text = r.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def prepare_output_dir(out_dir: str | Path, what: str = "--out") -> Path:
    """Create ``out_dir`` (and parents) and prove it writable before any long computation."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{what} {out_dir}: exists and is not a directory")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".neurosim-probe-", dir=out_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OutputError(f"{what} {out_dir}: cannot write here ({e.strerror})") from None
    return out_dir


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same directory and a rename,
    with the permissions a plain ``open`` would give (0666 minus the umask)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def clean_stale(directory: Path, name: str | None = None) -> None:
    """Remove temporaries left by a killed writer (``.X.tmp-*``) in ``directory``; restore a
    ``.NAME.old-*`` directory when ``NAME`` itself went missing between two renames."""
    if not directory.is_dir():
        return
    for entry in directory.iterdir():
        m = _STALE.match(entry.name)
        if not m or (name is not None and m["name"] != name):
            continue
        target = directory / m["name"]
        if ".old-" in entry.name:
            if not target.exists():
                os.rename(entry, target)
                continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()


def publish_dir(tmp: Path, out_dir: Path) -> None:
    """Move the finished directory ``tmp`` to ``out_dir``, replacing an older one."""
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        os.rename(out_dir, old)
        os.rename(tmp, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, out_dir)
