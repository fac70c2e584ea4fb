"""Drive the retrieval controller in the Amaranth simulator: tokens' cluster ids in, slots out;
query selections in, descriptors out."""

from __future__ import annotations

import numpy as np
from amaranth.sim import Simulator

from vrex.golden.config import Config
from vrex.rtl.controller import Controller

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
                slots = []
                # One loop offers ids and takes slots, cycle by cycle.
                pending = [{"cluster": int(c), "new": int(n)} for c, n in zip(ids, new)]
                while len(slots) < len(ids):
                    offer = bool(pending) and rng.random() >= idle
                    want = rng.random() >= stall
                    ctx.set(dut.i_id.valid, offer)
                    if offer:
                        ctx.set(dut.i_id.payload, pending[0])
                    ctx.set(dut.o_slot.ready, want)
                    _, _, in_ready, out_valid, out = await ctx.tick().sample(
                        dut.i_id.ready, dut.o_slot.valid, dut.o_slot.payload)
                    if offer and in_ready:
                        pending.pop(0)
                    if want and out_valid:
                        slots.append(out.slot)
                ctx.set(dut.i_id.valid, 0)
                ctx.set(dut.o_slot.ready, 0)
                results.append(np.array(slots, dtype=np.int64))
            else:
                _, select = step
                bits = [int(b) for b in select]
                bits += [0] * (-len(bits) % lanes) if bits else [0] * lanes   # n = 0: one beat
                words = [bits[i:i + lanes] for i in range(0, len(bits), lanes)]
                start = None
                cycle = 0
                descriptors = []
                feed = [{"mask": sum(b << i for i, b in enumerate(w)), "last": i == len(words) - 1}
                        for i, w in enumerate(words)]
                while True:
                    offer = bool(feed) and rng.random() >= idle
                    want = rng.random() >= stall
                    ctx.set(dut.i_select.valid, offer)
                    if offer:
                        ctx.set(dut.i_select.payload, feed[0])
                    ctx.set(dut.o_desc.ready, want)
                    _, _, in_ready, out_valid, out = await ctx.tick().sample(
                        dut.i_select.ready, dut.o_desc.valid, dut.o_desc.payload)
                    if offer and in_ready:
                        if start is None:
                            start = cycle
                        feed.pop(0)
                    cycle += 1
                    if want and out_valid:
                        if out.end:
                            break
                        descriptors.append((out.page, out.tokens))
                ctx.set(dut.i_select.valid, 0)
                ctx.set(dut.o_desc.ready, 0)
                results.append((np.array(descriptors, dtype=np.int64).reshape(-1, 2),
                                cycle - start))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return results
