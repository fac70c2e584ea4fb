"""The WTU against SPEC 3 over any number of batches: an unbounded proof (k-induction) that
every row's exit bucket, S, T and mask and every batch's final mask are SPEC 3's (3.1's in
mode exp), and that no accumulator, adder-tree node or row-setup register overflows.

The host sends batches of one or two rows of free scores and counts, its settings changed
between batches, each part of a batch as soon as the unit takes it (a batch's first count
beat may wait, so that the settings can change), and takes every output at once. The
harness records what the unit took and holds it to SPEC 3 written out as logic
(:func:`vrex.formal.wtu._spec3`). A batch has left within ``within`` cycles of its first
count beat; with the induction's depth past that bound, every output checked belongs to a
batch the proof sees from its start, whatever the unit held before it: so the proof also
shows that nothing a batch leaves behind (buffers, accumulators, registers) changes the next
one's answer. The unit's control invariants (``WTU(checks=True)``) and the stream harness's
(:func:`vrex.formal.wtu_streams.watch_wtu`) hold the rest of its state in step."""

import functools
import operator

from amaranth.hdl import Array, Assert, Assume, Cover, Mux, Signal, signed

from vrex.rtl.wtu import WTU

from .rules import free_inputs, harness_module
from .wtu import _spec3
from .wtu_streams import watch_wtu

__all__ = ["wtu_batches"]


def wtu_batches(*, score_bits=2, count_bits=1, max_clusters=3, lanes=2, max_buckets=2,
                exp_frac=1, exp_bits=2, early_exit=True, schedule="scan", rows=2, within=52,
                unit=WTU):
    """``rows``: most rows a batch has. ``within``: the cycles a batch may take from its
    first count beat to its final mask's last beat (52 holds at the default sizes, with and
    without early exit and for the histogram; the proof needs a depth past it). ``unit``:
    the WTU class (a test passes a broken one)."""
    m, ports = harness_module()
    m.submodules.dut = dut = unit(
        score_bits=score_bits, count_bits=count_bits, max_clusters=max_clusters, lanes=lanes,
        max_buckets=max_buckets, exp_frac=exp_frac, exp_bits=exp_bits, early_exit=early_exit,
        schedule=schedule, checks=True)
    free_inputs(m, dut)
    w = watch_wtu(m, dut, lanes=lanes, max_clusters=max_clusters, max_buckets=max_buckets,
                  assume=True)
    depth = -(-max_clusters // lanes)
    beats = dut.state.beats

    # The host: no stalls but before a batch's first count beat; at most ``rows`` rows.
    rows_in = Signal(range(rows + 1))             # rows taken in this batch
    count_taken = dut.i_count.valid & dut.i_count.ready
    score_taken = dut.i_score.valid & dut.i_score.ready
    row_ends = score_taken & (w["beat_in"] + 1 == beats)
    m.d.comb += [
        Assume(dut.i_count.valid | ~w["counting"] | (w["count_k"] == 0)),
        Assume(dut.i_score.valid == w["scoring"]),
        Assume(dut.o_row.ready & dut.o_mask.ready),
        Assume(~(dut.i_score.valid & (rows_in == rows - 1)) | dut.i_score.payload.last),
    ]

    # What the unit took: the batch's counts and its rows' scores, a register a lane.
    counts = [Signal(count_bits, name=f"cnt{j}") for j in range(depth * lanes)]
    scores = [[Signal(signed(score_bits), name=f"s{r}_{j}") for j in range(depth * lanes)]
              for r in range(rows)]
    for k in range(depth):
        with m.If(count_taken & (w["count_k"] == k)):
            m.d.sync += [counts[k * lanes + lane].eq(dut.i_count.payload[lane])
                         for lane in range(lanes)]
        for r in range(rows):
            with m.If(score_taken & (w["beat_in"] == k) & (rows_in == r)):
                m.d.sync += [scores[r][k * lanes + lane].eq(dut.i_score.payload.scores[lane])
                             for lane in range(lanes)]
    with m.If(row_ends):
        m.d.sync += rows_in.eq(rows_in + 1)

    expected = [_spec3(m, row[:max_clusters], counts[:max_clusters], dut.columns, dut.ratio,
                       dut.buckets, dut.mode, max_buckets=max_buckets, exp_frac=exp_frac,
                       exp_bits=exp_bits) for row in scores]
    final = Signal(max_clusters, name="ref_final")
    m.d.comb += final.eq(Mux(rows_in == 1, expected[0][0],
                             functools.reduce(operator.or_, (e[0] for e in expected))))

    # Rows and masks out, each held to SPEC 3.
    rows_out = Signal(range(rows + 1))
    masks_out = Signal(range(rows + 1))
    row = dut.o_row.payload
    mask = dut.o_mask.payload
    row_out = dut.o_row.valid & dut.o_row.ready
    mask_out = dut.o_mask.valid & dut.o_mask.ready
    mask_ends = mask_out & (w["mask_beat"] + 1 == beats)
    with m.If(row_out):
        m.d.sync += rows_out.eq(rows_out + 1)
    with m.If(mask_ends & ~mask.final):
        m.d.sync += masks_out.eq(masks_out + 1)
    batch_ends = mask_ends & mask.final
    with m.If(batch_ends):
        m.d.sync += [rows_in.eq(0), rows_out.eq(0), masks_out.eq(0)]
    pick = lambda i: Array(e[i] for e in expected)                      # noqa: E731
    want_row = Signal(max_clusters, name="want_mask")
    m.d.comb += want_row.eq(Mux(mask.final, final, pick(0)[masks_out]))
    wide = Signal(depth * lanes)
    m.d.comb += wide.eq(want_row)
    m.d.comb += [
        Assert(~row_out | (row.exit_bucket == pick(1)[rows_out]), "spec_exit"),
        Assert(~row_out | (row.total == pick(3)[rows_out]), "spec_total"),
        Assert(~row_out | (row.threshold == (row.total * dut.ratio) >> 16),
               "spec_threshold_of_total"),
        Assert(~mask_out | (mask.mask == wide.word_select(w["mask_beat"], lanes)), "spec_mask"),
    ]

    # Every batch leaves within ``within`` cycles of its first count beat.
    cycles = Signal(range(within + 2))
    in_batch = Signal()
    with m.If(count_taken & (w["count_k"] == 0)):
        m.d.sync += in_batch.eq(1)
    with m.If(batch_ends):
        m.d.sync += in_batch.eq(0)
    with m.If(~in_batch):
        m.d.sync += cycles.eq(0)
    with m.Elif(cycles <= within):
        m.d.sync += cycles.eq(cycles + 1)
    st = dut.state
    m.d.comb += [
        Assert(cycles <= within, "batch_in_time"),
        # The harness's counts in step with the watcher's and the unit's.
        Assert(in_batch == ~(w["counting"] & (w["count_k"] == 0)), "batch_begun"),
        Assert(rows_in == rows_out + w["pend_rows"], "rows_in_out"),
        Assert(rows_in == masks_out + w["pend_masks"], "masks_in_out"),
        Assert((rows_in <= rows) & ~(w["scoring"] & (rows_in == rows)), "rows_inside"),
        Assert(~st.count | (rows_in == 0), "rows_counted_from_the_batch"),
        # Between rows no decision is pending (mode exp's steps from S to T are done): the
        # next row's selection starts clean. Inductive only over whole selections, so here
        # and not among the unit's control invariants (whose proof looks 6 cycles back).
        Assert(st.select | ~st.select_pending, "no_decision_between_rows"),
        Cover(batch_ends & (rows_in == rows), "a_batch_of_every_row"),
    ]
    return m, ports
