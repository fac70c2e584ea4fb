"""The KV memory engine's RTL pieces (rtl/kv) in the Amaranth simulator against the golden
model (golden/kv.py), under random idles and stalls."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from vrex.golden.kv import AXI_BOUNDARY, KvParams, burst_plan
from vrex.rtl.kv import BurstSplitter, KvFetch, KvStore
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


def test_one_burst_a_cycle_when_ready():
    dut = BurstSplitter(addr_width=16, bus_bytes=4, max_burst=2, max_beats=16)
    cycles = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.i.valid, 1)
        ctx.set(dut.i.payload, {"addr": 0, "beats": 8})
        await ctx.tick()
        ctx.set(dut.i.valid, 0)
        for cycle in range(6):
            cycles.append((ctx.get(dut.o.valid), ctx.get(dut.o.payload.addr)))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert cycles == [(1, 0), (1, 8), (1, 16), (1, 24), (0, 32), (0, 32)]


@pytest.mark.parametrize("field, value, message", [
    ("bus_bytes", 12, "bus_bytes must be a power of two, not 12"),
    ("max_burst", 0, r"max_burst must be an integer in 1..256, not 0"),
    ("addr_width", 8, r"addr_width must be an integer in 12..64, not 8"),
])
def test_bad_parameters_are_named(field, value, message):
    with pytest.raises(ValueError, match=message):
        BurstSplitter(**{field: value})


def _fetch_run(dut, descs, memory, rng, *, base, idle, stall, latency):
    """Cycle by cycle: descriptors offered with idles, an AXI4 memory that takes bursts with
    random stalls and answers each after ``latency`` cycles (also with gaps), an output that
    stalls. Returns the output beats and the bursts seen; checks the AXI rules as it goes."""
    bus, beats_out, bursts = dut.bus_bytes, [], []
    inflight, desc_i = [], 0
    ends = sum(1 for d in descs if d["end"])
    cycle = 0

    async def bench(ctx):
        nonlocal desc_i, cycle
        offered = showing = False
        ctx.set(dut.kv_base, base)
        while sum(1 for b in beats_out if b[3]) < ends:
            assert cycle < 20_000, (f"no end beat for every query within 20000 cycles: "
                                    f"{desc_i} descriptors taken, {len(bursts)} bursts, "
                                    f"{len(beats_out)} beats out, in flight {inflight}")
            # A beat once offered (descriptor or read data) stays until taken.
            offer = desc_i < len(descs) and (offered or rng.random() >= idle)
            offered = offer
            ctx.set(dut.i_desc.valid, offer)
            if offer:
                ctx.set(dut.i_desc.payload, descs[desc_i])
            ctx.set(dut.m_axi_arready, rng.random() >= stall)
            due = bool(inflight) and inflight[0][0] <= cycle and (showing or rng.random() >= idle)
            showing = due
            ctx.set(dut.m_axi_rvalid, due)
            if due:
                _, addr, left = inflight[0]
                ctx.set(dut.m_axi_rdata, int.from_bytes(memory[addr:addr + bus], "little"))
                ctx.set(dut.m_axi_rlast, left == 1)
            ctx.set(dut.o_token.ready, rng.random() >= stall)
            if offer and ctx.get(dut.i_desc.ready):
                desc_i += 1
                offered = False
            if ctx.get(dut.m_axi_arvalid) and ctx.get(dut.m_axi_arready):
                addr, n = ctx.get(dut.m_axi_araddr), ctx.get(dut.m_axi_arlen) + 1
                assert ctx.get(dut.m_axi_arburst) == 1 and 1 << ctx.get(dut.m_axi_arsize) == bus
                assert addr // AXI_BOUNDARY == (addr + n * bus - 1) // AXI_BOUNDARY
                assert n <= dut_params(dut).max_burst
                bursts.append((addr, n))
                inflight.append([cycle + latency, addr, n])
            if due and ctx.get(dut.m_axi_rready):
                showing = False
                inflight[0][1] += bus
                inflight[0][2] -= 1
                if inflight[0][2] == 0:
                    inflight.pop(0)
            if ctx.get(dut.o_token.valid) and ctx.get(dut.o_token.ready):
                t = ctx.get(dut.o_token.payload)
                beats_out.append((t.query, t.slot, t.last, t.end, t.data))
            await ctx.tick()
            cycle += 1

    _simulate(dut, bench)
    return beats_out, bursts


@pytest.mark.parametrize("seed", range(6))
def test_fetch_returns_the_golden_tokens(seed):
    from vrex.golden.dre import run_dre
    from vrex.golden.kv import fetch_kv
    from vrex.golden.stimulus import random_vectors
    from conftest import small_config
    rng = np.random.default_rng(seed)
    cfg = small_config(max_pages=int(rng.integers(2, 9)), page_tokens=int(rng.integers(1, 6)))
    a = random_vectors("dre", cfg, seed, tokens=int(rng.integers(5, 60)), frames=3,
                       queries=3, rows=2).arrays
    result = run_dre(a["hashes"], a["frame_end"], a["query_after"], a["query_rows"],
                     a["scores"], cfg)
    slot = np.where(result.slot == cfg.no_slot, -1, result.slot)
    bus = int(2 ** rng.integers(2, 5))
    params = KvParams(kv_bytes=int(rng.integers(1, 100)), bus_bytes=bus,
                      max_burst=int(rng.integers(1, 9)))
    kv = rng.integers(0, 256, size=(slot.size, params.kv_bytes), dtype=np.uint8)
    want = fetch_kv(kv, slot, result.descriptors, params, cfg.page_tokens)
    base = AXI_BOUNDARY * int(rng.integers(0, 3))
    memory = bytearray(base + cfg.max_pages * cfg.page_tokens * params.stride)
    for t, s in enumerate(slot.tolist()):
        if s >= 0:
            memory[base + s * params.stride:base + s * params.stride + params.kv_bytes] = \
                kv[t].tobytes()
    descs = []
    for q in range(result.select.shape[0]):
        descs += [{"page": p, "tokens": n, "end": 0}
                  for qq, p, n in result.descriptors.tolist() if qq == q]
        descs.append({"page": 0, "tokens": 0, "end": 1})
    dut = KvFetch(addr_width=16, bus_bytes=bus, max_burst=params.max_burst,
                  kv_bytes=params.kv_bytes, page_tokens=cfg.page_tokens,
                  max_pages=cfg.max_pages, outstanding=int(rng.integers(1, 5)), query_bits=4)
    got, bursts = _fetch_run(dut, descs, memory, rng, base=base, idle=0.3, stall=0.3,
                             latency=int(rng.integers(0, 12)))
    # Tokens: their beats in order, then each query's end beat.
    rows, slots, queries, ends, buf = [], [], [], [], b""
    for query, s, last, end, data in got:
        if end:
            ends.append(query)
            continue
        buf += int(data).to_bytes(bus, "little")
        if last:
            rows.append(np.frombuffer(buf[:params.kv_bytes], dtype=np.uint8))
            slots.append(s)
            queries.append(query)
            buf = b""
    assert ends == [q % 16 for q in range(result.select.shape[0])], f"seed {seed}"
    assert slots == want.fetched_slot.tolist(), f"seed {seed}"
    assert queries == [q % 16 for q in want.fetched_query.tolist()], f"seed {seed}"
    assert all(np.array_equal(r, w) for r, w in zip(rows, want.fetched)), f"seed {seed}"
    assert len(bursts) == want.bursts, f"seed {seed}"


def _store_run(dut, slots, kv, memory, rng, *, base, idle, stall, latency):
    """Cycle by cycle: slots and token beats offered with idles (held once offered), an AXI4
    memory that takes addresses and data with stalls, applies the strobes and answers each
    burst after ``latency`` cycles. Checks the AXI rules; returns the bursts."""
    bus, beats = dut.bus_bytes, dut.stride // dut.bus_bytes
    token_beats = [(t, b) for t in range(len(slots)) for b in range(beats)]
    aw, bursts, responses = [], [], []
    state = dict(slot_i=0, beat_i=0, slot_held=False, beat_held=False, b_held=False)
    cycle = 0

    async def bench(ctx):
        nonlocal cycle
        ctx.set(dut.kv_base, base)
        while (state["slot_i"] < len(slots) or state["beat_i"] < len(token_beats) or aw
               or responses or ctx.get(dut.busy)):
            assert cycle < 20_000, f"the store did not finish within 20000 cycles: {state}"
            s_offer = state["slot_i"] < len(slots) and (state["slot_held"] or rng.random() >= idle)
            state["slot_held"] = s_offer
            ctx.set(dut.i_slot.valid, s_offer)
            if s_offer:
                s = slots[state["slot_i"]]
                ctx.set(dut.i_slot.payload, {"slot": max(s, 0), "none": s < 0})
            k_offer = state["beat_i"] < len(token_beats) and (state["beat_held"]
                                                              or rng.random() >= idle)
            state["beat_held"] = k_offer
            ctx.set(dut.i_kv.valid, k_offer)
            if k_offer:
                t, b = token_beats[state["beat_i"]]
                word = kv[t].tobytes() + bytes(beats * bus - dut.kv_bytes)
                ctx.set(dut.i_kv.payload, {"data": int.from_bytes(word[b * bus:(b + 1) * bus],
                                                                  "little"),
                                           "last": b == beats - 1})
            ctx.set(dut.m_axi_awready, rng.random() >= stall)
            ctx.set(dut.m_axi_wready, rng.random() >= stall)
            b_due = bool(responses) and responses[0] <= cycle
            ctx.set(dut.m_axi_bvalid, b_due)
            if s_offer and ctx.get(dut.i_slot.ready):
                state["slot_i"] += 1
                state["slot_held"] = False
            if k_offer and ctx.get(dut.i_kv.ready):
                state["beat_i"] += 1
                state["beat_held"] = False
            if ctx.get(dut.m_axi_awvalid) and ctx.get(dut.m_axi_awready):
                addr, n = ctx.get(dut.m_axi_awaddr), ctx.get(dut.m_axi_awlen) + 1
                assert ctx.get(dut.m_axi_awburst) == 1 and 1 << ctx.get(dut.m_axi_awsize) == bus
                assert addr // AXI_BOUNDARY == (addr + n * bus - 1) // AXI_BOUNDARY
                assert n <= dut.max_burst
                aw.append([addr, n])
                bursts.append((addr, n))
            if ctx.get(dut.m_axi_wvalid) and ctx.get(dut.m_axi_wready):
                assert aw, "write data before its address"
                addr, left = aw[0]
                assert ctx.get(dut.m_axi_wlast) == (left == 1), "wlast on the wrong beat"
                word = int(ctx.get(dut.m_axi_wdata)).to_bytes(bus, "little")
                strb = ctx.get(dut.m_axi_wstrb)
                for i in range(bus):
                    if strb >> i & 1:
                        memory[addr + i] = word[i]
                aw[0] = [addr + bus, left - 1]
                if left == 1:
                    aw.pop(0)
                    responses.append(cycle + latency)
            if b_due:
                responses.pop(0)
            await ctx.tick()
            cycle += 1

    _simulate(dut, bench)
    return bursts


@pytest.mark.parametrize("seed", range(8))
def test_store_writes_the_golden_image(seed):
    from vrex.golden.kv import store_kv
    rng = np.random.default_rng(seed)
    bus = int(2 ** rng.integers(2, 6))
    params = KvParams(kv_bytes=int(rng.integers(1, 200)), bus_bytes=bus,
                      max_burst=int(rng.integers(1, 9)))
    pages, per_page = int(rng.integers(1, 6)), int(rng.integers(1, 5))
    tokens = int(rng.integers(1, 40))
    free = list(rng.permutation(pages * per_page))
    slots = [int(free.pop()) if free and rng.random() < 0.8 else -1 for _ in range(tokens)]
    kv = rng.integers(0, 256, size=(tokens, params.kv_bytes), dtype=np.uint8)
    base = AXI_BOUNDARY * int(rng.integers(0, 3))
    size = base + pages * per_page * params.stride
    memory = bytearray([0xA5]) * size
    dut = KvStore(addr_width=16, bus_bytes=bus, max_burst=params.max_burst,
                  kv_bytes=params.kv_bytes, page_tokens=per_page, max_pages=pages,
                  outstanding=int(rng.integers(1, 5)))
    bursts = _store_run(dut, slots, kv, memory, rng, base=base, idle=0.3, stall=0.3,
                        latency=int(rng.integers(0, 10)))
    want = store_kv(bytearray([0xA5]) * size, kv, slots, params, base=base)
    assert memory == want, f"seed {seed}"
    expected = sum(len(burst_plan(base + s * params.stride, params.stride, params))
                   for s in slots if s >= 0)
    assert len(bursts) == expected, f"seed {seed}"
