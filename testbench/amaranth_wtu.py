"""Run WTU vectors through the Amaranth simulator, returning the SPEC 6 ``wtu`` outputs."""

from __future__ import annotations

import numpy as np
from amaranth.sim import Simulator

from vrex.golden.config import Config
from vrex.interface.dre import lane_beats, score_beats
from vrex.rtl.wtu import WTU

from .amaranth_streams import put, take

__all__ = ["simulate_wtu", "simulate_wtu_batches"]


def simulate_wtu(scores, counts, config: Config, **kw) -> dict:
    """Push one batch through the WTU (see :func:`simulate_wtu_batches`)."""
    return simulate_wtu_batches([(scores, counts)], config, **kw)[0]


def simulate_wtu_batches(batches, config: Config, *, early_exit: bool = True,
                         idle: float = 0.0, stall: float = 0.0, seed: int = 0) -> list[dict]:
    """Push batches of ``(scores[R, C], counts[C])`` through one WTU, back to back;
    ``idle``/``stall`` are per-cycle chances that a source holds a beat back or a sink refuses
    one. ``cycles`` of a batch runs from its first count beat in to its last mask beat out."""
    dut = WTU.from_config(config, early_exit=early_exit)
    batches = [(np.asarray(s, dtype=np.int64), np.asarray(c, dtype=np.int64))
               for s, c in batches]
    lanes = config.wtu_lanes
    rng = np.random.default_rng(seed)
    infos, masks = [], []
    first_in, last_out = [], []

    async def source(ctx):
        ctx.set(dut.ratio, config.ratio)
        ctx.set(dut.buckets, config.buckets)
        ctx.set(dut.mode, int(config.mode))
        for scores, counts in batches:
            await ctx.tick().until(~dut.busy)        # batch settings change only when idle
            ctx.set(dut.columns, scores.shape[1])
            await ctx.tick()                         # a cycle before the first count beat
            for beat in lane_beats(counts, lanes):
                await put(ctx, dut.i_count, beat, rng, idle)
            for beat in score_beats(scores, lanes):
                await put(ctx, dut.i_score, beat, rng, idle)

    async def take_all(ctx, port, count, into):
        for _ in range(count):
            into.append(await take(ctx, port, rng, stall))

    def beats(scores):
        return -(-scores.shape[1] // lanes)

    async def row_sink(ctx):
        await take_all(ctx, dut.o_row, sum(s.shape[0] for s, _ in batches), infos)

    async def mask_sink(ctx):
        await take_all(ctx, dut.o_mask, sum((s.shape[0] + 1) * beats(s) for s, _ in batches), masks)

    async def monitor(ctx):
        cycle = 0
        async for _, _, cv, cr, ov, orr, final in ctx.tick().sample(
                dut.i_count.valid, dut.i_count.ready, dut.o_mask.valid, dut.o_mask.ready,
                dut.o_mask.payload.final):
            if cv and cr and len(first_in) == len(last_out):
                first_in.append(cycle)
            if ov and orr and final:
                if len(last_out) < len(first_in):
                    last_out.append(cycle)
                else:
                    last_out[-1] = cycle
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source)
    sim.add_testbench(row_sink)
    sim.add_testbench(mask_sink)
    sim.add_process(monitor)
    sim.run()

    def unpack(chunk, columns):
        bits = [(int(beat.mask) >> lane) & 1 for beat in chunk for lane in range(lanes)]
        return np.array(bits[:columns], dtype=bool)

    results = []
    for b, (scores, _) in enumerate(batches):
        rows, columns, n = scores.shape[0], scores.shape[1], beats(scores)
        own_masks, masks = masks[:(rows + 1) * n], masks[(rows + 1) * n:]
        own_infos, infos = infos[:rows], infos[rows:]
        assert [int(m.final) for m in own_masks] == [0] * (rows * n) + [1] * n, "final flags"
        results.append({
            "row_select": np.array([unpack(own_masks[r * n:(r + 1) * n], columns)
                                    for r in range(rows)]),
            "select": unpack(own_masks[rows * n:], columns),
            "exit_bucket": np.array([int(i.exit_bucket) for i in own_infos], dtype=np.int64),
            "threshold": np.array([int(i.threshold) for i in own_infos], dtype=np.int64),
            "total": np.array([int(i.total) for i in own_infos], dtype=np.int64),
            "cycles": np.int64(last_out[b] - first_in[b] + 1),
        })
    return results
