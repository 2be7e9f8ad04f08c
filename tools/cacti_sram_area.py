"""Regenerate the SRAM area points of the energy tables with CACTI 7.

The energy tables' SRAM *area* fit (``area_sram_a0``, ``area_sram_size_exp``,
``area_sram_width_exp``) comes from CACTI 7 run with the configuration of the SRAM *energy* runs
(energy.md Appendix A: scratch RAM, UCA, one bank, one RW port, itrs-hp cell and periphery,
350 K, objective 0:0:0:100:0, deviate 20:100000:..., Global_30 wires, conservative projection).
Those settings reproduce the energy runs (45 nm, 32 KiB x 64 b: 14.9 pJ per read, energy.md V18).

CACTI is not a dependency of neurosim. To rerun, build it from any CACTI 7 source, e.g. the
``hwcomponents-cacti`` 1.0.40 sdist on PyPI (``hwcomponents_cacti/cacti``, ``make``), then::

    python tools/cacti_sram_area.py --cacti PATH/TO/cacti --out neurosim/energy_tables/sram_area_cacti.csv
    python tools/cacti_sram_area.py --fit neurosim/energy_tables/sram_area_cacti.csv

The first command writes one row per (node, size, width): CACTI's data-array area in mm^2 (the
whole bank: cells, decoders, sense amplifiers, H-tree). The second prints the least-squares fit
``A = (a_kib * S + a_bit * W) * ports^e`` per node (see :func:`fit`), the numbers the tables
hold.
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

NODES_UM = (0.045, 0.028, 0.022)
SIZES_KIB = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
WIDTHS_BITS = (32, 64, 128, 256)
PORTS = (1, 2)

CONFIG = """-size (bytes) {size_bytes}
-block size (bytes) {block_bytes}
-associativity 1
-read-write port {ports}
-exclusive read port 0
-exclusive write port 0
-single ended read ports 0
-UCA bank count 1
-technology (u) {node_um}
-page size (bits) 8192
-burst length 8
-internal prefetch width 8
-Data array cell type - "itrs-hp"
-Data array peripheral type - "itrs-hp"
-Tag array cell type - "itrs-hp"
-Tag array peripheral type - "itrs-hp"
-output/input bus width {width_bits}
-operating temperature (K) 350
-cache type "ram"
-tag size (b) "default"
-access mode (normal, sequential, fast) - "normal"
-design objective (weight delay, dynamic power, leakage power, cycle time, area) 0:0:0:100:0
-deviate (delay, dynamic power, leakage power, cycle time, area) 20:100000:100000:100000:100000
-NUCAdesign objective (weight delay, dynamic power, leakage power, cycle time, area) 100:100:0:0:100
-NUCAdeviate (delay, dynamic power, leakage power, cycle time, area) 10:10000:10000:10000:10000
-Optimize ED or ED^2 (ED, ED^2, NONE): "ED^2"
-Cache model (NUCA, UCA)  - "UCA"
-NUCA bank count 0
-Wire signaling (fullswing, lowswing, default) - "Global_30"
-Wire inside mat - "semi-global"
-Wire outside mat - "semi-global"
-Interconnect projection - "conservative"
-Core count 8
-Cache level (L2/L3) - "L3"
-Add ECC - "false"
-Print level (DETAILED, CONCISE) - "DETAILED"
-Print input parameters - "false"
-Force cache config - "false"
-Ndwl 1
-Ndbl 1
-Nspd 0
-Ndcm 1
-Ndsam1 0
-Ndsam2 0
-Array Power Gating - "false"
-WL Power Gating - "false"
-CL Power Gating - "false"
-Bitline floating - "false"
-Interconnect Power Gating - "false"
# CACTI reads its off-chip IO block even for a RAM; these are its sample values (unused here).
-Power Gating Performance Loss 0.01
-dram_type "DDR3"
-io state "WRITE"
-addr_timing 1.0
-mem_density 4 Gb
-bus_freq 800 MHz
-duty_cycle 1.0
-activity_dq 1.0
-activity_ca 0.5
-num_dq 72
-num_dqs 18
-num_ca 25
-num_clk  2
-num_mem_dq 2
-mem_data_width 8
-rtt_value 10000
-ron_value 34
-tflight_value
-num_bobs 1
-capacity 80
-num_channels_per_bob 1
-first metric "Cost"
-second metric "Bandwidth"
-third metric "Energy"
-DIMM model "ALL"
-mirror_in_bob "F"
"""

_AREA = re.compile(r"Data array: Area \(mm2\):\s*([0-9.eE+-]+)")
_READ = re.compile(r"Total dynamic read energy per access \(nJ\):\s*([0-9.eE+-]+)")


def run_point(cacti: Path, node_um: float, size_kib: int, width_bits: int,
              ports: int = 1) -> tuple[float, float] | None:
    """CACTI's data-array area (mm^2) and read energy (pJ) for one bank with ``ports`` read/write
    ports, or None if CACTI finds no valid organisation."""
    text = CONFIG.format(size_bytes=size_kib * 1024, block_bytes=width_bits // 8, node_um=node_um,
                         width_bits=width_bits, ports=ports)
    with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as f:
        f.write(text)
    try:
        out = subprocess.run([str(cacti), "-infile", f.name], capture_output=True, text=True,
                             cwd=cacti.parent, timeout=600).stdout
    finally:
        Path(f.name).unlink()
    area, read = _AREA.search(out), _READ.search(out)
    if area is None or read is None:
        return None
    return float(area.group(1)), float(read.group(1)) * 1000


def sweep(cacti: Path, out: Path) -> None:
    with out.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["node_nm", "ports", "size_kib", "width_bits", "area_mm2", "read_pj"])
        for node in NODES_UM:
            for ports in PORTS:
                for s in SIZES_KIB:
                    for wb in WIDTHS_BITS:
                        r = run_point(cacti, node, s, wb, ports)
                        if r is not None:
                            w.writerow([round(node * 1000), ports, s, wb, f"{r[0]:.6g}", f"{r[1]:.4g}"])


def fit(points: Path) -> dict[int, tuple[float, float, float, float, float]]:
    """Per node: mm^2 per KiB, mm^2 per bit of word width, the ports exponent, and the worst and
    rms relative error of the single-port fit.

    Single-port banks are fitted by ``A = a_kib * S + a_bit * W`` (least squares on relative
    error): cells scale with capacity, sense amplifiers and drivers with the word width. A
    ``p``-port bank is ``p^e`` times the single-port bank, ``e = log2`` of the median two-port /
    one-port area ratio over the points both organisations exist for.
    """
    rows = list(csv.DictReader(points.open()))
    out = {}
    for node in sorted({int(r["node_nm"]) for r in rows}, reverse=True):
        one = {(float(r["size_kib"]), float(r["width_bits"])): float(r["area_mm2"])
               for r in rows if int(r["node_nm"]) == node and r["ports"] == "1"}
        two = {(float(r["size_kib"]), float(r["width_bits"])): float(r["area_mm2"])
               for r in rows if int(r["node_nm"]) == node and r["ports"] == "2"}
        keys = sorted(one)
        a = np.array([one[k] for k in keys])
        x = np.array(keys) / a[:, None]
        coef, *_ = np.linalg.lstsq(x, np.ones_like(a), rcond=None)
        rel = x @ coef - 1
        ratio = np.median([two[k] / one[k] for k in keys if k in two])
        out[node] = (float(coef[0]), float(coef[1]), float(np.log2(ratio)), float(np.abs(rel).max()),
                     float(np.sqrt((rel ** 2).mean())))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cacti", type=Path, help="a built CACTI 7 binary")
    p.add_argument("--out", type=Path, help="CSV of CACTI points to write")
    p.add_argument("--fit", type=Path, help="CSV of CACTI points to fit")
    args = p.parse_args()
    if args.cacti and args.out:
        sweep(args.cacti.resolve(), args.out)
    if args.fit:
        for node, (kib, bit, ports_exp, worst, rms) in fit(args.fit).items():
            print(f"{node} nm: {kib:.4g} mm^2/KiB + {bit:.4g} mm^2/bit of width, x ports^{ports_exp:.3f}; "
                  f"fit error worst {worst:.0%}, rms {rms:.0%}")


if __name__ == "__main__":
    main()
