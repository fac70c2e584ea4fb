"""The WTU's row setup: from a row's statistics to its bucket width, top edge, total and
threshold, five registers deep, with no divider and no multiply-and-add in one cycle.

It runs free: its inputs hold still from the end of a row's load pass until the next row's,
and after :attr:`RowSetup.latency` cycles its outputs are the row's (the width and the edge,
from the least and greatest score alone, after :attr:`RowSetup.edge_latency`). In mode
``exp`` the total is only known after a pass over the values; it enters at the third register
and reaches the threshold :attr:`RowSetup.total_latency` cycles later, through the same
multiplier.
"""

from amaranth.hdl import Array, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from ..arith import narrow, reciprocal, reciprocal_shift

__all__ = ["RowSetup", "edge_shape"]


def edge_shape(score_bits: int, max_buckets: int):
    """A bucket edge, ``hi - b * w - 1`` for any bucket ``b``: ``v > edge <=> bucket <= b``."""
    return signed(score_bits + 4 + bits_for(max_buckets))


class RowSetup(wiring.Component):
    """Bucket width, top edge, total and threshold of a row (SPEC 3).

    Members
    -------
    min_s, max_s, sum_p, sum_c : In
        The row's statistics (:class:`~vrex.rtl.wtu.lanes.LanePipeline`).
    exp_total : In(total_bits)
        Mode ``exp``'s total, once known.
    buckets, ratio, clamp_mode, exp_mode : In
        The batch's parameters.
    settled : In(1)
        The inputs have held still for :attr:`latency` cycles: with ``checks``, the outputs'
        narrowings are asserted now (before, a stage may hold another row's wrapped value).
    top : Out(score_bits)
        ``hi = max(v)``.
    width : Out(score_bits + 2)
        The bucket width ``w = (hi - lo) // B + 1``.
    edge : Out(edge_shape)
        The top pass's edge ``hi - w``.
    total, threshold : Out(total_bits)
        ``S`` and ``T = S * ratio >> 16``.
    """

    #: Registers from the statistics to the threshold: the span and the reciprocal of B (and
    #: min(s) * sum(cnt) in two halves), span // B and min(s) * sum(cnt), S, w and the edge,
    #: the parts of S * ratio, T.
    latency = 5
    #: Registers from the least and greatest score to the width and the edge: all that a
    #: selection needs to start. S and T come later (the sums are folded two cycles after the
    #: extremes, T is the fifth register) and are first used when the selection's first beat
    #: reaches G, a whole lane pipeline later.
    edge_latency = 3
    #: Cycles from mode exp's total to the threshold: S, the parts of S * ratio, then T (a
    #: total of at most 32 bits has no parts: its T is ready a cycle early and waits).
    total_latency = 3

    def __init__(self, *, score_bits, count_bits, max_clusters, max_buckets, total_bits,
                 checks=False):
        self._sb, self._nb, self._tb = score_bits, max_buckets, total_bits
        self._checks = bool(checks)
        self._sum_c = range(max_clusters * ((1 << count_bits) - 1) + 1)
        super().__init__({
            "min_s": In(signed(score_bits)),
            "max_s": In(signed(score_bits)),
            "sum_p": In(signed(total_bits + 2)),
            "sum_c": In(self._sum_c),
            "exp_total": In(total_bits),
            "buckets": In(range(max_buckets + 1)),
            "ratio": In(16),
            "clamp_mode": In(1),
            "exp_mode": In(1),
            "settled": In(1),
            "top": Out(score_bits),
            "width": Out(score_bits + 2),
            "edge": Out(edge_shape(score_bits, max_buckets)),
            "total": Out(total_bits),
            "threshold": Out(total_bits),
        })

    def elaborate(self, platform):
        m = Module()
        sb, nb = self._sb, self._nb
        sum_c = self.sum_c
        clamp = lambda s: Mux(s < 0, 0, s)                          # noqa: E731

        shift = reciprocal_shift(sb, nb)
        recips = Array(Const(reciprocal(b, shift) if b else 0, shift + 1) for b in range(nb + 1))
        hi = Mux(self.clamp_mode, clamp(self.max_s), self.max_s - self.min_s)
        span = Signal(sb)                                           # hi - lo
        recip = Signal(shift + 1)
        # min(s) * sum(cnt) in two halves of sum(cnt), multiplied beside the span's reciprocal
        # and added up with the quotient: no multiply and add in one cycle.
        split = (len(sum_c) + 1) // 2
        min_c_lo = Signal(signed(sb + split + 1))
        min_c_hi = Signal(signed(sb + len(sum_c) - split + 1))
        quot = Signal(sb)                                           # (hi - lo) // B
        min_times_c = Signal(signed(sb + len(sum_c) + 1))
        stages = [
            (self.top, hi), (span, hi - Mux(self.clamp_mode, clamp(self.min_s), 0)),
            (recip, recips[self.buckets]),
            (min_c_lo, self.min_s * sum_c[:split]), (min_c_hi, self.min_s * sum_c[split:]),
            (quot, (span * recip) >> shift), (min_times_c, min_c_lo + (min_c_hi << split)),
            (self.total, Mux(self.exp_mode, self.exp_total,
                             Mux(self.clamp_mode, self.sum_p, self.sum_p - min_times_c))),
            (self.width, quot + 1), (self.edge, self.top - quot - 1),
        ]
        # T = total * ratio >> 16. A total wider than 32 bits (the default's 42) takes two
        # stages: the products of its parts of at most 18 bits (one DSP each), then their sum,
        # never a multiply and an add of its partial products in one cycle. A narrower one
        # (small's 27) takes one, and its T simply waits out total_latency: fewer flip-flops
        # where they are scarce (the iCEBreaker).
        tb = len(self.total)
        if tb > 32:
            parts = -(-tb // 18)
            part = -(-tb // parts)
            products = [Signal(part + 16, name=f"threshold_part{i}") for i in range(parts)]
            m.d.sync += [p.eq(self.total[i * part:(i + 1) * part] * self.ratio)
                         for i, p in enumerate(products)]
            product = products[0]
            for i, p in enumerate(products[1:], 1):
                product = product + (p << (i * part))
        else:
            product = self.total * self.ratio
        stages.append((self.threshold, product >> 16))
        m.d.sync += [target.eq(value) for target, value in stages]
        with m.If(self.settled):
            for target, value in stages:
                narrow(m, target, value, checks=self._checks)
        return m
