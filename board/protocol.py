"""The bridge's framed protocol, shared by the gateware (``bridge.py``) and the host driver.

Every exchange is one request frame from the host and one response frame from the board:

    request:   0xA5  CMD     LEN  PAYLOAD[LEN]  CRC
    response:  0x5A  STATUS  LEN  PAYLOAD[LEN]  CRC

``CRC`` is CRC-8 (polynomial 0x07, initial value 0, no reflection) over every byte after the
sync byte. Multi-byte values are little-endian. Stream beats travel as their payload bits,
little-endian, in ``ceil(width / 8)`` bytes each.

Commands: ``INFO`` (no payload) answers ``VERSION, n_push, n_pop`` and, per push stream then
per pop stream, its bytes per beat and its FIFO depth (two bytes). ``READ`` ``[word address]``
answers the 32-bit register. ``WRITE`` ``[word address, 4 data bytes]``. ``PUSH | i`` carries
whole beats for input stream ``i``; they are taken all or none (status ``FULL``: the FIFO has
no room for all of them). ``POP | i`` ``[max beats]`` answers up to that many beats of output
stream ``i``, as many as its FIFO holds and one frame carries.

A frame the board cannot parse is answered with a status, never silently dropped: ``BAD_CRC``,
``BAD_COMMAND``, ``BAD_LENGTH``. A frame cut short is abandoned after the board's inter-byte
timeout, so the host can start again cleanly.
"""

from __future__ import annotations

import enum

from vrex.interface.layouts import POP_STREAMS, PUSH_STREAMS, dre_layouts

__all__ = ["REQUEST_SYNC", "RESPONSE_SYNC", "VERSION", "MAX_PAYLOAD", "Command", "Status",
           "crc8", "crc8_table", "frame", "beat_bytes", "info_bytes", "FIFO_DEPTHS",
           "bridge_streams"]

REQUEST_SYNC = 0xA5
RESPONSE_SYNC = 0x5A
VERSION = 1
MAX_PAYLOAD = 255
CRC_POLY = 0x07


class Command(enum.IntEnum):
    INFO = 0x00
    READ = 0x01
    WRITE = 0x02
    PUSH = 0x10          # | stream index (0..15)
    POP = 0x20           # | stream index (0..15)


class Status(enum.IntEnum):
    OK = 0
    BAD_CRC = 1
    BAD_COMMAND = 2
    BAD_LENGTH = 3
    FULL = 4


def crc8_table() -> list[int]:
    """CRC-8 of each single byte: the table the host uses (the gateware unrolls the same)."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ CRC_POLY if crc & 0x80 else crc << 1) & 0xFF
        table.append(crc)
    return table


_TABLE = crc8_table()


def crc8(data: bytes, crc: int = 0) -> int:
    for byte in data:
        crc = _TABLE[crc ^ byte]
    return crc


def frame(sync: int, code: int, payload: bytes = b"") -> bytes:
    """One frame: sync, command or status, length, payload, CRC."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes: a frame carries at most "
                         f"{MAX_PAYLOAD}")
    body = bytes([code, len(payload)]) + bytes(payload)
    return bytes([sync]) + body + bytes([crc8(body)])


def beat_bytes(width: int) -> int:
    """Bytes a beat of ``width`` bits takes on the wire."""
    return max(1, -(-width // 8))


def info_bytes(pushes, pops) -> bytes:
    """The ``INFO`` answer: version, stream counts, and per stream its beat bytes and depth."""
    out = [VERSION, len(pushes), len(pops)]
    for width, depth in list(pushes) + list(pops):
        out += [beat_bytes(width), depth & 0xFF, depth >> 8]
    return bytes(out)


# The bridge's FIFO per DRE stream, numbered in vrex.interface.layouts.DRE_STREAMS order: a
# push frame holds at most 51 hash beats; slots and descriptors come in bursts.
FIFO_DEPTHS = {"i_hash": 64, "i_score": 32, "o_slot": 64, "o_select": 16, "o_desc": 64}


def bridge_streams(config) -> tuple[list, list]:
    """``(pushes, pops)``: each bridged DRE stream's ``(payload width, FIFO depth)``, as the
    bridge is built and as ``INFO`` describes it."""
    widths = {name: layout.size for name, layout in dre_layouts(config).items()}
    return ([(widths[n], FIFO_DEPTHS[n]) for n in PUSH_STREAMS],
            [(widths[n], FIFO_DEPTHS[n]) for n in POP_STREAMS])
