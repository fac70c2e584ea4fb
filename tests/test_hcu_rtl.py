"""HCU RTL in the Amaranth simulator against the golden model, and its similarity unit."""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from vrex.golden.config import Config
from vrex.golden.hcu import run_hcu
from vrex.golden.stimulus import random_hashes
from vrex.rtl.hcu import HCU
from vrex.rtl.gates import popcount
from vrex.rtl.similarity import SimilarityUnit
from vrex.testbench.amaranth_hcu import simulate_hcu


def test_popcount():
    value = Signal(13)
    count = Signal(range(14))
    m = Module()
    m.d.comb += count.eq(popcount(m, value))

    async def bench(ctx):
        for v in [0, 1, 0x1FFF, 0b1010101010101, 4242]:
            ctx.set(value, v)
            assert ctx.get(count) == bin(v).count("1")

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()


def _exit_step(x, h, bound, hb, digit, segment):
    """SPEC 5 by hand: the first step after which the differing bits so far plus the later
    digits' segment gaps reach the bound; every step if none does."""
    steps = -(-hb // digit)
    per = digit // segment if segment else 0

    def ones(v):
        return bin(v).count("1")

    def gap(t):
        total = 0
        for k in range(per):
            m = ((1 << segment) - 1) << (t * digit + k * segment)
            total += abs(ones(x & m) - ones(h & m))
        return total

    for s in range(steps):
        lower = ones((x ^ h) & ((1 << ((s + 1) * digit)) - 1)) + sum(map(gap, range(s + 1, steps)))
        if lower >= bound:
            return s + 1
    return steps


@pytest.mark.parametrize("early_exit", [True, False])
@pytest.mark.parametrize("digit,segment", [(1, 0), (3, 0), (8, 0), (1, 1), (3, 1), (3, 2),
                                           (4, 2), (8, 4), (2, 3)])
def test_similarity_unit_stops_on_the_lower_bound(digit, segment, early_exit):
    hb = 8
    dut = SimilarityUnit(hb, digit, segment=segment, early_exit=early_exit)
    seed = digit * 10 + segment
    rng = np.random.default_rng(seed)

    async def bench(ctx):
        for _ in range(60):
            x, h = (int(v) for v in rng.integers(0, 256, size=2))
            bound = int(rng.integers(0, hb + 2))
            ctx.set(dut.x, x)
            ctx.set(dut.h, h)
            ctx.set(dut.restart, 1)                 # the unit takes x and h a cycle ahead
            await ctx.tick()
            ctx.set(dut.restart, 0)
            ctx.set(dut.x, 0)                       # free once taken
            ctx.set(dut.h, 0)
            ctx.set(dut.bound, bound)
            ctx.set(dut.enable, 1)
            ctx.set(dut.go, 1)
            diff = bin(x ^ h).count("1")
            want = _exit_step(x, h, bound, hb, digit, segment) if early_exit else dut.steps
            for step in range(dut.steps):
                ctx.set(dut.step, step)
                if ctx.get(dut.done):
                    break
                await ctx.tick()
            where = f"seed {seed}, x {x:#x}, h {h:#x}, bound {bound}"
            assert step + 1 == want, where
            assert ctx.get(dut.nearer) == (diff < bound), where
            if ctx.get(dut.nearer):
                assert ctx.get(dut.distance) == diff, where
            await ctx.tick()
            ctx.set(dut.go, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="digit must be an integer in 1..8, not 9"):
        HCU(hash_bits=8, digit=9)
    with pytest.raises(ValueError, match="lanes must be an integer in 1..4, not 5"):
        HCU(hash_bits=8, digit=8, max_clusters=4, lanes=5)
    with pytest.raises(ValueError, match="hash_bits must be an integer in 1..64, not 0"):
        HCU(hash_bits=0)


CASES = [
    # hash_bits, digit, lanes, max_clusters, th_hd, hcu_segment
    (8, 1, 1, 6, 3, 0),     # bit-serial
    (8, 1, 1, 6, 3, 1),     # bit-serial, a segment a bit: the bound is the distance
    (8, 8, 1, 6, 3, 4),     # one digit: the whole hash a cycle
    (8, 3, 2, 7, 4, 2),     # short last digit, a bit of each digit in no segment
    (16, 4, 4, 8, 5, 4),
    (16, 4, 3, 8, 5, 0),    # no lower bound
    (5, 2, 3, 3, 0, 1),     # th_hd 0: nothing joins
    (6, 2, 1, 4, 7, 2),     # th_hd hash_bits + 1: everything joins
    (32, 16, 1, 16, 7, 4),  # the paper's lane, a small table
    (32, 16, 2, 16, 7, 16),
    (64, 16, 2, 5, 20, 8),  # 64-bit hashes
]


@pytest.mark.parametrize("early_exit", [True, False], ids=["early_exit", "no_early_exit"])
@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
def test_against_golden(case, early_exit):
    hb, digit, lanes, cap, th, segment = case
    cfg = Config(hash_bits=hb, digit=digit, hcu_lanes=lanes, max_clusters=cap, th_hd=th,
                 count_bits=3, wtu_lanes=1, hcu_segment=segment)
    seed = sum(case)
    hashes = random_hashes(np.random.default_rng(seed), cfg, 60)
    want = run_hcu(hashes, cfg, early_exit=early_exit).as_dict()
    got = simulate_hcu(hashes, cfg, early_exit=early_exit)
    for key in want:
        assert np.array_equal(got[key], want[key]), f"{key} differs (seed {seed})"
    # A new-cluster flag on exactly the founding beats.
    assert got["new"].sum() == want["counts"].size


@pytest.mark.parametrize("seed", range(4))
def test_back_pressure_changes_nothing_but_time(seed):
    cfg = Config(hash_bits=12, digit=3, hcu_lanes=2, max_clusters=5, th_hd=4, count_bits=4,
                 wtu_lanes=1)
    hashes = random_hashes(np.random.default_rng(seed), cfg, 50)
    want = run_hcu(hashes, cfg).as_dict()
    got = simulate_hcu(hashes, cfg, idle=0.4, stall=0.5, seed=seed)
    for key in ("cluster", "counts", "cluster_hash", "cluster_overflow"):
        assert np.array_equal(got[key], want[key]), f"{key} differs (seed {seed})"
    assert got["cycles"] >= want["cycles"]


@pytest.mark.parametrize("count_lanes", [2, 3, 4, 16])
def test_count_words(count_lanes):
    # The DRE keeps counts in words of the WTU's lanes; saturating, same-word neighbours
    # counted back to back, a divisor that is no power of two.
    rng = np.random.default_rng(count_lanes)
    cfg = Config(hash_bits=10, digit=5, max_clusters=23, th_hd=3, count_bits=3, wtu_lanes=1)
    hashes = random_hashes(rng, cfg, 120, leaders=12, flips=1)
    want = run_hcu(hashes, cfg).as_dict()
    got = simulate_hcu(hashes, cfg, count_lanes=count_lanes, idle=0.2, stall=0.2,
                       seed=count_lanes)
    for key in ("cluster", "counts", "cluster_overflow"):
        assert np.array_equal(got[key], want[key]), f"{key} differs (count_lanes {count_lanes})"
    assert (want["counts"] == cfg.count_max).any()


def test_clear_empties_the_table():
    cfg = Config(hash_bits=8, digit=4, max_clusters=2, th_hd=1, count_bits=4, wtu_lanes=1)
    dut = HCU(hash_bits=8, digit=4, max_clusters=2, count_bits=4)
    seen = []

    async def bench(ctx):
        ctx.set(dut.th_hd, 1)
        ctx.set(dut.o_id.ready, 1)
        for batch in ([1, 2, 3], [3, 1]):
            for h in batch:
                ctx.set(dut.i_hash.valid, 1)
                ctx.set(dut.i_hash.payload, h)
                await ctx.tick().until(dut.i_hash.ready)
                ctx.set(dut.i_hash.valid, 0)
                payload, = await ctx.tick().sample(dut.o_id.payload).until(dut.o_id.valid)
                seen.append(int(payload.cluster))
            await ctx.tick().until(~dut.busy)
            seen.append((ctx.get(dut.n_clusters), ctx.get(dut.cluster_overflow)))
            ctx.set(dut.clear, 1)
            await ctx.tick()
            ctx.set(dut.clear, 0)
            seen.append((ctx.get(dut.n_clusters), ctx.get(dut.cluster_overflow)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    first = run_hcu([1, 2, 3], cfg)
    again = run_hcu([3, 1], cfg)                     # after clear: as from reset
    assert seen == [*first.cluster.tolist(), (2, 1), (0, 0), *again.cluster.tolist(),
                    (2, 0), (0, 0)]


@pytest.mark.parametrize("count_lanes", [1, 4])
def test_same_count_back_to_back(count_lanes):
    # One-cycle searches that join the cluster the token before just counted: the count is
    # written in the cycle it is read again, and must be forwarded, not read stale.
    cfg = Config(hash_bits=8, digit=8, max_clusters=4, th_hd=3, count_bits=4, wtu_lanes=1)
    hashes = np.array([5] * 6 + [7, 7, 5, 200, 200, 5], dtype=np.uint64)
    want = run_hcu(hashes, cfg).as_dict()
    got = simulate_hcu(hashes, cfg, count_lanes=count_lanes)
    for key in want:
        assert np.array_equal(got[key], want[key]), f"{key} differs"
    assert want["counts"][0] == 10        # 5 eight times, 7 (one bit away) twice
