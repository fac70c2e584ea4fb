"""The WTU's output stage (rtl/wtu/emitter.py) on its own, under free back-pressure and free
data: an unbounded proof (k-induction) that ``o_row`` and ``o_mask`` keep the stream rule and
that each emission sends exactly its beats: a row's mask, ``beats`` beats and one ``o_row``
beat; the final mask, ``beats`` beats flagged ``final`` and no ``o_row`` beat."""

from amaranth.hdl import Assert, Assume, Cover, Signal

from vrex.golden.config import wicsum_total_bits
from vrex.rtl.wtu.emitter import MaskEmitter

from .rules import free_inputs, harness_module, stream_rule

__all__ = ["emitter_harness"]


def emitter_harness(*, score_bits=2, count_bits=1, max_clusters=3, lanes=2, max_buckets=4,
                    unit=MaskEmitter):
    """The unit's side of the contract, assumed: an emission starts when none runs (or in the
    cycle the last one is done); ``beats`` and ``columns`` are the batch's and held while it
    runs, as are T and S for ``o_row``; the score word changes only as the output stage
    advances (the unit's register). ``unit``: the emitter class (a test passes a broken
    one)."""
    m, ports = harness_module()
    depth = -(-max_clusters // lanes)
    m.submodules.dut = dut = unit(
        score_bits=score_bits, count_bits=count_bits, max_clusters=max_clusters, lanes=lanes,
        max_buckets=max_buckets, value_bits=score_bits,
        total_bits=wicsum_total_bits(score_bits, count_bits, max_clusters), checks=True)
    free_inputs(m, dut)
    for name in ("o_row", "o_mask"):
        stream_rule(m, getattr(dut, name), assume=False, name=name)
    held = {name: Signal.like(getattr(dut, name), name=f"held_{name}")
            for name in ("beats", "columns", "threshold", "total")}
    m.d.sync += [sig.eq(getattr(dut, name)) for name, sig in held.items()]
    # The unit registers the score word it hands in only when the output stage advances.
    last_word, kept = Signal.like(dut.s_data), Signal()
    m.d.sync += [last_word.eq(dut.s_data), kept.eq(dut.active & ~dut.o_advance)]
    m.d.comb += Assume(~kept | (dut.s_data == last_word))
    started = Signal()
    with m.If(dut.start):
        m.d.sync += started.eq(1)
    m.d.comb += [
        Assume(~dut.start | ~dut.active | dut.done),
        Assume((dut.columns >= 1) & (dut.columns <= max_clusters) &
               (dut.beats == (dut.columns + lanes - 1) // lanes)),
        Assume(~dut.active |
               ((dut.beats == held["beats"]) & (dut.columns == held["columns"]) &
                (dut.threshold == held["threshold"]) & (dut.total == held["total"]))),
    ]
    # Beats sent by the emission running (its kind latched at its start).
    final = Signal()
    rows = Signal(range(3))
    masks = Signal(range(depth + 2))
    row_taken = dut.o_row.valid & dut.o_row.ready
    mask_taken = dut.o_mask.valid & dut.o_mask.ready
    with m.If(dut.start):
        m.d.sync += [final.eq(dut.final), rows.eq(0), masks.eq(0)]
    with m.Else():
        m.d.sync += [rows.eq(rows + row_taken), masks.eq(masks + mask_taken)]
    st = dut.state
    m.d.comb += [
        Assert(~dut.o_row.valid | (dut.active & ~final & (rows == 0)), "one_row_beat"),
        Assert(~dut.o_mask.valid | (dut.active & (masks < dut.beats)), "no_extra_mask_beat"),
        Assert(~mask_taken | (dut.o_mask.payload.final == final), "final_flag"),
        Assert(~dut.done | ((masks + mask_taken == dut.beats) &
                            (final | (rows + row_taken == 1))), "every_beat_before_done"),
        # The invariants that make it inductive: the beats sent, in the output register and
        # in the read stage add up to the words read; the row beat is sent when it says so.
        Assert(~(started & dut.active) |
               (masks + st.o_valid + st.r_valid == dut.k), "words_accounted"),
        Assert(~(started & dut.active & ~final) | (st.row_sent == (rows == 1)),
               "row_sent_counted"),
        Assert(~(started & dut.active) | (st.final == final), "kind_latched"),
        Assert(~(started & dut.active) | (dut.k <= dut.beats), "k_inside"),
        Assert(started | ~dut.active, "no_emission_before_the_first_start"),
        Cover(dut.done & ~final, "a_row_mask_sent"),
        Cover(dut.done & final, "the_final_mask_sent"),
    ]
    return m, ports
