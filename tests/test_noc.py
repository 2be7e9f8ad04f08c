"""The mesh NoC: closed-form latency and link bits on 2x2 and 4x4 meshes, a contention case and
multicast counted by hand, conservation properties, and the compiled timing equal to the
cycle-stepped simpy arbiter."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurosim.engine.noc_reference import deliver_reference
from neurosim.hw.noc import Mesh, Message, deliver, link_bits, route_messages, router_bits, zero_load_cycles


@pytest.mark.parametrize("w,h", [(2, 2), (4, 4)])
@pytest.mark.parametrize("router,link", [(1, 1), (3, 2)])
def test_a_lone_message_takes_the_closed_form_on_every_pair(w, h, router, link):
    """Every (src, dst) pair: (hops + 1) routers + hops links + flits cycles after it is ready;
    its bits on exactly the hops links of its XY path and on hops + 1 routers."""
    mesh = Mesh(w, h)
    for src, dst in itertools.product(range(mesh.cores), repeat=2):
        hops = abs(src % w - dst % w) + abs(src // w - dst // w)
        routed = route_messages(mesh, [Message(src, (dst,), bits=96, flits=2, ready=5)], multicast=False)
        d = deliver(mesh, routed, router, link)
        assert int(d.arrival[0]) == 5 + ((hops + 1) * router + hops * link + 2 if hops else 0)
        assert int(d.arrival[0]) - 5 == zero_load_cycles(hops, 2, router, link)
        bits = link_bits(mesh, routed)
        assert bits.sum() == 96 * hops and set(np.unique(bits)) <= {0, 96}
        assert router_bits(routed) == (96 * (hops + 1) if hops else 0)
        assert d.contention_cycles == 0


def test_two_messages_on_one_link_hand_counted():
    """Row 0 of a 4x4 mesh, 4 flits each, router and link 1 cycle: m0 goes 0 -> 3, m1 goes
    1 -> 3, both ready at 0. m1 takes link 1->2 at cycle 1 (until 5); m0 asks for it at 3 and
    waits 2 cycles; m1 crosses 2->3 at 3-7, m0 at 7-11. m1 arrives at 3 + 1 + 1 + 4 = 9, m0 at
    7 + 1 + 1 + 4 = 13 (its zero-load 11, plus the 2 cycles it waited)."""
    mesh = Mesh(4, 4)
    routed = route_messages(mesh, [Message(0, (3,), 256, 4), Message(1, (3,), 256, 4)], multicast=False)
    d = deliver(mesh, routed, 1, 1)
    assert d.arrival.tolist() == [13, 9]
    assert d.edge_start.tolist() == [1, 5, 7, 1, 3]
    assert d.edge_wait.tolist() == [0, 2, 0, 0, 0]
    assert d.contention_cycles == 2
    east = [c * 4 for c in range(3)]  # links 0->1, 1->2, 2->3 (direction east = 0)
    assert d.link_busy[east].tolist() == [4, 8, 8] and d.link_busy.sum() == 20
    assert link_bits(mesh, routed)[east].tolist() == [256, 512, 512]


def test_multicast_crosses_each_link_of_the_xy_tree_once():
    """Core 0 of a 4x4 mesh to cores 3, 15 and 12: unicast crosses 3 + 6 + 3 = 12 links and
    15 routers (three copies), multicast the 9 links of the tree (the path to 15 shares the
    row with the path to 3) and 10 routers; both deliver to all three."""
    mesh = Mesh(4, 4)
    msg = [Message(0, (3, 15, 12), bits=100, flits=2)]
    uni, multi = route_messages(mesh, msg, False), route_messages(mesh, msg, True)
    assert link_bits(mesh, uni).sum() == 12 * 100 and router_bits(uni) == 15 * 100
    assert link_bits(mesh, multi).sum() == 9 * 100 and router_bits(multi) == 10 * 100
    assert set(np.unique(link_bits(mesh, multi))) == {0, 100}
    # multicast: the copy for 15 leaves the row at core 3, one hop after the copy for 3 arrives there
    d = deliver(mesh, multi, 1, 1)
    assert d.arrival.tolist() == [zero_load_cycles(3, 2, 1, 1), zero_load_cycles(6, 2, 1, 1),
                                  zero_load_cycles(3, 2, 1, 1)]


def _messages(draw, mesh: Mesh, n: int):
    out = []
    for _ in range(n):
        src = draw(st.integers(0, mesh.cores - 1))
        dsts = tuple(draw(st.lists(st.integers(0, mesh.cores - 1), min_size=1, max_size=4, unique=True)))
        flits = draw(st.integers(1, 6))
        out.append(Message(src, dsts, bits=flits * 32, flits=flits, ready=draw(st.integers(0, 12))))
    return out


@st.composite
def traffic(draw):
    mesh = Mesh(draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    return mesh, _messages(draw, mesh, draw(st.integers(1, 6))), draw(st.booleans())


@settings(max_examples=60, deadline=None)
@given(traffic(), st.integers(1, 3), st.integers(1, 2))
def test_compiled_timing_equals_the_simpy_arbiter(case, router, link):
    mesh, msgs, multicast = case
    routed = route_messages(mesh, msgs, multicast)
    fast, ref = deliver(mesh, routed, router, link), deliver_reference(mesh, routed, router, link)
    assert fast.edge_start.tolist() == ref.edge_start.tolist()
    assert fast.edge_wait.tolist() == ref.edge_wait.tolist()
    assert fast.arrival.tolist() == ref.arrival.tolist()
    assert fast.link_busy.tolist() == ref.link_busy.tolist()


@settings(max_examples=80, deadline=None)
@given(traffic(), st.integers(1, 3), st.integers(1, 2))
def test_traffic_is_conserved_and_follows_xy_paths(case, router, link):
    """Unicast link bits = sum of bits x hops; multicast never more; every destination's chain of
    links starts at the source and ends at it; no message arrives before its zero-load time; a
    link is busy exactly the flits of the crossings on it."""
    mesh, msgs, multicast = case
    routed = route_messages(mesh, msgs, multicast)
    uni = route_messages(mesh, msgs, False)
    assert link_bits(mesh, uni).sum() == sum(m.bits * mesh.hops(m.src, d) for m in msgs for d in m.dsts)
    assert link_bits(mesh, routed).sum() <= link_bits(mesh, uni).sum()
    d = deliver(mesh, routed, router, link)
    k = 0
    for m in msgs:
        for dst in m.dsts:
            e, chain = int(routed.dest_edge[k]), []
            while e >= 0:
                chain.append(int(routed.edge_link[e]))
                e = int(routed.edge_parent[e])
            assert chain[::-1] == mesh.route(m.src, dst)
            assert d.arrival[k] >= m.ready + zero_load_cycles(mesh.hops(m.src, dst), m.flits, router, link)
            k += 1
    assert (d.link_busy == np.bincount(routed.edge_link, weights=routed.msg_flits[routed.edge_msg],
                                       minlength=mesh.link_slots)).all()


def test_a_slow_link_paces_the_links_after_it_hand_counted():
    """Row 0 of a 4 x 1 mesh, 0 -> 3, 4 flits, router 1: links 0->1 and 2->3 take 1 cycle per
    flit and 1 of latency, 1->2 takes 3 per flit and 5 of latency (a chip-to-chip link). Heads
    start at 1, 1 + 1 + 1 = 3 and 3 + 5 + 1 = 9; tails leave at 1 + 4 = 5, max(3 + 12, 5 + 1 + 1)
    = 15 and max(9 + 4, 15 + 5 + 1) = 21: the last flit reaches core 3 at 21 + 1 + 1 = 23 (with
    uniform links: 11), its head at 9 + 1 + 1 = 11."""
    mesh = Mesh(4, 1)
    lat, cpf = np.ones(mesh.link_slots, np.int64), np.ones(mesh.link_slots, np.int64)
    lat[1 * 4], cpf[1 * 4] = 5, 3  # core 1's east link
    routed = route_messages(mesh, [Message(0, (3,), 256, 4)], multicast=False)
    d = deliver(mesh, routed, 1, 1, link_lat=lat, link_cpf=cpf)
    assert d.edge_start.tolist() == [1, 3, 9]
    assert d.arrival.tolist() == [23] and d.head_arrival.tolist() == [11]
    assert d.link_busy[[0, 4, 8]].tolist() == [4, 12, 12]  # the last link waits on the slow one
    assert deliver(mesh, routed, 1, 1).arrival.tolist() == [zero_load_cycles(3, 4, 1, 1)] == [11]
    ref = deliver_reference(mesh, routed, 1, 1, link_lat=lat, link_cpf=cpf)
    assert ref.arrival.tolist() == [23] and ref.link_busy.tolist() == d.link_busy.tolist()


@settings(max_examples=60, deadline=None)
@given(traffic(), st.integers(1, 3), st.data())
def test_compiled_timing_equals_the_simpy_arbiter_on_links_that_differ(case, router, data):
    mesh, msgs, multicast = case
    lat = np.array(data.draw(st.lists(st.integers(1, 6), min_size=mesh.link_slots, max_size=mesh.link_slots)),
                   np.int64)
    cpf = np.array(data.draw(st.lists(st.integers(1, 4), min_size=mesh.link_slots, max_size=mesh.link_slots)),
                   np.int64)
    routed = route_messages(mesh, msgs, multicast)
    fast = deliver(mesh, routed, router, 1, link_lat=lat, link_cpf=cpf)
    ref = deliver_reference(mesh, routed, router, 1, link_lat=lat, link_cpf=cpf)
    for f in ("edge_start", "edge_wait", "arrival", "head_arrival", "link_busy"):
        assert getattr(fast, f).tolist() == getattr(ref, f).tolist(), f


def test_times_beyond_the_kernels_keys_are_refused_not_wrapped():
    """A message whose times could pass the int64 heap keys (flits x cycles per flit near 2^62)
    is refused with one message instead of a wrapped, wrong time."""
    from neurosim.errors import NeurosimError

    mesh = Mesh(2, 1)
    routed = route_messages(mesh, [Message(0, (1,), 64, 1 << 50)], True)
    with pytest.raises(NeurosimError, match="beyond the timing kernel"):
        deliver(mesh, routed, 2, 1, link_cpf=np.full(mesh.link_slots, 1 << 12, np.int64))
    assert deliver(mesh, route_messages(mesh, [Message(0, (1,), 64, 1 << 40)], True), 2, 1).arrival[0] == \
        zero_load_cycles(1, 1 << 40, 2, 1)


@settings(max_examples=80, deadline=None)
@given(traffic(), st.integers(1, 3), st.integers(1, 2), st.data())
def test_a_delivery_depends_only_on_its_links_occupancy_past_the_first_request(case, router, link, data):
    """What the chip's route memo (``Route.timings``) relies on: sent at ``ready`` into links next
    free at ``free``, a delivery's times relative to ``ready`` depend only on
    ``max(free - ready - router, 0)`` on its links; a link free before the first head can ask
    for it might as well have been free at any earlier cycle."""
    from neurosim.engine.chip_traffic import shifted

    mesh, msgs, multicast = case
    routed = route_messages(mesh, [Message(m.src, m.dsts, m.bits, m.flits, 0) for m in msgs], multicast)
    links = np.unique(routed.edge_link)
    n = mesh.link_slots
    ready = data.draw(st.lists(st.integers(0, 40), min_size=2, max_size=2))
    busy_past = np.array(data.draw(st.lists(st.integers(-8, 12), min_size=n, max_size=n)))
    seen = []
    for r in ready:  # the same occupancy past the first request; any cycle at or before it
        early = np.array(data.draw(st.lists(st.integers(0, r + router), min_size=n, max_size=n)))
        free = np.where(busy_past > 0, r + router + busy_past, early).astype(np.int64)
        d = deliver(mesh, shifted(routed, r), router, link, free)
        seen.append(((d.arrival - r).tolist(), (d.head_arrival - r).tolist(), (free[links] - r).tolist()))
    assert seen[0] == seen[1]
