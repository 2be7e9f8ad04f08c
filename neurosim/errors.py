"""Typed error hierarchy.

Every user mistake (bad YAML, unknown key, corrupt trace, bad CLI flag) raises a subclass of
:class:`NeurosimError`; the CLI turns those into one message per problem and exit code 2.
Anything else is an internal error (exit 1).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One validation problem: where (a dotted key path) and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


MAX_LINES = 50


class NeurosimError(Exception):
    """Base class of every error neurosim raises on purpose. Every subclass pickles (errors cross
    process boundaries): one that takes other arguments than a message defines ``__reduce__``."""


class UsageError(NeurosimError):
    """Bad command-line usage (a malformed ``--set``, a missing path)."""


class SourceError(NeurosimError):
    """A problem (or several) found in one input file.

    ``source`` names the file; ``problems`` lists every problem found, so the user can fix all
    of them in one pass instead of one per run.
    """

    def __init__(self, source: str, problems: list[Problem] | Problem):
        self.source = str(source)
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("\n".join(self.lines()))

    def __reduce__(self):
        # pickled by its arguments (source and every problem), not by the joined message: the error
        # crosses into and out of worker processes (--jobs, Dask) as the same type, whole
        return type(self), (self.source, self.problems)

    def lines(self) -> list[str]:
        """One ``file: key.path: problem`` line per problem (at most MAX_LINES, then a count)."""
        shown = [f"{self.source}: {p}" for p in self.problems[:MAX_LINES]]
        if len(self.problems) > MAX_LINES:
            shown.append(f"{self.source}: ... and {len(self.problems) - MAX_LINES} more problems")
        return shown


class ConfigError(SourceError):
    """A hardware config, energy table or override is invalid."""


class TraceFormatError(SourceError):
    """A trace directory, manifest or tensor file is invalid."""


def error_record(e: BaseException) -> dict:
    """A failed point's error as plain data: its type, message and, for a file's problems, the
    file and each problem's key path and message."""
    out: dict = {"error_type": type(e).__name__, "error": str(e)}
    if isinstance(e, SourceError):
        out["source"] = e.source
        out["problems"] = [{"path": p.path, "message": p.message} for p in e.problems]
    return out
