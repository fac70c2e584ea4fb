"""The stream registers (rtl/skid.py): every beat once and in order under random idles and
stalls; the skid's beats no later than without it and its ``i.ready`` from a flip-flop; the
forward register's output from flip-flops, a cycle later, one beat a cycle."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from vrex.rtl.skid import Forward, Skid
from vrex.testbench.amaranth_streams import put, take


@pytest.mark.parametrize("kind", [Skid, Forward])
@pytest.mark.parametrize("seed", range(4))
def test_beats_in_order_under_stalls(seed, kind):
    rng = np.random.default_rng(seed)
    beats = [int(v) for v in rng.integers(0, 256, 200)]
    dut = kind(8)
    got = []

    async def source(ctx):
        for beat in beats:
            await put(ctx, dut.i, beat, rng, idle=0.3)

    async def sink(ctx):
        for _ in beats:
            got.append(await take(ctx, dut.o, rng, stall=0.4))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.run()
    assert got == beats, f"seed {seed} {kind.__name__}"


def test_ready_is_registered_and_empty_stage_passes_through():
    dut = Skid(8)
    seen = []

    async def bench(ctx):
        ctx.set(dut.i.valid, 1)
        ctx.set(dut.i.payload, 5)
        ctx.set(dut.o.ready, 1)
        # Empty: the beat is on the output in the cycle it is offered.
        seen.append((ctx.get(dut.o.valid), ctx.get(dut.o.payload), ctx.get(dut.i.ready)))
        ctx.set(dut.o.ready, 0)
        # The consumer's ready does not reach the producer in the same cycle...
        seen.append(ctx.get(dut.i.ready))
        await ctx.tick()
        ctx.set(dut.i.payload, 6)
        # ...but from the next one, with the held beat still offered.
        seen.append((ctx.get(dut.i.ready), ctx.get(dut.o.payload)))
        ctx.set(dut.o.ready, 1)
        await ctx.tick()
        seen.append((ctx.get(dut.i.ready), ctx.get(dut.o.payload)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen == [(1, 5, 1), 1, (0, 5), (1, 6)]


def test_forward_registers_the_beat_and_streams_one_a_cycle():
    dut = Forward(8)
    seen = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        for value in (1, 2, 3):
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, value)
            # Nothing of this cycle's beat shows on the output until the clock edge.
            seen.append((ctx.get(dut.i.ready), ctx.get(dut.o.valid), ctx.get(dut.o.payload)))
            await ctx.tick()
        ctx.set(dut.i.valid, 0)
        ctx.set(dut.o.ready, 0)
        seen.append((ctx.get(dut.o.valid), ctx.get(dut.o.payload), ctx.get(dut.i.ready)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen == [(1, 0, 0), (1, 1, 1), (1, 1, 2), (1, 3, 0)]
