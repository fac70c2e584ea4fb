"""Regions of contiguous memory into AXI4 INCR bursts (SPEC 7): each burst as long as
``max_burst`` allows, cut where it would cross a 4 KB boundary and nowhere else; the golden
model's :func:`vrex.golden.kv.burst_plan`, one burst a cycle."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from vrex.golden.kv import AXI_BOUNDARY

from ..params import CheckedParams, check_int

__all__ = ["BurstSplitter", "region_layout", "burst_layout"]


def region_layout(addr_width: int, max_beats: int) -> data.StructLayout:
    """A region: its first byte (beat-aligned) and its length in beats, 1..``max_beats``."""
    return data.StructLayout({"addr": addr_width, "beats": range(max_beats + 1)})


def burst_layout(addr_width: int, max_burst: int) -> data.StructLayout:
    """A burst as AXI4 puts it: address, ``len`` (beats less one), and whether it is the
    region's last."""
    return data.StructLayout({"addr": addr_width, "len": range(max_burst), "last": 1})


class BurstSplitter(CheckedParams, wiring.Component):
    """Cuts each region of ``i`` into bursts on ``o``, in address order.

    Parameters
    ----------
    addr_width : int
        Bytes addressed, 12..64 bits.
    bus_bytes : int
        AXI4 data width in bytes, a power of two 4..64: regions are whole beats.
    max_burst : int
        Beats of the longest burst, 1..256.
    max_beats : int
        Beats of the longest region.

    Members
    -------
    i : In(stream.Signature(region_layout))
    o : Out(stream.Signature(burst_layout))
        A burst every other cycle while ``o`` is ready; ``o.valid`` and the burst come
        from registers.
    busy : Out(1)
        A region is being cut: its next burst is being decided or is on ``o``.
    """

    @classmethod
    def check(cls, *, addr_width, bus_bytes, max_burst, max_beats):
        check_int("addr_width", addr_width, 12, 64)
        check_int("bus_bytes", bus_bytes, 4, 64)
        if bus_bytes & (bus_bytes - 1):
            raise ValueError(f"bus_bytes must be a power of two, not {bus_bytes}")
        check_int("max_burst", max_burst, 1, 256)
        check_int("max_beats", max_beats, 1, 1 << 24)

    def __init__(self, *, addr_width=32, bus_bytes=16, max_burst=256, max_beats=4096):
        self._aw, self._bus, self._mb, self._beats = addr_width, bus_bytes, max_burst, max_beats
        super().__init__({
            "i": In(stream.Signature(region_layout(addr_width, max_beats))),
            "o": Out(stream.Signature(burst_layout(addr_width, max_burst))),
            "busy": Out(1),
        })

    addr_width = property(lambda self: self._aw)
    bus_bytes = property(lambda self: self._bus)
    max_burst = property(lambda self: self._mb)
    max_beats = property(lambda self: self._beats)

    def elaborate(self, platform):
        m = Module()
        shift = self._bus.bit_length() - 1
        per_4k = AXI_BOUNDARY >> shift           # beats in a 4 KB block
        beat = Signal(self._aw - shift)           # the next burst's first beat
        left = Signal(range(self._beats + 1))     # beats still to issue
        room = Signal(range(per_4k + 1))          # beats from `beat` to the 4 KB boundary
        busy = Signal()                           # a region is being cut
        decided = Signal()                        # the next burst is on `o`
        length = Signal(range(max(per_4k, self._mb) + 1))
        last = Signal()

        # A burst takes two cycles: one decides its length from registers (the room to the
        # boundary, max_burst, the region's end), the next offers it and moves the state on
        # by it. Deciding and moving on in one cycle put four carry chains in a row, the
        # engine's slowest path on the ECP5 (78 MHz); bursts of two beats or more still keep
        # the data bus busy.
        cap = Signal.like(length)
        m.d.comb += cap.eq(Mux(room < self._mb, room, self._mb))
        with m.If(busy & ~decided):
            m.d.sync += [decided.eq(1), last.eq(left <= cap), length.eq(Mux(left <= cap, left,
                                                                                 cap))]
        m.d.comb += [
            self.busy.eq(busy),
            self.o.valid.eq(decided),
            self.o.payload.addr.eq(beat << shift),
            self.o.payload.len.eq(length - 1),
            self.o.payload.last.eq(last),
            # The next region is taken as the last burst of this one leaves.
            self.i.ready.eq(~busy | (decided & last & self.o.ready)),
        ]
        with m.If(self.o.valid & self.o.ready):
            after = room - length
            m.d.sync += [beat.eq(beat + length), left.eq(left - length), decided.eq(0),
                         room.eq(Mux(after == 0, per_4k, after))]
            with m.If(last):
                m.d.sync += busy.eq(0)
        low = (AXI_BOUNDARY.bit_length() - 1) - shift          # beat-address bits in 4 KB
        with m.If(self.i.valid & self.i.ready):
            first = self.i.payload.addr >> shift
            m.d.sync += [beat.eq(first), left.eq(self.i.payload.beats), busy.eq(1),
                         room.eq(per_4k - first[:low])]
        return m
