"""A skid register: a stream stage whose ``ready`` comes from a flip-flop.

A beat passes straight through while the stage is empty, so with the consumer ready no beat is
later than without the stage; when the consumer holds back, the beat already offered is kept
here and the producer sees ``ready`` low from the next cycle. What it cuts is the
combinational path from a consumer's state through the producer's handshake logic (and on into
its block RAM enables), which the ECP5 place and route showed among the DRE's slowest.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Skid"]


class Skid(wiring.Component):
    """``i`` to ``o``, same payload, one beat of storage, ``i.ready`` registered.

    Members
    -------
    i : In(stream.Signature(payload))
    o : Out(stream.Signature(payload))
    """

    def __init__(self, payload):
        super().__init__({"i": In(stream.Signature(payload)),
                          "o": Out(stream.Signature(payload))})

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
