"""One HCU similarity unit: a digit-serial Hamming distance with an early-exit comparator that
stops on a lower bound of the whole distance."""

from amaranth.hdl import Cat, Mux, Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from .gates import abs_gap, add_columns, at_least, popcount, weighted

__all__ = ["SimilarityUnit", "segment_gaps"]


def segment_gaps(m, x, h, lo, count, segment):
    """Per segment, the bits of ``|popcount(x_seg) - popcount(h_seg)|`` for ``count``
    segments of ``segment`` bits from bit ``lo`` of ``x`` and ``h``; their sum is a lower
    bound of the differing bits there."""
    return [abs_gap(m, x[at:at + segment], h[at:at + segment])
            for at in range(lo, lo + count * segment, segment)]


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
    x, h : In(hash_bits), or In(ArrayLayout(hash_bits, pairs))
        The hashes, taken in the ``restart`` cycle; the parent may change them afterwards.
        With several pairs, each pair's restart sums are formed beside the others and
        ``pick`` chooses among the results, so that the parent's choice of operands is not on
        the restart's path.
    pick : In(range(pairs))
        With several pairs: the pair a restart takes.
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
                 early_exit: bool = True, pairs: int = 1):
        self._hash_bits = hash_bits
        self._digit = digit
        self._steps = -(-hash_bits // digit)
        # Segments a digit holds; none without early exit, where nothing stops early.
        self._per = digit // segment if segment and early_exit else 0
        self._segment = segment
        self._early_exit = early_exit
        self._pairs = pairs
        operand = hash_bits if pairs == 1 else data.ArrayLayout(hash_bits, pairs)
        super().__init__({
            "go": In(1),
            "step": In(range(self._steps)),
            "restart": In(1),
            "enable": In(1),
            "x": In(operand),
            "h": In(operand),
            **({"pick": In(range(pairs))} if pairs > 1 else {}),
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
        # Digits after the first wait in a shift register, so a step's digit is never a
        # ``steps``-way choice; and beside them, with a segment, their gaps l_s.
        rest = Signal((steps - 1) * digit, reset_less=True)
        gap_bits = bits_for(digit)
        gaps = Signal((steps - 1) * gap_bits, reset_less=True)

        run = Signal()
        ones = Signal(range(digit + 1))     # differing bits in this step's digit
        excess = Signal(range(digit + 1))   # this step's ones - l_s (steps after the first)
        head = Signal(range(hb + 1))        # what step 0 adds to the lower bound (registered)
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
            m.d.comb += next_ones.eq(popcount(m, following))
            next_reach = at_least(m, following, budget, grow, next_gap if per else None)
        # What a restart takes, computed outside its condition (the gates' signals are driven
        # every cycle, not gated by it), for each pair of operands.
        def restart_sums(x_in, h_in):
            x, h = Signal(padded), Signal(padded)
            m.d.comb += [x.eq(x_in), h.eq(h_in)]     # zero-padded up to whole digits
            diff = x ^ h
            ones = popcount(m, diff[:digit])
            if not per:
                return [diff[digit:], ones, ones]
            # Head and the later digits' gaps straight from the segment gaps, each one
            # carry-save tree: restart -> head is the unit's deepest path.
            later = [segment_gaps(m, x, h, s * digit, per, seg) for s in range(1, steps)]
            columns = weighted([g for digit_gaps in later for g in digit_gaps]) or [[]]
            columns[0] += [diff[i] for i in range(digit)]       # the first digit's ones
            return [diff[digit:], ones, Cat(*add_columns(m, columns, len(head))),
                    Cat(*(Cat(*add_columns(m, weighted(g), gap_bits)) for g in later))]

        if self._pairs == 1:
            first_rest, first_ones, first_head, *first_gaps = restart_sums(self.x, self.h)
            with m.If(self.restart):
                m.d.sync += head.eq(first_head)
        else:
            sums = [restart_sums(self.x[i], self.h[i]) for i in range(self._pairs)]

            def chosen(values, pick):
                value = values[-1]
                for i in reversed(range(self._pairs - 1)):
                    value = Mux(pick == i, values[i], value)
                return value
            first_rest, first_ones, _, *first_gaps = [chosen(v, self.pick) for v in zip(*sums)]
            # Every pair's head is registered and the pick with them; step 0 chooses: the
            # head's sum is the restart's deepest cone, the choice is not added to it.
            heads = [Signal.like(head, name=f"head{i}") for i in range(self._pairs)]
            pick = Signal.like(self.pick)
            with m.If(self.restart):
                m.d.sync += [pick.eq(self.pick),
                             *(h.eq(values[2]) for h, values in zip(heads, sums))]
            m.d.comb += head.eq(chosen(heads, pick))
        with m.If(self.restart):
            m.d.sync += [ones.eq(first_ones), rest.eq(first_rest)]
            if per:
                m.d.sync += gaps.eq(first_gaps[0])
        if steps > 1:
            with m.Elif(self.go):
                m.d.sync += [ones.eq(next_ones), rest.eq(rest[digit:]),
                             excess.eq(next_ones - (next_gap if per else 0)),
                             gaps.eq(gaps[gap_bits:]), budget_r.eq(left),
                             reach_r.eq(next_reach)]

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
