"""The simpy reference of the mesh's link contention, cycle by cycle.

Every link crossing is a process: it waits for its parent crossing's grant (the source's:
the message's ready cycle), then the parent link's latency + ``router`` cycles more (the source
router alone for the first link), and asks its link's arbiter. Once per cycle, after every
request of that cycle is in, each free link grants its oldest request (ties: message, then
crossing), which holds the link until its tail has left: its flits at the link's cycles per
flit, and no sooner than the tail came off the link before. The compiled kernel (:mod:`neurosim.kernels.noc_sim`) handles the
same requests as a global event order instead of a clock; a property test keeps the two equal.
"""

from __future__ import annotations

import numpy as np
import simpy

from neurosim.hw.noc import Delivery, Mesh, Routed, arrivals, link_timing


def deliver_reference(mesh: Mesh, routed: Routed, router_cycles: int, link_cycles: int,
                      link_lat: np.ndarray | None = None, link_cpf: np.ndarray | None = None) -> Delivery:
    """:func:`neurosim.hw.noc.deliver`, simulated cycle by cycle in simpy."""
    env = simpy.Environment()
    lat, cpf = link_timing(mesh, link_cycles, link_lat, link_cpf)
    n_e = len(routed.edge_link)
    granted = [env.event() for _ in range(n_e)]
    start, wait, tail = np.zeros(n_e, np.int64), np.zeros(n_e, np.int64), np.zeros(n_e, np.int64)
    pending: dict[int, list[tuple[int, int, int]]] = {}
    free = np.zeros(mesh.link_slots, np.int64)
    busy = np.zeros(mesh.link_slots, np.int64)

    def crossing(e: int):
        p, m = int(routed.edge_parent[e]), int(routed.edge_msg[e])
        if p < 0:
            at = int(routed.msg_ready[m]) + router_cycles
        else:
            yield granted[p]
            at = int(start[p]) + int(lat[routed.edge_link[p]]) + router_cycles
        yield env.timeout(at - env.now)
        pending.setdefault(int(routed.edge_link[e]), []).append((at, m, e))

    def arbiter():
        done = 0
        yield env.timeout(0.5)  # half a cycle after the requests of each cycle
        while done < n_e:
            cycle = int(env.now)
            for link, queue in pending.items():
                if queue and free[link] <= cycle:
                    at, m, e = min(queue)
                    queue.remove((at, m, e))
                    p = int(routed.edge_parent[e])
                    end = cycle + int(routed.msg_flits[m]) * int(cpf[link])
                    if p >= 0:  # the tail cannot leave before it has come off the link before
                        end = max(end, int(tail[p]) + int(lat[routed.edge_link[p]]) + router_cycles)
                    start[e], wait[e], tail[e] = cycle, cycle - at, end
                    free[link] = end
                    busy[link] += end - cycle
                    granted[e].succeed()
                    done += 1
            yield env.timeout(1)

    for e in range(n_e):
        env.process(crossing(e))
    env.process(arbiter())
    env.run()
    t_arr, h_arr = arrivals(routed, start, tail, router_cycles, lat)
    return Delivery(t_arr, h_arr, start, wait, busy)
