"""The simpy reference of the mesh's link contention, cycle by cycle.

Every link crossing is a process: it waits for its parent crossing's grant (the source's:
the message's ready cycle), then ``link + router`` cycles more (the source router alone for the
first link), and asks its link's arbiter. Once per cycle, after every request of that cycle is
in, each free link grants its oldest request (ties: message, then crossing), which holds the
link for the message's flits. The compiled kernel (:mod:`neurosim.kernels.noc_sim`) handles the
same requests as a global event order instead of a clock; a property test keeps the two equal.
"""

from __future__ import annotations

import numpy as np
import simpy

from neurosim.hw.noc import Delivery, Mesh, Routed, arrivals


def deliver_reference(mesh: Mesh, routed: Routed, router_cycles: int, link_cycles: int) -> Delivery:
    """:func:`neurosim.hw.noc.deliver`, simulated cycle by cycle in simpy."""
    env = simpy.Environment()
    n_e = len(routed.edge_link)
    granted = [env.event() for _ in range(n_e)]
    start, wait = np.zeros(n_e, np.int64), np.zeros(n_e, np.int64)
    pending: dict[int, list[tuple[int, int, int]]] = {}
    free = np.zeros(mesh.link_slots, np.int64)
    busy = np.zeros(mesh.link_slots, np.int64)

    def crossing(e: int):
        p, m = int(routed.edge_parent[e]), int(routed.edge_msg[e])
        if p < 0:
            at = int(routed.msg_ready[m]) + router_cycles
        else:
            yield granted[p]
            at = int(start[p]) + link_cycles + router_cycles
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
                    start[e], wait[e] = cycle, cycle - at
                    free[link] = cycle + int(routed.msg_flits[m])
                    busy[link] += int(routed.msg_flits[m])
                    granted[e].succeed()
                    done += 1
            yield env.timeout(1)

    for e in range(n_e):
        env.process(crossing(e))
    env.process(arbiter())
    env.run()
    return Delivery(arrivals(routed, start, router_cycles, link_cycles), start, wait, busy)
