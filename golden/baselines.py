"""Cycle models of the designs the DRE units are measured against (``rtl/baselines``).

They answer "what would the obvious design cost?", so each is drawn in the baseline's favour:
no pipeline latency, every pass as short as its data allows.
"""

from __future__ import annotations

import numpy as np

from .config import Config
from .wtu import _check, _totals

__all__ = ["sorted_exit_position", "sort_wtu_cycles"]


def sorted_exit_position(scores, counts, config: Config) -> np.ndarray:
    """Per row, the position in the descending order of values at which the running weighted
    sum first passes ``T`` (the last position if it never does): where a sort-based unit's
    prefix pass can stop."""
    _check(scores, counts, config)
    v, weighted, _, threshold = _totals(scores, counts, config)
    order = np.argsort(-v, axis=1, kind="stable")
    running = np.cumsum(np.take_along_axis(weighted, order, axis=1), axis=1)
    passed = running > threshold[:, None]
    return np.where(passed.any(axis=1), passed.argmax(axis=1), v.shape[1] - 1).astype(np.int64)


def sort_wtu_cycles(exit_position: np.ndarray, columns: int, config: Config) -> int:
    """Cycles of a sort-based WiCSum unit with ``wtu_lanes`` lanes for one batch.

    The same streams and the same overlaps as the WTU's model (``P = ceil(columns / lanes)``
    beats a pass): counts ``P``; per row a load pass ``P`` that sorts each beat with a bitonic
    network (and finds the total), one cycle for the threshold, ``ceil(log2 P)`` merge passes of
    ``P`` beats through a ``2 * lanes`` bitonic merger, and a prefix pass that stops at the
    beat holding the exit position; the row's mask (each value in cluster order against the
    exit value) leaves while the next row loads, so only the last row's ``P + 1`` shows, then
    the OR-ed final mask ``P + 1``.
    """
    exit_position = np.asarray(exit_position, dtype=np.int64)
    if exit_position.size == 0:
        return 0
    lanes = config.wtu_lanes
    beats = -(-columns // lanes)
    merges = (beats - 1).bit_length()                     # ceil(log2(beats))
    per_row = beats + 1 + merges * beats + exit_position // lanes + 1
    return beats + int(per_row.sum()) + 2 * (beats + 1)
