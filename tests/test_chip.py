"""The many-core chip: a one-op case counted by hand (its input crossing one hop, the op split
over two cores), conservation on the real whole-inference trace (the chip does the single
core's arithmetic, energy is the sum of its parts, every link bit is some item's), a one-core
chip with resident weights, and hostile configs refused in one line per problem."""

import dataclasses

import numpy as np
import pytest
from helpers import BIG_MAC_SRAMS, ROOT, assert_run_refused, make_trace, spec

from neurosim.api import simulate
from neurosim.cli import main
from neurosim.config.energy_table import load_energy_table
from neurosim.hw.noc import zero_load_cycles
from neurosim.trace import Recipe

PLAIN = Recipe(salient_bits=4, salient_rule="none")
REAL = ROOT / "traces/smollm2_wikitext_l1_p64_d8"
MESH = {"system.mesh": "[5,4]", "system.weights": "resident", "weight_sram.size_kib": 128}


def _tiny_chip(tmp_path, mesh):
    """One 8 x 16 x 16 op, every code nonzero, on tiny_mac cores whose 1 Kibit weight SRAM holds
    12 columns of 16 four-bit weights and their constants: two shards of 8 columns."""
    codes = np.random.default_rng(1).choice([-3, -2, -1, 1, 2, 3], (8, 16)).astype(np.int8)
    path = make_trace(tmp_path / "t", codes, 16, recipe=PLAIN)
    over = {**BIG_MAC_SRAMS, "weight_sram.size_kib": 0.125, "system.weights": "resident", "system.mesh": mesh}
    return path, spec("tiny_mac", **over)


def test_one_op_on_two_cores_hand_counted(tmp_path):
    """Dense codes (8 x 16 x 4 bits + 8 fp16 scales = 640 bits) beat events (128 nonzero x
    (4 + 4) + 128 = 1152): 640 bits in 3 packets of 16-bit headers = 688 bits, 11 flits of 64.
    They come from DRAM through core 0 (640 DRAM bits), reach core 1 over one link (688 link
    bits, 2 x 688 router bits) after 2 routers + 1 link + 11 flits = 16 cycles, its head after 5;
    both cores then run their 8-column shard (its tile pipeline streams the flits in through the
    core's port): the phase takes 5 + the shard's cycles on one core."""
    path, s = _tiny_chip(tmp_path, "[2,1]")
    r = simulate(path, s)
    (layer,) = r.layers
    assert r.chip["placement"]["weights"][0]["cores"] == [0, 1] and layer.N == 16
    assert layer.counters["dram.read_bits"] == 640
    assert layer.counters["noc.link_bits"] == 688 and layer.counters["noc.router_bits"] == 2 * 688
    assert r.chip["link_bits"] == {"0": 688}  # core 0's east link
    assert zero_load_cycles(1, 11, 2, 1) == 16
    one = simulate(make_trace(tmp_path / "half", np.random.default_rng(1).choice(
        [-3, -2, -1, 1, 2, 3], (8, 16)).astype(np.int8), 8, recipe=PLAIN), dataclasses.replace(
        s, system=dataclasses.replace(s.system, mesh=(1, 1))))
    assert r.phases["prefill"]["cycles"] == 16 - 11 + one.layers[0].cycles
    assert layer.stall_cycles["noc"] == 16 - 11  # both cores waited for the head to reach core 1
    assert layer.cycles == one.layers[0].cycles
    assert layer.counters["mac_array.mac"] == 8 * 16 * 16 == 2 * one.layers[0].counters["mac_array.mac"]
    assert "dram" not in layer.memory  # the cores never touch DRAM (core 0's router does)
    assert layer.memory["noc_port"]["read_bits"] == 2 * 640  # each core's tile in through its port


@pytest.fixture(scope="module")
def real_runs():
    out = {}
    for name in ("acc_if_64x64", "mac_64x64_ws_tree_outlier"):
        out[name] = (simulate(REAL, spec(name, **MESH), verify=False), simulate(REAL, spec(name), verify=False))
    return out


@pytest.mark.parametrize("name,useful", [("acc_if_64x64", "array.accumulate"),
                                         ("mac_64x64_ws_tree_outlier", "mac_array.mac")])
def test_the_chip_does_the_single_cores_arithmetic(real_runs, name, useful):
    chip, one = real_runs[name]
    total = lambda r, k: sum(la.counters.get(k, 0) for la in r.layers)  # noqa: E731
    assert total(chip, useful) == total(one, useful)
    assert [la.N for la in chip.layers] == [la.N for la in one.layers]
    assert total(chip, "dram.read_bits") < total(one, "dram.read_bits") / 50  # no weights from DRAM


@pytest.mark.parametrize("name", ["acc_if_64x64", "mac_64x64_ws_tree_outlier"])
def test_chip_energy_is_the_sum_of_its_parts(real_runs, name):
    r, _ = real_runs[name]
    pj = r.energy_table_pj
    for la in r.layers:  # (the cores' own actions are priced at each op's widths, as on one core)
        assert sum(la.energy_by_action_pj.values()) == pytest.approx(la.energy_pj["total"], rel=1e-9)
        for k in ("noc.link_bits", "noc.router_bits", "dram.read_bits", "dram.write_bits"):
            assert la.energy_by_action_pj.get(k, 0) == pytest.approx(la.counters.get(k, 0) * pj[k], rel=1e-12)
    assert sum(la.energy_pj["total"] for la in r.layers) == pytest.approx(r.energy_pj["total"], rel=1e-9)
    assert r.energy_by_category_pj["noc"] > 0
    assert sum(int(b) for b in r.chip["link_bits"].values()) == sum(la.counters.get("noc.link_bits", 0)
                                                                   for la in r.layers)
    leak = r.static_power_mw * 1e-3 * sum(p["seconds"] for p in r.phases.values()) * 1e12
    assert r.energy_by_category_pj["static"] == pytest.approx(leak, rel=1e-9)
    assert max(r.chip["core_busy_cycles"]) <= r.scheduled_cycles
    useful = sum(la.counters.get(k, 0) for la in r.layers for k in ("array.accumulate", "array.tree_add",
                                                                     "salient_lanes.accumulate", "mac_array.mac",
                                                                     "outlier_unit.mac"))
    pes = 64 * 64 + (128 if name.startswith("mac") else 0)  # the array, and the MAC's 128-lane side unit
    assert sum(r.chip["core_spatial_utilization"]) * pes * r.scheduled_cycles == pytest.approx(useful, rel=1e-9)
    assert 0 < max(r.chip["core_spatial_utilization"]) <= 1
    assert r.chip["kv_cache"] == "sram" and r.inference["kv_read_bits"] == 0


def test_noc_prices_follow_the_table_and_the_core_area(real_runs):
    r, _ = real_runs["acc_if_64x64"]
    table = load_energy_table(r.technology)
    side_mm = (r.area_mm2["total"] / r.chip["cores"]) ** 0.5
    assert r.energy_table_pj["noc.router_bits"] == table["noc_router_bit"]
    assert r.energy_table_pj["noc.link_bits"] == pytest.approx(table["wire_repeated"] * side_mm * 0.5)


def test_a_model_that_does_not_fit_the_mesh_is_refused_in_one_line(capsys, tmp_path):
    code = main(["run", str(REAL), "--hw", str(ROOT / "hw_configs/acc_if_64x64.yaml"), "--set", "system.mesh=[4,4]",
                 "--set", "system.weights=resident", "--set", "weight_sram.size_kib=128", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "hw_configs/acc_if_64x64.yaml: system.mesh:" in err[0] and "short by 3" in err[0]


@pytest.mark.parametrize("key,value,where", [
    ("system.mesh", "[0,4]", "system.mesh[0]"), ("system.mesh", "[1000000,4]", "system.mesh[0]"),
    ("system.mesh", "[4]", "system.mesh"), ("noc.link_width_bits", "0", "noc.link_width_bits"),
    ("weight_sram.size_kib", "0", "weight_sram.size_kib"), ("system.weights", "streamed", "system.weights"),
])
def test_hostile_chip_configs_exit_2_naming_file_and_key(capsys, tmp_path, key, value, where):
    assert_run_refused(capsys, tmp_path / "o", {"system.mesh": "[2,2]", "system.weights": "resident", key: value}, where)


def test_check_holds_on_every_core_of_the_chip():
    """Each core computes a column block of each op on the one core model; the ops' checks
    (every output column, one core's each) find no mismatch on either chip."""
    for name in ("manycore_acc_if", "manycore_mac"):
        r = simulate(REAL, ROOT / "hw_configs" / f"{name}.yaml", overrides=["system.mesh=[5,4]"], check=True,
                     verify=False)
        checked = [la for la in r.layers if la.check is not None]
        assert len(checked) == 117
        assert sum(la.check["accumulation_mismatches"] for la in checked) == 0
        assert all(la.check["outputs"] == la.M * la.N for la in checked)


def test_a_sweep_over_meshes_and_noc_options(tmp_path):
    """A list value is one sweep value (commas inside brackets stay), one table cell (5x4)."""
    from neurosim.api import sweep

    df = sweep(ROOT / "hw_configs/manycore_mac.yaml", [REAL], tmp_path / "s", grid=["system.mesh=[5,4],[6,4]",
                                                                                 "noc.multicast=true,false"])
    assert sorted(df["system.mesh"].unique()) == ["5x4", "6x4"] and (df["status"] == "ok").all()
    uni = df[df["noc.multicast"] == False]["energy_pj_noc"].to_numpy()  # noqa: E712
    multi = df[df["noc.multicast"] == True]["energy_pj_noc"].to_numpy()  # noqa: E712
    assert (uni >= multi).all() and (uni > multi).any()


def test_an_op_folded_over_layers_moves_its_inputs_layer_by_layer():
    """A synthetic decode op folded over r layers (repeat r) runs on r blocks of cores: its input
    goes block to block (from DRAM into the first layer, each later layer's from the layer
    before), never from every layer to every layer; heads sharing one core stay one block."""
    from neurosim.engine.chip import EDGE, Transfer, blocks, blockwise

    assert blocks((4, 5, 6, 7), 2) == 2 and blocks((4,), 3) == 1 and blocks(tuple(range(30)), 90) == 30
    assert blockwise((EDGE,), (4, 5, 6, 7), 100, 4, 2) == [Transfer((EDGE,), (4, 5), 50, 2),
                                                         Transfer((4, 5), (6, 7), 50, 2)]
    assert blockwise((1, 2), (4, 5, 6, 7), 100, 0, 2) == [Transfer((1,), (4, 5), 50), Transfer((2,), (6, 7), 50)]
    assert blockwise((1, 2, 3), (4, 5), 100, 0, 1) == [Transfer((1, 2, 3), (4, 5), 100)]


def test_every_core_writes_its_outputs_at_the_ops_salient_share(real_runs):
    """A shard writes back the op's outputs: their salient share is the op's own, as on one core
    (not the input's)."""
    for name in ("acc_if_64x64", "mac_64x64_ws_tree_outlier"):
        chip, one = real_runs[name]
        for a, b in zip(chip.layers, one.layers, strict=True):
            assert a.output_salient_ratio == b.output_salient_ratio, a.name


@pytest.mark.parametrize("name", ["manycore_acc_if", "manycore_mac"])
def test_power_gating_leaks_the_powered_cores_or_the_working_ones(name):
    """none: all 676 cores leak over the run; unused: the 18 cores holding a layer's weights (the
    same leakage x 18/676); idle: each core only while it works (its busy cycles)."""
    runs = {g: simulate(REAL, ROOT / "hw_configs" / f"{name}.yaml", overrides=[f"system.power_gating={g}"],
                        verify=False) for g in ("none", "unused", "idle")}
    none, unused, idle = runs["none"], runs["unused"], runs["idle"]
    assert none.chip["powered_cores"] == 676 and unused.chip["powered_cores"] == idle.chip["powered_cores"] == 18
    assert unused.energy_by_category_pj["static"] == pytest.approx(none.energy_by_category_pj["static"] * 18 / 676,
                                                                   rel=1e-9)
    per_core_mw = none.static_power_mw / 676
    busy_s = sum(idle.chip["core_busy_cycles"]) / (idle.clock_mhz * 1e6)
    assert idle.energy_by_category_pj["static"] == pytest.approx(per_core_mw * 1e-3 * busy_s * 1e12, rel=1e-9)
    for g in ("unused", "idle"):  # gating moves only the static energy (the clock runs in busy cycles)
        assert runs[g].energy_pj["total"] - runs[g].energy_by_category_pj["static"] == pytest.approx(
            none.energy_pj["total"] - none.energy_by_category_pj["static"], rel=1e-9)


def test_an_input_split_matrix_hand_counted(tmp_path):
    """8 x 64 x 8 on tiny_mac cores of 1 Kibit weight SRAM: 8 columns of 64 weights do not fit
    (8 x (64 x 4 + 16) bits), of 24 rows do (896): three row blocks of 24, 24 and 16 rows on cores
    0, 1, 2 of a 3 x 1 mesh. The input (dense: 8 x 64 x 4 + 8 x 16 = 2176 bits) goes to each block
    from DRAM through core 0, its share of the rows: 816 bits in 4 packets to core 1 (880 on one
    link), 544 in 3 to core 2 (592 on two); each later block's partial sums (8 x 8 x 32 = 2048 bits,
    8 packets: 2176) go back to core 0 over one and two links. Every product counted once."""
    codes = np.random.default_rng(2).choice([-3, -2, -1, 1, 2, 3], (8, 64)).astype(np.int8)
    path = make_trace(tmp_path / "t", codes, 8, recipe=PLAIN)
    s = spec("tiny_mac", **{**BIG_MAC_SRAMS, "weight_sram.size_kib": 0.125, "system.weights": "resident",
                            "system.mesh": "[3,1]"})
    r = simulate(path, s)
    (layer,) = r.layers
    w = r.chip["placement"]["weights"][0]
    assert (w["n_split"], w["k_split"], w["shard_k"], w["cores"]) == (1, 3, 24, [0, 1, 2])
    assert (layer.M, layer.K, layer.N) == (8, 64, 8) and layer.counters["mac_array.mac"] == 8 * 64 * 8
    assert layer.counters["dram.read_bits"] == 816 + 816 + 544
    assert layer.counters["noc.link_bits"] == 880 + 2 * 592 + 2176 + 2 * 2176
    # links (core x 4 + E 0 / W 1): 0->1 carries both inputs, 1->2 the last; 2->1 one partial sum, 1->0 both
    assert r.chip["link_bits"] == {"0": 880 + 592, "4": 592, "9": 2176, "5": 2 * 2176}


def test_the_chip_timeline_is_its_schedule(tmp_path):
    """--timeline on the chip: one interval per item and chunk (the prefill's 64 tokens in 8 chunks,
    each decode step one), on its core group's track; a group's intervals never overlap and the
    last ends with the run."""
    import json

    assert main(["run", str(REAL), "--hw", str(ROOT / "hw_configs/manycore_mac.yaml"), "--set", "system.mesh=[5,4]",
                 "--out", str(tmp_path / "o"), "--timeline", "op"]) == 0
    from neurosim.api import load_results

    r = load_results(tmp_path / "o" / "manycore_mac")
    events = json.loads((tmp_path / "o" / "manycore_mac" / "timeline.json").read_text())
    events = events["traceEvents"] if isinstance(events, dict) else events
    spans = [e for e in events if e["ph"] == "X"]
    prefill = sum(1 for la in r.layers if la.phase == "prefill")
    assert len(spans) == 8 * prefill + sum(1 for la in r.layers if la.phase == "decode")
    by_track: dict = {}
    for e in spans:
        by_track.setdefault(e["tid"], []).append((e["args"]["start_cycle"], e["args"]["end_cycle"]))
    for track in by_track.values():
        track.sort()
        assert all(a[1] <= b[0] for a, b in zip(track, track[1:], strict=False))
    assert max(e["args"]["end_cycle"] for e in spans) == r.scheduled_cycles


def test_sensitivity_swings_the_chips_keys_on_both_designs(tmp_path):
    """One parameter at a time on both many-core chips: gating idle cores lowers both designs'
    energy of the real whole inference (leakage of every core is a large share with every core on),
    multicast lowers it too."""
    from neurosim.api import sensitivity

    df = sensitivity((ROOT / "hw_configs/manycore_mac.yaml", ROOT / "hw_configs/manycore_acc_if.yaml"), REAL,
                     tmp_path / "s", params=["system.power_gating=none,idle", "noc.multicast=true,false"], plots=False)
    assert (df["status"] == "ok").all() and len(df) == 5
    rows = {str(v): row for v, row in zip(df["value"], df.itertuples(), strict=True)}
    for side in ("energy_a_pj", "energy_b_pj"):
        assert getattr(rows["idle"], side) < getattr(rows["none"], side)
        assert getattr(rows["True"], side) <= getattr(rows["False"], side)


def test_after_the_layers_folded_in_decode_the_lm_head_reads_the_last_layer(tmp_path):
    """A synthetic decode step folds each projection over the layers (one op, its cores every
    layer's); the LM head after them reads the last layer's down_proj cores only, not all 30 layers'."""
    from neurosim.engine.chip import ChipReplay
    from neurosim.engine.chip_run import _items
    from neurosim.trace.inference import write_inference
    from neurosim.trace.reader import open_trace
    from neurosim.trace.synth import resolve_model

    m = resolve_model("smollm2-135m")
    trace = open_trace(write_inference(tmp_path / "t", m, 4, 1, m.layers, seed=0))
    chip = ChipReplay(trace, spec("manycore_mac"))
    items = [make() for make in _items(chip)]
    names = [it.layer.name for it in items]
    head = items[names.index("decode.0.lm_head")]
    down = next(op for op in trace.ops if op.phase == "decode" and op.name.endswith("down_proj"))
    cores = chip.op_cores[down.name]
    assert down.repeat == m.layers and len(cores) == m.layers * 4  # 4 cores per layer's down_proj
    assert {c for t in head.transfers for c in t.src} == set(cores[-4:])


def test_attention_heads_spread_over_the_layers_k_and_v_cores(tmp_path):
    """With the K and V projections split over several cores (16 KiB of weights per core), the
    exported op of KV head h runs on the core that holds head h's columns, and a synthetic op of
    several heads one head per core: the same accumulations as with every head on one core (a
    5 x 4 mesh of 128 KiB cores)."""
    from neurosim.engine.chip import ChipReplay
    from neurosim.engine.chip_run import _items
    from neurosim.trace.inference import write_inference
    from neurosim.trace.reader import open_trace
    from neurosim.trace.synth import resolve_model

    split = spec("manycore_acc_if", **{"system.mesh": "[14,14]", "weight_sram.size_kib": 16})
    chip = ChipReplay(open_trace(REAL), split)
    items = {it.layer.name: it for it in (make() for make in _items(chip))}
    k_cores = chip.op_cores["layers.0.self_attn.k_proj"]
    assert len(k_cores) == 6
    for h in range(3):  # SmolLM2's 3 KV heads, 2 cores of K columns each
        assert items[f"layers.0.self_attn.attn_qk.kv{h}"].cores == (k_cores[2 * h],)
    one = {la.name: la for la in simulate(REAL, spec("manycore_acc_if", **{"system.mesh": "[5,4]"}), verify=False).layers}
    for name, it in items.items():
        if it.layer.kind.startswith("attn"):
            assert it.layer.counters["array.accumulate"] == one[name].counters["array.accumulate"]
    m = resolve_model("smollm2-135m")
    trace = open_trace(write_inference(tmp_path / "t", m, 8, 1, 1, seed=0))
    synthetic = ChipReplay(trace, split)
    repeat = {op.name: op.repeat for op in trace.ops}
    for it in (make() for make in _items(synthetic)):
        if it.layer.kind == "attn_qk" and it.layer.phase == "prefill":
            assert len(it.cores) == min(repeat[it.layer.name], len(synthetic.op_cores[it.layer.name])) == 3


@pytest.mark.parametrize("seed", range(4))
def test_tensor_stats_count_every_code(seed):
    """Nonzero entries, salient entries (|q| > normal max) and spikes (sum of |q|) of a column
    slice of int8 codes, -128 included, counted with plain numpy."""
    from neurosim.engine.chip_traffic import tensor_stats

    rng = np.random.default_rng(seed)
    codes = rng.integers(-128, 128, (int(rng.integers(1, 300)), 80)).astype(np.int8)
    codes[rng.random(codes.shape) < 0.3] = 0
    view = codes[:, 3:71]
    s = tensor_stats(view, 7)
    a = np.abs(view.astype(np.int64))
    assert (s.tokens, s.width, s.nonzero, s.salient, s.spikes) == (len(a), 68, (a > 0).sum(), (a > 7).sum(), a.sum())


def test_the_route_memo_moves_no_cycle(monkeypatch):
    """Deliveries replayed from a route's memo (``Route.timings``, by its links' occupancy) time
    the whole inference as the kernel does when every send runs it (the memo's invariance is
    the property in tests/test_noc.py); the run meets contended patterns more than once."""
    import neurosim.engine.chip as chip

    sent = []
    kernel = chip.deliver
    monkeypatch.setattr(chip, "deliver", lambda *a, **k: sent.append(1) or kernel(*a, **k))
    cfg = spec("acc_if_64x64", **MESH, **{"noc.link_cycles": 4})
    memo = simulate(REAL, cfg, verify=False)
    with_memo = len(sent)
    monkeypatch.setattr(chip, "TIMINGS_PER_ROUTE", 0)
    plain = simulate(REAL, cfg, verify=False)
    assert with_memo < len(sent) / 2
    assert memo.scheduled_cycles == plain.scheduled_cycles and memo.phases == plain.phases
    assert [la.stall_cycles for la in memo.layers] == [la.stall_cycles for la in plain.layers]
    assert memo.energy_pj == plain.energy_pj
