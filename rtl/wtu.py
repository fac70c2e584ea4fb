"""The WiCSum threshold unit (WTU): bucketed WiCSum selection of clusters for a query batch.

Function: SPEC 3 (golden model ``vrex.golden.wtu``). Schedule (docs/wtu.md, cycle model in
``vrex.golden.wtu.wtu_cycles``): per row a load pass that folds min, max and the weighted total
as the beats arrive, one cycle for the threshold and the bucket width, then selection passes
from the top bucket that stop as soon as the running sum passes the threshold (early exit).
The row's mask leaves while the next row loads; the OR of the rows' masks leaves after the last
row.

A batch is: ``ceil(columns / lanes)`` count beats, then per row as many score beats, the last
beat of the last row flagged ``last``.
"""

from amaranth.hdl import Array, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from .arith import reciprocal, reciprocal_shift
from .params import check_int

__all__ = ["WTU", "score_layout", "row_layout", "mask_layout"]


def score_layout(score_bits: int, lanes: int) -> data.StructLayout:
    """Payload of ``i_score``: ``lanes`` signed scores (lane 0 at the LSB) and ``last``."""
    return data.StructLayout({"scores": data.ArrayLayout(signed(score_bits), lanes), "last": 1})


def row_layout(score_bits: int, count_bits: int, max_clusters: int,
               max_buckets: int) -> data.StructLayout:
    """Payload of ``o_row``: the row's exit bucket, threshold ``T`` and total ``S``."""
    total = _total_bits(score_bits, count_bits, max_clusters)
    return data.StructLayout({"exit_bucket": range(max_buckets), "threshold": total,
                              "total": total})


def mask_layout(lanes: int) -> data.StructLayout:
    """Payload of ``o_mask``: ``lanes`` selection bits and whether this is the final mask."""
    return data.StructLayout({"mask": lanes, "final": 1})


def _total_bits(score_bits, count_bits, max_clusters):
    return max(1, (max_clusters * ((1 << score_bits) - 1) * ((1 << count_bits) - 1))
               .bit_length())


class WTU(wiring.Component):
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
    early_exit : bool
        Stop the scan as soon as the running sum passes the threshold, even inside a pass (the
        design); ``False`` builds the baseline that always makes ``buckets`` whole passes. The
        selection is the same.
    schedule : str
        ``"scan"``: one selection pass per bucket from the top (the paper's). ``"histogram"``:
        one pass that accumulates every bucket's prefix sum ``A(b)`` at once (``max_buckets``
        adder trees), then picks the first ``A(b) > T``; a fixed cost for more adders.

    Members
    -------
    columns : In(range(max_clusters + 1))
        Clusters in the batch, 1..max_clusters. Held for the whole batch.
    ratio : In(16)
        Unsigned Q0.16 WiCSum ratio. Held for the whole batch.
    buckets : In(range(max_buckets + 1))
        Buckets ``B``, 1..max_buckets. Held for the whole batch.
    mode : In(1)
        0: ``v = s - min(s)``; 1: ``v = max(s, 0)``. Held for the whole batch.
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

    def __init__(self, *, score_bits=16, count_bits=16, max_clusters=1024, lanes=16,
                 max_buckets=16, early_exit=True, schedule="scan"):
        check_int(self, "score_bits", score_bits, 2, 32)
        check_int(self, "count_bits", count_bits, 1, 32)
        check_int(self, "max_clusters", max_clusters, 1, 1 << 16)
        check_int(self, "lanes", lanes, 1, max_clusters)
        check_int(self, "max_buckets", max_buckets, 1, 1 << 10)
        total = _total_bits(score_bits, count_bits, max_clusters)
        if total > 63:
            self._MustUse__used = True
            raise ValueError(f"score_bits + count_bits + log2(max_clusters) must fit a 63-bit "
                             f"total, not {total} bits")
        self._score_bits = score_bits
        self._count_bits = count_bits
        self._max_clusters = max_clusters
        self._lanes = lanes
        self._max_buckets = max_buckets
        self._early_exit = bool(early_exit)
        if schedule not in ("scan", "histogram"):
            self._MustUse__used = True
            raise ValueError(f"schedule must be 'scan' or 'histogram', not {schedule!r}")
        self._schedule = schedule
        self._total_bits = total
        super().__init__({
            "columns": In(range(max_clusters + 1)),
            "ratio": In(16),
            "buckets": In(range(max_buckets + 1)),
            "mode": In(1),
            "i_count": In(stream.Signature(data.ArrayLayout(count_bits, lanes))),
            "i_score": In(stream.Signature(score_layout(score_bits, lanes))),
            "o_row": Out(stream.Signature(row_layout(score_bits, count_bits, max_clusters,
                                                     max_buckets))),
            "o_mask": Out(stream.Signature(mask_layout(lanes))),
            "busy": Out(1),
        })

    @classmethod
    def from_config(cls, config, *, early_exit: bool = True) -> "WTU":
        """The WTU of a :class:`vrex.golden.config.Config`."""
        return cls(score_bits=config.score_bits, count_bits=config.count_bits,
                   max_clusters=config.max_clusters, lanes=config.wtu_lanes,
                   max_buckets=config.max_buckets, early_exit=early_exit,
                   schedule=config.wtu_schedule.name.lower())

    score_bits = property(lambda self: self._score_bits)
    count_bits = property(lambda self: self._count_bits)
    max_clusters = property(lambda self: self._max_clusters)
    lanes = property(lambda self: self._lanes)
    max_buckets = property(lambda self: self._max_buckets)
    early_exit = property(lambda self: self._early_exit)
    schedule = property(lambda self: self._schedule)

    def elaborate(self, platform):
        m = Module()
        sb, cb, lanes = self._score_bits, self._count_bits, self._lanes
        cap, tb = self._max_clusters, self._total_bits
        depth = -(-cap // lanes)
        scan = self._schedule == "scan"

        # Row buffers: the row's scores and the batch's counts, one beat per word, and the OR of
        # the row masks so far. The count port sees a write in the same cycle (a one-beat batch
        # loads right after its count beat); the score port reads the old word while the next
        # row overwrites it (the mask of row r leaves while row r + 1 loads).
        m.submodules.score_mem = score_mem = Memory(shape=lanes * sb, depth=depth, init=[])
        m.submodules.count_mem = count_mem = Memory(shape=lanes * cb, depth=depth, init=[])
        m.submodules.final_mem = final_mem = Memory(shape=lanes, depth=depth, init=[])
        s_wr, s_rd = score_mem.write_port(), score_mem.read_port()
        c_wr = count_mem.write_port()
        c_rd = count_mem.read_port(transparent_for=(c_wr,))
        f_wr, f_rd = final_mem.write_port(), final_mem.read_port()

        beats = Signal(range(depth + 1))          # ceil(columns / lanes)
        m.d.comb += beats.eq((self.columns + lanes - 1) // lanes)
        k = Signal(range(depth + 1))              # the beat being loaded or weighed
        last_beat = k + 1 == beats

        def valid(lane, index=k):
            return index * lanes + lane < self.columns

        def clamp(s):
            return Mux(s < 0, 0, s)

        def scores(word):
            return [word.word_select(lane, sb).as_signed() for lane in range(lanes)]

        counts = [c_rd.data.word_select(lane, cb) for lane in range(lanes)]

        # Row statistics and the selection state.
        min_s = Signal(signed(sb))
        max_s = Signal(signed(sb))
        sum_p = Signal(signed(tb + 2))            # sum of (s, or max(s, 0)) * cnt
        sum_c = Signal(range(cap * ((1 << cb) - 1) + 1))
        total = Signal(tb)
        width = Signal(sb + 2)                    # bucket width w = span // B + 1
        edge_bits = sb + 4 + bits_for(self._max_buckets)
        edge = Signal(signed(edge_bits))          # v > edge <=> v lies in a bucket <= b
        bucket = Signal(range(self._max_buckets))
        acc = Signal(signed(tb + 2))
        exited = Signal()                         # without early exit: the exit is known
        found_bucket = Signal(range(self._max_buckets))   # ... and is this bucket
        found_edge = Signal(signed(edge_bits))
        first_row = Signal()
        last_row = Signal()
        threshold = Signal(tb)
        m.d.comb += threshold.eq((total * self.ratio) >> 16)

        # One multiplier per lane and one adder tree, shared: the load pass weighs the incoming
        # beat (s, or max(s, 0), times its count) and adds every lane; a selection pass weighs
        # the stored row's values and adds the lanes with v > edge.
        loading = Signal()                        # set in LOAD
        stored = []                               # (v, v * cnt) of the stored beat, per lane
        beat_sum = 0
        for lane, (s_new, s_old) in enumerate(zip(scores(self.i_score.payload.scores.as_value()),
                                                  scores(s_rd.data))):
            v = Signal(signed(sb + 1), name=f"v{lane}")
            factor = Signal(signed(sb + 1), name=f"factor{lane}")
            product = Signal(signed(sb + cb + 2), name=f"product{lane}")
            m.d.comb += [
                v.eq(Mux(self.mode, clamp(s_old), s_old - min_s)),
                factor.eq(Mux(loading, Mux(self.mode, clamp(s_new), s_new), v)),
                product.eq(factor * counts[lane]),
            ]
            stored.append((v, product))
            beat_sum = beat_sum + Mux(valid(lane) & (loading | (v > edge)), product, 0)
        weighed = Signal(signed(tb + 2))
        m.d.comb += weighed.eq(beat_sum)

        # The mask emitter: row r's mask (and its o_row beat) leaves while row r + 1 loads;
        # after the last row, the OR-ed final mask. It reads one beat ahead: e_k is the next
        # word to read, e_stage says the read data holds word e_stage_k.
        e_active = Signal()
        e_final = Signal()                        # emitting the final mask
        e_first = Signal()                        # row 0: nothing to OR with
        e_row_sent = Signal()
        e_k = Signal(range(depth + 1))
        e_stage = Signal()
        e_stage_k = Signal(range(depth + 1))
        cut = Signal(signed(edge_bits + 1))      # v > exit edge <=> s > cut
        exit_bucket = Signal(range(self._max_buckets))
        e_advance = ~e_stage | self.o_mask.ready
        e_reading = e_active & (e_k != beats)
        e_done = Signal()
        m.d.comb += e_done.eq(e_active & e_advance & (e_k == beats)
                              & (e_final | e_row_sent | self.o_row.ready))
        row_mask = Signal(lanes)
        for lane, s in enumerate(scores(s_rd.data)):
            m.d.comb += row_mask[lane].eq(valid(lane, e_stage_k) & (s > cut))
        with m.If(e_active):
            m.d.comb += [
                s_rd.addr.eq(e_k), s_rd.en.eq(e_advance), f_rd.addr.eq(e_k),
                f_rd.en.eq(e_advance),
                self.o_mask.valid.eq(e_stage),
                self.o_mask.payload.mask.eq(Mux(e_final, f_rd.data, row_mask)),
                self.o_mask.payload.final.eq(e_final),
                self.o_row.valid.eq(~e_final & ~e_row_sent),
                self.o_row.payload.exit_bucket.eq(exit_bucket),
                self.o_row.payload.threshold.eq(threshold),
                self.o_row.payload.total.eq(total),
            ]
            with m.If(self.o_row.ready):
                m.d.sync += e_row_sent.eq(1)
            with m.If(e_stage & self.o_mask.ready & ~e_final):
                m.d.comb += [f_wr.addr.eq(e_stage_k), f_wr.en.eq(1),
                             f_wr.data.eq(Mux(e_first, row_mask, row_mask | f_rd.data))]
            with m.If(e_advance):
                m.d.sync += [e_stage.eq(e_k != beats), e_stage_k.eq(e_k)]
                with m.If(e_k != beats):
                    m.d.sync += e_k.eq(e_k + 1)
            with m.If(e_done):
                m.d.sync += e_active.eq(0)

        def start_emitter(final):
            m.d.sync += [e_active.eq(1), e_final.eq(final), e_k.eq(0), e_stage.eq(0),
                         e_row_sent.eq(0)]

        def exit_at(b, edge_value):
            """Leave the selection with exit bucket ``b``: its mask is ``v > edge_value``."""
            m.d.sync += [exit_bucket.eq(b), e_first.eq(first_row), first_row.eq(0), k.eq(0),
                         cut.eq(Mux(self.mode, Mux(edge_value < 0, -(1 << (sb - 1)) - 1,
                                                   edge_value),
                                    edge_value + min_s))]
            start_emitter(final=0)
            with m.If(last_row):
                m.next = "FLUSH"
            with m.Else():
                m.next = "LOAD"

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

            with m.State("LOAD"):                 # fold each beat as it arrives
                # The emitter must have read word k of the previous row before it is replaced.
                free = ~e_reading | (e_k > k) | ((e_k == k) & e_advance)
                take = self.i_score.valid & free
                m.d.comb += [self.busy.eq(1), self.i_score.ready.eq(free), loading.eq(1),
                             c_rd.addr.eq(k + take)]          # the counts of the next beat
                s = scores(self.i_score.payload.scores.as_value())
                beat_min = Const((1 << (sb - 1)) - 1, signed(sb))
                beat_max = Const(-(1 << (sb - 1)), signed(sb))
                beat_c = 0
                for lane in range(lanes):
                    use = valid(lane)
                    # Each fold step is a signal: reused expressions would otherwise be copied
                    # into the netlist once per use, doubling with every lane.
                    step_min = Signal(signed(sb), name=f"beat_min{lane}")
                    step_max = Signal(signed(sb), name=f"beat_max{lane}")
                    m.d.comb += [
                        step_min.eq(Mux(use & (s[lane] < beat_min), s[lane], beat_min)),
                        step_max.eq(Mux(use & (s[lane] > beat_max), s[lane], beat_max)),
                    ]
                    beat_min, beat_max = step_min, step_max
                    beat_c = beat_c + Mux(use, counts[lane], 0)
                first = k == 0
                with m.If(take):
                    m.d.comb += [s_wr.addr.eq(k), s_wr.data.eq(self.i_score.payload.scores),
                                 s_wr.en.eq(1)]
                    m.d.sync += [
                        min_s.eq(Mux(first | (beat_min < min_s), beat_min, min_s)),
                        max_s.eq(Mux(first | (beat_max > max_s), beat_max, max_s)),
                        sum_p.eq(Mux(first, 0, sum_p) + weighed),
                        sum_c.eq(Mux(first, 0, sum_c) + beat_c),
                        k.eq(k + 1),
                    ]
                    with m.If(last_beat):
                        m.d.sync += [k.eq(0), last_row.eq(self.i_score.payload.last)]
                        m.next = "THRESH"

            with m.State("THRESH"):               # total, bucket width and top edge
                m.d.comb += self.busy.eq(1)
                top = Signal(sb, name="top")      # hi = max(v) < 2**sb
                span = Signal(sb, name="span")    # hi - lo
                m.d.comb += [top.eq(Mux(self.mode, clamp(max_s), max_s - min_s)),
                             span.eq(top - Mux(self.mode, clamp(min_s), 0))]
                # span // B without a divider: a ROM of reciprocals and one multiply.
                shift = reciprocal_shift(sb, self._max_buckets)
                recips = Array(Const(reciprocal(b, shift) if b else 0, shift + 1)
                               for b in range(self._max_buckets + 1))
                quot = Signal(sb, name="quot")
                m.d.comb += quot.eq((span * recips[self.buckets]) >> shift)
                # The previous row's emitter must be done with the score port and the total.
                with m.If(~e_active | e_done):
                    m.d.comb += [s_rd.addr.eq(0), c_rd.addr.eq(0)]    # the first pass's beat
                    m.d.sync += [
                        total.eq(Mux(self.mode, sum_p, sum_p - min_s * sum_c)),
                        width.eq(quot + 1), edge.eq(top - quot - 1),
                        bucket.eq(0), exited.eq(0), k.eq(0),
                    ]
                    m.next = "SCAN" if scan else "HIST"

            if scan:
                # One pass per bucket from the top: A(b) = sum over the lanes with v > edge.
                # Values and counts are never negative, so once a pass's running sum is past T
                # the bucket is the exit: with early exit the pass stops there.
                with m.State("SCAN"):
                    m.d.comb += self.busy.eq(1)
                    running = Signal(signed(tb + 2))
                    m.d.comb += running.eq(Mux(k == 0, 0, acc) + weighed)
                    passed = running > threshold
                    end_of_pass = last_beat
                    last_bucket = bucket == self.buckets - 1
                    if self._early_exit:
                        leave = passed | (end_of_pass & last_bucket)
                    else:
                        leave = end_of_pass & last_bucket
                    # The next beat: 0 at the end of a pass and when leaving (the next row's
                    # load wants the first count word).
                    next_k = Mux(end_of_pass | leave, 0, k + 1)
                    m.d.comb += [s_rd.addr.eq(next_k), c_rd.addr.eq(next_k)]
                    m.d.sync += [acc.eq(running), k.eq(next_k)]
                    if not self._early_exit:
                        with m.If(end_of_pass & passed & ~exited):
                            m.d.sync += [exited.eq(1), found_bucket.eq(bucket),
                                         found_edge.eq(edge)]
                    with m.If(leave):
                        if self._early_exit:
                            exit_at(bucket, edge)
                        else:
                            with m.If(exited):
                                exit_at(found_bucket, found_edge)
                            with m.Else():                # B - 1: passed now, or never
                                exit_at(bucket, edge)
                    with m.Elif(end_of_pass):
                        m.d.sync += [bucket.eq(bucket + 1), edge.eq(edge - width)]

            if not scan:
                with m.State("HIST"):                 # every A(b) in one pass
                    m.d.comb += self.busy.eq(1)
                    nb = self._max_buckets
                    edges = []
                    for b in range(nb):
                        e = Signal(signed(edge_bits), name=f"edge{b}")
                        m.d.comb += e.eq(edge - b * width)
                        edges.append(e)
                    weighted = []
                    for lane, (v, product) in enumerate(stored):
                        p = Signal(signed(sb + cb + 2), name=f"hist_p{lane}")
                        m.d.comb += p.eq(Mux(valid(lane), product, 0))
                        weighted.append((v, p))
                    accs = [Signal(signed(tb + 2), name=f"acc{b}") for b in range(nb)]
                    passed_any = Const(0)
                    chosen = Const(0, range(nb))
                    for b in range(nb):
                        add = 0
                        for v, p in weighted:
                            add = add + Mux(v > edges[b], p, 0)
                        running = Signal(signed(tb + 2), name=f"hist_running{b}")
                        m.d.comb += running.eq(Mux(k == 0, 0, accs[b]) + add)
                        m.d.sync += accs[b].eq(running)
                        hit = Signal(name=f"hist_hit{b}")
                        step_any = Signal(name=f"hist_any{b}")
                        step_chosen = Signal(range(nb), name=f"hist_chosen{b}")
                        m.d.comb += [
                            hit.eq((running > threshold) & (b < self.buckets) & ~passed_any),
                            step_any.eq(passed_any | hit),
                            step_chosen.eq(Mux(hit, b, chosen)),
                        ]
                        passed_any, chosen = step_any, step_chosen
                    next_k = Mux(last_beat, 0, k + 1)
                    m.d.comb += [s_rd.addr.eq(next_k), c_rd.addr.eq(next_k)]
                    m.d.sync += k.eq(next_k)
                    with m.If(last_beat):
                        exit_sel = Signal(range(nb))
                        m.d.comb += exit_sel.eq(Mux(passed_any, chosen, self.buckets - 1))
                        exit_at(exit_sel, Array(edges)[exit_sel])

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
