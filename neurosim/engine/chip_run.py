"""The many-core run: the trace's items on the chip (:mod:`neurosim.engine.chip`), scheduled,
priced and summed into :class:`~neurosim.result_types.Results`, with the chip's own figures
(placement, per-core busy time, per-link traffic, where the KV cache lives, the weight load
before the inference; on a board, the chip-to-chip links' traffic)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import groupby

import numpy as np

from neurosim.config.hw import HwSpec
from neurosim.energy.breakdown import PJ_PER_MW_S, with_total
from neurosim.energy.scaling import sram_write_pj
from neurosim.engine.chip import EDGE, ChipReplay, ChipSchedule, Item, blocks
from neurosim.engine.summary import results_of, schedule
from neurosim.hw.noc import Message, link_bits, route_messages, router_bits
from neurosim.result_types import LayerResult, Results
from neurosim.trace.manifest import VectorOp
from neurosim.trace.reader import Trace
from neurosim.units import ceil_div, cycles_to_s


def _items(chip: ChipReplay) -> Iterator[Callable[[], Item]]:
    """Each item of the trace's schedule, started on its cores (see :mod:`neurosim.engine.chip`)."""
    last = (None, None)  # (phase, step) of the previous item: a new one starts from DRAM again
    src, stage_act, prev_cores, prev_repeat = (EDGE,), None, None, 1
    for item in schedule(chip.trace):
        if (item.phase, item.step) != last:
            src, stage_act, prev_cores, last = (EDGE,), None, None, (item.phase, item.step)
            chip._last_residual = (EDGE,)
        if prev_cores is not None and item.repeat == 1 and prev_repeat > 1:  # after the ops folded over layers
            prev_cores, prev_repeat = last_instance(prev_cores, prev_repeat), 1
        if isinstance(item, VectorOp):
            nxt = chip.trace.ops[item.position] if item.position < len(chip.trace.ops) else None
            here = prev_cores or (chip.op_cores[nxt.name] if nxt is not None else (EDGE,))
            yield chip.vector(item, here)
            continue
        if item.act_codes != stage_act:
            src, stage_act = (prev_cores or (EDGE,)), item.act_codes
        make = chip.gemm(item, src)
        yield _from_dram(make) if src == (EDGE,) and prev_cores is None else make
        prev_cores = chip.op_cores[item.name] if not item.kv else chip.kv_cores(item)
        prev_repeat = item.repeat


def last_instance(cores: tuple[int, ...], repeat: int) -> tuple[int, ...]:
    """The cores of the last instance (layer) of an item folded over ``repeat`` layers: what an
    unfolded item after it (the final norm, the LM head) reads."""
    b = blocks(cores, repeat)
    return cores[len(cores) - len(cores) // b:]


def _from_dram(make: Callable[[], Item]) -> Callable[[], Item]:
    """The first op of a phase or step reads its input from DRAM (through core 0): every transfer
    that leaves core 0 (each row block's; a folded op's first layer's)."""
    def made() -> Item:
        item = make()
        item.extra["dram.read_bits"] += sum(t.payload_bits for t in item.transfers if t.src == (EDGE,))
        return item
    return made


def _shares(items: list[Item], chunk: int) -> list[tuple[int, int]]:
    """The prefill's chunks as (tokens, prompt tokens); a decode step is one chunk."""
    if items[0].layer.phase != "prefill":
        return [(1, 1)]
    prompt = next((it.layer.M for it in items if it.layer.kind == "linear"), items[0].layer.M)
    return [(min(chunk, prompt - j * chunk), prompt) for j in range(ceil_div(prompt, chunk))]


def _price(layer: LayerResult, extra: Counter, pj: dict[str, float], timed: dict[str, float],
           noc_wait: int) -> LayerResult:
    """A layer with the chip's counts added and priced, its share of the chip's time-proportional
    power ``timed`` (:data:`~neurosim.energy.time_power.TIMED`), and the cycles it waited for the
    mesh (stall cause ``noc``)."""
    counters, actions, energy = Counter(layer.counters), Counter(layer.energy_by_action_pj), Counter(layer.energy_pj)
    del energy["total"]
    for action, n in extra.items():
        counters[action] += n
        actions[action] += n * pj[action]
        energy[action.partition(".")[0]] += n * pj[action]
    for action, e in timed.items():
        actions[action] += e
        energy[action.partition(".")[0]] += e
    stalls = {**layer.stall_cycles, "noc": noc_wait} if noc_wait else layer.stall_cycles
    return dataclasses.replace(layer, counters=dict(counters), energy_by_action_pj=dict(actions),
                               energy_pj=with_total(dict(energy)), stall_cycles=stalls)


def powered_cores(chip: ChipReplay, items: list[Item]) -> int:
    """Cores that leak whenever the chip runs: all of them, or (``power_gating`` unused or idle)
    those that hold weights or run an item."""
    if chip.spec.system.power_gating == "none":
        return chip.mesh.cores
    used = set(np.flatnonzero(chip.placement.core_weight_bits()).tolist())
    return len(used.union(*(set(it.cores) for it in items)))


def _timed(chip: ChipReplay, it: Item, share: float, phase_s: float, powered: int) -> dict[str, float]:
    """Item ``it``'s time-proportional energy: ``share`` of the phase's ``phase_s`` (its own time
    over the phase's items'). Leakage: the powered cores over the phase, or with idle power gating
    the item's cores while they work; the clock: every powered core's flip-flops over the phase, or
    with clock gating the item's cores while they work (an idle core's clock is off at its root:
    :meth:`~neurosim.energy.time_power.TimePower.chip_clock_mw`); the DRAM: each chip's
    device in the background over the phase, plus the standby increment while the item's bits
    stream (each chip's channel its share)."""
    p, clock = chip.core.power, chip.spec.clock_mhz
    busy_s = cycles_to_s(it.core_cycles, clock)
    leak = p.leakage_mw * (busy_s if chip.spec.system.power_gating == "idle" else powered * phase_s * share)
    clk = p.chip_clock_mw(busy=True) * busy_s + p.chip_clock_mw(busy=False) * powered * phase_s * share
    bits = sum(n for a, n in {**it.layer.counters, **it.extra}.items() if a in ("dram.read_bits", "dram.write_bits"))
    chips = chip.mesh.chips
    dram = chips * p.dram_idle_mw * phase_s * share + \
        (p.dram_busy_mw - p.dram_idle_mw) * min(phase_s, bits / 8 / (p.dram_bytes_per_s * chips)) * chips
    return {a: e * PJ_PER_MW_S for a, e in (("leakage", leak), ("clock", clk), ("dram.background", dram))}


def _schedule(chip: ChipReplay, items: list[Item], powered: int) -> tuple[list[LayerResult], dict[str, int],
                                                                       ChipSchedule]:
    """Run the items phase by phase; the priced layers with their time-proportional energy
    (:func:`_timed`), cycles per phase."""
    sched = ChipSchedule(chip)
    pj = {**chip.core.pj_by_spec[chip.core.built], **chip.prices}
    layers, phases, clock = [], Counter(), chip.spec.clock_mhz
    for (phase, _), group in groupby(items, key=lambda it: (it.layer.phase, it.layer.step)):
        group = list(group)
        cycles = sched.run_phase(group, _shares(group, chip.spec.system.prefill_chunk_tokens))
        phases[phase] += cycles
        own = sum(it.layer.cycles for it in group) or 1
        layers += [_price(it.layer, it.extra, pj, _timed(chip, it, it.layer.cycles / own, cycles_to_s(cycles, clock),
                                                         powered), it.noc_wait) for it in group]
    return layers, dict(phases), sched


def _weight_load(chip: ChipReplay) -> dict[str, float]:
    """Placing the weights before the inference: from DRAM through core 0 to each core's weight
    SRAM (reported apart from the per-token figures)."""
    held = chip.placement.core_weight_bits()
    msgs = [Message(chip.mesh.edge_of(c), (c,), int(b), 1) for c, b in enumerate(held) if b]
    routed = route_messages(chip.mesh, msgs, False)
    pj = {**chip.core.pj_by_spec[chip.core.built], **chip.prices}
    sram = chip.spec.weight_sram
    write = sram_write_pj(chip.core.table, sram.size_kib / sram.banks, sram.width_bits)
    bits = int(held.sum())
    energy = bits * pj["dram.read_bits"] + int(link_bits(chip.mesh, routed).sum()) * pj["noc.link_bits"] + \
        router_bits(routed) * pj["noc.router_bits"] + ceil_div(bits, sram.width_bits) * write
    per_chip = held.reshape(chip.mesh.chips, -1).sum(axis=1).max()  # each chip loads from its own DRAM
    return {"bits": bits, "energy_pj": energy, "seconds": per_chip / 8 / (chip.spec.dram.bandwidth_gbps * 1e9)}


def _board_extra(chip: ChipReplay, sched: ChipSchedule) -> dict:
    """A board's figures: its chips, topology and tensor-parallel groups, the bits each
    chip-to-chip link carried (by board link index) and their energy."""
    b, base = chip.spec.board, chip.mesh.board_base
    bits = sched.link_bits[base:]
    return {"chips": list(b.chips), "topology": b.topology, "tensor_parallel": b.tensor_parallel,
            "board_link_bits": {str(i): int(v) for i, v in enumerate(bits) if v},
            "board_link_energy_pj": float(bits.sum() * b.link_pj_per_bit),
            "chip_busy_cycles": sched.busy.reshape(chip.mesh.chips, -1).max(axis=1).tolist()}


def simulate_chip(trace: Trace, spec: HwSpec, *, check: bool = False, engine: str = "fast", command: str = "",
                  config_text: str = "", progress: Callable[[int, int], None] | None = None,
                  timeline=None) -> Results:
    """Replay ``trace`` on the many-core chip of ``spec`` (see :mod:`neurosim.engine.chip`);
    ``check`` adds each op's functional check (the ops with weight codes); ``timeline`` receives
    the chip's schedule: each item's chunks on the track of its core group."""
    chip = ChipReplay(trace, spec, check=check, engine=engine)
    total = len(trace.ops) + len(trace.manifest.vector_ops)
    try:
        pending = []
        for make in _items(chip):
            pending.append(make)
            if progress:
                progress(len(pending), total)
        items = [make() for make in pending]
    except BaseException:
        chip.core.cancel()
        raise
    powered = powered_cores(chip, items)
    layers, phases, sched = _schedule(chip, items, powered)
    if timeline is not None:
        timeline.add(sched.intervals)
    cores = chip.mesh.cores
    useful = np.zeros(cores)
    for item, layer in zip(items, layers, strict=True):  # an item's useful work, shared evenly by its cores
        useful[list(item.cores)] += sum(layer.counters.get(k, 0) for k in chip.core.design.useful_ops) / len(item.cores)
    pe_cycles = chip.core.chip.processing_elements() * max(1, sched.now)
    mesh_bits = sched.link_bits[:chip.mesh.board_base]  # the chips' meshes; the board's links in _board_extra
    extra = {"mesh": list(spec.system.mesh), "cores": cores, "placement": chip.placement.to_dict(),
             "kv_cache": "sram" if chip.core.chip.kv_on_chip else "dram",
             "core_busy_cycles": sched.busy.tolist(),
             "core_utilization": (sched.busy / max(1, sched.now)).tolist(),
             "core_spatial_utilization": (useful / pe_cycles).tolist(),
             "link_bits": {str(i): int(b) for i, b in enumerate(mesh_bits) if b},
             "link_energy_pj": {str(i): float(b * chip.prices["noc.link_bits"]) for i, b in enumerate(mesh_bits) if b},
             "weight_load": _weight_load(chip)}
    if chip.mesh.chips > 1:
        extra |= _board_extra(chip, sched)
    area = {k: v * cores for k, v in chip.core.area.items()} if chip.core.area else None
    extra["powered_cores"] = powered
    return results_of(chip.core, layers, command, config_text, phase_cycles=phases, capped=False, chip=extra,
                      static_mw=chip.core.static_mw * extra["powered_cores"], area=area, energy_table={**chip.core.pj_by_spec[
                          chip.core.built], **chip.prices})
