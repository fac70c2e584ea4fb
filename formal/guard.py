"""The score guard (rtl/guard.py) under a free host and a free WTU: unbounded proofs (k-induction)
that the WTU sees a well-formed stream whatever the host does, and that a query's stream ends
within a bounded number of cycles once the host is quiet."""

from amaranth.hdl import Assert, Assume, Cover, Mux, Signal

from vrex.interface.layouts import score_layout
from vrex.rtl.guard import ScoreGuard

from .rules import free_inputs, harness_module, stream_rule

__all__ = ["guard_harness", "watch_guard"]


def guard_harness(*, score_bits=2, lanes=2, max_beats=3, tick_period=4, unit=ScoreGuard):
    """The host may break every rule of the score stream but the stream rule itself (a beat
    offered stays until taken); the DRE starts a query only when the last one's stream is over,
    holds ``beats`` (1..max_beats) while it runs; a tick comes at least every ``tick_period``
    cycles. ``unit``: the guard class (a test passes a broken one)."""
    m, ports = harness_module()
    m.submodules.dut = dut = unit(score_layout(score_bits, lanes), max_beats, checks=True)
    free_inputs(m, dut)
    since_tick = Signal(range(tick_period))
    m.d.sync += since_tick.eq(Mux(dut.tick, 0, since_tick + 1))
    m.d.comb += Assume(dut.tick | (since_tick < tick_period - 1))
    watch_guard(m, dut, max_beats=max_beats, assume=True)
    o, i = dut.o_score, dut.i_score
    # Cycles the WTU has been ready with the host silent, the stream not over.
    bound = 2 * tick_period + max_beats
    quiet = Signal(range(bound + 2))
    with m.If(dut.active & o.ready & ~i.valid & ~dut.start):
        m.d.sync += quiet.eq(quiet + 1)
    with m.Else():
        m.d.sync += quiet.eq(0)
    m.d.comb += [
        Assert(quiet <= bound, "a_quiet_host_ends_the_stream"),
        Cover(dut.last_early, "cut_by_last_early"),
        Cover(dut.timed_out, "cut_by_timeout"),
        Cover(dut.cut & o.valid & o.ready & o.payload.last, "a_cut_stream_ends"),
    ]
    return m, ports


def watch_guard(m, dut, *, max_beats, assume):
    """The properties and invariants of a ``ScoreGuard(checks=True)`` in ``m``, with what the
    DRE must do (a start only when no query runs, ``beats`` valid and held through it; the host
    keeps the stream rule) assumed (``assume``, the guard alone) or asserted (inside the DRE).
    Returns the beat of its row the WTU expects."""
    given = Assume if assume else Assert
    stream_rule(m, dut.i_score, assume=True, name="guard_i_score")
    stream_rule(m, dut.o_score, assume=False, name="guard_o_score")
    held_beats = Signal.like(dut.beats)
    m.d.sync += held_beats.eq(dut.beats)
    started = Signal()                          # the settings were given with a start
    just_started = Signal()                     # ... in the cycle before (``beats`` may be
    m.d.sync += just_started.eq(dut.start)      # given with it)
    with m.If(dut.start):
        m.d.sync += started.eq(1)
    m.d.comb += [
        given(~dut.start | ~dut.active, "guard_start_idle"),
        given(~dut.active | ((dut.beats >= 1) & (dut.beats <= max_beats)),
              "guard_beats_valid"),
        given(~(dut.active & started & ~just_started) | (dut.beats == held_beats),
              "guard_beats_held"),
    ]
    o, i = dut.o_score, dut.i_score
    # The WTU's view: beats of the current row, counted from the start.
    k = Signal(range(max_beats))
    with m.If(dut.start):
        m.d.sync += k.eq(0)
    with m.Elif(o.valid & o.ready):
        m.d.sync += k.eq(k + 1)
        with m.If(k + 1 == dut.beats):
            m.d.sync += k.eq(0)
    m.d.comb += [
        Assert(~o.valid | dut.active, "no_beat_outside_a_query"),
        Assert(~i.ready | dut.active, "no_host_beat_taken_outside_a_query"),
        Assert(~(o.valid & o.payload.last) | (k + 1 == dut.beats), "last_only_at_a_row_end"),
        Assert(~(dut.active & started) | (k < dut.beats), "row_beat_inside_the_row"),
        Assert(~started | (k == dut.beat), "the_guard_counts_the_wtu_s_beats"),
        Assert(started | ~dut.active, "no_query_before_the_first_start"),
    ]
    return k
