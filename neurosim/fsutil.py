"""File-system safety for every input and output neurosim touches.

Inputs must be regular files (a FIFO would block a reader forever, a symlink could point a
trace outside its directory). Outputs are written atomically with the user's umask (``mkstemp``
alone makes them 0600), stay under the output directory the user named, and never remove a file
neurosim did not write itself. A directory replaced as a whole (a trace) is swapped with two
renames; a crash between them leaves ``.NAME.neurosim-old-PID`` beside it, which the next write
restores.

What neurosim may clean up is what it provably made: a temporary file's name carries
``.neurosim-tmp-PID-`` (and is removed only once that process is gone), a temporary or old
directory also holds the marker file :data:`TEMP_MARKER`. Anything else, hidden or not, is the
user's: it is never removed or renamed, and it makes a directory "not a neurosim directory"
(writing there needs ``--force``).
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
_STALE = re.compile(r"^\.(?P<name>.+)\.neurosim-(?P<kind>tmp|old)-(?P<pid>[0-9]+)(?:-[A-Za-z0-9_]+)?$")
#: Written into every temporary or replaced directory neurosim makes: the proof it may remove it.
TEMP_MARKER = ".neurosim-temporary"
#: Written into an output directory neurosim made (sweep, sensitivity, compare, eval): the proof
#: that its files are neurosim's to replace.
OUT_MARKER = ".neurosim-out"


def temp_prefix(name: str) -> str:
    """The prefix of a temporary beside ``name`` (mkstemp / mkdtemp add random characters)."""
    return f".{name}.neurosim-tmp-{os.getpid()}-"


def mark_temporary(directory: Path) -> None:
    """Mark a directory neurosim made as its own temporary (see :data:`TEMP_MARKER`)."""
    (directory / TEMP_MARKER).write_text(f"neurosim {os.getpid()}\n")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


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


def read_text_input(path: str | Path, source_cls: type[SourceError] = SourceError, max_bytes: int | None = None) -> str:
    """UTF-8 text of a user input file; refuses FIFOs, devices and directories before opening,
    and a file over ``max_bytes`` before reading it."""
    path = require_regular_file(path, source_cls)
    if max_bytes is not None and (size := path.stat().st_size) > max_bytes:
        raise source_cls(str(path), Problem("", f"{size:,} bytes, more than the {max_bytes:,} this input may have"))
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


@contextlib.contextmanager
def writing(path: str | Path):
    """Inside: a write the machine refuses (a full disk, a vanished directory), whose error often
    names no file, becomes one :class:`OutputError` naming ``path`` (the output being written)."""
    try:
        yield
    except InterruptedError:
        raise
    except OSError as e:
        raise OutputError(f"{path}: cannot write ({e.strerror or e})") from None


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same directory and a rename,
    with the permissions a plain ``open`` would give (0666 minus the umask)."""
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def atomic_write(path: str | Path, write) -> Path:
    """Write ``path`` through a temporary file beside it (``write(binary file)``) and a rename,
    with the permissions a plain ``open`` would give; a failure (a missing directory, a full
    disk) is one :class:`OutputError` naming ``path``, and leaves no temporary behind."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.name), dir=path.parent)
    except OSError as e:
        raise OutputError(f"{path}: cannot write ({e.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"{path}: cannot write ({e.strerror})") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def ours(entry: Path) -> bool:
    """Did neurosim make ``entry`` as a temporary (its name, and for a directory its marker)?"""
    m = _STALE.match(entry.name)
    if not m:
        return False
    if entry.is_dir() and not entry.is_symlink():
        return (entry / TEMP_MARKER).is_file()
    return m["kind"] == "tmp" and entry.is_file() and not entry.is_symlink()


def clean_stale(directory: Path, name: str | None = None) -> None:
    """Remove the temporaries a killed neurosim left in ``directory`` (those :func:`ours` proves,
    of processes that are gone); restore a ``.NAME.neurosim-old-PID`` directory when ``NAME``
    itself went missing between two renames. Nothing else is touched."""
    if not directory.is_dir():
        return
    for entry in directory.iterdir():
        m = _STALE.match(entry.name)
        if not m or (name is not None and m["name"] != name) or _alive(int(m["pid"])) or not ours(entry):
            continue
        target = directory / m["name"]
        if m["kind"] == "old" and not target.exists():
            os.rename(entry, target)
            (target / TEMP_MARKER).unlink(missing_ok=True)
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()


def user_entries(directory: Path) -> list[Path]:
    """The entries of ``directory`` neurosim did not make: everything but its markers and its
    provable temporaries (hidden files count: they are the user's too)."""
    return [e for e in directory.iterdir() if e.name not in (TEMP_MARKER, OUT_MARKER) and not ours(e)]


def check_output_dir(out_dir: str | Path, force: bool, what: str = "--out", evidence: tuple[str, ...] = ()) -> Path:
    """Refuse an existing ``out_dir`` that holds files and is not neurosim's (no :data:`OUT_MARKER`
    nor any of ``evidence``, the names an older neurosim left there) unless ``force``; then
    create it, prove it writable and mark it as neurosim's."""
    out_dir = Path(out_dir)
    if out_dir.is_dir() and not out_dir.is_symlink() and not force:
        mine = (out_dir / OUT_MARKER).is_file() or any((out_dir / e).exists() for e in evidence)
        if user_entries(out_dir) and not mine:
            raise OutputError(f"{what} {out_dir}: exists, holds files and is not a neurosim directory (pass "
                              "--force to write into it; no file of yours is removed)")
    prepare_output_dir(out_dir, what)
    if not (out_dir / OUT_MARKER).exists():
        (out_dir / OUT_MARKER).write_text("written by neurosim\n")
    return out_dir


def publish_dir(tmp: Path, out_dir: Path) -> None:
    """Move the finished directory ``tmp`` to ``out_dir``, replacing an older one."""
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.neurosim-old-{os.getpid()}")
        os.rename(out_dir, old)
        mark_temporary(old)  # ours to restore or remove, if a crash leaves it
        os.rename(tmp, out_dir)
        (out_dir / TEMP_MARKER).unlink(missing_ok=True)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, out_dir)
        (out_dir / TEMP_MARKER).unlink(missing_ok=True)
