"""The KV memory engine (SPEC 7) as one component with one AXI4 manager port: the store path
(:class:`KvStore`) on the write channels, the fetch path (:class:`KvFetch`) on the read
channels. The DRE builds it when ``kv_bytes`` is not 0; it can also stand beside any
controller that speaks the DRE's slot and descriptor streams.
"""

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out, connect

from vrex.interface.layouts import QUERY_TAG_BITS, desc_layout, kv_beat_layout, token_layout

from .fetch import KvFetch, read_channel
from .store import KvStore, slot_layout, write_channels

__all__ = ["KvEngine", "axi_channels"]


def axi_channels(addr_width: int, bus_bytes: int) -> dict:
    """The five AXI4 channels of a manager, with the standard ``m_axi_*`` names."""
    return {**write_channels(addr_width, bus_bytes), **read_channel(addr_width, bus_bytes)}


class KvEngine(wiring.Component):
    """Stores tokens' K and V at their slots and fetches descriptors' pages, over one AXI4 port.

    Parameters are :class:`KvFetch`'s; ``outstanding`` bounds the reads and the writes in
    flight, each.

    Members
    -------
    kv_base : In(addr_width)
        Bus address of slot 0, 4 KB aligned.
    i_slot : In(stream.Signature(slot_layout))
        Each token's slot, or ``none``, in arrival order.
    i_kv : In(stream.Signature(kv_beat_layout(bus_bytes)))
        Each token's bytes, ``stride / bus_bytes`` beats, in the same order.
    i_desc : In(stream.Signature(desc_layout))
    o_token : Out(stream.Signature(token_layout))
    m_axi_* : the AXI4 manager port.
    store_busy : Out(1)
        A token's write is not answered yet: a fetch must wait for it to read the token.
    """

    def __init__(self, *, addr_width=32, bus_bytes=16, max_burst=256, kv_bytes=256,
                 page_tokens=16, max_pages=4096, outstanding=8, query_bits=QUERY_TAG_BITS):
        shape = dict(addr_width=addr_width, bus_bytes=bus_bytes, max_burst=max_burst,
                     kv_bytes=kv_bytes, page_tokens=page_tokens, max_pages=max_pages,
                     outstanding=outstanding)
        # Built here so that a bad parameter is refused at once, by name.
        self._store = KvStore(**shape)
        self._fetch = KvFetch(**shape, query_bits=query_bits)
        slots = max_pages * page_tokens
        super().__init__({
            "kv_base": In(addr_width),
            "i_slot": In(stream.Signature(slot_layout(slots))),
            "i_kv": In(stream.Signature(kv_beat_layout(bus_bytes))),
            "i_desc": In(stream.Signature(desc_layout(page_tokens, max_pages))),
            "o_token": Out(stream.Signature(token_layout(bus_bytes, query_bits, slots))),
            **axi_channels(addr_width, bus_bytes),
            "store_busy": Out(1),
        })

    @classmethod
    def from_config(cls, config) -> "KvEngine":
        """The engine of the DRE generated for a :class:`vrex.golden.config.Config`."""
        return cls(addr_width=config.axi_addr_width, bus_bytes=config.bus_bytes,
                   max_burst=config.max_burst, kv_bytes=config.kv_bytes,
                   page_tokens=config.page_tokens, max_pages=config.max_pages,
                   outstanding=config.kv_outstanding)

    stride = property(lambda self: self._store.stride)

    def elaborate(self, platform):
        m = Module()
        m.submodules.store = store = self._store
        m.submodules.fetch = fetch = self._fetch
        connect(m, wiring.flipped(self.i_slot), store.i_slot)
        connect(m, wiring.flipped(self.i_kv), store.i_kv)
        connect(m, wiring.flipped(self.i_desc), fetch.i_desc)
        connect(m, fetch.o_token, wiring.flipped(self.o_token))
        m.d.comb += [store.kv_base.eq(self.kv_base), fetch.kv_base.eq(self.kv_base),
                     self.store_busy.eq(store.busy)]
        pass_through(m, self, store, write_channels(store.addr_width, store.bus_bytes))
        pass_through(m, self, fetch, read_channel(fetch.addr_width, fetch.bus_bytes))
        return m


def pass_through(m: Module, outer, inner, members: dict) -> None:
    """Connects same-named plain ports of ``inner`` to ``outer`` (``members``: the manager's
    view, as both declare them)."""
    for name, member in members.items():
        if member.flow == wiring.Out:
            m.d.comb += getattr(outer, name).eq(getattr(inner, name))
        else:
            m.d.comb += getattr(inner, name).eq(getattr(outer, name))
