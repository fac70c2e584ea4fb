"""The KV engine's store path (rtl/kv/store.py) in the Amaranth simulator against the golden
memory image, behind a cycle-level AXI4 write memory that applies the strobes."""

import numpy as np
import pytest

from vrex.golden.kv import AXI_BOUNDARY, KvParams, burst_plan
from vrex.rtl.kv import KvStore
from vrex.testbench.amaranth_kv import run_store


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
    bursts = run_store(dut, slots, kv, memory, rng, base=base, idle=0.3, stall=0.3,
                        latency=int(rng.integers(0, 10)))
    want = store_kv(bytearray([0xA5]) * size, kv, slots, params, base=base)
    assert memory == want, f"seed {seed}"
    expected = sum(len(burst_plan(base + s * params.stride, params.stride, params))
                   for s in slots if s >= 0)
    assert len(bursts) == expected, f"seed {seed}"
