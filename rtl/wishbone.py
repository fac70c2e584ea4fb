"""Wishbone B4 classic, the register bus of the DRE: the one most open-source SoCs (LiteX,
Amaranth SoC, FuseSoC cores) can attach without a bridge. 32-bit data, word addresses."""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["wishbone_signature"]


def wishbone_signature(addr_width: int) -> wiring.Signature:
    """The bus as its initiator sees it; a target takes ``In(wishbone_signature(...))``.

    ``adr`` is a word address (byte address >> 2); ``sel`` enables bytes of ``dat_w``; a
    target answers every cycle-and-strobe with one ``ack`` (reads return ``dat_r`` with it).
    """
    return wiring.Signature({
        "adr": Out(addr_width),
        "dat_w": Out(32),
        "dat_r": In(32),
        "sel": Out(4),
        "cyc": Out(1),
        "stb": Out(1),
        "we": Out(1),
        "ack": In(1),
    })
