"""The retrieval controller: the cluster-paged KV layout and its fetch descriptors.

Function: SPEC 4 (golden model ``vrex.golden.controller``). Every token's cluster id comes in,
its KV slot goes out: the cluster's newest page while it has room, else the next free page,
linked to the end of the cluster's chain. After a query, the final selection mask comes in and
one descriptor per page of every selected cluster goes out, then an end beat.

State per cluster (``max_clusters`` words): whether it has a page, its first and newest page and
the tokens in the newest one; per page (``max_pages`` words): the next page of its chain. Every
page but a chain's newest is full, so no per-page fill count is kept.
"""

from amaranth.hdl import Assert, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from vrex.interface.layouts import desc_layout, id_layout, page_bits, select_layout, slot_layout

from .params import CheckedParams, check_int

__all__ = ["Controller", "entry_layout", "state_layout"]


def entry_layout(page_tokens: int, max_pages: int) -> data.StructLayout:
    """A cluster's chain entry. ``single``: head == tail, kept beside them so that the
    descriptor walk compares no page numbers straight out of the block RAM."""
    pb = page_bits(max_pages)
    return data.StructLayout({"has": 1, "single": 1, "head": pb, "tail": pb,
                              "fill": range(page_tokens + 1)})


def state_layout(max_clusters: int, page_tokens: int, max_pages: int,
                 lanes: int) -> data.StructLayout:
    """``Controller(checks=True).state``."""
    stage = data.StructLayout({"valid": 1, "id": id_layout(max_clusters)})
    entry = entry_layout(page_tokens, max_pages)
    written = data.StructLayout({"valid": 1, "cluster": id_layout(max_clusters)["cluster"]
                                 .shape, "entry": entry})
    return data.StructLayout({
        "entries": data.ArrayLayout(entry, max_clusters),
        "links": data.ArrayLayout(page_bits(max_pages), max_pages),
        "r": stage, "c": stage, "cur": entry, "prev": written, "prev2": written,
        "query": 1, "end_out": 1, "k": range(max_clusters + 1),
        "n_words": range(max_clusters + 1),
        # The selection buffer, and the word being walked (its clusters not yet picked).
        "selection": data.ArrayLayout(lanes, -(-max_clusters // lanes)), "bits": lanes,
        # The descriptor walk: its state, the cluster picked, the page offered, the chain's
        # tail, and the link RAM's output (``primed``: it is ``page``'s successor).
        "walk": data.StructLayout({
            "head": 1, "chain": 1, "next": 1, "cluster": id_layout(max_clusters)["cluster"]
            .shape, "page": page_bits(max_pages), "tail": page_bits(max_pages), "primed": 1,
            "l_data": page_bits(max_pages), "e_data": entry})})


class Controller(CheckedParams, wiring.Component):
    """Retrieval controller.

    Parameters
    ----------
    max_clusters, page_tokens, max_pages : int
        As in :class:`vrex.golden.config.Config`.
    lanes : int
        Selection bits per ``i_select`` beat (the WTU's lanes).
    checks : bool
        Embed an ``Assert`` that no chain-table read met by a write in its cycle is used
        (what the table's ``no_rw_check`` relies on; ``vrex formal`` proves it), and add the
        member ``state``: the tables and the pipeline as a proof's invariants need them (read
        without a clock); off in the generated Verilog.

    Members
    -------
    i_id : In(stream.Signature(id_layout(max_clusters)))
        Each token's cluster, in order, and whether the token founded it.
    o_slot : Out(stream.Signature(slot_layout(...)))
        One beat per token, two cycles later when not held back.
    i_select : In(stream.Signature(select_layout(lanes)))
        A query's final selection mask, cluster 0 at lane 0 of the first beat, at most
        ``ceil(max_clusters / lanes)`` beats, the last flagged. Taken once no
        id is in flight; while it is offered, taken and walked, ``i_id`` waits (the two share
        the chain table's read port).
    o_desc : Out(stream.Signature(desc_layout(...)))
        ``(page, tokens)`` per page of each selected cluster, in id then link order, then one
        beat with ``end`` set (and no page).
    clear : In(1)
        Forget every page and clear ``page_overflow``; honoured while not ``busy``.
    pages : Out(range(max_pages + 1))
        Pages handed out.
    page_overflow : Out(1)
        Sticky: a token found no free page and got the all-ones slot.
    busy : Out(1)
        A token or a query is in progress.
    state : Out(state_layout(...))
        With ``checks``: every chain entry, every link, the ids in the slot pipeline,
        whether a query is inside, the selection buffer and the descriptor walk.
    """

    @classmethod
    def check(cls, *, max_clusters, page_tokens, max_pages, lanes, **_):
        check_int("max_clusters", max_clusters, 1, 1 << 16)
        check_int("page_tokens", page_tokens, 1, 1 << 16)
        check_int("max_pages", max_pages, 1, 1 << 20)
        check_int("lanes", lanes, 1, max_clusters)

    def __init__(self, *, max_clusters=1024, page_tokens=16, max_pages=4096, lanes=16,
                 checks=False):
        self._checks = bool(checks)
        self._max_clusters = max_clusters
        self._page_tokens = page_tokens
        self._max_pages = max_pages
        self._lanes = lanes
        super().__init__({
            "i_id": In(stream.Signature(id_layout(max_clusters))),
            "o_slot": Out(stream.Signature(slot_layout(max_clusters, page_tokens, max_pages))),
            "i_select": In(stream.Signature(select_layout(lanes))),
            "o_desc": Out(stream.Signature(desc_layout(page_tokens, max_pages))),
            "clear": In(1),
            "pages": Out(range(max_pages + 1)),
            "page_overflow": Out(1),
            "busy": Out(1),
            **({"state": Out(state_layout(max_clusters, page_tokens, max_pages, lanes))}
               if checks else {}),
        })

    @classmethod
    def from_config(cls, config, *, checks: bool = False) -> "Controller":
        return cls(max_clusters=config.max_clusters, page_tokens=config.page_tokens,
                   max_pages=config.max_pages, lanes=config.wtu_lanes, checks=checks)

    max_clusters = property(lambda self: self._max_clusters)
    page_tokens = property(lambda self: self._page_tokens)
    max_pages = property(lambda self: self._max_pages)
    lanes = property(lambda self: self._lanes)

    def elaborate(self, platform):
        m = Module()
        cap, per_page, pool, lanes = (self._max_clusters, self._page_tokens, self._max_pages,
                                      self._lanes)
        pb = page_bits(pool)
        words = -(-cap // lanes)
        entry = entry_layout(per_page, pool)

        # Per cluster: its chain. Per page: the next page of its chain. The query's selection,
        # one beat a word. No port is transparent: its bypass logic would sit on the block
        # RAM's output; the slot path forwards the writes its reads miss instead. A chain read
        # that meets a write to the same entry in its cycle is such a read, so what it returns
        # does not matter (`no_rw_check`: Yosys adds no logic to order the two).
        m.submodules.chains = chains = Memory(shape=entry, depth=cap, init=[],
                                              attrs={"no_rw_check": 1})
        e_wr, e_rd = chains.write_port(), chains.read_port()
        m.submodules.links = links = Memory(shape=pb, depth=pool, init=[])
        l_wr, l_rd = links.write_port(), links.read_port()
        # The slot path only writes links and the walk only reads them, never at once: one
        # address serves both, so the block RAM needs a single port (whose read-before-write
        # is native) and no logic to order a read and a write of the same page.
        link_addr = Signal(pb)
        m.d.comb += [l_wr.addr.eq(link_addr), l_rd.addr.eq(link_addr)]
        m.submodules.selection = selection = Memory(shape=lanes, depth=words, init=[])
        s_wr, s_rd = selection.write_port(), selection.read_port()

        next_free = Signal(range(pool + 1))
        overflow = Signal()
        m.d.comb += [self.pages.eq(next_free), self.page_overflow.eq(overflow)]

        # Slots, in three steps: the id's chain entry is read as the id is taken (A); the
        # block RAM's output is registered (R); the next cycle decides the slot, offers it and,
        # as it is taken, writes the entry back (C). A read misses at most two writes: the one
        # made in its own cycle (by the token two ahead) and the one made as its token enters
        # C (by the token just ahead); `prev` and `prev2` keep the last two written entries.
        r_valid, c_valid = Signal(), Signal()
        r_id, c_id = Signal(id_layout(cap)), Signal(id_layout(cap))
        c_entry = Signal(entry)
        prev = Signal(data.StructLayout({"valid": 1, "cluster": len(c_id.cluster),
                                         "entry": entry}))
        prev2 = Signal.like(prev)
        c_advance = ~c_valid | self.o_slot.ready
        r_advance = ~r_valid | c_advance
        # Whether C's entry is the one written last (`prev`) or the one before (`prev2`),
        # decided as the id enters C: no cluster numbers are compared on the slot's path. An
        # id entering C while nothing is written then can only have missed `prev`.
        fwd, fwd2 = Signal(), Signal()
        writing = c_valid & self.o_slot.ready
        matches_prev = prev.valid & (prev.cluster == r_id.cluster)
        with m.If(c_advance):
            m.d.sync += [c_valid.eq(r_valid), c_id.eq(r_id), c_entry.eq(e_rd.data),
                         fwd.eq(Mux(writing, c_id.cluster == r_id.cluster, matches_prev)),
                         fwd2.eq(writing & matches_prev)]
        # The two paths share the chain RAM's read port: ids are taken only while no
        # selection is offered, captured or walked, and a selection is taken only when no id
        # is in flight (the DRE never overlaps them; a standalone user might).
        ids_ok = Signal()
        with m.If(r_advance):
            m.d.sync += [r_valid.eq(self.i_id.valid & ids_ok), r_id.eq(self.i_id.payload)]
        cur = Signal(entry)
        m.d.comb += cur.eq(Mux(c_id.new, 0,                       # a new cluster: no page
                               Mux(fwd, prev.entry.as_value(),
                                   Mux(fwd2, prev2.entry.as_value(), c_entry.as_value()))))
        has_room = cur.has & (cur.fill != per_page)
        page_free = next_free != pool
        upd = Signal(entry)
        slot = Signal(self.o_slot.payload.slot.shape())
        no_slot = (1 << len(slot)) - 1
        with m.If(has_room):
            m.d.comb += [upd.eq(cur), upd.fill.eq(cur.fill + 1),
                         slot.eq(cur.tail * per_page + cur.fill)]
        with m.Elif(page_free):
            m.d.comb += [upd.has.eq(1), upd.head.eq(Mux(cur.has, cur.head, next_free)),
                         upd.tail.eq(next_free), upd.single.eq(~cur.has), upd.fill.eq(1),
                         slot.eq(next_free * per_page)]
        with m.Else():
            m.d.comb += [upd.eq(cur), slot.eq(no_slot)]
        m.d.comb += [
            self.o_slot.valid.eq(c_valid),
            self.o_slot.payload.cluster.eq(c_id.cluster),
            self.o_slot.payload.slot.eq(slot),
            self.i_id.ready.eq(r_advance & ids_ok),
        ]
        with m.If(c_valid & self.o_slot.ready):
            m.d.comb += [e_wr.addr.eq(c_id.cluster), e_wr.data.eq(upd), e_wr.en.eq(1)]
            m.d.sync += [prev.valid.eq(1), prev.cluster.eq(c_id.cluster), prev.entry.eq(upd),
                         prev2.eq(prev)]
            with m.If(~has_room & page_free):
                m.d.sync += next_free.eq(next_free + 1)
                with m.If(cur.has):                        # link the new page to the chain
                    m.d.comb += [l_wr.data.eq(next_free), l_wr.en.eq(1)]
            with m.If(~has_room & ~page_free):
                m.d.sync += overflow.eq(1)

        # Descriptors: capture the selection, then walk it: each selected cluster's entry, then
        # its pages along the links, one descriptor a cycle. No block-RAM output drives more
        # than a register's input: a chain entry is registered (HEAD); a page is offered from
        # `page` while the link RAM reads its successor, and the tail test compares registers.
        # The link RAM reads every cycle (a stalled walk rereads `page`), so its port needs no
        # enable logic, and its output reaches its address through one 2-way choice. The head
        # page's successor is read only once the head is in `page`: a cluster of several pages
        # takes one cycle more (NEXT).
        k = Signal(range(words + 1))               # selection words captured / walked
        n_words = Signal(range(words + 1))
        bits = Signal(lanes)
        lowest = Signal(range(lanes))
        for lane in reversed(range(lanes)):
            with m.If(bits[lane]):
                m.d.comb += lowest.eq(lane)
        page = Signal(pb)
        primed = Signal()                          # the link RAM's output follows `page`
        follow = Signal()                          # comb: the link RAM reads its own output
        tail = Signal(pb)
        fill = Signal(range(per_page + 1))

        # The walk's descriptors pass a register on their way out, so o_desc starts from
        # flip-flops (one cycle more per query).
        desc = stream.Signature(desc_layout(per_page, pool)).create()
        out_valid = Signal()
        out_payload = Signal(desc_layout(per_page, pool))
        m.d.comb += [desc.ready.eq(~out_valid | self.o_desc.ready),
                     self.o_desc.valid.eq(out_valid), self.o_desc.payload.eq(out_payload)]
        with m.If(desc.ready):
            m.d.sync += [out_valid.eq(desc.valid), out_payload.eq(desc.payload)]

        walk_cluster = Signal(len(r_id.cluster))  # checks: the cluster picked

        def pick():
            """Read the entry of the word's lowest selected cluster and drop it from `bits`."""
            m.d.comb += e_rd.addr.eq((k - 1) * lanes + lowest)
            if self._checks:
                m.d.sync += walk_cluster.eq((k - 1) * lanes + lowest)
            m.d.sync += bits.eq(bits & (bits - 1))
            m.next = "HEAD"

        # The slot path reads the entry of the id it takes, and while stalled rereads that of
        # the id it holds (nothing is written then), so neither RAM port needs enable logic.
        m.d.comb += e_rd.addr.eq(Mux(r_advance, self.i_id.payload.cluster, r_id.cluster))
        with m.FSM() as fsm:
            with m.State("IDLE"):
                m.d.comb += [self.i_select.ready.eq(~r_valid & ~c_valid),
                             self.busy.eq(r_valid | c_valid | (k != 0) | out_valid)]
                with m.If(self.i_select.valid & self.i_select.ready):
                    m.d.comb += [s_wr.addr.eq(k), s_wr.data.eq(self.i_select.payload.mask),
                                 s_wr.en.eq(1)]
                    m.d.sync += k.eq(k + 1)
                    with m.If(self.i_select.payload.last):
                        m.d.sync += [n_words.eq(k + 1), k.eq(0)]
                        m.next = "FETCH"
                with m.Elif(self.clear & ~r_valid & ~c_valid & (k == 0)):
                    m.d.sync += [next_free.eq(0), overflow.eq(0), prev.valid.eq(0),
                                 prev2.valid.eq(0)]

            with m.State("FETCH"):                 # read selection word k
                m.d.comb += [self.busy.eq(1), s_rd.addr.eq(k)]
                m.next = "LOAD"

            with m.State("LOAD"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [bits.eq(s_rd.data), k.eq(k + 1)]
                m.next = "PICK"

            with m.State("PICK"):                  # the next selected cluster of the word
                m.d.comb += self.busy.eq(1)
                with m.If(bits == 0):
                    with m.If(k == n_words):
                        m.next = "END"
                    with m.Else():
                        m.d.comb += s_rd.addr.eq(k)
                        m.next = "LOAD"
                with m.Else():
                    pick()

            with m.State("HEAD"):                  # the cluster's entry, into registers
                m.d.comb += self.busy.eq(1)
                first = Signal(entry)
                m.d.comb += first.eq(e_rd.data)
                m.d.sync += [page.eq(first.head), tail.eq(first.tail), fill.eq(first.fill),
                             primed.eq(0)]
                with m.If(first.has):
                    m.next = "CHAIN"
                with m.Else():
                    m.next = "PICK"

            with m.State("CHAIN"):                 # offer `page`; its successor is read
                m.d.comb += [self.busy.eq(1), desc.valid.eq(1), desc.payload.page.eq(page)]
                m.d.sync += primed.eq(1)           # l_rd.data is `page`'s successor
                is_tail = page == tail
                m.d.comb += desc.payload.tokens.eq(Mux(is_tail, fill, per_page))
                with m.If(desc.ready):
                    with m.If(~is_tail & primed):
                        m.d.comb += follow.eq(1)
                        m.d.sync += page.eq(l_rd.data)
                    with m.Elif(~is_tail):
                        m.next = "NEXT"
                    with m.Elif(bits != 0):        # the word's next cluster, without a PICK
                        pick()
                    with m.Else():
                        m.next = "PICK"

            with m.State("NEXT"):                  # the head's successor, now read
                m.d.comb += [self.busy.eq(1), follow.eq(1)]
                m.d.sync += page.eq(l_rd.data)
                m.next = "CHAIN"

            with m.State("END"):
                m.d.comb += [self.busy.eq(1), desc.valid.eq(1), desc.payload.end.eq(1)]
                with m.If(desc.ready):
                    m.d.sync += k.eq(0)
                    m.next = "IDLE"
        m.d.comb += ids_ok.eq(fsm.ongoing("IDLE") & (k == 0) & ~self.i_select.valid)
        if self._checks:
            # The tables read without a clock, and the pipeline, for the proof's invariants.
            st = self.state
            for c in range(cap):
                port = chains.read_port(domain="comb")
                m.d.comb += [port.addr.eq(c), st.entries[c].eq(port.data)]
            for p in range(pool):
                port = links.read_port(domain="comb")
                m.d.comb += [port.addr.eq(p), st.links[p].eq(port.data)]
            for w in range(words):
                port = selection.read_port(domain="comb")
                m.d.comb += [port.addr.eq(w), st.selection[w].eq(port.data)]
            m.d.comb += [st.r.valid.eq(r_valid), st.r.id.eq(r_id), st.c.valid.eq(c_valid),
                         st.c.id.eq(c_id), st.cur.eq(cur), st.prev.eq(prev),
                         st.prev2.eq(prev2), st.query.eq(~fsm.ongoing("IDLE")),
                         st.end_out.eq(out_valid & out_payload.end), st.k.eq(k),
                         st.n_words.eq(n_words), st.bits.eq(bits),
                         st.walk.head.eq(fsm.ongoing("HEAD")),
                         st.walk.chain.eq(fsm.ongoing("CHAIN")),
                         st.walk.next.eq(fsm.ongoing("NEXT")), st.walk.cluster.eq(walk_cluster),
                         st.walk.page.eq(page), st.walk.tail.eq(tail),
                         st.walk.primed.eq(primed), st.walk.l_data.eq(l_rd.data),
                         st.walk.e_data.eq(e_rd.data),
                         Assert(fsm.ongoing("IDLE") | fsm.ongoing("FETCH") |
                                fsm.ongoing("LOAD") | fsm.ongoing("PICK") |
                                fsm.ongoing("HEAD") | fsm.ongoing("CHAIN") |
                                fsm.ongoing("NEXT") | fsm.ongoing("END"),
                                "controller_state_valid"),
                         Assert(next_free <= pool, "pages_counted"),
                         # The arbitration: no id inside while a selection is captured or
                         # walked.
                         Assert((fsm.ongoing("IDLE") & (k == 0)) | (~r_valid & ~c_valid),
                                "ids_apart_from_queries")]
            # What no_rw_check on the chain table relies on: an entry read in the cycle it is
            # written is never used. The slot path's is forwarded (the id reaches C with
            # fwd, fwd2 or new set); the walk reads none while the slot path writes.
            met = Signal()                         # the last read met a write to its entry
            m.d.sync += met.eq(e_wr.en & (e_rd.addr == e_wr.addr))
            c_met = Signal()
            with m.If(c_advance):
                m.d.sync += c_met.eq(met)
            m.d.comb += [
                Assert(~c_valid | ~c_met | fwd | fwd2 | c_id.new, "chain_read_forwarded"),
                Assert(~fsm.ongoing("HEAD") | ~met, "walk_read_unwritten"),
            ]
        # The link RAM's address: its own output as the walk follows a chain, else `page` in
        # CHAIN (a reread) or the slot path's tail.
        m.d.comb += link_addr.eq(Mux(follow, l_rd.data,
                                     Mux(fsm.ongoing("CHAIN"), page, cur.tail)))
        return m
