"""Run HCU vectors through the Amaranth simulator: the fast check that needs no Verilog.

The cocotb testbench does the same through the generated Verilog; both return the SPEC 6
output keys so they compare directly with the golden model.
"""

from __future__ import annotations

import numpy as np
from amaranth.sim import Simulator

from vrex.golden.config import Config
from vrex.rtl.hcu import HCU

from .amaranth_streams import put, take

__all__ = ["simulate_hcu"]


def simulate_hcu(hashes, config: Config, *, early_exit: bool = True, idle: float = 0.0,
                 stall: float = 0.0, seed: int = 0, vcd: str | None = None,
                 count_lanes: int = 1) -> dict:
    """Push ``hashes`` through the HCU; ``idle``/``stall`` are the chances per cycle that the
    source holds back a beat or the sink refuses one. ``cycles`` is measured from the first
    input beat to the last output beat. With ``count_lanes`` the counts are also read a word
    at a time and must agree."""
    dut = HCU.from_config(config, early_exit=early_exit, count_lanes=count_lanes)
    hashes = [int(h) for h in np.asarray(hashes, dtype=np.uint64)]
    rng = np.random.default_rng(seed)
    ids, news = [], []
    table = {}
    handshakes = {"first_in": None, "last_out": None}

    async def source(ctx):
        ctx.set(dut.th_hd, config.th_hd)
        for h in hashes:
            await put(ctx, dut.i_hash, h, rng, idle)

    async def sink(ctx):
        for _ in hashes:
            payload = await take(ctx, dut.o_id, rng, stall)
            ids.append(int(payload.cluster))
            news.append(int(payload.new))
        await ctx.tick().repeat(3)                  # let the count pipeline drain
        n = ctx.get(dut.n_clusters)
        counts, leaders = [], []
        for c in range(n):
            ctx.set(dut.rd_addr, c)
            await ctx.tick()
            counts.append(ctx.get(dut.rd_count))
            leaders.append(ctx.get(dut.rd_hash))
            word = list(ctx.get(dut.rd_counts))
            if word[c % count_lanes] != counts[-1]:
                raise AssertionError(f"cluster {c}: word read-out {word} disagrees with "
                                     f"rd_count {counts[-1]}")
        table.update(counts=counts, leaders=leaders, overflow=ctx.get(dut.cluster_overflow))

    async def monitor(ctx):
        cycle = 0
        async for _, _, iv, ir, ov, ordy in ctx.tick().sample(
                dut.i_hash.valid, dut.i_hash.ready, dut.o_id.valid, dut.o_id.ready):
            if iv and ir and handshakes["first_in"] is None:
                handshakes["first_in"] = cycle
            if ov and ordy:
                handshakes["last_out"] = cycle
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.add_process(monitor)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    cycles = 0
    if hashes:
        cycles = handshakes["last_out"] - handshakes["first_in"] + 1
    return {
        "cluster": np.array(ids, dtype=np.int64),
        "new": np.array(news, dtype=bool),
        "counts": np.array(table["counts"], dtype=np.int64),
        "cluster_hash": np.array(table["leaders"], dtype=np.uint64),
        "cluster_overflow": np.bool_(table["overflow"]),
        "cycles": np.int64(cycles),
    }
