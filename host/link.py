"""Byte links to the board design: a real serial port, or the board design in the Amaranth
simulator behind a simulated serial line. Both carry the same bytes; the driver cannot tell
them apart except by ``name``.
"""

from __future__ import annotations

import collections

__all__ = ["SerialLink", "SimLink", "LinkError"]


class LinkError(RuntimeError):
    """The link itself failed: no such port, or the simulated line saw a broken character."""


class SerialLink:
    """A serial port (``pyserial``), 8N1."""

    default_timeout = 1.0          # seconds; a full frame takes 25 ms at 115200 baud
    resync_time = 0.1              # seconds; twice the board's inter-byte timeout

    def __init__(self, port: str, baud: int = 115200):
        try:
            import serial
        except ImportError as error:         # pragma: no cover - a declared dependency
            raise LinkError("pyserial is not installed: pip install pyserial") from error
        try:
            self._port = serial.Serial(port, baud, timeout=self.default_timeout)
        except (serial.SerialException, ValueError) as error:
            raise LinkError(f"serial port {port!r} at {baud} baud: {error}") from None
        self.name = f"{port} at {baud} baud"

    def write(self, data: bytes) -> None:
        self._port.write(data)
        self._port.flush()

    def read(self, n: int, timeout: float) -> bytes:
        """Up to ``n`` bytes; fewer when ``timeout`` seconds pass first."""
        self._port.timeout = timeout
        return self._port.read(n)

    def resync(self) -> None:
        """Let the board abandon any frame cut short, and drop stale bytes."""
        import time
        time.sleep(self.resync_time)
        self._port.reset_input_buffer()

    def close(self) -> None:
        self._port.close()


class SimLink:
    """:class:`vrex.board.top.LinkTop` in the Amaranth simulator, its ``rx`` driven and its
    ``tx`` decoded bit by bit at ``divisor`` cycles a bit: the bridge, the UART and the DRE run
    exactly as they do on the board. Time here is simulated time at ``clock_hz``."""

    default_timeout = 0.01         # simulated seconds: 120k cycles at 12 MHz

    def __init__(self, config, *, divisor: int = 4, clock_hz: float = 12e6,
                 timeout_bytes: int = 32):
        from amaranth.sim import Simulator

        from vrex.board.top import LinkTop

        self.divisor = divisor
        self.period = 1 / clock_hz
        # The board abandons a frame after this many byte times without a byte.
        self.board_timeout = timeout_bytes * 10 * divisor
        self.top = top = LinkTop(config, divisor=divisor, timeout=self.board_timeout,
                                 heartbeat_bits=4)
        self._to_board = collections.deque()
        self._from_board = bytearray()
        self._errors = []
        self._cycles = 0
        self._sim = Simulator(top)
        self._sim.add_clock(self.period)
        self._sim.add_testbench(self._drive_rx, background=True)
        self._sim.add_testbench(self._decode_tx, background=True)
        self.name = f"simulated board ({divisor} cycles a bit)"
        # Start the line's coroutines now: a link never used would otherwise leave them
        # never awaited, a warning at some later, unrelated garbage collection.
        self._advance(1)

    async def _drive_rx(self, ctx):
        d = self.divisor
        ctx.set(self.top.rx, 1)
        while True:
            if not self._to_board:
                await ctx.tick()
                continue
            byte = self._to_board.popleft()
            for bit in [0] + [(byte >> i) & 1 for i in range(8)] + [1]:
                ctx.set(self.top.rx, bit)
                await ctx.tick().repeat(d)

    async def _decode_tx(self, ctx):
        d = self.divisor
        while True:
            while ctx.get(self.top.tx):
                await ctx.tick()
            await ctx.tick().repeat(d // 2)          # the middle of the start bit
            byte = 0
            for i in range(8):
                await ctx.tick().repeat(d)
                byte |= ctx.get(self.top.tx) << i
            await ctx.tick().repeat(d)
            if not ctx.get(self.top.tx):
                self._errors.append(f"framing error after byte {len(self._from_board)}")
            self._from_board.append(byte)
            # Back to the idle line: the stop bit's second half.
            await ctx.tick().repeat(d - d // 2)

    def _advance(self, cycles: int) -> None:
        self._cycles += cycles
        self._sim.run_until(self._cycles * self.period)
        if self._errors:
            raise LinkError(f"simulated serial line: {self._errors[0]}")

    def write(self, data: bytes) -> None:
        self._to_board.extend(data)

    def read(self, n: int, timeout: float) -> bytes:
        """Up to ``n`` bytes; fewer when ``timeout`` simulated seconds pass first."""
        limit = self._cycles + max(1, round(timeout / self.period))
        step = 10 * self.divisor
        while len(self._from_board) < n and self._cycles < limit:
            self._advance(min(step, limit - self._cycles))
        out = bytes(self._from_board[:n])
        del self._from_board[:n]
        return out

    def resync(self) -> None:
        """Let the board abandon any frame cut short, and drop stale bytes."""
        self._to_board.clear()
        self._advance(2 * self.board_timeout)
        self._from_board.clear()

    @property
    def cycles(self) -> int:
        """Simulated cycles so far."""
        return self._cycles

    def close(self) -> None:
        pass
