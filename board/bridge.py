"""The host bridge: framed requests from a byte stream (the UART) to a Wishbone bus and to
stream FIFOs, and framed responses back. The protocol is in ``protocol.py``.

The bridge is generic: it knows its push streams (host to design) and pop streams (design to
host) only by payload width and FIFO depth. Every stream has its own FIFO, so the design runs
on its own between frames and the bridge never waits on it: a push that does not fit is
refused (``FULL``) and a pop answers with what is there. A host that pops between pushes can
therefore never deadlock the design, whatever the design does with its outputs.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from vrex.rtl.params import CheckedParams
from vrex.rtl.wishbone import wishbone_signature

from .protocol import MAX_PAYLOAD, REQUEST_SYNC, RESPONSE_SYNC, Command, Status, \
    beat_bytes, crc8_table, info_bytes

__all__ = ["Bridge"]


def _crc_step(crc, byte):
    """CRC-8 of ``crc`` followed by ``byte``. The CRC is linear in ``crc ^ byte``, so each
    output bit is the XOR of the input bits whose single-bit CRC has it set: a few LUTs, where
    the table itself would be a 256-entry ROM."""
    x = crc ^ byte
    table = crc8_table()
    return Cat(Cat(x[i] for i in range(8) if table[1 << i] >> j & 1).xor() for j in range(8))


class Bridge(CheckedParams, wiring.Component):
    """Protocol engine.

    Parameters
    ----------
    pushes, pops : list of (width, depth)
        The streams, in protocol index order; depths are powers of two up to 65535.
    addr_width : int
        Wishbone word-address width; a ``READ`` or ``WRITE`` to an address beyond it is
        answered ``BAD_COMMAND``.
    timeout : int
        Cycles without a byte after which a frame cut short is abandoned.

    Members
    -------
    i_rx : In(stream.Signature(8)), o_tx : Out(stream.Signature(8))
        Bytes from and to the host.
    bus : Out(wishbone_signature(addr_width))
    push<i> : Out(stream.Signature(width)), pop<i> : In(stream.Signature(width))
    frame_done : Out(1)
        A one-cycle pulse per response sent.
    frame_error : Out(1)
        High from a refused or broken frame until the next good one.
    """

    @classmethod
    def check(cls, *, pushes, pops, timeout, **_):
        if not 1 <= len(pushes) <= 16 or not 1 <= len(pops) <= 16:
            raise ValueError(f"bridge streams: {len(pushes)} push and {len(pops)} "
                             f"pop; each must be 1 to 16")
        for kind, streams in (("push", pushes), ("pop", pops)):
            for i, (width, depth) in enumerate(streams):
                if width < 1 or depth < 2 or depth > 0xFFFF:
                    raise ValueError(f"{kind} stream {i}: width {width}, depth {depth}; need "
                                     f"width >= 1 and depth 2..65535")
                if beat_bytes(width) > MAX_PAYLOAD:
                    raise ValueError(f"{kind} stream {i}: a {width}-bit beat does not fit a "
                                     f"frame of {MAX_PAYLOAD} bytes")
        if timeout < 1:
            raise ValueError(f"bridge timeout {timeout}: must be at least one cycle")

    def __init__(self, *, pushes, pops, addr_width: int, timeout: int):
        self.pushes, self.pops = list(pushes), list(pops)
        self.addr_width, self.timeout = addr_width, timeout
        self.info = info_bytes(self.pushes, self.pops)
        members = {
            "i_rx": In(stream.Signature(8)),
            "o_tx": Out(stream.Signature(8)),
            "bus": Out(wishbone_signature(addr_width)),
            "frame_done": Out(1),
            "frame_error": Out(1),
        }
        for i, (width, _) in enumerate(self.pushes):
            members[f"push{i}"] = Out(stream.Signature(width))
        for i, (width, _) in enumerate(self.pops):
            members[f"pop{i}"] = In(stream.Signature(width))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        rx, tx, bus = self.i_rx, self.o_tx, self.bus

        push_fifos, pop_fifos = [], []
        for i, (width, depth) in enumerate(self.pushes):
            fifo = SyncFIFOBuffered(width=width, depth=depth)
            m.submodules[f"push{i}_fifo"] = fifo
            out = getattr(self, f"push{i}")
            m.d.comb += [out.valid.eq(fifo.r_stream.valid), out.payload.eq(fifo.r_stream.payload),
                         fifo.r_stream.ready.eq(out.ready)]
            push_fifos.append(fifo)
        for i, (width, depth) in enumerate(self.pops):
            fifo = SyncFIFOBuffered(width=width, depth=depth)
            m.submodules[f"pop{i}_fifo"] = fifo
            inp = getattr(self, f"pop{i}")
            m.d.comb += [fifo.w_stream.valid.eq(inp.valid), fifo.w_stream.payload.eq(inp.payload),
                         inp.ready.eq(fifo.w_stream.ready)]
            pop_fifos.append(fifo)

        # The request's payload is kept in a block RAM until its CRC is known good.
        m.submodules.buffer = buffer = Memory(shape=8, depth=MAX_PAYLOAD + 1, init=[])
        buf_wr = buffer.write_port()
        buf_rd = buffer.read_port()

        cmd = Signal(8)
        length = Signal(8)
        count = Signal(8)               # payload bytes received / copied / sent
        crc = Signal(8)
        arg = Signal(8)                 # the first payload byte (address, max beats)
        word = Signal(32)               # the last four payload bytes, little-endian
        status = Signal(8)
        resp_len = Signal(8)
        idle = Signal(range(self.timeout + 1))
        stream_ix = cmd[:4]
        kind = cmd[4:]

        # Per stream constants, selected by the command's stream index.
        def pick(values, default=0):
            values = list(values) + [default] * (16 - len(values))
            return Array(Const(v, range(max(values) + 2)) for v in values)[stream_ix]

        push_bytes = pick([beat_bytes(w) for w, _ in self.pushes], 1)
        pop_bytes = pick([beat_bytes(w) for w, _ in self.pops], 1)
        pop_max = pick([MAX_PAYLOAD // beat_bytes(w) for w, _ in self.pops])
        push_ok = stream_ix < len(self.pushes)
        pop_ok = stream_ix < len(self.pops)
        push_room = Array(Const(d, 17) - f.level for (_, d), f in
                          zip(self.pushes, push_fifos))[stream_ix]
        pop_level = Array(f.level for f in pop_fifos)[stream_ix]

        in_width = 8 * max(beat_bytes(w) for w, _ in self.pushes)
        out_width = max(32, 8 * max(beat_bytes(w) for w, _ in self.pops))
        beat_in = Signal(in_width)      # bytes shift in at the top
        beat_out = Signal(out_width)    # bytes shift out at the bottom
        beats = Signal(8)
        remainder = Signal(8)
        beat_byte = Signal(8)

        # One CRC unit: over the byte received, or over the byte offered while sending.
        crc_next = Signal(8)
        m.d.comb += crc_next.eq(_crc_step(crc, Mux(tx.valid, tx.payload, rx.payload)))

        rom = Array(Const(b, 8) for b in self.info)
        took = rx.valid & rx.ready

        def respond(code, n=0):
            m.d.sync += [status.eq(code), resp_len.eq(n)]
            m.next = "RESP_SYNC"

        # A frame cut short is abandoned after `timeout` cycles without a byte.
        receiving = Signal()
        timed_out = Signal()
        with m.If(~receiving | took | timed_out):
            m.d.sync += idle.eq(0)
        with m.Else():
            m.d.sync += idle.eq(idle + 1)
        m.d.comb += timed_out.eq(receiving & ~took & (idle == self.timeout))

        with m.FSM() as fsm:
            with m.State("SYNC"):
                with m.If(rx.valid & (rx.payload == REQUEST_SYNC)):
                    m.d.sync += crc.eq(0)
                    m.next = "CMD"
            with m.State("CMD"):
                with m.If(rx.valid):
                    m.d.sync += [cmd.eq(rx.payload), crc.eq(crc_next)]
                    m.next = "LEN"
                with m.Elif(timed_out):
                    m.next = "SYNC"
            with m.State("LEN"):
                with m.If(rx.valid):
                    m.d.sync += [length.eq(rx.payload), count.eq(0),
                                 crc.eq(crc_next)]
                    with m.If(rx.payload == 0):
                        m.next = "CHECK"
                    with m.Else():
                        m.next = "PAYLOAD"
                with m.Elif(timed_out):
                    m.next = "SYNC"
            with m.State("PAYLOAD"):
                m.d.comb += [buf_wr.addr.eq(count), buf_wr.data.eq(rx.payload),
                             buf_wr.en.eq(rx.valid)]
                with m.If(rx.valid):
                    m.d.sync += [count.eq(count + 1), crc.eq(crc_next),
                                 word.eq(Cat(word[8:], rx.payload))]
                    with m.If(count == 0):
                        m.d.sync += arg.eq(rx.payload)
                    with m.If(count + 1 == length):
                        m.next = "CHECK"
                with m.Elif(timed_out):
                    m.next = "SYNC"
            with m.State("CHECK"):
                with m.If(rx.valid):
                    with m.If(rx.payload == crc):
                        m.next = "EXEC"
                    with m.Else():
                        respond(Status.BAD_CRC)
                with m.Elif(timed_out):
                    m.next = "SYNC"

            with m.State("EXEC"):
                with m.If(cmd == Command.INFO):
                    with m.If(length == 0):
                        respond(Status.OK, len(self.info))
                    with m.Else():
                        respond(Status.BAD_LENGTH)
                with m.Elif((cmd == Command.READ) | (cmd == Command.WRITE)):
                    with m.If(length != Mux(cmd == Command.READ, 1, 5)):
                        respond(Status.BAD_LENGTH)
                    with m.Elif(arg >> self.addr_width != 0):
                        respond(Status.BAD_COMMAND)
                    with m.Else():
                        m.next = "BUS"
                with m.Elif((kind == Command.PUSH >> 4) & push_ok):
                    m.d.sync += [remainder.eq(length), beats.eq(0)]
                    m.next = "DIVIDE"
                with m.Elif((kind == Command.POP >> 4) & pop_ok):
                    with m.If(length != 1):
                        respond(Status.BAD_LENGTH)
                    with m.Else():
                        # As many beats as asked, held and fit in one frame.
                        held = Mux(pop_level < arg, pop_level, arg)
                        n = Mux(pop_max < held, pop_max, held)
                        m.d.sync += beat_byte.eq(0)
                        respond(Status.OK, n * pop_bytes)
                with m.Else():
                    respond(Status.BAD_COMMAND)

            with m.State("BUS"):
                m.d.comb += [bus.cyc.eq(1), bus.stb.eq(1), bus.adr.eq(arg), bus.sel.eq(0xF),
                             bus.we.eq(cmd == Command.WRITE), bus.dat_w.eq(word)]
                with m.If(bus.ack):
                    m.d.sync += beat_out.eq(bus.dat_r)
                    respond(Status.OK, Mux(cmd == Command.READ, 4, 0))

            # Whole beats only: the payload's length over the stream's beat bytes, by
            # subtraction (at most 255 cycles; the frame itself took thousands).
            with m.State("DIVIDE"):
                with m.If(remainder >= push_bytes):
                    m.d.sync += [remainder.eq(remainder - push_bytes), beats.eq(beats + 1)]
                with m.Elif((remainder != 0) | (beats == 0)):
                    respond(Status.BAD_LENGTH)
                with m.Elif(push_room < beats):
                    respond(Status.FULL)
                with m.Else():
                    m.d.sync += [count.eq(0), beat_byte.eq(0)]
                    m.next = "COPY_READ"
            with m.State("COPY_READ"):
                m.d.comb += buf_rd.addr.eq(count)
                m.next = "COPY_BYTE"
            with m.State("COPY_BYTE"):
                m.d.sync += [beat_in.eq(Cat(beat_in[8:], buf_rd.data)), count.eq(count + 1),
                             beat_byte.eq(beat_byte + 1)]
                m.next = "COPY_READ"
                with m.If(beat_byte + 1 == push_bytes):
                    m.next = "COPY_WRITE"
            with m.State("COPY_WRITE"):
                with m.Switch(stream_ix):
                    for i, ((width, _), fifo) in enumerate(zip(self.pushes, push_fifos)):
                        with m.Case(i):
                            lsb = in_width - 8 * beat_bytes(width)
                            m.d.comb += [fifo.w_stream.valid.eq(1),
                                         fifo.w_stream.payload.eq(beat_in[lsb:lsb + width])]
                m.d.sync += beat_byte.eq(0)
                with m.If(count == length):
                    respond(Status.OK)
                with m.Else():
                    m.next = "COPY_READ"

            # The response: sync, status, length, body, CRC.
            def send(byte, next_state):
                m.d.comb += [tx.valid.eq(1), tx.payload.eq(byte)]
                with m.If(tx.ready):
                    m.next = next_state
                return tx.ready

            with m.State("RESP_SYNC"):
                with m.If(send(RESPONSE_SYNC, "RESP_STATUS")):
                    m.d.sync += crc.eq(0)
            with m.State("RESP_STATUS"):
                with m.If(send(status, "RESP_LEN")):
                    m.d.sync += crc.eq(crc_next)
            with m.State("RESP_LEN"):
                with m.If(send(resp_len, "RESP_BODY")):
                    m.d.sync += [crc.eq(crc_next), count.eq(0)]
                    with m.If(resp_len == 0):
                        m.next = "RESP_CRC"
                    with m.Elif((kind == Command.POP >> 4) & (status == Status.OK)):
                        m.next = "POP_LOAD"
            with m.State("POP_LOAD"):
                with m.Switch(stream_ix):
                    for i, fifo in enumerate(pop_fifos):
                        with m.Case(i):
                            m.d.comb += fifo.r_stream.ready.eq(1)
                            with m.If(fifo.r_stream.valid):
                                m.d.sync += beat_out.eq(fifo.r_stream.payload)
                                m.next = "RESP_BODY"
            with m.State("RESP_BODY"):
                is_info = cmd == Command.INFO
                byte = Mux(is_info, rom[count], beat_out[:8])
                with m.If(send(byte, "RESP_BODY")):
                    m.d.sync += [crc.eq(crc_next), count.eq(count + 1),
                                 beat_out.eq(beat_out >> 8), beat_byte.eq(beat_byte + 1)]
                    with m.If(count + 1 == resp_len):
                        m.next = "RESP_CRC"
                    with m.Elif((kind == Command.POP >> 4) & (beat_byte + 1 == pop_bytes)):
                        m.d.sync += beat_byte.eq(0)
                        m.next = "POP_LOAD"
            with m.State("RESP_CRC"):
                with m.If(send(crc, "SYNC")):
                    m.d.comb += self.frame_done.eq(1)
                    m.d.sync += self.frame_error.eq(status != Status.OK)
        # Bytes are taken in the receiving states (and SYNC), never while a frame is answered.
        m.d.comb += [receiving.eq(fsm.ongoing("CMD") | fsm.ongoing("LEN") |
                                  fsm.ongoing("PAYLOAD") | fsm.ongoing("CHECK")),
                     rx.ready.eq(receiving | fsm.ongoing("SYNC"))]
        return m
