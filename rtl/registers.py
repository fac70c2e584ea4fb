"""The DRE's register file: a Wishbone target built from the register table of
:mod:`vrex.interface.registers`."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from vrex.interface.registers import Register, dre_registers, register_addr_width

from .wishbone import wishbone_signature

__all__ = ["RegisterFile"]


class RegisterFile(wiring.Component):
    """A Wishbone target holding ``registers``: ``ro`` ones read the ``In`` member of their
    name, ``rw`` ones drive the ``Out`` member of their name, ``w1`` ones pulse their ``Out``
    member for one cycle with the written bits. Unmapped addresses read 0 and ignore writes;
    every access is acknowledged one cycle after it starts."""

    def __init__(self, registers: list[Register]):
        self._registers = list(registers)
        self.addr_width = register_addr_width(registers)
        members = {"bus": In(wishbone_signature(self.addr_width))}
        for reg in registers:
            if reg.constant is None:            # a constant reads its value, no port
                members[reg.name.lower()] = (In if reg.access == "ro" else Out)(reg.width)
        super().__init__(members)

    @classmethod
    def from_config(cls, config) -> "RegisterFile":
        """The DRE's register file for a :class:`vrex.golden.config.Config`."""
        return cls(dre_registers(config))

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        start = bus.cyc & bus.stb & ~bus.ack
        m.d.sync += bus.ack.eq(start)
        byte_mask = Signal(32)
        m.d.comb += byte_mask.eq(Cat(bus.sel[i].replicate(8) for i in range(4)))
        read = Signal(32)
        for reg in self._registers:
            here = bus.adr == reg.offset // 4
            if reg.constant is not None:
                value = reg.constant
            elif reg.access == "rw":
                port = getattr(self, reg.name.lower())
                stored = Signal(reg.width, init=reg.reset, name=f"{reg.name.lower()}_q")
                m.d.comb += port.eq(stored)
                merged = Signal(32, name=f"{reg.name.lower()}_w")
                m.d.comb += merged.eq((bus.dat_w & byte_mask) | (stored & ~byte_mask))
                hi = reg.hi if reg.hi is not None else (1 << reg.width) - 1
                clamped = Mux(merged < reg.lo, reg.lo, Mux(merged > hi, hi, merged))
                with m.If(start & bus.we & here):
                    m.d.sync += stored.eq(clamped)
                value = stored
            elif reg.access == "w1":
                port = getattr(self, reg.name.lower())
                m.d.comb += port.eq(Mux(start & bus.we & here, bus.dat_w & byte_mask, 0))
                value = 0
            else:
                value = getattr(self, reg.name.lower())
            with m.If(here):
                m.d.comb += read.eq(value)
        with m.If(start & ~bus.we):
            m.d.sync += bus.dat_r.eq(read)
        return m
