"""The DRE behind the UART bridge: the design a board runs, and its platform wrappers.

:class:`LinkTop` is the whole board design with its serial line as plain ports, so the
simulator runs exactly what the FPGA runs; :class:`BoardTop` only ties those ports to a
board's clock, UART pins and LEDs.
"""

import dataclasses

from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib import io, wiring
from amaranth.lib.wiring import In, Out, connect

from vrex.interface.layouts import POP_STREAMS, PUSH_STREAMS
from vrex.rtl.dre import DRE
from vrex.rtl.params import CheckedParams

from .bridge import Bridge
from .protocol import bridge_streams
from .uart import UARTRx, UARTTx, check_divisor, divisor_for

__all__ = ["LinkTop", "BoardTop"]


def check_no_kv(config) -> None:
    """The bridge carries the DRE's streams over a UART; the KV engine would need an AXI4
    memory on the board, which no board build has yet."""
    if config.kv_bytes:
        raise ValueError(f"kv_bytes must be 0 on a board, not {config.kv_bytes}: the UART "
                         f"bridge has no AXI4 memory for the KV engine (docs/kv.md)")


class LinkTop(CheckedParams, wiring.Component):
    """The DRE, its bridge and a UART.

    Members
    -------
    rx : In(1), tx : Out(1)
        The serial line (8N1, ``divisor`` clock cycles a bit), idle high.
    leds : Out(4)
        0 heartbeat, 1 a response sent (toggles), 2 the last frame was refused, 3 a UART
        framing error or overrun was seen (sticky).
    """

    rx: In(1, init=1)
    tx: Out(1, init=1)
    leds: Out(4)

    @classmethod
    def check(cls, *, config, divisor, **_):
        check_no_kv(config)
        check_divisor(divisor)

    def __init__(self, config, *, divisor: int, timeout: int, heartbeat_bits: int = 23):
        self.config = config
        self.divisor = divisor
        self.timeout = timeout
        self.heartbeat_bits = heartbeat_bits
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.dre = dre = DRE(self.config)
        pushes, pops = bridge_streams(self.config)
        m.submodules.bridge = bridge = Bridge(pushes=pushes, pops=pops,
                                              addr_width=len(dre.bus.adr),
                                              timeout=self.timeout)
        m.submodules.uart_rx = uart_rx = UARTRx(self.divisor)
        m.submodules.uart_tx = uart_tx = UARTTx(self.divisor)
        m.d.comb += [uart_rx.rx.eq(self.rx), self.tx.eq(uart_tx.tx)]
        connect(m, uart_rx.o_data, bridge.i_rx)
        connect(m, bridge.o_tx, uart_tx.i_data)
        connect(m, bridge.bus, dre.bus)

        # The bridge carries raw bits; the DRE's streams are structured views of them.
        for i, name in enumerate(PUSH_STREAMS):
            src, dst = getattr(bridge, f"push{i}"), getattr(dre, name)
            m.d.comb += [dst.valid.eq(src.valid), dst.payload.eq(src.payload),
                         src.ready.eq(dst.ready)]
        for i, name in enumerate(POP_STREAMS):
            src, dst = getattr(dre, name), getattr(bridge, f"pop{i}")
            m.d.comb += [dst.valid.eq(src.valid), dst.payload.eq(src.payload),
                         src.ready.eq(dst.ready)]

        heartbeat = Signal(self.heartbeat_bits)
        responded = Signal()
        uart_fault = Signal()
        m.d.sync += heartbeat.eq(heartbeat + 1)
        with m.If(bridge.frame_done):
            m.d.sync += responded.eq(~responded)
        with m.If(uart_rx.framing_error | uart_rx.overrun):
            m.d.sync += uart_fault.eq(1)
        m.d.comb += [self.leds[0].eq(heartbeat[-1]), self.leds[1].eq(responded),
                     self.leds[2].eq(bridge.frame_error), self.leds[3].eq(uart_fault)]
        return m


@dataclasses.dataclass(frozen=True)
class Board:
    """A supported board: its platform, the configuration it is sized for, its clock."""

    name: str
    platform: str           # class name in amaranth_boards.<module>
    module: str
    preset: str
    family: str             # "ice40" or "ecp5" (vrex.synth.fpga)
    bitstream: str          # file extension of the programming file
    programmer: str         # the tool `vrex fpga program` calls
    leds: tuple             # (resource name, number) per LinkTop LED, None: not shown;
                            # LEDs named twice show either

    def make_platform(self):
        import importlib
        module = importlib.import_module(f"amaranth_boards.{self.module}")
        return getattr(module, self.platform)()

    @property
    def clock_hz(self) -> float:
        """The frequency of the board's default clock, as its platform declares it."""
        return self.make_platform().default_clk_frequency


BOARDS = {
    "icebreaker": Board("icebreaker", "ICEBreakerPlatform", "icebreaker", "small", "ice40",
                        "bin", "iceprog",
                        (("led_g", 0), None, ("led_r", 0), ("led_r", 0))),
    "ulx3s": Board("ulx3s", "ULX3S_85F_Platform", "ulx3s", "default", "ecp5", "bit",
                   "openFPGALoader", (("led", 0), ("led", 1), ("led", 2), ("led", 3))),
}


class BoardTop(CheckedParams, Elaboratable):
    """:class:`LinkTop` on a board: its default clock, UART 0 and LEDs."""

    @classmethod
    def check(cls, *, board, config, baud, **_):
        check_no_kv(config)
        divisor_for(board.clock_hz, baud)

    def __init__(self, board: Board, config, *, baud: int):
        self.board, self.config, self.baud = board, config, baud
        self.divisor = divisor_for(board.clock_hz, baud)        # refused in check if bad

    def elaborate(self, platform):
        m = Module()
        # A frame cut short is abandoned after 50 ms without a byte.
        m.submodules.link = link = LinkTop(self.config, divisor=self.divisor,
                                           timeout=int(self.board.clock_hz * 0.05),
                                           heartbeat_bits=max(
                                               2, int(self.board.clock_hz).bit_length() - 1))
        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx_pin = rx_pin = io.Buffer("i", uart.rx)
        m.submodules.uart_tx_pin = tx_pin = io.Buffer("o", uart.tx)
        m.d.comb += [link.rx.eq(rx_pin.i), tx_pin.o.eq(link.tx)]
        leds = {}
        for i, key in enumerate(self.board.leds):
            if key is None:
                continue
            leds.setdefault(key, []).append(link.leds[i])
        for (name, number), sources in leds.items():
            pin = io.Buffer("o", platform.request(name, number, dir="-"))
            m.submodules[f"{name}_{number}_pin"] = pin
            value = sources[0]
            for other in sources[1:]:
                value = value | other
            m.d.comb += pin.o.eq(value)
        return m
