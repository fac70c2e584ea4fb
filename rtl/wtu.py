"""The WiCSum threshold unit (WTU): bucketed WiCSum selection of clusters for a query batch.

Function: SPEC 3 (golden model ``vrex.golden.wtu``). Schedule (docs/wtu.md, cycle model in
``vrex.golden.wtu.wtu_cycles``): per row a load pass that folds min, max and the weighted total
as the beats arrive, one cycle for the threshold and the bucket width, then selection passes
from the top bucket that stop as soon as the running sum passes the threshold (early exit).
The row's mask leaves while the next row loads; the OR of the rows' masks leaves after the last
row.

A batch is: ``ceil(columns / lanes)`` count beats, then per row as many score beats, the last
beat of the last row flagged ``last``.

Mode ``exp`` (SPEC 3.1) weighs a cluster by ``E[d mod 2**q] >> (d >> q)``, ``d`` its score's
distance below the row's maximum (known after the load pass): a ROM and a shifter in each
lane, no multiplier. Its buckets are shift mode's (equal steps of score). The total needs the
maximum, so the first selection pass sums every value on a second adder tree beside bucket 0's
prefix; ``T`` follows, bucket 0 is decided two cycles after that pass and the next pass is
issued a cycle late (the histogram: ``S = A(B - 1)``, one cycle more). The ROM's words come
from ``vrex.golden.expweight.exp_table``, the spec's one definition of them.
"""

from amaranth.hdl import Array, Assert, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from vrex.golden.expweight import exp_table
from vrex.golden.config import wicsum_total_bits
from vrex.interface.layouts import count_layout, mask_layout, row_layout, score_layout

from .arith import fits, reciprocal, reciprocal_shift, reduce_levels, tree_levels
from .params import CheckedParams, check_int

__all__ = ["WTU"]


class WTU(CheckedParams, wiring.Component):
    """WiCSum threshold unit.

    Parameters
    ----------
    score_bits, count_bits : int
        Widths of a signed score and an unsigned count.
    max_clusters : int
        Most clusters (columns) a batch may have.
    lanes : int
        Scores handled per cycle.
    max_buckets : int
        Largest ``buckets`` the unit accepts.
    exp_frac, exp_bits : int
        Mode ``exp``: fraction bits of a log2-unit score (0..6) and width of a value (1..24);
        each lane's ROM holds ``2**exp_frac`` words of ``exp_bits`` bits.
    exp : bool
        Build mode ``exp`` (the design); ``False`` builds the unit as it was before it, mode 2
        acting as 0, to measure what the mode costs.
    early_exit : bool
        Stop the scan as soon as the running sum passes the threshold, even inside a pass (the
        design); ``False`` builds the baseline that always makes ``buckets`` whole passes. The
        selection is the same.
    schedule : str
        ``"scan"``: one selection pass per bucket from the top (the paper's). ``"histogram"``:
        one pass that accumulates every bucket's prefix sum ``A(b)`` at once (``max_buckets``
        adder trees), then picks the first ``A(b) > T``; a fixed cost for more adders.
    checks : bool
        Embed an ``Assert`` beside every narrowing assignment of the accumulators, the adder
        trees and the row setup that the value fits its register (``vrex formal`` proves them);
        off in the generated Verilog.

    Members
    -------
    columns : In(range(max_clusters + 1))
        Clusters in the batch, 1..max_clusters. Held for the whole batch.
    ratio : In(16)
        Unsigned Q0.16 WiCSum ratio. Held for the whole batch.
    buckets : In(range(max_buckets + 1))
        Buckets ``B``, 1..max_buckets. Held for the whole batch.
    mode : In(2)
        0: ``v = s - min(s)``; 1: ``v = max(s, 0)``; 2: ``v = E[d mod 2**q] >> (d >> q)``,
        ``d = max(s) - s`` (3 acts as 0). Held for the whole batch.
    i_count : In(stream.Signature(ArrayLayout(count_bits, lanes)))
        The clusters' token counts, lane 0 first.
    i_score : In(stream.Signature(score_layout(score_bits, lanes)))
        Scores, row by row.
    o_row : Out(stream.Signature(row_layout(...)))
        One beat per row.
    o_mask : Out(stream.Signature(mask_layout(lanes)))
        Each row's selection mask, then the OR-ed final mask (``final`` set).
    busy : Out(1)
        A batch is in progress.
    """

    @classmethod
    def check(cls, *, score_bits, count_bits, max_clusters, lanes, max_buckets, exp_frac,
              exp_bits, schedule, **_):
        check_int("score_bits", score_bits, 2, 32)
        check_int("count_bits", count_bits, 1, 32)
        check_int("max_clusters", max_clusters, 1, 1 << 16)
        check_int("lanes", lanes, 1, max_clusters)
        check_int("max_buckets", max_buckets, 1, 1 << 10)
        check_int("exp_frac", exp_frac, 0, 6)
        check_int("exp_bits", exp_bits, 1, 24)
        total = wicsum_total_bits(max(score_bits, exp_bits), count_bits, max_clusters)
        if total > 63:
            raise ValueError(f"max(score_bits, exp_bits) + count_bits + log2(max_clusters) "
                             f"must fit a 63-bit total, not {total} bits")
        if schedule not in ("scan", "histogram"):
            raise ValueError(f"schedule must be 'scan' or 'histogram', not {schedule!r}")

    def __init__(self, *, score_bits=16, count_bits=16, max_clusters=1024, lanes=16,
                 max_buckets=16, exp_frac=4, exp_bits=16, exp=True, early_exit=True,
                 schedule="scan", checks=False):
        value_bits = max(score_bits, exp_bits)
        self._exp = bool(exp)
        self._exp_frac = exp_frac
        self._exp_bits = exp_bits
        self._value_bits = value_bits
        self._score_bits = score_bits
        self._count_bits = count_bits
        self._max_clusters = max_clusters
        self._lanes = lanes
        self._max_buckets = max_buckets
        self._early_exit = bool(early_exit)
        self._schedule = schedule
        self._checks = bool(checks)
        self._total_bits = wicsum_total_bits(value_bits, count_bits, max_clusters)
        super().__init__({
            "columns": In(range(max_clusters + 1)),
            "ratio": In(16),
            "buckets": In(range(max_buckets + 1)),
            "mode": In(2),
            "i_count": In(stream.Signature(count_layout(count_bits, lanes))),
            "i_score": In(stream.Signature(score_layout(score_bits, lanes))),
            "o_row": Out(stream.Signature(row_layout(value_bits, count_bits, max_clusters,
                                                     max_buckets))),
            "o_mask": Out(stream.Signature(mask_layout(lanes))),
            "busy": Out(1),
        })

    @classmethod
    def from_config(cls, config, *, early_exit: bool = True, exp: bool = True) -> "WTU":
        """The WTU of a :class:`vrex.golden.config.Config`."""
        return cls(score_bits=config.score_bits, count_bits=config.count_bits,
                   max_clusters=config.max_clusters, lanes=config.wtu_lanes,
                   max_buckets=config.max_buckets, exp_frac=config.exp_frac,
                   exp_bits=config.exp_bits, exp=exp, early_exit=early_exit,
                   schedule=config.wtu_schedule.name.lower())

    score_bits = property(lambda self: self._score_bits)
    count_bits = property(lambda self: self._count_bits)
    max_clusters = property(lambda self: self._max_clusters)
    lanes = property(lambda self: self._lanes)
    max_buckets = property(lambda self: self._max_buckets)
    exp_frac = property(lambda self: self._exp_frac)
    exp_bits = property(lambda self: self._exp_bits)
    early_exit = property(lambda self: self._early_exit)
    schedule = property(lambda self: self._schedule)

    def _passes(self, beat_sum, left):
        """The exit comparator: the running sum passes ``T`` when the beat's sum exceeds what
        ``T`` leaves of it. A method so that a test can break it and see the proofs fail."""
        return beat_sum > left

    def elaborate(self, platform):
        m = Module()
        sb, cb, lanes = self._score_bits, self._count_bits, self._lanes
        cap, tb, nb = self._max_clusters, self._total_bits, self._max_buckets
        vb, q, ew = self._value_bits, self._exp_frac, self._exp_bits
        depth = -(-cap // lanes)
        scan = self._schedule == "scan"
        checks = self._checks

        def narrow(target, value, name=None):
            """``target.eq(value)``; with ``checks``, in the same context, an assertion that
            ``value`` fits ``target`` (nothing is lost)."""
            if checks:
                m.d.comb += Assert(fits(value, target.shape()), f"{name or target.name}_fits")
            return target.eq(value)

        # Row buffers: the row's scores and the batch's counts, one beat per word, and the OR of
        # the row masks so far. The score port reads the old word while the next row
        # overwrites it (the mask of row r leaves while row r + 1 loads).
        m.submodules.score_mem = score_mem = Memory(shape=lanes * sb, depth=depth, init=[])
        m.submodules.count_mem = count_mem = Memory(shape=lanes * cb, depth=depth, init=[])
        m.submodules.final_mem = final_mem = Memory(shape=lanes, depth=depth, init=[])
        s_wr, s_rd = score_mem.write_port(), score_mem.read_port()
        c_wr = count_mem.write_port()
        c_rd = count_mem.read_port(transparent_for=(c_wr,))
        f_wr, f_rd = final_mem.write_port(), final_mem.read_port()

        beats = Signal(range(depth + 1))          # ceil(columns / lanes)
        m.d.comb += beats.eq((self.columns + lanes - 1) // lanes)
        k = Signal(range(depth + 1))              # the beat to load, or to issue
        last_beat = k + 1 == beats

        def valid_lanes(index):
            return Cat(*(index * lanes + lane < self.columns for lane in range(lanes)))

        def clamp(s):
            return Mux(s < 0, 0, s)

        # The mode: clamp (1) has its own values and bucket edges; exp (2) shares shift's
        # edges (equal steps of score) and has its own values and total.
        clamp_mode, exp_mode = Signal(), Signal()
        m.d.comb += [clamp_mode.eq(self.mode == 1),
                     exp_mode.eq((self.mode == 2) if self._exp else 0)]
        exp_total_tree = scan and self._exp

        def scores(word):
            return [word.word_select(lane, sb).as_signed() for lane in range(lanes)]

        # Row statistics and the selection state.
        min_s = Signal(signed(sb))
        max_s = Signal(signed(sb))
        sum_p = Signal(signed(tb + 2))            # sum of (s, or max(s, 0)) * cnt
        sum_c = Signal(range(cap * ((1 << cb) - 1) + 1))
        total = Signal(tb)
        threshold = Signal(tb)
        top = Signal(sb)                          # hi = max(v) < 2**sb
        quot = Signal(sb)                         # (hi - lo) // B
        min_times_c = Signal(signed(sb + len(sum_c) + 1))
        width = Signal(sb + 2)                    # bucket width w = (hi - lo) // B + 1
        edge_bits = sb + 4 + bits_for(nb)
        edge = Signal(signed(edge_bits))          # the issued pass: v > edge <=> bucket <= b
        bucket = Signal(range(nb))                # the issued pass's bucket
        issued_all = Signal()                     # the scan has issued its last pass
        slack = Signal(signed(tb + 2))           # T minus the pass's running sum so far
        exited = Signal()                         # without early exit: the exit is known
        found_bucket = Signal(range(nb))          # ... and is this bucket
        first_row = Signal()
        last_row = Signal()
        bubble = Signal(range(3))                 # exp: pass 1 waits two cycles for T
        neg = -(1 << (sb - 1)) - 1                # below every score: selects them all

        def cut_of(edge_value):
            """The score cut of a bucket edge: ``v > edge <=> s > cut``, the mode folded in."""
            return Mux(clamp_mode, Mux(edge_value < 0, neg, edge_value), edge_value + min_s)

        cut_shape = signed(edge_bits + 1)
        cuts = [Signal(cut_shape, name=f"cut{b}") for b in range(nb)]   # histogram
        found_cut = Signal(cut_shape)

        # The lane pipeline, shared by the load pass and the selection passes. A beat is issued
        # in stage A (taken from i_score, or its word's address given to the row buffers), its
        # scores and counts are registered in B (straight out of the block RAM), its operands
        # formed in C (the value, and whether it lies above the pass's cut), its products in
        # D, the adder tree one level a stage in E1..Et (t = ceil(log2 lanes)), and it is
        # accumulated in G. It never stalls: a beat reaches G wtu_pipeline(lanes) = 4 + t
        # cycles after it was issued (vrex.golden.wtu), and the beats issued after the one
        # that decides a selection are dropped when it leaves.
        ways = 1 if scan else nb                  # adder trees: one per bucket in a histogram
        levels = tree_levels(lanes)
        tag_layout = data.StructLayout({
            "valid": 1, "load": 1, "first": 1, "last": 1, "bucket": range(nb),
            "cut": cut_shape, "lanes": lanes})
        flush = Signal()                          # drop the beats in flight
        tag_a = Signal(tag_layout)                # comb: the beat issued this cycle
        tags = [tag_a]
        for stage in range(1, 4 + levels + 1):    # B, C, D, E1..Et, G
            tag = Signal(tag_layout, name=f"tag{stage}")
            m.d.sync += tag.eq(tags[-1])
            with m.If(flush):
                m.d.sync += tag.valid.eq(0)
            tags.append(tag)
        tag_b, tag_c, tag_g = tags[1], tags[2], tags[-1]

        # A -> B: a loaded beat's scores wait in a register; a stored one comes from the
        # score buffer, whose address was given in A. The counts come from the count buffer.
        # B registers them, so the block RAMs' slow outputs drive nothing else.
        loaded = Signal(lanes * sb)
        m.d.sync += loaded.eq(self.i_score.payload.scores)
        word = Signal(lanes * sb)
        count_word = Signal(lanes * cb)
        m.d.sync += [word.eq(Mux(tag_b.load, loaded, s_rd.data)), count_word.eq(c_rd.data)]
        counts = [count_word.word_select(lane, cb) for lane in range(lanes)]

        # C: per lane the factor of its product (the load pass weighs s, or max(s, 0); a
        # selection pass weighs v: in mode exp a word of the ROM E, picked by the fraction of
        # the score's distance d below the row's maximum and shifted right by its octaves)
        # and the masks of the trees it joins.
        top_s, bottom_s = (1 << (sb - 1)) - 1, -(1 << (sb - 1))
        rom = Array(Const(w, ew) for w in exp_table(q, ew))
        factor_d, count_d, min_d, max_d, cnt_d, all_d = [], [], [], [], [], []
        mask_d = [Signal(lanes, name=f"mask_d{w}") for w in range(ways)]
        for lane, s in enumerate(scores(word)):
            use = tag_c.lanes[lane]
            d = Signal(sb + 1, name=f"exp_d{lane}")               # max(s) - s >= 0
            m.d.comb += d.eq(max_s - s)
            octave = d[q:]
            exp_value = Mux(octave >= ew, 0, rom[d[:q]] >> octave[:bits_for(ew)])
            factor = Signal(signed(vb + 1), name=f"factor_d{lane}")
            m.d.sync += factor.eq(Mux(clamp_mode, clamp(s),
                                      Mux(tag_c.load, s, Mux(exp_mode, exp_value, s - min_s))))
            count = Signal(cb, name=f"count_d{lane}")
            m.d.sync += count.eq(counts[lane])
            lo_s = Signal(signed(sb), name=f"min_d{lane}")
            hi_s = Signal(signed(sb), name=f"max_d{lane}")
            c_s = Signal(cb, name=f"cnt_d{lane}")
            m.d.sync += [lo_s.eq(Mux(use, s, top_s)), hi_s.eq(Mux(use, s, bottom_s)),
                         c_s.eq(Mux(use, counts[lane], 0))]
            for w in range(ways):
                cut = tag_c.cut if scan else cuts[w]
                m.d.sync += mask_d[w][lane].eq(use & (tag_c.load | (s > cut)))
            if exp_total_tree:                     # mode exp's total beside bucket 0
                every = Signal(name=f"all_d{lane}")
                m.d.sync += every.eq(use)
                all_d.append(every)
            factor_d.append(factor)
            count_d.append(count)
            min_d.append(lo_s)
            max_d.append(hi_s)
            cnt_d.append(c_s)

        # D: the products, one multiplier per lane.
        product_e = []
        for lane in range(lanes):
            product = Signal(signed(vb + cb + 2), name=f"product_e{lane}")
            m.d.sync += product.eq(factor_d[lane] * count_d[lane])
            product_e.append(product)
        mask_e = [Signal(lanes, name=f"mask_e{w}") for w in range(ways)]
        min_e = [Signal(signed(sb), name=f"min_e{lane}") for lane in range(lanes)]
        max_e = [Signal(signed(sb), name=f"max_e{lane}") for lane in range(lanes)]
        cnt_e = [Signal(cb, name=f"cnt_e{lane}") for lane in range(lanes)]
        all_e = [Signal(name=f"all_e{lane}") for lane in range(len(all_d))]
        m.d.sync += [a.eq(b) for a, b in zip(mask_e + min_e + max_e + cnt_e + all_e,
                                             mask_d + min_d + max_d + cnt_d + all_d)]

        # E1..Et: the adder trees (and, for the load pass, the min, max and count trees), one
        # level a stage.
        sum_shape = signed(tb + 2)
        add = lambda a, b: a + b                                    # noqa: E731
        lower = lambda a, b: Mux(b < a, b, a)                        # noqa: E731
        higher = lambda a, b: Mux(b > a, b, a)                       # noqa: E731

        def staged(terms, combine, shape, name):
            """Reduce ``terms`` one registered tree level a stage."""
            for level in range(levels):
                terms = reduce_levels(m, terms, combine, shape=shape, name=f"{name}_l{level}",
                                      levels=1, checked=checks)
                held = [Signal(shape, name=f"{name}_e{level + 1}_{i}") for i in range(len(terms))]
                m.d.sync += [a.eq(b) for a, b in zip(held, terms)]
                terms = held
            return terms[0]

        sum_g = [staged([Mux(mask_e[w][lane], product_e[lane], 0) for lane in range(lanes)],
                        add, sum_shape, f"sum{w}") for w in range(ways)]
        if exp_total_tree:
            # Mode exp's products are below 2**(exp_bits + count_bits): a narrower tree.
            narrow_bits = ew + cb
            total_g = staged([Mux(all_e[lane], product_e[lane][:narrow_bits], 0)
                              for lane in range(lanes)], add,
                             narrow_bits + bits_for(lanes), "total")
        min_g = staged(min_e, lower, signed(sb), "min")
        max_g = staged(max_e, higher, signed(sb), "max")
        cnt_g = staged(cnt_e, add, len(sum_c), "cnt")

        # G, for the load pass: fold the beat into the row's statistics.
        with m.If(tag_g.valid & tag_g.load):
            first = tag_g.first
            m.d.sync += [
                min_s.eq(Mux(first | (min_g < min_s), min_g, min_s)),
                max_s.eq(Mux(first | (max_g > max_s), max_g, max_s)),
                narrow(sum_p, Mux(first, 0, sum_p) + sum_g[0]),
                narrow(sum_c, Mux(first, 0, sum_c) + cnt_g),
            ]

        # The row setup runs free from the row's statistics, which hold still from the end of
        # the load pass until the next row's: the span (and the reciprocal of B), then
        # span // B and min(s) * sum(cnt), then S, the width and the top pass's edge, then T.
        # The states SPAN, QUOT, TOTAL and RATIO wait for it; THRESH latches the results.
        shift = reciprocal_shift(sb, nb)
        recips = Array(Const(reciprocal(b, shift) if b else 0, shift + 1) for b in range(nb + 1))
        hi = Mux(clamp_mode, clamp(max_s), max_s - min_s)           # hi = max(v) < 2**sb
        span = Signal(sb)                                           # hi - lo
        recip = Signal(shift + 1)
        setup = [(top, hi), (span, hi - Mux(clamp_mode, clamp(min_s), 0)),
                 (recip, recips[self.buckets])]
        # min(s) * sum(cnt) in two halves of sum(cnt), multiplied with the span and added up
        # with the quotient: no multiply and add in one cycle.
        split = (len(sum_c) + 1) // 2
        min_c_lo = Signal(signed(sb + split + 1))
        min_c_hi = Signal(signed(sb + len(sum_c) - split + 1))
        setup += [(min_c_lo, min_s * sum_c[:split]), (min_c_hi, min_s * sum_c[split:]),
                  (quot, (span * recip) >> shift), (min_times_c, min_c_lo + (min_c_hi << split))]
        setup_total = Signal(tb)
        setup_width = Signal(sb + 2)
        setup_edge = Signal(signed(edge_bits))
        setup_threshold = Signal(tb)
        # In mode exp S is only known after the first pass (exp_total, below); it runs
        # through the same registers and the same multiplier to T, two cycles.
        exp_total = Signal(tb)
        setup += [(setup_total, Mux(exp_mode, exp_total,
                                    Mux(clamp_mode, sum_p, sum_p - min_times_c))),
                  (setup_width, quot + 1), (setup_edge, top - quot - 1),
                  (setup_threshold, (setup_total * self.ratio) >> 16)]
        m.d.sync += [target.eq(value) for target, value in setup]

        # The mask emitter: row r's mask (and its o_row beat) leaves while row r + 1 loads;
        # after the last row, the OR-ed final mask. Two stages: e_k is the next word to read;
        # the read ports' outputs hold word r_k if r_valid; the output registers hold word
        # o_k if o_valid, whose beat is offered on o_mask and OR-ed into the final mask as it
        # leaves. The block RAMs' outputs only feed registers.
        e_active = Signal()
        e_final = Signal()                        # emitting the final mask
        e_first = Signal()                        # row 0: nothing to OR with
        e_row_sent = Signal()
        e_k = Signal(range(depth + 1))
        r_valid = Signal()
        r_k = Signal(range(depth + 1))
        o_valid = Signal()
        o_k = Signal(range(depth + 1))
        o_scores = Signal(lanes * sb)
        o_final = Signal(lanes)
        cut = Signal(cut_shape)                   # v > exit edge <=> s > cut
        exit_bucket = Signal(range(nb))
        o_advance = ~o_valid | self.o_mask.ready
        r_advance = ~r_valid | o_advance          # the read ports take the next address
        e_reading = e_active & (e_k != beats)
        e_done = Signal()
        m.d.comb += e_done.eq(e_active & (e_k == beats) & ~r_valid & o_advance
                              & (e_final | e_row_sent | self.o_row.ready))
        row_mask = Signal(lanes)
        m.d.comb += row_mask.eq(valid_lanes(o_k) & Cat(*(s > cut for s in scores(o_scores))))
        with m.If(e_active):
            m.d.comb += [
                s_rd.addr.eq(e_k), s_rd.en.eq(r_advance), f_rd.addr.eq(e_k),
                f_rd.en.eq(r_advance),
                self.o_mask.valid.eq(o_valid),
                self.o_mask.payload.mask.eq(Mux(e_final, o_final, row_mask)),
                self.o_mask.payload.final.eq(e_final),
                self.o_row.valid.eq(~e_final & ~e_row_sent),
                self.o_row.payload.exit_bucket.eq(exit_bucket),
                self.o_row.payload.threshold.eq(threshold),
                self.o_row.payload.total.eq(total),
            ]
            with m.If(self.o_row.ready):
                m.d.sync += e_row_sent.eq(1)
            with m.If(o_valid & self.o_mask.ready & ~e_final):
                m.d.comb += [f_wr.addr.eq(o_k), f_wr.en.eq(1),
                             f_wr.data.eq(Mux(e_first, row_mask, row_mask | o_final))]
            with m.If(o_advance):
                m.d.sync += [o_valid.eq(r_valid), o_k.eq(r_k), o_scores.eq(s_rd.data),
                             o_final.eq(f_rd.data)]
            with m.If(r_advance):
                m.d.sync += [r_valid.eq(e_k != beats), r_k.eq(e_k)]
                with m.If(e_k != beats):
                    m.d.sync += e_k.eq(e_k + 1)
            with m.If(e_done):
                m.d.sync += e_active.eq(0)

        def start_emitter(final):
            m.d.sync += [e_active.eq(1), e_final.eq(final), e_k.eq(0), r_valid.eq(0),
                         o_valid.eq(0), e_row_sent.eq(0)]

        def exit_at(b, cut_value):
            """Leave the selection with exit bucket ``b``: its mask is ``s > cut_value``."""
            m.d.comb += flush.eq(1)
            m.d.sync += [exit_bucket.eq(b), e_first.eq(first_row), first_row.eq(0), k.eq(0),
                         cut.eq(cut_value)]
            start_emitter(final=0)
            with m.If(last_row):
                m.next = "FLUSH"
            with m.Else():
                m.next = "LOAD"

        def issue(first_pass_beat):
            """Issue beat ``k`` of the row buffers into the pipeline (A)."""
            m.d.comb += [s_rd.addr.eq(k), c_rd.addr.eq(k), tag_a.valid.eq(1),
                         tag_a.first.eq(first_pass_beat), tag_a.last.eq(last_beat),
                         tag_a.bucket.eq(bucket), narrow(tag_a.cut, cut_of(edge), "issued_cut"),
                         tag_a.lanes.eq(valid_lanes(k))]
            m.d.sync += k.eq(Mux(last_beat, 0, k + 1))

        with m.FSM():
            with m.State("COUNT"):
                m.d.comb += [self.i_count.ready.eq(1), self.busy.eq((k != 0) | e_active)]
                with m.If(self.i_count.valid):
                    m.d.comb += [c_wr.addr.eq(k), c_wr.data.eq(self.i_count.payload),
                                 c_wr.en.eq(1)]
                    m.d.sync += k.eq(k + 1)
                    with m.If(last_beat):
                        m.d.sync += [k.eq(0), first_row.eq(1)]
                        m.next = "LOAD"

            with m.State("LOAD"):                 # each beat into the buffer and the pipeline
                # The emitter must have read word k of the previous row before it is replaced.
                free = ~e_reading | (e_k > k) | ((e_k == k) & r_advance)
                take = self.i_score.valid & free
                m.d.comb += [self.busy.eq(1), self.i_score.ready.eq(free), c_rd.addr.eq(k)]
                with m.If(take):
                    m.d.comb += [s_wr.addr.eq(k), s_wr.data.eq(self.i_score.payload.scores),
                                 s_wr.en.eq(1),
                                 tag_a.valid.eq(1), tag_a.load.eq(1), tag_a.first.eq(k == 0),
                                 tag_a.last.eq(last_beat), tag_a.lanes.eq(valid_lanes(k))]
                    m.d.sync += k.eq(k + 1)
                    with m.If(last_beat):
                        m.d.sync += [k.eq(0), last_row.eq(self.i_score.payload.last)]
                        m.next = "DRAIN"

            with m.State("DRAIN"):                # until the last beat is folded in
                m.d.comb += self.busy.eq(1)
                with m.If(tag_g.valid & tag_g.load & tag_g.last):
                    m.next = "SPAN"

            with m.State("SPAN"):
                m.d.comb += self.busy.eq(1)
                # The previous row's emitter must be done with the score port and the total.
                with m.If(~e_active | e_done):
                    m.next = "QUOT"

            with m.State("QUOT"):
                m.d.comb += self.busy.eq(1)
                m.next = "TOTAL"

            with m.State("TOTAL"):
                m.d.comb += self.busy.eq(1)
                m.next = "RATIO"

            with m.State("RATIO"):
                m.d.comb += self.busy.eq(1)
                m.next = "THRESH"

            with m.State("THRESH"):               # latch the setup; the first pass's state
                m.d.comb += self.busy.eq(1)
                # The setup runs free and may wrap while a row loads; here it has settled on
                # the row's statistics, so every stage's value is the one latched.
                for target, value in setup:
                    narrow(target, value)
                m.d.sync += [total.eq(setup_total), threshold.eq(setup_threshold),
                             width.eq(setup_width), edge.eq(setup_edge), bucket.eq(0), k.eq(0),
                             exited.eq(0), issued_all.eq(0), bubble.eq(0)]
                if not scan:
                    m.d.sync += [narrow(cuts[b], cut_of(setup_edge - b * setup_width))
                                 for b in range(nb)]
                m.next = "SCAN" if scan else "HIST"

            if scan:
                # One pass per bucket from the top: A(b) = sum over the lanes with v > edge.
                # Values and counts are never negative, so once a pass's running sum is past T
                # the bucket is the exit: with early exit the selection stops there.
                with m.State("SCAN"):
                    m.d.comb += self.busy.eq(1)
                    with m.If(bubble != 0):
                        m.d.sync += bubble.eq(bubble - 1)
                    with m.If(~issued_all & (bubble == 0)):
                        issue(k == 0)
                        with m.If(last_beat):
                            with m.If(bucket == self.buckets - 1):
                                m.d.sync += issued_all.eq(1)
                            with m.Else():
                                m.d.sync += [bucket.eq(bucket + 1), narrow(edge, edge - width),
                                             bubble.eq(Mux(exp_mode & (bucket == 0), 2, 0))]
                    # The running sum passes T when the beat's sum passes what T leaves of it:
                    # one compare on the decision's path, not an add and then a compare. The
                    # decision is registered (H) and acted on a cycle later.
                    # In mode exp pass 0 knows no T: its slack counts down from 0 (-A(0)), it
                    # never leaves, and its total tree sums S.
                    exp0 = Signal()
                    m.d.comb += exp0.eq(exp_mode & (tag_g.bucket == 0))
                    left = Signal(signed(tb + 2))
                    m.d.comb += left.eq(Mux(tag_g.first, Mux(exp_mode, Mux(exp0, 0, setup_threshold),
                                                             threshold), slack))
                    passed = self._passes(sum_g[0], left) & ~exp0
                    last_pass = tag_g.last & (tag_g.bucket == self.buckets - 1) & ~exp0
                    leave = Signal()
                    leave_bucket = Signal(range(nb))
                    leave_cut = Signal(cut_shape)
                    m.d.sync += leave.eq(0)
                    with m.If(tag_g.valid):
                        m.d.sync += narrow(slack, left - sum_g[0])
                        if self._early_exit:
                            m.d.sync += [leave.eq(passed | last_pass),
                                         leave_bucket.eq(tag_g.bucket), leave_cut.eq(tag_g.cut)]
                        else:
                            with m.If(tag_g.last & passed & ~exited):
                                m.d.sync += [exited.eq(1), found_bucket.eq(tag_g.bucket),
                                             found_cut.eq(tag_g.cut)]
                            # B - 1 if no pass passed before the last, which may pass or not.
                            m.d.sync += [
                                leave.eq(last_pass),
                                leave_bucket.eq(Mux(exited, found_bucket, tag_g.bucket)),
                                leave_cut.eq(Mux(exited, found_cut, tag_g.cut))]
                    # Mode exp: S complete after pass 0's last beat (cycle c), through the
                    # setup's registers to T (c + 3), when bucket 0 is decided, overriding pass
                    # 1's first beat; S and T latched for o_row.
                    if exp_total_tree:
                        exp_cut0 = Signal(cut_shape)
                        exp_steps = Signal(3)             # c + 1, c + 2, c + 3
                        m.d.sync += exp_steps.eq(exp_steps << 1)
                        with m.If(tag_g.valid & exp0):
                            m.d.sync += narrow(exp_total, Mux(tag_g.first, 0, exp_total)
                                               + total_g)
                            with m.If(tag_g.last):
                                m.d.sync += [exp_steps[0].eq(1), exp_cut0.eq(tag_g.cut)]
                        with m.If(exp_steps[2]):
                            m.d.sync += [total.eq(setup_total), threshold.eq(setup_threshold)]
                            zero_passes = self._passes(-slack, setup_threshold)
                            if self._early_exit:
                                with m.If(zero_passes | (self.buckets == 1)):
                                    m.d.sync += [leave.eq(1), leave_bucket.eq(0),
                                                 leave_cut.eq(exp_cut0)]
                            else:
                                # (Also the exit of a last pass deciding in this same cycle.)
                                with m.If(zero_passes):
                                    m.d.sync += [exited.eq(1), found_bucket.eq(0),
                                                 found_cut.eq(exp_cut0), leave_bucket.eq(0),
                                                 leave_cut.eq(exp_cut0)]
                                with m.If(self.buckets == 1):
                                    m.d.sync += [leave.eq(1), leave_bucket.eq(0),
                                                 leave_cut.eq(exp_cut0)]
                    with m.If(leave):
                        exit_at(leave_bucket, leave_cut)
                        m.d.sync += leave.eq(0)            # and drop the next beat's decision

            if not scan:
                slacks = [Signal(signed(tb + 2), name=f"slack{b}") for b in range(nb)]
                hits = Signal(nb)
                with m.State("HIST"):                 # every A(b) in one pass
                    m.d.comb += self.busy.eq(1)
                    with m.If(~issued_all):
                        issue(k == 0)
                        with m.If(last_beat):
                            m.d.sync += issued_all.eq(1)
                    with m.If(tag_g.valid):
                        for b in range(nb):
                            # Mode exp: no T yet, the slacks count down from 0 (-A(b)).
                            left = Signal(signed(tb + 2), name=f"hist_left{b}")
                            m.d.comb += left.eq(Mux(tag_g.first, Mux(exp_mode, 0, threshold),
                                                    slacks[b]))
                            m.d.sync += [narrow(slacks[b], left - sum_g[b]),
                                         hits[b].eq(self._passes(sum_g[b], left)
                                                    & (b < self.buckets))]
                        with m.If(tag_g.last):
                            with m.If(exp_mode):
                                m.next = "EXP_T"
                            with m.Else():
                                m.next = "PICK"

                # Mode exp: S = A(B - 1) through the setup's registers to T, two cycles.
                m.d.comb += exp_total.eq(-Array(slacks)[self.buckets - 1])
                with m.State("EXP_T"):
                    m.d.comb += self.busy.eq(1)
                    m.next = "EXP_T2"

                with m.State("EXP_T2"):
                    m.d.comb += self.busy.eq(1)
                    m.next = "PICK"

                with m.State("PICK"):                 # the first bucket past T
                    m.d.comb += self.busy.eq(1)
                    with m.If(exp_mode):
                        m.d.sync += [total.eq(setup_total), threshold.eq(setup_threshold)]
                    chosen = Signal(range(nb))
                    m.d.comb += chosen.eq(self.buckets - 1)
                    for b in reversed(range(nb)):
                        hit = Mux(exp_mode, self._passes(-slacks[b], setup_threshold) &
                                  (b < self.buckets), hits[b])
                        with m.If(hit):
                            m.d.comb += chosen.eq(b)
                    exit_at(chosen, Array(cuts)[chosen])

            with m.State("FLUSH"):                # the last row's mask, then the final mask
                m.d.comb += self.busy.eq(1)
                with m.If(e_done):
                    start_emitter(final=1)
                    m.next = "FINAL"

            with m.State("FINAL"):
                m.d.comb += self.busy.eq(1)
                with m.If(e_done):
                    m.next = "COUNT"
        return m
