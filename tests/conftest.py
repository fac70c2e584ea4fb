import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from vrex.golden.config import Config

# Property tests: enough examples to find corner cases, quick enough for the default run.
settings.register_profile("default", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


# The longest tests, longest first (`--durations=0` of a whole run): started first, they
# run beside the many short ones instead of alone at the end, so two workers finish together.
LONG_FIRST = ("test_formal.py::test_proof_passes[wtu-miter]",
              "test_fpga_build.py::test_icebreaker", "test_fpga_build.py", "test_formal.py",
              "test_synth_fpga.py", "test_host_driver.py", "verilator", "test_cli.py::test_flow",
              "test_faults.py::test_fault_campaign", "_cocotb.py")


def pytest_collection_modifyitems(items):
    def rank(item):
        return next((i for i, part in enumerate(LONG_FIRST) if part in item.nodeid),
                    len(LONG_FIRST))
    items.sort(key=rank)              # stable: the rest keep their order


@pytest.fixture(autouse=True)
def _own_directory(tmp_path, monkeypatch):
    """Each test runs in its own directory, so the commands' default build directories
    (build/sim, build/synth, ...) are never shared between parallel workers."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def rng(request):
    """A seeded generator; the seed is in the test id and printed on failure."""
    seed = getattr(request, "param", 0)
    return np.random.default_rng(seed)


def small_config(**changes) -> Config:
    base = dict(hash_bits=8, max_clusters=8, count_bits=4, score_bits=8, page_tokens=4,
                max_pages=8, digit=2, hcu_lanes=1, wtu_lanes=1, max_buckets=8, th_hd=3,
                ratio=19660, buckets=4, mode=1)
    base.update(changes)
    return Config(**base)


def pytest_terminal_summary(terminalreporter):
    """Print what the fault campaign did (its test records it), workers or not."""
    for report in terminalreporter.getreports("passed"):
        for name, value in getattr(report, "user_properties", ()):
            if name == "campaign":
                terminalreporter.write_line(f"fault campaign: {value}")
