"""The WTU over any number of batches of free data: an unbounded proof (k-induction) that
``o_row`` and ``o_mask`` keep the stream rule and that nothing is lost or repeated: one
``o_row`` beat and one mask for each row taken, each mask ``beats`` beats long, then the final
mask, flagged ``final``, once every row's has left; no count or score taken outside its batch.

The host is free: settings change between batches (held from a cycle before the first count
beat to the final mask, as the unit needs), beats come when it likes and hold until taken,
``last`` is free on every beat (the unit reads it on a row's final beat), the outputs see free
back-pressure. The unit's invariants are its own (``WTU(checks="control")``); those relating
it to the harness's counters are here. The range checks are not: with free data and no bound
on the batches the accumulators are unbounded too; the bounded proofs check them."""

from amaranth.hdl import Assert, Assume, Cover, Mux, Signal

from vrex.rtl.wtu import WTU

from .rules import free_inputs, harness_module, stream_rule

__all__ = ["wtu_streams", "watch_wtu"]


def wtu_streams(*, score_bits=2, count_bits=1, max_clusters=3, lanes=2, max_buckets=2,
                exp_frac=1, exp_bits=2, early_exit=True, schedule="scan", unit=WTU):
    """``early_exit``, ``schedule``: which WTU (the DRE's is the scan with early exit).
    ``unit``: the WTU class (a test passes a broken one)."""
    m, ports = harness_module()
    m.submodules.dut = dut = unit(
        score_bits=score_bits, count_bits=count_bits, max_clusters=max_clusters, lanes=lanes,
        max_buckets=max_buckets, exp_frac=exp_frac, exp_bits=exp_bits, early_exit=early_exit,
        schedule=schedule, checks="control")
    free_inputs(m, dut)
    watch_wtu(m, dut, lanes=lanes, max_clusters=max_clusters, max_buckets=max_buckets,
              assume=True)
    return m, ports


def watch_wtu(m, dut, *, lanes, max_clusters, max_buckets, assume):
    """The properties and invariants of a ``WTU(checks="control")`` in ``m``, with what its
    environment must do (the stream rule on its inputs; settings held through a batch and
    valid in it; counts only while it counts) assumed
    (``assume``, the unit alone) or asserted (the unit inside the DRE)."""
    given = Assume if assume else Assert
    st = dut.state
    for name in ("i_count", "i_score"):
        stream_rule(m, getattr(dut, name), assume=assume, name=f"wtu_{name}")
    for name in ("o_row", "o_mask"):
        stream_rule(m, getattr(dut, name), assume=False, name=f"wtu_{name}")

    # The host's side: which part of a batch it is sending.
    counting, scoring, waiting = Signal(init=1), Signal(), Signal()   # one of the three
    count_k = Signal.like(st.k)                   # count beats taken in this batch
    beat_in = Signal.like(st.k)                   # beats of the row being sent
    count_taken = dut.i_count.valid & dut.i_count.ready
    score_taken = dut.i_score.valid & dut.i_score.ready
    beats = (dut.columns + lanes - 1) // lanes

    # Settings change only between batches, and not in the cycle before a count beat; they
    # are valid from then to the batch's end.
    settings = (dut.columns, dut.buckets, dut.mode, dut.ratio)
    held = [Signal.like(s, name=f"held_{s.name}", reset_less=True) for s in settings]
    m.d.sync += [h.eq(s) for h, s in zip(held, settings)]
    started = Signal(reset_less=True)             # not the first cycle: ``held`` is valid
    m.d.sync += started.eq(1)
    same = (dut.columns == held[0]) & (dut.buckets == held[1]) & (dut.mode == held[2]) \
        & (dut.ratio == held[3])
    between = counting & (count_k == 0) & ~dut.i_count.valid
    m.d.comb += [
        given(between | ((dut.columns >= 1) & (dut.columns <= max_clusters) &
                         (dut.buckets >= 1) & (dut.buckets <= max_buckets)),
              "wtu_settings_valid"),
        given(~started | same | between, "wtu_settings_held"),
        given(~dut.i_count.valid | counting, "wtu_counts_in_counting"),
    ]

    with m.If(count_taken):
        m.d.sync += count_k.eq(count_k + 1)
        with m.If(count_k + 1 == beats):
            m.d.sync += [count_k.eq(0), counting.eq(0), scoring.eq(1)]
    row_ends = score_taken & (beat_in + 1 == beats)
    with m.If(score_taken):
        m.d.sync += beat_in.eq(Mux(row_ends, 0, beat_in + 1))
        with m.If(row_ends & dut.i_score.payload.last):
            m.d.sync += [scoring.eq(0), waiting.eq(1)]

    # The outputs' side: rows in whose o_row beat, and whose mask, have not left.
    row_out = dut.o_row.valid & dut.o_row.ready
    mask_out = dut.o_mask.valid & dut.o_mask.ready
    mask_beat = Signal.like(st.k)                 # beats of the mask being sent
    mask_final = Signal()                         # ... and its flag, from its first beat
    mask_ends = mask_out & (mask_beat + 1 == beats)
    pend_rows = Signal(range(4))
    pend_masks = Signal(range(4))
    row_mask_ends = mask_ends & ~dut.o_mask.payload.final
    m.d.sync += [pend_rows.eq(pend_rows + row_ends - row_out),
                 pend_masks.eq(pend_masks + row_ends - row_mask_ends)]
    with m.If(mask_out):
        m.d.sync += [mask_beat.eq(Mux(mask_ends, 0, mask_beat + 1)),
                     mask_final.eq(dut.o_mask.payload.final)]
    with m.If(mask_ends & dut.o_mask.payload.final):
        m.d.sync += [waiting.eq(0), counting.eq(1)]

    final_beat = dut.o_mask.payload.final
    m.d.comb += [
        # Nothing repeated or invented: an o_row beat or a row's mask only for a row taken.
        Assert(~row_out | (pend_rows != 0), "no_row_beat_without_a_row"),
        Assert(~mask_out | final_beat | (pend_masks != 0), "no_mask_without_a_row"),
        # Nothing lost: the final mask only after the batch's last row, and once every row's
        # o_row beat and mask have left; a mask's beats all flagged alike.
        Assert(~(mask_out & final_beat) | (waiting & (pend_rows == 0) & (pend_masks == 0)),
               "final_mask_after_every_row"),
        Assert(~mask_out | (mask_beat == 0) | (final_beat == mask_final), "mask_flag_steady"),
        # No beat taken outside its part of the batch.
        Assert(~dut.i_count.ready | counting, "counts_only_while_counting"),
        Assert(~dut.i_score.ready | scoring, "scores_only_while_scoring"),
    ]

    # The invariants that relate the unit's state to the harness's.
    em_taken = st.em_k - st.em_o_valid - st.em_r_valid      # mask beats the emitter sent
    em_row = st.em_active & ~st.em_final & ~st.em_row_sent
    em_mask = st.em_active & ~st.em_final & (em_taken != st.beats)
    between = st.drain | st.span | st.setup | st.select     # a row in, not yet emitting
    m.d.comb += [
        Assert(~(started & same) | ((st.beats == beats) & (st.clamp_mode == (dut.mode == 1)) &
                                    (st.exp_mode == (dut.exp & (dut.mode == 2)))),
               "beats_and_mode_of_the_batch"),
        Assert(counting + scoring + waiting == 1, "host_in_one_part"),
        # The first cycle is the reset state's (``held`` not yet valid).
        Assert(started | (st.count & (st.k == 0) & ~st.em_active), "wtu_starts_from_reset"),
        Assert(st.count == counting, "counting_together"),
        Assert(~st.count | (st.k == count_k), "counts_together"),
        Assert(~st.load | (scoring & (st.k == beat_in)), "scores_together"),
        Assert(~between | (beat_in == 0) & Mux(st.last_row, waiting, scoring), "row_in"),
        Assert(~(st.flush | st.final) | waiting, "batch_in"),
        Assert(~(scoring | waiting) | (count_k == 0), "counts_done"),
        Assert(scoring | (beat_in == 0), "rows_done"),
        Assert(((count_k < beats) | (count_k == 0)) & ((beat_in < beats) | (beat_in == 0)) &
               ((mask_beat < beats) | (mask_beat == 0)), "counters_inside"),
        Assert(pend_rows == Mux(between, 1, 0) + em_row, "rows_pending"),
        Assert(pend_masks == Mux(between, 1, 0) + em_mask, "masks_pending"),
        Assert(mask_beat == Mux(st.em_active & (em_taken != st.beats), em_taken, 0),
               "mask_beats_together"),
        Assert(~(mask_beat != 0) | (mask_final == st.em_final), "mask_kind_together"),
        Cover(mask_ends & final_beat & (dut.columns == max_clusters), "a_batch_sent"),
    ]
    return dict(counting=counting, scoring=scoring, waiting=waiting, count_k=count_k,
                beat_in=beat_in, pend_rows=pend_rows, pend_masks=pend_masks,
                mask_beat=mask_beat, mask_final=mask_final)
