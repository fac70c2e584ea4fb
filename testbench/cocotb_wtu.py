"""cocotb testbench of the generated WTU Verilog: one batch from a ``wtu`` vector file, counts
then scores with random idle cycles, row results and masks taken with random back-pressure.
Settings come from the runner through the environment (see ``cocotb_common.Settings``)."""

import cocotb
import numpy as np
from amaranth.lib import data
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from vrex.golden.vectors import load_vectors, write_npz
from vrex.rtl.wtu import mask_layout, row_layout, score_layout
from vrex.testbench.amaranth_wtu import beats_of
from vrex.testbench.cocotb_common import Settings, reset


@cocotb.test()
async def wtu_vectors(dut):
    settings = Settings.from_env()
    vectors = load_vectors(settings.vectors)
    cfg = vectors.config
    scores, counts = vectors.arrays["scores"], vectors.arrays["counts"]
    rows, columns = scores.shape
    lanes = cfg.wtu_lanes
    rng = np.random.default_rng(settings.seed)
    # The RTL's own payload layouts pack and unpack every beat.
    count_layout = data.ArrayLayout(cfg.count_bits, lanes)
    in_layout = score_layout(cfg.score_bits, lanes)
    info_layout = row_layout(cfg.score_bits, cfg.count_bits, cfg.max_clusters, cfg.max_buckets)
    out_layout = mask_layout(lanes)

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for name in ("i_count__valid", "i_count__payload", "i_score__valid", "i_score__payload",
                 "o_row__ready", "o_mask__ready"):
        getattr(dut, name).value = 0
    dut.columns.value = columns
    dut.ratio.value = cfg.ratio
    dut.buckets.value = cfg.buckets
    dut.mode.value = int(cfg.mode)
    await reset(dut)

    count_beats = [count_layout.const(b).as_bits() for b in beats_of(counts, lanes)]
    score_beats = []
    for r in range(rows):
        row = beats_of(scores[r], lanes)
        for i, beat in enumerate(row):
            last = r == rows - 1 and i == len(row) - 1
            score_beats.append(in_layout.const({"scores": beat, "last": last}).as_bits())
    beats = len(count_beats)
    sources = {"i_count": [count_beats, False], "i_score": [score_beats, False]}
    infos, masks = [], []
    wanted_masks = (rows + 1) * beats
    first_in = last_out = None
    cycle = 0
    while len(masks) < wanted_masks:
        for name, state in sources.items():
            pending, offered = state
            if not offered and pending and rng.random() >= settings.idle:
                state[1] = offered = True
                getattr(dut, f"{name}__payload").value = pending[0]
            getattr(dut, f"{name}__valid").value = int(offered)
        ready = {name: rng.random() >= settings.stall for name in ("o_row", "o_mask")}
        for name, r in ready.items():
            getattr(dut, f"{name}__ready").value = int(r)
        await RisingEdge(dut.clk)
        for name, state in sources.items():
            if state[1] and getattr(dut, f"{name}__ready").value:
                state[0].pop(0)
                state[1] = False
                first_in = cycle if first_in is None else first_in
        if ready["o_row"] and dut.o_row__valid.value:
            infos.append(info_layout.from_bits(int(dut.o_row__payload.value)))
        if ready["o_mask"] and dut.o_mask__valid.value:
            masks.append(out_layout.from_bits(int(dut.o_mask__payload.value)))
            last_out = cycle
        cycle += 1
        assert cycle < 100 * (rows + 2) * (beats + cfg.score_bits + 8) * \
            (cfg.buckets + 2), "WTU hangs"

    def unpack(chunk):
        bits = [(beat.mask >> lane) & 1 for beat in chunk for lane in range(lanes)]
        return np.array(bits[:columns], dtype=bool)

    assert [m.final for m in masks] == [0] * (rows * beats) + [1] * beats, "final flags"
    write_npz(settings.out, {
        "unit": np.array("wtu"),
        "row_select": np.array([unpack(masks[r * beats:(r + 1) * beats]) for r in range(rows)]),
        "select": unpack(masks[rows * beats:]),
        "exit_bucket": np.array([i.exit_bucket for i in infos], dtype=np.int64),
        "threshold": np.array([i.threshold for i in infos], dtype=np.int64),
        "total": np.array([i.total for i in infos], dtype=np.int64),
        "cycles": np.int64(last_out - first_in + 1),
    })
