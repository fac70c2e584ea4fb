"""Verilog generation: every unit converts, and the netlist grows with lanes, not beyond."""

import pytest

from vrex.golden.config import Config
from vrex.scripts.generate import UNITS, generate


@pytest.mark.parametrize("unit", UNITS)
def test_netlist_grows_linearly_with_lanes(unit, tmp_path):
    # A chain built from expressions used twice per step is copied into the netlist once per
    # use: its size then doubles with every lane. Chains must be built from signals.
    def lines(lanes):
        cfg = Config(max_clusters=64, hcu_lanes=lanes, wtu_lanes=lanes)
        out = tmp_path / f"{lanes}"
        generate(unit, cfg, out)
        return len((out / f"vrex_{unit}.v").read_text().splitlines())
    small, big = lines(2), lines(16)
    assert big < 8 * small, (small, big)
