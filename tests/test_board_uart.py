"""The UART: bytes through transmitter and receiver on one wire, a broken stop bit, and the
baud-rate arithmetic."""

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator

from vrex.board.uart import UARTRx, UARTTx, check_divisor, divisor_for


def _loopback(data: list[int], divisor: int, seed: int) -> list[int]:
    m = Module()
    m.submodules.tx = tx = UARTTx(divisor)
    m.submodules.rx = rx = UARTRx(divisor)
    m.d.comb += rx.rx.eq(tx.tx)
    rng = np.random.default_rng(seed)
    got = []

    async def send(ctx):
        for byte in data:
            for _ in range(int(rng.integers(0, 3 * divisor))):      # idle line between bytes
                await ctx.tick()
            ctx.set(tx.i_data.valid, 1)
            ctx.set(tx.i_data.payload, byte)
            await ctx.tick().until(tx.i_data.ready)
            ctx.set(tx.i_data.valid, 0)

    async def receive(ctx):
        ctx.set(rx.o_data.ready, 1)
        while len(got) < len(data):
            payload, error = await ctx.tick().sample(rx.o_data.payload, rx.framing_error) \
                .until(rx.o_data.valid)
            got.append(payload)

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(send, background=True)
    sim.add_testbench(receive)
    sim.run_until(1e-8 * (len(data) * 14 * divisor + 100))
    return got


@pytest.mark.parametrize("divisor", [4, 5, 13])
def test_loopback(divisor):
    seed = divisor
    data = [0x00, 0xFF, 0x55, 0xAA] + np.random.default_rng(seed).integers(0, 256, 12).tolist()
    assert _loopback(data, divisor, seed) == data, f"seed {seed}"


def test_framing_error_drops_the_byte():
    d = 4
    m = Module()
    m.submodules.rx = rx = UARTRx(d)
    seen = {"bytes": [], "errors": 0}

    async def bench(ctx):
        ctx.set(rx.o_data.ready, 1)
        # A byte whose stop bit is low, then a good byte.
        for byte, stop in ((0x3C, 0), (0xA5, 1)):
            for bit in [0] + [(byte >> i) & 1 for i in range(8)] + [stop]:
                ctx.set(rx.rx, bit)
                for _ in range(d):
                    await ctx.tick()
                    seen["errors"] += ctx.get(rx.framing_error)
                    if ctx.get(rx.o_data.valid):
                        seen["bytes"].append(ctx.get(rx.o_data.payload))
            ctx.set(rx.rx, 1)
            for _ in range(3 * d):
                await ctx.tick()
                if ctx.get(rx.o_data.valid):
                    seen["bytes"].append(ctx.get(rx.o_data.payload))

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert seen["errors"] == 1
    assert seen["bytes"] == [0xA5]


def test_divisor_arithmetic():
    assert divisor_for(12e6, 115200) == 104
    assert divisor_for(25e6, 1_000_000) == 25
    with pytest.raises(ValueError, match="baud 4000000.*at most 3000000"):
        divisor_for(12e6, 4_000_000)
    with pytest.raises(ValueError, match="baud 2500000.*% off"):
        divisor_for(12e6, 2_500_000)            # 12 MHz / 5 = 2.4 Mbaud, 4% off
    with pytest.raises(ValueError, match="baud 0"):
        divisor_for(12e6, 0)
    with pytest.raises(ValueError, match="divisor 3"):
        check_divisor(3)
