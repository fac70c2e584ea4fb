"""Cycle models of the designs the DRE units are measured against (``rtl/baselines``).

They answer "what would the obvious design cost?", so each is drawn in the baseline's favour:
every pass as short as its data allows, and no latency but that of its pipeline registers,
placed as the unit's (two levels of logic a stage: at the same clock, it needs them).
"""

from __future__ import annotations

import numpy as np

from .config import Config
from .wtu import WTU_DECIDE, WTU_MASK_LATENCY, WTU_ROW_SETUP, _check, _totals, wtu_extremes

__all__ = ["sorted_exit_position", "sort_wtu_cycles", "sort_latencies"]

# Levels of logic between two of the sort datapath's registers (rtl/baselines/sort.py).
SORT_LEVELS = 2


def sort_latencies(lanes: int) -> dict[str, int]:
    """Pipeline latencies of the sort datapath with ``lanes`` (a power of two) lanes: the
    multipliers (``weight``), the bitonic sorter of ``k (k + 1) / 2`` compare-and-exchange
    stages (``k = log2 lanes``), the merger of ``2 * lanes`` wires (``k + 1`` stages), the
    prefix chain of ``lanes`` adds, ``SORT_LEVELS`` of each a register."""
    k = (lanes - 1).bit_length()
    stages = lambda n: -(-n // SORT_LEVELS)                       # noqa: E731
    return {"weight": 1, "sort": stages(k * (k + 1) // 2), "merge": stages(k + 1),
            "prefix": stages(lanes)}


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
    beats a pass): counts ``P``; per row a load pass of ``P`` beats, each weighed and sorted
    (:func:`sort_latencies` ``weight + sort`` cycles to its sorted beat), then ``ceil(log2 P)``
    merge passes of ``P`` beats through a ``2 * lanes`` bitonic merger, each drained (``merge``)
    before the next, and a prefix pass that stops at the beat holding the exit position, decided
    ``prefix + WTU_DECIDE`` cycles after it. The prefix pass needs ``T``, which the load pass
    finds as the WTU's does (``wtu_extremes + WTU_ROW_SETUP``, a bound the merges nearly always
    exceed). The row's mask (each value in cluster order against the exit value) leaves while
    the next row loads, so only the last row's shows, then the OR-ed final mask, each
    ``P + WTU_MASK_LATENCY``. In the baseline's favour: the merger's and the chain's own
    feedback (the carried half run, the running sum) are taken to cost nothing.
    """
    exit_position = np.asarray(exit_position, dtype=np.int64)
    if exit_position.size == 0:
        return 0
    lanes = config.wtu_lanes
    latency = sort_latencies(lanes)
    beats = -(-columns // lanes)
    merges = (beats - 1).bit_length()                     # ceil(log2(beats))
    sorted_by = (beats + latency["weight"] + latency["sort"]
                 + merges * (beats + latency["merge"]))
    ready = max(sorted_by, beats + wtu_extremes(lanes) + WTU_ROW_SETUP)
    per_row = ready + exit_position // lanes + 1 + latency["prefix"] + WTU_DECIDE
    return beats + int(per_row.sum()) + 2 * (beats + WTU_MASK_LATENCY)
