"""cocotb testbench of the generated DRE Verilog: a ``dre`` vector file streamed through it with
random idles on every input and back-pressure on every output, the query settings written
and the overflow flags read over the Wishbone bus. A file with ``kv`` (SPEC 7) also streams
every token's K and V bytes in and takes the fetched tokens out, with cocotbext-axi's AXI4 RAM
as the memory (``cocotb_kv``). Settings come from the runner through the environment (see
``cocotb_common.Settings``)."""

import json
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from vrex.golden.dre import run_dre
from vrex.golden.vectors import load_vectors, write_npz
from vrex.golden.config import RUNTIME
from vrex.interface.dre import DreProgress, dre_beats, dre_outputs, kv_beats, kv_outputs
from vrex.interface.layouts import dre_layouts, kv_layouts
from vrex.interface.registers import ID_MAGIC, RegisterMap
from vrex.testbench.cocotb_common import Settings, drive_streams, reset
from vrex.testbench.cocotb_kv import kv_memory
from vrex.testbench.cocotb_top import TopPorts


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
    handle = dut                         # the module whose m_axi_* ports the memory serves
    if settings.top:                     # the integrator's top, under the DRE's port names
        dut = TopPorts(dut, json.loads(Path(settings.top).read_text())["streams"])
    vectors = load_vectors(settings.vectors)
    cfg, a = vectors.config, vectors.arrays
    rng = np.random.default_rng(settings.seed)
    regs = RegisterMap(cfg)
    # The golden run only shapes the score beats (each query's n); outputs are the DUT's.
    golden = run_dre(a["hashes"], a["frame_end"], a["query_after"], a["query_rows"],
                     a["scores"], cfg)
    hash_beats, score_beats, ns = dre_beats(a, cfg, golden)
    layouts = {**dre_layouts(cfg), **kv_layouts(cfg)}
    kv = "kv" in a
    sources = {"i_hash": [layouts["i_hash"].const(b).as_bits() for b in hash_beats],
               "i_score": [layouts["i_score"].const(b).as_bits() for b in score_beats]}
    if kv:
        sources["i_kv"] = [layouts["i_kv"].const(b).as_bits()
                           for b in kv_beats(a["kv"], cfg.bus_bytes)]
    sink_names = ("o_slot", "o_select", "o_desc", "o_token") if kv else \
        ("o_slot", "o_select", "o_desc")

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for name in (*(f"{s}__{p}" for s in sources for p in ("valid", "payload")),
                 *(f"{s}__ready" for s in sink_names),
                 "bus__adr", "bus__dat_w", "bus__sel", "bus__cyc", "bus__stb", "bus__we"):
        getattr(dut, name).value = 0
    # The KV pool at a 4 KB block the seed picks, so that kv_base is tried too.
    memory = kv_memory(handle, dut.clk, cfg, settings, base_block=settings.seed % 4) \
        if kv else None
    await reset(dut)
    assert await wishbone(dut, regs.offset("ID")) == ID_MAGIC, "no DRE at the register bus"
    for name in RUNTIME:
        await wishbone(dut, regs.offset(name.upper()), int(getattr(cfg, name)))
    if kv:
        await wishbone(dut, regs.offset("KV_BASE"), memory.base_block)

    tokens, queries = a["hashes"].size, len(ns)

    progress = DreProgress()

    def done(got):
        progress.update(got["o_slot"], got["o_desc"], got.get("o_token", ()))
        return progress.done(tokens, queries, kv)

    sinks, first_in, last_out = await drive_streams(
        dut, sources, {name: layouts[name] for name in sink_names}, done, settings, rng)
    status = await wishbone(dut, regs.offset("STATUS"))
    outputs = dre_outputs(sinks["o_slot"], sinks["o_select"], sinks["o_desc"], ns, status, cfg,
                          0 if first_in is None else last_out - first_in + 1)
    if kv:
        outputs.update(kv_outputs(sinks["o_token"], cfg, memory.bursts))
        memory.check_image(a["kv"], outputs["slot"])
    write_npz(settings.out, {"unit": np.array("dre"), **outputs})
