"""Cycle models of the designs the DRE units are measured against (``rtl/baselines``).

They answer "what would the obvious design cost?", so each is drawn in the baseline's favour:
every pass as short as its data allows, and no pipeline latency but that of the work it shares
with the unit it is measured against (at the same clock, it would need the same stages).
"""

from __future__ import annotations

import numpy as np

from .config import Config
from .wtu import WTU_MASK_LATENCY, WTU_ROW_SETUP, _check, _totals, wtu_pipeline

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
    network and finds the total, drained and set up as the WTU's (``wtu_pipeline`` and
    ``WTU_ROW_SETUP``: the same products, trees and threshold), ``ceil(log2 P)`` merge passes
    of ``P`` beats through a ``2 * lanes`` bitonic merger, and a prefix pass that stops at the
    beat holding the exit position, decided ``wtu_pipeline`` cycles after it (the same
    products and adder tree); the row's mask (each value in cluster order against the exit
    value) leaves while the next row loads, so only the last row's shows, then the OR-ed final
    mask, each ``P + WTU_MASK_LATENCY``. The sorter and the merger add no latency here.
    """
    exit_position = np.asarray(exit_position, dtype=np.int64)
    if exit_position.size == 0:
        return 0
    lanes = config.wtu_lanes
    beats = -(-columns // lanes)
    merges = (beats - 1).bit_length()                     # ceil(log2(beats))
    pipeline = wtu_pipeline(lanes)
    per_row = (beats + pipeline + WTU_ROW_SETUP + merges * beats
               + exit_position // lanes + 1 + pipeline)
    return beats + int(per_row.sum()) + 2 * (beats + WTU_MASK_LATENCY)
