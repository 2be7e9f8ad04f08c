"""neurosim: a cycle-level simulator of accumulate-only integrate-and-fire hardware for
spike-quantized LLMs, against MAC baselines."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("neurosim-hw")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
