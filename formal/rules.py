"""Building blocks of the proof harnesses: free inputs, the stream rules, reset."""

from amaranth.asserts import AnySeq, Initial
from amaranth.hdl import Assert, Assume, ClockDomain, Module, ResetSignal, Signal, Value
from amaranth.lib import wiring

__all__ = ["harness_module", "free_inputs", "stream_rule"]


def harness_module():
    """A module with its own clock domain, reset in the first cycle only; returns it and the
    ports (clock, reset) the RTLIL top must have."""
    m = Module()
    m.domains.sync = cd = ClockDomain("sync")
    m.d.comb += Assume(ResetSignal() == Initial())
    return m, [cd.clk, cd.rst]


def free_inputs(m: Module, component: wiring.Component) -> None:
    """Every input of ``component`` free in every cycle (constrain them with Assume)."""
    for path, member, value in component.signature.flatten(component):
        if member.flow == wiring.In:
            value = Value.cast(value)
            m.d.comb += value.eq(AnySeq(len(value)))


def stream_rule(m: Module, port, *, assume: bool, name: str) -> None:
    """A valid beat stays valid, its payload unchanged, until it is taken. Asserted on the
    unit's outputs, assumed of its environment on its inputs."""
    held = Signal(name=f"{name}_held")
    payload = Value.cast(port.payload)
    last = Signal(len(payload), name=f"{name}_last")
    m.d.sync += [held.eq(port.valid & ~port.ready), last.eq(payload)]
    check = (Assume if assume else Assert)(~held | (port.valid & (payload == last)),
                                           f"{name}_stable")
    m.d.comb += check
