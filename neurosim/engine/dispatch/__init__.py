"""How a tile's spikes reach the IF lanes: one module per dispatch scheme, chosen from the
config's ``array.dispatch`` and ``array.lane_skew`` by :func:`scheme_for`. Adding a scheme is one
module with a :class:`~neurosim.engine.dispatch.base.DispatchScheme` subclass plus one line in
:data:`SCHEMES` (and its key in the config schema)."""

from __future__ import annotations

from neurosim.config.hw import AccArraySpec
from neurosim.engine.dispatch.base import DispatchScheme, Walk
from neurosim.engine.dispatch.decoupled import Decoupled
from neurosim.engine.dispatch.event_queue import EventQueue
from neurosim.engine.dispatch.time_stepped import TimeStepped

SCHEMES: dict[str, type[DispatchScheme]] = {
    "time_stepped": TimeStepped,
    "event_queue": EventQueue,
    "decoupled": Decoupled,
}


def scheme_name(array: AccArraySpec) -> str:
    """The registry key of an array's dispatch: its ``dispatch``, or ``decoupled`` for
    time-stepped lanes with a skew window."""
    return "decoupled" if array.dispatch == "time_stepped" and array.lane_skew else array.dispatch


def scheme_for(array: AccArraySpec) -> DispatchScheme:
    return SCHEMES[scheme_name(array)]()


__all__ = ["SCHEMES", "DispatchScheme", "Walk", "scheme_for", "scheme_name"]
