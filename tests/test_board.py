"""A board of chips: the board's routes (a one-chip board is its chip's mesh), a ring all-reduce
on four chips in closed form (bits per link, time), an op whose input crosses one chip-to-chip
link counted by hand, tensor-parallel placement, the real whole-inference trace on a board
(conservation), and hostile boards refused in one line."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import BIG_MAC_SRAMS, ROOT, assert_run_refused, make_trace, spec
from hypothesis import given, settings
from hypothesis import strategies as st

from neurosim.api import simulate
from neurosim.engine.chip_traffic import board_timing
from neurosim.hw.board import Board
from neurosim.hw.noc import Mesh, Message, deliver, link_bits, route_messages
from neurosim.mapping.mapper import place
from neurosim.trace import Recipe
from neurosim.trace.manifest import Op

PLAIN = Recipe(salient_bits=4, salient_rule="none")
REAL = ROOT / "traces/smollm2_wikitext_l1_p64_d8"


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5), st.data())
def test_a_one_chip_board_is_its_mesh(w, h, data):
    mesh, board = Mesh(w, h), Board(Mesh(w, h))
    a, b = data.draw(st.integers(0, w * h - 1)), data.draw(st.integers(0, w * h - 1))
    assert board.route(a, b) == mesh.route(a, b) and board.link_slots == mesh.link_slots
    assert board.edge_of(b) == 0


@pytest.mark.parametrize("topology,src,dst,hops", [
    ("ring", 0, 1, 1), ("ring", 0, 5, 1), ("ring", 0, 3, 3), ("ring", 1, 4, 3), ("ring", 5, 2, 3),
    ("mesh", 0, 5, 3), ("mesh", 2, 3, 3), ("all_to_all", 0, 5, 1), ("all_to_all", 4, 1, 1)])
def test_board_routes_take_the_topologys_shortest_path(topology, src, dst, hops):
    """Six chips as 3 x 2: a ring goes the shorter way round (clockwise on a tie), the mesh XY,
    all-to-all one link."""
    board = Board(Mesh(1, 1), 3, 2, topology)
    path = board.chip_route(src, dst)
    assert len(path) == hops and all(link >= board.board_base for link in path)
    assert len(set(path)) == len(path)
    if topology == "ring" and (dst - src) % 6 <= 3:
        assert path == [board.board_base + 2 * ((src + i) % 6) for i in range(hops)]


def test_a_core_reaches_another_chip_through_both_edges():
    """Core 5 of chip 0 (2 x 3 meshes) to core 4 of chip 1: to its chip's port (core 0: 1 + 2 hops),
    one board link, from chip 1's port to its core 4 (0 + 2 hops)."""
    board = Board(Mesh(2, 3), 2, 1, "ring")
    path = board.route(5, 6 + 4)
    assert len(path) == 3 + 1 + 2
    assert [link >= board.board_base for link in path] == [False] * 3 + [True] + [False] * 2


def test_a_ring_all_reduce_on_four_chips_takes_its_closed_form():
    """A ring all-reduce of S bits on n = 4 chips: 2 (n - 1) steps (reduce-scatter, then
    all-gather), in each of which every chip sends S / n bits to the next one. Each clockwise
    link carries 2 (n - 1) S / n bits, the other way none; each step takes, with no contention, the
    source router + the flits at the link's cycles per flit + its latency + the next router."""
    n, S, flit, router, lat, cpf = 4, 4 * 6400, 64, 2, 7, 3
    board = Board(Mesh(1, 1), n, 1, "ring")
    lat_a, cpf_a = board.link_timing(1, lat, cpf)
    free = np.zeros(board.link_slots, np.int64)
    carried = np.zeros(board.link_slots, np.int64)
    now = 0
    for _ in range(2 * (n - 1)):
        msgs = [Message(c, ((c + 1) % n,), S // n, S // n // flit, now) for c in range(n)]
        routed = route_messages(board, msgs, True)
        d = deliver(board, routed, router, 1, free, lat_a, cpf_a)
        carried += link_bits(board, routed)
        now = int(d.arrival.max())
    step = router + (S // n // flit) * cpf + lat + router
    assert now == 2 * (n - 1) * step
    ring = carried[board.board_base:]
    assert ring[0::2].tolist() == [2 * (n - 1) * S // n] * n and not ring[1::2].any()


def _two_chips(tmp_path, **board):
    """One 8 x 16 x 16 op on tiny_mac cores that hold 8 columns each: two shards, one per chip of
    a board of two one-core chips."""
    codes = np.random.default_rng(1).choice([-3, -2, -1, 1, 2, 3], (8, 16)).astype(np.int8)
    path = make_trace(tmp_path / "t", codes, 16, recipe=PLAIN)
    over = {**BIG_MAC_SRAMS, "weight_sram.size_kib": 0.125, "system.weights": "resident", "system.mesh": "[1,1]",
            "board.chips": "[2,1]", **board}
    return path, spec("tiny_mac", **over)


def test_an_input_crossing_one_chip_link_hand_counted(tmp_path):
    """As the chip's hand-counted op (tests/test_chip.py): 688 bits on the wire in 11 flits, from
    DRAM through chip 0's core 0 to chip 1's core 0, now over the board's link (50 ns at 200 MHz =
    10 cycles; 0.6 GB/s = 24 bits a cycle: 3 cycles per 64-bit flit). Its head arrives after
    2 + 10 + 2 cycles, its tail after 2 + 11 x 3 + 10 + 2; the link bits are the board's, priced
    at its pJ per bit."""
    path, s = _two_chips(tmp_path, **{"board.link_latency_ns": 50, "board.link_bandwidth_gbps": 0.6,
                                      "board.link_pj_per_bit": 1.25})
    r = simulate(path, s)
    (layer,) = r.layers
    assert r.chip["placement"]["weights"][0]["cores"] == [0, 1] and r.chip["chips"] == [2, 1]
    assert layer.counters["noc.board_link_bits"] == 688 and layer.counters.get("noc.link_bits", 0) == 0
    assert layer.counters["noc.router_bits"] == 2 * 688
    assert r.chip["board_link_bits"] == {"0": 688} and r.chip["board_link_energy_pj"] == 688 * 1.25
    assert layer.energy_by_action_pj["noc.board_link_bits"] == 688 * 1.25
    one = simulate(path, dataclasses.replace(s, board=dataclasses.replace(s.board, chips=(1, 1)),
                                             system=dataclasses.replace(s.system, mesh=(2, 1))))
    assert layer.stall_cycles["noc"] == 2 + 10 + 2
    assert r.phases["prefill"]["cycles"] == 14 + one.layers[0].cycles
    assert layer.counters["mac_array.mac"] == one.layers[0].counters["mac_array.mac"]
    board = Board(Mesh(1, 1), 2, 1)
    lat, cpf = board_timing(board, s)
    assert set(lat[board.board_base:].tolist()) == {10} and set(cpf[board.board_base:].tolist()) == {3}


def test_tensor_parallel_deals_each_matrix_to_the_chips_of_a_group():
    """Four chips of 2 x 1 cores, two per group; matrices of 4 column blocks of 8 (a core holds
    8 columns of 16 four-bit weights): blocks 0-1 on chip 0, 2-3 on chip 1; the next matrix on
    chips 2 and 3 (chips 0 and 1 are full); without tensor parallelism chip by chip."""
    ops = [Op(f"layers.{i}.q_proj", "linear", 8, 16, 32, 4, "a", "s") for i in range(2)]
    m = SimpleNamespace(ops=ops, vector_ops=())
    cap = 8 * (16 * 4 + 16)
    tp = place(m, 2, 1, cap, 4, 4, chips=4, tensor_parallel=2)
    assert [w.cores for w in tp.weights] == [(0, 1, 2, 3), (4, 5, 6, 7)]
    pp = place(m, 2, 1, cap, 4, 4, chips=4)
    assert [w.cores for w in pp.weights] == [(0, 1, 2, 3), (4, 5, 6, 7)]
    tp4 = place(m, 2, 1, cap, 4, 4, chips=4, tensor_parallel=4)
    assert [w.cores for w in tp4.weights] == [(0, 2, 4, 6), (1, 3, 5, 7)]


@pytest.mark.parametrize("board", [{"board.chips": "[2,1]"}, {"board.chips": "[2,1]", "board.tensor_parallel": 2},
                                   {"board.chips": "[3,1]", "board.topology": "ring"}])
def test_a_board_does_the_chips_arithmetic_and_conserves_energy(board):
    """The real whole-inference trace on a board of 4 x 3 meshes: the same useful work as on one
    chip that holds it, the energy the sum of its priced actions, every board link bit some op's."""
    over = {"system.mesh": "[5,4]", "system.weights": "resident", "weight_sram.size_kib": 128}
    one = simulate(REAL, spec("acc_if_64x64", **over), verify=False)
    r = simulate(REAL, spec("acc_if_64x64", **{**over, "system.mesh": "[4,3]", **board}), verify=False)
    total = lambda res, k: sum(la.counters.get(k, 0) for la in res.layers)  # noqa: E731
    assert total(r, "array.accumulate") == total(one, "array.accumulate")
    assert total(r, "noc.board_link_bits") == sum(r.chip["board_link_bits"].values()) > 0
    board_pj = sum(la.energy_by_action_pj.get("noc.board_link_bits", 0) for la in r.layers)
    assert board_pj == pytest.approx(total(r, "noc.board_link_bits") * r.energy_table_pj["noc.board_link_bits"])
    assert r.energy_pj["total"] == pytest.approx(sum(la.energy_pj["total"] for la in r.layers))


@pytest.mark.parametrize("over,where", [
    ({"board.chips": "[1000000,1]"}, "board.chips[0]"), ({"board.chips": "[1000,1000]"}, "board.chips[0]"),
    ({"board.chips": "[32,32]", "system.mesh": "[128,128]"}, "board.chips"),  # 16.8 million cores
    ({"board.link_bandwidth_gbps": "0"}, "board.link_bandwidth_gbps"), ({"board.tensor_parallel": "3"}, "board.tensor_parallel"),
    ({"board.topology": "torus"}, "board.topology"), ({"system.weights": "streamed"}, "system.weights"),
])
def test_hostile_boards_exit_2_naming_file_and_key(capsys, tmp_path, over, where):
    assert_run_refused(capsys, tmp_path / "o", {"board.chips": "[2,2]", "system.weights": "resident", **over}, where)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 2),
       st.sampled_from(["ring", "mesh", "all_to_all"]), st.data())
def test_a_multicast_tree_is_the_union_of_the_routes(w, h, cx, cy, topology, data):
    """Each destination's chain of parents in the tree is its route, and no link is in the tree
    twice: the routers copy where the routes fork."""
    board = Board(Mesh(w, h), cx, cy, topology)
    src = data.draw(st.integers(0, board.cores - 1))
    dsts = tuple(data.draw(st.lists(st.integers(0, board.cores - 1), min_size=1, max_size=8)))
    links, parents, reach = board.tree(src, np.asarray(dsts))
    assert len(set(links.tolist())) == len(links)
    for d, e in zip(dsts, reach.tolist(), strict=True):
        chain = []
        while e >= 0:
            chain.append(int(links[e]))
            e = int(parents[e])
        assert chain[::-1] == board.route(src, d)
