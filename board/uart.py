"""8N1 UART receiver and transmitter as byte streams.

``divisor`` is the number of clock cycles per bit (clock frequency / baud rate, at least 4 so
the receiver can sample the middle of each bit).
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from vrex.rtl.params import CheckedParams

__all__ = ["UARTRx", "UARTTx", "check_divisor", "divisor_for"]

MIN_DIVISOR = 4
MAX_BAUD_ERROR = 0.02     # a UART tolerates a few percent between the two ends


def check_divisor(divisor: int) -> int:
    if not isinstance(divisor, int) or divisor < MIN_DIVISOR:
        raise ValueError(f"UART divisor {divisor!r}: must be an integer of at least "
                         f"{MIN_DIVISOR} clock cycles per bit")
    return divisor


def divisor_for(clock_hz: float, baud: int) -> int:
    """Cycles per bit for ``baud`` at ``clock_hz``; an error when the rate is off by more than
    two percent or needs fewer than four cycles a bit."""
    if not isinstance(baud, int) or baud <= 0:
        raise ValueError(f"baud {baud!r}: must be a positive integer")
    divisor = round(clock_hz / baud)
    if divisor < MIN_DIVISOR:
        raise ValueError(f"baud {baud}: a {clock_hz / 1e6:g} MHz clock allows at most "
                         f"{int(clock_hz // MIN_DIVISOR)} ({MIN_DIVISOR} cycles a bit)")
    error = abs(clock_hz / divisor - baud) / baud
    if error > MAX_BAUD_ERROR:
        raise ValueError(f"baud {baud}: {clock_hz / 1e6:g} MHz / {divisor} is "
                         f"{clock_hz / divisor:.0f} baud, {100 * error:.1f}% off")
    return divisor


class UARTRx(CheckedParams, wiring.Component):
    """Receiver: bytes out as they complete.

    Members
    -------
    rx : In(1)
        The serial line, idle high; synchronised here.
    o_data : Out(stream.Signature(8))
        Received bytes. A byte not taken before the next completes is lost (``overrun``).
    framing_error, overrun : Out(1)
        One-cycle pulses: a stop bit read low; a byte lost.
    """

    rx: In(1, init=1)
    o_data: Out(stream.Signature(8))
    framing_error: Out(1)
    overrun: Out(1)

    @classmethod
    def check(cls, *, divisor):
        check_divisor(divisor)

    def __init__(self, divisor: int):
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        rx = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(d))
        bits = Signal(range(8))
        shift = Signal(8)
        with m.If(self.o_data.ready):
            m.d.sync += self.o_data.valid.eq(0)
        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.sync += timer.eq(d // 2 - 1)        # to the middle of the start bit
                    m.next = "START"
            with m.State("START"):
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(d - 1), bits.eq(0)]
                    with m.If(rx):                          # a glitch, not a start bit
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(d - 1), shift.eq(Cat(shift[1:], rx)),
                                 bits.eq(bits + 1)]
                    with m.If(bits == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(rx):
                        m.d.sync += [self.o_data.payload.eq(shift), self.o_data.valid.eq(1)]
                        m.d.comb += self.overrun.eq(self.o_data.valid & ~self.o_data.ready)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.comb += self.framing_error.eq(1)
                        m.next = "BREAK"
            with m.State("BREAK"):                          # wait for the line to go idle
                with m.If(rx):
                    m.next = "IDLE"
        return m


class UARTTx(CheckedParams, wiring.Component):
    """Transmitter: one byte at a time, start bit, eight data bits LSB first, stop bit.

    Members
    -------
    i_data : In(stream.Signature(8))
        Bytes to send; taken when the previous byte's stop bit has been sent.
    tx : Out(1)
        The serial line, idle high.
    """

    i_data: In(stream.Signature(8))
    tx: Out(1, init=1)

    @classmethod
    def check(cls, *, divisor):
        check_divisor(divisor)

    def __init__(self, divisor: int):
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        timer = Signal(range(d))
        bits = Signal(range(11))
        frame = Signal(10, init=1)               # stop bit, data, start bit; LSB out first
        m.d.comb += [self.tx.eq(frame[0]), self.i_data.ready.eq(bits == 0)]
        with m.If(self.i_data.valid & self.i_data.ready):
            m.d.sync += [frame.eq(Cat(0, self.i_data.payload, 1)), bits.eq(10),
                         timer.eq(d - 1)]
        with m.Elif(bits != 0):
            with m.If(timer == 0):
                m.d.sync += [frame.eq(Cat(frame[1:], 1)), bits.eq(bits - 1), timer.eq(d - 1)]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m
