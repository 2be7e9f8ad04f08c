"""Render every shipped energy table, entry by entry with its value, status and source, as the
Markdown of ``docs/energy_sources.md`` (a test keeps the file current:
``python -m neurosim.energy.sources_doc`` prints it)."""

from __future__ import annotations

from pathlib import Path

import yaml

TABLES = Path(__file__).resolve().parent.parent / "energy_tables"

STATUS = {
    "V": "confirmed in a primary artifact read in full (a tool's source or data file, a paper's abstract)",
    "S": "seen only in secondary transcriptions that agree; the primary could not be read",
    "D": "derived: by a stated formula, or from CACTI-7 runs",
    "U": "unverified: recalled or from one non-authoritative place; check before citing",
}


#: The primary works the tables' sources name, in full.
REFERENCES = (
    "**Horowitz**: M. Horowitz, \"Computing's energy problem (and what we can do about it)\", ISSCC 2014, "
    "pp. 10-14, doi:10.1109/ISSCC.2014.6757323 (45 nm arithmetic and memory energies).",
    "**Stillmaker & Baas**: A. Stillmaker, B. Baas, \"Scaling equations for the accurate prediction of CMOS "
    "device performance from 180 nm to 7 nm\", Integration 58 (2017) 74-81, doi:10.1016/j.vlsi.2017.02.002 "
    "(energy and area factors between nodes; the area table as transcribed in Accelergy's hwcomponents, "
    "`hwcomponents/scaling/techscaling.py`).",
    "**Aladdin**: Y. S. Shao, B. Reagen, G.-Y. Wei, D. Brooks, \"Aladdin: a pre-RTL, power-performance "
    "accelerator simulator enabling large design space exploration of customized architectures\", ISCA 2014, "
    "pp. 97-108, doi:10.1109/ISCA.2014.6853196; cell data in `common/power_func.h` of github.com/harvard-acc/ALADDIN "
    "(TSMC 40 nm, Design Compiler: energy, leakage and area of registers, adders, multipliers and shifters).",
    "**CACTI 7**: R. Balasubramonian, A. B. Kahng, N. Muralimanohar, A. Shafiee, V. Srinivas, \"CACTI 7: new "
    "tools for interconnect exploration in innovative off-chip memories\", ACM TACO 14(2), 2017, "
    "doi:10.1145/3085572 (SRAM energy, leakage, area; wires). Runs: energy.md Appendix A and "
    "`tools/cacti_sram_area.py` (source from the hwcomponents-cacti 1.0.40 sdist).",
    "**Accelergy / hwcomponents**: Y. N. Wu, J. S. Emer, V. Sze, \"Accelergy: an architecture-level energy "
    "estimation methodology for accelerator designs\", ICCAD 2019; the `hwcomponents_cacti.py` DRAM energies.",
    "**O'Connor et al.**: M. O'Connor et al., \"Fine-grained DRAM: energy-efficient DRAM for extreme bandwidth "
    "systems\", MICRO-50, 2017 (HBM2 energy per bit).",
    "**DRAMPower memspecs**: K. Chandrasekar et al., DRAMPower (github.com/tukl-msd/DRAMPower), `memspecs/`"
    " MICRON_6Gb_LPDDR4-3200_32bit_A and MICRON_4Gb_DDR4-2400_8bit_A: the Micron datasheets' IDD currents and"
    " supply voltages (the DRAM background power: standby, power-down, refresh).",
    "**Samsung GDDR6**: datasheet Table 82, IDD specifications at 1.35 V, x32 mode (a secondary copy; the GDDR6"
    " background power).",
    "**Sakurai & Newton**: T. Sakurai, A. R. Newton, \"Alpha-power law MOSFET model and its applications to CMOS"
    " inverter delay and other formulas\", IEEE JSSC 25(2), 1990, pp. 584-594 (the voltage-frequency relation of"
    " dvfs).",
    "**Jouppi et al. 2021**: N. P. Jouppi et al., \"Ten lessons from three generations shaped Google's TPUv4i\", "
    "ISCA 2021, Table 2 (7 nm arithmetic, DRAM energies).",
    "**I-BERT**: S. Kim, A. Gholami, Z. Yao, M. W. Mahoney, K. Keutzer, \"I-BERT: integer-only BERT "
    "quantization\", ICML 2021 (integer exp, GELU/sigmoid and square root: the vector unit's ops per element).",
    "**Park et al. DAC 2012**: S. Park, T. Krishna, C.-H. O. Chen, B. Daya, A. P. Chandrakasan, L.-S. Peh, "
    "\"Approaching the theoretical limits of a mesh NoC with a 16-node chip prototype in 45nm SOI\", DAC 2012, "
    "doi:10.1145/2228360.2228431 (4x4 mesh, 1 GHz, 892 Gb/s delivered at 531.4 mW: the NoC router energy).",
    "**Eyeriss**: Y.-H. Chen, J. Emer, V. Sze, \"Eyeriss: a spatial architecture for energy-efficient dataflow "
    "for convolutional neural networks\", ISCA 2016 (an array/NoC hop at 2x a 16-bit MAC: a cross-check).",
    "**Loihi**: M. Davies et al., \"Loihi: a neuromorphic manycore processor with on-chip learning\", IEEE "
    "Micro 38(1), 2018, doi:10.1109/MM.2018.112130359 (128 cores, 16 MB of synaptic memory: the many-core "
    "configs' core memory).",
)


def render() -> str:
    """The page: the status tags, then one table per node."""
    out = ["# Energy sources", "",
           "Every number of every shipped energy table (`neurosim/energy_tables/`), with its status and its "
           "source as the table states it. `energy.md` sections (a.1, b.3, ...) are sections of the project's "
           "[research notes on energy](energy_notes.md), kept in this repository; the primary works are listed "
           "under [References](#references).", "", "Status tags:", ""]
    out += [f"- **{k}**: {v}" for k, v in STATUS.items()]
    for path in sorted(TABLES.glob("*.yaml")):
        t = yaml.safe_load(path.read_text())
        out += ["", f"## {t['technology']} (`{path.name}`)", "", "| entry | value | unit | status | source |",
                "|---|---|---|---|---|"]
        for name, e in t["entries"].items():
            src = str(e.get("source", "")).replace("|", "\\|")
            out.append(f"| `{name}` | {e['value']:g} | {e.get('unit', '')} | {e.get('status', '')} | {src} |")
        if t.get("sram_points"):
            out += ["", "SRAM points the fit is checked against (pJ per access):", "",
                    "| size (KiB) | width (bits) | read | write |", "|---|---|---|---|"]
            out += [f"| {p['size_kib']:g} | {p['width_bits']} | {p['read_pj']:g} | {p['write_pj']:g} |"
                    for p in t["sram_points"]]
    out += ["", "## References", ""] + [f"- {r}" for r in REFERENCES]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(render(), end="")
