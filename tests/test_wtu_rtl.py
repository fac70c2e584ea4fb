"""WTU RTL in the Amaranth simulator against the golden model."""

import numpy as np
import pytest

from vrex.golden.config import Config, Mode
from vrex.golden.stimulus import WTU_SHAPES
from vrex.golden.wtu import run_wtu
from vrex.rtl.arith import reciprocal, reciprocal_shift
from vrex.rtl.wtu import WTU
from vrex.testbench.amaranth_wtu import simulate_wtu, simulate_wtu_batches


def _check(scores, counts, cfg, *, early_exit=True, schedule="scan", **kw):
    cfg = cfg.replace(wtu_schedule=schedule)
    want = run_wtu(scores, counts, cfg, early_exit=early_exit).as_dict()
    got = simulate_wtu(scores, counts, cfg, early_exit=early_exit, **kw)
    differ = [k for k in want if not np.array_equal(got[k], want[k])]
    return differ, got, want


@pytest.mark.parametrize("schedule, early_exit", [("scan", True), ("scan", False),
                                                  ("histogram", True)],
                         ids=["scan", "scan_all_passes", "histogram"])
@pytest.mark.parametrize("seed", range(10))
def test_random_against_golden(seed, schedule, early_exit):
    rng = np.random.default_rng(seed)
    max_buckets = int(rng.integers(1, 20))
    max_clusters = int(rng.integers(1, 40))
    cfg = Config(score_bits=int(rng.integers(2, 17)), count_bits=int(rng.integers(1, 9)),
                 max_clusters=max_clusters,
                 wtu_lanes=int(rng.integers(1, min(8, max_clusters) + 1)),
                 max_buckets=max_buckets, buckets=int(rng.integers(1, max_buckets + 1)),
                 ratio=int(rng.choice([0, 1, 19660, 32768, 65535])), mode=int(rng.integers(0, 3)),
                 exp_frac=int(rng.integers(0, 7)), exp_bits=int(rng.integers(1, 17)))
    columns = int(rng.integers(1, max_clusters + 1))
    shape = sorted(WTU_SHAPES)[seed % len(WTU_SHAPES)]
    scores = WTU_SHAPES[shape](rng, int(rng.integers(1, 4)), columns, cfg)
    counts = rng.integers(0, cfg.count_max, size=columns, endpoint=True)
    counts[rng.random(columns) < 0.3] = 0
    differ, _, _ = _check(np.asarray(scores), counts, cfg, early_exit=early_exit,
                          schedule=schedule)
    assert differ == [], f"seed {seed}, shape {shape}, {cfg}"


@pytest.mark.parametrize("schedule", ["scan", "histogram"])
@pytest.mark.parametrize("mode", [Mode.SHIFT, Mode.CLAMP, Mode.EXP])
def test_extremes_do_not_overflow(mode, schedule):
    # All scores at the negative limit but one at the top, every count at its maximum, every
    # column used: the widest total these parameters allow (mode exp: 24-bit values).
    cfg = Config(score_bits=12, count_bits=10, max_clusters=24, wtu_lanes=5, max_buckets=16,
                 buckets=16, ratio=65535, mode=mode, exp_bits=24, exp_frac=0)
    scores = np.full((2, 24), cfg.score_min)
    scores[1, 7] = cfg.score_max
    counts = np.full(24, cfg.count_max)
    differ, got, _ = _check(scores, counts, cfg, schedule=schedule)
    assert differ == []
    if mode is Mode.SHIFT:
        assert got["total"][1] == (cfg.score_max - cfg.score_min) * cfg.count_max


@pytest.mark.parametrize("schedule", ["scan", "histogram"])
@pytest.mark.parametrize("case", ["one_cluster", "buckets_one", "all_equal", "zero_counts"])
def test_corner_cases(case, schedule):
    cfg = Config(score_bits=8, count_bits=4, max_clusters=9, wtu_lanes=4, max_buckets=8,
                 buckets=8)
    rng = np.random.default_rng(1)
    scores = rng.integers(-128, 128, size=(3, 9))
    counts = rng.integers(0, 16, size=9)
    if case == "one_cluster":
        scores, counts = scores[:, :1], counts[:1]
    elif case == "buckets_one":
        cfg = cfg.replace(buckets=1)
    elif case == "all_equal":
        scores[:] = 17
    else:
        counts[:] = 0
    assert _check(scores, counts, cfg, schedule=schedule)[0] == []


@pytest.mark.parametrize("schedule", ["scan", "histogram"])
@pytest.mark.parametrize("stall", [0.0, 0.5])
def test_one_word_final_mask_sees_the_last_row(schedule, stall):
    # A one-word batch's final mask reads its word as the last row's mask is written into it
    # (the write is a cycle late): each row selects a cluster of its own, so a final mask
    # without the last row's would differ.
    cfg = Config(score_bits=8, count_bits=4, max_clusters=4, wtu_lanes=4, max_buckets=8,
                 buckets=8)
    scores = np.full((3, 4), -100)
    scores[[0, 1, 2], [0, 1, 2]] = 100
    counts = np.ones(4, dtype=int)
    want = run_wtu(scores, counts, cfg.replace(wtu_schedule=schedule))
    assert want.select.tolist() == [True, True, True, False]
    differ, _, _ = _check(scores, counts, cfg, schedule=schedule, stall=stall, seed=1)
    assert differ in ([], ["cycles"])


@pytest.mark.parametrize("seed", range(3))
def test_back_pressure_changes_nothing_but_time(seed):
    rng = np.random.default_rng(seed)
    cfg = Config(score_bits=10, count_bits=5, max_clusters=20, wtu_lanes=3, max_buckets=8,
                 buckets=6)
    scores = rng.integers(-300, 300, size=(3, 17))
    counts = rng.integers(0, 32, size=17)
    differ, got, want = _check(scores, counts, cfg, idle=0.4, stall=0.5, seed=seed)
    assert differ == ["cycles"] and got["cycles"] > want["cycles"]


@pytest.mark.parametrize("early_exit", [True, False], ids=["early_exit", "all_passes"])
def test_batches_back_to_back(early_exit):
    # Batches of different widths, one after the other: no mask leaks into the next batch.
    cfg = Config(score_bits=8, count_bits=4, max_clusters=12, wtu_lanes=3, max_buckets=6,
                 buckets=5, ratio=19660)
    rng = np.random.default_rng(7)
    batches = [(rng.integers(-128, 128, size=(rows, cols)), rng.integers(0, 16, size=cols))
               for rows, cols in [(2, 12), (1, 4), (3, 7), (2, 12)]]
    got = simulate_wtu_batches(batches, cfg, early_exit=early_exit, stall=0.2, seed=3)
    for (scores, counts), out in zip(batches, got):
        want = run_wtu(scores, counts, cfg, early_exit=early_exit).as_dict()
        assert [k for k in want if not np.array_equal(out[k], want[k])] in ([], ["cycles"])
    # Without stalls the cycles of each batch match the model too.
    for (scores, counts), out in zip(batches, simulate_wtu_batches(batches, cfg,
                                                                   early_exit=early_exit)):
        assert out["cycles"] == run_wtu(scores, counts, cfg, early_exit=early_exit).cycles


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="lanes must be an integer in 1..4, not 5"):
        WTU(max_clusters=4, lanes=5)
    with pytest.raises(ValueError, match="schedule must be 'scan' or 'histogram', not 'sort'"):
        WTU(schedule="sort")
    with pytest.raises(ValueError, match="63-bit total"):
        WTU(score_bits=32, count_bits=32)


@pytest.mark.parametrize("span_bits, max_divisor", [(1, 1), (4, 3), (12, 16), (10, 1024),
                                                     (16, 16)])
def test_reciprocal_division_is_exact(span_bits, max_divisor):
    """The bucket width's ``span // B`` is a multiply by a reciprocal: exact on every span."""
    shift = reciprocal_shift(span_bits, max_divisor)
    spans = np.arange(1 << span_bits, dtype=np.uint64)
    for divisor in range(1, max_divisor + 1):
        recip = reciprocal(divisor, shift)
        assert recip < 1 << (shift + 1)
        got = (spans * np.uint64(recip)) >> np.uint64(shift)
        np.testing.assert_array_equal(got, spans // np.uint64(divisor), err_msg=f"B={divisor}")


def test_reciprocal_division_at_wide_scores():
    rng = np.random.default_rng(4)
    shift = reciprocal_shift(32, 1024)
    spans = [int(x) for x in rng.integers(0, 1 << 32, 2000)] + [(1 << 32) - 1, 0, 1]
    for divisor in range(1, 1025):
        recip = reciprocal(divisor, shift)
        assert all((x * recip) >> shift == x // divisor for x in spans), f"B={divisor}"


# Mode exp's directed rows: all-equal scores, one dominant score, scores so far apart that
# weights shift to zero, every value equal after flooring; at the extremes of exp_frac and
# exp_bits, in both schedules, with and without early exit, one bucket and many.
EXP_ROWS = {
    "equal": [[7] * 9, [-3] * 9],
    "dominant": [[100, 0, 1, 2, 3, 4, 5, 6, 7], [-50, -60, -61, -62, -63, 90, -70, -71, -72]],
    "far": [[127, -128, -128, 0, 127, -100, 50, 60, 126], [0, -128, 127, 1, 2, 3, 4, 5, 6]],
    "floor": [[3, 2, 1, 0, -1, -2, -3, -4, -5], [1, 0, 1, 0, 1, 0, 1, 0, 1]],
}


@pytest.mark.parametrize("schedule, early_exit", [("scan", True), ("scan", False),
                                                  ("histogram", True)],
                         ids=["scan", "scan_all_passes", "histogram"])
@pytest.mark.parametrize("q, w, buckets", [(0, 1, 4), (6, 24, 4), (4, 16, 1), (2, 5, 3)])
def test_exp_directed_rows(q, w, buckets, schedule, early_exit):
    cfg = Config(score_bits=8, count_bits=4, max_clusters=12, wtu_lanes=3, max_buckets=4,
                 buckets=buckets, ratio=32768, mode=Mode.EXP, exp_frac=q, exp_bits=w)
    counts = np.array([1, 2, 3, 0, 15, 1, 1, 4, 2])
    for name, rows in EXP_ROWS.items():
        differ, got, want = _check(np.array(rows), counts, cfg, early_exit=early_exit,
                                   schedule=schedule)
        assert differ == [], f"{name}: {differ}: got {got}, want {want}"


def test_exp_under_back_pressure():
    rng = np.random.default_rng(5)
    cfg = Config(score_bits=10, count_bits=5, max_clusters=20, wtu_lanes=4, max_buckets=8,
                 buckets=5, ratio=50000, mode=Mode.EXP, exp_frac=3, exp_bits=12)
    scores = rng.integers(-512, 512, size=(3, 17))
    counts = rng.integers(0, 32, size=17)
    for schedule in ("scan", "histogram"):
        cfg2 = cfg.replace(wtu_schedule=schedule)
        want = run_wtu(scores, counts, cfg2).as_dict()
        got = simulate_wtu(scores, counts, cfg2, idle=0.3, stall=0.3, seed=9)
        for key in want:
            if key != "cycles":
                assert np.array_equal(got[key], want[key]), key


@pytest.mark.parametrize("lanes", [1, 2, 5, 16])
def test_stage_latencies_are_the_cycle_models(lanes):
    # The cycle model (golden, which imports no RTL) counts with constants; each is a latency
    # of a WTU stage, and here they must agree (the cycle tests then hold the whole schedule).
    from vrex.golden import wtu as model
    wtu = WTU(max_clusters=64, lanes=lanes, max_buckets=4)
    assert wtu.latencies == {
        "pipeline": model.wtu_pipeline(lanes), "extremes": model.wtu_extremes(lanes),
        "row_setup": model.WTU_ROW_SETUP,
        "decide": model.WTU_DECIDE, "mask": model.WTU_MASK_LATENCY,
        "exp_decide": model.WTU_EXP_DECIDE, "exp_bubble": model.WTU_EXP_BUBBLE}
    from amaranth.back import rtlil
    rtlil.convert(wtu)           # built, so the unused-elaboratable check stays quiet
