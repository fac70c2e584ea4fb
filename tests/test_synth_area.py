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


def test_budgets_follow_the_preset():
    default = targets_for(Config())
    assert default["preset"] == "default" and default["kge"]["dre"] == 30.0
    assert default["fmax_mhz"] == {"ecp5": 100.0}
    small = targets_for(load_config("small"))
    assert small["preset"] == "small" and small["fmax_mhz"] == {"ice40": 24.0}
    other = targets_for(Config().replace(max_clusters=512))
    assert other == {"preset": None, "kge": {}, "fmax_mhz": {}}
