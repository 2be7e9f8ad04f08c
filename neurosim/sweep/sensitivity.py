"""One-at-a-time sensitivity of an A-versus-B answer: for each parameter, each of its values is
applied to both designs (to each design that has the key) with everything else at the configs'
values, and the B/A energy and cycle ratios are recorded (B over A: the project's one ratio
direction, docs/model.md; with the IF design as A, MAC / ACC). Runs on the sweep machinery: points are
stored as they finish (re-running resumes) on local processes or Dask.

A parameter is ``KEY=V1,V2,...``; ``KEY`` may name alternatives ``k1|k2`` for a setting that has
a different key on each design (the first one a design has is used), e.g.
``array.acc_bits|array.membrane_bits=24,32``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from neurosim.config.hw import DESIGNS
from neurosim.config.loader import load_hw_config
from neurosim.config.schema import iter_keys
from neurosim.errors import ConfigError, UsageError
from neurosim.fsutil import check_output_dir
from neurosim.sweep.grid import parse_axis, validate_points
from neurosim.sweep.runner import STATUS_OK, execute, tasks_for
from neurosim.sweep.store import Store
from neurosim.trace.reader import validate_trace

#: The default parameter set: the modelling choices that move the ACC-vs-MAC answer most.
DEFAULT_PARAMS = (
    "leakage.logic_static_mw=0,50",
    "leakage.sram_cell=lstp,hp",
    "power.clock_gating=register,none",
    "dram.power_down=true,false",
    "mapper.objective=dram,energy",
    "vector_unit.operands=ignored",
    "dram.type=HBM2,DDR4",
    "interconnect.wire_length_mm=0.5,2",
    "array.acc_bits|array.membrane_bits=24,32",
    "array.dispatch=time_stepped,event_queue",
    "array.salient_lanes=0,16",
    "array.salient_merge|outlier_unit.merge=per_entry",
    "array.weight_buffers=1,2",
    "array.zero_gating=false,true",
    "array.membrane_tokens|array.accumulator_tokens=0,16",
)


@dataclass(frozen=True)
class Setting:
    """One parameter value: the override each design gets (None: the design has no such key, or
    the value is not valid on it, with the reason)."""

    param: str
    value: object
    overrides: tuple[tuple[str, object] | None, tuple[str, object] | None]
    notes: tuple[str, ...]


def _keys(design: str) -> set[str]:
    return {path for path, _, _ in iter_keys(DESIGNS[design])}


def _task(path: Path, override: tuple[str, object] | None, trace: str) -> dict:
    """The sweep task of one config with at most one override."""
    return tasks_for(validate_points(path, [(override,) if override else ()]), [trace], False, "sensitivity")[0]


def settings(configs: tuple[Path, Path], params: list[str]) -> list[Setting]:
    """Every (parameter, value) with the override each design gets."""
    designs = [load_hw_config(p).design for p in configs]
    out = []
    for text in params:
        key, sep, rest = text.partition("=")
        alternatives = [k.strip() for k in key.split("|")]
        if not sep or not all(alternatives):
            raise UsageError(f"--param {text[:80]!r}: expected KEY=V1,V2,... (KEY may be k1|k2)")
        _, values = parse_axis(f"{alternatives[0]}={rest}", "--param")
        chosen = [next((k for k in alternatives if k in _keys(d)), None) for d in designs]
        if chosen == [None, None]:
            raise UsageError(f"--param {text[:80]!r}: neither design has the key {key}")
        for v in values:
            ovs, notes = [], []
            for path, k in zip(configs, chosen, strict=True):
                if k is None:
                    ovs.append(None)
                    notes.append(f"{path.name}: no key {key}")
                    continue
                try:
                    load_hw_config(path, [(k, v)])
                    ovs.append((k, v))
                except ConfigError as e:
                    ovs.append(None)
                    notes.append(f"{path.name}: {k}={v} not applied ({e.problems[0]})")
            out.append(Setting(key, v, tuple(ovs), tuple(notes)))
    return out


def sensitivity(configs: tuple[str | Path, str | Path], trace: str | Path, out_dir: str | Path, *,
                params: list[str] | None = None, jobs: int = 1, dask_local: int | None = None,
                scheduler: str | None = None, progress=None, force: bool = False):
    """Run (or resume) the sensitivity study; returns the table as a pandas DataFrame with one
    row per (parameter, value) plus the baseline, ratios B/A (:func:`neurosim.api.sensitivity`
    also draws the tornado plots)."""
    import pandas as pd

    a_path, b_path = Path(configs[0]), Path(configs[1])
    setts = settings((a_path, b_path), list(params) if params else list(DEFAULT_PARAMS))
    trace = str(Path(trace))
    validate_trace(trace)
    check_output_dir(out_dir, force, evidence=("points",))
    tasks, plan = [], []
    for param, value, overrides, notes in [("(baseline)", "", (None, None), ()),
                                           *((s.param, s.value, s.overrides, s.notes) for s in setts)]:
        pair = [_task(p, o, trace) for p, o in zip((a_path, b_path), overrides, strict=True)]
        tasks += pair
        plan.append((param, value, pair[0]["key"], pair[1]["key"], notes))
    store = Store(out_dir)
    records = execute(tasks, store, jobs=jobs, dask_local=dask_local, scheduler=scheduler, progress=progress)
    rows = []
    for param, value, ka, kb, notes in plan:
        ra, rb = records[ka], records[kb]
        row = {"param": param, "value": str(value), "a": ra.get("config_name", a_path.stem),
               "b": rb.get("config_name", b_path.stem), "notes": "; ".join(notes)}
        if ra["status"] != STATUS_OK or rb["status"] != STATUS_OK:
            bad = ra if ra.get("error") else rb
            row.update(status="failed", error_type=bad.get("error_type", ""), error=bad.get("error"))
        else:
            ea, eb = ra["energy_pj"]["total"], rb["energy_pj"]["total"]
            row.update(status=STATUS_OK, energy_a_pj=ea, energy_b_pj=eb, energy_ratio_b_over_a=eb / ea,
                       cycles_a=ra["schedule_cycles"], cycles_b=rb["schedule_cycles"],
                       cycle_ratio_b_over_a=rb["schedule_cycles"] / ra["schedule_cycles"])
        rows.append(row)
    df = pd.DataFrame(rows)
    store.write_table(rows, name="sensitivity")
    return df
