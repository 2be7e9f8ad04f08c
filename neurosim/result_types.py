"""What one simulation returns: :class:`Results` (one trace on one design) and its per-op
:class:`LayerResult`, frozen, with their JSON round trip. The engine makes them; reports,
sweeps and the run directories (:mod:`neurosim.results`) read them."""

from __future__ import annotations

import functools
import json
import math
import types
import typing
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any

from neurosim.errors import Problem, SourceError
from neurosim.fsutil import short_repr
from neurosim.jsonutil import loads_json_strict

RESULTS_FORMAT = "neurosim-results/1"


class ResultsError(SourceError):
    """A results directory is missing or unreadable."""


@dataclass(frozen=True)
class LayerResult:
    """One op on one design."""

    name: str
    kind: str
    M: int
    K: int
    N: int
    tiling: dict[str, Any]
    cycles: int
    compute_cycles: int
    stall_cycles: dict[str, int]
    utilization: float  # busy fraction: compute cycles / cycles
    counters: dict[str, int]
    memory: dict[str, dict[str, int]]
    energy_pj: dict[str, float]
    check: dict[str, Any] | None = None
    accumulator_bits: int | None = None  # the MAC accumulator / IF membrane width this op ran with
    output_salient_ratio: float | None = None  # salient share of the written-back output codes
    energy_by_action_pj: dict[str, float] | None = None  # {"component.action" or "leakage": pJ}
    spatial_utilization: float | None = None  # useful array operations / (processing elements x cycles)
    phase: str = "prefill"  # prefill | decode (trace format v4)
    step: int = 0  # decode step
    repeat: int = 1  # identical instances this entry stands for (its numbers include all of them)
    vector_op: str | None = None  # kind "vector": the vector-unit op (kv_write: KV-cache store)
    kv_read_bits: int = 0  # DRAM bits of the KV cache read by an attention op
    kv_write_bits: int = 0  # DRAM bits written into the KV cache
    # the mapper (mapper.objective): objective, candidates scored, the chosen tiling and the
    # runner-up with their energy, cycles and score; None under mapper.objective dram (the tiler's
    # choice), for vector ops and in older results
    mapping: dict[str, Any] | None = None


@dataclass(frozen=True)
class Results:
    """A whole run: totals, per-layer results and provenance."""

    design: str
    config_name: str
    clock_mhz: float
    technology: str
    total_cycles: int
    compute_cycles: int
    stall_cycles: dict[str, int]
    latency_s: float
    energy_pj: dict[str, float]
    layers: tuple[LayerResult, ...]
    provenance: dict[str, Any]
    format: str = RESULTS_FORMAT
    energy_by_action_pj: dict[str, float] | None = None  # {"component.action" or "leakage": pJ}
    energy_by_category_pj: dict[str, float] | None = None  # neurosim.energy.categories.CATEGORIES
    energy_views_pj: dict[str, float] | None = None  # full, on_chip, compute_only
    phases: dict[str, dict[str, float]] | None = None  # per phase: cycles, seconds, energy_pj, tokens, ...
    # TTFT, decode tokens/s, J/token, KV-cache traffic and footprint; the batch, the decoder layers
    # covered and the model's (null: unknown) and whether the LM head is in
    inference: dict[str, float | None] | None = None
    energy_table_pj: dict[str, float] | None = None  # pJ per counted action of the chip as built (widest widths)
    static_power_mw: float | None = None  # leakage of the chip as built
    area_mm2: dict[str, float] | None = None  # by component, then logic, sram, total (docs/model.md, Area)
    # the overlapped schedule (schedule.overlap_ops): the phases' cycles summed, what TTFT and tokens/s
    # use and what compare, sweeps and the headline rank on; total_cycles / latency_s are the ops one
    # after another, each alone (what the per-op rows add up to). None in results written before 0.3.
    schedule_cycles: int | None = None
    schedule_latency_s: float | None = None
    # a many-core chip (system.mesh larger than [1, 1], or resident weights): the placement, the
    # cores' busy cycles, busy share and spatial utilisation (useful array operations / (processing
    # elements x the run's cycles), an item's shared evenly by its cores), the bits and energy per
    # link, where the KV cache lives, the weight load before the inference (on a board also its
    # chips, topology and chip-to-chip link traffic: docs/results.md); None on one core streaming
    # weights
    chip: dict[str, Any] | None = None
    # the clock and supply the run ran at against the nominal ones and the energy scale factors
    # (dvfs.nominal_clock_mhz; neurosim.energy.voltage); None in results written before 0.3
    operating_point: dict[str, float] | None = None

    @property
    def scheduled_cycles(self) -> int:
        """The run's latency in cycles as the README headlines it: the overlapped schedule
        (``total_cycles``, the ops one after another, for results that predate it)."""
        return self.schedule_cycles if self.schedule_cycles is not None else self.total_cycles

    @property
    def scheduled_latency_s(self) -> float:
        """:attr:`scheduled_cycles` in seconds."""
        return self.schedule_latency_s if self.schedule_latency_s is not None else self.latency_s

    def to_json(self) -> str:
        """The results.json text; a NaN or infinite number is a bug, never written out."""
        d = asdict(self)
        d["layers"] = [asdict(layer) for layer in self.layers]
        try:
            return json.dumps(d, indent=1, allow_nan=False) + "\n"
        except ValueError:
            raise ValueError(f"{self.config_name}: a result is NaN or infinite; refusing to write it") from None

    @classmethod
    def from_json(cls, text: str, source: str = "results.json") -> Results:
        """Parse and type-check results.json; every mismatch names the field."""
        try:
            d = loads_json_strict(text)
        except ValueError as e:
            raise ResultsError(source, Problem("", f"not a neurosim results file: {e}")) from None
        problems: list[Problem] = []
        if not isinstance(d, dict) or d.get("format") != RESULTS_FORMAT:
            got = short_repr(d.get("format")) if isinstance(d, dict) else "a non-object"
            raise ResultsError(source, Problem("format", f"must be {RESULTS_FORMAT!r}, got {got}"))
        _check_fields(cls, d, "", problems)
        layers = d.get("layers")
        if isinstance(layers, list):
            for i, layer in enumerate(layers):
                _check_fields(LayerResult, layer, f"layers[{i}].", problems)
        if not problems:
            _consistency(d, problems)
        if problems:
            raise ResultsError(source, problems[:10])
        d["layers"] = tuple(LayerResult(**layer) for layer in d["layers"])
        return cls(**{k: v for k, v in d.items() if k in {f.name for f in fields(cls)}})


def _energy_problem(energy: dict[str, float], where: str) -> Problem | None:
    """An energy breakdown must hold a positive total equal to the sum of its parts."""
    if "total" not in energy:
        return Problem(f"{where}energy_pj.total", "missing")
    parts = math.fsum(v for k, v in energy.items() if k != "total")
    total = energy["total"]
    if not 0 < total < 1e30 or not math.isclose(total, parts, rel_tol=1e-6, abs_tol=1e-6):
        return Problem(f"{where}energy_pj.total", f"{total!r} is not a positive total of its parts ({parts!r})")
    return None


def _consistency(d: dict, problems: list[Problem]) -> None:
    """Values a run cannot have: negative cycles, compute beyond the total, ops whose cycles do
    not add up to the run's, energies that are not the sum of their parts."""
    if (p := _energy_problem(d["energy_pj"], "")) is not None:
        problems.append(p)
    if not 0 <= d["compute_cycles"] <= d["total_cycles"]:
        problems.append(Problem("compute_cycles", f"{d['compute_cycles']} is not between 0 and total_cycles "
                                f"{d['total_cycles']}"))
    for i, layer in enumerate(d["layers"]):
        if not 0 <= layer["compute_cycles"] <= layer["cycles"]:
            problems.append(Problem(f"layers[{i}].cycles", "negative, or less than its compute cycles"))
        if (p := _energy_problem(layer["energy_pj"], f"layers[{i}].")) is not None:
            problems.append(p)
    if sum(layer["cycles"] for layer in d["layers"]) != d["total_cycles"]:
        problems.append(Problem("total_cycles", f"{d['total_cycles']} is not the sum of the layers' cycles"))


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@functools.cache
def _parts(tp: Any) -> tuple[Any, tuple]:
    return typing.get_origin(tp), typing.get_args(tp)


def _conforms(value: Any, tp: Any) -> bool:
    """Whether parsed JSON ``value`` has the shape of type hint ``tp``."""
    origin, args = _parts(tp)
    if tp is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, a) for a in args)
    if tp is type(None):
        return value is None
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if origin is dict:
        return isinstance(value, dict) and all(_conforms(v, args[1]) for v in value.values())
    if origin is tuple:
        return isinstance(value, list)
    return False


def _check_fields(cls: type, d: Any, prefix: str, problems: list[Problem]) -> None:
    if not isinstance(d, dict):
        problems.append(Problem(prefix.rstrip("."), "must be an object"))
        return
    hints = _hints(cls)
    for f in fields(cls):
        if f.name not in d:
            if f.default is MISSING:
                problems.append(Problem(prefix + f.name, "required field is missing"))
        elif not _conforms(d[f.name], hints[f.name]):
            problems.append(Problem(prefix + f.name, f"has the wrong type: {short_repr(d[f.name])}"))
