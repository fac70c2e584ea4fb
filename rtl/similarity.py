"""One HCU similarity unit: a digit-serial Hamming distance with an early-exit comparator that
stops on a lower bound of the whole distance."""

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


def at_least(value, threshold, offset=None, minus=None):
    """Combinational ``popcount(value) + offset - minus >= threshold``, for unsigned ``offset``
    and ``minus`` and a signed or unsigned ``threshold``: the sign of the difference, with
    every term in one carry-save tree of full adders written as gates. Without adder or
    comparator cells, FPGA flows map the count and the comparison together into a few levels
    of LUTs rather than a chain of carry cells per adder."""
    threshold = Value.cast(threshold)
    offset = Value.cast(C(0, 1) if offset is None else offset)
    minus = Value.cast(C(0, 1) if minus is None else minus)
    signed_threshold = threshold.shape().signed
    most = len(value) + (1 << len(offset)) - 1 + (1 << (len(threshold) - 1)) * signed_threshold
    least = (1 << (len(threshold) - signed_threshold)) - 1 + (1 << len(minus)) - 1
    width = max(most.bit_length(), least.bit_length()) + 1
    fill = threshold[-1] if signed_threshold else C(0, 1)
    negated = ~Cat(threshold, fill.replicate(width - len(threshold)))
    negated_minus = ~Cat(minus, C(0, width - len(minus)))
    columns = [[] for _ in range(width)]
    # Two's complement of each subtrahend: its bits inverted, plus one.
    columns[0] += [value[i] for i in range(len(value))] + [C(1, 1), C(1, 1)]
    for weight in range(width):
        columns[weight] += [negated[weight], negated_minus[weight]]
        if weight < len(offset):
            columns[weight].append(offset[weight])
    return ~_ripple(_compress(columns), width)[-1]


def segment_gaps(x, h, lo, count, segment):
    """``sum |popcount(x_seg) - popcount(h_seg)|`` over ``count`` segments of ``segment`` bits
    from bit ``lo`` of ``x`` and ``h``: a lower bound of their differing bits there."""
    gaps = []
    for at in range(lo, lo + count * segment, segment):
        px, ph = popcount(x[at:at + segment]), popcount(h[at:at + segment])
        gaps.append(Mux(px > ph, px - ph, ph - px))
    total = gaps[0]
    for gap in gaps[1:]:
        total = total + gap
    return total


class SimilarityUnit(wiring.Component):
    """Compares a token hash ``x`` with a cluster hash ``h``, ``digit`` bits a cycle, least
    significant digit first, and stops as soon as a lower bound of the whole distance reaches
    ``bound``: the differing bits counted so far plus, for the digits still to compare,
    ``sum |popcount(x_seg) - popcount(h_seg)|`` over their ``segment``-bit segments (SPEC 5).

    The parent steps every unit of the HCU in lockstep; a unit that stops early holds its
    partial distance, which is then no longer ``nearer``.

    How: the unit takes ``x`` and ``h`` the cycle before step 0 (``restart``), and counts there
    each digit's segment gaps ``l_s`` and the first digit's differing bits. What a step adds to
    the lower bound is ``l_0 + ... + l_last`` plus the first digit's excess at step 0, and the
    excess ``ones_s - l_s >= 0`` of its digit after that; the unit tracks what the bound may
    still grow by before ``bound`` (``budget``), so the stop decision has no adder, and the
    comparison of the next digit with it is a carry-save tree of gates (``at_least``) made a
    cycle ahead. Step 0 compares two registers, so that a bound the parent lowers as a group
    ends applies to the next at once.

    Parameters
    ----------
    hash_bits : int
    digit : int
        Hash bits compared per cycle; a comparison takes ``ceil(hash_bits / digit)`` steps.
    segment : int
        Bits per popcount segment of the lower bound; a digit holds ``digit // segment`` of
        them from its least significant bit. 0 (or more than ``digit``): the partial distance
        alone.
    early_exit : bool
        With ``False`` every comparison runs all steps (the baseline for benchmarks).

    Members
    -------
    go : In(1)
        A comparison step happens this cycle.
    step : In(range(steps))
        Which digit; step 0 starts a new comparison.
    restart : In(1)
        The next cycle is step 0 of a comparison of ``x`` and ``h``, taken now.
    enable : In(1)
        Sampled at step 0: this unit holds a cluster in this group.
    x, h : In(hash_bits)
        The hashes, taken in the ``restart`` cycle; the parent may change them afterwards.
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

    def __init__(self, hash_bits: int, digit: int, *, segment: int = 0,
                 early_exit: bool = True):
        self._hash_bits = hash_bits
        self._digit = digit
        self._steps = -(-hash_bits // digit)
        # Segments a digit holds; none without early exit, where nothing stops early.
        self._per = digit // segment if segment and early_exit else 0
        self._segment = segment
        self._early_exit = early_exit
        super().__init__({
            "go": In(1),
            "step": In(range(self._steps)),
            "restart": In(1),
            "enable": In(1),
            "x": In(hash_bits),
            "h": In(hash_bits),
            "bound": In(range(hash_bits + 2)),
            "done": Out(1),
            "distance": Out(range(hash_bits + 1)),
            "zero": Out(1),
            "nearer": Out(1),
        })

    @property
    def steps(self) -> int:
        return self._steps

    def elaborate(self, platform):
        m = Module()
        hb, digit, steps = self._hash_bits, self._digit, self._steps
        seg, per = self._segment, self._per
        padded = steps * digit
        partial = Signal(range(hb + 1))
        running = Signal()
        holds = Signal()     # this unit was given a cluster at step 0

        first = Signal()
        last = Signal()
        m.d.comb += [first.eq(self.step == 0), last.eq(self.step == steps - 1)]
        x = Signal(padded)
        h = Signal(padded)
        m.d.comb += [x.eq(self.x), h.eq(self.h)]     # zero-padded up to whole digits
        diff = x ^ h
        # Digits after the first wait in a shift register, so a step's digit is never a
        # ``steps``-way choice; and beside them, with a segment, their gaps l_s.
        rest = Signal((steps - 1) * digit, reset_less=True)
        gap_bits = bits_for(digit)
        gaps = Signal((steps - 1) * gap_bits, reset_less=True)

        run = Signal()
        ones = Signal(range(digit + 1))     # differing bits in this step's digit
        excess = Signal(range(digit + 1))   # this step's ones - l_s (steps after the first)
        head = Signal(range(hb + 1))        # what step 0 adds to the lower bound
        grow = Signal(range(hb + 1))        # what this step adds to it
        # What the lower bound may still grow by before it reaches ``bound``. Negative only
        # without early exit, where a comparison runs past the bound. It only matters while
        # the unit runs; once stopped it only falls, and a comparison's growths add up to its
        # distance, at most hash_bits, so it cannot wrap.
        budget = Signal(signed(bits_for(hb + 1) + 1))
        budget_r = Signal.like(budget)
        left = Signal.like(budget)
        reach = Signal()                    # this step takes the lower bound to ``bound``
        reach_r = Signal()
        m.d.comb += [
            run.eq(Mux(first, self.enable, running)),
            grow.eq(Mux(first, head, excess)),
            budget.eq(Mux(first, self.bound, budget_r)),
            reach.eq(Mux(first, head >= self.bound, reach_r)),
            left.eq(budget - grow),
        ]
        if steps > 1:
            following = rest[:digit]
            next_gap = gaps[:gap_bits]
            next_ones = Signal.like(ones)
            m.d.comb += next_ones.eq(popcount(following))
        with m.If(self.restart):
            first_ones = popcount(diff[:digit])
            m.d.sync += [ones.eq(first_ones), rest.eq(diff[digit:])]
            if per:
                later = [segment_gaps(x, h, s * digit, per, seg) for s in range(1, steps)]
                total = first_ones
                for value in later:
                    total = total + value
                m.d.sync += [head.eq(total), gaps.eq(Cat(*(v.as_unsigned()[:gap_bits]
                                                          for v in later)))]
            else:
                m.d.sync += head.eq(first_ones)
        if steps > 1:
            with m.Elif(self.go):
                m.d.sync += [ones.eq(next_ones), rest.eq(rest[digit:]),
                             excess.eq(next_ones - (next_gap if per else 0)),
                             gaps.eq(gaps[gap_bits:]), budget_r.eq(left),
                             reach_r.eq(at_least(following, budget, grow,
                                                 next_gap if per else None))]

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
