"""Run the neurosim command with a pause at a known point, so that a test sends SIGINT exactly
there (no sleeps racing the simulator):

    python tests/interrupt_point.py MODULE:ATTR N neurosim-args...   # before the Nth call of ATTR
    python tests/interrupt_point.py atexit 0 neurosim-args...        # at teardown, after the work

At the point it prints ``PAUSED`` on stderr and sleeps until the signal arrives.
"""

import atexit
import importlib
import runpy
import signal
import sys
import time


def pause() -> None:
    print("PAUSED", file=sys.stderr, flush=True)
    time.sleep(3600)


def pause_before_call(target: str, n: int) -> None:
    module_name, _, path = target.partition(":")
    *owner_path, attr = path.split(".")
    owner = importlib.import_module(module_name)
    for name in owner_path:
        owner = getattr(owner, name)
    real, calls = getattr(owner, attr), [0]

    def wrapped(*args, **kwargs):
        calls[0] += 1
        if calls[0] == n:
            pause()
        return real(*args, **kwargs)

    setattr(owner, attr, wrapped)


if __name__ == "__main__":
    # Ctrl-C live, as at a terminal, even when the test runner was started with SIGINT ignored (a
    # background job of a non-interactive shell): the child would otherwise inherit SIG_IGN and sleep on
    signal.signal(signal.SIGINT, signal.default_int_handler)
    where, n, *args = sys.argv[1:]
    if where == "atexit":
        atexit.register(pause)
    else:
        pause_before_call(where, int(n))
    sys.argv = ["neurosim", *args]
    runpy.run_module("neurosim", run_name="__main__")
