"""The checks on a hardware spec that span several keys (one key's range is checked by its
field): a key that only makes sense with another, a board's size and groups."""

from __future__ import annotations

from neurosim.config.hw import AccIfSpec, HwSpec, MacSpec, many_core
from neurosim.config.system import MAX_BOARD_CORES
from neurosim.errors import Problem


def _board_problems(spec: HwSpec) -> list[Problem]:
    """A board needs resident weights, tensor-parallel groups that divide its chips, and at most
    :data:`~neurosim.config.system.MAX_BOARD_CORES` cores."""
    b = spec.board
    chips = b.chips[0] * b.chips[1]
    cores = chips * spec.system.mesh[0] * spec.system.mesh[1]
    out = []
    if chips > 1 and cores > MAX_BOARD_CORES:
        out.append(Problem("board.chips", f"{chips} chips of {spec.system.mesh[0]}x{spec.system.mesh[1]} cores are "
                           f"{cores:,} cores, more than the {MAX_BOARD_CORES:,} a board may have"))
    if chips > 1 and spec.system.weights != "resident":
        out.append(Problem("system.weights", f"must be resident on a board of {chips} chips"))
    if chips % b.tensor_parallel:
        out.append(Problem("board.tensor_parallel", f"must divide the board's {chips} chips, got {b.tensor_parallel}"))
    return out




def combination_problems(spec: HwSpec) -> list[Problem]:
    """Keys that are valid alone but not together."""
    out = []
    if isinstance(spec, AccIfSpec) and spec.array.lane_skew:
        a = spec.array
        for key, value, want in (("dispatch", a.dispatch, "time_stepped"), ("encoding", a.encoding, "count"),
                                 ("membrane_tokens", a.membrane_tokens, 0)):
            if value != want:
                out.append(Problem(f"array.{key}", f"must be {want} with array.lane_skew > 0, got {value}"))
    if isinstance(spec, MacSpec) and spec.array.column == "adder_tree" and spec.array.dataflow != "ws":
        out.append(Problem("array.dataflow", f"must be ws with array.column: adder_tree, got {spec.array.dataflow}"))
    if isinstance(spec, MacSpec) and spec.array.accumulator_tokens and spec.array.column != "adder_tree":
        out.append(Problem("array.accumulator_tokens", "must be 0 unless array.column is adder_tree"))
    if spec.system.mesh != (1, 1) and spec.system.weights != "resident":
        out.append(Problem("system.weights", f"must be resident on a {spec.system.mesh[0]}x{spec.system.mesh[1]} mesh "
                           "(weights streamed from DRAM are modelled for one core only)"))
    out += _board_problems(spec)
    if spec.dvfs.nominal_clock_mhz != "auto" and spec.clock_mhz > spec.dvfs.nominal_clock_mhz:
        out.append(Problem("clock_mhz", f"must be at most dvfs.nominal_clock_mhz ({spec.dvfs.nominal_clock_mhz:g}): a "
                           "faster clock needs a supply above the energy table's vdd_v"))
    if isinstance(spec, MacSpec) and spec.noc.encoding == "per_spike":
        out.append(Problem("noc.encoding", "per_spike is for design acc_if (a MAC core sends codes, not spikes)"))
    if spec.array.weight_buffers > 1:
        a = spec.array
        if isinstance(spec, MacSpec) and a.dataflow != "ws":
            out.append(Problem("array.weight_buffers", "must be 1 with array.dataflow: os (the weights stream)"))
        if isinstance(spec, AccIfSpec) and a.dispatch != "time_stepped":
            out.append(Problem("array.weight_buffers", "must be 1 with array.dispatch: event_queue (no PE weight "
                               "registers)"))
        if isinstance(spec, AccIfSpec) and a.lane_skew:
            out.append(Problem("array.weight_buffers", "must be 1 with array.lane_skew > 0"))
    if spec.vector_unit.operands == "counted" and many_core(spec):
        out.append(Problem("vector_unit.operands", "counted is the one-core model; a many-core chip moves the data "
                           "between ops on its mesh (chip_traffic): use auto or ignored"))
    return out
