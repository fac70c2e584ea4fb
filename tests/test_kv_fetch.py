"""The KV engine's fetch path (rtl/kv/fetch.py) in the Amaranth simulator against the golden
model's fetch of random golden DRE runs, behind a cycle-level AXI4 memory with latency, stalls
and gaps."""

import numpy as np
import pytest

from vrex.golden.kv import AXI_BOUNDARY, KvParams
from vrex.rtl.kv import KvFetch
from vrex.testbench.amaranth_kv import run_fetch


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
    got, bursts, _ = run_fetch(dut, descs, memory, rng, base=base, idle=0.3, stall=0.3,
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


def test_a_burst_streams_without_bubbles():
    # One page in one burst: its beats arrive `latency` cycles after the address and leave
    # one a cycle, so the bus is busy beats / (latency + beats) of the time, and no less.
    dut = KvFetch(addr_width=16, bus_bytes=4, max_burst=64, kv_bytes=16, page_tokens=8,
                  max_pages=4, outstanding=2)
    descs = [{"page": 1, "tokens": 8, "end": 0}, {"page": 0, "tokens": 0, "end": 1}]
    memory = bytearray(range(256)) * 2
    got, bursts, timing = run_fetch(dut, descs, memory, np.random.default_rng(0), latency=30)
    assert bursts == [(128, 32)]
    assert timing.beats == 32 and timing.share_of_peak == 32 / (30 + 32)
    assert [g[1] for g in got if g[2]] == list(range(8, 16))


def test_reads_outstanding_hide_the_latency():
    from vrex.golden.trace import TraceParams, generate_trace
    from vrex.scripts.bench_kv import bench_kv_bandwidth
    trace = generate_trace(TraceParams(frames=3, tokens=48, heads=1))
    shares = bench_kv_bandwidth(trace=trace, name="t", latency=40, queries=2,
                                outstanding=(4, 1))["share_of_peak"]
    assert 0 < shares[1] < shares[4] <= 1
