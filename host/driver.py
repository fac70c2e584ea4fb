"""The DRE from Python, over any link: the same calls drive the simulated board and a real one.

    from vrex.host import DreDriver, SimLink, SerialLink
    dre = DreDriver(SimLink(config), config)          # or SerialLink("/dev/ttyUSB1")
    dre.check_board()                                 # INFO and the parameter registers
    out = dre.run(arrays)                             # a SPEC 6 ``dre`` vector, end to end

Every request gets exactly one response; a missing, short or corrupt response raises
:class:`BoardTimeout` or :class:`ProtocolError` (after which the link is resynchronised), and
a refused request raises :class:`CommandError` naming the command and the board's status.
"""

from __future__ import annotations

import numpy as np

from vrex.board.protocol import (FIFO_DEPTHS, MAX_PAYLOAD, REQUEST_SYNC, RESPONSE_SYNC, Command,
                                 Status, beat_bytes, bridge_streams, crc8, frame, info_bytes)
from vrex.golden.config import RUNTIME, Config
from vrex.golden.walk import Frame, dre_walk
from vrex.interface.dre import QUERY_MARKER, dre_outputs, score_beats, token_beats
from vrex.interface.layouts import POP_STREAMS, PUSH_STREAMS, dre_layouts
from vrex.interface.registers import COUNTERS, ID_MAGIC, RegisterMap

__all__ = ["DreDriver", "BoardError", "BoardTimeout", "ProtocolError", "CommandError",
           "DreFault"]


class BoardError(RuntimeError):
    """Anything that went wrong talking to the board."""


class BoardTimeout(BoardError):
    """The board did not answer in time."""


class ProtocolError(BoardError):
    """The answer was not a well-formed response (sync, length or checksum)."""


class CommandError(BoardError):
    """The board answered with a status other than OK."""

    def __init__(self, command: str, status: int):
        self.status = status
        try:
            name = Status(status).name
        except ValueError:
            name = f"unknown status {status}"
        super().__init__(f"{command}: the board answered {name}")


class DreFault(BoardError):
    """The DRE reports a host fault (STATUS.PROTOCOL_ERROR); ``error`` holds ERROR's fields."""

    def __init__(self, message: str, error: dict):
        self.error = error
        super().__init__(message)


def _command_name(code: int) -> str:
    if code >> 4 == Command.PUSH >> 4 and code & 15 < len(PUSH_STREAMS):
        return f"PUSH {PUSH_STREAMS[code & 15]}"
    if code >> 4 == Command.POP >> 4 and code & 15 < len(POP_STREAMS):
        return f"POP {POP_STREAMS[code & 15]}"
    try:
        return Command(code).name
    except ValueError:
        return f"command {code:#04x}"


class DreDriver:
    """The DRE of ``config`` behind the bridge at the other end of ``link``."""

    def __init__(self, link, config: Config, *, timeout: float | None = None,
                 max_polls: int = 10_000):
        self.link, self.config = link, config
        self.timeout = link.default_timeout if timeout is None else timeout
        self.max_polls = max_polls
        self.layouts = dre_layouts(config)
        self.widths = {name: layout.size for name, layout in self.layouts.items()}
        self.registers = RegisterMap(config)

    # -- frames --------------------------------------------------------------------------

    def transact(self, code: int, payload: bytes = b"") -> bytes:
        """Send one request; return the response's payload."""
        name = _command_name(code)
        self.link.write(frame(REQUEST_SYNC, code, payload))
        head = self._read(3, name)
        if head[0] != RESPONSE_SYNC:
            self.link.resync()
            raise ProtocolError(f"{name}: the response starts with {head[0]:#04x}, not "
                                f"{RESPONSE_SYNC:#04x}")
        rest = self._read(head[2] + 1, name)
        if crc8(head[1:] + rest[:-1]) != rest[-1]:
            self.link.resync()
            raise ProtocolError(f"{name}: bad checksum in the response ({rest[-1]:#04x}, "
                                f"expected {crc8(head[1:] + rest[:-1]):#04x})")
        if head[1] != Status.OK:
            raise CommandError(name, head[1])
        return rest[:-1]

    def _read(self, n: int, name: str) -> bytes:
        data = self.link.read(n, self.timeout)
        if len(data) < n:
            self.link.resync()
            raise BoardTimeout(f"{name}: no answer from {self.link.name} within "
                               f"{self.timeout:g} s ({len(data)} of {n} bytes)")
        return data

    # -- registers -----------------------------------------------------------------------

    def read(self, register: str) -> int:
        reg = self._register(register)
        return int.from_bytes(self.transact(Command.READ, bytes([reg.offset // 4])), "little")

    def write(self, register: str, value: int) -> None:
        reg = self._register(register)
        if reg.access == "ro":
            raise ValueError(f"register {register} is read-only")
        if not 0 <= value < 1 << 32:
            raise ValueError(f"register {register}: value {value} is not a 32-bit word")
        self.transact(Command.WRITE, bytes([reg.offset // 4]) + value.to_bytes(4, "little"))

    def _register(self, name: str):
        try:
            return self.registers[name]
        except KeyError as error:
            raise ValueError(error.args[0]) from None

    def status(self) -> dict[str, bool]:
        return {field: bool(value) for field, value in
                self.registers.unpack("STATUS", self.read("STATUS")).items()}

    def faults(self) -> dict[str, int]:
        """ERROR's fields: the host faults since CLEAR (docs/dre.md, "Host faults")."""
        return self.registers.unpack("ERROR", self.read("ERROR"))

    def check_faults(self) -> None:
        """Raise :class:`DreFault` if the DRE has cut a query's score stream since CLEAR."""
        if self.status()["PROTOCOL_ERROR"]:
            error = self.faults()
            causes = [name.lower() for name in ("LAST_EARLY", "SCORE_TIMEOUT") if error[name]]
            raise DreFault(f"the DRE cut the score stream of query {error['QUERY']} (and "
                           f"answered it with an empty selection): ERROR "
                           f"{', '.join(causes)}; clear() forgets it", error)

    def counters(self) -> dict[str, int]:
        return {name: self.read(name) for name in COUNTERS}

    def check_board(self) -> None:
        """The board runs this driver's protocol and configuration, or a clear error."""
        expected = info_bytes(*bridge_streams(self.config))
        info = self.transact(Command.INFO)
        if info != expected:
            raise BoardError(f"the board's bridge is not this configuration's: INFO "
                             f"{info.hex()} (expected {expected.hex()})")
        ident = self.read("ID")
        if ident != ID_MAGIC:
            raise BoardError(f"register ID reads {ident:#010x}, not the DRE's {ID_MAGIC:#010x}")
        for register, value in self.registers.parameter_values().items():
            got = self.read(register)
            if got != value:
                raise BoardError(f"the board was built for another configuration: "
                                 f"{register} reads {got}, this configuration has {value}")

    # -- streams -------------------------------------------------------------------------

    def push(self, stream: str, beats: list) -> bool:
        """Offer whole beats (dicts of the stream's fields) in one frame; False when the
        stream's FIFO has no room for all of them (none is taken)."""
        layout = self.layouts[stream]
        size = beat_bytes(layout.size)
        payload = b"".join(layout.const(b).as_bits().to_bytes(size, "little") for b in beats)
        try:
            self.transact(Command.PUSH | PUSH_STREAMS.index(stream), payload)
        except CommandError as error:
            if error.status == Status.FULL:
                return False
            raise
        return True

    def pop(self, stream: str, max_beats: int = 255) -> list:
        """Up to ``max_beats`` beats waiting on an output stream (views of its layout)."""
        if not 1 <= max_beats <= 255:
            raise ValueError(f"max_beats must be in 1..255 (one frame), not {max_beats}")
        layout = self.layouts[stream]
        size = beat_bytes(layout.size)
        data = self.transact(Command.POP | POP_STREAMS.index(stream), bytes([max_beats]))
        return [layout.from_bits(int.from_bytes(data[i:i + size], "little"))
                for i in range(0, len(data), size)]

    def beats_per_frame(self, stream: str) -> int:
        return min(MAX_PAYLOAD // beat_bytes(self.widths[stream]), FIFO_DEPTHS[stream])

    # -- whole runs ----------------------------------------------------------------------

    def clear(self) -> None:
        """CLEAR, then wait until it has been done."""
        self.write("CTRL", self.registers.pack("CTRL", CLEAR=1))
        for _ in range(self.max_polls):
            if not any(self.status()[f] for f in ("BUSY", "CLEAR_PENDING")):
                return
        raise BoardTimeout(f"CLEAR still pending after {self.max_polls} polls")

    def configure(self, settings: Config | None = None) -> None:
        """The run-time settings (TH_HD, RATIO, BUCKETS, MODE) of ``settings``, by default
        the driver's configuration."""
        c = settings or self.config
        for field in RUNTIME:
            self.write(field.upper(), int(getattr(c, field)))

    def run(self, arrays: dict, settings: Config | None = None) -> dict:
        """A SPEC 6 ``dre`` vector from CLEAR, with the run-time settings of ``settings``
        (default: the driver's configuration): each frame's tokens, then each query after it
        with its score rows over the clusters of that moment (read from ``CLUSTERS``).
        Returns the SPEC 6 outputs; ``cycles`` is the board's ``CYCLES`` register, which
        counts the link's time too and is not the golden model's figure."""
        self.clear()
        self.configure(settings)
        got = {name: [] for name in POP_STREAMS}
        ends = 0

        def drain():
            nonlocal ends
            for name in POP_STREAMS:
                beats = self.pop(name)
                got[name] += beats
                if name == "o_desc":
                    ends += sum(1 for b in beats if b.end)

        def send(stream, beats):
            step = self.beats_per_frame(stream)
            for i in range(0, len(beats), step):
                for _ in range(self.max_polls):
                    if self.push(stream, beats[i:i + step]):
                        break
                    drain()
                else:
                    raise BoardTimeout(f"{stream}: no room after {self.max_polls} polls; is "
                                       f"the DRE stuck? STATUS {self.status()}")

        def wait(predicate, what):
            for _ in range(self.max_polls):
                if predicate():
                    return
                drain()
            raise BoardTimeout(f"waiting for {what}: still missing after {self.max_polls} "
                               f"polls; STATUS {self.status()}")

        hashes = np.asarray(arrays["hashes"]).reshape(-1)
        scores = np.asarray(arrays["scores"], dtype=np.int64)
        lanes = self.config.wtu_lanes
        ns = []
        for step in dre_walk(arrays["frame_end"], arrays["query_after"], arrays["query_rows"]):
            if isinstance(step, Frame):
                send("i_hash", token_beats(hashes[step.start:step.end]))
                wait(lambda: len(got["o_slot"]) >= step.end, f"the slots of frame {step.index}")
                continue
            n = self.read("CLUSTERS")
            ns.append(n)
            send("i_hash", [QUERY_MARKER])
            send("i_score", score_beats(scores[step.rows, :n] if n else [], lanes))
            # The end beat comes after the last selection beat, but the two travel in
            # different FIFOs: wait for both.
            done, selects = step.index + 1, sum(-(-k // lanes) for k in ns)
            wait(lambda: ends >= done and len(got["o_select"]) >= selects,
                 f"the selection and descriptors of query {step.index}")
        status = self.read("STATUS")
        self.last_beats = got                # for a check to point at the first wrong beat
        self.check_faults()
        return dre_outputs(got["o_slot"], got["o_select"], got["o_desc"], ns, status,
                           self.config, self.read("CYCLES"))
