"""cocotb testbench of the generated DRE Verilog: a ``dre`` vector file streamed through it with
random idles on both inputs and back-pressure on all three outputs, the query settings written
and the overflow flags read over the Wishbone bus. Settings come from the runner through the
environment (see ``cocotb_common.Settings``)."""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from vrex.golden.dre import run_dre
from vrex.golden.vectors import load_vectors, write_npz
from vrex.rtl.controller import desc_layout, select_layout, slot_layout
from vrex.rtl.dre import hash_layout
from vrex.rtl.registers import ID_MAGIC, dre_registers
from vrex.rtl.wtu import score_layout
from vrex.testbench.dre_streams import dre_beats, dre_outputs
from vrex.testbench.cocotb_common import Settings, drive_streams, reset


async def wishbone(dut, offset: int, value: int | None = None) -> int:
    """One Wishbone classic access: a write of ``value``, or a read."""
    dut.bus__adr.value = offset // 4
    dut.bus__we.value = int(value is not None)
    dut.bus__dat_w.value = value or 0
    dut.bus__sel.value = 0xF
    dut.bus__cyc.value = 1
    dut.bus__stb.value = 1
    while True:
        await RisingEdge(dut.clk)
        if dut.bus__ack.value:
            break
    read = int(dut.bus__dat_r.value)
    dut.bus__cyc.value = 0
    dut.bus__stb.value = 0
    await RisingEdge(dut.clk)
    return read


@cocotb.test()
async def dre_vectors(dut):
    settings = Settings.from_env()
    vectors = load_vectors(settings.vectors)
    cfg, a = vectors.config, vectors.arrays
    rng = np.random.default_rng(settings.seed)
    regs = {r.name: r.offset for r in dre_registers(cfg)}
    # The golden run only shapes the score beats (each query's n); outputs are the DUT's.
    golden = run_dre(a["hashes"], a["frame_end"], a["query_after"], a["query_rows"],
                     a["scores"], cfg)
    hash_beats, score_beats, ns = dre_beats(a, cfg, golden)
    layouts = {"i_hash": hash_layout(cfg.hash_bits),
               "i_score": score_layout(cfg.score_bits, cfg.wtu_lanes),
               "o_slot": slot_layout(cfg.max_clusters, cfg.page_tokens, cfg.max_pages),
               "o_select": select_layout(cfg.wtu_lanes),
               "o_desc": desc_layout(cfg.page_tokens, cfg.max_pages)}
    sources = {"i_hash": [layouts["i_hash"].const(b).as_bits() for b in hash_beats],
               "i_score": [layouts["i_score"].const(b).as_bits() for b in score_beats]}

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for name in ("i_hash__valid", "i_hash__payload", "i_score__valid", "i_score__payload",
                 "o_slot__ready", "o_select__ready", "o_desc__ready", "bus__adr", "bus__dat_w",
                 "bus__sel", "bus__cyc", "bus__stb", "bus__we"):
        getattr(dut, name).value = 0
    await reset(dut)
    assert await wishbone(dut, regs["ID"]) == ID_MAGIC, "no DRE at the register bus"
    for name in ("TH_HD", "RATIO", "BUCKETS", "MODE"):
        await wishbone(dut, regs[name], int(getattr(cfg, name.lower())))

    tokens, queries = a["hashes"].size, len(ns)

    ended = [0, 0]                    # descriptor beats looked at, end beats among them

    def done(got):
        descs = got["o_desc"]
        for d in descs[ended[0]:]:
            ended[1] += d.end
        ended[0] = len(descs)
        return len(got["o_slot"]) == tokens and ended[1] == queries

    sinks, first_in, last_out = await drive_streams(
        dut, sources, {name: layouts[name] for name in ("o_slot", "o_select", "o_desc")},
        done, settings, rng)
    status = await wishbone(dut, regs["STATUS"])
    outputs = dre_outputs(
        [(s.cluster, s.slot) for s in sinks["o_slot"]],
        [(s.mask, s.last) for s in sinks["o_select"]],
        [(d.page, d.tokens, d.end) for d in sinks["o_desc"]], ns, status, cfg,
        0 if first_in is None else last_out - first_in + 1)
    write_npz(settings.out, {"unit": np.array("dre"), **outputs})
