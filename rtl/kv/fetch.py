"""The KV engine's fetch path (SPEC 7): a query's descriptors into AXI4 read bursts, and the
data read back into tokens tagged with their query and slot, each query closed by an end beat.

Bursts are issued with one ID, so AXI4 returns their data in order; up to ``outstanding``
bursts are in flight. Beside the bursts, an in-order queue keeps what the data beats need to
be told apart: each descriptor's first slot and tokens, and each query's end.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from vrex.golden.kv import kv_stride
from vrex.interface.layouts import desc_layout, token_layout

from ..params import CheckedParams, check_int
from .bursts import BurstSplitter

__all__ = ["KvFetch", "KvShape", "read_channel"]


def read_channel(addr_width: int, bus_bytes: int) -> dict:
    """The AXI4 read address and data channels, a manager's view, standard names."""
    return {
        "m_axi_arid": Out(1), "m_axi_araddr": Out(addr_width), "m_axi_arlen": Out(8),
        "m_axi_arsize": Out(3), "m_axi_arburst": Out(2), "m_axi_arvalid": Out(1),
        "m_axi_arready": In(1),
        "m_axi_rid": In(1), "m_axi_rdata": In(8 * bus_bytes), "m_axi_rresp": In(2),
        "m_axi_rlast": In(1), "m_axi_rvalid": In(1), "m_axi_rready": Out(1),
    }


class KvShape:
    """What the engine's paths share: a token's layout on the bus (``_bus``, ``_mb``, ``_kv``
    and ``_beats`` set by the component)."""

    addr_width = property(lambda self: self._aw)
    bus_bytes = property(lambda self: self._bus)
    max_burst = property(lambda self: self._mb)
    kv_bytes = property(lambda self: self._kv)

    @property
    def stride(self) -> int:
        """Bytes from a slot to the next: ``kv_bytes`` in whole beats."""
        return self._beats * self._bus


class KvFetch(KvShape, CheckedParams, wiring.Component):
    """Fetches each descriptor's tokens from ``kv_base + slot * stride``.

    Parameters
    ----------
    addr_width, bus_bytes, max_burst : int
        The AXI4 port: address bits, data bytes (a power of two, 4..64), longest burst.
    kv_bytes : int
        K and V bytes of a token (1..512); ``stride`` is that in whole beats.
    page_tokens, max_pages : int
        The controller's layout (SPEC 4).
    outstanding : int
        Read bursts in flight at most.
    query_bits : int
        Width of the query count on ``o_token`` (it wraps).

    Members
    -------
    kv_base : In(addr_width)
        Bus address of slot 0, 4 KB aligned. Held while descriptors are fetched.
    i_desc : In(stream.Signature(desc_layout))
        The controller's descriptors.
    o_token : Out(stream.Signature(token_layout))
    m_axi_ar*, m_axi_r* : the AXI4 read channels.
    """

    @classmethod
    def check(cls, *, addr_width, bus_bytes, max_burst, kv_bytes, page_tokens, max_pages,
              outstanding, query_bits):
        check_int("kv_bytes", kv_bytes, 1, 512)
        check_int("outstanding", outstanding, 1, 256)
        check_int("query_bits", query_bits, 1, 32)
        check_int("page_tokens", page_tokens, 1, 1 << 12)
        check_int("max_pages", max_pages, 1, 1 << 20)
        BurstSplitter.check(addr_width=addr_width, bus_bytes=bus_bytes, max_burst=max_burst,
                            max_beats=1)
        stride = kv_stride(kv_bytes, bus_bytes)
        if max_pages * page_tokens * stride > 1 << addr_width:
            raise ValueError(f"addr_width {addr_width} cannot address {max_pages} pages of "
                             f"{page_tokens} tokens of {stride} bytes")

    def __init__(self, *, addr_width=32, bus_bytes=16, max_burst=256, kv_bytes=256,
                 page_tokens=16, max_pages=4096, outstanding=8, query_bits=16):
        self._aw, self._bus, self._mb, self._kv = addr_width, bus_bytes, max_burst, kv_bytes
        self._pt, self._pages, self._out, self._qb = page_tokens, max_pages, outstanding, \
            query_bits
        self._beats = kv_stride(kv_bytes, bus_bytes) // bus_bytes       # beats a token
        super().__init__({
            "kv_base": In(addr_width),
            "i_desc": In(stream.Signature(desc_layout(page_tokens, max_pages))),
            "o_token": Out(stream.Signature(token_layout(bus_bytes, query_bits,
                                                         max_pages * page_tokens))),
            **read_channel(addr_width, bus_bytes),
        })

    def elaborate(self, platform):
        m = Module()
        bus, beats, pt = self._bus, self._beats, self._pt
        slots = self._pages * pt
        m.submodules.split = split = BurstSplitter(
            addr_width=self._aw, bus_bytes=bus, max_burst=self._mb, max_beats=pt * beats)
        # What the data beats need, one entry a descriptor or query end, in order.
        entry = data.StructLayout({"slot": range(slots), "tokens": range(pt + 1), "end": 1})
        m.submodules.queue = queue = SyncFIFOBuffered(width=entry.size, depth=2 * self._out)

        # Intake: a page's region to the splitter and its entry to the queue together; a
        # query's end to the queue alone.
        desc = self.i_desc.payload
        region_free = desc.end | split.i.ready
        m.d.comb += [
            split.i.payload.addr.eq(self.kv_base + desc.page * (pt * self.stride)),
            split.i.payload.beats.eq(desc.tokens * beats),
            split.i.valid.eq(self.i_desc.valid & ~desc.end & queue.w_rdy),
            queue.w_en.eq(self.i_desc.valid & queue.w_rdy & region_free),
            self.i_desc.ready.eq(queue.w_rdy & region_free),
        ]
        w_entry = data.View(entry, queue.w_data)
        m.d.comb += [w_entry.slot.eq(desc.page * pt), w_entry.tokens.eq(desc.tokens),
                     w_entry.end.eq(desc.end)]

        # Address channel: a burst goes out while fewer than `outstanding` are in flight.
        in_flight = Signal(range(self._out + 1))
        room = in_flight != self._out
        m.d.comb += [
            self.m_axi_araddr.eq(split.o.payload.addr),
            self.m_axi_arlen.eq(split.o.payload.len),
            self.m_axi_arsize.eq(bus.bit_length() - 1),
            self.m_axi_arburst.eq(1),                     # INCR
            self.m_axi_arid.eq(0),
            self.m_axi_arvalid.eq(split.o.valid & room),
            split.o.ready.eq(self.m_axi_arready & room),
        ]
        issued = self.m_axi_arvalid & self.m_axi_arready
        returned = self.m_axi_rvalid & self.m_axi_rready & self.m_axi_rlast
        m.d.sync += in_flight.eq(in_flight + issued - returned)

        # Data: the head entry tells each beat's slot; an end entry is a beat of its own.
        head = data.View(entry, queue.r_data)
        query = Signal(self._qb)
        slot_off = Signal(range(pt + 1))                  # token within the descriptor
        beat = Signal(range(beats))                       # beat within the token
        last_beat = beat == beats - 1
        last_token = slot_off + 1 == head.tokens
        out = self.o_token
        m.d.comb += [
            out.payload.data.eq(self.m_axi_rdata),
            out.payload.query.eq(query),
            out.payload.slot.eq(head.slot + slot_off),
            out.payload.last.eq(last_beat),
            out.payload.end.eq(head.end),
            out.valid.eq(queue.r_rdy & Mux(head.end, 1, self.m_axi_rvalid)),
            self.m_axi_rready.eq(queue.r_rdy & ~head.end & out.ready),
        ]
        with m.If(out.valid & out.ready):
            with m.If(head.end):
                m.d.comb += queue.r_en.eq(1)
                m.d.sync += query.eq(query + 1)
            with m.Else():
                m.d.sync += beat.eq(Mux(last_beat, 0, beat + 1))
                with m.If(last_beat):
                    m.d.sync += slot_off.eq(Mux(last_token, 0, slot_off + 1))
                    with m.If(last_token):
                        m.d.comb += queue.r_en.eq(1)
        return m
