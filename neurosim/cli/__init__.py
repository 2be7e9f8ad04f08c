"""Command-line interface: argparse subcommands, one module each (registered in :data:`COMMANDS`).
The only package that prints or configures logging. Exit codes: 0 ok, 2 bad usage / config /
input, 1 internal error, 130 interrupted."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import traceback

import neurosim
from neurosim.cli import (
    compare,
    evaluate,
    export,
    import_scalesim,
    pareto,
    report,
    run,
    sensitivity,
    show_config,
    sweep,
    synth,
    trace,
    validate,
)
from neurosim.cli.common import EXIT_INTERNAL, EXIT_OK, EXIT_USER
from neurosim.errors import NeurosimError, SourceError

#: Every subcommand module, in the order ``neurosim --help`` lists them (one line per command).
COMMANDS = (validate, show_config, import_scalesim, trace, synth, run, report, compare, export, evaluate, sweep,
            sensitivity, pareto)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    p = argparse.ArgumentParser(
        prog="neurosim", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Cycle-level simulator of accumulate-only integrate-and-fire hardware for spike-quantized\n"
        "LLMs, side by side with MAC baselines: replays layer traces on YAML chips and reports cycles,\n"
        "memory accesses and pJ energy breakdowns.",
        epilog="examples:\n"
        "  neurosim run traces/smollm2_wikitext_l1_t64 --hw hw_configs/acc_if_64x64.yaml "
        "--hw hw_configs/mac_64x64_os.yaml --out runs/demo --check\n"
        "  neurosim compare runs/demo/acc_if_64x64 runs/demo/mac_64x64_os --out runs/demo/compare\n"
        "  neurosim COMMAND --help    (options and defaults of one command)")
    p.add_argument("--version", action="version", version=f"neurosim {neurosim.__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for command in COMMANDS:
        command.register(sub)
    for command in sub.choices.values():  # every command's help shows its defaults
        command.formatter_class = _DefaultsFormatter
    return p


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default when it has one worth saying (not None, an empty list, or a
    flag's False), once."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "%(default)" in text or action.default in (None, [], False, argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


class _StderrHandler(logging.Handler):
    """Warnings of the library's ``neurosim`` loggers, one line each, on the current stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"neurosim: {record.getMessage()}", file=sys.stderr)


def _log_to_stderr() -> None:
    log = logging.getLogger("neurosim")
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        log.addHandler(_StderrHandler(logging.WARNING))
        log.propagate = False


def _interrupted(e: BaseException) -> bool:
    """Whether an exception is, or was caused by, Ctrl-C (numba kernels surface it as SystemError)."""
    seen = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = build_parser().parse_args(argv)
    _log_to_stderr()
    try:
        return args.func(args)
    except SourceError as e:
        for line in e.lines():
            print(line, file=sys.stderr)
        return EXIT_USER
    except NeurosimError as e:
        print(f"neurosim: {e}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print("neurosim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader (``| head``) stopped reading: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return EXIT_OK
    except OSError as e:  # the machine refused: disk full, permissions, a path that vanished
        if _interrupted(e):
            print("neurosim: interrupted", file=sys.stderr)
            return 130
        where = f"{e.filename}: " if e.filename else ""
        print(f"neurosim: {where}{e.strerror or e}", file=sys.stderr)
        return EXIT_USER
    except Exception as e:  # noqa: BLE001 - the one place that reports internal errors
        if _interrupted(e):
            print("neurosim: interrupted", file=sys.stderr)
            return 130
        traceback.print_exc()
        print("neurosim: internal error (a bug: please report it with the traceback above)", file=sys.stderr)
        return EXIT_INTERNAL


def _interrupted_after_the_work(signum, frame) -> None:
    """SIGINT once the command has finished (its results written, the process tearing down): one
    line and exit 130 now, never a traceback or a death by the signal."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os.write(2, b"neurosim: interrupted\n")
    os._exit(130)


def entry() -> None:
    """The ``neurosim`` command (and ``python -m neurosim``): :func:`main`, then exit with its code;
    a Ctrl-C after :func:`main` has returned exits 130 with one line (teardown joins worker threads
    and flushes output, and the signal must not kill the process or print a traceback there)."""
    try:
        code = main()
    except KeyboardInterrupt:  # arrived as main returned, outside its handler
        print("neurosim: interrupted", file=sys.stderr)
        code = 130
    signal.signal(signal.SIGINT, _interrupted_after_the_work)
    sys.exit(code)
