"""The ACC-vs-MAC sensitivity table of issue #11: E_MAC / E_ACC and cycles_MAC / cycles_ACC on one
trace for the shipped pair and one-at-a-time changes of the choices that move the answer.

    python benchmarks/acc_vs_mac_table.py [TRACE]            # default: the shipped real trace
    python benchmarks/acc_vs_mac_table.py --synth-7b         # synth --model llama2-7b --tokens 256 --layers 1
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from neurosim.api import simulate
from neurosim.trace.reader import open_trace

ROOT = Path(__file__).resolve().parent.parent
ACC, MAC = ROOT / "hw_configs/acc_if_64x64.yaml", ROOT / "hw_configs/mac_64x64_os.yaml"
OUTLIER = ROOT / "hw_configs/mac_64x64_os_outlier.yaml"
TREE, TREE_OUTLIER = ROOT / "hw_configs/mac_64x64_ws_tree.yaml", ROOT / "hw_configs/mac_64x64_ws_tree_outlier.yaml"

#: (label, MAC config, MAC overrides, ACC overrides)
ROWS = [
    ("shipped pair (MAC digit_passes)", MAC, [], []),
    ("MAC class wide: W4A8, one pass, 8-bit store (= mac_64x64_os_w4a8)", MAC, ["array.act_bits=8"], []),
    ("MAC class outlier_path: W4A4 + side store/MAC (= mac_64x64_os_outlier)", OUTLIER, [], []),
    ("MAC adder-tree columns, weight-stationary (= mac_64x64_ws_tree)", TREE, [], []),
    ("MAC adder-tree columns + outlier_path (= mac_64x64_ws_tree_outlier)", TREE_OUTLIER, [], []),
    ("MAC PE grid, weight-stationary, dual-ported output SRAM (mac_64x64_ws_tree as a grid)", TREE,
     ["array.column=systolic"], []),
    ("fixed widths: MAC accumulator 32, IF membrane 24 bits (pre-0.2)", MAC, ["array.acc_bits=32"],
     ["array.membrane_bits=24"]),
    ("static output scales on both (no two-phase row buffer)", MAC, ["requant.output_scale=static"],
     ["threshold.output_scale=static"]),
    ("SRAM leakage of high-performance cells (both)", MAC, ["leakage.sram_cell=hp"], ["leakage.sram_cell=hp"]),
    ("no logic static power (both; shipped: auto, Aladdin cells)", MAC, ["leakage.logic_static_mw=0"],
     ["leakage.logic_static_mw=0"]),
    ("50 mW logic static power (both)", MAC, ["leakage.logic_static_mw=50"], ["leakage.logic_static_mw=50"]),
    ("45 nm energy table (both)", MAC, ["technology=45nm"], ["technology=45nm"]),
    ("7 nm energy table (both)", MAC, ["technology=7nm"], ["technology=7nm"]),
    ("IF column per_spike (one membrane write per spike, pre-0.2)", MAC, [], ["array.column=per_spike"]),
    ("IF event_queue dispatch (weight row per nonzero code)", MAC, [], ["array.dispatch=event_queue"]),
    ("IF event_queue dispatch, weight row per spike (pre-0.2)", MAC, [],
     ["array.dispatch=event_queue", "array.weight_reads=per_spike"]),
    ("IF bitplane encoding", MAC, [], ["array.encoding=bitplane"]),
    ("IF output-stationary membranes, 64 tokens", MAC, [], ["array.membrane_tokens=64"]),
    ("IF output-stationary membranes, 16 tokens", MAC, [], ["array.membrane_tokens=16"]),
    ("IF salient side lanes: 8", MAC, [], ["array.salient_lanes=8"]),
    ("IF salient side lanes: 16", MAC, [], ["array.salient_lanes=16"]),
    ("IF salient side lanes: 16, vs MAC outlier_path", OUTLIER, [], ["array.salient_lanes=16"]),
    ("IF decoupled lanes: FIFOs, skew window 4", MAC, [], ["array.lane_skew=4"]),
    ("IF decoupled lanes: FIFOs, skew window 16", MAC, [], ["array.lane_skew=16"]),
    ("IF side lanes 8 + skew window 4 (= acc_if_64x64_decoupled)", MAC, [],
     ["array.salient_lanes=8", "array.lane_skew=4"]),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace", nargs="?", default=str(ROOT / "traces/smollm2_wikitext_l1_t64"))
    ap.add_argument("--synth-7b", action="store_true", help="use a llama2-7b-shaped layer of 256 tokens")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.trace
        if args.synth_7b:
            from neurosim.trace import synth

            model = synth.BUILTIN_MODELS["llama2-7b"]
            path = synth.write_synthetic(Path(tmp) / "t", synth.llm_gemms(model, 256, 1), model_name=model.name,
                                         seed=0, weights=False)
        trace = open_trace(path)
        print(f"trace {path}: {len(trace.ops)} ops")
        print(f"{'what was changed (everything else as shipped)':<66} {'E_MAC/E_ACC':>11} {'cyc_MAC/cyc_ACC':>15}")
        t0 = time.perf_counter()
        for label, mac, mac_set, acc_set in ROWS:
            a = simulate(trace, ACC, overrides=acc_set, verify=False)
            m = simulate(trace, mac, overrides=mac_set, verify=False)
            print(f"{label:<66} {m.energy_pj['total'] / a.energy_pj['total']:>11.2f} "
                  f"{m.total_cycles / a.total_cycles:>15.2f}")
        print(f"({time.perf_counter() - t0:.1f} s)")
        print()
        print("every shipped ACC config against every shipped MAC config (E_MAC/E_ACC, cyc_MAC/cyc_ACC):")
        accs = sorted(p for p in (ROOT / "hw_configs").glob("acc_if_*.yaml"))
        macs = sorted(p for p in (ROOT / "hw_configs").glob("mac_*.yaml"))
        runs = {p: simulate(trace, p, verify=False) for p in accs + macs}
        print(f"{'':<22}" + "".join(f"{m.stem:>26}" for m in macs))
        for a in accs:
            cells = "".join(f"{runs[m].energy_pj['total'] / runs[a].energy_pj['total']:>17.2f} "
                            f"({runs[m].total_cycles / runs[a].total_cycles:>5.2f})" for m in macs)
            print(f"{a.stem:<22}{cells}")


if __name__ == "__main__":
    main()
