"""Host faults (docs/dre.md): the golden model's stated outcomes, the DRE's in the Amaranth
simulator for CLEAR and a held query marker, and the fault campaign of the generated Verilog
with several hundred random faults, each outcome checked and every later query exact."""

import shutil

import numpy as np
import pytest
from amaranth.sim import Simulator

from vrex.golden.dre import run_dre
from vrex.golden.faults import ErrorRecord, HostFault, random_faults
from vrex.golden.stimulus import random_vectors
from vrex.interface.registers import RegisterMap
from vrex.rtl.dre import DRE
from vrex.scripts.cli import main
from vrex.testbench.amaranth_dre import wishbone_read, wishbone_write
from vrex.testbench.faults import run_campaign

from conftest import small_config

CFG = small_config(max_clusters=6, max_pages=12, page_tokens=2, wtu_lanes=2, th_hd=3)


def _run(vectors, **kw):
    a = vectors.arrays
    return run_dre(a["hashes"], a["frame_end"], a["query_after"], a["query_rows"], a["scores"],
                   vectors.config, **kw)


def _faulty_query(want, lanes):
    """A query with at least two beats a row."""
    return next(q for q, n in enumerate(want.clusters) if -(-n // lanes) >= 2)


@pytest.mark.parametrize("kind", ["last_early", "timeout"])
def test_a_cut_query_is_answered_empty_and_nothing_else_changes(kind):
    vectors = random_vectors("dre", CFG, 4, tokens=40, frames=4, queries=4)
    good = _run(vectors)
    q = _faulty_query(good, CFG.wtu_lanes)
    cut = _run(vectors, faults={q: HostFault(kind, 1)})
    assert not cut.select[q].any()
    assert not (cut.descriptors[:, 0] == q).any()
    others = np.arange(len(good.clusters)) != q
    assert np.array_equal(cut.select[others], good.select[others])
    assert np.array_equal(cut.descriptors, good.descriptors[good.descriptors[:, 0] != q])
    assert np.array_equal(cut.slot, good.slot) and np.array_equal(cut.cluster, good.cluster)
    cause = {"last_early": "LAST_EARLY", "timeout": "SCORE_TIMEOUT"}[kind]
    assert cut.errors[:q] == [ErrorRecord()] * q
    assert cut.errors[q:] == [ErrorRecord(**{cause: True}, QUERY=q)] * (len(good.clusters) - q)
    assert cut.cycles == -1 and good.errors == [ErrorRecord()] * len(good.clusters)
    assert cut.faults == {q: HostFault(kind, 1)} and good.faults == {}


def test_clear_in_a_query_forgets_everything_after_it():
    vectors = random_vectors("dre", CFG, 5, tokens=40, frames=4, queries=4)
    good = _run(vectors)
    q = _faulty_query(good, CFG.wtu_lanes)
    cut = _run(vectors, faults={q: HostFault("clear", 1)})
    assert not cut.select[q].any()
    assert not any(e.any for e in cut.errors)               # CLEAR forgets faults too
    first = int(vectors.arrays["frame_end"][vectors.arrays["query_after"][q]])
    if first < vectors.arrays["hashes"].size:
        assert cut.cluster[first] == 0 and cut.slot[first] == 0     # a fresh table and pool


def test_error_record_keeps_the_first_query_and_every_cause():
    vectors = random_vectors("dre", CFG, 4, tokens=40, frames=4, queries=4)
    good = _run(vectors)
    cuttable = [q for q, n in enumerate(good.clusters) if -(-n // CFG.wtu_lanes) >= 2]
    first, second = cuttable[:2]
    cut = _run(vectors, faults={first: HostFault("timeout", 0),
                                second: HostFault("last_early", 1)})
    assert cut.errors[-1] == ErrorRecord(LAST_EARLY=True, SCORE_TIMEOUT=True, QUERY=first)


def test_register_writes_take_effect_after_the_query():
    vectors = random_vectors("dre", CFG, 6, tokens=40, frames=4, queries=4)
    q = 1
    written = _run(vectors, writes={q: {"ratio": 0}})
    a = vectors.arrays
    before = _run(vectors)
    after = run_dre(a["hashes"], a["frame_end"], a["query_after"], a["query_rows"],
                    a["scores"], CFG.replace(ratio=0))
    assert np.array_equal(written.select[:q + 1], before.select[:q + 1])
    assert np.array_equal(written.select[q + 1:], after.select[q + 1:])


@pytest.mark.parametrize("faults, writes, message", [
    ({0: HostFault("timeout", 0)}, None, "sees no cluster"),
    ({-1: HostFault("timeout", 0)}, None, "key -1 is not a query index"),
    (None, {2: {"ratio": 0}}, r"key 2 is not a query index of the vector \(0..1\)"),
    ({0: ("timeout", 1)}, None, "is not a HostFault"),
    (None, {0: {"digit": 2}}, "'digit' is not one of th_hd"),
    (None, {0: {"buckets": 0}}, r"writes\[0\].buckets"),
])
def test_bad_plans_are_refused(faults, writes, message):
    vectors = random_vectors("dre", CFG, 1, tokens=20, frames=2, queries=2)
    a = dict(vectors.arrays)
    a["frame_end"] = np.array([0, 20])                  # the first query sees no cluster
    a["query_after"] = np.array([0, 1])
    with pytest.raises(ValueError, match=message):
        run_dre(a["hashes"], a["frame_end"], a["query_after"], a["query_rows"], a["scores"],
                CFG, faults=faults, writes=writes)


@pytest.mark.parametrize("kind, beats, message", [
    ("drop", 1, "not one of last_early"), ("timeout", -1, "must be a count"),
    ("last_early", 0, "needs a beat to carry last")])
def test_bad_faults_are_refused(kind, beats, message):
    with pytest.raises(ValueError, match=message):
        HostFault(kind, beats)


def test_last_on_a_row_end_is_no_fault():
    vectors = random_vectors("dre", CFG, 4, tokens=40, frames=4, queries=4)
    good = _run(vectors)
    q = _faulty_query(good, CFG.wtu_lanes)
    row_beats = -(-good.clusters[q] // CFG.wtu_lanes)
    with pytest.raises(ValueError, match="ends a row"):
        _run(vectors, faults={q: HostFault("last_early", row_beats)})


def test_random_plans_are_valid_for_the_golden_model():
    for seed in range(5):
        vectors = random_vectors("dre", CFG, seed, tokens=200, frames=25, queries=50)
        faults, writes = random_faults(vectors.arrays, CFG, np.random.default_rng(seed))
        assert faults and writes
        _run(vectors, faults=faults, writes=writes)


def test_clear_goes_before_a_waiting_query_marker():
    # CLEAR is pending while a query marker is offered: the clear is carried out first and
    # the query sees an empty table (one empty selection beat, the end beat).
    dut = DRE(CFG)
    regs = RegisterMap(CFG)

    async def bench(ctx):
        for name in ("o_slot", "o_select", "o_desc"):
            ctx.set(getattr(dut, name).ready, 1)
        for h in (0, 0x3F):
            ctx.set(dut.i_hash.valid, 1)
            ctx.set(dut.i_hash.payload, {"hash": h, "query": 0})
            await ctx.tick().until(dut.i_hash.ready)
        ctx.set(dut.i_hash.valid, 0)
        await ctx.tick().repeat(20)
        assert await wishbone_read(ctx, dut.bus, regs.offset("CLUSTERS")) == 2
        await wishbone_write(ctx, dut.bus, regs.offset("CTRL"), regs.pack("CTRL", CLEAR=1))
        ctx.set(dut.i_hash.valid, 1)
        ctx.set(dut.i_hash.payload, {"hash": 0, "query": 1})
        await ctx.tick().until(dut.i_hash.ready)
        ctx.set(dut.i_hash.valid, 0)
        desc, = await ctx.tick().sample(dut.o_desc.payload).until(dut.o_desc.valid)
        assert desc.end == 1
        assert await wishbone_read(ctx, dut.bus, regs.offset("CLUSTERS")) == 0
        assert await wishbone_read(ctx, dut.bus, regs.offset("QUERIES")) == 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.skipif(not shutil.which("iverilog"), reason="iverilog not installed")
def test_fault_campaign(tmp_path, record_property):
    # About 300 faults in 700 queries, idles on the inputs and stalls on the outputs; the
    # testbench checks every outcome and the golden model's outputs for every query.
    result = run_campaign(CFG, 20261206, tmp_path, queries=700)
    record_property("campaign", str(result))
    assert result.faults >= 250 and set(result.kinds) == {"last_early", "timeout", "clear"}
    assert result.writes >= 50 and result.checked >= result.faults


@pytest.mark.parametrize("args, message", [
    (["--rate", "2"], "rate must be in 0..1, not 2.0"),
    (["--stall", "100%"], "stall must be in 0..1 (exclusive), not 1.0"),
    (["--timeout", "25"], "timeout must be in 0..24, not 25"),
    (["--queries", "0"], "queries must be at least 1, not 0"),
    (["--set", "kv_bytes=64"], "kv_bytes=64")])
def test_sim_faults_refuses_bad_arguments(args, message, capsys):
    assert main(["sim", "faults", *args]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(not shutil.which("iverilog"), reason="iverilog not installed")
def test_sim_faults_prints_what_it_did(tmp_path, capsys):
    assert main(["sim", "faults", "--config", "small", "--set", "max_clusters=4", "--set",
                 "wtu_lanes=2", "--queries", "30", "--seed", "3", "--build",
                 str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "fault campaign (seed 3):" in out and "in 30 queries" in out
