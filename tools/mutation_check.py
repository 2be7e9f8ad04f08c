"""Do the tests notice a wrong number? Apply one-line physics mutations to ``neurosim/`` one at a
time, run a test selection on each, and list the mutations that survive (the tests stayed green).

    python tools/mutation_check.py                      # every mutation below, on the physics tests
    python tools/mutation_check.py --tests tests/test_golden.py --only dram
    python tools/mutation_check.py --random 50 --seed 1  # operator mutants drawn at random instead

Each mutation is an exact text replacement that must match once; the file is restored after every
run (also on Ctrl-C). No mutation library is used: mutmut and cosmic-ray mutate every operator and
take hours on this package (numba recompiles each kernel per mutant); these are the reviewer-style
one-line changes to the modelling lines, each of which a test must kill. ``--random N`` draws N
operator mutants (``+``/``-``, comparisons, ``max``/``min``, an integer constant off by one) from the
code tokens of the physics packages; some of those are equivalent (they change no result), so a
random survivor is a lead to read, not a verdict.
"""

from __future__ import annotations

import argparse
import io
import random
import subprocess
import sys
import time
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HANG_S = 900  # a mutant's test run longer than this is a hang (the whole selection takes about a minute)
PHYSICS_TESTS = ["tests/test_golden.py", "tests/test_golden_tiny.py", "tests/test_engine.py", "tests/test_inference.py",
                 "tests/test_area.py", "tests/test_energy_table.py", "tests/test_noc.py", "tests/test_mapping.py",
                 "tests/test_chip.py", "tests/test_board.py"]

#: (file under neurosim/, text, replacement, what it models wrongly)
MUTATIONS: list[tuple[str, str, str, str]] = [
    ("hw/dram.py", "return self.latency_cycles + int(", "return int(", "DRAM transfer without its latency"),
    ("hw/dram.py", "ceil_div(bits, burst) * burst", "bits", "DRAM moves bits, not whole bursts"),
    ("hw/sram.py", "self.spec.banks * self.spec.ports * self.spec.width_bits", "self.spec.banks * self.spec.width_bits",
     "SRAM bandwidth ignores ports"),
    ("hw/sram.py", "self.reads += transfers * self.words(bits_each)", "self.reads += self.words(bits_each)",
     "SRAM read counts one transfer"),
    ("engine/acc_if.py", '"array.accumulate": sc.int_add_pj(table, a.membrane_bits)',
     '"array.accumulate": sc.int_add_pj(table, a.weight_bits)', "IF accumulate priced at the weight width"),
    ("hw/threshold_unit.py", "            self.setup += tokens * neurons", "            self.setup += neurons",
     "per-token threshold setup counted once per neuron"),
    ("engine/mac_schemes/grid.py", '"digit_add": cost.extra_pass_outputs,', '"digit_add": 0,',
     "MAC digit-pass combining adds never counted"),
    ("engine/mac_schemes/os_grid.py", "cost.stall_weight += p * max(0, wgt.cycles(w_b) - fold)",
     "cost.stall_weight += 0", "MAC weight-SRAM stall dropped"),
    ("engine/pipeline.py", "compute_cycles: np.ndarray, dram_cycles: Callable[[int], int], buffers: int = 2,\n"
     "                  record: list[Interval] | None = None, label: str = \"\", engine: str = \"fast\",\n"
     "                  stalls_of", "compute_cycles: np.ndarray, dram_cycles: Callable[[int], int], buffers: int = 3,\n"
     "                  record: list[Interval] | None = None, label: str = \"\", engine: str = \"fast\",\n"
     "                  stalls_of", "triple instead of double buffering (submit_arrays)"),
    ("hw/mac_array.py", "return K + rows + cols - 2", "return K + rows + cols - 1", "OS fold one cycle longer"),
    ("hw/mac_array.py", "return rows + M\n", "return M\n", "adder-tree fold without its weight load"),
    ("hw/if_array.py", "self.reg_bits += membrane_writes * self.spec.membrane_bits",
     "self.reg_bits += membrane_writes * self.spec.weight_bits", "IF membrane register written at the weight width"),
    ("energy/actions.py", "bank_kib = spec.size_kib / spec.banks", "bank_kib = spec.size_kib",
     "SRAM access priced for the whole array, not one bank"),
    ("engine/mac_schemes/grid.py", '"mac_array.digit_add": sc.int_add_pj(table, a.acc_bits)',
     '"mac_array.digit_add": sc.int_add_pj(table, a.act_bits)', "digit add priced at the operand width"),
    ("engine/acc_if.py", "bits = Kb * Nb * self.chip.spec.array.weight_bits + (Nb * SCALE_BITS if first_k else 0)",
     "bits = Kb * Nb * self.chip.spec.array.weight_bits", "IF weight tile without its per-channel constants"),
    ("engine/mac.py", "bits = codes.size * self.code_bits + codes.shape[0] * SCALE_BITS",
     "bits = codes.size * self.code_bits", "MAC activation tile without its per-token scales"),
    ("engine/replay.py", "bits = v.tokens * v.width * v.bits", "bits = v.tokens * v.bits",
     "KV-cache write without its width"),
    ("hw/vector_unit.py", "ceil_div(", "(lambda a, b: a // b)(", "vector unit rounds its cycles down"),
    ("engine/acc_if.py", "load_cyc += groups * int(mult[v]) * int(load_kt[v, i])",
     "load_cyc += int(mult[v]) * int(load_kt[v, i])", "IF token groups do not reload the weight sub-tiles"),
    ("energy/scaling.py", "math.log(e32 / e8) / math.log(4)", "math.log(e32 / e8) / math.log(2)",
     "integer add energy grows with the square of the width ratio"),
    ("energy/scaling.py", 'return table[f"wire_{wire}"] * length_mm * activity', 'return table[f"wire_{wire}"] * length_mm',
     "wire energy without its activity factor"),
    ("kernels/acc_tile.py", "spike_cyc += (n_sal * salient_entry_bits + salient_bw_bits - 1) // salient_bw_bits",
     "spike_cyc += 0", "IF step never waits for the salient side store"),
    ("kernels/acc_tile.py", "if per_code_reads and smax > compute:", "if False:",
     "event queue: a code's spikes spread over every lane"),
    ("kernels/acc_tile.py", "tot[SHIFT_STEPS] += compute - 1", "tot[SHIFT_STEPS] += compute",
     "bitplane: one shift per plane instead of between planes"),
    ("kernels/acc_tile.py", "elif mem_cyc == busy:", "elif False:", "membrane stalls charged to the spike memory"),
    ("kernels/acc_tile.py", "bank_events[i % weight_banks] += 1 if per_code_reads else s",
     "bank_events[0] += 1 if per_code_reads else s", "event queue: every channel in weight bank 0"),
    ("kernels/tile_pipeline.py", " " * 28 + "if i >= buffers:\n", " " * 28 + "if i > buffers:\n",
     "compiled pipeline: the loader runs one more tile ahead"),
    ("kernels/tile_pipeline.py", "stall_wb += now - array_done_at", "stall_wb += 0", "final drain not counted"),
    ("kernels/mac_fold.py", "while qmin < -(1 << (n * operand_bits - 1)) or qmax > (1 << (n * operand_bits - 1)) - 1:",
     "while qmax > (1 << (n * operand_bits - 1)) - 1:", "digit passes ignore negative codes"),
    ("hw/salient_lanes.py", "return n_sub * max(ceil_div(spikes, self.lanes), max_spikes)",
     "return n_sub * ceil_div(spikes, self.lanes)", "side lanes: a salient code's spikes spread over lanes"),
    ("hw/vector_unit.py", '"softmax": (4, 7),', '"softmax": (4, 6),', "softmax one add short per element"),
    ("hw/outlier_unit.py", "self.merge_add += tokens_with_salient * Nb", "self.merge_add += salient_entries * Nb",
     "outlier merge per entry instead of per token"),
    ("hw/cells.py", "FP16_ADD = adder(48)", "FP16_ADD = adder(32)", "fp16 adder cells a third smaller"),
    ("engine/tiling.py", "f = np.where(single, 1.0, 0.5)", "f = np.where(single, 1.0, 1.0)",
     "tiler: double-buffered tiles use the whole buffer"),
    ("engine/summary.py", '(min(overlapped[name], p["serial_cycles"]) if capped else overlapped[name]) if overlapped',
     'p["serial_cycles"] if overlapped', "phase time ignores the overlapped schedule"),
    ("engine/replay.py", "timed = self.power.energies_pj(cycles_to_s(cycles, clock),",
     "timed = self.power.energies_pj(cycles_to_s(cycles, 1000),", "time-proportional power at a fixed 1 GHz"),
    ("energy/time_power.py", "unit = self.clock_vector_mw * seconds if vector else self.clock_datapath_mw * compute_seconds",
     "unit = self.clock_vector_mw * seconds if vector else self.clock_datapath_mw * seconds",
     "gated clock runs while the array stalls"),
    ("engine/op_mapper.py", "key=lambda c: c.score(objective))", "key=lambda c: -c.score(objective))",
     "mapper keeps the worst candidate"),
    ("energy/voltage.py", "return OperatingPoint(spec.clock_mhz, float(nominal), v, vdd, (v / vdd) ** 2, v / vdd * leak)",
     "return OperatingPoint(spec.clock_mhz, float(nominal), v, vdd, v / vdd, v / vdd * leak)",
     "dynamic energy linear in the supply"),
    ("energy/time_power.py", "busy_s = min(seconds, dram_bits / BITS_PER_BYTE / self.dram_bytes_per_s)",
     "busy_s = min(seconds, dram_bits / self.dram_bytes_per_s)", "DRAM busy time from bits as bytes"),
    ("engine/mac_schemes/os_grid.py", "cost.extra_pass_outputs += (p - 1) * rows * cw",
     "cost.extra_pass_outputs += (p - 1) * rows", "OS digit adds per row, not per output"),
    ("engine/mac_schemes/weight_stationary.py", "later = fold if a.weight_buffers == 1 else max(fold - R, R)",
     "later = fold", "double-buffered MAC folds keep their full SRAM time"),
    ("engine/acc_if.py", "srams[\"membrane_store\"].read(1, entries * Nb * spec.array.membrane_bits)  # merge",
     "srams[\"membrane_store\"].read(0, entries * Nb * spec.array.membrane_bits)  # merge",
     "side lanes merge without reading the membranes"),
    ("engine/dispatch/time_stepped.py", "return int(L[0] + np.maximum(L[1:] - B[:-1], 0).sum())",
     "return int(np.maximum(L[1:] - B[:-1], 0).sum())", "double-buffered IF: the first weight load hidden"),
    ("energy/categories.py", '"salient_shifter.bit_stages",\n', "\n", "the salient shifters leave the compute category"),
    # the many-core chip
    ("kernels/noc_sim.py", "s = max(t, free[lk])", "s = t", "mesh links without contention"),
    ("kernels/noc_sim.py", "(s + link_lat[lk] + router_cycles - first) * stride", "(s + router_cycles - first) * stride",
     "a hop without its link traversal"),
    ("hw/noc.py", "return int(routed.msg_bits[copies].sum() + routed.msg_bits[routed.edge_msg].sum())",
     "return int(routed.msg_bits[routed.edge_msg].sum())", "the source router's bits not counted"),
    ("engine/chip_traffic.py", "dense = stats.tokens * stats.width * act_bits + side + stats.tokens * SCALE_BITS",
     "dense = stats.tokens * stats.width * act_bits + side", "dense codes sent without their token scales"),
    ("engine/chip_traffic.py", "bits = payload + packets * noc.header_bits", "bits = payload",
     "packets without headers"),
    ("engine/chip_run.py", "        return chip.mesh.cores\n", "        return 1\n", "one core leaks for the whole chip"),
    ("mapping/mapper.py", "fit -= fit % cols if fit >= cols else 0", "fit -= 0",
     "shards not in whole column folds"),
    ("engine/op_model.py", 'return self.chip.spec.system.weights == "resident" and (not self.op.kv or self.chip.kv_on_chip)',
     'return False', "resident weights loaded from the port anyway"),
    # the board
    ("engine/chip.py", "latency = max(1, math.ceil(b.link_latency_ns * 1e-9 * clock_hz))", "latency = 1",
     "chip-to-chip links as quick as the mesh's"),
    ("engine/chip.py", "per_flit = max(1, math.ceil(spec.noc.link_width_bits * clock_hz / (b.link_bandwidth_gbps * 8e9)))",
     "per_flit = 1", "chip-to-chip bandwidth ignored"),
    ("hw/board.py", "step, d = (1, 0) if forward <= n - forward else (-1, 1)", "step, d = (1, 0)",
     "a ring routed one way round only"),
    ("mapping/mapper.py", "lo, hi = ceil_div(n_split * t, tensor_parallel), ceil_div(n_split * (t + 1), tensor_parallel)",
     "lo, hi = (0, n_split) if t == 0 else (0, 0)", "tensor parallelism that puts each matrix on one chip"),
]


_SWAPS = {"+": "-", "-": "+", "<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "==", "max": "min",
          "min": "max"}
PHYSICS_PACKAGES = ("engine", "hw", "energy", "kernels")


def random_mutations(n: int, seed: int) -> list[tuple[str, str, str, str]]:
    """``n`` single-token mutants of the physics packages, as (file, line, mutated line, what)."""
    sites = []
    for pkg in PHYSICS_PACKAGES:
        for path in sorted((ROOT / "neurosim" / pkg).rglob("*.py")):
            text = path.read_text()
            lines = text.splitlines(keepends=True)
            for tok in tokenize.generate_tokens(io.StringIO(text).readline):
                swap = _SWAPS.get(tok.string) if tok.type in (tokenize.OP, tokenize.NAME) else None
                if tok.type == tokenize.NUMBER and tok.string.isdigit():
                    swap = str(int(tok.string) + 1)
                if not swap or tok.start[0] > len(lines):
                    continue
                line = lines[tok.start[0] - 1]
                if tok.start[0] == tok.end[0] and text.count(line) == 1 and not line.lstrip().startswith(
                        ("def ", "class ", "import ", "from ", "@")) and "->" not in line:
                    mutated = line[:tok.start[1]] + swap + line[tok.end[1]:]
                    sites.append((str(path.relative_to(ROOT / "neurosim")), line, mutated,
                                  f"line {tok.start[0]}: {tok.string!r} -> {swap!r}: {line.strip()[:70]}"))
    return random.Random(seed).sample(sites, min(n, len(sites)))


def _apply(path: Path, old: str, new: str) -> str:
    text = path.read_text()
    if text.count(old) != 1:
        raise SystemExit(f"{path}: the mutation text occurs {text.count(old)} times, not once: {old!r}")
    path.write_text(text.replace(old, new))
    return text


def run(tests: list[str], chosen: list[tuple[str, str, str, str]]) -> int:
    """Run every chosen mutation; returns the number that survived."""
    survived = []
    for rel, old, new, what in chosen:
        path = ROOT / "neurosim" / rel
        original = _apply(path, old, new)
        t0 = time.monotonic()
        try:  # a mutant that loops forever is noticed too (the suite never ends): it counts as killed
            rc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                                cwd=ROOT, capture_output=True, text=True, timeout=HANG_S).returncode
        except subprocess.TimeoutExpired:
            rc = None
        finally:
            path.write_text(original)
        verdict = "hung" if rc is None else "SURVIVED" if rc == 0 else "killed"
        print(f"{verdict:8s} {time.monotonic() - t0:6.1f} s  {rel}: {what}", flush=True)
        if rc == 0:
            survived.append(what)
    print(f"{len(chosen) - len(survived)} of {len(chosen)} mutations killed")
    return len(survived)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", nargs="+", default=PHYSICS_TESTS, help="test files to run on each mutant")
    parser.add_argument("--only", help="mutations whose file or description contains this text")
    parser.add_argument("--random", type=int, metavar="N", help="N random operator mutants instead of the list")
    parser.add_argument("--seed", type=int, default=0, help="seed of --random")
    args = parser.parse_args()
    chosen = random_mutations(args.random, args.seed) if args.random else MUTATIONS
    chosen = [m for m in chosen if args.only is None or args.only in m[0] or args.only in m[3]]
    sys.exit(1 if run(args.tests, chosen) else 0)


if __name__ == "__main__":
    main()
