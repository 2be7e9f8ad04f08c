"""Golden scenarios: a run's numbers reduced to a reviewable digest, stored as JSON and compared.

Integers (cycles, stalls by cause, counters, memory accesses and bits, tilings) compare exactly;
floats (energies, seconds, ratios) to a relative 1e-9. ``pytest --update-golden`` rewrites the
stored files instead of comparing; the diff of that rewrite is what a reviewer reads, and it goes
in its own commit saying why the numbers moved (README, Tests).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from neurosim.results import Results

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
REL = 1e-9
#: Runs with more layers than this keep per-layer cycles and per-group sums, not every layer's
#: counters (the whole-inference trace has 252 entries; sums still move with any one of them).
DETAIL_LAYERS = 60
_TOTALS = ("total_cycles", "compute_cycles", "stall_cycles", "latency_s", "energy_pj", "energy_by_action_pj",
           "energy_by_category_pj", "energy_views_pj", "phases", "inference", "energy_table_pj", "static_power_mw",
           "area_mm2", "schedule_cycles", "schedule_latency_s")
_LAYER_SUMS = ("cycles", "compute_cycles", "stall_cycles", "counters", "memory", "energy_by_action_pj",
               "kv_read_bits", "kv_write_bits")


def _add(into: dict, d: dict) -> None:
    for k, v in d.items():
        if isinstance(v, dict):
            _add(into.setdefault(k, {}), v)
        else:
            into[k] = into.get(k, 0) + v


def digest(r: Results) -> dict[str, Any]:
    """The numbers of a run that a physics change can move (no paths, versions or hashes)."""
    out: dict[str, Any] = {k: getattr(r, k) for k in _TOTALS}
    if r.chip is not None:  # a many-core chip: its placement, per-core and per-link figures
        out["chip"] = r.chip
    layers = [{k: v for k, v in asdict(layer).items() if k != "check"} for layer in r.layers]
    if len(layers) <= DETAIL_LAYERS:
        out["layers"] = layers
        return out
    out["layer_cycles"] = [[x["name"], x["cycles"], x["compute_cycles"]] for x in layers]
    groups: dict[str, dict] = {}
    for x in layers:
        g = groups.setdefault(f"{x['phase']}/{x['vector_op'] or x['kind']}", {"entries": 0})
        g["entries"] += 1
        _add(g, {k: x[k] for k in _LAYER_SUMS})
        g["tilings"] = sorted({json.dumps(x["tiling"], sort_keys=True)} | set(g.get("tilings", [])))
    out["layer_groups"] = groups
    return out


def _floats_equal(a: float, b: float) -> bool:
    return a == b or math.isclose(a, b, rel_tol=REL, abs_tol=1e-12)


def mismatches(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Every place where ``actual`` differs from ``expected``: integers and strings exactly, floats
    to a relative 1e-9, the same keys in every mapping."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = [f"{path}.{k}: missing" for k in expected.keys() - actual.keys()]
        out += [f"{path}.{k}: unexpected (= {actual[k]!r})" for k in actual.keys() - expected.keys()]
        for k in expected.keys() & actual.keys():
            out += mismatches(expected[k], actual[k], f"{path}.{k}")
        return out
    if isinstance(expected, list) and isinstance(actual, (list, tuple)):
        if len(expected) != len(actual):
            return [f"{path}: {len(actual)} entries, expected {len(expected)}"]
        return [m for i, (e, a) in enumerate(zip(expected, actual, strict=True)) for m in mismatches(e, a, f"{path}[{i}]")]
    if isinstance(expected, float) or isinstance(actual, float):
        if isinstance(expected, bool) or isinstance(actual, bool) or not _floats_equal(float(expected), float(actual)):
            return [f"{path}: {actual!r}, expected {expected!r}"]
        return []
    return [] if type(expected) is type(actual) and expected == actual else [f"{path}: {actual!r}, expected {expected!r}"]


def _normal(d: Any) -> Any:
    """The digest as JSON would give it back (tuples as lists, keys as strings)."""
    return json.loads(json.dumps(d))


def check_golden(name: str, r: Results, update: bool) -> None:
    """Compare ``r`` with ``tests/golden/<name>.json`` (or rewrite that file when ``update``)."""
    path = GOLDEN_DIR / f"{name}.json"
    actual = _normal(digest(r))
    if update:
        GOLDEN_DIR.mkdir(exist_ok=True)
        path.write_text(json.dumps(actual, indent=1, sort_keys=True) + "\n")
        return
    assert path.is_file(), f"{path} is missing: run pytest --update-golden and commit it with the reason"
    bad = mismatches(json.loads(path.read_text()), actual)
    assert not bad, f"{name}: {len(bad)} numbers moved (pytest --update-golden after a deliberate change):\n" + \
        "\n".join(sorted(bad)[:40])

