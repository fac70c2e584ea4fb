"""One HCU similarity unit: a digit-serial Hamming distance with an early-exit comparator."""

from amaranth.hdl import C, Cat, Mux, Module, Signal, Value, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

__all__ = ["SimilarityUnit", "popcount", "at_least"]


def popcount(value):
    """Combinational population count as a balanced adder tree, each level one bit wider."""
    terms = [value[i] for i in range(len(value))]
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i]
                 for i in range(0, len(terms), 2)]
    return terms[0]


def _full_adder(a, b, c):
    return a ^ b ^ c, (a & b) | (c & (a | b))


def _compress(columns):
    """Reduce columns of bits (by weight) to at most two bits each, with full adders."""
    while any(len(column) > 2 for column in columns):
        reduced = [[] for _ in range(len(columns) + 1)]
        for weight, column in enumerate(columns):
            while len(column) >= 3:
                total, carry = _full_adder(*column[:3])
                column = column[3:]
                reduced[weight].append(total)
                reduced[weight + 1].append(carry)
            reduced[weight] += column
        columns = reduced
        while columns and not columns[-1]:
            columns.pop()
    return columns


def _ripple(columns, width):
    """The low ``width`` bits of the sum of columns of at most two bits each."""
    bits, carry = [], None
    for weight in range(width):
        terms = (columns[weight] if weight < len(columns) else []) + \
            ([carry] if carry is not None else [])
        carry = None
        if len(terms) == 3:
            total, carry = _full_adder(*terms)
        elif len(terms) == 2:
            total, carry = terms[0] ^ terms[1], terms[0] & terms[1]
        else:
            total = terms[0] if terms else C(0, 1)
        bits.append(total)
    return bits


def at_least(value, threshold, offset=None):
    """Combinational ``popcount(value) + offset >= threshold``, for an unsigned ``offset``
    and a signed or unsigned ``threshold``: the sign of the difference, with every term in
    one carry-save tree of full adders written as gates. Without adder or comparator cells,
    FPGA flows map the count and the comparison together into a few levels of LUTs rather
    than a chain of carry cells per adder."""
    threshold = Value.cast(threshold)
    offset = Value.cast(C(0, 1) if offset is None else offset)
    signed_threshold = threshold.shape().signed
    most = len(value) + (1 << len(offset)) - 1 + (1 << (len(threshold) - 1)) * signed_threshold
    least = (1 << (len(threshold) - signed_threshold)) - 1         # -(the least difference)
    width = max(most.bit_length(), least.bit_length()) + 1
    fill = threshold[-1] if signed_threshold else C(0, 1)
    negated = ~Cat(threshold, fill.replicate(width - len(threshold)))
    columns = [[] for _ in range(width)]
    columns[0] += [value[i] for i in range(len(value))] + [C(1, 1)]  # + 1: two's complement
    for weight in range(width):
        columns[weight].append(negated[weight])
        if weight < len(offset):
            columns[weight].append(offset[weight])
    return ~_ripple(_compress(columns), width)[-1]


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
    lookahead : bool
        Take ``x`` and ``h`` one cycle ahead, in the cycle ``restart`` announces step 0, and
        count each digit's differing bits a cycle ahead, so a step's decision starts from
        registers instead of an XOR and a popcount (the HCU's timing). Without it ``x`` and
        ``h`` are sampled at step 0 itself and a step's decision is combinational from them.

    Members
    -------
    go : In(1)
        A comparison step happens this cycle.
    step : In(range(steps))
        Which digit; step 0 starts a new comparison.
    enable : In(1)
        Sampled at step 0: this unit holds a cluster in this group.
    x, h : In(hash_bits)
        The hashes, sampled at step 0 (with ``lookahead``: in the cycle ``restart`` is high,
        just before); the unit keeps the digits still to compare, so the parent may change
        them afterwards.
    restart : In(1)
        Only with ``lookahead``: the next cycle is step 0 of a comparison of ``x`` and ``h``.
    bound : In(range(hash_bits + 2))
        The distance a cluster must stay below to be nearer than the best so far; held for
        the whole comparison.
    done : Out(1)
        Combinational: the unit has stopped, or stops after this step.
    distance : Out(range(hash_bits + 1))
        Combinational: the partial distance after this step.
    zero : Out(1)
        Combinational: ``distance`` is 0, without waiting for its adder.
    nearer : Out(1)
        Combinational: the unit holds a cluster whose distance is below ``bound``
        (meaningful once ``done``).
    """

    def __init__(self, hash_bits: int, digit: int, *, early_exit: bool = True,
                 lookahead: bool = False):
        self._hash_bits = hash_bits
        self._digit = digit
        self._steps = -(-hash_bits // digit)
        self._early_exit = early_exit
        self._lookahead = lookahead
        members = {
            "go": In(1),
            "step": In(range(self._steps)),
            "enable": In(1),
            "x": In(hash_bits),
            "h": In(hash_bits),
            "bound": In(range(hash_bits + 2)),
            "done": Out(1),
            "distance": Out(range(hash_bits + 1)),
            "zero": Out(1),
            "nearer": Out(1),
        }
        if lookahead:
            members["restart"] = In(1)
        super().__init__(members)

    @property
    def steps(self) -> int:
        return self._steps

    def elaborate(self, platform):
        m = Module()
        hb, digit, steps = self._hash_bits, self._digit, self._steps
        partial = Signal(range(hb + 1))
        running = Signal()
        holds = Signal()     # this unit was given a cluster at step 0

        first = Signal()
        last = Signal()
        m.d.comb += [first.eq(self.step == 0), last.eq(self.step == steps - 1)]
        diff = Signal(steps * digit)
        m.d.comb += diff.eq(self.x ^ self.h)        # zero-padded up to whole digits
        # Digits after the first wait in a shift register, so a step's digit is never a
        # ``steps``-way choice, and ``x`` and ``h`` are free once taken.
        rest = Signal((steps - 1) * digit, reset_less=True)

        run = Signal()
        ones = Signal(range(digit + 1))     # differing bits in this step's digit
        # What the partial distance may still grow by before it reaches the bound: comparing
        # the digit's popcount with it keeps an adder out of the stop decision. Negative only
        # without early exit, where a comparison runs past the bound.
        budget = Signal(signed(bits_for(hb + 1) + 1))
        reach = Signal()                    # this digit takes the distance to the bound
        # The budget after this step. It only matters while the unit runs; once stopped, it
        # only falls, so it stays at or below zero, and a comparison's digits add up to at
        # most hash_bits, so it cannot wrap.
        left = Signal.like(budget)
        m.d.comb += [
            run.eq(Mux(first, self.enable, running)),
            left.eq(budget - ones),
        ]
        if self._lookahead:
            # Each step's popcount is counted a cycle ahead: from the new hashes for step 0,
            # else from the next digit. Later steps' comparisons with the budget are made a
            # cycle ahead too, as their budget is known then; step 0 compares two registers,
            # so that a bound the parent lowers as a group ends applies to the next at once.
            reach_r = Signal()
            budget_r = Signal.like(budget)
            m.d.comb += [
                budget.eq(Mux(first, self.bound, budget_r)),
                reach.eq(Mux(first, ones >= self.bound, reach_r)),
            ]
            with m.If(self.restart):
                m.d.sync += [ones.eq(popcount(diff[:digit])), rest.eq(diff[digit:])]
            if steps > 1:
                following = rest[:digit]
                with m.Elif(self.go):
                    m.d.sync += [ones.eq(popcount(following)), rest.eq(rest[digit:]),
                                 budget_r.eq(left), reach_r.eq(at_least(following, budget, ones))]
        else:
            slack = Signal.like(budget)
            m.d.comb += [
                ones.eq(popcount(Mux(first, diff[:digit], rest[:digit]))),
                budget.eq(Mux(first, self.bound, slack)),
                reach.eq(ones >= budget),
            ]
            with m.If(self.go):
                m.d.sync += [rest.eq(Mux(first, diff[digit:], rest[digit:])), slack.eq(left)]

        m.d.comb += [
            self.distance.eq(Mux(first, 0, partial) + Mux(run, ones, 0)),
            self.zero.eq((first | (partial == 0)) & (~run | (ones == 0))),
        ]
        stop = Signal()
        if self._early_exit:
            m.d.comb += stop.eq(run & (reach | last))
        else:
            m.d.comb += stop.eq(run & last)
        valid = Signal()
        m.d.comb += [
            valid.eq(Mux(first, self.enable, holds)),
            self.done.eq(~run | stop),
            # A stopped unit's distance is below the bound while its budget is positive.
            self.nearer.eq(valid & Mux(run, ~reach, budget > 0)),
        ]
        with m.If(self.go):
            m.d.sync += [
                partial.eq(self.distance),
                running.eq(run & ~stop),
            ]
            with m.If(first):
                m.d.sync += holds.eq(self.enable)
        return m
