"""Arithmetic building blocks: division without a divider, by a runtime divisor from a ROM of
reciprocals (the WTU's bucket width) or by a generator constant (cluster id to word and lane),
and balanced reduction trees."""

from amaranth.hdl import Assert, Cat, Shape, Signal
from amaranth.utils import bits_for

__all__ = ["word_lanes", "reciprocal_shift", "reciprocal", "divmod_const", "reduce_levels",
           "reduce_tree",
           "tree_levels", "tree_stages", "fits", "narrow"]


def fits(value, shape):
    """Whether ``value`` (of any width) is representable in ``shape``: assigning it loses
    nothing. Amaranth's comparisons widen both sides, so this is exact."""
    shape = Shape.cast(shape)
    if shape.signed:
        return (value >= -(1 << (shape.width - 1))) & (value < (1 << (shape.width - 1)))
    return (value >= 0) & (value < (1 << shape.width))


def narrow(m, target, value, *, checks: bool, name: str | None = None):
    """``target.eq(value)``; with ``checks``, in the same context, an assertion that ``value``
    fits ``target`` (nothing is lost), for the formal harnesses to prove."""
    if checks:
        m.d.comb += Assert(fits(value, target.shape()), f"{name or target.name}_fits")
    return target.eq(value)


def reduce_levels(m, terms, combine, *, shape, name: str, levels: int | None = None,
                  checked: bool = False) -> list:
    """Reduce ``terms`` with the associative ``combine(a, b)`` in a balanced binary tree,
    ``levels`` levels of it (all of them if ``None``), and return what is left: one term after
    ``ceil(log2 n)`` levels, where a fold would be ``n - 1`` deep. Every node is a signal of
    ``shape``, so no subexpression is copied into the netlist twice. ``checked``: assert that
    every node's value fits ``shape`` (for the formal harnesses)."""
    terms = list(terms)
    if not terms:
        raise ValueError(f"{name}: a reduction needs at least one term")
    level = 0
    while len(terms) > 1 and (levels is None or level < levels):
        paired = []
        for i in range(0, len(terms) - 1, 2):
            node = Signal(shape, name=f"{name}_{level}_{i // 2}")
            value = combine(terms[i], terms[i + 1])
            m.d.comb += node.eq(value)
            if checked:
                m.d.comb += Assert(fits(value, shape), f"{node.name}_fits")
            paired.append(node)
        terms = paired + terms[len(terms) & ~1:]
        level += 1
    return terms


def reduce_tree(m, terms, combine, *, shape, name: str):
    """The whole balanced reduction of :func:`reduce_levels`: one signal."""
    return reduce_levels(m, terms, combine, shape=shape, name=name)[0]


def tree_levels(n: int) -> int:
    """Levels of a balanced binary tree over ``n`` terms."""
    return (n - 1).bit_length()


def tree_stages(n: int, levels_per_stage: int) -> int:
    """Registered stages of a balanced binary tree over ``n`` terms, ``levels_per_stage``
    levels each."""
    return -(-tree_levels(n) // levels_per_stage)


def reciprocal_shift(span_bits: int, max_divisor: int) -> int:
    """The ``K`` for which ``(x * reciprocal(d, K)) >> K == x // d`` for every
    ``0 <= x < 2**span_bits`` and ``1 <= d <= max_divisor``: with ``m = ceil(2**K / d)``,
    ``x * m / 2**K = x / d + err`` where ``0 <= err < 2**(span_bits - K) <= 1 / d``, too little
    to carry ``x / d`` (whose fraction is at most ``(d - 1) / d``) past the next integer."""
    return span_bits + bits_for(max_divisor)


def reciprocal(divisor: int, shift: int) -> int:
    """``ceil(2**shift / divisor)``: ``shift + 1`` bits at most."""
    return -(-(1 << shift) // divisor)


def divmod_const(m, value, divisor: int, *, name: str):
    """``value // divisor`` and ``value % divisor`` for an unsigned ``value`` and a constant
    ``divisor``: bit slices for a power of two, else a multiply by the reciprocal (exact, see
    :func:`reciprocal_shift`) and one by the divisor. Returns two signals."""
    bits = len(value)
    quot = Signal(bits, name=f"{name}_quot")
    rem = Signal(range(divisor), name=f"{name}_rem")
    if divisor & (divisor - 1) == 0:
        shift = divisor.bit_length() - 1
        m.d.comb += [quot.eq(value >> shift), rem.eq(value[:shift] if shift else 0)]
    else:
        shift = reciprocal_shift(bits, divisor)
        m.d.comb += [quot.eq((value * reciprocal(divisor, shift)) >> shift),
                     rem.eq(value - quot * divisor)]
    return quot, rem


def word_lanes(word, lanes: int, columns):
    """Which of ``lanes`` lanes of beat ``word`` hold a column, of ``columns``, as a mask."""
    return Cat(*(word * lanes + lane < columns for lane in range(lanes)))
