"""The controller's proof harness: stream rules on its four ports, one slot per id and
descriptors only for a selection, no slot handed out twice between clears, nothing written
past ``max_pages``."""

from amaranth.asserts import AnyConst
from amaranth.hdl import Array, Assert, Assume, Cat, Const, Cover, Mux, Signal

from vrex.rtl.controller import Controller

from .rules import free_inputs, harness_module, stream_rule

__all__ = ["controller_harness", "watch_controller"]


def controller_harness(*, max_clusters=4, page_tokens=2, max_pages=4, lanes=2,
                       unit=Controller):
    """``unit``: the controller class (a test passes a broken one to see the proof fail)."""
    m, ports = harness_module()
    m.submodules.dut = dut = unit(max_clusters=max_clusters, page_tokens=page_tokens,
                                  max_pages=max_pages, lanes=lanes, checks=True)
    free_inputs(m, dut)
    watch_controller(m, dut, max_clusters=max_clusters, page_tokens=page_tokens,
                     max_pages=max_pages, assume=True)
    return m, ports


def watch_controller(m, dut, *, max_clusters, page_tokens, max_pages, assume):
    """The properties and invariants of a ``Controller(checks=True)`` in ``m``, with what its
    environment must do (the stream rule on its inputs, cluster ids inside the table, the
    HCU's contract, CLEAR only while idle) assumed (``assume``, the unit alone) or asserted
    (the unit inside the DRE)."""
    given = Assume if assume else Assert
    stream_rule(m, dut.i_id, assume=assume, name="ctl_i_id")
    stream_rule(m, dut.i_select, assume=assume, name="ctl_i_select")
    stream_rule(m, dut.o_slot, assume=False, name="ctl_o_slot")
    stream_rule(m, dut.o_desc, assume=False, name="ctl_o_desc")
    m.d.comb += given(~dut.i_id.valid | (dut.i_id.payload.cluster < max_clusters),
                      "ctl_cluster_inside")
    # The HCU's side of the contract: a cluster's first id since reset or a CLEAR founds it
    # (the controller keeps no per-cluster state across a CLEAR, it trusts ``new``), and a
    # CLEAR comes only while the controller is idle, with no id or selection offered: an id
    # taken with it would belong to the table before the CLEAR (the DRE clears the HCU and
    # the controller together, with no token between them).
    founded = Signal(max_clusters)
    cluster = dut.i_id.payload.cluster
    first = ~founded.bit_select(cluster, 1)
    m.d.comb += [given(~dut.i_id.valid | (dut.i_id.payload.new == first), "ctl_new_is_first"),
                 given(~dut.clear | (~dut.busy & ~dut.i_select.valid & ~dut.i_id.valid),
                       "ctl_clear_idle")]
    # A selection has at most a word a cluster group: ``last`` by the buffer's last word.
    words = len(dut.state.selection)
    sel_beats = Signal(range(words + 1))
    m.d.comb += given(~dut.i_select.valid | (sel_beats + 1 < words) |
                      dut.i_select.payload.last, "ctl_selection_fits")
    with m.If(dut.i_select.valid & dut.i_select.ready):
        m.d.sync += sel_beats.eq(Mux(dut.i_select.payload.last, 0, sel_beats + 1))
    m.d.comb += Assert(Mux(dut.state.query, sel_beats == 0, sel_beats == dut.state.k) &
                       (sel_beats < words), "ctl_selection_words_captured")
    with m.If(dut.i_id.valid & dut.i_id.ready):
        m.d.sync += founded.eq(founded | (1 << cluster))
    with m.If(dut.clear):
        m.d.sync += founded.eq(0)

    slots = max_pages * page_tokens
    no_slot = (1 << len(dut.o_slot.payload.slot)) - 1
    slot = dut.o_slot.payload.slot
    taken = dut.o_slot.valid & dut.o_slot.ready
    watch = Signal(len(slot))
    m.d.comb += watch.eq(AnyConst(len(slot)))
    seen = Signal()                         # ``watch`` handed out since the last CLEAR
    with m.If(taken & (slot == watch) & (slot != no_slot)):
        m.d.sync += seen.eq(1)
    with m.If(dut.clear):
        m.d.sync += seen.eq(0)
    cleared = Signal()                      # a CLEAR took pages back
    with m.If(dut.clear & (dut.pages != 0)):
        m.d.sync += cleared.eq(1)
    # Beats in, beats out: a slot only for an id inside (two stages hold them), a descriptor
    # only for a selection inside (the walk, and its end in the output register).
    ids_inside = Signal(range(4))
    m.d.sync += ids_inside.eq(ids_inside + (dut.i_id.valid & dut.i_id.ready) - taken)
    queries_inside = Signal(range(4))
    selected = dut.i_select.valid & dut.i_select.ready & dut.i_select.payload.last
    ended = dut.o_desc.valid & dut.o_desc.ready & dut.o_desc.payload.end
    m.d.sync += queries_inside.eq(queries_inside + selected - ended)
    m.d.comb += [
        Assert(~dut.o_slot.valid | (ids_inside > 0), "no_slot_without_an_id"),
        Assert(ids_inside <= 2, "no_id_dropped"),
        Assert(~dut.o_desc.valid | (queries_inside > 0), "no_descriptor_without_a_query"),
        Assert(queries_inside <= 2, "no_query_dropped"),
        Assert(~(seen & taken & (slot == watch) & (slot != no_slot)), "slot_once"),
        Assert(~taken | (slot < slots) | (slot == no_slot), "slot_in_pool"),
        Assert(dut.pages <= max_pages, "pages_in_pool"),
        Assert(~dut.o_desc.valid | dut.o_desc.payload.end |
               (dut.o_desc.payload.page < max_pages), "desc_in_pool"),
        *_invariants(dut, founded, watch, seen, ids_inside, queries_inside, max_clusters,
                     page_tokens, max_pages),
        Cover(dut.page_overflow, "pool_exhausted"),
        Cover(cleared & taken & (slot == 0), "slot_0_again_after_clear"),
    ]
    return dict(founded=founded, ids_inside=ids_inside, queries_inside=queries_inside)


def _invariants(dut, founded, watch, seen, ids_inside, queries_inside, max_clusters,
                page_tokens, max_pages):
    """What makes the properties inductive: the harness's counts are the pipeline's; every
    committed chain (founded, its first id written back) lies in the pages handed out, ends in
    a page of its own, and, if the watched slot was handed out from its tail page, has filled
    past it; every page handed out that ends no chain links to one handed out."""
    st = dut.state
    next_free = dut.pages
    out = [Assert(ids_inside == st.r.valid + st.c.valid, "ids_inside_the_pipeline"),
           Assert(queries_inside == st.query + st.end_out, "queries_inside_the_walk")]
    entries = st.entries
    prev, prev2 = st.prev, st.prev2
    out += [
        # An id inside belongs to a founded cluster; the slot step sees its chain as stored.
        Assert(~st.r.valid | founded.bit_select(st.r.id.cluster, 1), "r_id_founded"),
        Assert(~st.c.valid | founded.bit_select(st.c.id.cluster, 1), "c_id_founded"),
        Assert(~(st.r.valid & st.r.id.new & st.c.valid & (st.c.id.cluster == st.r.id.cluster)),
               "a_founding_id_is_its_cluster_s_first"),
        Assert(~(st.c.valid & ~st.c.id.new) |
               (st.cur.as_value() == entries[st.c.id.cluster].as_value()), "c_sees_its_chain"),
        # The forwarding registers hold what the table holds.
        Assert(~prev.valid | (entries[prev.cluster].as_value() == prev.entry.as_value()),
               "prev_is_stored"),
        Assert(~(prev2.valid & (~prev.valid | (prev2.cluster != prev.cluster))) |
               (entries[prev2.cluster].as_value() == prev2.entry.as_value()),
               "prev2_is_stored"),
    ]

    def committed(c):
        pending = [(s.valid & s.id.new & (s.id.cluster == c)) for s in (st.r, st.c)]
        return founded[c] & ~pending[0] & ~pending[1]

    live = [committed(c) & st.entries[c].has for c in range(max_clusters)]
    w_page, w_off = watch // page_tokens, watch % page_tokens
    for c in range(max_clusters):
        e = st.entries[c]
        out += [
            Assert(~live[c] | ((e.head < next_free) & (e.tail < next_free) & (e.fill >= 1) &
                               (e.fill <= page_tokens) & (e.single == (e.head == e.tail))),
                   f"chain_{c}_in_pool"),
            Assert(~(seen & live[c] & (e.tail == w_page)) | (w_off < e.fill),
                   f"chain_{c}_filled_past_the_watched_slot"),
        ]
        for d in range(c + 1, max_clusters):
            out.append(Assert(~(live[c] & live[d]) | (e.tail != st.entries[d].tail),
                              f"chains_{c}_{d}_end_apart"))
    out.append(Assert(~seen | (w_page < next_free), "watched_slot_in_pool"))
    out += _chain_shapes(st, live, [committed(c) for c in range(max_clusters)],
                         next_free, max_clusters, max_pages)
    for p in range(max_pages):
        ends = [live[c] & (st.entries[c].tail == p) for c in range(max_clusters)]
        ends_chain = ends[0]
        for e in ends[1:]:
            ends_chain = ends_chain | e
        out.append(Assert(~((p < next_free) & ~ends_chain) | (st.links[p] < next_free),
                          f"page_{p}_links_inside"))
    return out


def _path(links, start, length):
    """The pages from ``start`` along the links, ``length`` of them."""
    pages = [start]
    for _ in range(length - 1):
        pages.append(links[pages[-1]])
    return pages


def _reaches(links, start, target, next_free, max_pages):
    """Following the links from ``start`` meets ``target`` within the pages handed out."""
    path = _path(links, start, max_pages)
    return Cat(*((page == target) & (i < next_free) for i, page in enumerate(path))).any()


def _chain_shapes(st, live, committed, next_free, max_clusters, max_pages):
    """What makes the descriptor walk end: every committed chain reaches its tail along its
    links, and passes no other chain's tail on the way (whose next page would relink it);
    the walk reads the entry of the cluster it picked, and offers a page on that chain,
    the link RAM's output its successor once read; it walks a cluster of the words captured."""
    links, walk = st.links, st.walk
    out = []
    for c in range(max_clusters):
        e = st.entries[c]
        path = _path(links, e.head, max_pages)
        out.append(Assert(~live[c] | _reaches(links, e.head, e.tail, next_free, max_pages),
                          f"chain_{c}_reaches_its_tail"))
        for d in range(max_clusters):
            if d == c:
                continue
            other = st.entries[d].tail
            for i, page in enumerate(path):
                before = Cat(*(p != e.tail for p in path[:i]), Const(1)).all()
                out.append(Assert(~(live[c] & live[d] & before & (page == other)),
                                  f"chain_{c}_passes_no_tail_of_{d}_at_{i}"))
    lanes = len(st.bits)
    walking = walk.chain | walk.next
    walked = Array(committed)[walk.cluster]
    out += [
        Assert(~st.query | ((st.n_words >= 1) & (st.k <= st.n_words) &
                            (st.n_words <= len(st.selection))), "walk_inside_the_words"),
        Assert(~(walk.head | walking) |
               ((st.k >= 1) & (walk.cluster >= (st.k - 1) * lanes) &
                (walk.cluster < st.k * lanes)), "walk_cluster_of_the_word"),
        Assert(~walk.head | (walk.e_data.as_value() ==
                             st.entries[walk.cluster].as_value()), "walk_reads_its_entry"),
        Assert(~((walk.chain & walk.primed) | walk.next) |
               (walk.l_data == links[walk.page]), "walk_link_read"),
        Assert(~(walking & walked) |
               (st.entries[walk.cluster].has & (walk.tail == st.entries[walk.cluster].tail) &
                _reaches(links, walk.page, walk.tail, next_free, max_pages)),
               "walk_on_its_chain"),
    ]
    return out
