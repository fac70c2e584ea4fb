"""The DRE's registers: one table that the register file, the register map documents and the
host drivers are all generated from."""

from __future__ import annotations

import dataclasses

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .wishbone import wishbone_signature

__all__ = ["Register", "dre_registers", "register_addr_width", "RegisterFile", "ID_MAGIC"]

ID_MAGIC = 0x56524558            # "VREX"


@dataclasses.dataclass(frozen=True)
class Register:
    name: str           # upper case; the register file's member is its lower-case name
    offset: int         # byte address
    access: str         # "ro": read only; "rw": read/write; "w1": write-one strobe
    width: int
    doc: str
    reset: int = 0      # "rw" only
    lo: int = 0         # "rw" writes are clamped to lo..hi, and read back as stored
    hi: int | None = None
    fields: tuple = ()  # (name, lowest bit, width) of named bit fields, if any


def dre_registers(config) -> list[Register]:
    """The register map of the DRE generated for ``config``."""
    c = config
    regs = [
        ("ID", "ro", 32, f"Reads {ID_MAGIC:#010x} (\"VREX\"): the DRE is there."),
        ("CTRL", "w1", 1, "Bit 0 CLEAR: forget every cluster and page, clear the overflow "
                          "flags and counters once the DRE is idle (STATUS.BUSY low)."),
        ("STATUS", "ro", 4, "Bit 0 BUSY: a token, query or clear in progress. Bit 1 "
                            "CLUSTER_OVERFLOW, bit 2 PAGE_OVERFLOW (sticky until CLEAR). "
                            "Bit 3 CLEAR_PENDING."),
        ("TH_HD", "rw", (c.hash_bits + 1).bit_length(),
         "Hamming threshold: a token joins a cluster at distance below it. Sampled per token."),
        ("RATIO", "rw", 16, "WiCSum ratio, unsigned Q0.16 (0.3 = 19660). Sampled per query."),
        ("BUCKETS", "rw", c.max_buckets.bit_length(), "WTU buckets B. Sampled per query."),
        ("MODE", "rw", 2, "Score values: 0 shift (s - min s), 1 clamp (max(s, 0)), 2 exp "
                          "(2**(s - max s), log2-unit scores). Sampled per query."),
        ("TOKENS", "ro", 32, "Tokens clustered since CLEAR (wraps)."),
        ("CLUSTERS", "ro", 32, "Clusters in the table."),
        ("PAGES", "ro", 32, "KV pages handed out."),
        ("QUERIES", "ro", 32, "Queries answered since CLEAR (wraps)."),
        ("DESCRIPTORS", "ro", 32, "Descriptors emitted since CLEAR (wraps)."),
        ("CYCLES", "ro", 32, "Clock cycles since CLEAR (wraps)."),
        ("HASH_BITS", "ro", 32, "Generator parameter hash_bits."),
        ("MAX_CLUSTERS", "ro", 32, "Generator parameter max_clusters."),
        ("MAX_PAGES", "ro", 32, "Generator parameter max_pages."),
        ("PAGE_TOKENS", "ro", 32, "Generator parameter page_tokens."),
        ("LANES", "ro", 32, "Generator parameters: hcu_lanes (bits 15..0), wtu_lanes "
                            "(bits 31..16)."),
    ]
    resets = {"TH_HD": (c.th_hd, 0, c.hash_bits + 1), "RATIO": (c.ratio, 0, 65535),
              "BUCKETS": (c.buckets, 1, c.max_buckets), "MODE": (int(c.mode), 0, 2)}
    fields = {"CTRL": (("CLEAR", 0, 1),),
              "STATUS": (("BUSY", 0, 1), ("CLUSTER_OVERFLOW", 1, 1), ("PAGE_OVERFLOW", 2, 1),
                         ("CLEAR_PENDING", 3, 1)),
              "LANES": (("HCU_LANES", 0, 16), ("WTU_LANES", 16, 16))}
    out = []
    for i, (name, access, width, doc) in enumerate(regs):
        reset, lo, hi = resets.get(name, (0, 0, None))
        out.append(Register(name, 4 * i, access, width, doc, reset, lo, hi,
                            fields.get(name, ())))
    return out


def register_addr_width(registers: list[Register]) -> int:
    """Width of the Wishbone word address that reaches every register."""
    return max(1, (max(r.offset for r in registers) // 4).bit_length())


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
            members[reg.name.lower()] = (In if reg.access == "ro" else Out)(reg.width)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        start = bus.cyc & bus.stb & ~bus.ack
        m.d.sync += bus.ack.eq(start)
        byte_mask = Signal(32)
        m.d.comb += byte_mask.eq(Cat(bus.sel[i].replicate(8) for i in range(4)))
        read = Signal(32)
        for reg in self._registers:
            port = getattr(self, reg.name.lower())
            here = bus.adr == reg.offset // 4
            if reg.access == "rw":
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
                m.d.comb += port.eq(Mux(start & bus.we & here, bus.dat_w & byte_mask, 0))
                value = 0
            else:
                value = port
            with m.If(here):
                m.d.comb += read.eq(value)
        with m.If(start & ~bus.we):
            m.d.sync += bus.dat_r.eq(read)
        return m
