"""The score guard: the DRE's check of the host's score stream, between ``i_score`` and the WTU.

The WTU trusts its input: a ``last`` inside a row is ignored (the row goes on with the next
query's beats) and a stream that stops leaves it waiting for ever. The guard makes sure the
WTU always sees whole rows and a batch that ends. While a query's scores are due it passes the
host's beats and counts each row's beats; it cuts the stream when

- ``last`` comes on a beat that does not end a row (``last_early``),
- the WTU has waited ``timeout`` cycles without a beat (``timed_out``),
- ``abort`` is raised (a CLEAR pending),

and then pads the row itself (zero scores, ``last`` on the row's final beat; a whole row if
none was begun), so the batch ends and the WTU goes back to waiting for counts. ``cut`` stays
set until the next query, for the DRE to answer that query with an empty selection (docs/dre.md,
"Host faults").
"""

from amaranth.hdl import Module, Signal
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
    timeout : In(timeout_bits)
        Cycles the WTU may wait for a beat, 1 or more.
    abort : In(1)
        Cut the stream now (no cause of its own).
    active : Out(1)
        The query's scores are not over yet.
    cut : Out(1)
        The current query's stream was cut (until the next ``start``).
    last_early, timed_out : Out(1)
        One-cycle pulses: the stream was cut for this reason.
    """

    def __init__(self, score_layout, max_beats: int, timeout_bits: int):
        super().__init__({
            "i_score": In(stream.Signature(score_layout)),
            "o_score": Out(stream.Signature(score_layout)),
            "start": In(1),
            "beats": In(range(max_beats + 1)),
            "timeout": In(timeout_bits),
            "abort": In(1),
            "active": Out(1),
            "cut": Out(1),
            "last_early": Out(1),
            "timed_out": Out(1),
        })
        self._max_beats = max_beats
        self._timeout_bits = timeout_bits

    def elaborate(self, platform):
        m = Module()
        i, o = self.i_score, self.o_score
        pad = Signal()                              # the guard sends the row's rest itself
        k = Signal(range(self._max_beats))          # beat of the row
        waited = Signal(self._timeout_bits)         # cycles the WTU has waited for a beat
        row_end = k + 1 == self.beats
        m.d.comb += [
            o.valid.eq(self.active & (pad | i.valid)),
            i.ready.eq(self.active & ~pad & o.ready),
            o.payload.scores.eq(0),
            o.payload.last.eq(row_end & (pad | i.payload.last)),
        ]
        with m.If(~pad):
            m.d.comb += o.payload.scores.eq(i.payload.scores)

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
        with m.Elif(self.active & ~pad):
            # Only the cycles the WTU waits count: its own pauses are not the host's.
            with m.If(o.ready):
                m.d.sync += waited.eq(waited + 1)
                with m.If(waited + 1 >= self.timeout):
                    m.d.comb += self.timed_out.eq(1)
                    m.d.sync += [pad.eq(1), self.cut.eq(1)]
            with m.If(self.abort):
                m.d.sync += [pad.eq(1), self.cut.eq(1)]
        return m
