"""The WTU's selection schedule: which beats to issue into the lane pipeline after a row's
setup, and which bucket is the row's exit.

``scan`` (the paper's): one pass per bucket from the top, ``A(b)`` the sum of the lanes with
``v > edge``; values and counts are never negative, so once a pass's running sum is past ``T``
its bucket is the exit, and with early exit the selection stops there, even inside a pass.
``histogram``: one pass that accumulates every bucket's ``A(b)`` on its own adder tree, then
picks the first ``A(b) > T``.

Mode ``exp``: ``S`` needs the row's values, so the scan's pass 0 sums every value on a tree
beside bucket 0's and cannot leave; ``S`` then takes the row setup's last registers to ``T``,
bucket 0 is decided as ``T`` arrives and pass 1 is issued as many cycles late (its first beat
meets ``T``). The histogram takes ``S = A(B - 1)`` and waits for ``T`` the same way.
"""

from amaranth.hdl import Array, Assert, Cat, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..arith import narrow, word_lanes
from .lanes import cut_shape, tag_layout
from .setup import RowSetup, edge_shape

__all__ = ["Selection"]


class Selection(wiring.Component):
    """One row's selection, from the setup's results to the exit bucket and its score cut.

    Members
    -------
    start : In(1)
        The row setup's width and edge have settled: latch them and select (one cycle). S and
        T settle before the first beat reaches G.
    setup_total, setup_threshold, setup_width, setup_edge : In
        The row setup's outputs (:class:`~vrex.rtl.wtu.setup.RowSetup`), live.
    exp_total : Out(total_bits)
        Mode ``exp``'s total, into the row setup.
    min_s, buckets, beats, columns, clamp_mode, exp_mode : In
        The row's least score and the batch's parameters.
    issue : Out(tag_layout(load=False))
        The beat issued into the lane pipeline this cycle, word ``addr`` of the row buffers.
    tag, sums, pass_total : In
        The lane pipeline's beat at G, its sums and mode ``exp``'s total of it.
    ahead : In(tag_layout)
        The beat that reaches G next cycle.
    cuts : Out(ArrayLayout(cut, max_buckets))
        The histogram's cut of every bucket, for the lane pipeline's trees.
    running : Out(1)
        With ``invariants``: a selection is under way (the FSM is not idle), for the unit's
        invariants; internal ones are asserted beside it.
    pending : Out(1)
        With ``invariants``: a decision is registered or on its way (mode ``exp``'s steps
        from S to T): never between rows, which a proof that sees whole rows can show.
    final_in_flight : In(1)
        With ``invariants``: the lane pipeline's flag that the last pass's last beat is in
        flight (a scan always decides, once it has issued every pass).
    done : Out(1)
        The exit is known (one cycle): ``exit_bucket``, and ``cut`` (``v > exit edge <=>
        s > cut``); the beats in flight are to be dropped.
    total, threshold : Out(total_bits)
        The row's ``S`` and ``T``, latched as the first beat reaches G (mode ``exp``: as ``T``
        is known), held until the next row's.
    """

    #: A selection acts on its registered decision this long after the deciding beat's G.
    decide = 1

    def __init__(self, *, score_bits, max_clusters, lanes, max_buckets, total_bits, ways,
                 scan, early_exit, exp, passes, checks=False, invariants=False):
        self._sb, self._lanes, self._nb, self._tb = score_bits, lanes, max_buckets, total_bits
        self._scan, self._early_exit, self._exp = scan, bool(early_exit), bool(exp)
        self._passes, self._checks = passes, bool(checks)
        self._invariants = bool(invariants)
        depth = -(-max_clusters // lanes)
        cut = cut_shape(score_bits)
        super().__init__({
            "start": In(1),
            "setup_total": In(total_bits),
            "setup_threshold": In(total_bits),
            "setup_width": In(score_bits + 2),
            "setup_edge": In(edge_shape(score_bits, max_buckets)),
            "exp_total": Out(total_bits),
            "min_s": In(signed(score_bits)),
            "buckets": In(range(max_buckets + 1)),
            "beats": In(range(depth + 1)),
            "columns": In(range(max_clusters + 1)),
            "clamp_mode": In(1),
            "exp_mode": In(1),
            "issue": Out(tag_layout(score_bits, max_buckets, lanes, load=False)),
            "addr": Out(range(depth)),
            "next_addr": Out(range(depth)),
            "tag": In(tag_layout(score_bits, max_buckets, lanes)),
            "ahead": In(tag_layout(score_bits, max_buckets, lanes)),
            "sums": In(data.ArrayLayout(signed(total_bits + 2), ways)),
            "pass_total": In(total_bits),
            "cuts": Out(data.ArrayLayout(cut, ways)),
            **({"running": Out(1), "pending": Out(1), "final_in_flight": In(1)}
               if invariants else {}),
            "done": Out(1),
            "exit_bucket": Out(range(max_buckets)),
            "cut": Out(cut),
            "total": Out(total_bits),
            "threshold": Out(total_bits),
        })

    def elaborate(self, platform):
        m = Module()
        nb, tb = self._nb, self._tb
        neg = -(1 << (self._sb - 1)) - 1          # below every score: selects them all
        k = Signal.like(self.beats)               # the beat to issue
        k_next = Signal.like(self.beats)          # ... next cycle: k follows it
        # The issued pass's edge (v > edge <=> bucket <= b), with the row's least score added
        # unless in mode clamp: its score cut before the cut is held to the scores' range.
        edge = Signal(signed(len(self.setup_edge) + 1))
        width = Signal.like(self.setup_width)
        bucket = Signal(range(nb))                # the issued pass's bucket
        issued_all = Signal()                     # the last pass has been issued
        last_beat = Signal()                      # k + 1 == beats, kept as a flag

        top = (1 << (self._sb - 1)) - 1           # the greatest score: selects none

        def shifted(edge_value):
            """A bucket edge with the mode's offset: the row's least score, but in mode clamp."""
            return Mux(self.clamp_mode, edge_value, edge_value + self.min_s)

        def cut_of(wide):
            """The score cut of a shifted edge: ``v > edge <=> s > cut`` (mode clamp: an edge
            below 0 selects every score), held between ``neg`` and ``top``: exact for every
            score, and the comparators are a score wide."""
            return Mux((self.clamp_mode & wide[-1]) | (wide < neg), neg,
                       Mux(wide > top, top, wide))

        def issue():
            """Issue word ``k`` into the lane pipeline (A)."""
            m.d.comb += [
                self.addr.eq(k), self.issue.valid.eq(1), self.issue.first.eq(k == 0),
                self.issue.last.eq(last_beat), self.issue.bucket.eq(bucket),
                self.issue.zero.eq(bucket == 0), self.issue.final.eq(bucket + 1 == self.buckets),
                self.issue.cut.eq(cut_of(edge)),
                self.issue.lanes.eq(word_lanes(k, self._lanes, self.columns))]
            m.d.comb += k_next.eq(Mux(last_beat, 0, k + 1))
            m.d.sync += [last_beat.eq(Mux(last_beat, self.beats == 1, k + 2 == self.beats))]

        def leave(exit_bucket, cut):
            m.d.comb += [self.done.eq(1), self.exit_bucket.eq(exit_bucket), self.cut.eq(cut)]
            m.next = "IDLE"

        m.d.comb += [k_next.eq(k), self.next_addr.eq(k_next)]
        m.d.sync += k.eq(k_next)

        exited = Signal()                         # scan without early exit: the exit is known
        bubble = Signal(range(RowSetup.total_latency + 1))   # exp: pass 1 waits for T
        slacks = [Signal(signed(tb + 2), name=f"slack{b}") for b in range(nb)]   # histogram
        # Outputs this schedule never sets are driven all the same: an undriven output port is
        # X in the Verilog (Icarus), not its init value as in Amaranth's simulator.
        if not self._scan:
            # Mode exp: S = A(B - 1), the last prefix sum.
            m.d.comb += self.exp_total.eq(-Array(slacks)[self.buckets - 1])
        elif not self._exp:
            m.d.comb += self.exp_total.eq(0)
        if self._scan:
            m.d.comb += self.cuts.eq(0)
        # S and T are the row's by the time the first beat reaches G (the selection starts on
        # the edge alone); latched there for o_row. Mode exp's come after its first pass.
        with m.If(self.tag.valid & self.tag.first & self.tag.zero & ~self.exp_mode):
            m.d.sync += [self.total.eq(self.setup_total), self.threshold.eq(self.setup_threshold)]

        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.comb += k_next.eq(0)
                    m.d.sync += [exited.eq(0), bubble.eq(0),
                                 width.eq(self.setup_width),
                                 edge.eq(shifted(self.setup_edge)),
                                 bucket.eq(0), last_beat.eq(self.beats == 1),
                                 issued_all.eq(0)]
                    if not self._scan:
                        for b in range(nb):
                            wide = Signal.like(edge, name=f"cut{b}_wide")
                            m.d.comb += wide.eq(shifted(self.setup_edge - b * self.setup_width))
                            m.d.sync += self.cuts[b].eq(cut_of(wide))
                    m.next = "SCAN" if self._scan else "HIST"
            if self._scan:
                pending = self._scan_states(m, issue, leave, bucket, edge, width, issued_all,
                                            last_beat, exited, bubble)
            else:
                self._histogram_states(m, issue, leave, issued_all, last_beat, slacks)
                pending = []
        if self._invariants:
            m.d.comb += [
                self.running.eq(~fsm.ongoing("IDLE")),
                self.pending.eq(Cat(*pending, 0).any()),
                # The beat counter inside the row, its last-beat flag in step with it.
                Assert(fsm.ongoing("IDLE") | ((k < self.beats) &
                                              (last_beat == (k + 1 == self.beats))),
                       "selection_beat_inside")]
        return m

    def _scan_states(self, m, issue, leave, bucket, edge, width, issued_all, last_beat, exited,
                     bubble):
        tb, nb, tag = self._tb, self._nb, self.tag
        checks, latency = self._checks, RowSetup.total_latency
        slack = Signal(signed(tb + 2))            # T minus the pass's running sum so far
        found_bucket = Signal(range(nb))          # ... and is this bucket
        found_cut = Signal.like(self.cut)
        decided = Signal()                        # the registered decision (H)
        decided_bucket = Signal(range(nb))
        decided_cut = Signal.like(self.cut)
        zero_decided = Signal()                   # mode exp: bucket 0 decided as T arrived
        m.d.sync += zero_decided.eq(0)
        with m.State("SCAN"):
            with m.If(bubble != 0):
                m.d.sync += bubble.eq(bubble - 1)
            with m.If(~issued_all & (bubble == 0)):
                issue()
                with m.If(last_beat):
                    with m.If(bucket == self.buckets - 1):
                        m.d.sync += issued_all.eq(1)
                    with m.Else():
                        m.d.sync += [bucket.eq(bucket + 1),
                                     narrow(m, edge, edge - width, checks=checks),
                                     bubble.eq(Mux(self.exp_mode & (bucket == 0), latency, 0))]
            # The running sum passes T when the beat's sum passes what T leaves of it: one
            # compare on the decision's path, not an add and then a compare. The decision is
            # registered (H) and acted on a cycle later. A pass's slack starts at T, loaded the
            # cycle before its first beat reaches G, so that the comparator takes registers
            # alone: the setup's T holds still through the selection. In mode exp pass 0 knows
            # no T: its slack counts down from 0 (-A(0)), it never leaves, and its total tree
            # sums S; the later passes' first beats meet T as it arrives from the setup (pass 1
            # in the very cycle), on a comparator of their own.
            exp0 = Signal()
            live = Signal()                       # this beat compares with the setup's T
            m.d.comb += [exp0.eq(self.exp_mode & tag.zero),
                         live.eq(self.exp_mode & tag.first & ~tag.zero)]
            left_live = Signal(signed(tb + 2))
            m.d.comb += left_live.eq(self.setup_threshold)
            passed = Mux(live, self._passes(self.sums[0], left_live),
                         self._passes(self.sums[0], slack)) & ~exp0
            last_pass = tag.last & tag.final & ~exp0
            m.d.sync += decided.eq(0)
            with m.If(tag.valid):
                m.d.sync += narrow(m, slack, Mux(live, left_live - self.sums[0],
                                                 slack - self.sums[0]), checks=checks)
                if self._early_exit:
                    m.d.sync += [decided.eq(passed | last_pass), decided_bucket.eq(tag.bucket),
                                 decided_cut.eq(tag.cut)]
                else:
                    with m.If(tag.last & passed & ~exited):
                        m.d.sync += [exited.eq(1), found_bucket.eq(tag.bucket),
                                     found_cut.eq(tag.cut)]
                    # B - 1 if no pass passed before the last, which may pass or not.
                    m.d.sync += [decided.eq(last_pass),
                                 decided_bucket.eq(Mux(exited, found_bucket, tag.bucket)),
                                 decided_cut.eq(Mux(exited, found_cut, tag.cut))]
            # (After the beat's own update: a pass's last beat may be at G as the next one's first
            # is a cycle away.)
            ahead = self.ahead
            with m.If(ahead.valid & ahead.first & (~self.exp_mode | ahead.zero)):
                m.d.sync += slack.eq(Mux(self.exp_mode, 0, self.setup_threshold))
            # Mode exp: S complete after pass 0's last beat (cycle c), through the setup's
            # registers to T (c + latency), and bucket 0 is decided a cycle later, overriding
            # pass 1's first beat; S and T latched for o_row.
            if self._exp:
                exp_cut0 = Signal.like(self.cut)
                steps = Signal(latency + 1)       # c + 1 .. c + latency + 1
                m.d.sync += steps.eq(steps << 1)
                with m.If(tag.valid & exp0):
                    m.d.sync += narrow(m, self.exp_total,
                                       Mux(tag.first, 0, self.exp_total) + self.pass_total,
                                       checks=checks)
                    with m.If(tag.last):
                        m.d.sync += [steps[0].eq(1), exp_cut0.eq(tag.cut)]
                # A(0), negated off the decision's path while T is on its way.
                a0 = Signal(signed(tb + 2))
                with m.If(steps[0]):
                    m.d.sync += narrow(m, a0, -slack, checks=checks)
                with m.If(steps[latency]):
                    m.d.sync += [self.total.eq(self.setup_total),
                                 self.threshold.eq(self.setup_threshold)]
                    zero_passes = self._passes(a0, self.setup_threshold)
                    if self._early_exit:
                        # Only this one bit is registered off the comparator; it overrides
                        # whatever the beat at G decided in this cycle.
                        m.d.sync += zero_decided.eq(zero_passes | (self.buckets == 1))
                    else:
                        # (Also the exit of a last pass deciding in this same cycle.)
                        with m.If(zero_passes):
                            m.d.sync += [exited.eq(1), found_bucket.eq(0), found_cut.eq(exp_cut0),
                                         decided_bucket.eq(0), decided_cut.eq(exp_cut0)]
                        with m.If(self.buckets == 1):
                            m.d.sync += [decided.eq(1), decided_bucket.eq(0),
                                         decided_cut.eq(exp_cut0)]
            if self._invariants:
                # Progress: once every pass is issued, a decision is made, coming (the last
                # pass's last beat in flight) or, mode exp with one bucket, on its way from
                # pass 0's S to T.
                coming = self.final_in_flight
                if self._exp:
                    coming |= self.exp_mode & (self.buckets == 1) & (steps != 0)
                m.d.comb += [Assert(~issued_all | decided | zero_decided | coming,
                                    "selection_decides"),
                             # The pass issued is one of the batch's buckets (the last ends it).
                             Assert(bucket < self.buckets, "selection_bucket_inside")]
            if self._exp and self._early_exit:
                with m.If(decided | zero_decided):
                    leave(Mux(zero_decided, 0, decided_bucket),
                          Mux(zero_decided, exp_cut0, decided_cut))
                    m.d.sync += decided.eq(0)     # and drop the next beat's decision
            else:
                with m.If(decided):
                    leave(decided_bucket, decided_cut)
                    m.d.sync += decided.eq(0)     # and drop the next beat's decision
        return [decided, zero_decided] + ([steps] if self._exp else [])

    def _histogram_states(self, m, issue, leave, issued_all, last_beat, slacks):
        tb, nb, tag = self._tb, self._nb, self.tag
        hits = Signal(nb)
        with m.State("HIST"):                     # every A(b) in one pass
            with m.If(~issued_all):
                issue()
                with m.If(last_beat):
                    m.d.sync += issued_all.eq(1)
            with m.If(tag.valid):
                for b in range(nb):
                    # Mode exp: no T yet, the slacks count down from 0 (-A(b)).
                    left = Signal(signed(tb + 2), name=f"hist_left{b}")
                    m.d.comb += left.eq(Mux(tag.first, Mux(self.exp_mode, 0,
                                                           self.setup_threshold), slacks[b]))
                    m.d.sync += [narrow(m, slacks[b], left - self.sums[b], checks=self._checks),
                                 hits[b].eq(self._passes(self.sums[b], left)
                                            & (b < self.buckets))]
                with m.If(tag.last):
                    m.next = "EXP_T0" if self._exp else "PICK"
                    if self._exp:
                        with m.If(~self.exp_mode):
                            m.next = "PICK"

        # Mode exp: S = A(B - 1) through the setup's registers to T.
        if self._exp:
            for step in range(RowSetup.total_latency):
                with m.State(f"EXP_T{step}"):
                    last = step + 1 == RowSetup.total_latency
                    m.next = "PICK" if last else f"EXP_T{step + 1}"

        with m.State("PICK"):                     # the first bucket past T
            with m.If(self.exp_mode):
                m.d.sync += [self.total.eq(self.setup_total),
                             self.threshold.eq(self.setup_threshold)]
            chosen = Signal(range(nb))
            m.d.comb += chosen.eq(self.buckets - 1)
            for b in reversed(range(nb)):
                hit = Mux(self.exp_mode, self._passes(-slacks[b], self.setup_threshold)
                          & (b < self.buckets), hits[b])
                with m.If(hit):
                    m.d.comb += chosen.eq(b)
            leave(chosen, Array(self.cuts)[chosen])
