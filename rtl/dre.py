"""The Dynamic Retrieval Engine: HCU, WTU and retrieval controller behind one set of streams
and a Wishbone register file.

Function: SPEC 6 ``dre`` (golden model ``vrex.golden.dre``). Tokens' hashes stream in and each
token's cluster and KV slot stream out. A query is a marker in the same hash stream, so its
place among the tokens is exact: the DRE finishes every token before it, hands the WTU the
clusters and counts of that moment, takes the query's score rows, and streams out its final
selection and its fetch descriptors, ending with an ``end`` beat.
"""

from amaranth.hdl import C, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out, connect

from vrex.interface.layouts import dre_layouts, kv_layouts
from vrex.interface.registers import RegisterMap, register_addr_width

from .controller import Controller
from .guard import ScoreGuard
from .hcu import HCU
from .kv.engine import KvEngine, axi_channels, pass_through
from .registers import RegisterFile
from .skid import Forward, Skid
from .wishbone import wishbone_signature
from .wtu import WTU

__all__ = ["DRE", "state_layout", "STATES"]

#: The query FSM's states.
STATES = ("RUN", "WAIT", "COUNTS", "SELECT", "EMPTY", "DESC")


def state_layout(config) -> data.StructLayout:
    """``DRE(checks=True).state``: one flag a state of :data:`STATES`, the count and selection
    beat counter, the count read stage, the query's clusters and beats a row, the flag of its
    last selection beat, and the CLEAR in waiting."""
    clusters = range(config.max_clusters + 1)
    return data.StructLayout({**{name.lower(): 1 for name in STATES}, "k": clusters,
                              "stage": 1, "n": clusters, "beats": clusters,
                              "last_select": 1, "clear_pending": 1, "clear_ready": 1})


class DRE(wiring.Component):
    """Dynamic Retrieval Engine.

    Members
    -------
    i_hash : In(stream.Signature(hash_layout(hash_bits)))
        Tokens' hashes in arrival order; a beat with ``query`` set runs one query on the
        clusters of that moment (its ``hash`` is ignored).
    o_slot : Out(stream.Signature(slot_layout(...)))
        Per token: its cluster and KV slot (all ones: no page was free).
    i_score : In(stream.Signature(score_layout(score_bits, wtu_lanes)))
        Per query: its rows of scores over the ``n`` clusters, ``ceil(n / wtu_lanes)`` beats a
        row, ``last`` on the query's final beat. A query with no cluster takes no scores.
    o_select : Out(stream.Signature(select_layout(wtu_lanes)))
        Per query with clusters: its final selection, ``last`` on its final beat.
    o_desc : Out(stream.Signature(desc_layout(...)))
        Per query: ``(page, tokens)`` per page of every selected cluster, then an ``end`` beat.
    bus : In(wishbone_signature(...))
        The registers of :func:`vrex.interface.registers.dre_registers`.
    state : Out(state_layout(config))
        With ``checks``: the query FSM's state, for a proof's invariants; the units are then
        built with their own checks (:attr:`units`).

    With the KV memory engine (``kv_bytes`` > 0, SPEC 7), also:

    i_kv : In(stream.Signature(kv_beat_layout(bus_bytes)))
        Every token's K and V bytes, in the order of ``i_hash``, ``stride / bus_bytes`` beats
        a token; the engine writes them at ``kv_base + slot * stride``.
    o_token : Out(stream.Signature(token_layout(...)))
        Per query: every token its descriptors fetch, beat by beat, tagged with query and
        slot, then an ``end`` beat.
    m_axi_aw*, m_axi_w*, m_axi_b*, m_axi_ar*, m_axi_r* : the engine's AXI4 manager port.

    ``o_slot`` and ``o_desc`` stay: a beat leaves when both the port and the engine take it
    (tie their ``ready`` high if nothing watches them). A query waits until every earlier
    token's write is answered, so its fetch reads what was stored.

    A query marker is taken at once; the beats behind it wait for the query's ``end`` beat.
    A score stream the host breaks (``last`` inside a row, a stream that stops, a CLEAR in
    the middle) is cut by the score guard (``rtl/guard.py``): the query is answered with an
    empty selection, nothing stored changes, and STATUS.PROTOCOL_ERROR and ERROR say why
    (docs/dre.md, "Host faults").
    """

    def __init__(self, config, *, checks=False):
        self._config = config
        self._map = RegisterMap(config)
        self._checks = bool(checks)
        # With checks, the units exist from here on, so that a proof can name their state.
        self._units = self._make_units() if checks else None
        layouts = dre_layouts(config)
        super().__init__({
            "i_hash": In(stream.Signature(layouts["i_hash"])),
            "o_slot": Out(stream.Signature(layouts["o_slot"])),
            "i_score": In(stream.Signature(layouts["i_score"])),
            "o_select": Out(stream.Signature(layouts["o_select"])),
            "o_desc": Out(stream.Signature(layouts["o_desc"])),
            "bus": In(wishbone_signature(register_addr_width(self._map.registers))),
            **{name: (In if name.startswith("i_") else Out)(stream.Signature(layout))
               for name, layout in kv_layouts(config).items()},
            **(axi_channels(config.axi_addr_width, config.bus_bytes) if config.kv_bytes
               else {}),
            **({"state": Out(state_layout(config))} if checks else {}),
        })

    @classmethod
    def from_config(cls, config) -> "DRE":
        return cls(config)

    config = property(lambda self: self._config)
    registers = property(lambda self: self._map.registers)

    @property
    def units(self) -> dict:
        """With ``checks``: the units by name (``hcu``, ``wtu``, ``controller``, ``guard``, the
        stream registers ``id_skid``, ``select_skid``, ``select_reg``, and ``regs``), each
        built with its own checks, for a proof's invariants (formal/dre_streams.py)."""
        if self._units is None:
            raise ValueError("DRE.units needs checks=True")
        return dict(self._units)

    def _make_units(self) -> dict:
        c, checks = self._config, self._checks
        lanes = c.wtu_lanes
        hcu = HCU.from_config(c, count_lanes=lanes, checks=checks)
        wtu = WTU.from_config(c, checks="control" if checks else False)
        mask = wtu.o_mask.payload.mask.shape()
        return dict(
            hcu=hcu, wtu=wtu,
            controller=Controller.from_config(c, checks=checks),
            guard=ScoreGuard(dre_layouts(c)["i_score"], -(-c.max_clusters // lanes),
                             checks=checks),
            id_skid=Skid(hcu.o_id.payload.shape()), select_skid=Skid(mask),
            select_reg=Forward(mask), regs=RegisterFile(self._map.registers))

    def elaborate(self, platform):
        m = Module()
        c = self._config
        lanes = c.wtu_lanes
        units = self._units or self._make_units()
        for name, unit in units.items():
            m.submodules[name] = unit
        hcu, wtu, ctl, guard, regs = (units[name] for name in
                                      ("hcu", "wtu", "controller", "guard", "regs"))
        id_skid, select_skid, select_reg = (units[name]
                                            for name in ("id_skid", "select_skid", "select_reg"))
        connect(m, wiring.flipped(self.bus), regs.bus)

        # Tokens: hashes to the HCU, ids to the controller, slots out.
        # The ids pass a skid register: the controller's slot pipeline then holds back the
        # HCU's emit through a flip-flop (rtl/skid.py).
        connect(m, hcu.o_id, id_skid.i)
        connect(m, id_skid.o, ctl.i_id)
        if c.kv_bytes:
            store_busy = self._kv_engine(m, ctl, regs)
        else:
            connect(m, ctl.o_slot, wiring.flipped(self.o_slot))
            connect(m, ctl.o_desc, wiring.flipped(self.o_desc))
            store_busy = C(0, 1)
        # The host's scores reach the WTU through the guard, which ends a stream the host
        # broke (docs/dre.md, "Host faults").
        connect(m, wiring.flipped(self.i_score), guard.i_score)
        connect(m, guard.o_score, wtu.i_score)
        m.d.comb += [hcu.i_hash.payload.eq(self.i_hash.payload.hash), hcu.th_hd.eq(regs.th_hd),
                     wtu.o_row.ready.eq(1)]
        is_query = self.i_hash.payload.query

        # Counters and flags for the registers.
        tokens = Signal(32)
        queries = Signal(32)
        descriptors = Signal(32)
        cycles = Signal(32)
        clear_pending = Signal()
        busy = Signal()
        m.d.sync += cycles.eq(cycles + 1)
        # The score watchdog's time base: bit TIMEOUT of the cycle count changes every
        # 2**TIMEOUT cycles.
        tick_bit = Signal()
        tick = Signal()
        m.d.sync += tick_bit.eq(cycles.bit_select(regs.timeout, 1))
        m.d.comb += tick.eq(tick_bit != cycles.bit_select(regs.timeout, 1))
        with m.If(hcu.i_hash.valid & hcu.i_hash.ready):
            m.d.sync += tokens.eq(tokens + 1)
        with m.If(self.o_desc.valid & self.o_desc.ready & ~self.o_desc.payload.end):
            m.d.sync += descriptors.eq(descriptors + 1)
        with m.If(regs.ctrl[self._map.field("CTRL", "CLEAR")[0]]):
            m.d.sync += clear_pending.eq(1)
        # Host faults, sticky until CLEAR: the causes, and the first cut query's number.
        last_early = Signal()
        timed_out = Signal()
        fault_query = Signal(16)
        with m.If(guard.last_early | guard.timed_out):
            m.d.sync += [last_early.eq(last_early | guard.last_early),
                         timed_out.eq(timed_out | guard.timed_out)]
            with m.If(~last_early & ~timed_out):
                m.d.sync += fault_query.eq(queries)
        m.d.comb += [
            regs.status.eq(self._map.pack("STATUS", BUSY=busy,
                                          CLUSTER_OVERFLOW=hcu.cluster_overflow,
                                          PAGE_OVERFLOW=ctl.page_overflow,
                                          CLEAR_PENDING=clear_pending,
                                          PROTOCOL_ERROR=last_early | timed_out)),
            regs.error.eq(self._map.pack("ERROR", LAST_EARLY=last_early,
                                         SCORE_TIMEOUT=timed_out, QUERY=fault_query)),
            regs.tokens.eq(tokens), regs.clusters.eq(hcu.n_clusters), regs.pages.eq(ctl.pages),
            regs.queries.eq(queries), regs.descriptors.eq(descriptors), regs.cycles.eq(cycles),
        ]

        # Query settings are taken when the query starts, so the host may write the registers
        # at any time.
        n = Signal(range(c.max_clusters + 1))
        beats = Signal(range(c.max_clusters + 1))
        ratio = Signal(16)
        buckets = Signal(range(c.max_buckets + 1))
        mode = Signal(2)
        m.d.comb += [wtu.columns.eq(n), wtu.ratio.eq(ratio), wtu.buckets.eq(buckets),
                     wtu.mode.eq(mode), guard.beats.eq(beats), guard.tick.eq(tick),
                     guard.abort.eq(clear_pending)]

        # The WTU's final mask goes out on o_select and into the controller together, through
        # a skid register (row masks are dropped before it), so the WTU's emitter sees a
        # ready from a flip-flop, then a forward register, so that the mask's compare logic
        # in the emitter and the controller's selection buffer are a cycle apart
        # (SELECT_LATENCY).
        k = Signal(range(c.max_clusters + 1))     # count beats read / selection beats passed
        connect(m, select_skid.o, select_reg.i)
        select_valid = select_reg.o.valid
        select_mask = select_reg.o.payload
        both_ready = self.o_select.ready & ctl.i_select.ready
        last_select = Signal()                    # k + 1 == beats, kept as a flag
        m.d.comb += [
            select_skid.i.valid.eq(wtu.o_mask.valid & wtu.o_mask.payload.final),
            # A query whose scores were cut is answered with an empty selection.
            select_skid.i.payload.eq(Mux(guard.cut, 0, wtu.o_mask.payload.mask)),
            wtu.o_mask.ready.eq(select_skid.i.ready),
            select_reg.o.ready.eq(both_ready),
            self.o_select.payload.mask.eq(select_mask),
            self.o_select.payload.last.eq(last_select),
            self.o_select.valid.eq(select_valid & ctl.i_select.ready),
        ]

        # The counts pass from the HCU's block RAM to the WTU's register with nothing between.
        m.d.comb += wtu.i_count.payload.eq(hcu.rd_counts)
        idle = ~hcu.busy & ~ctl.busy & ~wtu.busy & ~id_skid.o.valid & ~store_busy
        # CLEAR is carried out a cycle after the DRE was seen idle with CLEAR pending and no
        # beat offered (nothing can start in between): the units' busy flags then reach their
        # clear enables through a flip-flop.
        clear_ready = Signal()
        m.d.sync += clear_ready.eq(0)
        stage = Signal()                            # count read data is on rd_counts
        with m.FSM() as fsm:
            with m.State("RUN"):
                # A query marker is taken at once (the beats behind it wait for the query's
                # end), unless a CLEAR is pending: then the clear goes first.
                quiet = ~self.i_hash.valid | is_query
                m.d.comb += [busy.eq(hcu.busy | ctl.busy | clear_pending | store_busy),
                             hcu.i_hash.valid.eq(self.i_hash.valid & ~is_query),
                             self.i_hash.ready.eq(Mux(is_query, ~clear_pending,
                                                      hcu.i_hash.ready))]
                m.d.sync += clear_ready.eq(clear_pending & idle & quiet)
                with m.If(self.i_hash.valid & is_query & ~clear_pending):
                    m.next = "WAIT"
                with m.Elif(clear_ready & quiet):
                    m.d.comb += [hcu.clear.eq(1), ctl.clear.eq(1)]
                    m.d.sync += [clear_pending.eq(0), clear_ready.eq(0), tokens.eq(0),
                                 queries.eq(0), descriptors.eq(0), cycles.eq(0),
                                 last_early.eq(0), timed_out.eq(0), fault_query.eq(0)]

            with m.State("WAIT"):                   # every earlier token counted and placed
                m.d.comb += busy.eq(1)
                with m.If(idle):
                    m.d.sync += [n.eq(hcu.n_clusters), ratio.eq(regs.ratio),
                                 beats.eq((hcu.n_clusters + lanes - 1) // lanes),
                                 buckets.eq(regs.buckets), mode.eq(regs.mode), k.eq(0),
                                 stage.eq(0)]
                    with m.If(hcu.n_clusters == 0):
                        m.next = "EMPTY"
                    with m.Else():
                        m.d.comb += guard.start.eq(1)
                        m.next = "COUNTS"

            with m.State("COUNTS"):                 # the counts, one WTU beat a cycle
                m.d.comb += [busy.eq(1), hcu.rd_addr.eq(k * lanes),
                             wtu.i_count.valid.eq(stage)]
                # The WTU takes counts whenever it waits for them: no back-pressure here.
                m.d.sync += stage.eq(k != beats)
                with m.If(k != beats):
                    m.d.sync += k.eq(k + 1)
                with m.Elif(stage):
                    m.d.sync += [k.eq(0), stage.eq(0), last_select.eq(beats == 1)]
                    m.next = "SELECT"

            with m.State("SELECT"):                 # the WTU runs; its final mask passes
                m.d.comb += [busy.eq(1), ctl.i_select.payload.mask.eq(select_mask),
                             ctl.i_select.payload.last.eq(last_select),
                             ctl.i_select.valid.eq(select_valid & self.o_select.ready)]
                with m.If(select_valid & both_ready):
                    m.d.sync += [k.eq(k + 1), last_select.eq(k + 2 == beats)]
                    with m.If(last_select):
                        m.next = "DESC"

            with m.State("EMPTY"):                  # no cluster: an empty selection
                m.d.comb += [busy.eq(1), ctl.i_select.valid.eq(1),
                             ctl.i_select.payload.last.eq(1)]
                with m.If(ctl.i_select.ready):
                    m.next = "DESC"

            with m.State("DESC"):                   # descriptors until the end beat
                m.d.comb += busy.eq(1)
                with m.If(self.o_desc.valid & self.o_desc.ready & self.o_desc.payload.end):
                    m.d.sync += queries.eq(queries + 1)
                    m.next = "RUN"
        if self._checks:
            st = self.state
            m.d.comb += [getattr(st, name.lower()).eq(fsm.ongoing(name)) for name in STATES]
            m.d.comb += [st.k.eq(k), st.stage.eq(stage), st.n.eq(n), st.beats.eq(beats),
                         st.last_select.eq(last_select), st.clear_pending.eq(clear_pending),
                         st.clear_ready.eq(clear_ready)]
        return m

    def _kv_engine(self, m, ctl, regs):
        """The KV memory engine beside the controller: slots and descriptors forked to it and
        to the ports, the AXI4 port passed out. Returns its store-busy flag."""
        c = self._config
        m.submodules.kv = kv = KvEngine.from_config(c)
        m.d.comb += kv.kv_base.eq(regs.kv_base << 12)
        # The engine takes slots and descriptors through skid registers: its ready depends on
        # the beat (a slot or not, a query's end or not), and through the fork that would
        # reach back into the controller's table addresses in the same cycle (82.7 MHz on the
        # ECP5 without them).
        # Then through forward registers: what the engine decides from a beat (its ready,
        # its queues' levels) starts at a flip-flop, not at the controller's table reads
        # (90.2 MHz with the skid registers alone).
        m.submodules.kv_slot_skid = slot_skid = Skid(kv.i_slot.payload.shape())
        m.submodules.kv_desc_skid = desc_skid = Skid(kv.i_desc.payload.shape())
        m.submodules.kv_slot_reg = slot_reg = Forward(kv.i_slot.payload.shape())
        m.submodules.kv_desc_reg = desc_reg = Forward(kv.i_desc.payload.shape())
        connect(m, slot_skid.o, slot_reg.i)
        connect(m, desc_skid.o, desc_reg.i)
        connect(m, slot_reg.o, kv.i_slot)
        connect(m, desc_reg.o, kv.i_desc)
        fork(m, ctl.o_slot, self.o_slot, slot_skid.i)
        m.d.comb += [self.o_slot.payload.eq(ctl.o_slot.payload),
                     slot_skid.i.payload.slot.eq(ctl.o_slot.payload.slot),
                     slot_skid.i.payload.none.eq(ctl.o_slot.payload.slot == c.no_slot)]
        fork(m, ctl.o_desc, self.o_desc, desc_skid.i)
        m.d.comb += [self.o_desc.payload.eq(ctl.o_desc.payload),
                     desc_skid.i.payload.eq(ctl.o_desc.payload)]
        connect(m, wiring.flipped(self.i_kv), kv.i_kv)
        connect(m, kv.o_token, wiring.flipped(self.o_token))
        pass_through(m, self, kv, axi_channels(c.axi_addr_width, c.bus_bytes))
        # A slot held on the way is a write to come.
        return kv.store_busy | slot_skid.o.valid | slot_reg.o.valid


def fork(m, source, *sinks) -> None:
    """One producer's beats to several consumers: a beat moves when all of them take it; each
    sink's ``valid`` waits for the others' ``ready`` (no ``valid`` waits on its own)."""
    readies = [sink.ready for sink in sinks]
    m.d.comb += source.ready.eq(_all(readies))
    for i, sink in enumerate(sinks):
        m.d.comb += sink.valid.eq(source.valid & _all(readies[:i] + readies[i + 1:]))


def _all(signals):
    out = 1
    for s in signals:
        out = out & s
    return out
