"""Board bitstreams with the PyPI toolchain, and the reading of nextpnr's report. The builds
skip only where the YoWASP tools are not installed (they are dependencies of the package)."""

import json
from pathlib import Path

import pytest

from vrex.board.build import BuildError, build_board, missing_tools, parse_report
from vrex.golden.config import load_config

DATA = Path(__file__).parent / "data"


def test_report_of_a_board_build():
    # Captured from `vrex fpga build --board icebreaker` (nextpnr-ice40 --report, trimmed).
    report = json.loads((DATA / "board_report_ice40.json").read_text())
    used, fmax = parse_report(report, "ice40")
    assert used["lc"] == (report["utilization"]["ICESTORM_LC"]["used"], 5280)
    assert used["ebr"][1] == 30 and used["dsp"][1] == 8
    assert fmax == report["fmax"]["cd_sync.clk"]["achieved"]


def test_report_without_a_clock_is_refused():
    report = json.loads((DATA / "board_report_ice40.json").read_text())
    report["fmax"] = {"$PACKER_GND_NET_$glb_clk": {"achieved": 1e3, "constraint": 12}}
    with pytest.raises(BuildError, match="expected one clock, found"):
        parse_report(report, "ice40")
    del report["utilization"]
    with pytest.raises(BuildError, match="unexpected nextpnr report"):
        parse_report(report, "ice40")


def _build(board, preset, tmp_path):
    family = {"icebreaker": "ice40", "ulx3s": "ecp5"}[board]
    if missing_tools(family):
        pytest.skip(f"not installed: {missing_tools(family)}")
    out = tmp_path / board
    result = build_board(board, load_config(preset), out)
    assert result.bitstream.is_file() and result.bitstream.stat().st_size > 10_000
    assert not (tmp_path / f"{board}.partial").exists()
    return result


def test_icebreaker_bitstream_meets_timing(tmp_path):
    result = _build("icebreaker", "small", tmp_path)
    assert result.bitstream.suffix == ".bin"
    assert result.timing_met, result.summary()
    assert result.utilization["lc"][0] <= result.utilization["lc"][1]


def test_ulx3s_flow_with_the_small_configuration(tmp_path):
    # The ECP5 flow and its packer end to end; the default configuration's build (what the
    # ULX3S is for) takes several minutes and runs under -m slow.
    result = _build("ulx3s", "small", tmp_path)
    assert result.bitstream.suffix == ".bit" and result.timing_met, result.summary()


@pytest.mark.slow
def test_ulx3s_bitstream_of_the_default_configuration(tmp_path):
    result = _build("ulx3s", "default", tmp_path)
    assert result.timing_met, result.summary()
