"""The WTU's lane pipeline: every beat of a row, for the load pass and for each selection pass.

A beat is issued in stage A (taken from ``i_score``, or read from the score buffer, whose
address was given a cycle ahead; the count buffer is read a cycle later), its scores are
registered in B, where its distance from the row's extreme is formed, its operands in C (the
value, and whether it lies above the pass's cut), its products in D, the adder trees two
levels a stage in E1..Et (``t = ceil(log2(lanes) / 2)``), and it is accumulated in G. The
pipeline never stalls: a beat reaches G :attr:`LanePipeline.latency` cycles after it was
issued, and ``flush`` drops the beats in flight (those issued after the beat that decided a
selection). The load pass's beats are folded into the row's weighted sum at G, into its sum
of counts by a tree from D, ``t`` stages long, and into its least and greatest score by trees
from B, ``ceil(log2 lanes)`` stages long (one level a stage).
"""

from amaranth.hdl import Array, Assert, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from vrex.golden.expweight import exp_table

from ..arith import narrow, reduce_levels, tree_levels, tree_stages

__all__ = ["LanePipeline", "tag_layout", "cut_shape"]


def cut_shape(score_bits: int):
    """A bucket edge folded with the mode into a score cut (``v > edge <=> s > cut``), held
    between the least score less one and the greatest (which selects every score, or none):
    one bit wider than a score, whatever the edge's width."""
    return signed(score_bits + 1)


def tag_layout(score_bits: int, max_buckets: int, lanes: int, *,
               load: bool = True) -> data.StructLayout:
    """What travels beside a beat: valid, a load-pass beat (without ``load``: a selection's
    beat, as the schedule issues it), the row's first or last beat, the pass's bucket and cut,
    whether that bucket is the first (``zero``) or the batch's last (``final``), and which lanes
    hold a cluster. The two flags are formed at issue so that the exit step at G compares no
    bucket numbers."""
    return data.StructLayout({
        "valid": 1, **({"load": 1} if load else {}), "first": 1, "last": 1,
        "bucket": range(max_buckets), "zero": 1, "final": 1,
        "cut": cut_shape(score_bits), "lanes": lanes})


class LanePipeline(wiring.Component):
    """Operands, products and adder trees of ``lanes`` scores a cycle, and the row's statistics.

    ``ways`` adder trees sum the products above their cut: one for the scan (the cut travels
    with the beat), one per bucket for the histogram (``cuts``). With ``exp_total``, one more
    tree sums every value of a selection beat (mode ``exp``'s total, whose products are below
    ``2**(exp_bits + count_bits)``: a narrower tree).

    Members
    -------
    issue : In(tag_layout)
        The beat issued this cycle (stage A).
    flush : In(1)
        Drop the beats in flight.
    loaded, stored : In(lanes * score_bits)
        The issued beat's scores a cycle after its issue, from registers: as taken from the
        input, and as read from the score buffer (whose address is given a cycle ahead).
    counts : In(lanes * count_bits)
        The issued beat's counts, two cycles after its issue (the count buffer's read data: its
        address is registered a cycle after the score buffer's).
    clamp_mode, exp_mode : In(1)
        The batch's mode.
    cuts : In(ArrayLayout(cut, ways))
        The histogram's cut of each bucket, held through the pass.
    tag : Out(tag_layout)
        The beat at G.
    ahead : Out(tag_layout)
        The beat that reaches G next cycle (unless flushed).
    sums : Out(ArrayLayout(signed(total_bits + 2), ways))
        Per tree, the sum of the beat's products above the cut (the load pass: of ``s`` or
        ``max(s, 0)`` times the count, every valid lane).
    total : Out(exp_bits + count_bits + bits_for(lanes))
        Mode ``exp``'s sum of every valid lane's weighted value.
    min_s, max_s, sum_p, sum_c : Out
        The row's statistics, folded from the load pass's beats: least and greatest score,
        the sum of ``s`` (or ``max(s, 0)``) times the count, and the sum of the counts.
    extremes_done : Out(1)
        The load pass's last beat is being folded into ``min_s`` and ``max_s`` (they are the
        row's from the next cycle; the sums two cycles later).
    selecting : Out(1)
        With ``invariants``: a selection pass's beat is in flight (B..G), for the unit's
        invariants.
    load_last_ahead : Out(1)
        With ``invariants``: the load pass's last beat is on its way to the fold of the
        extremes (B up to that stage): what ``extremes_done`` waits for.
    final_in_flight : Out(1)
        With ``invariants``: the last beat of the last selection pass is in flight (B..G):
        it decides the selection when it reaches G.
    """

    def __init__(self, *, score_bits, count_bits, max_clusters, lanes, max_buckets, exp_frac,
                 exp_bits, total_bits, ways, exp_total, checks=False, invariants=False):
        self._sb, self._cb, self._lanes = score_bits, count_bits, lanes
        self._nb, self._q, self._ew = max_buckets, exp_frac, exp_bits
        self._vb = max(score_bits, exp_bits)
        self._ways, self._exp_total, self._checks = ways, bool(exp_total), bool(checks)
        self._tag = tag_layout(score_bits, max_buckets, lanes)
        self._sum_shape = signed(total_bits + 2)
        self._total_width = exp_bits + count_bits + bits_for(lanes)
        cut = cut_shape(score_bits)
        super().__init__({
            "issue": In(self._tag),
            "flush": In(1),
            "loaded": In(lanes * score_bits),
            "stored": In(lanes * score_bits),
            "counts": In(lanes * count_bits),
            "clamp_mode": In(1),
            "exp_mode": In(1),
            "cuts": In(data.ArrayLayout(cut, ways)),
            "tag": Out(self._tag),
            "ahead": Out(self._tag),
            "sums": Out(data.ArrayLayout(self._sum_shape, ways)),
            "total": Out(self._total_width),
            "min_s": Out(signed(score_bits)),
            "max_s": Out(signed(score_bits)),
            "sum_p": Out(self._sum_shape),
            "sum_c": Out(range(max_clusters * ((1 << count_bits) - 1) + 1)),
            "extremes_done": Out(1),
            **({"selecting": Out(1), "load_last_ahead": Out(1), "final_in_flight": Out(1)}
               if invariants else {}),
        })
        self._invariants = bool(invariants)

    #: Adder-tree levels between two registers.
    TREE_LEVELS = 2

    @classmethod
    def latency_of(cls, lanes: int) -> int:
        """Cycles from a beat's issue (A) to its accumulation (G) with ``lanes`` lanes: B, C,
        D, the tree's stages and G. The cycle model's ``wtu_pipeline(lanes)``."""
        return 4 + tree_stages(lanes, cls.TREE_LEVELS)

    @staticmethod
    def extremes_latency_of(lanes: int) -> int:
        """Cycles from a load beat's issue to the fold of its least and greatest score: B (the
        input's register) and their trees' levels, one a stage. The cycle model's
        ``wtu_extremes(lanes)``."""
        return 1 + tree_levels(lanes)

    @property
    def latency(self) -> int:
        return self.latency_of(self._lanes)

    def elaborate(self, platform):
        m = Module()
        sb, cb, lanes, q, ew = self._sb, self._cb, self._lanes, self._q, self._ew
        stages = tree_stages(lanes, self.TREE_LEVELS)

        # The beat's tag, one register a stage; the last is the output at G.
        tags = [self.issue]
        for stage in range(1, self.latency + 1):
            tag = self.tag if stage == self.latency else Signal(self._tag, name=f"tag{stage}")
            m.d.sync += tag.eq(tags[-1])
            with m.If(self.flush):
                m.d.sync += tag.valid.eq(0)
            tags.append(tag)
        tag_b, tag_c = tags[1], tags[2]
        if self._invariants:
            m.d.comb += self.selecting.eq(Cat(*(t.valid & ~t.load for t in tags[1:])).any())
            # A load beat never carries the flag that latches a selection's S and T.
            m.d.comb += [Assert(~(t.valid & t.load & t.zero), f"lanes_load_not_zero{stage}")
                         for stage, t in enumerate(tags[1:], 1)]
        m.d.comb += self.ahead.eq(tags[-2])

        # B: a stored beat's scores arrive registered; the distance that mode exp and mode 0
        # weigh, d = max(s) - s or s - min(s), is formed on one subtractor a lane, from
        # registers, so that C holds only the ROM and the shift.
        stored = self.stored
        word = Signal(lanes * sb)
        m.d.sync += word.eq(Mux(tag_b.load, self.loaded, stored))
        scores = [word.word_select(lane, sb).as_signed() for lane in range(lanes)]
        dists = [Signal(sb + 1, name=f"dist{lane}") for lane in range(lanes)]
        for lane, d in enumerate(dists):
            s_b = stored.word_select(lane, sb).as_signed()
            m.d.sync += d.eq(Mux(self.exp_mode, self.max_s, s_b)
                             - Mux(self.exp_mode, s_b, self.min_s))

        # C: per lane the factor of its product (the load pass weighs s, or max(s, 0); a
        # selection pass weighs v: in mode exp a word of the ROM E, picked by the fraction of
        # the score's distance d below the row's maximum and shifted right by its octaves),
        # the operands of the statistics' trees, and the masks of the trees it joins.
        top_s, bottom_s = (1 << (sb - 1)) - 1, -(1 << (sb - 1))
        rom = Array(Const(w, ew) for w in exp_table(q, ew))
        factor_d, count_d, all_d = [], [], []
        mask_d = [Signal(lanes, name=f"mask_d{w}") for w in range(self._ways)]
        for lane, s in enumerate(scores):
            use = tag_c.lanes[lane]
            d = dists[lane]                       # max(s) - s, or s - min(s): >= 0
            octave = d[q:]
            exp_value = Mux(octave >= ew, 0, rom[d[:q]] >> octave[:bits_for(ew)])
            clamped = Mux(s < 0, 0, s)
            factor = Signal(signed(self._vb + 1), name=f"factor_d{lane}")
            m.d.sync += factor.eq(Mux(self.clamp_mode, clamped,
                                      Mux(tag_c.load, s,
                                          Mux(self.exp_mode, exp_value, d))))
            # The count buffer is read a cycle after the score buffer: its word is at C.
            count = Signal(cb, name=f"count_d{lane}")
            m.d.sync += count.eq(self.counts.word_select(lane, cb))
            for w in range(self._ways):
                cut = tag_c.cut if self._ways == 1 else self.cuts[w]
                m.d.sync += mask_d[w][lane].eq(use & (tag_c.load | (s > cut)))
            if self._exp_total:
                every = Signal(name=f"all_d{lane}")
                m.d.sync += every.eq(use)
                all_d.append(every)
            factor_d.append(factor)
            count_d.append(count)

        # D: the products, one multiplier per lane; the other operands wait a stage.
        product_e = []
        for lane in range(lanes):
            product = Signal(signed(self._vb + cb + 2), name=f"product_e{lane}")
            m.d.sync += product.eq(factor_d[lane] * count_d[lane])
            product_e.append(product)
        mask_e = [Signal(lanes, name=f"mask_e{w}") for w in range(self._ways)]
        all_e = [Signal(name=f"all_e{lane}") for lane in range(len(all_d))]
        m.d.sync += [a.eq(b) for a, b in zip(mask_e + all_e, mask_d + all_d)]

        # E1..Et: the adder trees, TREE_LEVELS levels a stage, each level's nodes one bit
        # wider than its terms (a sum of 2**l terms needs l more bits, not the total's width).
        def staged(terms, combine, shape_at, name, per_stage=self.TREE_LEVELS):
            level = 0
            for stage in range(tree_stages(len(terms), per_stage)):
                for _ in range(per_stage):
                    if len(terms) > 1:
                        level += 1
                        terms = reduce_levels(m, terms, combine, shape=shape_at(level),
                                              name=f"{name}_l{level}", levels=1,
                                              checked=self._checks)
                held = [Signal(shape_at(level), name=f"{name}_e{stage + 1}_{i}")
                        for i in range(len(terms))]
                m.d.sync += [a.eq(b) for a, b in zip(held, terms)]
                terms = held
            return terms[0]

        add = lambda a, b: a + b                                    # noqa: E731
        lower = lambda a, b: Mux(b < a, b, a)                        # noqa: E731
        higher = lambda a, b: Mux(b > a, b, a)                       # noqa: E731
        product_bits = len(product_e[0])
        for w in range(self._ways):
            m.d.comb += self.sums[w].eq(staged(
                [Mux(mask_e[w][lane], product_e[lane], 0) for lane in range(lanes)],
                add, lambda level: signed(product_bits + level), f"sum{w}"))
        if self._exp_total:
            m.d.comb += self.total.eq(staged(
                [Mux(all_e[lane], product_e[lane][:ew + cb], 0) for lane in range(lanes)],
                add, lambda level: ew + cb + level, "total"))
        else:
            m.d.comb += self.total.eq(0)          # undriven, the Verilog output would be X
        # The row's least and greatest score need no product, and only the load pass's: their
        # trees start in B, from the input's register, one level a stage (a comparator and a
        # multiplexer in a row is the slowest level on an FPGA), and fold before G.
        inputs = [self.loaded.word_select(lane, sb).as_signed() for lane in range(lanes)]
        min_f = staged([Mux(tag_b.lanes[lane], s, top_s) for lane, s in enumerate(inputs)],
                       lower, lambda level: signed(sb), "min", per_stage=1)
        max_f = staged([Mux(tag_b.lanes[lane], s, bottom_s) for lane, s in enumerate(inputs)],
                       higher, lambda level: signed(sb), "max", per_stage=1)
        tag_f = tags[1 + tree_levels(lanes)]
        m.d.comb += self.extremes_done.eq(tag_f.valid & tag_f.load & tag_f.last)
        if self._invariants:
            m.d.comb += [
                self.load_last_ahead.eq(Cat(*(t.valid & t.load & t.last
                                              for t in tags[1:2 + tree_levels(lanes)])).any()),
                self.final_in_flight.eq(Cat(*(t.valid & ~t.load & t.last & t.final
                                              for t in tags[1:])).any())]
        with m.If(tag_f.valid & tag_f.load):
            first = tag_f.first
            m.d.sync += [
                self.min_s.eq(Mux(first | (min_f < self.min_s), min_f, self.min_s)),
                self.max_s.eq(Mux(first | (max_f > self.max_s), max_f, self.max_s)),
            ]
        # The sum of the counts: a tree from D, straight from the count registers, folded a
        # stage before G.
        tag_d = tags[3]
        cnt_f = staged([Mux(tag_d.lanes[lane], count, 0) for lane, count in enumerate(count_d)],
                       add, lambda level: cb + level, "cnt")
        tag_cnt = tags[3 + stages]
        with m.If(tag_cnt.valid & tag_cnt.load):
            m.d.sync += narrow(m, self.sum_c, Mux(tag_cnt.first, 0, self.sum_c) + cnt_f,
                               checks=self._checks, name="sum_c")

        # G, for the load pass: fold the beat into the row's weighted sum.
        with m.If(self.tag.valid & self.tag.load):
            m.d.sync += narrow(m, self.sum_p, Mux(self.tag.first, 0, self.sum_p) + self.sums[0],
                               checks=self._checks, name="sum_p")
        return m
