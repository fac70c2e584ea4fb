"""Arithmetic written as gates: carry-save trees of full adders and a final ripple.

Yosys maps ``+`` and ``-`` on FPGAs to carry cells, one chain per adder, with a routing hop
between chains; a sum of many terms written as gates instead is one logic cone, which ABC
packs into a few levels of LUTs. Every full adder's outputs are signals of ``m``, so a bit
used twice is one net (an expression would be copied into each use, twice per carry).
"""

from amaranth.hdl import C, Cat, Signal, Value
from amaranth.utils import bits_for

__all__ = ["add_columns", "weighted", "popcount", "abs_gap", "at_least"]


def _full_adder(m, a, b, c):
    total, carry = Signal(name="fa_s"), Signal(name="fa_c")
    m.d.comb += [total.eq(a ^ b ^ c), carry.eq((a & b) | (c & (a | b)))]
    return total, carry


def _compress(m, columns):
    """Reduce columns of bits (by weight) to at most two bits each, with full adders."""
    columns = [list(column) for column in columns]
    while any(len(column) > 2 for column in columns):
        reduced = [[] for _ in range(len(columns) + 1)]
        for weight, column in enumerate(columns):
            while len(column) >= 3:
                total, carry = _full_adder(m, *column[:3])
                column = column[3:]
                reduced[weight].append(total)
                reduced[weight + 1].append(carry)
            reduced[weight] += column
        columns = reduced
        while columns and not columns[-1]:
            columns.pop()
    return columns


def _ripple(m, columns, width):
    """The low ``width`` bits of the sum of columns of at most two bits each."""
    bits, carry = [], None
    for weight in range(width):
        terms = (columns[weight] if weight < len(columns) else []) + \
            ([carry] if carry is not None else [])
        carry = None
        if len(terms) == 3:
            total, carry = _full_adder(m, *terms)
        elif len(terms) == 2:
            total, carry = _full_adder(m, *terms, C(0, 1))
        else:
            total = terms[0] if terms else C(0, 1)
        bits.append(total)
    return bits


def add_columns(m, columns, width):
    """The low ``width`` bits (a list, least significant first) of the sum of ``columns``:
    lists of 1-bit values by weight."""
    return _ripple(m, _compress(m, columns), width)


def weighted(numbers):
    """Columns by weight of unsigned numbers given as lists of bits."""
    columns = [[] for _ in range(max((len(n) for n in numbers), default=0))]
    for bits in numbers:
        for weight, bit in enumerate(bits):
            columns[weight].append(bit)
    return columns


def _bits(value):
    value = Value.cast(value)
    return [value[i] for i in range(len(value))]


def popcount(m, value):
    """The population count of ``value``, as a value of ``bits_for(len(value))`` bits."""
    return Cat(*add_columns(m, [_bits(value)], bits_for(len(Value.cast(value)))))


def abs_gap(m, u, v):
    """``|popcount(u) - popcount(v)|`` as a list of bits, least significant first."""
    width = bits_for(max(len(Value.cast(u)), len(Value.cast(v))))
    a = add_columns(m, [_bits(u)], width)
    b = add_columns(m, [_bits(v)], width)
    # a - b + 2**width: its top bit says a >= b; below it, a - b modulo 2**width.
    t = add_columns(m, [[a[i], ~b[i]] + ([C(1, 1)] if i == 0 else []) for i in range(width)],
                    width + 1)
    neg = ~t[width]
    return add_columns(m, [[t[i] ^ neg] + ([neg] if i == 0 else []) for i in range(width)],
                       width)


def at_least(m, value, threshold, offset=None, minus=None):
    """``popcount(value) + offset - minus >= threshold``, for unsigned ``offset`` and ``minus``
    and a signed or unsigned ``threshold``: the sign of the difference, every term in one
    carry-save tree, so that the count and the comparison map together."""
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
    columns[0] += _bits(value) + [C(1, 1), C(1, 1)]
    for weight in range(width):
        columns[weight] += [negated[weight], negated_minus[weight]]
        if weight < len(offset):
            columns[weight].append(offset[weight])
    return ~add_columns(m, columns, width)[-1]
