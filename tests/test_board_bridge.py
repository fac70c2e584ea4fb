"""The bridge's protocol, byte for byte, against the simulated board (LinkTop in the Amaranth
simulator behind a simulated serial line): answers, every refusal, and recovery from a frame
cut short."""

import pytest

from vrex.board.bridge import Bridge
from vrex.board.protocol import (FIFO_DEPTHS, REQUEST_SYNC, RESPONSE_SYNC, Command, Status,
                                 beat_bytes, crc8, frame, info_bytes)
from vrex.golden.config import load_config
from vrex.host.link import SimLink
from vrex.interface.layouts import POP_STREAMS, PUSH_STREAMS
from vrex.interface.registers import ID_MAGIC, dre_registers

CONFIG = load_config("small")
OFFSET = {r.name: r.offset // 4 for r in dre_registers(CONFIG)}


@pytest.fixture(scope="module")
def link():
    return SimLink(CONFIG)


def exchange(link, raw: bytes) -> tuple[int, bytes]:
    """Send raw bytes; return the response's status and payload, its framing checked."""
    link.write(raw)
    head = link.read(3, link.default_timeout)
    assert len(head) == 3 and head[0] == RESPONSE_SYNC, head.hex()
    rest = link.read(head[2] + 1, link.default_timeout)
    assert len(rest) == head[2] + 1
    assert crc8(head[1:] + rest[:-1]) == rest[-1], "response checksum"
    return head[1], rest[:-1]


def request(link, code, payload=b""):
    return exchange(link, frame(REQUEST_SYNC, code, payload))


def test_info_describes_the_streams(link):
    from vrex.host.driver import DreDriver
    widths = DreDriver(link, CONFIG).widths
    expected = info_bytes([(widths[n], FIFO_DEPTHS[n]) for n in PUSH_STREAMS],
                          [(widths[n], FIFO_DEPTHS[n]) for n in POP_STREAMS])
    assert request(link, Command.INFO) == (Status.OK, expected)


def test_register_read_and_write(link):
    assert request(link, Command.READ, bytes([OFFSET["ID"]])) == \
        (Status.OK, ID_MAGIC.to_bytes(4, "little"))
    assert request(link, Command.WRITE, bytes([OFFSET["RATIO"]]) + (12345).to_bytes(4, "little")) \
        == (Status.OK, b"")
    assert request(link, Command.READ, bytes([OFFSET["RATIO"]])) == \
        (Status.OK, (12345).to_bytes(4, "little"))


@pytest.mark.parametrize("code, payload, status", [
    (Command.READ, b"", Status.BAD_LENGTH),
    (Command.READ, bytes([0, 0]), Status.BAD_LENGTH),
    (Command.WRITE, bytes([0, 1, 2]), Status.BAD_LENGTH),
    (Command.INFO, bytes([0]), Status.BAD_LENGTH),
    (Command.READ, bytes([0xFF]), Status.BAD_COMMAND),             # beyond the bus
    (0x7F, b"", Status.BAD_COMMAND),
    (Command.PUSH | len(PUSH_STREAMS), bytes(5), Status.BAD_COMMAND),
    (Command.POP | len(POP_STREAMS), bytes([1]), Status.BAD_COMMAND),
    (Command.PUSH | 0, b"", Status.BAD_LENGTH),                      # no beat
    (Command.PUSH | 0, bytes(7), Status.BAD_LENGTH),                 # 5-byte beats
    (Command.POP | 0, b"", Status.BAD_LENGTH),
])
def test_refusals(link, code, payload, status):
    assert request(link, code, payload) == (status, b"")
    # The bridge goes on as before.
    assert request(link, Command.READ, bytes([OFFSET["ID"]]))[0] == Status.OK


def test_bad_checksum_is_answered_and_changes_nothing(link):
    raw = bytearray(frame(REQUEST_SYNC, Command.WRITE,
                          bytes([OFFSET["RATIO"]]) + (777).to_bytes(4, "little")))
    raw[-1] ^= 0x01
    before = request(link, Command.READ, bytes([OFFSET["RATIO"]]))
    assert exchange(link, bytes(raw)) == (Status.BAD_CRC, b"")
    assert request(link, Command.READ, bytes([OFFSET["RATIO"]])) == before


def test_full_fifo_refuses_the_whole_push(link):
    # Score beats wait in their FIFO until a query takes them: fill it exactly.
    from vrex.host.driver import DreDriver
    beat = bytes(beat_bytes(DreDriver(link, CONFIG).widths["i_score"]))
    depth = FIFO_DEPTHS["i_score"]
    assert request(link, Command.PUSH | 1, beat * (depth + 1))[0] == Status.FULL
    assert request(link, Command.PUSH | 1, beat * depth)[0] == Status.OK
    assert request(link, Command.PUSH | 1, beat)[0] == Status.FULL
    assert request(link, Command.POP | 1, bytes([8])) == (Status.OK, b"")   # nothing to pop


def test_frame_cut_short_is_abandoned(link):
    link.write(bytes([REQUEST_SYNC, Command.WRITE, 5, OFFSET["RATIO"], 9]))   # 3 bytes missing
    assert link.read(1, link.default_timeout / 4) == b""                       # no answer
    link.resync()                                                              # board times out
    assert request(link, Command.READ, bytes([OFFSET["ID"]]))[0] == Status.OK


def test_bridge_parameters_are_checked():
    with pytest.raises(ValueError, match="push stream 0: width 0"):
        Bridge(pushes=[(0, 4)], pops=[(8, 4)], addr_width=4, timeout=10)
    with pytest.raises(ValueError, match="2050-bit beat"):
        Bridge(pushes=[(8, 4)], pops=[(2050, 4)], addr_width=4, timeout=10)
    with pytest.raises(ValueError, match="timeout 0"):
        Bridge(pushes=[(8, 4)], pops=[(8, 4)], addr_width=4, timeout=0)
