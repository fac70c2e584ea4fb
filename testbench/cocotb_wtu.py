"""cocotb testbench of the generated WTU Verilog: one batch from a ``wtu`` vector file, counts
then scores with random idle cycles, row results and masks taken with random back-pressure.
Settings come from the runner through the environment (see ``cocotb_common.Settings``)."""

import cocotb
import numpy as np
from cocotb.clock import Clock

from vrex.golden.vectors import load_vectors, write_npz
from vrex.interface.dre import lane_beats, score_beats
from vrex.interface.layouts import count_layout, mask_layout, row_layout, score_layout
from vrex.testbench.cocotb_common import Settings, drive_streams, reset


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
    counts_layout = count_layout(cfg.count_bits, lanes)
    in_layout = score_layout(cfg.score_bits, lanes)
    info_layout = row_layout(cfg.value_bits, cfg.count_bits, cfg.max_clusters, cfg.max_buckets)
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

    count_beats = [counts_layout.const(b).as_bits() for b in lane_beats(counts, lanes)]
    score_bits = [in_layout.const(b).as_bits() for b in score_beats(scores, lanes)]
    beats = len(count_beats)
    wanted_masks = (rows + 1) * beats
    received, first_in, last_out = await drive_streams(
        dut, {"i_count": count_beats, "i_score": score_bits},
        {"o_row": info_layout, "o_mask": out_layout},
        lambda got: len(got["o_mask"]) >= wanted_masks, settings, rng,
        limit=100 * (rows + 2) * (beats + cfg.score_bits + 8) * (cfg.buckets + 2))
    infos, masks = received["o_row"], received["o_mask"]

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
