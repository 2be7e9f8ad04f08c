"""How a tile's spikes reach the IF lanes: one module per dispatch scheme, chosen from the
config's ``array.dispatch`` and ``array.lane_skew`` by :func:`scheme_for`. Adding a scheme is one
module with a :class:`~neurosim.engine.dispatch.base.DispatchScheme` subclass registered by its
decorator, imported here (and its key in the config schema)."""

from __future__ import annotations

from neurosim.config.hw import AccArraySpec
from neurosim.engine.dispatch import decoupled, event_queue, time_stepped  # noqa: F401 (register)
from neurosim.engine.dispatch.base import SCHEMES, DispatchScheme, Walks


def scheme_name(array: AccArraySpec) -> str:
    """The registry key of an array's dispatch: its ``dispatch``, or ``decoupled`` for
    time-stepped lanes with a skew window."""
    return "decoupled" if array.dispatch == "time_stepped" and array.lane_skew else array.dispatch


def scheme_for(array: AccArraySpec) -> DispatchScheme:
    return SCHEMES.lookup(scheme_name(array))()


__all__ = ["SCHEMES", "DispatchScheme", "Walks", "scheme_for", "scheme_name"]
