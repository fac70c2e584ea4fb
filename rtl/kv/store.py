"""The KV engine's store path (SPEC 7): each token's K and V bytes, in arrival order, written
at its slot with AXI4 INCR write bursts; a token without a slot is consumed, nothing written.

A token is ``stride / bus_bytes`` beats; its region is cut into bursts as the fetch's are (at
``max_burst`` beats and at 4 KB boundaries: a token that straddles one takes two bursts). The
write data follows the addresses in order; the strobes of the token's last beat cover only
its ``kv_bytes``, so the stride's padding is never written. Up to ``outstanding`` bursts wait
for their write responses.
"""

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from vrex.golden.kv import kv_stride
from vrex.interface.layouts import kv_beat_layout

from ..params import CheckedParams
from .bursts import BurstSplitter
from .fetch import KvFetch, KvShape

__all__ = ["KvStore", "slot_layout", "write_channels"]


def slot_layout(slots: int) -> data.StructLayout:
    """``i_slot``: the token's slot, or ``none`` (the page table was full)."""
    return data.StructLayout({"slot": range(slots), "none": 1})


def write_channels(addr_width: int, bus_bytes: int) -> dict:
    """The AXI4 write address, data and response channels, a manager's view."""
    return {
        "m_axi_awid": Out(1), "m_axi_awaddr": Out(addr_width), "m_axi_awlen": Out(8),
        "m_axi_awsize": Out(3), "m_axi_awburst": Out(2), "m_axi_awvalid": Out(1),
        "m_axi_awready": In(1),
        "m_axi_wdata": Out(8 * bus_bytes), "m_axi_wstrb": Out(bus_bytes), "m_axi_wlast": Out(1),
        "m_axi_wvalid": Out(1), "m_axi_wready": In(1),
        "m_axi_bid": In(1), "m_axi_bresp": In(2), "m_axi_bvalid": In(1), "m_axi_bready": Out(1),
    }


class KvStore(KvShape, CheckedParams, wiring.Component):
    """Writes each token of ``i_kv`` at ``kv_base + slot * stride``, its slot from ``i_slot``.

    Parameters are :class:`~vrex.rtl.kv.fetch.KvFetch`'s (without ``query_bits``).

    Members
    -------
    kv_base : In(addr_width)
    i_slot : In(stream.Signature(slot_layout))
        One beat a token, in arrival order (the controller's slots).
    i_kv : In(stream.Signature(kv_beat_layout))
        The tokens' bytes, ``stride / bus_bytes`` beats each, in the same order.
    m_axi_aw*, m_axi_w*, m_axi_b* : the AXI4 write channels.
    busy : Out(1)
        A write has not been answered yet.
    """

    @classmethod
    def check(cls, *, addr_width, bus_bytes, max_burst, kv_bytes, page_tokens, max_pages,
              outstanding):
        KvFetch.check(addr_width=addr_width, bus_bytes=bus_bytes, max_burst=max_burst,
                      kv_bytes=kv_bytes, page_tokens=page_tokens, max_pages=max_pages,
                      outstanding=outstanding, query_bits=1)

    def __init__(self, *, addr_width=32, bus_bytes=16, max_burst=256, kv_bytes=256,
                 page_tokens=16, max_pages=4096, outstanding=8):
        self._aw, self._bus, self._mb, self._kv = addr_width, bus_bytes, max_burst, kv_bytes
        self._slots, self._out = max_pages * page_tokens, outstanding
        self._beats = kv_stride(kv_bytes, bus_bytes) // bus_bytes
        super().__init__({
            "kv_base": In(addr_width),
            "i_slot": In(stream.Signature(slot_layout(self._slots))),
            "i_kv": In(stream.Signature(kv_beat_layout(bus_bytes))),
            **write_channels(addr_width, bus_bytes),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        bus, beats = self._bus, self._beats
        m.submodules.split = split = BurstSplitter(
            addr_width=self._aw, bus_bytes=bus, max_burst=self._mb, max_beats=beats)
        # Each burst's length, from the address side to the data side, in order; a skipped
        # token (no slot) goes through as a marker, so its beats are consumed in turn.
        lengths = data.StructLayout({"len": range(self._mb), "skip": 1})
        m.submodules.lengths = lengths_q = SyncFIFOBuffered(width=lengths.size,
                                                            depth=2 * self._out)

        # Slots: a token with a slot becomes a region; one without, a skip marker.
        slot = self.i_slot.payload
        push = data.View(lengths, lengths_q.w_data)
        m.d.comb += [
            split.i.payload.addr.eq(self.kv_base + slot.slot * self.stride),
            split.i.payload.beats.eq(beats),
            split.i.valid.eq(self.i_slot.valid & ~slot.none),
            # A skipped token's marker is queued only while no burst is pending, so markers
            # and bursts keep the tokens' order.
            self.i_slot.ready.eq(Mux(slot.none, lengths_q.w_rdy & ~split.busy,
                                     split.i.ready)),
        ]

        # Address channel: a burst goes out with its length queued for the data side, while
        # fewer than `outstanding` wait for their responses.
        in_flight = Signal(range(self._out + 1))
        room = (in_flight != self._out) & lengths_q.w_rdy
        skip_now = self.i_slot.valid & slot.none
        m.d.comb += [
            self.m_axi_awaddr.eq(split.o.payload.addr),
            self.m_axi_awlen.eq(split.o.payload.len),
            self.m_axi_awsize.eq(bus.bit_length() - 1),
            self.m_axi_awburst.eq(1),
            self.m_axi_awid.eq(0),
            self.m_axi_awvalid.eq(split.o.valid & room),
            split.o.ready.eq(self.m_axi_awready & room),
            # A burst's length, or (when no burst goes out) a skipped token's marker.
            push.len.eq(split.o.payload.len),
            push.skip.eq(~split.o.valid),
            lengths_q.w_en.eq((self.m_axi_awvalid & self.m_axi_awready)
                              | (~split.busy & skip_now)),
        ]
        issued = self.m_axi_awvalid & self.m_axi_awready
        answered = self.m_axi_bvalid & self.m_axi_bready
        m.d.sync += in_flight.eq(in_flight + issued - answered)
        m.d.comb += [self.m_axi_bready.eq(1), self.busy.eq((in_flight != 0) | split.busy)]

        # Data: the head length says how many beats go out before wlast; a skip marker eats a
        # whole token. The token's last beat writes its kv_bytes only.
        head = data.View(lengths, lengths_q.r_data)
        count = Signal(range(max(self._mb, beats) + 1))
        tail = self._kv - (beats - 1) * bus                 # bytes of the last beat
        last_strb = Const((1 << tail) - 1, bus)
        kv = self.i_kv.payload
        burst_end = count == head.len
        m.d.comb += [
            self.m_axi_wdata.eq(kv.data),
            self.m_axi_wstrb.eq(Mux(kv.last, last_strb, Const((1 << bus) - 1, bus))),
            self.m_axi_wlast.eq(burst_end),
            self.m_axi_wvalid.eq(lengths_q.r_rdy & ~head.skip & self.i_kv.valid),
            self.i_kv.ready.eq(lengths_q.r_rdy & (head.skip | self.m_axi_wready)),
        ]
        with m.If(self.i_kv.valid & self.i_kv.ready):
            with m.If(head.skip):
                with m.If(kv.last):
                    m.d.comb += lengths_q.r_en.eq(1)
            with m.Else():
                m.d.sync += count.eq(Mux(burst_end, 0, count + 1))
                with m.If(burst_end):
                    m.d.comb += lengths_q.r_en.eq(1)
        return m
