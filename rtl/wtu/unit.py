"""The WTU: its parameters and ports, the row buffers, and the batch's sequence of stages."""

from amaranth.hdl import Assert, Cat, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from vrex.golden.config import wicsum_total_bits
from vrex.interface.layouts import count_layout, mask_layout, row_layout, score_layout

from ..arith import word_lanes
from ..params import CheckedParams, check_int
from .emitter import MaskEmitter
from .lanes import LanePipeline
from .schedule import Selection
from .setup import RowSetup

__all__ = ["WTU", "state_layout", "STATES"]

#: The unit's FSM states, in order (SETUP0.. grouped as SETUP).
STATES = ("COUNT", "LOAD", "DRAIN", "SPAN", "SETUP", "SELECT", "FLUSH", "FINAL")


def state_layout(max_clusters: int, lanes: int) -> data.StructLayout:
    """``WTU(checks=...).state``: one flag a state of :data:`STATES`, the beat counter, the
    batch's beats a row and its mode's decodes, the last row's flag, the emitter's, and
    whether the selection has a decision pending."""
    beats = range(-(-max_clusters // lanes) + 1)
    return data.StructLayout({
        **{name.lower(): 1 for name in STATES}, "k": beats, "beats": beats, "clamp_mode": 1,
        "exp_mode": 1, "last_row": 1, "select_pending": 1,
        "em_active": 1, "em_final": 1, "em_k": beats, "em_r_valid": 1, "em_o_valid": 1,
        "em_row_sent": 1})


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
    checks : bool, "ranges" or "control"
        Embed ``Assert``s for ``vrex formal`` to prove; off in the generated Verilog. Every
        kind has the row buffers' collision checks. ``"ranges"``: beside every narrowing
        assignment of the accumulators, the adder trees and the row setup, that the value
        fits its register (the bounded proofs). ``"control"``: the control state's
        invariants and the member ``state`` (the unbounded proof over any number of batches
        of free data, whose accumulators it does not bound). ``True``: both.

    Members
    -------
    columns : In(range(max_clusters + 1))
        Clusters in the batch, 1..max_clusters. Held from the cycle before the batch's first
        count beat (or from reset) to its final mask, like ``mode``: the unit registers both.
    ratio : In(16)
        Unsigned Q0.16 WiCSum ratio. Held for the whole batch.
    buckets : In(range(max_buckets + 1))
        Buckets ``B``, 1..max_buckets. Held for the whole batch.
    mode : In(2)
        0: ``v = s - min(s)``; 1: ``v = max(s, 0)``; 2: ``v = E[d mod 2**q] >> (d >> q)``,
        ``d = max(s) - s`` (3 acts as 0). Held from the cycle before the batch's first count
        beat (or from reset) to its final mask.
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
    state : Out(state_layout(...))
        With ``checks`` True or ``"control"``: the FSM's state, the beat counter, the batch's
        beats a row, the last row's flag and the emitter's state, for a proof's invariants
        (formal/wtu_streams.py).
    """

    @classmethod
    def check(cls, *, score_bits, count_bits, max_clusters, lanes, max_buckets, exp_frac,
              exp_bits, schedule, checks, **_):
        check_int("score_bits", score_bits, 2, 32)
        check_int("count_bits", count_bits, 1, 32)
        check_int("max_clusters", max_clusters, 1, 1 << 16)
        check_int("lanes", lanes, 1, max_clusters)
        check_int("max_buckets", max_buckets, 1, 1 << 10)
        check_int("exp_frac", exp_frac, 0, 6)
        check_int("exp_bits", exp_bits, 1, 24)
        if checks not in (False, True, "ranges", "control"):
            raise ValueError(f"checks must be False, True, 'ranges' or 'control', "
                             f"not {checks!r}")
        total = wicsum_total_bits(max(score_bits, exp_bits), count_bits, max_clusters)
        if total > 63:
            raise ValueError(f"max(score_bits, exp_bits) + count_bits + log2(max_clusters) "
                             f"must fit a 63-bit total, not {total} bits")
        if schedule not in ("scan", "histogram"):
            raise ValueError(f"schedule must be 'scan' or 'histogram', not {schedule!r}")

    def __init__(self, *, score_bits=16, count_bits=16, max_clusters=1024, lanes=16,
                 max_buckets=16, exp_frac=4, exp_bits=16, exp=True, early_exit=True,
                 schedule="scan", checks=False):
        self._exp = bool(exp)
        self._exp_frac = exp_frac
        self._exp_bits = exp_bits
        self._value_bits = max(score_bits, exp_bits)
        self._score_bits = score_bits
        self._count_bits = count_bits
        self._max_clusters = max_clusters
        self._lanes = lanes
        self._max_buckets = max_buckets
        self._early_exit = bool(early_exit)
        self._schedule = schedule
        self._checks = bool(checks)               # the buffers' collision checks
        self._ranges = checks in (True, "ranges")
        self._control = checks in (True, "control")
        self._total_bits = wicsum_total_bits(self._value_bits, count_bits, max_clusters)
        super().__init__({
            "columns": In(range(max_clusters + 1)),
            "ratio": In(16),
            "buckets": In(range(max_buckets + 1)),
            "mode": In(2),
            "i_count": In(stream.Signature(count_layout(count_bits, lanes))),
            "i_score": In(stream.Signature(score_layout(score_bits, lanes))),
            "o_row": Out(stream.Signature(row_layout(self._value_bits, count_bits,
                                                     max_clusters, max_buckets))),
            "o_mask": Out(stream.Signature(mask_layout(lanes))),
            "busy": Out(1),
            **({"state": Out(state_layout(max_clusters, lanes))} if self._control else {}),
        })

    @classmethod
    def from_config(cls, config, *, early_exit: bool = True, exp: bool = True,
                    checks=False) -> "WTU":
        """The WTU of a :class:`vrex.golden.config.Config`."""
        return cls(score_bits=config.score_bits, count_bits=config.count_bits,
                   max_clusters=config.max_clusters, lanes=config.wtu_lanes,
                   max_buckets=config.max_buckets, exp_frac=config.exp_frac,
                   exp_bits=config.exp_bits, exp=exp, early_exit=early_exit,
                   schedule=config.wtu_schedule.name.lower(), checks=checks)

    score_bits = property(lambda self: self._score_bits)
    count_bits = property(lambda self: self._count_bits)
    max_clusters = property(lambda self: self._max_clusters)
    lanes = property(lambda self: self._lanes)
    max_buckets = property(lambda self: self._max_buckets)
    exp_frac = property(lambda self: self._exp_frac)
    exp_bits = property(lambda self: self._exp_bits)
    early_exit = property(lambda self: self._early_exit)
    exp = property(lambda self: self._exp)
    schedule = property(lambda self: self._schedule)

    @property
    def latencies(self) -> dict[str, int]:
        """The stages' latencies in cycles, as the cycle model (``vrex.golden.wtu``) counts them:
        ``pipeline`` (a beat's issue to its accumulation), ``extremes`` (a beat's issue to the
        fold of its least and greatest score), ``row_setup`` (the extremes' last fold to the
        selection's first issue: the emitter's wait, the setup's registers to the edge, the
        latch), ``decide``, ``mask`` (a mask's start to its first beat), and mode ``exp``'s
        ``exp_decide`` (bucket 0 decided after pass 0's last beat) and ``exp_bubble`` (pass 1
        issued late)."""
        return {"pipeline": LanePipeline.latency_of(self._lanes),
                "extremes": LanePipeline.extremes_latency_of(self._lanes),
                "row_setup": RowSetup.edge_latency + 1, "decide": Selection.decide,
                "mask": MaskEmitter.latency, "exp_decide": RowSetup.total_latency + 1,
                "exp_bubble": RowSetup.total_latency}

    def passes(self, beat_sum, left):
        """The exit comparator: the running sum passes ``T`` when the beat's sum exceeds what
        ``T`` leaves of it. A method so that a test can break it and see the proofs fail."""
        return beat_sum > left

    def elaborate(self, platform):
        m = Module()
        sb, cb, lanes, cap = self._score_bits, self._count_bits, self._lanes, self._max_clusters
        nb, tb = self._max_buckets, self._total_bits
        depth = -(-cap // lanes)
        scan = self._schedule == "scan"
        ways = 1 if scan else nb                  # adder trees: one per bucket in a histogram
        sizes = dict(score_bits=sb, max_clusters=cap, max_buckets=nb, total_bits=tb)

        m.submodules.lanes = pipe = LanePipeline(
            **sizes, count_bits=cb, lanes=lanes, exp_frac=self._exp_frac,
            exp_bits=self._exp_bits, ways=ways, exp_total=scan and self._exp,
            checks=self._ranges, invariants=self._control)
        m.submodules.setup = setup = RowSetup(**sizes, count_bits=cb, checks=self._ranges)
        m.submodules.select = select = Selection(
            **sizes, lanes=lanes, ways=ways, scan=scan, early_exit=self._early_exit,
            exp=self._exp, passes=self.passes, checks=self._ranges, invariants=self._control)
        m.submodules.emitter = emitter = MaskEmitter(
            **sizes, count_bits=cb, lanes=lanes, value_bits=self._value_bits,
            checks=self._control)

        # Row buffers: the row's scores and the batch's counts, one beat per word, and the OR of
        # the row masks so far. The mask of row r leaves while row r + 1 loads: a score beat
        # is written into the buffer a cycle after it is taken, by which time the emitter has
        # read the word it replaces, so no read meets a write to its word (`no_rw_check`: Yosys
        # adds no logic to order the two).
        m.submodules.score_mem = score_mem = Memory(shape=lanes * sb, depth=depth, init=[],
                                                    attrs={"no_rw_check": 1})
        # Count beats are written a cycle late too, from a register (they come straight out
        # of the HCU's block RAM); the load pass's first read of them is a cycle later still.
        m.submodules.count_mem = count_mem = Memory(shape=lanes * cb, depth=depth, init=[],
                                                    attrs={"no_rw_check": 1})
        m.submodules.final_mem = final_mem = Memory(shape=lanes, depth=depth, init=[],
                                                    attrs={"no_rw_check": 1})
        s_wr, s_rd = score_mem.write_port(), score_mem.read_port()
        c_wr = count_mem.write_port()
        c_rd = count_mem.read_port()
        f_wr, f_rd = final_mem.write_port(), final_mem.read_port()

        k = Signal(range(depth + 1))              # the count or score beat to take
        # The beat to write, a cycle after it is taken; also the lanes' register of its scores.
        store = Signal(data.StructLayout({"valid": 1, "addr": range(depth),
                                          "data": lanes * sb}))
        # (Their data and address follow the input every cycle: a register without an enable.)
        m.d.sync += [store.valid.eq(0), store.addr.eq(k),
                     store.data.eq(self.i_score.payload.scores)]
        s_word = Signal(lanes * sb)               # the score buffer's word, registered
        count_store = Signal(data.StructLayout({"valid": 1, "addr": range(depth),
                                                "data": lanes * cb}))
        m.d.sync += [count_store.valid.eq(0), count_store.addr.eq(k),
                     count_store.data.eq(self.i_count.payload)]
        m.d.comb += [c_wr.addr.eq(count_store.addr), c_wr.data.eq(count_store.data),
                     c_wr.en.eq(count_store.valid)]

        # The batch's parameters, and the stages wired together.
        # Beats a row and the mode's decodes come from flip-flops: they reach most of the
        # datapath. Reset-less, so they follow the settings through reset too.
        clamp_mode, exp_mode = Signal(reset_less=True), Signal(reset_less=True)
        beats = Signal(range(depth + 1), reset_less=True)
        m.d.sync += [clamp_mode.eq(self.mode == 1), beats.eq((self.columns + lanes - 1) // lanes)]
        if self._exp:
            m.d.sync += exp_mode.eq(self.mode == 2)
        for stage in (pipe, setup, select):
            m.d.comb += [stage.clamp_mode.eq(clamp_mode), stage.exp_mode.eq(exp_mode)]
        m.d.comb += [
            pipe.loaded.eq(store.data), pipe.stored.eq(s_word),
            pipe.counts.eq(c_rd.data), pipe.cuts.eq(select.cuts),
            setup.min_s.eq(pipe.min_s), setup.max_s.eq(pipe.max_s),
            setup.sum_p.eq(pipe.sum_p), setup.sum_c.eq(pipe.sum_c),
            setup.exp_total.eq(select.exp_total), setup.buckets.eq(self.buckets),
            setup.ratio.eq(self.ratio),
            select.setup_total.eq(setup.total), select.setup_threshold.eq(setup.threshold),
            select.setup_width.eq(setup.width), select.setup_edge.eq(setup.edge),
            select.min_s.eq(pipe.min_s), select.buckets.eq(self.buckets),
            select.beats.eq(beats), select.columns.eq(self.columns),
            select.tag.eq(pipe.tag), select.ahead.eq(pipe.ahead), select.sums.eq(pipe.sums),
            select.pass_total.eq(pipe.total),
            pipe.flush.eq(select.done),
            *([select.final_in_flight.eq(pipe.final_in_flight)] if self._control else []),
            emitter.beats.eq(beats), emitter.columns.eq(self.columns),
            emitter.threshold.eq(select.threshold), emitter.total.eq(select.total),
            emitter.cut.eq(select.cut), emitter.exit_bucket.eq(select.exit_bucket),
            emitter.s_data.eq(s_word), emitter.f_data.eq(f_rd.data),
            f_rd.addr.eq(emitter.f_addr), f_rd.en.eq(emitter.f_en),
            f_wr.addr.eq(emitter.f_wr_addr), f_wr.en.eq(emitter.f_wr_en),
            f_wr.data.eq(emitter.f_wr_data),
        ]
        wiring.connect(m, wiring.flipped(self.o_row), emitter.o_row)
        wiring.connect(m, wiring.flipped(self.o_mask), emitter.o_mask)
        # The score buffer's read port: the emitter's while it runs, else the selection's, a
        # cycle ahead of its issue (the two never overlap: a selection starts after the
        # previous row's mask has left). The word read goes into one register, which the two
        # share: the block RAM's slow output drives nothing else.
        with m.If(~emitter.active | emitter.o_advance):
            m.d.sync += s_word.eq(s_rd.data)
        with m.If(emitter.active):
            m.d.comb += [s_rd.addr.eq(emitter.s_addr), s_rd.en.eq(emitter.s_en)]
        with m.Else():
            m.d.comb += s_rd.addr.eq(select.next_addr)
        # The count buffer's read address, a cycle behind the score buffer's: its word reaches
        # the lanes at C, beside the operands, through one register fewer.
        count_addr = Signal.like(c_rd.addr)       # the beat issued this cycle
        m.d.sync += c_rd.addr.eq(count_addr)
        with m.If(select.issue.valid):
            m.d.comb += count_addr.eq(select.addr)
            m.d.comb += [getattr(pipe.issue, name).eq(getattr(select.issue, name))
                         for name in select.issue.shape().members]
        m.d.comb += [s_wr.addr.eq(store.addr), s_wr.data.eq(store.data),
                     s_wr.en.eq(store.valid)]
        if self._checks:
            # What no_rw_check relies on: no read whose word is used meets the store's write.
            # The emitter's reads are used as they are made; the selection's a cycle later, if
            # it issues the beat.
            collides = store.valid & (s_rd.addr == store.addr)
            ahead_collided = Signal()
            issued = Signal()                     # a beat was issued last cycle
            m.d.sync += [ahead_collided.eq(~emitter.active & collides),
                         issued.eq(pipe.issue.valid)]
            m.d.comb += [
                Assert(~(emitter.active & emitter.s_en & (emitter.k != beats) & collides),
                       "score_buffer_no_collision"),
                Assert(~(select.issue.valid & ahead_collided), "score_buffer_no_collision_ahead"),
                # A beat's count word is read the cycle after its issue: never as it is written.
                Assert(~(issued & count_store.valid & (c_rd.addr == count_store.addr)),
                       "count_buffer_no_collision")]

        last_beat = k + 1 == beats
        first_row, last_row = Signal(), Signal()

        with m.FSM() as fsm:
            with m.State("COUNT"):
                m.d.comb += [self.i_count.ready.eq(1), self.busy.eq((k != 0) | emitter.active)]
                with m.If(self.i_count.valid):
                    m.d.sync += count_store.valid.eq(1)
                    m.d.sync += k.eq(k + 1)
                    with m.If(last_beat):
                        m.d.sync += [k.eq(0), first_row.eq(1)]
                        m.next = "LOAD"

            with m.State("LOAD"):                 # each beat into the buffer and the pipeline
                # The emitter must have read word k of the previous row before it is replaced.
                reading = emitter.active & (emitter.k != beats)
                free = ~reading | (emitter.k > k) | ((emitter.k == k) & emitter.advance)
                m.d.comb += [self.busy.eq(1), self.i_score.ready.eq(free), count_addr.eq(k)]
                with m.If(self.i_score.valid & free):
                    m.d.sync += store.valid.eq(1)
                    m.d.comb += [pipe.issue.valid.eq(1), pipe.issue.load.eq(1),
                                 pipe.issue.first.eq(k == 0), pipe.issue.last.eq(last_beat),
                                 pipe.issue.lanes.eq(word_lanes(k, lanes, self.columns))]
                    m.d.sync += k.eq(k + 1)
                    with m.If(last_beat):
                        m.d.sync += [k.eq(0), last_row.eq(self.i_score.payload.last)]
                        m.next = "DRAIN"

            with m.State("DRAIN"):                # until the last beat's extremes are folded
                m.d.comb += self.busy.eq(1)
                with m.If(pipe.extremes_done):
                    m.next = "SPAN"

            with m.State("SPAN"):
                m.d.comb += self.busy.eq(1)
                # The previous row's emitter must be done with the score port and the total.
                with m.If(~emitter.active | emitter.done):
                    m.next = "SETUP0"

            # The row setup runs free from the row's statistics, which hold still from the end
            # of the load pass until the next row's: wait for its registers to the edge (the
            # sums are still in the lane pipeline; S and T are needed at the first beat's G).
            for step in range(RowSetup.edge_latency):
                with m.State(f"SETUP{step}"):
                    m.d.comb += self.busy.eq(1)
                    last = step + 1 == RowSetup.edge_latency
                    m.next = "SELECT" if last else f"SETUP{step + 1}"
                    if last:
                        m.d.comb += select.start.eq(1)

            with m.State("SELECT"):
                # As the first selection beat reaches G every setup output is the row's.
                tag = pipe.tag
                m.d.comb += [self.busy.eq(1), setup.settled.eq(
                    tag.valid & ~tag.load & tag.first & tag.zero)]
                with m.If(select.done):
                    m.d.comb += [emitter.start.eq(1), emitter.first.eq(first_row)]
                    m.d.sync += first_row.eq(0)
                    with m.If(last_row):
                        m.next = "FLUSH"
                    with m.Else():
                        m.next = "LOAD"

            with m.State("FLUSH"):                # the last row's mask, then the final mask
                m.d.comb += self.busy.eq(1)
                with m.If(emitter.done):
                    m.d.comb += [emitter.start.eq(1), emitter.final.eq(1)]
                    m.next = "FINAL"

            with m.State("FINAL"):
                m.d.comb += self.busy.eq(1)
                with m.If(emitter.done):
                    m.next = "COUNT"
        if self._control:
            self._invariants(m, fsm, k=k, beats=beats, clamp_mode=clamp_mode,
                             exp_mode=exp_mode, last_row=last_row, store=store,
                             count_store=count_store, pipe=pipe, select=select, emitter=emitter)
        return m

    def _invariants(self, m, fsm, *, k, beats, clamp_mode, exp_mode, last_row, store,
                    count_store, pipe, select, emitter):
        """What the control state always is, and the state a harness relates to its own."""
        st, em = self.state, emitter.state
        setups = [fsm.ongoing(f"SETUP{step}") for step in range(RowSetup.edge_latency)]
        for name in STATES:
            flag = (Cat(*setups).any() if name == "SETUP" else fsm.ongoing(name))
            m.d.comb += getattr(st, name.lower()).eq(flag)
        m.d.comb += [st.k.eq(k), st.beats.eq(beats), st.last_row.eq(last_row),
                     st.clamp_mode.eq(clamp_mode), st.exp_mode.eq(exp_mode),
                     st.em_active.eq(emitter.active), st.em_final.eq(em.final),
                     st.em_k.eq(emitter.k), st.em_r_valid.eq(em.r_valid),
                     st.em_o_valid.eq(em.o_valid), st.em_row_sent.eq(em.row_sent),
                     st.select_pending.eq(select.pending)]
        active, final = emitter.active, em.final
        m.d.comb += [
            # The FSM in one of its states; the beat counter past zero only while it counts.
            Assert(Cat(*(getattr(st, name.lower()) for name in STATES)).any(), "wtu_state_valid"),
            Assert(((st.count | st.load) & (k < beats)) | (k == 0), "wtu_k_inside"),
            # Draining, the row's last beat is on its way to the extremes' fold.
            Assert(~st.drain | pipe.load_last_ahead, "wtu_drain_ends"),
            # A selection runs, and its beats are in the lanes, only in SELECT.
            Assert(select.running == st.select, "wtu_selection_in_select"),
            Assert(~pipe.selecting | st.select, "wtu_selection_beats_in_select"),
            # The buffers' delayed writes follow the states that take beats.
            Assert(~store.valid | st.load | st.drain, "wtu_store_after_load"),
            Assert(~count_store.valid | st.count | st.load, "wtu_count_store_after_count"),
            # Which emission runs in which state: none while counting, setting up or
            # selecting; a row's beside the next row's load; the last row's in FLUSH, then
            # the final mask.
            Assert(~active | ~(st.count | st.setup | st.select), "wtu_emitter_idle"),
            Assert(~st.flush | (active & ~final), "wtu_flush_emits_row"),
            Assert(~st.final | (active & final), "wtu_final_emits_final"),
            Assert(~active | ~final | st.final, "wtu_final_only_in_final"),
            # The emitter reads a word of the buffer before the load pass replaces it.
            Assert(~(st.load & active) | (emitter.k >= k), "wtu_emitter_ahead"),
            Assert(~(store.valid & active) | (emitter.k > store.addr), "wtu_store_behind"),
            Assert(~active | ((emitter.k <= beats)
                              & (em.o_valid + em.r_valid <= emitter.k)), "wtu_emitter_k"),
        ]
