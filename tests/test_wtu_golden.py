"""WTU golden model (SPEC 3) against hand-worked rows and the spec reference."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vrex.golden.config import Config, Mode
from vrex.golden.stimulus import WTU_SHAPES
from vrex.golden.wtu import (WTU_DECIDE, WTU_MASK_LATENCY, WTU_ROW_SETUP, Schedule,
                             exact_wicsum, run_wtu, wtu_cycles, wtu_extremes,
                             wtu_pipeline)

import spec_reference as ref
from conftest import small_config

ROW = [[10, 0, 6, -4]]
COUNTS = [1, 3, 2, 5]


def test_hand_worked_clamp():
    # v = [10, 0, 6, 0], v*cnt = [10, 0, 12, 0], S = 22, T = 22 * 0.5 = 11.
    # B = 2: w = 10 // 2 + 1 = 6, buckets (10 - v) // 6 = [0, 1, 0, 1]; A(0) = 22 > 11.
    cfg = small_config(ratio=32768, buckets=2, mode=Mode.CLAMP)
    r = run_wtu(ROW, COUNTS, cfg)
    assert r.total.tolist() == [22] and r.threshold.tolist() == [11]
    assert r.exit_bucket.tolist() == [0]
    assert r.row_select.tolist() == [[True, False, True, False]]
    assert r.select.tolist() == [True, False, True, False]


def test_hand_worked_shift():
    # v = s - min(s) = [14, 4, 10, 0], v*cnt = [14, 12, 20, 0], S = 46, T = 23.
    # B = 4: w = 14 // 4 + 1 = 4, buckets (14 - v) // 4 = [0, 2, 1, 3];
    # A(0) = 14 <= 23, A(1) = 34 > 23: exit in bucket 1.
    cfg = small_config(ratio=32768, buckets=4, mode=Mode.SHIFT)
    r = run_wtu(ROW, COUNTS, cfg)
    assert (r.total[0], r.threshold[0], r.exit_bucket[0]) == (46, 23, 1)
    assert r.row_select.tolist() == [[True, False, True, False]]


def test_exact_is_stricter_than_buckets_by_hand():
    # ratio 0.25: T = 5. Exact: the top value alone (10 > 5). Bucketed: its whole bucket.
    cfg = small_config(ratio=16384, buckets=2)
    assert exact_wicsum(ROW, COUNTS, cfg).tolist() == [[True, False, False, False]]
    assert run_wtu(ROW, COUNTS, cfg).row_select.tolist() == [[True, False, True, False]]


def test_nothing_passes_selects_everything():
    # All-negative scores clamp to zero: S = T = 0, no prefix passes, exit is the last bucket.
    cfg = small_config(buckets=3)
    r = run_wtu([[-5, -1, -7]], [1, 2, 3], cfg)
    assert r.exit_bucket.tolist() == [2] and r.row_select.all()
    assert exact_wicsum([[-5, -1, -7]], [1, 2, 3], cfg).all()


def test_rows_are_ored():
    cfg = small_config(ratio=0, buckets=4)
    r = run_wtu([[9, 0, 0], [0, 0, 9]], [1, 1, 1], cfg)
    assert r.row_select.tolist() == [[True, False, False], [False, False, True]]
    assert r.select.tolist() == [True, False, True]


def _check_against_reference(scores, counts, cfg):
    got = run_wtu(scores, counts, cfg)
    exact = exact_wicsum(scores, counts, cfg)
    for i, row in enumerate(scores):
        want = ref.wtu_row(row, counts, cfg)
        assert got.row_select[i].tolist() == want.select
        assert (got.exit_bucket[i], got.threshold[i], got.total[i]) == \
            (want.exit_bucket, want.threshold, want.total)
        assert exact[i].tolist() == ref.wtu_exact_row(row, counts, cfg)
    assert got.select.tolist() == list(np.any(got.row_select, axis=0))
    # The paper's exact selection is always contained in the bucketed one.
    assert not np.any(exact & ~got.row_select)


@pytest.mark.parametrize("shape", sorted(WTU_SHAPES))
@pytest.mark.parametrize("seed", range(6))
def test_random_against_reference(shape, seed):
    rng = np.random.default_rng(seed)
    max_buckets = int(rng.integers(1, 40))
    cfg = Config(score_bits=int(rng.integers(2, 33)), count_bits=int(rng.integers(1, 17)),
                 max_clusters=int(rng.integers(1, 300)), wtu_lanes=1,
                 max_buckets=max_buckets, buckets=int(rng.integers(1, max_buckets + 1)),
                 ratio=int(rng.choice([0, 1, 19660, 32768, 65535])),
                 mode=int(rng.integers(0, 3)), exp_frac=int(rng.integers(0, 7)),
                 exp_bits=int(rng.integers(1, 17)))
    columns = int(rng.integers(1, cfg.max_clusters + 1))
    scores = WTU_SHAPES[shape](rng, int(rng.integers(1, 5)), columns, cfg)
    counts = rng.integers(0, cfg.count_max, size=columns, endpoint=True)
    counts[rng.random(columns) < 0.3] = 0
    _check_against_reference(np.asarray(scores), counts, cfg)


@given(data=st.data())
def test_property_against_reference(data):
    score_bits = data.draw(st.integers(2, 20))
    count_bits = data.draw(st.integers(1, 12))
    max_buckets = data.draw(st.integers(1, 20))
    cfg = Config(score_bits=score_bits, count_bits=count_bits, max_clusters=64, wtu_lanes=1,
                 max_buckets=max_buckets, buckets=data.draw(st.integers(1, max_buckets)),
                 ratio=data.draw(st.integers(0, 65535)), mode=data.draw(st.integers(0, 2)),
                 exp_frac=data.draw(st.integers(0, 6)), exp_bits=data.draw(st.integers(1, 24)))
    columns = data.draw(st.integers(1, 12))
    rows = data.draw(st.integers(1, 3))
    score = st.integers(cfg.score_min, cfg.score_max)
    scores = np.array(data.draw(st.lists(st.lists(score, min_size=columns, max_size=columns),
                                         min_size=rows, max_size=rows)))
    counts = np.array(data.draw(st.lists(st.integers(0, cfg.count_max),
                                         min_size=columns, max_size=columns)))
    _check_against_reference(scores, counts, cfg)


@pytest.mark.parametrize("mode", [Mode.SHIFT, Mode.CLAMP, Mode.EXP])
def test_extreme_inputs_do_not_overflow(mode):
    # The widest legal total: 32-bit scores, 16-bit counts, 32768 clusters (63 bits); in mode
    # exp 24-bit values, the widest.
    cfg = Config(score_bits=32, count_bits=15, max_clusters=1 << 16, wtu_lanes=16, mode=mode,
                 ratio=65535, exp_bits=24, exp_frac=6)
    columns = cfg.max_clusters
    counts = np.full(columns, cfg.count_max)
    scores = np.full((2, columns), cfg.score_min)
    scores[:, ::2] = cfg.score_max
    got = run_wtu(scores, counts, cfg)
    for i in range(2):
        want = ref.wtu_row(scores[i], counts, cfg)
        assert (int(got.total[i]), int(got.threshold[i])) == (want.total, want.threshold)
        assert got.exit_bucket[i] == want.exit_bucket
    assert int(got.total.max()).bit_length() <= cfg.total_bits <= 63


def test_buckets_one_selects_everything():
    cfg = small_config(buckets=1)
    rng = np.random.default_rng(3)
    scores = rng.integers(-100, 100, size=(3, 7))
    assert run_wtu(scores, np.ones(7, dtype=int), cfg).row_select.all()


def test_bad_shapes_are_refused():
    cfg = small_config()
    with pytest.raises(ValueError, match="counts must have shape"):
        run_wtu([[1, 2]], [1], cfg)
    with pytest.raises(ValueError, match="scores must be"):
        run_wtu([[1] * 9], [1] * 9, cfg)


def test_cycle_model_schedules():
    cfg = Config(buckets=16, wtu_lanes=16)
    exits, beats = np.array([0, 3, 15]), np.array([0, 10, 63])
    scan = wtu_cycles(exits, 1024, cfg, exit_beat=beats)
    full = wtu_cycles(exits, 1024, cfg, early_exit=False)
    hist = wtu_cycles(exits, 1024, cfg, schedule=Schedule.HISTOGRAM)
    # Passes of 64 beats: the scan stops inside pass e after beat x (e * 64 + x + 1 beats),
    # no early exit pays all 16 passes, the histogram schedule one.
    scan_passes = exits * 64 + beats + 1
    assert full - scan == int((16 * 64 - scan_passes).sum())
    assert scan - hist == int((scan_passes - 64).sum())
    # Every row pays its load pass, the pipeline's drain and decision, and the row setup.
    one = wtu_cycles(exits[:1], 1024, cfg, exit_beat=beats[:1])
    assert wtu_pipeline(16) == 4 + 2 and wtu_pipeline(1) == 4 and wtu_pipeline(5) == 4 + 2
    assert wtu_extremes(16) == 1 + 4 and wtu_extremes(8) == 1 + 3 and wtu_extremes(1) == 1
    row = 64 + wtu_extremes(16) + WTU_ROW_SETUP + wtu_pipeline(16) + WTU_DECIDE + 1
    assert one == 64 + row + 2 * (64 + WTU_MASK_LATENCY)
    with pytest.raises(ValueError, match="exit_beat"):
        wtu_cycles(exits, 1024, cfg)


def test_exp_table_is_the_exact_integer_root():
    from vrex.golden.expweight import exp_table
    for q, W in ((0, 1), (0, 24), (4, 16), (6, 24), (6, 1), (3, 7)):
        table = exp_table(q, W)
        assert len(table) == 2 ** q and table[0] == 2 ** W - 1
        assert list(table) == [ref.exp_word(f, q, W) for f in range(2 ** q)]
        # Monotone, and each word the largest e with e**(2**q) <= 2**(W*2**q - f).
        assert all(a >= b for a, b in zip(table, table[1:]))
    with pytest.raises(ValueError, match="exp_frac must be an integer in 0..6, not 7"):
        exp_table(7, 16)
    with pytest.raises(ValueError, match="exp_bits must be an integer in 1..24, not 0"):
        exp_table(4, 0)


def test_exp_directed_rows():
    """All-equal scores, one dominant score, scores so far apart that weights shift to 0."""
    cfg = small_config(mode=Mode.EXP, exp_frac=2, exp_bits=8, ratio=32768, buckets=4)
    table = cfg.exp_table
    # Equal scores: every value E[0], one bucket holds them all.
    r = run_wtu([[5, 5, 5]], [1, 2, 3], cfg)
    assert r.total.tolist() == [6 * table[0]] and r.row_select.all()
    # One dominant score: its weight alone passes half of the total.
    r = run_wtu([[40, 0, 1, 2]], [1, 1, 1, 1], cfg)
    assert r.exit_bucket.tolist() == [0] and r.row_select.tolist() == [[True, False, False,
                                                                         False]]
    # 8 bits of value, 4 units an octave: 32 units below the maximum shift to zero.
    r = run_wtu([[100, 68, 69]], [1, 5, 5], cfg)
    assert r.total.tolist() == [table[0] + 5 * (table[3] >> 7)]
    assert run_wtu([[100, 0]], [1, 7], cfg).total.tolist() == [table[0]]
    for row in ([5, 5, 5], [40, 0, 1, 2], [100, 68, 69], [-128, 127, 0]):
        want = ref.wtu_row(row, [1] * len(row), cfg)
        got = run_wtu([row], [1] * len(row), cfg)
        assert got.row_select[0].tolist() == want.select and got.total[0] == want.total


def test_exp_buckets_are_over_the_scores():
    # Values 2**(s - max) crowd near 0, but the buckets are equal steps of score.
    cfg = small_config(mode=Mode.EXP, exp_frac=0, exp_bits=16, ratio=65535, buckets=4)
    r = run_wtu([[0, 1, 2, 3, 4, 5, 6, 7]], [1] * 8, cfg)
    # width (7 - 0) // 4 + 1 = 2: buckets of scores {7, 6}, {5, 4}, {3, 2}, {1, 0}.
    assert r.exit_bucket.tolist() == [3]
    cfg = cfg.replace(ratio=32768)
    assert run_wtu([[0, 1, 2, 3, 4, 5, 6, 7]], [1] * 8, cfg).row_select[0].tolist() == \
        [False] * 6 + [True] * 2
