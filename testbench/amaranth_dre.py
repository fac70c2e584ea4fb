"""Run DRE vectors (SPEC 6 ``dre``) through the Amaranth simulator."""

from __future__ import annotations

import numpy as np
from amaranth.sim import Simulator

from vrex.golden.config import Config
from vrex.interface.dre import DreProgress, dre_beats, dre_outputs
from vrex.rtl.dre import DRE

from .amaranth_streams import run_streams

__all__ = ["simulate_dre", "wishbone_read", "wishbone_write"]


async def wishbone_read(ctx, bus, offset: int) -> int:
    ctx.set(bus.adr, offset // 4)
    ctx.set(bus.we, 0)
    ctx.set(bus.cyc, 1)
    ctx.set(bus.stb, 1)
    value, = await ctx.tick().sample(bus.dat_r).until(bus.ack)
    ctx.set(bus.cyc, 0)
    ctx.set(bus.stb, 0)
    return value


async def wishbone_write(ctx, bus, offset: int, value: int, sel: int = 0xF) -> None:
    ctx.set(bus.adr, offset // 4)
    ctx.set(bus.dat_w, value)
    ctx.set(bus.sel, sel)
    ctx.set(bus.we, 1)
    ctx.set(bus.cyc, 1)
    ctx.set(bus.stb, 1)
    await ctx.tick().until(bus.ack)
    ctx.set(bus.cyc, 0)
    ctx.set(bus.stb, 0)
    ctx.set(bus.we, 0)


def simulate_dre(arrays: dict, config: Config, golden, *, idle: float = 0.0,
                 stall: float = 0.0, seed: int = 0) -> dict:
    """Push a ``dre`` vector through the DRE; returns the SPEC 6 outputs. ``cycles`` runs from
    the first input beat offered to the last output handshake. ``golden`` (the golden model's
    ``DreResult``) only shapes the score beats; the outputs are the DRE's own."""
    dut = DRE(config)
    rng = np.random.default_rng(seed)
    hash_beats, score_beats, ns = dre_beats(arrays, config, golden)
    tokens, queries = arrays["hashes"].size, len(ns)
    status = next(r.offset for r in dut.registers if r.name == "STATUS")
    out = {}
    progress = DreProgress()                     # counted as beats arrive, not every cycle

    def done(received):
        progress.update(received[dut.o_slot], received[dut.o_desc])
        return progress.done(tokens, queries)

    async def bench(ctx):
        received, first, last = await run_streams(
            ctx, {dut.i_hash: hash_beats, dut.i_score: score_beats},
            [dut.o_slot, dut.o_select, dut.o_desc], done, rng, idle=idle, stall=stall)
        out["slots"] = received[dut.o_slot]
        out["selects"] = received[dut.o_select]
        out["descs"] = received[dut.o_desc]
        out["cycles"] = 0 if first is None else last - first + 1
        out["status"] = await wishbone_read(ctx, dut.bus, status)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return dre_outputs(out["slots"], out["selects"], out["descs"], ns, out["status"], config,
                       out["cycles"])
