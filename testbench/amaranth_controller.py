"""Drive the retrieval controller in the Amaranth simulator: tokens' cluster ids in, slots out;
query selections in, descriptors out."""

from __future__ import annotations

import numpy as np
from amaranth.sim import Simulator

from vrex.golden.config import Config
from vrex.rtl.controller import Controller

from .amaranth_streams import run_streams

__all__ = ["simulate_controller"]


def simulate_controller(steps, config: Config, *, idle: float = 0.0, stall: float = 0.0,
                        seed: int = 0) -> list:
    """Run ``steps``, each ``("tokens", ids, new)`` or ``("query", select)``, in order.

    Returns per step the slots (int64[N]) or ``(descriptors int64[D, 2], cycles)``, where
    ``cycles`` runs from the query's first selection beat in to its end beat out.
    """
    dut = Controller.from_config(config)
    lanes = config.wtu_lanes
    rng = np.random.default_rng(seed)
    results = []

    async def bench(ctx):
        for step in steps:
            if step[0] == "tokens":
                _, ids, new = step
                beats = [{"cluster": int(c), "new": int(n)} for c, n in zip(ids, new)]
                received, _, _ = await run_streams(
                    ctx, {dut.i_id: beats}, [dut.o_slot],
                    lambda r: len(r[dut.o_slot]) == len(beats), rng, idle=idle, stall=stall)
                results.append(np.array([s.slot for s in received[dut.o_slot]], dtype=np.int64))
            else:
                bits = [int(b) for b in step[1]]
                bits += [0] * (-len(bits) % lanes) if bits else [0] * lanes   # n = 0: one beat
                words = [bits[i:i + lanes] for i in range(0, len(bits), lanes)]
                beats = [{"mask": sum(b << i for i, b in enumerate(w)),
                          "last": i == len(words) - 1} for i, w in enumerate(words)]
                received, first, last = await run_streams(
                    ctx, {dut.i_select: beats}, [dut.o_desc],
                    # The end beat is the last: looking at the newest beat is enough.
                    lambda r: bool(r[dut.o_desc]) and r[dut.o_desc][-1].end, rng, idle=idle,
                    stall=stall)
                descriptors = [(d.page, d.tokens) for d in received[dut.o_desc] if not d.end]
                results.append((np.array(descriptors, dtype=np.int64).reshape(-1, 2),
                                last - first + 1))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return results
