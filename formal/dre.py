"""What the whole DRE's proofs share: its small configuration, and the host of the
return-to-idle proof (``dre_streams(idle=...)``)."""

from amaranth.hdl import Assume, Signal

from vrex.golden.config import Config

__all__ = ["DRE_SMALL", "quiet_host"]

# Two clusters, one score a beat: a row has one or two beats, so `last` can be early. One
# bucket: the WTU's scan is the shortest, and with it the bound.
DRE_SMALL = Config(hash_bits=2, max_clusters=2, count_bits=1, score_bits=2, page_tokens=1,
                   max_pages=2, digit=2, hcu_lanes=1, wtu_lanes=1, max_buckets=1, th_hd=1,
                   ratio=32768, buckets=1, mode=0, exp_frac=1, exp_bits=2)


def quiet_host(m, dut, regs, *, timeout, bound):
    """The host of a return-to-idle proof: it writes TIMEOUT (at most ``timeout``) before
    anything else, then does as it likes. Returns whether TIMEOUT was written, and the count
    of the host's quiet cycles since (no beat offered, every output taken, no register
    written), up to ``bound``."""
    bus = dut.bus
    timeout_adr = regs.offset("TIMEOUT") // 4
    access = bus.cyc & bus.stb
    write = access & bus.we
    ready = Signal()                            # TIMEOUT written: the host may start
    with m.If(write & bus.ack & (bus.adr == timeout_adr)):
        m.d.sync += ready.eq(1)
    m.d.comb += [
        Assume(~(write & (bus.adr == timeout_adr)) |
               ((bus.sel == 0xF) & (bus.dat_w <= timeout))),
        Assume(ready | (~dut.i_hash.valid & ~dut.i_score.valid)),
        Assume(ready | ~access | (write & (bus.adr == timeout_adr))),
    ]
    outputs_taken = dut.o_slot.ready & dut.o_select.ready & dut.o_desc.ready
    quiet = ~dut.i_hash.valid & ~dut.i_score.valid & outputs_taken & ~write
    quiet_for = Signal(range(bound + 1))
    with m.If(~quiet | ~ready):
        m.d.sync += quiet_for.eq(0)
    with m.Elif(quiet_for < bound):
        m.d.sync += quiet_for.eq(quiet_for + 1)
    return ready, quiet_for
