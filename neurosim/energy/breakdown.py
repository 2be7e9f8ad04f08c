"""Counts x table -> energy: a pure sum of products, per component."""

from __future__ import annotations

from collections.abc import Mapping

from neurosim.errors import NeurosimError

PJ_PER_MW_S = 1e9


def energy_breakdown(counters: Mapping[str, int], pj_per_action: Mapping[str, float]) -> dict[str, float]:
    """``{component: pJ}`` from ``{"component.action": count}``; an uncosted counter is an error."""
    missing = sorted(set(counters) - set(pj_per_action))
    if missing:
        raise NeurosimError(f"no energy for counters {missing}: the energy model and the components disagree")
    out: dict[str, float] = {}
    for name, count in counters.items():
        comp = name.split(".", 1)[0]
        out[comp] = out.get(comp, 0.0) + count * pj_per_action[name]
    return out


def energy_by_action(counters: Mapping[str, int], pj_per_action: Mapping[str, float]) -> dict[str, float]:
    """``{"component.action": pJ}``: each counted action times its energy."""
    return {name: count * pj_per_action[name] for name, count in counters.items()}


def with_total(parts: Mapping[str, float]) -> dict[str, float]:
    """The parts plus their ``total``."""
    return {**parts, "total": sum(parts.values())}
