"""The controller's proof harness: stream rules on its four ports, no slot handed out twice,
nothing written past ``max_pages``."""

from amaranth.asserts import AnyConst
from amaranth.hdl import Assert, Assume, Cover, Signal

from vrex.rtl.controller import Controller

from .rules import free_inputs, harness_module, stream_rule

__all__ = ["controller_harness"]


def controller_harness(*, max_clusters=4, page_tokens=2, max_pages=4, lanes=2,
                       unit=Controller):
    """``unit``: the controller class (a test passes a broken one to see the proof fail)."""
    m, ports = harness_module()
    m.submodules.dut = dut = unit(max_clusters=max_clusters, page_tokens=page_tokens,
                                  max_pages=max_pages, lanes=lanes)
    free_inputs(m, dut)
    stream_rule(m, dut.i_id, assume=True, name="i_id")
    stream_rule(m, dut.i_select, assume=True, name="i_select")
    stream_rule(m, dut.o_slot, assume=False, name="o_slot")
    stream_rule(m, dut.o_desc, assume=False, name="o_desc")
    m.d.comb += Assume(dut.i_id.payload.cluster < max_clusters)
    # Uniqueness holds between clears: a CLEAR hands every page out again.
    m.d.comb += Assume(~dut.clear)

    slots = max_pages * page_tokens
    no_slot = (1 << len(dut.o_slot.payload.slot)) - 1
    slot = dut.o_slot.payload.slot
    taken = dut.o_slot.valid & dut.o_slot.ready
    watch = Signal(len(slot))
    m.d.comb += watch.eq(AnyConst(len(slot)))
    seen = Signal()
    with m.If(taken & (slot == watch) & (slot != no_slot)):
        m.d.sync += seen.eq(1)
    m.d.comb += [
        Assert(~(seen & taken & (slot == watch) & (slot != no_slot)), "slot_once"),
        Assert(~taken | (slot < slots) | (slot == no_slot), "slot_in_pool"),
        Assert(dut.pages <= max_pages, "pages_in_pool"),
        Assert(~dut.o_desc.valid | dut.o_desc.payload.end |
               (dut.o_desc.payload.page < max_pages), "desc_in_pool"),
        Cover(dut.page_overflow, "pool_exhausted"),
    ]
    return m, ports
