"""The ACC-vs-MAC study behind ``docs/acc_vs_mac.md``: every ACC config against every MAC config
on a trace, in the three energy views and under the configs' own cited energy table and the
SNN-paper convention (``snn-45nm-fp32``), plus the best pair's comparison and sensitivity.

Ratios are MAC / ACC (above 1: the ACC design uses less energy or fewer cycles).
"""

from __future__ import annotations

from pathlib import Path

from neurosim.api import simulate
from neurosim.energy.categories import VIEWS
from neurosim.results import Results
from neurosim.trace.reader import Trace, open_trace

CITED, CONVENTION = "cited", "snn-45nm-fp32"


def _runs(trace: Trace, configs: list[Path], table: str) -> dict[Path, Results]:
    overrides = [] if table == CITED else [f"technology={table}"]
    return {c: simulate(trace, c, overrides=overrides, verify=False) for c in configs}


def pair_table(trace: str | Path | Trace, accs: list[Path], macs: list[Path], tables=(CITED, CONVENTION)):
    """One row per (energy table, ACC config, MAC config): E_MAC/E_ACC in each view, the cycle
    ratio, and both totals. Also returns the runs, ``{(table, config): Results}``."""
    import pandas as pd

    tr = trace if isinstance(trace, Trace) else open_trace(trace)
    runs: dict[tuple[str, Path], Results] = {}
    rows = []
    for table in tables:
        got = _runs(tr, list(accs) + list(macs), table)
        runs.update({(table, c): r for c, r in got.items()})
        for a in accs:
            for m in macs:
                ra, rm = got[a], got[m]
                row = {"table": table, "acc": ra.config_name, "mac": rm.config_name}
                for v in VIEWS:
                    row[f"E_mac/E_acc {v}"] = rm.energy_views_pj[v] / ra.energy_views_pj[v]
                row["cyc_mac/cyc_acc"] = rm.total_cycles / ra.total_cycles
                row["E_acc (uJ)"] = ra.energy_pj["total"] / 1e6
                row["E_mac (uJ)"] = rm.energy_pj["total"] / 1e6
                rows.append(row)
    return pd.DataFrame(rows), runs


def best_pair(runs: dict[tuple[str, Path], Results], accs: list[Path], macs: list[Path]) -> tuple[Path, Path]:
    """The lowest-energy ACC config and the lowest-energy MAC config under the cited table."""
    def best(configs):
        return min(configs, key=lambda c: runs[(CITED, c)].energy_pj["total"])
    return best(accs), best(macs)
