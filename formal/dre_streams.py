"""The whole DRE under a free host, for every length: an unbounded proof (k-induction) that
``o_slot``, ``o_select`` and ``o_desc`` keep the stream rule and that nothing is lost or
repeated: a slot only for a token taken and not yet answered, a selection and descriptors only
inside a query, each query's selection exactly its beats with ``last`` on the final one, then
its descriptors and one end beat; no slot handed out twice between clears.

It is the units' own proofs composed: each unit's harness watches it inside the DRE (its
properties and invariants asserted, as alone), and what that harness assumed of the unit's
environment is asserted here instead, proved from the other units' guarantees and the DRE's
own invariants below."""

from amaranth.hdl import Assert, Assume, Cat, Cover, Mux, Signal

from vrex.interface.registers import RegisterMap
from vrex.rtl.dre import DRE

from .controller import watch_controller
from .dre import DRE_SMALL, quiet_host
from .guard import watch_guard
from .hcu import watch_hcu
from .rules import free_inputs, harness_module, stream_rule
from .skid import watch_stage
from .wtu_streams import watch_wtu

__all__ = ["dre_streams"]


def dre_streams(*, config=DRE_SMALL, unit=DRE, idle=None):
    """``unit``: the DRE class (a test passes a broken one). ``idle``: ``(timeout, bound)``
    adds the return to idle: the host writes TIMEOUT (at most ``timeout``) first, and
    STATUS.BUSY is low once it has been quiet for ``bound`` cycles."""
    m, ports = harness_module()
    c = config
    m.submodules.dut = dut = unit(c, checks=True)
    free_inputs(m, dut)
    u = dut.units
    lanes = c.wtu_lanes
    depth = -(-c.max_clusters // lanes)
    # The host: the stream rule on its inputs, a bus strobe held until acked; nothing else.
    stream_rule(m, dut.i_hash, assume=True, name="i_hash")
    bus = dut.bus
    access = bus.cyc & bus.stb
    held = Signal()
    last_adr, last_we, last_dat, last_sel = (Signal.like(bus.adr), Signal(),
                                             Signal.like(bus.dat_w), Signal.like(bus.sel))
    m.d.sync += [held.eq(access & ~bus.ack), last_adr.eq(bus.adr), last_we.eq(bus.we),
                 last_dat.eq(bus.dat_w), last_sel.eq(bus.sel)]
    m.d.comb += Assume(~held | (access & (bus.adr == last_adr) & (bus.we == last_we)
                                & (bus.dat_w == last_dat) & (bus.sel == last_sel)))

    # Each unit watched as in its own proof, its environment's side asserted.
    hcu = watch_hcu(m, u["hcu"], hash_bits=c.hash_bits, max_clusters=c.max_clusters,
                    assume=False)
    ctl = watch_controller(m, u["controller"], max_clusters=c.max_clusters,
                           page_tokens=c.page_tokens, max_pages=c.max_pages, assume=False)
    wtu = watch_wtu(m, u["wtu"], lanes=lanes, max_clusters=c.max_clusters,
                    max_buckets=c.max_buckets, assume=False)
    guard_beat = watch_guard(m, u["guard"], max_beats=depth, assume=False)
    stages = {name: watch_stage(m, u[name], kind=kind, name=name, assume=False)
              for name, kind in (("id_skid", "skid"), ("select_skid", "skid"),
                                 ("select_reg", "forward"))}
    stream_rule(m, dut.o_select, assume=False, name="o_select")

    # The DRE's own promises: tokens in, slots out; a query's selection, then its
    # descriptors and end.
    hashes = dut.i_hash.valid & dut.i_hash.ready
    token_in = hashes & ~dut.i_hash.payload.query
    query_in = hashes & dut.i_hash.payload.query
    slot_out = dut.o_slot.valid & dut.o_slot.ready
    select_out = dut.o_select.valid & dut.o_select.ready
    end_out = dut.o_desc.valid & dut.o_desc.ready & dut.o_desc.payload.end
    tokens = Signal(range(8))
    m.d.sync += tokens.eq(tokens + token_in - slot_out)
    querying = Signal()
    with m.If(query_in):
        m.d.sync += querying.eq(1)
    with m.If(end_out):
        m.d.sync += querying.eq(0)
    st = dut.state
    select_beat = Signal(range(depth + 1))
    selected = Signal()                         # the query's selection has left
    with m.If(select_out):
        m.d.sync += select_beat.eq(select_beat + 1)
        with m.If(dut.o_select.payload.last):
            m.d.sync += [select_beat.eq(0), selected.eq(1)]
    with m.If(end_out):
        m.d.sync += selected.eq(0)
    m.d.comb += [
        Assert(~dut.o_slot.valid | (tokens != 0), "no_slot_without_a_token"),
        Assert(tokens <= 4, "no_token_dropped"),
        Assert(~query_in | ~querying, "one_query_at_a_time"),
        Assert(~dut.o_select.valid | (querying & ~selected), "selection_inside_a_query"),
        Assert(~dut.o_desc.valid | querying, "descriptors_inside_a_query"),
        Assert(~select_out | (dut.o_select.payload.last == (select_beat + 1 == st.beats)),
               "selection_beats"),
        Assert(~end_out | selected | (st.n == 0), "end_after_the_selection"),
        Cover(end_out & selected, "a_query_answered"),
    ]
    # The register file holds every rw register inside its range.
    regs = u["regs"]
    for reg in dut.registers:
        if reg.access == "rw":
            hi = reg.hi if reg.hi is not None else (1 << reg.width) - 1
            value = getattr(regs, reg.name.lower())
            m.d.comb += Assert((value >= reg.lo) & (value <= hi), f"reg_{reg.name}_inside")
    if idle is not None:
        timeout, bound = idle
        reg_map = RegisterMap(c)
        ready, quiet_for = quiet_host(m, dut, reg_map, timeout=timeout, bound=bound)
        busy = regs.status[reg_map.field("STATUS", "BUSY")[0]]
        m.d.comb += [Assert(~ready | (regs.timeout <= timeout), "timeout_as_written"),
                     Assert((quiet_for != bound) | ~busy, "idle_after_quiet")]
    m.d.comb += _invariants(dut, tokens=tokens, querying=querying, selected=selected,
                            select_beat=select_beat, hcu=hcu, ctl=ctl, wtu=wtu,
                            guard_beat=guard_beat, stages=stages, lanes=lanes)
    return m, ports


def _invariants(dut, *, tokens, querying, selected, select_beat, hcu, ctl, wtu, guard_beat,
                stages, lanes):
    """The DRE's own: where each query and token is, in the query FSM's terms."""
    st, u = dut.state, dut.units
    guard = u["guard"]
    skid, sel_skid, sel_reg = (stages[n] for n in ("id_skid", "select_skid", "select_reg"))
    no_query = st.run | st.wait | st.counts | st.empty   # the WTU and controller not yet in it
    tokens_done = ~(st.run | st.wait)
    query_on = st.counts | st.select | st.empty | st.desc
    # Final-mask beats the WTU has sent this query: all once its batch is over.
    sent = Mux(wtu["counting"], st.beats,
               Mux(wtu["mask_final"] & (wtu["mask_beat"] != 0), wtu["mask_beat"], 0))
    held_id = u["id_skid"].o.payload.shape()(skid["shadow"])
    new_in_skid = skid["inside"] & held_id.new
    return [
        Assert(st.run | st.wait | st.counts | st.select | st.empty | st.desc, "dre_state"),
        Assert(querying == ~st.run, "dre_query_while_not_running"),
        Assert(st.beats == (st.n + lanes - 1) // lanes, "dre_beats_of_n"),
        # Tokens: in the HCU, the skid register, the controller; none once a query has begun.
        Assert(tokens == hcu["inside"] + skid["inside"] + ctl["ids_inside"], "dre_tokens"),
        Assert(~tokens_done | (tokens == 0), "dre_no_token_in_a_query"),
        Assert(~tokens_done | ~u["hcu"].busy, "dre_hcu_counted"),
        # The controller's founded clusters are the HCU's, but a founding id on its way.
        Assert(ctl["founded"] == (1 << (hcu["founded"] - new_in_skid).as_unsigned()) - 1,
               "dre_founded_together"),
        # The query's way: the WTU counting before its counts; the guard started with them.
        Assert(~(st.run | st.wait | st.empty | st.desc) |
               (wtu["counting"] & (wtu["count_k"] == 0)), "dre_wtu_waits"),
        Assert(st.counts | ~wtu["counting"] | (wtu["count_k"] == 0), "dre_wtu_counts_only_then"),
        Assert(~st.counts | (wtu["counting"] & (wtu["count_k"] == st.k - st.stage) &
                             (st.k <= st.beats) & (~st.stage | (st.k >= 1))), "dre_counts"),
        Assert(~(st.counts | st.select) | ((st.n >= 1) & (st.n <= dut.config.max_clusters)),
               "dre_query_has_clusters"),
        Assert(~(st.run | st.wait | st.empty | st.desc) | ~guard.active, "dre_guard_idle"),
        Assert(~st.counts | (guard.active & (guard_beat == 0)), "dre_guard_started"),
        Assert(~st.select | (guard.active == wtu["scoring"]), "dre_guard_with_the_wtu"),
        Assert(~(st.select & guard.active) | (guard_beat == wtu["beat_in"]), "dre_beat"),
        Assert(~st.empty | (st.n == 0), "dre_empty_has_none"),
        # The final mask: sent = passed + in the two stream registers.
        Assert(~st.select | (sent == st.k + sel_skid["inside"] + sel_reg["inside"]),
               "dre_final_beats"),
        Assert(~st.select | ((st.k == select_beat) & (st.k < st.beats) &
                             (st.last_select == (st.k + 1 == st.beats))
                             & ~selected & (ctl["queries_inside"] == 0)), "dre_selecting"),
        # Between walks the controller has captured the selection's beats passed, no other.
        Assert(u["controller"].state.query |
               (u["controller"].state.k == Mux(st.select, st.k, 0)), "dre_selection_captured"),
        Assert(no_query | st.select | (sel_skid["inside"] == 0) & (sel_reg["inside"] == 0),
               "dre_select_path_empty"),
        Assert(~no_query | ((sel_skid["inside"] == 0) & (sel_reg["inside"] == 0) &
                            ~selected & (select_beat == 0) & (ctl["queries_inside"] == 0)),
               "dre_no_selection_yet"),
        Assert(~st.desc | ((selected == (st.n != 0)) & (ctl["queries_inside"] == 1) &
                           (select_beat == 0)), "dre_describing"),
        # The walk's way out: a query's clusters are the HCU's, and the controller selects
        # and walks only those (whose chains reach their tails), none of an old table.
        Assert(~query_on | (st.n == hcu["founded"]), "dre_query_of_the_table"),
        *_walk_inside(u["controller"].state, st, lanes),
        # CLEAR: carried out only from an idle DRE with CLEAR pending.
        Assert(~st.clear_ready | (st.run & st.clear_pending), "dre_clear_ready"),
    ]


def _walk_inside(ctl, st, lanes):
    """Every selection bit the controller captured, holds or walks names one of the query's
    ``n`` clusters. With one lane this follows from the beats' order (word ``w`` is cluster
    ``w``, and the WTU sends ``n`` words); more lanes would also need the WTU's final-mask
    buffer free of bits past the columns."""
    words = ctl.selection.shape().length
    captured = Mux(ctl.query, ctl.n_words, ctl.k)
    out = []
    for w in range(words):
        for lane in range(lanes):
            out.append(Assert(~((w < captured) & ctl.selection[w][lane]) |
                              (w * lanes + lane < st.n), f"dre_selection_{w}_{lane}_inside"))
    walk = ctl.walk
    out += [
        Assert(~(ctl.query & (ctl.k >= 1)) |
               Cat(*(~ctl.bits[lane] | ((ctl.k - 1) * lanes + lane < st.n)
                     for lane in range(lanes))).all(), "dre_walk_word_inside"),
        Assert(~(walk.head | walk.chain | walk.next) | (walk.cluster < st.n),
               "dre_walk_cluster_inside"),
    ]
    return out
