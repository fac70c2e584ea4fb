"""The `vrex` command line, run as a user would (a subprocess for the entry point itself)."""

import json
import shutil
import subprocess

import numpy as np
import pytest

from vrex.golden.vectors import read_npz
from vrex.scripts.cli import build_parser, main


def _subcommands(parser, prefix=()):
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                yield prefix + (name,)
                yield from _subcommands(sub, prefix + (name,))


@pytest.mark.parametrize("words", list(_subcommands(build_parser())), ids=" ".join)
def test_help_on_every_subcommand(words, capsys):
    with pytest.raises(SystemExit) as info:
        main([*words, "--help"])
    assert info.value.code == 0
    assert "usage: vrex" in capsys.readouterr().out


def test_entry_point_is_installed():
    out = subprocess.run(["vrex", "--help"], capture_output=True, text=True, check=True)
    assert "golden" in out.stdout and "flow" in out.stdout


@pytest.mark.parametrize("unit", ["hcu", "wtu", "dre"])
def test_random_vectors_then_golden_run(tmp_path, unit, capsys):
    vec, out = tmp_path / "in.npz", tmp_path / "out.npz"
    assert main(["vectors", "random", "--unit", unit, "--seed", "3", "--config", "small",
                 "-o", str(vec)]) == 0
    assert main(["golden", "run", str(vec), "-o", str(out)]) == 0
    assert str(read_npz(out)["unit"]) == unit
    assert main(["compare", str(out), str(out)]) == 0
    assert "equal:" in capsys.readouterr().out


def test_compare_reports_differing_keys(tmp_path, capsys):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    np.savez(a, cycles=np.int64(3), cluster=np.arange(3))
    np.savez(b, cycles=np.int64(4), cluster=np.arange(3))
    assert main(["compare", str(a), str(b)]) == 1
    assert "differ: cycles" in capsys.readouterr().out


def test_trace_round_trip_through_cli(tmp_path):
    trace = tmp_path / "t.npz"
    assert main(["trace", "generate", "--frames", "3", "--tokens", "16", "--heads", "1",
                 "--head-dim", "8", "-o", str(trace)]) == 0
    vec = tmp_path / "d.npz"
    assert main(["vectors", "trace", str(trace), "--unit", "dre", "--rows", "4",
                 "--set", "max_clusters=64", "-o", str(vec)]) == 0
    assert read_npz(vec)["scores"].shape[1] == 64


def test_bad_vector_file_names_key_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    np.savez(bad, unit=np.array("hcu"))
    out = tmp_path / "out.npz"
    assert main(["golden", "run", str(bad), "-o", str(out)]) == 2
    assert "missing key 'hash_bits'" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (["config", "show", "--set", "th_hd"], "--set must be NAME=VALUE, not 'th_hd'"),
    (["config", "show", "--set", "th_hd=x"], "th_hd must be an integer, not 'x'"),
    (["config", "show", "--set", "wtu_schedule=sort"],
     "wtu_schedule must be 'scan' or 'histogram', not 'sort'"),
    (["config", "show", "--set", "digit=40"], "digit must be in 1..hash_bits=32, not 40"),
    (["config", "show", "--set", "size=4"], "unknown parameter 'size'"),
    (["config", "show", "--config", "huge"], "must be a preset"),
    (["vectors", "random", "--unit", "hcu", "--tokens", "0", "-o", "x.npz"],
     "--tokens must be a positive integer, not 0"),
    (["trace", "generate", "--spatial", "2", "-o", "x.npz"], "spatial must be in 0..1, not 2.0"),
    (["flow", "--frames", "0", "--out", "x.npz"], "--frames must be at least 1, not 0"),
])
def test_bad_arguments(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize("args, message", [
    (["vectors", "random", "--unit", "hcu", "--seed", "-1", "-o", "x.npz"],
     "argument --seed: must be a non-negative integer, not -1"),
    (["vectors", "trace", "--unit", "dre", "--hash-seed", "x", "-o", "x.npz"],
     "argument --hash-seed: must be an integer, not 'x'"),
    (["sim", "run", "x.npz", "-o", "y.npz", "--seed", "-3"],
     "argument --seed: must be a non-negative integer, not -3"),
])
def test_bad_seeds_name_the_flag_and_the_value(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:             # argparse's own exit, status 2
        main(args)
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize("typed", ["1000", "1_000", "1,000", "1e3", "0x3e8", " 1000 "])
def test_counts_as_a_person_types_them(typed):
    args = build_parser().parse_args(["bench", "golden", "--tokens", typed])
    assert args.tokens == 1000


@pytest.mark.parametrize("args, message", [
    (["bench", "golden", "--tokens", "1.5"], "argument --tokens: must be an integer, not '1.5'"),
    (["bench", "golden", "--rows", "lots"], "argument --rows: must be an integer, not 'lots'"),
    (["sim", "run", "x", "-o", "y", "--stall", "half"],
     "argument --stall: must be a fraction (0.3) or percentage (30%), not 'half'"),
])
def test_numbers_that_are_none_name_the_flag(args, message, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(args)
    assert message in capsys.readouterr().err


def test_chances_and_the_ratio_as_percentages(capsys):
    args = build_parser().parse_args(["sim", "run", "x", "-o", "y", "--stall", "30%",
                                      "--idle", "0.25"])
    assert (args.stall, args.idle) == (0.3, 0.25)
    assert main(["config", "show", "--set", "ratio=30%", "--set", "max_clusters=1_024"]) == 0
    out = capsys.readouterr().out
    assert "\nratio = 19660 " in out and "\nmax_clusters = 1024 " in out


def test_config_show_round_trips(tmp_path, capsys):
    assert main(["config", "show", "--config", "small", "--set", "mode=shift"]) == 0
    path = tmp_path / "c.toml"
    path.write_text(capsys.readouterr().out)
    assert main(["config", "show", "--config", str(path)]) == 0
    assert 'mode = "shift"' in capsys.readouterr().out


def test_flow_writes_a_report(tmp_path):
    from tiny_llama import write_tiny_llama
    out = tmp_path / "flow"
    sim = "icarus" if shutil.which("iverilog") else "none"
    model = write_tiny_llama(tmp_path / "tiny.gguf")
    assert main(["flow", "--config", "small", "--out", str(out), "--sim", sim,
                 "--model", str(model), "--frames", "4"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["config"] == "small" and len(report["heads"]) == 2
    if sim != "none":                  # one simulation log per head, none overwritten
        logs = sorted(p.name for p in (out / "sim").glob("*/test_head*.log"))
        assert logs == ["test_head0.log", "test_head1.log"]
    assert report["trace"]["frames"] == 4
    for head in report["heads"]:
        assert 0 < head["retrieval_ratio"] <= 1
        assert head["hcu_cycles"] <= head["hcu_cycles_no_early_exit"]
    markdown = (out / "report.md").read_text()
    assert markdown.startswith("# vrex flow")
    # It explains itself: the configuration with units (ratio as a fraction), time at a
    # stated clock, and a glossary entry for every column the head table has.
    from vrex.golden.config import load_config
    ratio = load_config("small").ratio
    assert f"| ratio | {ratio / 65536:.4f} (Q0.16 {ratio}) | fraction |" in markdown
    assert "time at 100 MHz, the ECP5 target" in markdown
    glossary = markdown[markdown.index("## Glossary"):]
    table_head = next(line for line in markdown.splitlines() if line.startswith("| head |"))
    for column in table_head.strip("|").split("|")[1:]:
        term = column.strip().split(",")[0]
        assert f"**{term}**" in glossary, term
    # The synthesis summary: generic gates of every unit, no FPGA runs unless asked.
    units = report["synth"]["units"]
    assert set(units) == {"hcu", "wtu", "controller", "registers", "dre"}
    assert units["dre"]["kge"] > units["hcu"]["kge"] > 0 and "ice40" not in units["dre"]
    assert "## Synthesis" in markdown and f"| dre | {units['dre']['kge']:.2f} |" in markdown
    # The model in the loop: the check, ReSV and every baseline, the nearest one shown.
    section = report["model"]
    assert section["check"]["tokens"] == 1032 and section["check"]["perplexity"] > 1
    assert set(section["methods"]) == {"full", "resv/int-bucketed", "topk-token", "topk-frame",
                                       "topk-page", "streaming", "window"}
    best = section["best_baseline"]
    assert all(section["methods"][best]["kl"] <= m["kl"] for name, m in
               section["methods"].items() if name not in ("full", "resv/int-bucketed"))
    assert "## The model in the loop" in markdown and f"| {best} |" in markdown
    # The flow's golden outputs are reproducible from its own vector files.
    assert main(["golden", "run", str(out / "vectors" / "dre_head0_in.npz"),
                 "-o", str(tmp_path / "again.npz")]) == 0
    assert main(["compare", str(tmp_path / "again.npz"),
                 str(out / "vectors" / "dre_head0_golden.npz")]) == 0


def test_generate_writes_verilog_and_port_map(tmp_path):
    assert main(["generate", "hcu", "--config", "small", "-o", str(tmp_path)]) == 0
    verilog = (tmp_path / "vrex_hcu.v").read_text()
    ports = json.loads((tmp_path / "vrex_hcu.json").read_text())
    assert ports["parameters"]["max_clusters"] == 128
    for port in ports["ports"]:
        assert port["name"] in verilog
    names = {p["name"]: p for p in ports["ports"]}
    assert names["i_hash__payload"]["width"] == 32 and names["i_hash__ready"]["direction"] == \
        "output"
    assert "initial begin" not in verilog          # no thousand-line memory zeroing


@pytest.mark.skipif(not __import__("shutil").which("iverilog"), reason="no iverilog")
def test_sim_run_equals_golden_run(tmp_path, capsys):
    vec, gold, sim = tmp_path / "in.npz", tmp_path / "g.npz", tmp_path / "s.npz"
    assert main(["vectors", "random", "--unit", "hcu", "--config", "small", "--seed", "5",
                 "--tokens", "80", "-o", str(vec)]) == 0
    assert main(["golden", "run", str(vec), "-o", str(gold)]) == 0
    assert main(["sim", "run", str(vec), "-o", str(sim), "--waves",
                 "--build", str(tmp_path / "build")]) == 0
    assert main(["compare", str(gold), str(sim)]) == 0
    assert list((tmp_path / "build" / "sim").glob("*/*.fst"))


@pytest.mark.skipif(not __import__("shutil").which("iverilog"), reason="no iverilog")
def test_sim_run_of_a_file_with_kv_fetches_what_golden_run_does(tmp_path, capsys):
    vec, gold, sim = tmp_path / "in.npz", tmp_path / "g.npz", tmp_path / "s.npz"
    assert main(["vectors", "random", "--unit", "dre", "--config", "small", "--seed", "4",
                 "--set", "kv_bytes=20", "--set", "bus_bytes=8", "--set", "max_burst=2",
                 "-o", str(vec)]) == 0
    assert main(["golden", "run", str(vec), "-o", str(gold)]) == 0
    assert main(["sim", "run", str(vec), "-o", str(sim), "--stall", "0.3",
                 "--build", str(tmp_path / "build")]) == 0
    capsys.readouterr()
    assert main(["compare", str(gold), str(sim)]) == 1           # the memory's cycles
    out = capsys.readouterr().out
    assert out.startswith("differ: cycles\n  cycles: A ") and out.count("\n") == 2
    assert main(["compare", str(gold), str(sim), "--ignore", "cycles"]) == 0
    out = capsys.readouterr().out
    assert all(key in out for key in ("fetched", "fetched_slot", "bursts"))
    assert main(["compare", str(gold), str(sim), "--ignore", "cycle"]) == 2
    assert "--ignore 'cycle': neither file has that key" in capsys.readouterr().err


def test_sim_run_refuses_a_bad_stall_chance(tmp_path, capsys):
    vec = tmp_path / "in.npz"
    assert main(["vectors", "random", "--unit", "dre", "--config", "small", "-o", str(vec)]) == 0
    assert main(["sim", "run", str(vec), "-o", str(tmp_path / "o.npz"), "--stall", "1.5"]) == 2
    assert "stall must be in 0..1 (exclusive), not 1.5" in capsys.readouterr().err
    assert not (tmp_path / "o.npz").exists()


def test_path_mistakes_are_errors_not_tracebacks(tmp_path, capsys):
    (tmp_path / "outdir").mkdir()
    (tmp_path / "file.npz").write_bytes(b"")
    assert main(["vectors", "random", "--unit", "hcu", "-o", str(tmp_path / "outdir")]) == 2
    assert "outdir: is a directory; give a file name" in capsys.readouterr().err
    assert main(["flow", "--config", "small", "--sim", "none",
                 "--out", str(tmp_path / "file.npz")]) == 2
    assert "is a file; the flow writes a directory there" in capsys.readouterr().err
    vec = tmp_path / "in.npz"
    assert main(["vectors", "random", "--unit", "hcu", "-o", str(vec)]) == 0
    under_a_file = tmp_path / "file.npz" / "out.npz"
    assert main(["golden", "run", str(vec), "-o", str(under_a_file)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vrex: error: ") and "file.npz" in err and "Traceback" not in err


def test_outputs_are_written_with_the_users_umask(tmp_path):
    import os
    old = os.umask(0o022)
    try:
        assert main(["vectors", "random", "--unit", "hcu", "-o", str(tmp_path / "v.npz")]) == 0
    finally:
        os.umask(old)
    assert (tmp_path / "v.npz").stat().st_mode & 0o777 == 0o644
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_version(capsys):
    from importlib import metadata
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"vrex {metadata.version('vrex')}\n"


def test_compare_says_where_and_what_differs(tmp_path, capsys):
    from vrex.golden.vectors import write_npz
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    slot = np.arange(10)
    moved = slot.copy()
    moved[[2, 7]] = [20, 70]
    write_npz(a, {"unit": np.array("dre"), "slot": slot, "cycles": np.int64(5),
                  "bursts": np.int64(3)})
    write_npz(b, {"unit": np.array("hcu"), "slot": moved, "cycles": np.int64(6),
                  "cluster": np.zeros(3)})
    assert main(["compare", str(a), str(b)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "differ: bursts, cluster, cycles, slot, unit"
    assert "  unit: A is a 'dre' file, B a 'hcu' file: the keys below cannot agree" in out
    assert "  only in A: bursts" in out and "  only in B: cluster" in out
    assert "  cycles: A 5, B 6" in out
    assert "  slot: 2 of 10 elements differ; first [2] A 2 B 20, [7] A 7 B 70" in out


def test_bench_golden_columns_line_up(capsys):
    assert main(["bench", "golden", "--tokens", "300", "--rows", "2", "--columns", "16"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert len(rows) == 4 and len({row.index(" ms") for row in rows}) == 1, rows


def test_config_show_says_what_each_parameter_is(capsys):
    from vrex.golden.config import Config
    assert main(["config", "show"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(Config.names()) and all(" # " in line for line in lines)
    assert any(line.startswith("page_tokens = 16") and "(tokens, 1..65536)" in line
               for line in lines)
    assert any(line.startswith("ratio = 19660") and "here 0.3000" in line for line in lines)
