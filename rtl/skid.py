"""Stream registers: a skid register, whose ``ready`` comes from a flip-flop, and a forward
register, whose ``valid`` and payload do.

A beat passes straight through while the stage is empty, so with the consumer ready no beat is
later than without the stage; when the consumer holds back, the beat already offered is kept
here and the producer sees ``ready`` low from the next cycle. What it cuts is the
combinational path from a consumer's state through the producer's handshake logic (and on into
its block RAM enables), which the ECP5 place and route showed among the DRE's slowest. The
forward register cuts the other direction, the producer's payload logic from the consumer's,
at the cost of a cycle.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Skid", "Forward"]


class _Stage(wiring.Component):
    """A stream stage from ``i`` to ``o`` with the same payload.

    Members
    -------
    i : In(stream.Signature(payload))
    o : Out(stream.Signature(payload))
    """

    def __init__(self, payload):
        super().__init__({"i": In(stream.Signature(payload)),
                          "o": Out(stream.Signature(payload))})


class Skid(_Stage):
    """``i`` to ``o``, one beat of storage, ``i.ready`` registered."""

    def elaborate(self, platform):
        m = Module()
        held = Signal.like(self.i.payload)
        full = Signal()
        m.d.comb += [
            self.i.ready.eq(~full),
            self.o.valid.eq(full | self.i.valid),
            self.o.payload.eq(Mux(full, held, self.i.payload)),
        ]
        with m.If(full):
            with m.If(self.o.ready):
                m.d.sync += full.eq(0)
        with m.Elif(self.i.valid & ~self.o.ready):
            m.d.sync += [held.eq(self.i.payload), full.eq(1)]
        return m


class Forward(_Stage):
    """``i`` to ``o`` a cycle later: ``o.valid`` and ``o.payload`` are flip-flops; ``i.ready``
    is ``o.ready`` or the register empty (one beat a cycle)."""

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        with m.If(self.i.ready):
            m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(self.i.payload)]
        return m
