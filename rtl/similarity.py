"""One HCU similarity unit: a digit-serial Hamming distance with an early-exit comparator."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SimilarityUnit", "popcount"]


def popcount(value):
    """Combinational population count as a balanced adder tree, each level one bit wider."""
    terms = [value[i] for i in range(len(value))]
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i]
                 for i in range(0, len(terms), 2)]
    return terms[0]


class SimilarityUnit(wiring.Component):
    """Compares a token hash ``x`` with a cluster hash ``h``, ``digit`` bits a cycle, least
    significant digit first, and stops as soon as the partial distance reaches ``bound``.

    The parent steps every unit of the HCU in lockstep; a unit that stops early holds its
    partial distance, which is then at least ``bound`` and so never ``nearer``.

    Parameters
    ----------
    hash_bits : int
    digit : int
        Hash bits compared per cycle; a comparison takes ``ceil(hash_bits / digit)`` steps.
    early_exit : bool
        With ``False`` every comparison runs all steps (the baseline for benchmarks).

    Members
    -------
    go : In(1)
        A comparison step happens this cycle.
    step : In(range(steps))
        Which digit; step 0 starts a new comparison.
    enable : In(1)
        Sampled at step 0: this unit holds a cluster in this group.
    x, h : In(hash_bits)
        The hashes, held for the whole comparison.
    bound : In(range(hash_bits + 2))
        The distance a cluster must stay below to be nearer than the best so far.
    done : Out(1)
        Combinational: the unit has stopped, or stops after this step.
    distance : Out(range(hash_bits + 1))
        Combinational: the partial distance after this step.
    nearer : Out(1)
        Combinational: the unit holds a cluster whose distance is below ``bound``
        (meaningful once ``done``).
    """

    def __init__(self, hash_bits: int, digit: int, *, early_exit: bool = True):
        self._hash_bits = hash_bits
        self._digit = digit
        self._steps = -(-hash_bits // digit)
        self._early_exit = early_exit
        super().__init__({
            "go": In(1),
            "step": In(range(self._steps)),
            "enable": In(1),
            "x": In(hash_bits),
            "h": In(hash_bits),
            "bound": In(range(hash_bits + 2)),
            "done": Out(1),
            "distance": Out(range(hash_bits + 1)),
            "nearer": Out(1),
        })

    @property
    def steps(self) -> int:
        return self._steps

    def elaborate(self, platform):
        m = Module()
        hb, digit, steps = self._hash_bits, self._digit, self._steps
        partial = Signal(range(hb + 1))
        running = Signal()
        holds = Signal()     # this unit was given a cluster at step 0

        first = self.step == 0
        diff = Signal(steps * digit)
        m.d.comb += diff.eq(self.x ^ self.h)        # zero-padded up to whole digits
        ones = Signal(range(digit + 1))
        m.d.comb += ones.eq(popcount(diff.word_select(self.step, digit)))

        run = Signal()
        before = Signal(range(hb + 1))
        m.d.comb += [
            run.eq(Mux(first, self.enable, running)),
            before.eq(Mux(first, 0, partial)),
            self.distance.eq(before + Mux(run, ones, 0)),
        ]
        last = self.step == steps - 1
        stop = Signal()
        if self._early_exit:
            m.d.comb += stop.eq(run & ((self.distance >= self.bound) | last))
        else:
            m.d.comb += stop.eq(run & last)
        valid = Signal()
        m.d.comb += [
            valid.eq(Mux(first, self.enable, holds)),
            self.done.eq(~run | stop),
            self.nearer.eq(valid & (self.distance < self.bound)),
        ]
        with m.If(self.go):
            m.d.sync += [
                partial.eq(self.distance),
                running.eq(run & ~stop),
            ]
            with m.If(first):
                m.d.sync += holds.eq(self.enable)
        return m
