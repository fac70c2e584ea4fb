"""Area at 14 nm from kGE and memory bits, and which budgets apply to a configuration."""

import pytest

from vrex.golden.config import Config, load_config
from vrex.synth.area import PAPER_MM2, logic_mm2, paper_comparison, sram_mm2
from vrex.synth.report import targets_for


def test_conversions_by_hand():
    # 1 kGE: 1000 NAND2s of 4 transistors at 28 MTr/mm2, at 70% utilisation.
    assert logic_mm2(1.0) == pytest.approx(1000 * 4 / 28e6 / 0.7)
    # 20 KiB at 0.064 um2 a bit and 50% array efficiency.
    assert sram_mm2(163840) == pytest.approx(163840 * 0.064e-6 / 0.5)
    assert logic_mm2(0) == sram_mm2(0) == 0


def test_comparison_beside_the_paper(capsys):
    figures = {"hcu": {"kge": 10.0, "memory_bits": 1000},
               "wtu": {"kge": 50.0, "memory_bits": 0},
               "dre": {"kge": 70.0, "memory_bits": 2000}}
    rows = paper_comparison(figures)["units"]
    assert rows["hcu"]["paper_mm2"] == PAPER_MM2["hcu"]
    assert rows["dre"]["paper_mm2"] == pytest.approx(sum(PAPER_MM2.values()))
    assert rows["wtu"]["total_mm2"] == round(logic_mm2(50.0), 4)
    assert rows["hcu"]["total_mm2"] == round(logic_mm2(10.0) + sram_mm2(1000), 4)
    assert "ours/paper" in capsys.readouterr().out
    # Another configuration is not the paper's: no paper column.
    rows = paper_comparison(figures, with_paper=False)["units"]
    assert all(row["paper_mm2"] is None for row in rows.values())


def test_targets_follow_the_preset():
    # The paper's areas are for its configuration: only the default preset is held to them.
    default = targets_for(Config())
    assert default["preset"] == "default" and default["area"]
    assert default["fmax_mhz"] == {"ecp5": 100.0}
    small = targets_for(load_config("small"))
    assert small["preset"] == "small" and not small["area"]
    assert small["fmax_mhz"] == {"ice40": 30.0}
    other = targets_for(Config().replace(max_clusters=512))
    assert other == {"preset": None, "area": False, "fmax_mhz": {}}


def test_a_missed_target_says_by_how_much_and_why():
    from vrex.synth.report import verdict_of
    assert verdict_of(0.0313, 0.02, "mm2", at_most=True, why="the multipliers") == \
        "<= 0.02 mm2: MISSED, 1.56x the target: the multipliers"
    assert verdict_of(74.2, 100.0, "MHz", at_most=False) == ">= 100 MHz: MISSED, by 25.8 MHz"
    assert verdict_of(0.0076, 0.01, "mm2", at_most=True) == "<= 0.01 mm2: met"
    assert verdict_of(None, 0.01, "mm2", at_most=True) == ""
