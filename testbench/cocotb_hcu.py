"""cocotb testbench of the generated HCU Verilog: drives a vector file's hashes with random
idle cycles, takes ids with random back-pressure, reads back the table, writes the SPEC 6
outputs. Run it through :mod:`vrex.testbench.runner`, which passes its settings in the
environment (``VREX_VECTORS``, ``VREX_OUT``, ``VREX_IDLE``, ``VREX_STALL``, ``VREX_SEED``)."""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from vrex.golden.vectors import load_vectors, write_npz
from vrex.rtl.hcu import id_layout
from vrex.testbench.cocotb_common import Settings, report_progress, reset


@cocotb.test()
async def hcu_vectors(dut):
    settings = Settings.from_env()
    vectors = load_vectors(settings.vectors)
    cfg = vectors.config
    hashes = [int(h) for h in vectors.arrays["hashes"]]
    rng = np.random.default_rng(settings.seed)
    layout = id_layout(cfg.max_clusters)          # the RTL's own payload layout
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.i_hash__valid.value = 0
    dut.i_hash__payload.value = 0
    dut.o_id__ready.value = 0
    dut.th_hd.value = cfg.th_hd
    dut.clear.value = 0
    dut.rd_addr.value = 0
    await reset(dut)

    ids, first_in, last_out = [], None, None
    pending, offered, cycle = list(hashes), False, 0
    while len(ids) < len(hashes):
        if cycle % 2000 == 0:
            report_progress(settings, len(hashes) - len(pending), len(hashes))
        # Drive this cycle: a source that never withdraws an offered beat, a sink that may
        # refuse any beat.
        if not offered and pending and rng.random() >= settings.idle:
            offered = True
            dut.i_hash__payload.value = pending[0]
        dut.i_hash__valid.value = int(offered)
        ready = rng.random() >= settings.stall
        dut.o_id__ready.value = int(ready)
        await RisingEdge(dut.clk)
        # Values read now are those the flops sampled at this edge.
        if offered and dut.i_hash__ready.value:
            pending.pop(0)
            offered = False
            first_in = cycle if first_in is None else first_in
        if ready and dut.o_id__valid.value:
            ids.append(layout.from_bits(int(dut.o_id__payload.value)).cluster)
            last_out = cycle
        cycle += 1
        assert cycle < 1000 * (len(hashes) + 10) * (cfg.max_clusters + 1), "HCU hangs"
    report_progress(settings, len(hashes), len(hashes))
    dut.i_hash__valid.value = 0
    dut.o_id__ready.value = 0
    for _ in range(3):                              # let the count pipeline drain
        await RisingEdge(dut.clk)
    n = int(dut.n_clusters.value)
    counts, leaders = [], []
    for c in range(n):
        dut.rd_addr.value = c
        await RisingEdge(dut.clk)
        await RisingEdge(dut.clk)
        counts.append(int(dut.rd_count.value))
        leaders.append(int(dut.rd_hash.value))
    write_npz(settings.out, {
        "unit": np.array("hcu"),
        "cluster": np.array(ids, dtype=np.int64),
        "counts": np.array(counts, dtype=np.int64),
        "cluster_hash": np.array(leaders, dtype=np.uint64),
        "cluster_overflow": np.bool_(int(dut.cluster_overflow.value)),
        "cycles": np.int64(0 if first_in is None else last_out - first_in + 1),
    })
