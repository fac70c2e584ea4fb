"""The KV engine's burst splitter (rtl/kv/bursts.py) in the Amaranth simulator against the
golden burst plan (golden/kv.py), under random idles and stalls."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from vrex.golden.kv import AXI_BOUNDARY, KvParams, burst_plan
from vrex.rtl.kv import BurstSplitter
from vrex.testbench.amaranth_streams import put, take


def _simulate(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def _split(dut, regions, rng, *, idle, stall):
    """The bursts until the last region's last one; a splitter that stops early or never
    ends the last region fails on the cycle limit, not by hanging."""
    got, finished = [], []

    async def source(ctx):
        for addr, length in regions:
            await put(ctx, dut.i, {"addr": addr, "beats": length // dut.bus_bytes}, rng,
                      idle=idle)

    async def sink(ctx):
        ends = 0
        while ends < len(regions):
            beat = await take(ctx, dut.o, rng, stall=stall)
            got.append((beat.addr, beat.len + 1, beat.last))
            ends += beat.last
        finished.append(True)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(source, background=True)
    sim.add_testbench(sink, background=True)
    limit = 4 * sum(length // dut.bus_bytes for _, length in regions) + 1000
    sim.run_until(limit * 1e-6)
    assert finished, f"the last region did not end within {limit} cycles"
    return got


def dut_params(dut):
    return KvParams(kv_bytes=1, bus_bytes=dut.bus_bytes, max_burst=dut.max_burst)


@pytest.mark.parametrize("seed", range(8))
def test_bursts_are_the_golden_plan(seed):
    rng = np.random.default_rng(seed)
    bus = int(2 ** rng.integers(2, 7))
    max_burst = int(rng.choice([1, 2, 3, 16, 64, 256, int(rng.integers(1, 257))]))
    max_beats = int(rng.integers(1, 600))
    dut = BurstSplitter(addr_width=20, bus_bytes=bus, max_burst=max_burst, max_beats=max_beats)
    regions = []
    for _ in range(12):
        beats = int(rng.integers(1, max_beats + 1))
        # Often near a 4 KB boundary, so the cut is exercised.
        near = int(rng.integers(1, 8)) * AXI_BOUNDARY - int(rng.integers(0, 16)) * bus
        start = near if rng.random() < 0.5 else int(rng.integers(0, 1 << 14)) * bus
        start = min(start, (1 << 20) - beats * bus)
        regions.append((start, beats * bus))
    got = _split(dut, regions, rng, idle=0.3, stall=0.4)
    want = []
    for start, length in regions:
        plan = burst_plan(start, length, dut_params(dut))
        want += [(a, n, int(i == len(plan) - 1)) for i, (a, n) in enumerate(plan)]
    assert got == want, f"seed {seed}: bus {bus}, max_burst {max_burst}"


def test_a_burst_every_other_cycle_and_the_next_region_at_once():
    # Region A (8 beats, bursts of 2) then B (2 beats), offered back to back: a cycle to
    # decide each burst, a cycle to offer it; B is taken as A's last burst leaves.
    dut = BurstSplitter(addr_width=16, bus_bytes=4, max_burst=2, max_beats=16)
    seen = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.i.valid, 1)
        ctx.set(dut.i.payload, {"addr": 0, "beats": 8})
        await ctx.tick()
        ctx.set(dut.i.payload, {"addr": 64, "beats": 2})
        for cycle in range(11):
            if ctx.get(dut.o.valid):
                seen.append((cycle, ctx.get(dut.o.payload.addr), ctx.get(dut.o.payload.last)))
            if ctx.get(dut.i.ready):
                await ctx.tick()
                ctx.set(dut.i.valid, 0)
            else:
                await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen == [(1, 0, 0), (3, 8, 0), (5, 16, 0), (7, 24, 1), (9, 64, 1)]


@pytest.mark.parametrize("field, value, message", [
    ("bus_bytes", 12, "bus_bytes must be a power of two, not 12"),
    ("max_burst", 0, r"max_burst must be an integer in 1..256, not 0"),
    ("addr_width", 8, r"addr_width must be an integer in 12..64, not 8"),
])
def test_bad_parameters_are_named(field, value, message):
    with pytest.raises(ValueError, match=message):
        BurstSplitter(**{field: value})
