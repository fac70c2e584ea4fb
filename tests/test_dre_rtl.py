"""The whole DRE in the Amaranth simulator against the golden model, and its registers."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from vrex.golden.dre import run_dre
from vrex.golden.stimulus import random_vectors
from vrex.rtl.dre import DRE
from vrex.interface.registers import ID_MAGIC, RegisterMap
from vrex.testbench.amaranth_dre import simulate_dre, wishbone_read, wishbone_write

from conftest import small_config


def _golden(vectors):
    a, cfg = vectors.arrays, vectors.config
    return run_dre(a["hashes"], a["frame_end"], a["query_after"], a["query_rows"], a["scores"],
                   cfg)


def _compare(vectors, seed, **kw):
    want = _golden(vectors)
    got = simulate_dre(vectors.arrays, vectors.config, want, seed=seed, **kw)
    want = want.as_dict(vectors.config.no_slot)
    timed = not kw.get("idle") and not kw.get("stall")
    differ = [k for k in want if (k != "cycles" or timed) and not np.array_equal(got[k], want[k])]
    assert differ == [], (f"seed {seed}: {differ} differ; cycles {got['cycles']} vs model "
                          f"{want['cycles']}; {vectors.config}")
    return want


def _random_config(rng):
    max_clusters = int(rng.integers(1, 14))
    max_buckets = int(rng.integers(1, 9))
    hash_bits = int(rng.integers(4, 17))
    return small_config(hash_bits=hash_bits, digit=int(rng.integers(1, hash_bits + 1)),
                        max_clusters=max_clusters, max_pages=int(rng.integers(1, 14)),
                        page_tokens=int(rng.integers(1, 5)), th_hd=int(rng.integers(0, 6)),
                        hcu_lanes=int(rng.integers(1, min(3, max_clusters) + 1)),
                        wtu_lanes=int(rng.integers(1, min(5, max_clusters) + 1)),
                        max_buckets=max_buckets, buckets=int(rng.integers(1, max_buckets + 1)),
                        mode=int(rng.integers(0, 3)), ratio=int(rng.integers(0, 65536)),
                        exp_frac=int(rng.integers(0, 7)), exp_bits=int(rng.integers(1, 13)))


@pytest.mark.parametrize("seed", range(10))
def test_random_against_golden(seed):
    rng = np.random.default_rng(seed)
    cfg = _random_config(rng)
    vectors = random_vectors("dre", cfg, seed, tokens=int(rng.integers(0, 60)),
                             frames=int(rng.integers(1, 5)), queries=int(rng.integers(0, 5)),
                             rows=3)
    _compare(vectors, seed)


@pytest.mark.parametrize("seed", range(4))
def test_back_pressure_on_every_stream(seed):
    rng = np.random.default_rng(100 + seed)
    vectors = random_vectors("dre", _random_config(rng), seed, tokens=40, frames=3, queries=3)
    _compare(vectors, seed, idle=0.3, stall=0.4)


def test_overflowing_the_cluster_table_and_the_page_pool():
    cfg = small_config(max_clusters=2, max_pages=2, page_tokens=2, th_hd=1, wtu_lanes=2)
    want = _compare(random_vectors("dre", cfg, 1, tokens=40, frames=3, queries=3), 1)
    assert want["cluster_overflow"] and want["page_overflow"]


def test_query_before_any_token():
    cfg = small_config(wtu_lanes=2)
    vectors = random_vectors("dre", cfg, 3, tokens=10, frames=2, queries=2)
    a = dict(vectors.arrays)
    a["frame_end"] = np.array([0, 10])                 # frame 0 is empty
    a["query_after"] = np.array([0, 0])
    _compare(type(vectors)(vectors.unit, cfg, a), 3)


def test_default_and_small_presets():
    for name in ("default", "small"):
        from vrex.golden.config import load_config
        cfg = load_config(name)
        _compare(random_vectors("dre", cfg, 5, tokens=30, frames=2, queries=2, rows=2), 5)


def test_registers():
    cfg = small_config(buckets=3, max_buckets=8)
    dut = DRE(cfg)
    regs = RegisterMap(cfg)
    offset = {r.name: r.offset for r in regs}

    async def bench(ctx):
        assert await wishbone_read(ctx, dut.bus, offset["ID"]) == ID_MAGIC
        assert await wishbone_read(ctx, dut.bus, offset["BUCKETS"]) == 3
        assert await wishbone_read(ctx, dut.bus, offset["MAX_CLUSTERS"]) == cfg.max_clusters
        for name in ("HASH_BITS", "MAX_CLUSTERS", "MAX_PAGES", "PAGE_TOKENS"):
            assert await wishbone_read(ctx, dut.bus, offset[name]) == \
                getattr(cfg, name.lower()), name
        lanes = regs.unpack("LANES", await wishbone_read(ctx, dut.bus, offset["LANES"]))
        assert lanes == {"HCU_LANES": cfg.hcu_lanes, "WTU_LANES": cfg.wtu_lanes}
        # Writes are clamped to the legal range and read back as stored.
        for value, stored in ((5, 5), (0, 1), (99, 8)):
            await wishbone_write(ctx, dut.bus, offset["BUCKETS"], value)
            assert await wishbone_read(ctx, dut.bus, offset["BUCKETS"]) == stored
        await wishbone_write(ctx, dut.bus, offset["TH_HD"], 100)
        assert await wishbone_read(ctx, dut.bus, offset["TH_HD"]) == cfg.hash_bits + 1
        # Byte enables: only the low byte of RATIO changes.
        await wishbone_write(ctx, dut.bus, offset["RATIO"], 0xABCD, sel=0b0001)
        assert await wishbone_read(ctx, dut.bus, offset["RATIO"]) == (cfg.ratio & 0xFF00) | 0xCD
        assert await wishbone_read(ctx, dut.bus, 4 * 60) == 0          # unmapped
        # Tokens count and clear.
        ctx.set(dut.o_slot.ready, 1)
        for h in (1, 2, 3):
            ctx.set(dut.i_hash.valid, 1)
            ctx.set(dut.i_hash.payload, {"hash": h, "query": 0})
            await ctx.tick().until(dut.i_hash.ready)
        ctx.set(dut.i_hash.valid, 0)
        await ctx.tick().repeat(20)
        assert await wishbone_read(ctx, dut.bus, offset["TOKENS"]) == 3
        assert await wishbone_read(ctx, dut.bus, offset["CLUSTERS"]) >= 1
        assert await wishbone_read(ctx, dut.bus, offset["PAGES"]) >= 1
        await wishbone_write(ctx, dut.bus, offset["CTRL"], regs.pack("CTRL", CLEAR=1))
        await ctx.tick().repeat(3)
        status = regs.unpack("STATUS", await wishbone_read(ctx, dut.bus, offset["STATUS"]))
        assert not status["BUSY"] and not status["CLEAR_PENDING"]
        for name in ("TOKENS", "CLUSTERS", "PAGES", "QUERIES"):
            assert await wishbone_read(ctx, dut.bus, offset[name]) == 0, name

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_units_are_named_only_with_checks():
    # A proof names the units' state; without checks the DRE builds them as it elaborates,
    # and asking for them is an error that says what to do.
    from amaranth.back import rtlil

    plain = DRE(small_config())
    with pytest.raises(ValueError, match="DRE.units needs checks=True"):
        plain.units
    rtlil.convert(plain)                       # used, so no unused-design warning
    checked = DRE(small_config(), checks=True)
    assert set(checked.units) == {"hcu", "wtu", "controller", "guard", "id_skid",
                                  "select_skid", "select_reg", "regs"}
    rtlil.convert(checked)
