"""The whole DRE under a free host: every output keeps the stream rule, and once the host is
quiet (no beat offered, every output taken, no register written) the DRE reads idle
(STATUS.BUSY low) within a bounded number of cycles, whatever the host did before: broken score
streams, CLEARs and register writes at any time included."""

from amaranth.hdl import Assert, Assume, Cover, Signal

from vrex.golden.config import Config
from vrex.interface.registers import RegisterMap
from vrex.rtl.dre import DRE

from .rules import free_inputs, harness_module, stream_rule

__all__ = ["DRE_SMALL", "dre_idle", "quiet_host"]

# Two clusters, one score a beat: a row has one or two beats, so `last` can be early. One
# bucket: the WTU's scan is the shortest, and with it the bound.
DRE_SMALL = Config(hash_bits=2, max_clusters=2, count_bits=1, score_bits=2, page_tokens=1,
                   max_pages=2, digit=2, hcu_lanes=1, wtu_lanes=1, max_buckets=1, th_hd=1,
                   ratio=32768, buckets=1, mode=0, exp_frac=1, exp_bits=2)


def dre_idle(*, config=DRE_SMALL, timeout=0, bound=48):
    """The host writes TIMEOUT (at most ``timeout``) before anything else, then does as it likes
    but for the stream rule on its inputs and the bus's (a strobe held until acked). A
    STATUS read begun after ``bound`` quiet cycles must read BUSY low."""
    m, ports = harness_module()
    m.submodules.dut = dut = DRE(config)
    regs = RegisterMap(config)
    free_inputs(m, dut)
    stream_rule(m, dut.i_hash, assume=True, name="i_hash")
    stream_rule(m, dut.i_score, assume=True, name="i_score")
    for name in ("o_slot", "o_select", "o_desc"):
        stream_rule(m, getattr(dut, name), assume=False, name=name)
    bus = dut.bus
    addr = {name: regs.offset(name) // 4 for name in ("TIMEOUT", "STATUS")}
    access = bus.cyc & bus.stb
    held = Signal()                             # a strobe not yet acked stays as it is
    last_adr, last_we = Signal.like(bus.adr), Signal()
    m.d.sync += [held.eq(access & ~bus.ack), last_adr.eq(bus.adr), last_we.eq(bus.we)]
    m.d.comb += Assume(~held | (access & (bus.adr == last_adr) & (bus.we == last_we)))
    _, quiet_for = quiet_host(m, dut, regs, timeout=timeout, bound=bound)
    # STATUS is sampled when the read starts and returned with the ack.
    checked = Signal()
    with m.If(access & ~bus.we & ~bus.ack):
        m.d.sync += checked.eq((bus.adr == addr["STATUS"]) & (quiet_for == bound))
    busy_bit = regs.field("STATUS", "BUSY")[0]
    m.d.comb += [
        Assert(~(bus.ack & checked) | ~bus.dat_r[busy_bit], "idle_after_quiet"),
        Cover(bus.ack & checked, "status_read_after_quiet"),
    ]
    return m, ports


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
