"""Run DRE vectors (SPEC 6 ``dre``) through the Amaranth simulator."""

from __future__ import annotations

import numpy as np
from amaranth.sim import Simulator

from vrex.golden.config import Config
from vrex.rtl.dre import DRE

from .amaranth_streams import run_streams
from .amaranth_wtu import beats_of

__all__ = ["dre_beats", "dre_outputs", "simulate_dre", "wishbone_read", "wishbone_write"]


def dre_beats(arrays: dict, config: Config, clusters) -> tuple[list, list, list]:
    """The ``i_hash`` and ``i_score`` beats of a ``dre`` vector, and each query's ``n``: each
    frame's tokens, then a query marker per query after it; each query's rows over its ``n``
    clusters, where ``clusters[t]`` is the cluster of token ``t`` (ids count up from 0, so
    ``n`` is one more than the largest id so far)."""
    hashes, frame_end = arrays["hashes"], arrays["frame_end"]
    query_after, query_rows = arrays["query_after"], arrays["query_rows"]
    scores = arrays["scores"]
    hash_beats, score_beats, ns = [], [], []
    start = row = q = 0
    for frame, end in enumerate(frame_end.tolist()):
        hash_beats += [{"hash": int(h), "query": 0} for h in hashes[start:end]]
        start = end
        while q < query_after.size and query_after[q] == frame:
            hash_beats.append({"hash": 0, "query": 1})
            n = int(np.max(clusters[:end])) + 1 if end else 0
            rows = int(query_rows[q])
            if n:
                for r in range(row, row + rows):
                    beats = beats_of(scores[r, :n], config.wtu_lanes)
                    for i, beat in enumerate(beats):
                        last = r == row + rows - 1 and i == len(beats) - 1
                        score_beats.append({"scores": beat, "last": last})
            ns.append(n)
            row += rows
            q += 1
    return hash_beats, score_beats, ns


def dre_outputs(slots, selects, descs, ns, status: int, config: Config, cycles: int) -> dict:
    """SPEC 6 ``dre`` outputs from the beats taken off ``o_slot``, ``o_select``, ``o_desc``
    (as ``(cluster, slot)``, ``(mask, last)`` and ``(page, tokens, end)`` tuples) and the
    STATUS register."""
    no_slot = (1 << config.slot_bits) - 1
    lanes = config.wtu_lanes
    select = np.zeros((len(ns), config.max_clusters), dtype=bool)
    beats = iter(selects)
    for q, n in enumerate(ns):
        for k in range(-(-n // lanes)):
            mask, last = next(beats)
            for lane in range(lanes):
                if k * lanes + lane < n:
                    select[q, k * lanes + lane] = bool((mask >> lane) & 1)
    descriptors, q = [], 0
    for page, tokens, end in descs:
        if end:
            q += 1
        else:
            descriptors.append((q, page, tokens))
    return {
        "cluster": np.array([c for c, _ in slots], dtype=np.int64),
        "slot": np.array([-1 if s == no_slot else s for _, s in slots], dtype=np.int64),
        "select": select,
        "descriptors": np.array(descriptors, dtype=np.int64).reshape(-1, 3),
        "cluster_overflow": np.bool_(status >> 1 & 1),
        "page_overflow": np.bool_(status >> 2 & 1),
        "cycles": np.int64(cycles),
    }


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


def simulate_dre(arrays: dict, config: Config, clusters, *, idle: float = 0.0,
                 stall: float = 0.0, seed: int = 0) -> dict:
    """Push a ``dre`` vector through the DRE; returns the SPEC 6 outputs. ``cycles`` runs from
    the first input handshake to the last output handshake. ``clusters`` (the golden model's)
    only shapes the score beats; the outputs are the DRE's own."""
    dut = DRE(config)
    rng = np.random.default_rng(seed)
    hash_beats, score_beats, ns = dre_beats(arrays, config, clusters)
    tokens, queries = arrays["hashes"].size, len(ns)
    status = {r.name: r.offset for r in dut.registers}["STATUS"]
    out = {}

    def done(received):
        ends = sum(1 for d in received[dut.o_desc] if d.end)
        return len(received[dut.o_slot]) == tokens and ends == queries

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
