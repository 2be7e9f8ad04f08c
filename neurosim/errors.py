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
    """Base class of every error neurosim raises on purpose."""


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
