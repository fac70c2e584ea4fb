"""The hash-bit cluster unit (HCU): leader clustering of hashes by Hamming distance.

Function: SPEC 2 (golden model ``vrex.golden.hcu``). Schedule: SPEC 5, documented in
docs/golden.md. A token is accepted, its hash is compared with the cluster table a group of
``lanes`` clusters at a time by the similarity units, and its cluster id leaves on ``o_id``
while the next token is accepted in the same cycle.
"""

from amaranth.hdl import Assert, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from vrex.interface.layouts import id_layout

from .arith import divmod_const
from .params import CheckedParams, check_int
from .similarity import SimilarityUnit

__all__ = ["HCU"]


class HCU(CheckedParams, wiring.Component):
    """Hash-bit cluster unit.

    Parameters
    ----------
    hash_bits : int
        Bits per hash, 1..64.
    digit : int
        Bits each similarity unit compares per cycle, 1..hash_bits.
    lanes : int
        Similarity units comparing in parallel, 1..max_clusters.
    segment : int
        Bits per popcount segment of the early-exit lower bound, 0..64 (0: the differing bits
        so far alone); see :class:`~vrex.rtl.similarity.SimilarityUnit`.
    max_clusters : int
        Cluster table capacity.
    count_bits : int
        Width of the saturating token counts.
    early_exit : bool
        Stop comparisons at the bound (the design). ``False`` builds the baseline that always
        compares every bit of every cluster; the clusters chosen are the same.
    count_lanes : int
        Counts per word of the count memory: the DRE sets the WTU's lanes, so a query reads
        its counts one WTU beat a cycle.
    checks : bool
        Embed ``Assert``s of what the control state always is (``vrex formal`` proves them for
        every length, by induction) and add the member ``holding``; off in the generated
        Verilog.

    Members
    -------
    i_hash : In(stream.Signature(hash_bits))
        Token hashes, in arrival order.
    o_id : Out(stream.Signature(id_layout(max_clusters)))
        One beat per token: its cluster id and whether it founded that cluster.
    th_hd : In(range(hash_bits + 2))
        Hamming threshold: a token joins a cluster at distance below it. Sampled per token.
    clear : In(1)
        Empty the table and clear ``cluster_overflow``; honoured while not ``busy``.
    n_clusters : Out(range(max_clusters + 1))
        Clusters in the table.
    cluster_overflow : Out(1)
        Sticky: a token was forced into the nearest cluster of a full table.
    busy : Out(1)
        A token is in flight, or its count not yet written.
    rd_addr : In(range(max_clusters))
        Table read-out address; ``rd_count`` and ``rd_hash`` follow one cycle later.
    rd_count : Out(count_bits)
    rd_hash : Out(hash_bits)
    rd_counts : Out(ArrayLayout(count_bits, count_lanes))
        The whole count word that holds ``rd_addr``'s count.
    holding : Out(1)
        With ``checks``: a token is inside (taken, its id not yet taken).
    table : Out(ArrayLayout(hash_bits, max_clusters))
        With ``checks``: the leader hashes as the search sees them: rows 0 and 1 from their
        copies in flip-flops, the others from the table read without a clock.
    token : Out(StructLayout)
        With ``checks``: the hash and threshold of the token inside.
    """

    @classmethod
    def check(cls, *, hash_bits, digit, lanes, max_clusters, count_bits, count_lanes, segment,
              **_):
        check_int("hash_bits", hash_bits, 1, 64)
        check_int("digit", digit, 1, hash_bits)
        check_int("segment", segment, 0, 64)
        check_int("max_clusters", max_clusters, 1, 1 << 16)
        check_int("lanes", lanes, 1, max_clusters)
        check_int("count_bits", count_bits, 1, 32)
        check_int("count_lanes", count_lanes, 1, max_clusters)

    def __init__(self, *, hash_bits=32, digit=16, lanes=1, max_clusters=1024, count_bits=16,
                 early_exit=True, count_lanes=1, segment=4, checks=False):
        self._segment = segment
        self._count_lanes = count_lanes
        self._hash_bits = hash_bits
        self._digit = digit
        self._lanes = lanes
        self._max_clusters = max_clusters
        self._count_bits = count_bits
        self._early_exit = bool(early_exit)
        self._checks = bool(checks)
        super().__init__({
            "i_hash": In(stream.Signature(hash_bits)),
            "o_id": Out(stream.Signature(id_layout(max_clusters))),
            "th_hd": In(range(hash_bits + 2)),
            "clear": In(1),
            "n_clusters": Out(range(max_clusters + 1)),
            "cluster_overflow": Out(1),
            "busy": Out(1),
            "rd_addr": In(range(max_clusters)),
            "rd_count": Out(count_bits),
            "rd_hash": Out(hash_bits),
            "rd_counts": Out(data.ArrayLayout(count_bits, count_lanes)),
            **({"holding": Out(1),
                "table": Out(data.ArrayLayout(hash_bits, max_clusters)),
                "token": Out(data.StructLayout({"hash": hash_bits,
                                                "th": range(hash_bits + 2)}))}
               if checks else {}),
        })

    @classmethod
    def from_config(cls, config, *, early_exit: bool = True, count_lanes: int = 1,
                    checks: bool = False) -> "HCU":
        """The HCU of a :class:`vrex.golden.config.Config`."""
        return cls(hash_bits=config.hash_bits, digit=config.digit, lanes=config.hcu_lanes,
                   max_clusters=config.max_clusters, count_bits=config.count_bits,
                   early_exit=early_exit, count_lanes=count_lanes,
                   segment=config.hcu_segment, checks=checks)

    def _invariants(self, m, fsm, *, n, full, slot, new_row, new_lane, base, left, final,
                    occupied, found, best, fetch):
        """What the control state always is: the state an encoding of one of the three, the
        table's size and where its next cluster goes in step, the group being compared inside
        the table, and a winner already found inside it."""
        lanes, cap = self._lanes, self._max_clusters
        idle, comparing, emitting = (fsm.ongoing(s) for s in ("IDLE", "COMPARE", "EMIT"))
        m.d.comb += [
            self.holding.eq(comparing | emitting),
            Assert(idle | comparing | emitting, "hcu_state_valid"),
            Assert((n <= cap) & (full == (n == cap)), "hcu_size"),
            Assert(new_row * lanes + new_lane == n, "hcu_next_place"),
            Assert(slot == Mux(n < 2 * lanes, Const(1, len(slot)) << n, 1 << 2 * lanes),
                   "hcu_next_slot"),
            Assert(~comparing | ((base + left == n) & (left >= 1) &
                                 (final == (left <= lanes)) &
                                 (occupied == Cat(left > lane for lane in range(lanes)))),
                   "hcu_group_inside"),
            Assert(~(comparing | emitting) | ~found | (best < n), "hcu_winner_inside"),
            Assert(~(emitting & full) | found, "hcu_full_table_finds"),
            # The table's read address: row 2 between tokens (a token's first groups come
            # from the copies of rows 0 and 1), three rows ahead of the group compared.
            Assert(Mux(comparing, fetch * lanes == base + 3 * lanes, fetch == 2),
                   "hcu_fetch_ahead"),
        ]

    hash_bits = property(lambda self: self._hash_bits)
    digit = property(lambda self: self._digit)
    segment = property(lambda self: self._segment)
    lanes = property(lambda self: self._lanes)
    max_clusters = property(lambda self: self._max_clusters)
    count_bits = property(lambda self: self._count_bits)
    early_exit = property(lambda self: self._early_exit)
    count_lanes = property(lambda self: self._count_lanes)

    def elaborate(self, platform):
        m = Module()
        hb, lanes, cap = self._hash_bits, self._lanes, self._max_clusters
        rows = -(-cap // lanes)

        # Cluster table: one row per group of `lanes` clusters, so a single read feeds every
        # similarity unit; a new cluster writes only its own lane of the row.
        m.submodules.hashes = hashes = Memory(shape=lanes * hb, depth=rows, init=[])
        h_wr = hashes.write_port(granularity=hb)
        # Transparent: a token taken in the cycle a cluster is founded in row 2 reads it then.
        h_rd = hashes.read_port(transparent_for=(h_wr,))
        h_out = hashes.read_port()
        cb, cw = self._count_bits, self._count_lanes
        m.submodules.counts = counts = Memory(shape=cw * cb, depth=-(-cap // cw), init=[])
        c_wr = counts.write_port(granularity=cb)
        c_rd = counts.read_port()           # the one read-during-write case is forwarded
        c_out = counts.read_port()

        # With a segment bound the restart's sums are deep; the units then form them for all
        # three operand pairs a restart may take (the next row; a new token against row 0, or
        # against the cluster the token in EMIT founds there) and choose among the results.
        bounded = (self._early_exit and self._segment and self._digit // self._segment
                   and hb > self._digit)
        pairs = 3 if bounded else 1
        units = []
        for lane in range(lanes):
            unit = SimilarityUnit(hb, self._digit, segment=self._segment,
                                  early_exit=self._early_exit, pairs=pairs)
            m.submodules[f"lane{lane}"] = unit
            units.append(unit)
        steps = units[0].steps

        x = Signal(hb)
        th = Signal(range(hb + 2))
        n = Signal(range(cap + 1))
        step = Signal(range(steps))
        base = Signal(range(cap + lanes))          # id of the group's first cluster
        left = Signal(range(cap + 1))              # clusters from this group's first on
        # What `left` says about the group, kept as flags: which lanes hold a cluster, and
        # whether no group follows.
        occupied = Signal(lanes)
        final = Signal()
        bound = Signal(range(hb + 2))
        found = Signal()
        best = Signal(range(cap))
        overflow = Signal()
        new_row = Signal(range(rows + 1))          # where the next new cluster goes
        new_lane = Signal(range(lanes))
        # The same place, one-hot while it lies in rows 0 or 1 (the last bit: beyond them).
        slot = Signal(2 * lanes + 1, init=1)

        # No comparison result reaches the memory and the memory feeds only flip-flops. The
        # units take a group's hashes the cycle before it starts (`restart`), so while group
        # g is compared, row g + 1 must wait in flip-flops (`nxt`) whichever cycle g ends in:
        # the read address is a register three rows ahead of the group, and at its step 0 the
        # row then leaving the memory, g + 2, is kept in `nxt2` in case g lasts longer.
        # Rereading a row while a group lasts is harmless. A token's first groups start the
        # cycle after it is taken, too soon for any read, so rows 0 and 1 have copies in
        # flip-flops, and the memory reads row 2 whenever no group is being compared.
        nxt = Signal(lanes * hb, reset_less=True)
        nxt2 = Signal(lanes * hb, reset_less=True)
        row0 = Signal(lanes * hb, reset_less=True)
        row1 = Signal(lanes * hb, reset_less=True)
        fetch = Signal(range(rows + 3), init=2)    # read address

        m.d.comb += [
            self.n_clusters.eq(n),
            self.cluster_overflow.eq(overflow),
            h_rd.addr.eq(fetch),
        ]
        for lane, unit in enumerate(units):
            m.d.comb += [
                unit.step.eq(step),
                unit.bound.eq(bound),
                unit.enable.eq(occupied[lane]),
            ]

        # The decision for the token in flight (valid in state EMIT). While the table has room
        # a search starts from the bound th_hd, so any cluster it finds is below the
        # threshold: `found` alone says "join", with no comparison.
        full = Signal()                            # n == cap, as a flag
        join = found
        decision = Signal(id_layout(cap))
        m.d.comb += [
            decision.cluster.eq(Mux(join | full, best, n)),
            decision.new.eq(~join & ~full),
        ]

        row0_now, row1_now = Signal.like(row0), Signal.like(row1)   # set by the FSM below
        m.d.sync += [row0.eq(row0_now), row1.eq(row1_now)]

        def group_from(clusters):
            """The next group starts at a cluster with ``clusters`` from it on."""
            m.d.sync += [left.eq(clusters), final.eq(clusters <= lanes)]
            m.d.sync += [occupied[lane].eq(clusters > lane) for lane in range(lanes)]

        def accept(new):
            """Take the next hash; start its search against the table grown by ``new``."""
            n_after = n + new
            # n + new == cap and n + new == 0, on the register n rather than on the sum.
            full_after = Mux(new, n == cap - 1, full)
            bound0 = Mux(full_after, hb + 1, self.th_hd)
            m.d.sync += [
                x.eq(self.i_hash.payload), th.eq(self.th_hd), bound.eq(bound0),
                found.eq(0), step.eq(0), base.eq(0), nxt.eq(row1_now),
            ]
            group_from(n_after)
            for unit in units:
                m.d.comb += unit.restart.eq(1)
            skip = (n == 0) & ~new
            if self._early_exit:
                skip |= bound0 == 0                # nothing can be below distance 0
            with m.If(skip):
                m.next = "EMIT"
            with m.Else():
                m.d.sync += fetch.eq(3)            # row 2 is being read now
                m.next = "COMPARE"

        # Count updates run two cycles behind the ids. The word is read in the cycle the id
        # leaves (E); at E + 1 at most a four-way choice of its lanes lands in a register, so
        # the memory feeds flip-flops almost directly; at E + 2 the count is picked,
        # incremented and written. The count written at E itself is not in the word read then:
        # it is forwarded from `written`. One written at E + 1 belongs to a token taken
        # without a comparison, which founds a new cluster and so does not use the count.
        words = -(-cap // cw)
        inc1 = Signal(data.StructLayout({"valid": 1, "word": range(words), "lane": range(cw),
                                         "new": 1, "fwd": 1}))
        inc2 = Signal.like(inc1)
        m.d.sync += [inc1.valid.eq(0), inc2.eq(inc1)]
        chosen_word, chosen_lane = divmod_const(m, decision.cluster, cw, name="count")
        m.d.comb += c_rd.addr.eq(chosen_word)
        group_bits = max(0, (cw - 1).bit_length() - 2)     # lanes per group: cw / 4 or fewer
        chunk = Signal(cb << group_bits, reset_less=True)
        padded = Cat(c_rd.data, Const(0, len(chunk) * 4 - cw * cb))
        m.d.sync += chunk.eq(padded.word_select(inc1.lane[group_bits:], len(chunk)))
        count_max = (1 << cb) - 1
        old, new_count = Signal(cb), Signal(cb)
        written = Signal(cb, reset_less=True)
        with m.If(inc2.valid):
            m.d.sync += written.eq(new_count)
        m.d.comb += [
            old.eq(Mux(inc2.fwd, written, chunk.word_select(inc2.lane[:group_bits], cb))),
            new_count.eq(Mux(inc2.new, 1, Mux(old == count_max, count_max, old + 1))),
            c_wr.addr.eq(inc2.word),
            c_wr.en.eq(Mux(inc2.valid, Const(1, cw) << inc2.lane, 0)),
            c_wr.data.eq(new_count.replicate(cw)),
        ]

        # The group's winner: the nearest unit below the bound, ties to the lower lane, as a
        # balanced tree of (any, lane, distance) so its depth grows with log2(lanes).
        def winner(lo, hi):
            if hi - lo == 1:
                unit = units[lo]
                return unit.nearer, Const(lo, range(lanes)), unit.distance
            mid = (lo + hi + 1) // 2
            (a_any, a_lane, a_dist), (b_any, b_lane, b_dist) = winner(lo, mid), winner(mid, hi)
            node_any = Signal(name=f"win_any_{lo}_{hi}")
            node_lane = Signal(range(lanes), name=f"win_lane_{lo}_{hi}")
            node_dist = Signal(range(hb + 1), name=f"win_dist_{lo}_{hi}")
            take_b = b_any & (~a_any | (b_dist < a_dist))
            m.d.comb += [
                node_any.eq(a_any | b_any),
                node_lane.eq(Mux(take_b, b_lane, a_lane)),
                node_dist.eq(Mux(take_b, b_dist, a_dist)),
            ]
            return node_any, node_lane, node_dist
        win_any, win_lane, win_dist = winner(0, lanes)
        group_done = Const(1)
        zero = Const(0)
        for unit in units:
            group_done &= unit.done
            zero |= unit.nearer & unit.zero

        m.d.comb += self.busy.eq(inc1.valid | inc2.valid)     # a count still to be written
        with m.FSM() as fsm:
            # Outside COMPARE the units are fed for a token being taken: its hash against row 0
            # (and `nxt` takes row 1).
            comparing = fsm.ongoing("COMPARE")
            # Rows 0 and 1 with the new cluster of the token in EMIT, if it founds one there:
            # a token taken now compares them first. The copies may take the cluster before
            # its write, as a token in EMIT leaves with the decision it has.
            founding = fsm.ongoing("EMIT") & decision.new
            for lane in range(lanes):
                for row, (now, copy) in enumerate([(row0_now, row0), (row1_now, row1)]):
                    m.d.comb += now.word_select(lane, hb).eq(
                        Mux(founding & slot[row * lanes + lane], x, copy.word_select(lane, hb)))
            for lane, unit in enumerate(units):
                if pairs == 1:
                    m.d.comb += [
                        unit.x.eq(Mux(comparing, x, self.i_hash.payload)),
                        unit.h.eq(Mux(comparing, nxt, row0_now).word_select(lane, hb)),
                    ]
                    continue
                m.d.comb += [
                    unit.x[0].eq(x), unit.h[0].eq(nxt.word_select(lane, hb)),
                    unit.x[1].eq(self.i_hash.payload), unit.h[1].eq(row0.word_select(lane, hb)),
                    unit.x[2].eq(self.i_hash.payload), unit.h[2].eq(x),
                    unit.pick.eq(Mux(comparing, 0, Mux(founding & slot[lane], 2, 1))),
                ]

            with m.State("IDLE"):
                m.d.comb += self.i_hash.ready.eq(1)
                with m.If(self.i_hash.valid):
                    accept(Const(0, 1))
                with m.Elif(self.clear):
                    m.d.sync += [n.eq(0), full.eq(0), overflow.eq(0), new_row.eq(0),
                                 new_lane.eq(0), slot.eq(1)]

            with m.State("COMPARE"):
                m.d.comb += self.busy.eq(1)
                for unit in units:
                    m.d.comb += [unit.go.eq(1), unit.restart.eq(group_done)]
                m.d.sync += step.eq(step + 1)
                with m.If(step == 0):
                    m.d.sync += nxt2.eq(h_rd.data)      # row g + 2, should g last longer
                with m.If(group_done):
                    m.d.sync += [step.eq(0), nxt.eq(Mux(step == 0, h_rd.data, nxt2))]
                    with m.If(win_any):
                        m.d.sync += [bound.eq(win_dist), found.eq(1), best.eq(base + win_lane)]
                    stop = final
                    if self._early_exit:
                        stop |= zero                    # a zero distance ends the search
                    with m.If(stop):
                        m.d.sync += fetch.eq(2)
                        m.next = "EMIT"
                    with m.Else():
                        m.d.sync += [base.eq(base + lanes), fetch.eq(fetch + 1)]
                        group_from(left - lanes)

            with m.State("EMIT"):
                m.d.comb += [
                    self.busy.eq(1),
                    self.o_id.valid.eq(1),
                    self.o_id.payload.eq(decision),
                    self.i_hash.ready.eq(self.o_id.ready),
                ]
                with m.If(self.o_id.ready):
                    m.d.sync += [
                        inc1.valid.eq(1), inc1.word.eq(chosen_word), inc1.lane.eq(chosen_lane),
                        inc1.new.eq(decision.new),
                        inc1.fwd.eq(inc2.valid & (inc2.word == chosen_word)
                                    & (inc2.lane == chosen_lane)),
                    ]
                    with m.If(decision.new):
                        m.d.comb += [
                            h_wr.addr.eq(new_row),
                            h_wr.data.eq(x.replicate(lanes)),
                            h_wr.en.eq(Const(1, lanes) << new_lane),
                        ]
                        m.d.sync += [n.eq(n + 1), full.eq(n == cap - 1)]
                        with m.If(~slot[-1]):
                            m.d.sync += slot.eq(slot << 1)
                        if lanes == 1:
                            m.d.sync += new_row.eq(new_row + 1)
                        else:
                            with m.If(new_lane == lanes - 1):
                                m.d.sync += [new_lane.eq(0), new_row.eq(new_row + 1)]
                            with m.Else():
                                m.d.sync += new_lane.eq(new_lane + 1)
                    with m.If(full & (bound >= th)):
                        m.d.sync += overflow.eq(1)
                    with m.If(self.i_hash.valid):
                        accept(decision.new)
                    with m.Else():
                        m.next = "IDLE"

        if self._checks:
            self._invariants(m, fsm, n=n, full=full, slot=slot, new_row=new_row,
                             new_lane=new_lane, base=base, left=left, final=final,
                             occupied=occupied, found=found, best=best, fetch=fetch)
            m.d.comb += [self.token.hash.eq(x), self.token.th.eq(th)]
            for row in range(rows):
                if row < 2:
                    word = (row0, row1)[row]
                else:
                    port = hashes.read_port(domain="comb")
                    m.d.comb += port.addr.eq(row)
                    word = port.data
                for lane in range(lanes):
                    if row * lanes + lane < cap:
                        m.d.comb += self.table[row * lanes + lane].eq(word.word_select(lane, hb))

        # Read-out of the table for the host: counts and leader hashes by cluster id.
        out_lane = Signal(range(lanes))
        out_count_lane = Signal(range(cw))
        rd_row, rd_lane = divmod_const(m, self.rd_addr, lanes, name="rd_hash")
        rd_word, rd_count_lane = divmod_const(m, self.rd_addr, cw, name="rd_count")
        m.d.sync += [out_lane.eq(rd_lane), out_count_lane.eq(rd_count_lane)]
        m.d.comb += [
            c_out.addr.eq(rd_word),
            h_out.addr.eq(rd_row),
            self.rd_counts.eq(c_out.data),
            self.rd_count.eq(c_out.data.word_select(out_count_lane, cb)),
            self.rd_hash.eq(h_out.data.word_select(out_lane, hb)),
        ]
        return m
