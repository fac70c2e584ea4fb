"""The area-time sweep: points, cycles from the golden models, tables and plot."""

import csv
import json

import pytest

from conftest import small_config
from vrex.golden.config import ConfigError, load_config
from vrex.golden.hcu import run_hcu
from vrex.golden.stimulus import trace_vectors
from vrex.golden.trace import TraceParams, generate_trace
from vrex.synth.sweep import run_sweep, sweep_cycles, sweep_points


def test_points_move_one_parameter_at_a_time():
    base = load_config("small")
    points = sweep_points(base, {"digit": [1, 8], "wtu_lanes": [4]})
    assert [(a, v) for a, v, _ in points] == [("digit", 1), ("digit", 8), ("wtu_lanes", 4)]
    assert points[1][2] == base.replace(digit=8)


def test_points_name_a_bad_axis_or_value():
    with pytest.raises(ValueError, match="axis must be one of .*, not 'lanes'"):
        sweep_points(load_config("small"), {"lanes": [1]})
    with pytest.raises(ConfigError, match="sweep of digit: digit"):
        sweep_points(load_config("small"), {"digit": [0]})


def test_cycles_are_the_golden_models():
    trace = generate_trace(TraceParams(frames=3, heads=1))
    cfg = small_config(hash_bits=32, digit=4, max_clusters=32)
    got = sweep_cycles(cfg, trace)
    hashes = trace_vectors("hcu", trace, cfg).arrays["hashes"]
    assert got["hcu"] == run_hcu(hashes, cfg).cycles / hashes.size
    assert got["wtu"] > 0


def test_sweep_writes_tables_and_plot(tmp_path, capsys):
    base = small_config(hash_bits=16, digit=2, max_clusters=16)
    rows = run_sweep(base, tmp_path / "out", axes={"digit": [2, 8]},
                     build_root=tmp_path / "cache")
    assert [(r["value"], r["unit"], r["base"]) for r in rows] == \
        [(2, "hcu", True), (8, "hcu", False)]
    # Wider digits compare more bits a cycle: fewer cycles per token.
    assert rows[1]["cycles"] < rows[0]["cycles"]
    assert all(r["kge"] > 0 and r["cells"] > r["flops"] > 0 for r in rows)
    written = list(csv.DictReader((tmp_path / "out" / "sweep.csv").read_text().splitlines()))
    assert [int(r["value"]) for r in written] == [2, 8]
    assert json.loads((tmp_path / "out" / "sweep.json").read_text()) == rows
    assert "| digit | 2 * | hcu |" in (tmp_path / "out" / "sweep.md").read_text()
    assert (tmp_path / "out" / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert not list((tmp_path / "out").glob("*.partial*"))
    assert "per token" in capsys.readouterr().out


def test_cli_names_a_bad_axis(capsys):
    from vrex.scripts.cli import main
    assert main(["sweep", "--axis", "lanes=1,2"]) == 2
    assert "--axis must name one of digit, hcu_lanes" in capsys.readouterr().err
    assert main(["sweep", "--axis", "digit=1,x"]) == 2
    assert "--axis values must be integers, not '1,x'" in capsys.readouterr().err
