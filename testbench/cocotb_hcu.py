"""cocotb testbench of the generated HCU Verilog: drives a vector file's hashes with random
idle cycles, takes ids with random back-pressure, reads back the table, writes the SPEC 6
outputs. Settings come from the runner through the environment (see
``cocotb_common.Settings``)."""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from vrex.golden.vectors import load_vectors, write_npz
from vrex.rtl.hcu import id_layout
from vrex.testbench.cocotb_common import Settings, drive_streams, reset


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

    received, first_in, last_out = await drive_streams(
        dut, {"i_hash": hashes}, {"o_id": layout},
        lambda got: len(got["o_id"]) >= len(hashes), settings, rng,
        limit=1000 * (len(hashes) + 10) * (cfg.max_clusters + 1))
    ids = [beat.cluster for beat in received["o_id"]]
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
