"""A timing harness: any component behind one serial scan chain, so place and route sees four
pins (clock, reset, serial in, serial out) and every path it times runs flip-flop to
flip-flop.

A bare unit has hundreds of ports, more than an iCE40 UP5K has pins, so nextpnr refuses it.
The harness drives every input port from a flip-flop of an input chain and captures every
output port into a flip-flop of an output chain each cycle it is not shifting; while ``shift``
is high, both chains shift one bit a cycle (``sin`` into the input chain, which continues into
the output chain, which ends at ``sout``). No port is left constant or unobserved, so nothing
of the design can be optimised away, and the design's Fmax is that of its own logic between
registered boundaries, as where it sits inside a larger chip.
"""

from amaranth.hdl import Cat, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from vrex.rtl.params import CheckedParams

__all__ = ["ScanHarness", "HARNESS_DUT", "port_values"]

HARNESS_DUT = "dut"     # the wrapped design's instance name: its module is ``top.dut``


def port_values(component: wiring.Component) -> tuple[list[Value], list[Value]]:
    """The input and the output port values of ``component``, in signature order."""
    ports = list(component.signature.flatten(component))
    return ([Value.cast(v) for _, member, v in ports if member.flow == In],
            [Value.cast(v) for _, member, v in ports if member.flow == Out])


class ScanHarness(CheckedParams, wiring.Component):
    """Serial-access, registered wrapper around ``dut``.

    Parameters
    ----------
    dut : wiring.Component
        The design to wrap; its module is ``top.dut``, so it can be synthesized alone too.

    Members
    -------
    sin : In(1)
        Serial data into the input chain.
    shift : In(1)
        Shift both chains one bit; when low, the output chain captures the outputs.
    sout : Out(1)
        The last bit of the output chain.
    """

    sin: In(1)
    shift: In(1)
    sout: Out(1)

    @classmethod
    def check(cls, *, dut):
        if not isinstance(dut, wiring.Component):
            raise TypeError(f"dut must be a wiring.Component, not {dut!r}")

    def __init__(self, dut: wiring.Component):
        self._dut = dut
        self._inputs, self._outputs = port_values(dut)
        super().__init__()

    @property
    def input_bits(self) -> int:
        return sum(len(v) for v in self._inputs)

    @property
    def output_bits(self) -> int:
        return sum(len(v) for v in self._outputs)

    def elaborate(self, platform):
        m = Module()
        m.submodules[HARNESS_DUT] = self._dut
        chain_in = Signal(max(self.input_bits, 1))
        chain_out = Signal(max(self.output_bits, 1))
        if self._inputs:
            m.d.comb += Cat(*self._inputs).eq(chain_in)
        with m.If(self.shift):
            m.d.sync += [chain_in.eq(Cat(chain_in[1:], self.sin)),
                         chain_out.eq(Cat(chain_out[1:], chain_in[0]))]
        with m.Else():
            m.d.sync += chain_out.eq(Cat(*self._outputs) if self._outputs else 0)
        m.d.comb += self.sout.eq(chain_out[0])
        return m
