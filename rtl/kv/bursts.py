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
        One burst a cycle while ``o`` is ready; ``o.valid`` comes from a register.
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
        busy = Signal()

        # The burst: up to the 4 KB boundary, max_burst beats and the region's end.
        to_boundary = Signal(range(per_4k + 1))
        m.d.comb += to_boundary.eq(per_4k - beat[:(AXI_BOUNDARY.bit_length() - 1) - shift])
        cap = Signal(range(max(per_4k, self._mb) + 1))
        m.d.comb += cap.eq(Mux(to_boundary < self._mb, to_boundary, self._mb))
        last = Signal()
        beats = Signal(range(max(per_4k, self._mb) + 1))
        m.d.comb += [last.eq(left <= cap), beats.eq(Mux(last, left, cap))]
        m.d.comb += [
            self.o.valid.eq(busy),
            self.o.payload.addr.eq(beat << shift),
            self.o.payload.len.eq(beats - 1),
            self.o.payload.last.eq(last),
            self.i.ready.eq(~busy),
        ]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [beat.eq(self.i.payload.addr >> shift), left.eq(self.i.payload.beats),
                         busy.eq(1)]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += [beat.eq(beat + beats), left.eq(left - beats)]
            with m.If(last):
                m.d.sync += busy.eq(0)
        return m
