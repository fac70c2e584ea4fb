"""WTU golden model: bucketed WiCSum thresholding (SPEC 3), the exact sorted WiCSum of the
paper on the same integers, and the cycle model of the two selection schedules (SPEC 5)."""

from __future__ import annotations

import dataclasses

import numpy as np

from .config import Config, Mode, Schedule
from .expweight import exp_values

__all__ = ["Schedule", "WtuResult", "run_wtu", "exact_wicsum", "fewest_highest", "values",
           "bucket_keys", "wtu_cycles", "exit_beats", "wtu_pipeline", "wtu_extremes",
           "WTU_ROW_SETUP", "WTU_DECIDE",
           "WTU_MASK_LATENCY", "WTU_EXP_DECIDE", "WTU_EXP_BUBBLE"]

# The WTU's stages (rtl/wtu/): a beat is accumulated wtu_pipeline(lanes) cycles after it is
# issued (block RAM read, operands, products, the adder tree two levels a cycle, accumulate).
# A selection's deciding beat is accumulated that long after it was issued. A row's least
# and greatest score are folded wtu_extremes(lanes) cycles after its load pass's last beat is
# issued (before G); WTU_ROW_SETUP cycles later its first selection beat is issued:
# the previous row's mask is waited for, the span and the reciprocal of B, the quotient, the
# bucket width and top edge are registered and latched. S and T follow from the sums while the
# first beat is in the pipeline. Each constant is a stage's latency (WTU.latencies, compared
# with these by a test); the cocotb and Amaranth tests hold the whole schedule to this model.
WTU_ROW_SETUP = 4


def wtu_pipeline(lanes: int) -> int:
    """Cycles from a beat's issue to its accumulation: four stages and a balanced adder tree
    over ``lanes``, two levels a stage."""
    return 4 + -(-(lanes - 1).bit_length() // 2)


def wtu_extremes(lanes: int) -> int:
    """Cycles from a load beat's issue to the fold of its least and greatest score: the
    input's register, then their trees over ``lanes``, one level a stage (they need no
    product: they start a stage after the issue)."""
    return 1 + (lanes - 1).bit_length()


# A selection acts on its registered decision this long after the deciding beat's stage G.
WTU_DECIDE = 1
# A mask's first beat leaves this long after its emitter starts (block RAM read, register).
WTU_MASK_LATENCY = 2
# Mode exp: the total S is only known after a pass over the row's values (the values need the
# row's maximum, which the load pass finds). The scan's first pass sums every value beside
# bucket 0's; S then takes the row setup's last three registers to T (the same multiplier), and
# bucket 0 is decided as T arrives: WTU_EXP_DECIDE cycles later than a decision on that
# pass's last beat. Pass 1 is issued WTU_EXP_BUBBLE cycles late, so its first beat meets T.
# The histogram takes its last prefix sum A(B - 1) = S the same way, WTU_EXP_DECIDE - 1 extra
# cycles.
WTU_EXP_DECIDE = 4
WTU_EXP_BUBBLE = 3


@dataclasses.dataclass
class WtuResult:
    """Outputs of one WTU batch (SPEC 6 ``wtu`` keys)."""

    row_select: np.ndarray   # bool[R, C]
    select: np.ndarray       # bool[C]: OR over the rows
    exit_bucket: np.ndarray  # int64[R]
    threshold: np.ndarray    # int64[R]: T = (S * ratio) >> 16
    total: np.ndarray        # int64[R]: S = sum v * cnt
    cycles: int
    # int64[R]: the beat (of wtu_lanes clusters) at which the exit bucket's running sum passes
    # T, where the scan's early exit stops; not a SPEC 6 output, it only sets the cycles.
    exit_beat: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))

    def as_dict(self) -> dict[str, np.ndarray]:
        return {
            "row_select": self.row_select,
            "select": self.select,
            "exit_bucket": self.exit_bucket,
            "threshold": self.threshold,
            "total": self.total,
            "cycles": np.int64(self.cycles),
        }


def values(scores: np.ndarray, mode: Mode, exp_frac: int = 4, exp_bits: int = 16) -> np.ndarray:
    """Non-negative values ``v`` of signed scores, per row (SPEC 3); integers stay exact
    integers, float scores (the algorithm without the hardware's rounding) stay floats. In
    mode ``exp`` integer scores have ``exp_frac`` fraction bits and give ``exp_bits``-bit
    values (SPEC 3.1); float scores are plain log2 units and give ``2**(s - max(s))``."""
    scores = np.asarray(scores)
    scores = scores if scores.dtype.kind == "f" else scores.astype(np.int64)
    mode = Mode(mode)
    if mode is Mode.SHIFT:
        return scores - scores.min(axis=-1, keepdims=True)
    if mode is Mode.EXP:
        if scores.dtype.kind == "f":
            return np.exp2(scores - scores.max(axis=-1, keepdims=True))
        return exp_values(scores, exp_frac, exp_bits)
    return np.maximum(scores, 0)


def bucket_keys(scores: np.ndarray, v: np.ndarray, mode: Mode) -> np.ndarray:
    """What the buckets are cut over: the values, or in mode ``exp`` the scores (equal steps
    of log-weight, SPEC 3)."""
    return np.asarray(scores) if Mode(mode) is Mode.EXP else v


def _totals(scores, counts, config: Config):
    v = values(scores, config.mode, config.exp_frac, config.exp_bits)
    weighted = v * np.asarray(counts, dtype=np.int64)[None, :]
    total = weighted.sum(axis=1)
    # (S * ratio) >> 16 without forming S * ratio, which may need more than 64 bits:
    # S = hi * 2**16 + lo, so S * ratio >> 16 = hi * ratio + (lo * ratio >> 16) exactly.
    threshold = (total >> 16) * config.ratio + (((total & 0xFFFF) * config.ratio) >> 16)
    return v, weighted, total, threshold


def _check(scores, counts, config: Config):
    scores = np.asarray(scores)
    counts = np.asarray(counts)
    if scores.ndim != 2 or scores.shape[0] < 1 or not 1 <= scores.shape[1] <= config.max_clusters:
        raise ValueError(f"scores must be [rows >= 1, 1..max_clusters={config.max_clusters}], "
                         f"not shape {scores.shape}")
    if counts.shape != (scores.shape[1],):
        raise ValueError(f"counts must have shape ({scores.shape[1]},), not {counts.shape}")


def run_wtu(scores, counts, config: Config, *, schedule: Schedule | None = None,
            early_exit: bool = True) -> WtuResult:
    """Select clusters for one query batch of rows.

    Parameters
    ----------
    scores : array of int, shape (R, C)
        Signed ``score_bits`` scores, one row per query token.
    counts : array of int, shape (C,)
        Unsigned token counts of the ``C`` clusters.
    config : Config
        Widths and the ``ratio``, ``buckets``, ``mode`` in force.
    schedule, early_exit
        Only change ``cycles``: the selection is the same bits for every schedule. The schedule
        defaults to the configuration's ``wtu_schedule``.
    """
    _check(scores, counts, config)
    buckets = config.buckets
    v, weighted, total, threshold = _totals(scores, counts, config)
    rows = v.shape[0]
    key = bucket_keys(scores, v, config.mode).astype(np.int64)
    lo, hi = key.min(axis=1), key.max(axis=1)
    width = (hi - lo) // buckets + 1
    bucket = (hi[:, None] - key) // width[:, None]        # 0 holds the largest values
    sums = np.zeros((rows, buckets), dtype=np.int64)
    np.add.at(sums, (np.repeat(np.arange(rows), v.shape[1]), bucket.ravel()), weighted.ravel())
    prefix = np.cumsum(sums, axis=1)
    passed = prefix > threshold[:, None]
    exit_bucket = np.where(passed.any(axis=1), passed.argmax(axis=1), buckets - 1)
    row_select = bucket <= exit_bucket[:, None]
    beat = exit_beats(np.where(row_select, weighted, 0), threshold, config.wtu_lanes)
    cycles = wtu_cycles(exit_bucket, v.shape[1], config, exit_beat=beat, schedule=schedule,
                        early_exit=early_exit, mode=config.mode)
    return WtuResult(row_select=row_select, select=row_select.any(axis=0),
                     exit_bucket=exit_bucket.astype(np.int64), threshold=threshold,
                     total=total, cycles=cycles, exit_beat=beat)


def exit_beats(selected: np.ndarray, threshold: np.ndarray, lanes: int) -> np.ndarray:
    """Per row, the first beat of ``lanes`` columns after which the running sum of
    ``selected`` (the exit bucket's ``v * cnt``, 0 elsewhere) passes ``threshold``; the last
    beat if it never does."""
    rows, columns = selected.shape
    beats = -(-columns // lanes)
    padded = np.zeros((rows, beats * lanes), dtype=np.int64)
    padded[:, :columns] = selected
    running = np.cumsum(padded.reshape(rows, beats, lanes).sum(axis=2), axis=1)
    passed = running > threshold[:, None]
    return np.where(passed.any(axis=1), passed.argmax(axis=1), beats - 1).astype(np.int64)


def exact_wicsum(scores, counts, config: Config) -> np.ndarray:
    """The paper's exact rule on the same integers: per row, the fewest highest values (ties by
    smaller index) whose weighted sum passes ``T``, or every cluster if none does. In mode
    ``exp`` "highest" is by score: values floor to ties (to 0 far from the maximum) where the
    scores, and the buckets cut over them, still tell the clusters apart.

    Returns ``bool[R, C]``; it is always a subset of :func:`run_wtu`'s ``row_select``.
    """
    _check(scores, counts, config)
    v, weighted, _, threshold = _totals(scores, counts, config)
    return fewest_highest(bucket_keys(scores, v, config.mode), weighted, threshold)


def fewest_highest(v, weighted, threshold) -> np.ndarray:
    """Per row, the fewest highest ``v`` (ties by smaller index) whose ``weighted`` sum
    passes ``threshold``, or every column if none does: the exact sorted WiCSum, on integers
    or floats alike (``v`` orders the clusters: the values, or in mode ``exp`` the scores)."""
    v = np.asarray(v)
    order = np.argsort(-v, axis=1, kind="stable")
    running = np.cumsum(np.take_along_axis(weighted, order, axis=1), axis=1)
    passed = running > threshold[:, None]
    last = np.where(passed.any(axis=1), passed.argmax(axis=1), v.shape[1] - 1)
    keep = np.arange(v.shape[1])[None, :] <= last[:, None]
    row_select = np.zeros_like(keep)
    np.put_along_axis(row_select, order, keep, axis=1)
    return row_select


def wtu_cycles(exit_bucket: np.ndarray, columns: int, config: Config, *,
               exit_beat: np.ndarray | None = None, schedule: Schedule | None = None,
               early_exit: bool = True, mode: Mode | None = None) -> int:
    """Cycles for a batch whose rows exit at ``exit_bucket`` (and, for the scan with early
    exit, at beat ``exit_beat`` of that bucket's pass), ``columns`` clusters each, from the
    first count beat in to the last final-mask beat out, streams never stalled.

    Every pass moves ``wtu_lanes`` scores a cycle, ``P = ceil(columns / wtu_lanes)`` beats
    (``rtl/wtu/``). The batch's counts take ``P`` cycles. A row takes its load pass (``P``
    beats into the row buffer and the pipeline, which folds min, max and the weighted sums),
    ``wtu_extremes(lanes)`` cycles for its last beat's min and max to be folded in,
    ``WTU_ROW_SETUP`` cycles for the bucket width and edge (the total and the threshold follow
    while the first selection beat is in the pipeline), then its selection passes of ``P``
    beats each, issued back to back, ``wtu_pipeline(lanes)`` cycles until the beat that ends
    the selection is accumulated, and ``WTU_DECIDE`` to act on the registered decision. The
    scan issues ``e`` whole passes and decides inside pass ``e`` on beat ``x``, where the
    running sum passes ``T`` (values are never negative, so nothing after it can undo that):
    ``e * P + x + 1`` beats; without early exit it issues all ``B`` passes. The histogram
    schedule issues one pass that accumulates every ``A(b)`` at once, and picks the first past
    ``T`` in its decision cycle. A row's mask (``P`` beats after
    ``WTU_MASK_LATENCY`` cycles) leaves while the next row loads, so only the last row's
    shows, followed by the OR-ed final mask (the same).

    In mode ``exp`` (``mode``, default the configuration's) ``T`` waits for the first pass:
    the scan cannot leave inside pass 0, decides bucket 0 ``WTU_EXP_DECIDE`` cycles after
    that pass's last beat would have, and issues pass 1 ``WTU_EXP_BUBBLE`` cycles late (a
    scan of one bucket decides like bucket 0); the histogram picks ``WTU_EXP_DECIDE - 1``
    cycles later.
    """
    exit_bucket = np.asarray(exit_bucket, dtype=np.int64)
    rows = exit_bucket.size
    if rows == 0:
        return 0
    beats = -(-columns // config.wtu_lanes)
    schedule = config.wtu_schedule if schedule is None else Schedule(schedule)
    exp = Mode(config.mode if mode is None else mode) is Mode.EXP
    if schedule is Schedule.HISTOGRAM:
        selection = np.full(rows, beats + (WTU_EXP_DECIDE - 1 if exp else 0))
    elif not early_exit:
        selection = np.full(rows, config.buckets * beats)
        if exp:
            selection += WTU_EXP_DECIDE if config.buckets == 1 else WTU_EXP_BUBBLE
    else:
        if exit_beat is None:
            raise ValueError("the scan with early exit needs exit_beat")
        selection = exit_bucket * beats + np.asarray(exit_beat, dtype=np.int64) + 1
        if exp:
            selection = np.where(exit_bucket == 0, beats + WTU_EXP_DECIDE,
                                 selection + WTU_EXP_BUBBLE)
    pipeline = wtu_pipeline(config.wtu_lanes)
    per_row = (beats + wtu_extremes(config.wtu_lanes) + WTU_ROW_SETUP + selection + pipeline
               + WTU_DECIDE)
    return beats + int(per_row.sum()) + 2 * (beats + WTU_MASK_LATENCY)
