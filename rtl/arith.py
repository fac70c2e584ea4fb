"""Division without a divider: by a runtime divisor from a ROM of reciprocals (the WTU's bucket
width), or by a generator constant (cluster id to word and lane)."""

from amaranth.hdl import Signal
from amaranth.utils import bits_for

__all__ = ["reciprocal_shift", "reciprocal", "divmod_const"]


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
