"""The WiCSum threshold unit (WTU): bucketed WiCSum selection of clusters for a query batch.

Function: SPEC 3 (golden model ``vrex.golden.wtu``). Schedule: the paper's scan, documented in
docs/golden.md: a load pass per row that finds min, max and the weighted total, a threshold and
bucket-width step, one selection pass per bucket from the top until the running sum passes the
threshold (early exit), and a pass that emits the row's mask. The OR of the rows' masks leaves
after the last row.

A batch is: ``ceil(columns / lanes)`` count beats, then per row as many score beats, the last
beat of the last row flagged ``last``.
"""

from amaranth.hdl import Array, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

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
    """WiCSum threshold unit, scan schedule.

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
        Stop the bucket passes once the threshold is passed (the design); ``False`` builds the
        baseline that always makes ``buckets`` passes. The selection is the same.
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

        # Row buffers: the row's scores and the batch's counts, one beat per word, and the OR of
        # the row masks so far.
        m.submodules.score_mem = score_mem = Memory(shape=lanes * sb, depth=depth, init=[])
        m.submodules.count_mem = count_mem = Memory(shape=lanes * cb, depth=depth, init=[])
        m.submodules.final_mem = final_mem = Memory(shape=lanes, depth=depth, init=[])
        s_wr, s_rd = score_mem.write_port(), score_mem.read_port()
        c_wr, c_rd = count_mem.write_port(), count_mem.read_port()
        f_wr, f_rd = final_mem.write_port(), final_mem.read_port()

        beats = Signal(range(depth + 1))          # ceil(columns / lanes)
        m.d.comb += beats.eq((self.columns + lanes - 1) // lanes)

        # Row statistics and the selection state.
        min_s = Signal(signed(sb))
        max_s = Signal(signed(sb))
        sum_p = Signal(signed(tb + 2))            # sum of (s, or max(s, 0)) * cnt
        sum_c = Signal(range(cap * ((1 << cb) - 1) + 1))
        total = Signal(tb)
        hi = Signal(signed(sb + 2))
        span = Signal(sb + 1)                     # hi - lo, the dividend, shifted out MSB first
        quot = Signal(sb + 1)
        rem = Signal(sb + 2)
        div_step = Signal(range(sb + 2))
        width = Signal(sb + 2)                    # bucket width w = span // B + 1
        edge_bits = sb + 4 + bits_for(self._max_buckets)
        edge = Signal(signed(edge_bits))          # v > edge <=> v lies in a bucket <= b
        bucket = Signal(range(self._max_buckets))
        acc = Signal(signed(tb + 2))
        exited = Signal()
        exit_bucket = Signal(range(self._max_buckets))
        exit_edge = Signal(signed(edge_bits))
        first_row = Signal()
        last_row = Signal()
        row_sent = Signal()
        accs = [Signal(signed(tb + 2), name=f"acc{b}") for b in range(self._max_buckets)] \
            if self._schedule == "histogram" else []
        threshold = Signal(tb)
        m.d.comb += threshold.eq((total * self.ratio) >> 16)

        # k counts beats; `stage` says the memory read data (or stage_s) this cycle belongs to
        # beat stage_k, read or taken in the previous cycle.
        k = Signal(range(depth + 1))
        stage = Signal()
        stage_k = Signal(range(depth + 1))
        stage_s = Signal(lanes * sb)

        def valid(lane):
            return stage_k * lanes + lane < self.columns

        def clamp(s):
            return Mux(s < 0, 0, s)

        def value(s):
            return Mux(self.mode, clamp(s), s - min_s)

        def scores(word):
            return [word.word_select(lane, sb).as_signed() for lane in range(lanes)]

        counts = [c_rd.data.word_select(lane, cb) for lane in range(lanes)]

        def load_stage():
            """Fold the staged beat into the row statistics."""
            s = scores(stage_s)
            beat_min, beat_max = Const((1 << (sb - 1)) - 1, signed(sb)), Const(-(1 << (sb - 1)),
                                                                                signed(sb))
            beat_p, beat_c = 0, 0
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
                beat_p = beat_p + Mux(use, Mux(self.mode, clamp(s[lane]), s[lane]) * counts[lane],
                                      0)
                beat_c = beat_c + Mux(use, counts[lane], 0)
            first = stage_k == 0
            with m.If(stage):
                m.d.sync += [
                    min_s.eq(Mux(first | (beat_min < min_s), beat_min, min_s)),
                    max_s.eq(Mux(first | (beat_max > max_s), beat_max, max_s)),
                    sum_p.eq(Mux(first, 0, sum_p) + beat_p),
                    sum_c.eq(Mux(first, 0, sum_c) + beat_c),
                ]

        def emit(ports, mask, final):
            """Stream `beats` mask beats out, reading one beat ahead; returns `done`."""
            advance = ~stage | self.o_mask.ready
            for port in ports:
                m.d.comb += [port.addr.eq(k), port.en.eq(advance)]
            m.d.comb += [self.o_mask.valid.eq(stage), self.o_mask.payload.mask.eq(mask),
                         self.o_mask.payload.final.eq(final)]
            with m.If(advance):
                m.d.sync += [stage.eq(k != beats), stage_k.eq(k)]
                with m.If(k != beats):
                    m.d.sync += k.eq(k + 1)
            return advance & (k == beats)

        with m.FSM():
            with m.State("COUNT"):
                m.d.comb += [self.i_count.ready.eq(1), self.busy.eq(k != 0)]
                with m.If(self.i_count.valid):
                    m.d.comb += [c_wr.addr.eq(k), c_wr.data.eq(self.i_count.payload),
                                 c_wr.en.eq(1)]
                    m.d.sync += k.eq(k + 1)
                    with m.If(k + 1 == beats):
                        m.d.sync += [k.eq(0), first_row.eq(1)]
                        m.next = "LOAD"

            with m.State("LOAD"):
                m.d.comb += [self.busy.eq(1), self.i_score.ready.eq(1), c_rd.addr.eq(k)]
                load_stage()
                m.d.sync += [stage.eq(self.i_score.valid), stage_k.eq(k),
                             stage_s.eq(self.i_score.payload.scores)]
                with m.If(self.i_score.valid):
                    m.d.comb += [s_wr.addr.eq(k), s_wr.data.eq(self.i_score.payload.scores),
                                 s_wr.en.eq(1)]
                    m.d.sync += k.eq(k + 1)
                    with m.If(k + 1 == beats):
                        m.d.sync += [k.eq(0), last_row.eq(self.i_score.payload.last)]
                        m.next = "DRAIN"

            with m.State("DRAIN"):                # the stage takes the row's last beat
                m.d.comb += self.busy.eq(1)
                load_stage()
                m.d.sync += stage.eq(0)
                m.next = "THRESH"

            with m.State("THRESH"):
                m.d.comb += self.busy.eq(1)
                top = Mux(self.mode, clamp(max_s), max_s - min_s)
                lo = Mux(self.mode, clamp(min_s), 0)
                m.d.sync += [
                    total.eq(Mux(self.mode, sum_p, sum_p - min_s * sum_c)),
                    hi.eq(top), span.eq(top - lo),
                    quot.eq(0), rem.eq(0), div_step.eq(0),
                ]
                m.next = "DIVIDE"

            with m.State("DIVIDE"):               # restoring division: one quotient bit a cycle
                m.d.comb += self.busy.eq(1)
                with m.If(div_step == sb + 1):
                    m.d.sync += [
                        width.eq(quot + 1), edge.eq(hi - quot - 1),
                        bucket.eq(0), exited.eq(0), k.eq(0),
                    ]
                    m.next = "SCAN" if self._schedule == "scan" else "HIST"
                with m.Else():
                    trial = Signal(sb + 2)
                    m.d.comb += trial.eq((rem << 1) | span[sb])
                    fits = trial >= self.buckets
                    m.d.sync += [
                        span.eq(span << 1),               # next dividend bit to the top
                        rem.eq(Mux(fits, trial - self.buckets, trial)),
                        quot.eq((quot << 1) | fits),
                        div_step.eq(div_step + 1),
                    ]

            if self._schedule == "scan":
                # One pass per bucket: A(b) = sum over the lanes with v > edge.
                with m.State("SCAN"):
                    m.d.comb += [self.busy.eq(1), s_rd.addr.eq(k), c_rd.addr.eq(k)]
                    m.d.sync += [stage.eq(k != beats), stage_k.eq(k)]
                    add = 0
                    for lane, s in enumerate(scores(s_rd.data)):
                        v = value(s)
                        add = add + Mux(valid(lane) & (v > edge), v * counts[lane], 0)
                    running = Signal(signed(tb + 2))
                    m.d.comb += running.eq(Mux(stage_k == 0, 0, acc) + add)
                    with m.If(stage):
                        m.d.sync += acc.eq(running)
                    with m.If(k != beats):
                        m.d.sync += k.eq(k + 1)
                    with m.Else():
                        passed = running > threshold
                        with m.If(passed & ~exited):
                            m.d.sync += [exited.eq(1), exit_bucket.eq(bucket), exit_edge.eq(edge)]
                        stop = bucket == self.buckets - 1
                        if self._early_exit:
                            stop |= passed
                        with m.If(stop):
                            with m.If(~exited & ~passed):     # nothing passed: the last bucket
                                m.d.sync += [exit_bucket.eq(bucket), exit_edge.eq(edge)]
                            m.d.sync += [k.eq(0), row_sent.eq(0)]
                            m.next = "MASK"
                        with m.Else():
                            m.d.sync += [bucket.eq(bucket + 1), edge.eq(edge - width), k.eq(0)]

            if self._schedule == "histogram":
                with m.State("HIST"):                 # every A(b) in one pass
                    m.d.comb += [self.busy.eq(1), s_rd.addr.eq(k), c_rd.addr.eq(k)]
                    m.d.sync += [stage.eq(k != beats), stage_k.eq(k)]
                    nb = self._max_buckets
                    edges = []
                    for b in range(nb):
                        e = Signal(signed(edge_bits), name=f"edge{b}")
                        m.d.comb += e.eq(hi - (b + 1) * width)
                        edges.append(e)
                    weighted = []
                    for lane, s in enumerate(scores(s_rd.data)):
                        v = Signal(signed(sb + 1), name=f"hv{lane}")
                        p = Signal(signed(sb + cb + 2), name=f"hp{lane}")
                        m.d.comb += [v.eq(value(s)), p.eq(Mux(valid(lane), v * counts[lane], 0))]
                        weighted.append((v, p))
                    passed_any = Const(0)
                    chosen = Const(0, range(nb))
                    for b in range(nb):
                        add = 0
                        for v, p in weighted:
                            add = add + Mux(v > edges[b], p, 0)
                        running = Signal(signed(tb + 2), name=f"hist_running{b}")
                        m.d.comb += running.eq(Mux(stage_k == 0, 0, accs[b]) + add)
                        with m.If(stage):
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
                    with m.If(k != beats):
                        m.d.sync += k.eq(k + 1)
                    with m.Else():
                        e = Mux(passed_any, chosen, self.buckets - 1)
                        exit_sel = Signal(range(nb))
                        m.d.comb += exit_sel.eq(e)
                        m.d.sync += [exit_bucket.eq(exit_sel),
                                     exit_edge.eq(Array(edges)[exit_sel]),
                                     k.eq(0), row_sent.eq(0)]
                        m.next = "MASK"

            with m.State("MASK"):
                m.d.comb += [self.busy.eq(1), self.o_row.valid.eq(~row_sent),
                             self.o_row.payload.exit_bucket.eq(exit_bucket),
                             self.o_row.payload.threshold.eq(threshold),
                             self.o_row.payload.total.eq(total)]
                with m.If(self.o_row.ready):
                    m.d.sync += row_sent.eq(1)
                mask = Signal(lanes)
                for lane, s in enumerate(scores(s_rd.data)):
                    m.d.comb += mask[lane].eq(valid(lane) & (value(s) > exit_edge))
                merged = Mux(first_row, mask, mask | f_rd.data)
                with m.If(stage & self.o_mask.ready):
                    m.d.comb += [f_wr.addr.eq(stage_k), f_wr.data.eq(merged), f_wr.en.eq(1)]
                done = emit((s_rd, f_rd), mask, final=0)
                with m.If(done & (row_sent | self.o_row.ready)):
                    m.d.sync += [k.eq(0), first_row.eq(0)]
                    with m.If(last_row):
                        m.next = "FINAL"
                    with m.Else():
                        m.next = "LOAD"

            with m.State("FINAL"):
                m.d.comb += self.busy.eq(1)
                with m.If(emit((f_rd,), f_rd.data, final=1)):
                    m.d.sync += k.eq(0)
                    m.next = "COUNT"
        return m
