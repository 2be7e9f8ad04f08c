"""Energy categories and views, from the counted actions of a run.

Every counted action (``component.action``) and the static ``leakage`` falls into one category:
``compute`` (the synaptic arithmetic: accumulates, MACs, the adds that combine partial results),
``registers`` (register and FIFO bits written, event-queue pushes and pops), ``sram`` (reads and
writes of each on-chip SRAM), ``interconnect`` (inside a core), ``noc`` (the mesh between the cores
of a many-core chip: link and router bits), ``dram`` (transfers and the device's background power),
``static`` (leakage), ``clock`` (the clock tree: :mod:`neurosim.energy.time_power`), ``control``
(the threshold, dequantization and requantization units) and ``vector`` (the vector unit: norms,
RoPE, softmax, activation functions, quantizers, with its register file). The same categories, in this order,
name the components of every comparison and colour every plot.

Views of one run's energy, from the same counters:

- ``full``: everything;
- ``on_chip``: everything but DRAM;
- ``compute_only``: the ``compute`` category alone, the convention of most SNN papers (synaptic
  operations x energy per operation).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

CATEGORIES = ("compute", "registers", "sram", "interconnect", "noc", "dram", "static", "clock", "control",
              "vector")
VIEWS = ("full", "on_chip", "compute_only")

#: The arithmetic of the arrays and their side units.
ARITHMETIC = frozenset({
    "array.accumulate", "array.tree_add", "salient_lanes.accumulate", "salient_lanes.merge_add",
    "mac_array.mac", "mac_array.mac_extra_pass", "mac_array.digit_add", "mac_array.tree_add", "mac_array.accumulate",
    "outlier_unit.mac", "outlier_unit.merge_add",
    "salient_shifter.bit_stages",
})
CONTROL_UNITS = frozenset({"threshold", "dequant", "requant"})


def category(action: str) -> str:
    """The category of a counted action (or ``leakage``, ``clock``)."""
    if action == "leakage":
        return "static"
    if action == "clock":
        return "clock"
    component, _, what = action.partition(".")
    if action in ARITHMETIC:
        return "compute"
    if component in ("dram", "interconnect", "noc"):
        return component
    if component in CONTROL_UNITS:
        return "control"
    if component == "vector_unit":
        return "vector"
    if what in ("read", "write"):
        return "sram"
    return "registers"


def group(action: str) -> str:
    """The waterfall step of an action: its category, with each SRAM on its own step."""
    c = category(action)
    return action.partition(".")[0] if c == "sram" else c


def group_category(name: str) -> str:
    """The category of a :func:`group` (an SRAM's name is in ``sram``)."""
    return name if name in CATEGORIES else "sram"


def by_category(by_action: Mapping[str, float]) -> dict[str, float]:
    """``{category: pJ}`` in :data:`CATEGORIES` order (every category present)."""
    out = dict.fromkeys(CATEGORIES, 0.0)
    for action, pj in by_action.items():
        out[category(action)] += pj
    return out


def views(by_action: Mapping[str, float]) -> dict[str, float]:
    """``{view: pJ}`` for :data:`VIEWS`."""
    cats = by_category(by_action)
    return {"full": math.fsum(cats.values()),
            "on_chip": math.fsum(v for c, v in cats.items() if c != "dram"),
            "compute_only": cats["compute"]}
