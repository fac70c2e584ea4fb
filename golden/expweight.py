"""Mode ``exp`` of the WTU (SPEC 3.1): attention-mass weights from log2-unit scores.

A score arrives in log2 units with ``exp_frac`` (``q``) fraction bits: one unit is a factor
``2**(2**-q)`` of softmax weight. A value is ``v = E[d mod 2**q] >> (d >> q)`` with
``d = max(s) - s``, where ``E`` is a ``2**q``-word table of ``exp_bits`` (``W``) bits:
``E[f] = min(2**W - 1, floor(2**(W - f / 2**q)))``, defined exactly as the largest integer
``e`` with ``e**(2**q) <= 2**(W * 2**q - f)``. The RTL's ROM is built by :func:`exp_table`
too (``rtl/wtu/lanes.py`` receives the table from the configuration), so the two cannot drift.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["EXP_FRAC_RANGE", "EXP_BITS_RANGE", "exp_table", "exp_values", "log2_scores"]

EXP_FRAC_RANGE = (0, 6)
EXP_BITS_RANGE = (1, 24)


def _iroot(x: int, n: int) -> int:
    """The largest integer ``e`` with ``e**n <= x`` (``x >= 0``), by bisection on its bits."""
    e = 0
    for bit in reversed(range(x.bit_length() // n + 2)):
        trial = e | (1 << bit)
        if trial ** n <= x:
            e = trial
    return e


@functools.lru_cache(maxsize=None)
def exp_table(exp_frac: int, exp_bits: int) -> tuple[int, ...]:
    """The ``2**exp_frac`` words of ``E`` (SPEC 3.1), exact integers."""
    for name, value, (lo, hi) in (("exp_frac", exp_frac, EXP_FRAC_RANGE),
                                  ("exp_bits", exp_bits, EXP_BITS_RANGE)):
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ValueError(f"{name} must be an integer in {lo}..{hi}, not {value!r}")
    n = 1 << exp_frac
    cap = (1 << exp_bits) - 1
    return tuple(min(cap, _iroot(1 << (exp_bits * n - f), n)) for f in range(n))


def exp_values(scores: np.ndarray, exp_frac: int, exp_bits: int) -> np.ndarray:
    """``v`` of integer log2-unit scores, per row (the last axis): ``int64``, every value in
    ``0 .. 2**exp_bits - 1``, the row's maximum ``E[0]``."""
    scores = np.asarray(scores, dtype=np.int64)
    d = scores.max(axis=-1, keepdims=True) - scores
    table = np.array(exp_table(exp_frac, exp_bits), dtype=np.int64)
    shift = d >> exp_frac
    # A shift of exp_bits or more leaves nothing (and NumPy's >> by 64 or more is undefined).
    return np.where(shift >= exp_bits, 0,
                    table[d & ((1 << exp_frac) - 1)] >> np.minimum(shift, exp_bits))


def log2_scores(logits, exp_frac: int, score_bits: int) -> np.ndarray:
    """The integer scores the host sends in mode ``exp``: attention logits (``q . k /
    sqrt(D)``, natural-log units) times ``log2(e) * 2**exp_frac``, rounded and clipped to
    ``score_bits``; the scale the host folds into its output."""
    scaled = np.asarray(logits, dtype=np.float64) * (np.log2(np.e) * (1 << exp_frac))
    top = (1 << (score_bits - 1)) - 1
    return np.clip(np.rint(scaled), -top - 1, top).astype(np.int64)
