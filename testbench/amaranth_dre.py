"""Run DRE vectors (SPEC 6 ``dre``) through the Amaranth simulator."""

from __future__ import annotations

import numpy as np
from amaranth.sim import Simulator

from vrex.golden.config import Config
from vrex.rtl.dre import DRE

from .amaranth_streams import run_streams
from .dre_streams import dre_beats, dre_outputs

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
    status = {r.name: r.offset for r in dut.registers}["STATUS"]
    out = {}

    seen = {"descs": 0, "ends": 0}               # counted as they arrive, not every cycle

    def done(received):
        descs = received[dut.o_desc]
        seen["ends"] += sum(1 for d in descs[seen["descs"]:] if d.end)
        seen["descs"] = len(descs)
        return len(received[dut.o_slot]) == tokens and seen["ends"] == queries

    async def bench(ctx):
        received, first, last = await run_streams(
            ctx, {dut.i_hash: hash_beats, dut.i_score: score_beats},
            [dut.o_slot, dut.o_select, dut.o_desc], done, rng, idle=idle, stall=stall)
        out["slots"] = [(s.cluster, s.slot) for s in received[dut.o_slot]]
        out["selects"] = [(s.mask, s.last) for s in received[dut.o_select]]
        out["descs"] = [(d.page, d.tokens, d.end) for d in received[dut.o_desc]]
        out["cycles"] = 0 if first is None else last - first + 1
        out["status"] = await wishbone_read(ctx, dut.bus, status)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return dre_outputs(out["slots"], out["selects"], out["descs"], ns, out["status"], config,
                       out["cycles"])
