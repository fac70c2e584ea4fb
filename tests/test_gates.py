"""rtl/gates.py: carry-save arithmetic as gates, exhaustively on small widths."""

import itertools

import pytest
from amaranth.hdl import Cat, Module, Signal
from amaranth.sim import Simulator

from vrex.rtl.gates import abs_gap, add_columns, at_least, popcount, weighted


def _run(m, bench):
    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("wu,wv", [(1, 1), (3, 3), (4, 4), (5, 2)])
def test_abs_gap_every_pair(wu, wv):
    u, v = Signal(wu), Signal(wv)
    m = Module()
    gap = Signal(8)
    m.d.comb += gap.eq(Cat(*abs_gap(m, u, v)))

    async def bench(ctx):
        for a, b in itertools.product(range(1 << wu), range(1 << wv)):
            ctx.set(u, a)
            ctx.set(v, b)
            want = abs(bin(a).count("1") - bin(b).count("1"))
            assert ctx.get(gap) == want, f"u {a:#x} v {b:#x}"
    _run(m, bench)


def test_weighted_sums_and_popcount():
    # Three numbers of 3, 2 and 1 bits plus the popcount of a fourth, every combination.
    a, b, c, d = Signal(3), Signal(2), Signal(1), Signal(4)
    m = Module()
    total, count = Signal(5), Signal(3)
    columns = weighted([[a[i] for i in range(3)], [b[0], b[1]], [c[0]]])
    columns[0] += [d[i] for i in range(4)]
    m.d.comb += [total.eq(Cat(*add_columns(m, columns, 5))), count.eq(popcount(m, d))]

    async def bench(ctx):
        for va, vb, vc, vd in itertools.product(range(8), range(4), range(2), range(16)):
            for sig, val in ((a, va), (b, vb), (c, vc), (d, vd)):
                ctx.set(sig, val)
            ones = bin(vd).count("1")
            assert ctx.get(total) == va + vb + vc + ones, (va, vb, vc, vd)
            assert ctx.get(count) == ones
    _run(m, bench)


def test_at_least_signed_threshold():
    value, offset, minus = Signal(3), Signal(2), Signal(2)
    threshold = Signal(range(-8, 8))
    m = Module()
    out = Signal()
    m.d.comb += out.eq(at_least(m, value, threshold, offset, minus))

    async def bench(ctx):
        for v, o, n, t in itertools.product(range(8), range(4), range(4), range(-8, 8)):
            for sig, val in ((value, v), (offset, o), (minus, n), (threshold, t)):
                ctx.set(sig, val)
            assert ctx.get(out) == (bin(v).count("1") + o - n >= t), (v, o, n, t)
    _run(m, bench)
