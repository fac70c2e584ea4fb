"""The score guard: the DRE's check of the host's score stream, between ``i_score`` and the WTU.

The WTU trusts its input: a ``last`` inside a row is ignored (the row goes on with the next
query's beats) and a stream that stops leaves it waiting for ever. The guard makes sure the
WTU always sees whole rows and a batch that ends. While a query's scores are due it passes the
host's beats and counts each row's beats; it cuts the stream when

- ``last`` comes on a beat that does not end a row (``last_early``),
- the WTU has waited for a beat through two ``tick``s (``timed_out``): with a tick every
  ``2**TIMEOUT`` cycles, more than that and at most twice that,
- ``abort`` is raised (a CLEAR pending),

and then pads the row itself (zero scores, ``last`` on the row's final beat; a whole row if
none was begun), so the batch ends and the WTU goes back to waiting for counts. ``cut`` stays
set until the next query, for the DRE to answer that query with an empty selection (docs/dre.md,
"Host faults").
"""

from amaranth.hdl import Assert, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["ScoreGuard"]


class ScoreGuard(wiring.Component):
    """Members
    -------
    i_score : In(stream.Signature(score_layout))
        The host's scores.
    o_score : Out(stream.Signature(score_layout))
        To the WTU: the host's beats, or padding.
    start : In(1)
        A query's scores are due from the next cycle.
    beats : In(range(max_beats + 1))
        Beats a row, 1..max_beats; held from the cycle after ``start`` until ``active`` falls.
    tick : In(1)
        The watchdog's time base: the WTU may wait for a beat through one tick, not two.
    abort : In(1)
        Cut the stream now (no cause of its own).
    active : Out(1)
        The query's scores are not over yet.
    beat : Out(range(max_beats))
        The beat of its row that the next beat to the WTU is.
    cut : Out(1)
        The current query's stream was cut (until the next ``start``).
    last_early, timed_out : Out(1)
        One-cycle pulses: the stream was cut for this reason.

    ``checks``: embed ``Assert``s of the state's invariants, for the unbounded proof.
    """

    def __init__(self, score_layout, max_beats: int, *, checks=False):
        super().__init__({
            "i_score": In(stream.Signature(score_layout)),
            "o_score": Out(stream.Signature(score_layout)),
            "start": In(1),
            "beats": In(range(max_beats + 1)),
            "tick": In(1),
            "abort": In(1),
            "active": Out(1),
            "beat": Out(range(max_beats)),
            "cut": Out(1),
            "last_early": Out(1),
            "timed_out": Out(1),
        })
        self._max_beats = max_beats
        self._checks = checks

    def elaborate(self, platform):
        m = Module()
        i, o = self.i_score, self.o_score
        pad = Signal()                              # the guard sends the row's rest itself
        k = self.beat
        # A tick seen while the WTU waited (a time base, not a counter: the DRE's cycle count
        # gives it, which saves 24 flip-flops and an adder on the iCEBreaker).
        waited = Signal()
        row_end = k + 1 == self.beats
        m.d.comb += [
            o.valid.eq(self.active & (pad | i.valid)),
            i.ready.eq(self.active & ~pad & o.ready),
            o.payload.scores.eq(0),
            o.payload.last.eq(row_end & (pad | i.payload.last)),
        ]
        with m.If(~pad):
            m.d.comb += o.payload.scores.eq(i.payload.scores)
        if self._checks:
            # What the state always is (formal/guard.py proves it for every length): padding
            # only inside a query, a tick remembered only while the host is waited for.
            m.d.comb += [Assert(~pad | self.active, "pad_inside_a_query"),
                         Assert(~waited | (self.active & ~pad), "wait_inside_a_query")]

        with m.If(self.start):
            m.d.sync += [self.active.eq(1), self.cut.eq(0), pad.eq(0), k.eq(0), waited.eq(0)]
        with m.Elif(o.valid & o.ready):
            m.d.sync += [k.eq(k + 1), waited.eq(0)]
            with m.If(row_end):
                m.d.sync += k.eq(0)
                with m.If(o.payload.last):
                    m.d.sync += [self.active.eq(0), pad.eq(0)]
            with m.If(~pad & i.payload.last & ~row_end):
                m.d.comb += self.last_early.eq(1)
                m.d.sync += [pad.eq(1), self.cut.eq(1)]
            with m.Elif(~pad & self.abort & ~(row_end & i.payload.last)):
                m.d.sync += [pad.eq(1), self.cut.eq(1)]
        with m.Elif(self.active & ~pad):
            # Only the cycles the WTU waits count: its own pauses are not the host's.
            with m.If(o.ready & self.tick):
                m.d.sync += waited.eq(1)
                with m.If(waited):
                    m.d.comb += self.timed_out.eq(1)
                    m.d.sync += [pad.eq(1), self.cut.eq(1), waited.eq(0)]
            # A beat offered and not yet taken is not withdrawn (the stream rule): an abort
            # waits for it.
            with m.If(self.abort & ~i.valid):
                m.d.sync += [pad.eq(1), self.cut.eq(1), waited.eq(0)]
        return m
