"""The WTU's mask emitter: a row's mask and its ``o_row`` beat leave while the next row loads;
after the last row, the OR of the rows' masks.

Two stages: ``k`` is the next word to read; the read ports' outputs hold word ``r_k`` if
``r_valid``; the output registers hold word ``o_k`` if ``o_valid``, whose beat is offered on
``o_mask`` and OR-ed into the final mask as it leaves. The block RAMs' outputs only feed
registers, so a mask's first beat is offered :attr:`MaskEmitter.latency` cycles after a start.

The final mask buffer is written a cycle after its beat leaves, from a register, so that the
score compare does not reach a block RAM's input. A row's word is read back a whole selection
later, except by a one-word batch's final mask, which reads the word in the cycle it is
written: a read that meets the write is answered from the write's register, at the output
(so the buffer needs no collision logic: ``no_rw_check``).
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from vrex.interface.layouts import mask_layout, row_layout

from ..arith import word_lanes
from .lanes import cut_shape

__all__ = ["MaskEmitter"]


class MaskEmitter(wiring.Component):
    """Reads a row's scores back from the score buffer and sends ``s > cut`` lane by lane.

    Members
    -------
    start, final : In(1)
        Start emitting (one cycle): the row's mask (``final`` clear), or the final mask.
    first, cut, exit_bucket : In
        At a row's start: row 0 (nothing to OR with), the exit's score cut and bucket.
    beats, columns : In
        Words of the batch, and its clusters.
    threshold, total : In(total_bits)
        The row's, for ``o_row``; held until the emitter is done.
    s_addr, s_en : the score buffer's read port.
    s_data : In
        The word it read, registered by the unit whenever ``o_advance`` (the lane pipeline
        shares that register while a selection runs): the output stage's scores.
    f_addr, f_en, f_data : the final mask buffer's read port.
    f_wr_addr, f_wr_en, f_wr_data : the final mask buffer's write port (registered).
    o_row, o_mask : Out(stream)
        The WTU's outputs.
    active : Out(1)
        A mask is being emitted.
    done : Out(1)
        This cycle ends it (every beat taken, the row beat too).
    k : Out
        The next word to read: the load pass may overwrite every word below it.
    advance : Out(1)
        The read ports take address ``k`` this cycle.
    o_advance : Out(1)
        The output registers take the read ports' words this cycle.
    state : Out(StructLayout)
        With ``checks``: the stages' valid flags, the kind of emission and whether its row
        beat left, for a proof's invariants (formal/emitter.py).
    """

    #: A mask's first beat leaves this long after its start: block RAM read, output register.
    latency = 2

    def __init__(self, *, score_bits, count_bits, max_clusters, lanes, max_buckets,
                 value_bits, total_bits, checks=False):
        depth = -(-max_clusters // lanes)
        self._sb, self._lanes = score_bits, lanes
        super().__init__({
            "start": In(1),
            "final": In(1),
            "first": In(1),
            "cut": In(cut_shape(score_bits)),
            "exit_bucket": In(range(max_buckets)),
            "beats": In(range(depth + 1)),
            "columns": In(range(max_clusters + 1)),
            "threshold": In(total_bits),
            "total": In(total_bits),
            "s_addr": Out(range(depth)),
            "s_en": Out(1),
            "s_data": In(lanes * score_bits),
            "f_addr": Out(range(depth)),
            "f_en": Out(1),
            "f_data": In(lanes),
            "f_wr_addr": Out(range(depth)),
            "f_wr_en": Out(1),
            "f_wr_data": Out(lanes),
            "o_row": Out(stream.Signature(row_layout(value_bits, count_bits, max_clusters,
                                                     max_buckets))),
            "o_mask": Out(stream.Signature(mask_layout(lanes))),
            "active": Out(1),
            "done": Out(1),
            "k": Out(range(depth + 1)),
            "advance": Out(1),
            "o_advance": Out(1),
            **({"state": Out(data.StructLayout({"r_valid": 1, "o_valid": 1, "final": 1,
                                                 "row_sent": 1}))} if checks else {}),
        })
        self._checks = checks

    def elaborate(self, platform):
        m = Module()
        sb, lanes = self._sb, self._lanes
        k_bits = len(self.k)
        final = Signal()                          # emitting the final mask
        first = Signal()                          # row 0: nothing to OR with
        row_sent = Signal()
        cut = Signal.like(self.cut)               # v > exit edge <=> s > cut
        exit_bucket = Signal.like(self.exit_bucket)
        r_valid = Signal()
        r_k = Signal(k_bits)
        o_valid = Signal()
        o_k = Signal(k_bits)
        o_final = Signal(lanes)
        # Which lanes of a word hold a column, worked out as the word's read is issued and
        # carried beside it: the mask's path holds the score compare alone.
        r_lanes, o_lanes = Signal(lanes), Signal(lanes)

        # The final mask buffer's write, a cycle late; a read of its word in that cycle (only
        # a one-word batch's final mask) takes the write's data instead, at the output.
        m.d.sync += self.f_wr_en.eq(0)
        r_fwd, o_fwd = Signal(), Signal()
        fwd_mask = Signal(lanes)

        o_advance = self.o_advance
        m.d.comb += o_advance.eq(~o_valid | self.o_mask.ready)
        more = self.k != self.beats
        m.d.comb += [
            self.advance.eq(~r_valid | o_advance),
            self.done.eq(self.active & ~more & ~r_valid & o_advance
                         & (final | row_sent | self.o_row.ready)),
        ]
        prior = Mux(o_fwd, fwd_mask, o_final)     # the final mask so far, at word o_k
        row_mask = Signal(lanes)
        m.d.comb += row_mask.eq(
            o_lanes
            & Cat(*(self.s_data.word_select(lane, sb).as_signed() > cut
                    for lane in range(lanes))))
        with m.If(self.active):
            m.d.comb += [
                self.s_addr.eq(self.k), self.s_en.eq(self.advance),
                self.f_addr.eq(self.k), self.f_en.eq(self.advance),
                self.o_mask.valid.eq(o_valid),
                self.o_mask.payload.mask.eq(Mux(final, prior, row_mask)),
                self.o_mask.payload.final.eq(final),
                self.o_row.valid.eq(~final & ~row_sent),
                self.o_row.payload.exit_bucket.eq(exit_bucket),
                self.o_row.payload.threshold.eq(self.threshold),
                self.o_row.payload.total.eq(self.total),
            ]
            with m.If(self.o_row.ready):
                m.d.sync += row_sent.eq(1)
            with m.If(o_valid & self.o_mask.ready & ~final):
                m.d.sync += [self.f_wr_addr.eq(o_k), self.f_wr_en.eq(1),
                             self.f_wr_data.eq(Mux(first, row_mask, row_mask | prior))]
            with m.If(o_advance):
                m.d.sync += [o_valid.eq(r_valid), o_k.eq(r_k), o_final.eq(self.f_data),
                             o_lanes.eq(r_lanes), o_fwd.eq(r_fwd)]
            with m.If(self.advance):
                m.d.sync += [r_valid.eq(more), r_k.eq(self.k),
                             r_lanes.eq(word_lanes(self.k, lanes, self.columns)),
                             r_fwd.eq(self.f_wr_en & (self.f_wr_addr == self.k))]
                with m.If(self.f_wr_en & (self.f_wr_addr == self.k)):
                    m.d.sync += fwd_mask.eq(self.f_wr_data)
                with m.If(more):
                    m.d.sync += self.k.eq(self.k + 1)
            with m.If(self.done):
                m.d.sync += self.active.eq(0)

        if self._checks:
            m.d.comb += [self.state.r_valid.eq(r_valid), self.state.o_valid.eq(o_valid),
                         self.state.final.eq(final), self.state.row_sent.eq(row_sent)]
        with m.If(self.start):
            m.d.sync += [self.active.eq(1), final.eq(self.final), self.k.eq(0), r_valid.eq(0),
                         o_valid.eq(0), row_sent.eq(0)]
            with m.If(~self.final):
                m.d.sync += [first.eq(self.first), cut.eq(self.cut),
                             exit_bucket.eq(self.exit_bucket)]
        return m
