"""The WTU's row setup (rtl/wtu/setup.py) on its own: an unbounded proof (k-induction) that no
register of it overflows (``RowSetup(checks=True)``: the span, B's reciprocal, the halves of
``min(s) * sum(cnt)``, the quotient, S, the width, the edge, T) for any row statistics a row
can have, in every mode, once its inputs have held still for its latency."""

from amaranth.hdl import Assume, Cat, Cover, Mux, Signal

from vrex.golden.config import wicsum_total_bits
from vrex.rtl.wtu.setup import RowSetup

from .rules import free_inputs, harness_module

__all__ = ["setup_harness"]


def setup_harness(*, score_bits=2, count_bits=1, max_clusters=3, max_buckets=4, exp_bits=2,
                  consistent=True):
    """The statistics are free but those of some row: ``min(s) <= max(s)``; the weighted sum
    between ``min(s) * sum(cnt)`` and ``max(s) * sum(cnt)`` (mode clamp: of the clamped
    scores; mode exp: the total at most the greatest weight times ``sum(cnt)``). ``settled``
    is raised once every input has held still for the setup's latency, as the unit does.
    ``consistent=False`` drops the weighted sum's lower bound (a test: the checks then fail)."""
    m, ports = harness_module()
    m.submodules.dut = dut = RowSetup(
        score_bits=score_bits, count_bits=count_bits, max_clusters=max_clusters,
        max_buckets=max_buckets,
        total_bits=wicsum_total_bits(max(score_bits, exp_bits), count_bits, max_clusters),
        checks=True)
    free_inputs(m, dut)
    inputs = Cat(dut.min_s, dut.max_s, dut.sum_p, dut.sum_c, dut.exp_total, dut.buckets,
                 dut.ratio, dut.clamp_mode, dut.exp_mode)
    last = Signal(len(inputs))
    m.d.sync += last.eq(inputs)
    still = Signal(range(RowSetup.latency + 2))         # cycles the inputs have held
    with m.If(inputs != last):
        m.d.sync += still.eq(0)
    with m.Elif(still <= RowSetup.latency):
        m.d.sync += still.eq(still + 1)
    clamp = lambda s: Mux(s < 0, 0, s)                   # noqa: E731
    low = dut.min_s * dut.sum_c if consistent else -(1 << (len(dut.sum_p) - 1))
    m.d.comb += [
        Assume(dut.settled == ((still >= RowSetup.latency) & (inputs == last))),
        Assume(dut.min_s <= dut.max_s),
        Assume((dut.buckets >= 1) & (dut.buckets <= max_buckets)),
        Assume(~(dut.clamp_mode & dut.exp_mode)),
        Assume(dut.sum_c <= max_clusters * ((1 << count_bits) - 1)),
        Assume(dut.exp_mode | dut.clamp_mode |
               ((dut.sum_p >= low) & (dut.sum_p <= dut.max_s * dut.sum_c))),
        Assume(~dut.clamp_mode | ((dut.sum_p >= 0) &
                                  (dut.sum_p <= clamp(dut.max_s) * dut.sum_c))),
        Assume(~dut.exp_mode | (dut.exp_total <= ((1 << exp_bits) - 1) * dut.sum_c)),
        Cover(dut.settled & dut.exp_mode, "settled_in_mode_exp"),
        Cover(dut.settled & ~dut.exp_mode & ~dut.clamp_mode & (dut.min_s < 0),
              "settled_in_mode_shift"),
    ]
    return m, ports
