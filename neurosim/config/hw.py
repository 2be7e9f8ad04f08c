"""Hardware specs: the two design families (``acc_if`` and ``mac``) as frozen dataclasses.

Every key, its unit, default and meaning is listed in ``hw_configs/README.md``; a test keeps
that file in step with the schema below.
"""

from __future__ import annotations

from dataclasses import dataclass

from neurosim.config.schema import spec_field
from neurosim.config.system import WIRE_KINDS, BoardSpec, NocSpec, SystemSpec
from neurosim.fsutil import SAFE_NAME

BITS = dict(lo=1, hi=32, unit="bit")
#: A signed code or operand needs a sign bit and at least one magnitude bit.
SIGNED_BITS = dict(lo=2, hi=32, unit="bit")
#: 128 B to 4 GiB: below that no tile fits, above it no on-chip SRAM exists.
SIZE_KIB = dict(lo=0.125, hi=4 * 1024 * 1024)
#: A config name becomes a directory name under --out: one safe path component.
NAME_PATTERN = SAFE_NAME.pattern[1:-1]
DRAM_TYPES = ("LPDDR4", "HBM2", "HMC", "GDDR5", "GDDR6", "DDR4")


@dataclass(frozen=True)
class SramSpec:
    """One on-chip SRAM: capacity, banking, ports and physical word width."""

    size_kib: float = spec_field(64.0, doc="capacity", unit="KiB", **SIZE_KIB)
    banks: int = spec_field(4, doc="independently addressable banks", lo=1, hi=1024)
    ports: int = spec_field(1, doc="read/write ports per bank", lo=1, hi=8)
    width_bits: int = spec_field(64, doc="physical word width of one bank access", unit="bit", lo=8, hi=4096)
    latency_cycles: int = spec_field(1, doc="access latency", unit="cycle", lo=1, hi=64)


@dataclass(frozen=True)
class DenseSpikeStoreSpec(SramSpec):
    """Spike memory for normal activation codes, stored densely at ``code_bits`` each."""

    code_bits: int = spec_field(4, doc="bits per stored normal code (sign included)", **SIGNED_BITS)


@dataclass(frozen=True)
class SalientSpikeStoreSpec(SramSpec):
    """Side store for salient codes: each entry holds the code and its column index."""

    size_kib: float = spec_field(16.0, doc="capacity", unit="KiB", **SIZE_KIB)
    code_bits: int = spec_field(8, doc="bits per stored salient code (sign included)", **SIGNED_BITS)
    index_bits: int = spec_field(16, doc="bits of the column index stored with each salient code", **BITS)


@dataclass(frozen=True)
class SpikeMemorySpec:
    """Mixed-bitwidth spike memory: a dense store plus a salient side store."""

    dense: DenseSpikeStoreSpec = spec_field(DenseSpikeStoreSpec(), doc="store for normal codes")
    salient: SalientSpikeStoreSpec = spec_field(SalientSpikeStoreSpec(), doc="store for salient codes")


@dataclass(frozen=True)
class DramSpec:
    """Off-chip DRAM: type (selects pJ/bit in the energy table), bandwidth and latency."""

    type: str = spec_field("LPDDR4", doc="DRAM type; selects the energy per bit", choices=DRAM_TYPES)
    bandwidth_gbps: float = spec_field(12.8, doc="peak bandwidth", unit="GB/s", lo=0.001, hi=100_000)
    latency_ns: float = spec_field(100.0, doc="access latency of one burst", unit="ns", lo=0, hi=1_000_000)
    burst_bytes: int = spec_field(64, doc="bytes per DRAM burst (transfer granule)", unit="B", lo=1, hi=4096)
    power_down: bool = spec_field(
        True, doc="the controller puts the idle device in precharge power-down between transfers (true), or "
        "keeps it in standby (false); its background power (refresh included) is charged over the run's time "
        "either way, the energy table's dram_standby_/dram_powerdown_ entries per GB/s of bandwidth")
    background_mw: float | str = spec_field(
        "auto", doc="override: the device's standby (busy) background power; auto = the energy table's "
        "dram_standby_<type> x bandwidth (a type the table gives no entry for has none: docs/model.md)",
        unit="mW", lo=0, hi=1_000_000, auto=True)


@dataclass(frozen=True)
class InterconnectSpec:
    """On-chip links between memories and the array."""

    width_bits: int = spec_field(256, doc="link width", unit="bit", lo=1, hi=8192)
    wire_length_mm: float = spec_field(1.0, doc="mean wire length per transfer", unit="mm", lo=0, hi=100)
    wire: str = spec_field("repeated", doc="wire model in the energy table", choices=WIRE_KINDS)
    activity: float = spec_field(0.5, doc="toggle activity factor (0.5 for random data)", lo=0, hi=1)
    energy_pj_per_bit: float | None = spec_field(
        None, doc="override: energy per bit moved; null = wire model x length x activity", unit="pJ/bit", lo=0,
        hi=1000)


@dataclass(frozen=True)
class LeakageSpec:
    """Static power: SRAM leakage from the energy table plus the logic's."""

    sram_cell: str = spec_field("lstp", doc="SRAM cell flavour for leakage per KiB (lstp: energy.md a.2 for "
                                "always-on memories)", choices=("lstp", "hp"))
    logic_static_mw: float | str = spec_field(
        "auto", doc="static power of logic outside the SRAMs; auto = the design's register, adder and multiplier "
        "cell-bits x the energy table's leak_* entries (see docs/model.md)", unit="mW", lo=0, hi=1_000_000,
        auto=True)


@dataclass(frozen=True)
class MapperSpec:
    """How each op is tiled onto the array: candidate tilings scored by the engine's cost model."""

    objective: str = spec_field(
        "dram", doc="dram (default: the least-DRAM-traffic tiling, not scored; a truncated search's answer depends "
        "on its breadth, docs/model.md), energy, latency (the op's cycles) or edp (their product) over the "
        "candidates simulated", choices=("dram", "energy", "latency", "edp"))
    candidates: int = spec_field(
        64, doc="tilings simulated per distinct op under energy, latency or edp: the least-DRAM-traffic one, then "
        "the next of the rankings by DRAM traffic, array folds and tile count in turn", lo=1, hi=256)


@dataclass(frozen=True)
class DvfsSpec:
    """The operating point: a clock below the nominal one at a lower supply."""

    nominal_clock_mhz: float | str = spec_field(
        "auto", doc="the clock the design meets timing at at the energy table's vdd_v; a lower clock_mhz runs at "
        "the lowest supply that meets it (the table's alpha-power law), dynamic energy x (V/Vdd)^2, leakage x "
        "(V/Vdd) x I_leak(V)/I_leak(Vdd); auto = clock_mhz (the nominal point)", unit="MHz", lo=1, hi=10000,
        auto=True)


@dataclass(frozen=True)
class PowerSpec:
    """Time-proportional dynamic power: the clock tree."""

    clock_gating: str = spec_field(
        "idle", doc="idle: a unit's flip-flops are clocked only while it works (the arrays and their side "
        "units while the array computes, the vector unit during vector ops, the sequencers always); register: "
        "a flip-flop only when written (its clock energy is in register_bit: a lower bound), the sequencers "
        "always; none: every flip-flop every cycle", choices=("idle", "register", "none"))


@dataclass(frozen=True)
class AccArraySpec:
    """Integrate-and-fire processing array of accumulators."""

    rows: int = spec_field(doc="input lanes that step together (spike rows)", lo=1, hi=4096)
    cols: int = spec_field(doc="output neurons (accumulators) per row", lo=1, hi=4096)
    membrane_bits: int | str = spec_field(24, doc="membrane potential (accumulator) width; auto = the width each op "
                                          "needs (see docs/model.md)", auto=True, **BITS)
    weight_bits: int = spec_field(4, doc="weight code width", **SIGNED_BITS)
    dispatch: str = spec_field(
        "time_stepped", doc="time_stepped: a step costs the row group's max spike count; "
        "event_queue: address-event packets, cost = total spikes over lanes", choices=("time_stepped", "event_queue")
    )
    encoding: str = spec_field(
        "count", doc="count: abs(q) spikes per code; bitplane: one spike per set bit, shift-weighted",
        choices=("count", "bitplane"),
    )
    column: str = spec_field(
        "adder_tree", doc="adder_tree: per cycle each column sums the weights of its spiking lanes in a combinational "
        "tree (level l's adds weight_bits + l bits wide) and writes its membrane register once; per_spike: every spike "
        "is one membrane-width add and register write", choices=("adder_tree", "per_spike"))
    membrane_tokens: int = spec_field(
        0, doc="0: membranes go to the membrane store after every K sub-tile (weight-stationary); G > 0: the "
        "membranes of G tokens stay in column registers (G x cols x membrane_bits) while K streams "
        "(output-stationary), and each group of G tokens reloads the weight sub-tiles", lo=0, hi=4096)
    salient_lanes: int = spec_field(
        0, doc="0: salient spikes run in the main lanes (a step lasts its largest code); n > 0: a side group of n "
        "lanes, each with cols accumulators, takes the salient entries (one weight-row read per entry, its spikes "
        "in one lane) in parallel with the main array, and merges their partial sums into the membranes "
        "(array.salient_merge)", lo=0, hi=4096)
    salient_merge: str = spec_field(
        "per_token", doc="how the side lanes' partial sums reach the membranes: per_token = a token's salient "
        "entries run on one lane, whose accumulators merge once per token and column (as the MAC outlier unit's "
        "outlier_unit.merge); per_entry = entries spread over the lanes, each merged on its own",
        choices=("per_token", "per_entry"))
    weight_reads: str = spec_field(
        "per_code", doc="event_queue: per_code = one weight-row read per nonzero code, latched in one lane for that "
        "code's spikes; per_spike = one read per spike", choices=("per_code", "per_spike"))
    weight_buffers: int = spec_field(
        1, doc="weight registers per PE (time_stepped): 1 = a weight sub-tile is loaded before its tokens stream "
        "(weight_tile_load stalls the array); 2 = double-buffered, the next sub-tile (N sub-tiles outer, K sub-tiles "
        "inner, per token group) loads while the current one's tokens stream, and only what outlasts them stalls",
        lo=1, hi=2)
    lane_skew: int = spec_field(
        0, doc="0: lanes step together (a step lasts its busiest lane); W > 0: per-lane spike FIFOs let a lane run "
        "up to W steps ahead of the slowest, with W token membranes and adder trees per column (time_stepped, "
        "count, membrane_tokens 0 only; 1 = the coupled array)", lo=0, hi=64)

    @property
    def tree_leaf_bits(self) -> int:
        """Width of a column's adder-tree inputs: the gated weights."""
        return self.weight_bits


@dataclass(frozen=True)
class ThresholdSpec:
    """Threshold unit: quantization scales folded into per-neuron firing thresholds."""

    bits: int = spec_field(24, doc="threshold register / comparator width", **BITS)
    output_scale: str = spec_field(
        "two_phase", doc="two_phase: the per-token output scale needs the token's whole output row, so the final "
        "accumulators are written to a row buffer (the psum store, or DRAM when Mb x N of them do not fit in half "
        "of it) while a running maximum is taken, then read back to quantize; static: per-channel output scales "
        "calibrated offline, no second pass (the trace's codes still come from dynamic scales)", choices=("two_phase", "static"))
    fold: str = spec_field(
        "per_token", doc="per_token: threshold recomputed per (token, neuron) from the dynamic activation "
        "scale (one fp16 multiply); static: folded once per layer", choices=("per_token", "static")
    )


@dataclass(frozen=True)
class MacArraySpec:
    """MAC array: a systolic PE grid or adder-tree columns."""

    rows: int = spec_field(doc="PE rows", lo=1, hi=4096)
    cols: int = spec_field(doc="PE columns", lo=1, hi=4096)
    dataflow: str = spec_field("os", doc="os: output stationary; ws: weight stationary", choices=("os", "ws"))
    act_bits: int = spec_field(4, doc="activation operand width", **SIGNED_BITS)
    weight_bits: int = spec_field(4, doc="weight operand width", **SIGNED_BITS)
    acc_bits: int | str = spec_field(32, doc="accumulator width; auto = the width each op needs (see docs/model.md)",
                                     auto=True, **BITS)
    accumulator_tokens: int = spec_field(
        0, doc="adder_tree: 0 = the partial sums of each K fold go to the output SRAM (weight-stationary); G > 0 = the "
        "accumulators of G tokens stay in column registers (G x cols x acc_bits) while the tile's K folds stream "
        "(output-stationary, as the IF array's membrane_tokens), and each group of G tokens reloads the weight folds",
        lo=0, hi=4096)
    weight_buffers: int = spec_field(
        1, doc="weight registers per PE (dataflow ws): 1 = each fold loads its weights (array.weight_load) before its "
        "tokens stream (SCALE-Sim); 2 = double-buffered (as TPU v1), the next fold's weights load while the current fold "
        "streams, and only the first fold's load and what outlasts a fold's streaming are exposed", lo=1, hi=2)
    column: str = spec_field(
        "systolic", doc="systolic: SCALE-Sim's PE grid, each PE multiplies, adds into an acc_bits partial sum and "
        "passes operands and partial sums to its neighbours through pipeline registers; adder_tree: weight-stationary "
        "dot-product columns (dataflow ws), per cycle one token's R inputs are latched and broadcast along the rows, "
        "each column multiplies them by its R stationary weights, sums the products in a combinational tree (adds of "
        "act_bits + weight_bits + l bits at level l) and adds the sum into one acc_bits accumulator",
        choices=("systolic", "adder_tree"))
    salient: str = spec_field(
        "passes", doc="codes wider than act_bits: passes = extra digit passes of the array over a dense store at "
        "the widest code width (class digit_passes, or wide when act_bits holds every code); outlier_path = dense "
        "act_bits store + salient side store (code + index) and a side MAC unit for the salient entries "
        "(Atom/OliVe-style outlier-aware accelerators)", choices=("passes", "outlier_path"))
    weight_load: str = spec_field(
        "auto", doc="dataflow ws: how a fold's weight block reaches the PE registers: rows = one array row per cycle "
        "(R cycles, shifted in: SCALE-Sim, TPU v1); sram = the block's bits at the weight SRAM's bandwidth (as the IF "
        "array loads its sub-tiles); auto = sram for adder_tree columns (written from the SRAM bus, as the IF array's "
        "registers), rows for the systolic grid", choices=("auto", "rows", "sram"))
    zero_gating: bool = spec_field(
        True, doc="a product whose activation operand is zero (a zero code; with outlier_path also a salient entry, "
        "zero in the dense store) is gated: operand isolation holds the multiplier's inputs, so it does not switch "
        "(counted as mac_gated, no dynamic energy); its cycle is still spent (energy, not cycles), as the IF array "
        "skips zero codes; false = every product switches")

    @property
    def tree_leaf_bits(self) -> int:
        """Width of an adder-tree column's inputs: the products."""
        return self.act_bits + self.weight_bits


@dataclass(frozen=True)
class OutlierUnitSpec:
    """Side MAC unit of the outlier_path class: multiplies each salient entry by its weight row."""

    lanes: int = spec_field(128, doc="MACs per cycle (128 = 1/32 of a 64x64 array: keeps up with ~3% salient "
                            "entries)", lo=1, hi=65536)
    act_bits: int = spec_field(8, doc="salient operand width", **SIGNED_BITS)
    merge: str = spec_field(
        "per_token", doc="how the side products reach the main results: per_token = a lane accumulates a token's "
        "salient products and merges once per token and output (as the IF side lanes' array.salient_merge); "
        "per_entry = each entry's products merged on their own", choices=("per_token", "per_entry"))


@dataclass(frozen=True)
class DequantSpec:
    """Dequantization unit: per output int32 -> fp16 convert and scale multiplies."""

    mode: str = spec_field(
        "fused", doc="fused: dequantize at the array edge; spilled: int32 partial sums are written out "
        "and read back by a separate pass", choices=("fused", "spilled")
    )
    spill_to: str = spec_field("dram", doc="where spilled partial sums go", choices=("sram", "dram"))
    scale_multiplies: int = spec_field(2, doc="fp16 multiplies per output (per-token x per-channel scale)", lo=0, hi=8)


@dataclass(frozen=True)
class RequantSpec:
    """Requantization unit: fp16 output -> next layer's integer code."""

    out_bits: int = spec_field(4, doc="output code width", **BITS)
    output_scale: str = spec_field(
        "two_phase", doc="two_phase: the per-token output scale needs the token's whole output row, so the final "
        "accumulators are written to a row buffer (the psum store, or DRAM when Mb x N of them do not fit in half "
        "of it) while a running maximum is taken, then read back to quantize; static: per-channel output scales "
        "calibrated offline, no second pass (the trace's codes still come from dynamic scales)", choices=("two_phase", "static"))


@dataclass(frozen=True)
class VectorBufferSpec(SramSpec):
    """The vector unit's SRAM buffer: the activations between ops (docs/model.md "Data between
    ops"; a tensor stays in it when it fits in half of it). 256 KiB keeps a 64-token SmolLM2-135M
    prefill's hidden-width tensors (72 KiB at fp16) and every tensor of a decode step on chip; its
    MLP-width ones (192 KiB) go to DRAM. 8 banks of 256-bit words give 64 fp16 lanes an operand in
    and a result out every cycle."""

    size_kib: float = spec_field(256.0, doc="capacity", unit="KiB", **SIZE_KIB)
    banks: int = spec_field(8, doc="independently addressable banks", lo=1, hi=1024)
    width_bits: int = spec_field(256, doc="physical word width of one bank access", unit="bit", lo=8, hi=4096)


@dataclass(frozen=True)
class VectorUnitSpec:
    """SIMD unit for the work between GEMMs (norms, RoPE, softmax, activation functions, the per-token
    quantizer, residual adds; ops per element in neurosim/hw/vector_unit.py). The same on both designs."""

    lanes: int = spec_field(64, doc="element operations per cycle (64: one per column of a 64-wide array)",
                            lo=1, hi=65536)
    element_bits: int = spec_field(16, doc="element width (fp16) read and written per element", unit="bit",
                                   lo=4, hi=32)
    operands: str = spec_field(
        "auto", doc="counted: a vector op reads its inputs and writes its output at their real width (the "
        "buffer when a tensor fits, else DRAM) and a GEMM whose output a vector op takes writes it at fp16 (one "
        "core); ignored: vector ops move no data and GEMMs write next-layer codes (neurosim 0.2); auto: counted on "
        "one core, ignored on a many-core chip (its mesh traffic model moves the data between cores)",
        choices=("auto", "counted", "ignored"))
    buffer: VectorBufferSpec = spec_field(VectorBufferSpec(), doc="the buffer of the activations between ops")


@dataclass(frozen=True)
class ScheduleSpec:
    """How ops follow one another."""

    overlap_ops: bool = spec_field(
        True, doc="the next op's input loads start while the current op computes (one tile pipeline over each "
        "phase); the phase times, TTFT and tokens/s use it, the per-op figures stay those of each op alone")
    window_tiles: int = spec_field(
        1 << 18, doc="overlap_ops: consecutive ops of a phase (or decode step) share one tile pipeline up to this "
        "many tiles, and the controller fences between such windows (the scheduler's memory is bounded by it; the "
        "overlap lost at a fence is one op boundary's); 1 = every op fenced", lo=1, hi=1 << 31)


_COMMON_DOC = dict(
    name="config name (used for output directories)",
    clock_mhz="clock frequency",
    technology="energy table: 45nm, 28nm, 7nm, snn-45nm-fp32 (the SNN-paper convention), or a path to an energy-table YAML",
)


@dataclass(frozen=True)
class AccIfSpec:
    """The SpikeQuant-style accumulate-only integrate-and-fire chip."""

    name: str = spec_field(doc=_COMMON_DOC["name"], pattern=NAME_PATTERN)
    design: str = spec_field(doc="design family", choices=("acc_if",))
    clock_mhz: float = spec_field(doc=_COMMON_DOC["clock_mhz"], unit="MHz", lo=1, hi=10000)
    technology: str = spec_field(doc=_COMMON_DOC["technology"], pattern=r"[^\x00-\x1f]+")
    array: AccArraySpec = spec_field(doc="IF processing array")
    threshold: ThresholdSpec = spec_field(ThresholdSpec(), doc="threshold unit")
    spike_memory: SpikeMemorySpec = spec_field(SpikeMemorySpec(), doc="mixed-bitwidth spike memory")
    weight_sram: SramSpec = spec_field(SramSpec(), doc="weight SRAM")
    membrane_store: SramSpec = spec_field(SramSpec(), doc="membrane potential store")
    output_buffer: SramSpec = spec_field(SramSpec(), doc="output spike buffer")
    dram: DramSpec = spec_field(DramSpec(), doc="off-chip DRAM")
    interconnect: InterconnectSpec = spec_field(InterconnectSpec(), doc="on-chip interconnect")
    leakage: LeakageSpec = spec_field(LeakageSpec(), doc="static power")
    power: PowerSpec = spec_field(PowerSpec(), doc="the clock tree")
    dvfs: DvfsSpec = spec_field(DvfsSpec(), doc="the operating point (clock and supply)")
    mapper: MapperSpec = spec_field(MapperSpec(), doc="tiling each op onto the array")
    vector_unit: VectorUnitSpec = spec_field(VectorUnitSpec(), doc="vector unit (whole-inference traces)")
    schedule: ScheduleSpec = spec_field(ScheduleSpec(), doc="op scheduling")
    system: SystemSpec = spec_field(SystemSpec(), doc="the chip: a mesh of such cores")
    noc: NocSpec = spec_field(NocSpec(), doc="the network between the cores (meshes larger than 1x1)")
    board: BoardSpec = spec_field(BoardSpec(), doc="the board: chips joined by chip-to-chip links")


@dataclass(frozen=True)
class MacSpec:
    """The baseline: a systolic MAC array with dequantization and requantization."""

    name: str = spec_field(doc=_COMMON_DOC["name"], pattern=NAME_PATTERN)
    design: str = spec_field(doc="design family", choices=("mac",))
    clock_mhz: float = spec_field(doc=_COMMON_DOC["clock_mhz"], unit="MHz", lo=1, hi=10000)
    technology: str = spec_field(doc=_COMMON_DOC["technology"], pattern=r"[^\x00-\x1f]+")
    array: MacArraySpec = spec_field(doc="systolic MAC array")
    dequant: DequantSpec = spec_field(DequantSpec(), doc="dequantization unit")
    requant: RequantSpec = spec_field(RequantSpec(), doc="requantization unit")
    act_sram: SramSpec = spec_field(SramSpec(), doc="activation SRAM")
    weight_sram: SramSpec = spec_field(SramSpec(), doc="weight SRAM")
    output_sram: SramSpec = spec_field(SramSpec(), doc="output / partial-sum SRAM")
    salient_sram: SalientSpikeStoreSpec = spec_field(
        SalientSpikeStoreSpec(), doc="salient side store (array.salient: outlier_path only)")
    outlier_unit: OutlierUnitSpec = spec_field(OutlierUnitSpec(), doc="side MAC unit (array.salient: outlier_path only)")
    dram: DramSpec = spec_field(DramSpec(), doc="off-chip DRAM")
    interconnect: InterconnectSpec = spec_field(InterconnectSpec(), doc="on-chip interconnect")
    leakage: LeakageSpec = spec_field(LeakageSpec(), doc="static power")
    power: PowerSpec = spec_field(PowerSpec(), doc="the clock tree")
    dvfs: DvfsSpec = spec_field(DvfsSpec(), doc="the operating point (clock and supply)")
    mapper: MapperSpec = spec_field(MapperSpec(), doc="tiling each op onto the array")
    vector_unit: VectorUnitSpec = spec_field(VectorUnitSpec(), doc="vector unit (whole-inference traces)")
    schedule: ScheduleSpec = spec_field(ScheduleSpec(), doc="op scheduling")
    system: SystemSpec = spec_field(SystemSpec(), doc="the chip: a mesh of such cores")
    noc: NocSpec = spec_field(NocSpec(), doc="the network between the cores (meshes larger than 1x1)")
    board: BoardSpec = spec_field(BoardSpec(), doc="the board: chips joined by chip-to-chip links")


HwSpec = AccIfSpec | MacSpec
DESIGNS: dict[str, type] = {"acc_if": AccIfSpec, "mac": MacSpec}


def sram_specs(spec: HwSpec, vector: bool = False) -> dict[str, SramSpec]:
    """Every on-chip SRAM of a design by component name (for leakage and budget checks); with
    ``vector`` (the trace has vector ops) the vector unit's buffer too."""
    if isinstance(spec, AccIfSpec):
        out = {
            "spike_dense": spec.spike_memory.dense,
            "spike_salient": spec.spike_memory.salient,
            "weight_sram": spec.weight_sram,
            "membrane_store": spec.membrane_store,
            "output_buffer": spec.output_buffer,
        }
    else:
        out = {"act_sram": spec.act_sram, "weight_sram": spec.weight_sram, "output_sram": spec.output_sram}
        if spec.array.salient == "outlier_path":
            out["salient_sram"] = spec.salient_sram
    if vector and operands_counted(spec):
        out["vector_buffer"] = spec.vector_unit.buffer
    return out


def many_core(spec: HwSpec) -> bool:
    """A chip of several cores, or one whose weights stay resident in its cores."""
    return tuple(spec.system.mesh) != (1, 1) or spec.system.weights == "resident"


def operands_counted(spec: HwSpec) -> bool:
    """Vector ops move their operands and GEMMs write fp16 for them (``vector_unit.operands``)."""
    mode = spec.vector_unit.operands
    return mode == "counted" or (mode == "auto" and not many_core(spec))
