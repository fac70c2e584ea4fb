"""A mismatch points at its beat, its cycle and its waveform: the expected beats decode to the
outputs every testbench decodes, the first differing beat is found, and `vrex sim run`, `vrex
flow` and `vrex fpga check` report it with the streams drawn around it."""

import json
import shutil
import types
from pathlib import Path

import numpy as np
import pytest

from vrex.golden.config import load_config
from vrex.golden.stimulus import random_vectors
from vrex.golden.vectors import read_npz, run_golden, write_npz
from vrex.interface.dre import dre_outputs, kv_outputs
from vrex.interface.expect import ALL, Taken, expected_beats, first_difference
from vrex.scripts.cli import main

needs_iverilog = pytest.mark.skipif(not shutil.which("iverilog"), reason="no iverilog")


def _views(beats):
    """Expected beats as the views a testbench decodes (don't-care bits set to ones, so a
    decoder that read them would go wrong)."""
    return [types.SimpleNamespace(**{name: value | ~care if care != ALL else value
                                     for name, (value, care) in beat.items()},
                                  **{f: 0 for f in ("end", "last", "page", "tokens", "query",
                                                    "slot", "data") if f not in beat})
            for beat in beats]


@pytest.mark.parametrize("seed,kv", [(1, 0), (2, 0), (3, 24), (4, 40)])
def test_expected_beats_decode_to_the_outputs(seed, kv):
    config = load_config("small").replace(kv_bytes=kv, bus_bytes=8)
    vectors = random_vectors("dre", config, seed, tokens=60, frames=3, queries=3)
    want = run_golden(vectors)
    beats = expected_beats(vectors, want)
    ns = [int(n) for n in _ns(vectors)]
    got = dre_outputs(_views(beats["o_slot"]), _views(beats["o_select"]),
                      _views(beats["o_desc"]), ns, 0, config, int(want["cycles"]))
    for key in ("cluster", "slot", "select", "descriptors"):
        assert np.array_equal(got[key], want[key]), f"seed {seed}: {key}"
    if kv:
        fetched = kv_outputs([_masked(b, config) for b in _views(beats["o_token"])], config,
                             int(want["bursts"]))
        for key in ("fetched", "fetched_slot"):
            assert np.array_equal(fetched[key], want[key]), f"seed {seed}: {key}"


def _masked(view, config):
    view.data &= (1 << 8 * config.bus_bytes) - 1          # the bus carries no more bits
    return view


def _ns(vectors):
    from vrex.golden.dre import run_dre
    from vrex.interface.dre import dre_beats
    a = vectors.arrays
    return dre_beats(a, vectors.config, run_dre(a["hashes"], a["frame_end"], a["query_after"],
                                                a["query_rows"], a["scores"],
                                                vectors.config))[2]


def test_first_difference_is_the_earliest_and_ignores_dont_care_bits():
    want = {"a": [{"x": (1, ALL)}, {"x": (0b01, 0b01)}, {"x": (3, ALL)}],
            "b": [{"y": (5, ALL)}, {"y": (6, ALL)}]}
    same = {"a": [Taken({"x": 1}, 10), Taken({"x": 0b11}, 20), Taken({"x": 3}, 30)],
            "b": [Taken({"y": 5}, 15), Taken({"y": 6}, 25)]}
    assert first_difference(want, same) == []             # bit 1 of a[1] is a don't-care
    late_a = dict(same, a=[*same["a"][:2], Taken({"x": 4}, 30)])
    early_b = dict(late_a, b=[same["b"][0], Taken({"y": 7}, 25)])
    found = first_difference(want, early_b)
    assert [(d.stream, d.index, d.time_ps) for d in found] == [("b", 1, 25), ("a", 2, 30)]
    short = dict(same, b=same["b"][:1])                    # the run ended early
    (missing,) = first_difference(want, short)
    assert (missing.stream, missing.index, missing.got, missing.time_ps) == ("b", 1, None, 15)
    assert "never came: expected y=6" in missing.describe()
    extra = dict(same, b=[*same["b"], Taken({"y": 9}, 40)])
    assert "one too many: got y=9" in first_difference(want, extra)[0].describe()


def _tampered(tmp_path, seed=3):
    vec, want = tmp_path / "in.npz", tmp_path / "want.npz"
    assert main(["vectors", "random", "--unit", "dre", "--config", "small", "--seed",
                 str(seed), "--tokens", "50", "--frames", "2", "--queries", "2",
                 "-o", str(vec)]) == 0
    assert main(["golden", "run", str(vec), "-o", str(want)]) == 0
    out = read_npz(want)
    index = int(np.random.default_rng(seed).integers(out["slot"].size))
    out["slot"][index] += 1
    write_npz(want, out)
    return vec, want, index


@needs_iverilog
def test_sim_run_points_at_the_first_differing_beat(tmp_path, capsys):
    vec, want, index = _tampered(tmp_path)
    build = tmp_path / "build"
    capsys.readouterr()
    assert main(["sim", "run", str(vec), "-o", str(tmp_path / "got.npz"), "--expect", str(want),
                 "--build", str(build)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("MISMATCH: dre RTL differs from the expected outputs in slot\n")
    line = next(x for x in out.splitlines() if x.startswith("first differing beat"))
    assert f"o_slot beat {index}: expected " in line and "(cycle " in line
    log = json.loads(next((build / "sim").glob("*-waves/test.beats.json")).read_text())
    time_ps = log["o_slot"][index][0]
    assert f"cycle {time_ps // 10_000}, {time_ps / 1000:g} ns" in line
    fst = next(x for x in out.splitlines() if x.startswith("waveform: ")).split(": ")[1]
    assert fst.endswith(".fst") and (tmp_path / fst).exists()
    drawing = out[out.index("\ncycle "):]
    assert "o_slot.valid" in drawing and "i_hash.ready" in drawing and f"#{index}" in drawing
    svg = next(x for x in out.splitlines() if x.startswith("picture: ")).split(": ")[1]
    assert Path(svg).read_text().startswith("<svg")
    # The RTL's outputs are written all the same, and equal the golden model's.
    assert main(["sim", "run", str(vec), "-o", str(tmp_path / "again.npz"),
                 "--build", str(build)]) == 0
    assert "equal to the golden model" in capsys.readouterr().out


@needs_iverilog
def test_flow_reports_the_head_that_differs(tmp_path, monkeypatch, capsys):
    import vrex.scripts.flow as flow

    def tamper_head_1(vectors):
        out = run_golden(vectors)
        if vectors.unit == "dre" and vectors.arrays["hashes"][0] == first_hash[1]:
            out["descriptors"] = out["descriptors"].copy()
            out["descriptors"][2, 2] += 1
        return out

    from vrex.golden.stimulus import trace_all
    from vrex.golden.trace import TraceParams, generate_trace
    trace = generate_trace(TraceParams(frames=2))
    config = load_config("small")
    first_hash = [int(trace_all(trace, config, head=h)["dre"].arrays["hashes"][0])
                  for h in range(trace.heads)]
    assert first_hash[0] != first_hash[1]
    monkeypatch.setattr(flow, "run_golden", tamper_head_1)
    out = tmp_path / "flow"
    assert main(["flow", "--config", "small", "--out", str(out), "--synth", "none",
                 "--model", "none", "--frames", "2", "--waves"]) == 1
    report = json.loads((out / "report.json").read_text())
    h0, h1 = report["heads"]
    assert h0["rtl_mismatch"] is None and h1["rtl_differs"] == ["descriptors"]
    assert h1["rtl_mismatch"]["first_beat"].startswith("o_desc beat ")
    fst0, fst1 = (next((out / "sim").glob(f"*-waves/test_head{h}.fst")) for h in (0, 1))
    assert h1["rtl_mismatch"]["waveform"] == str(fst1) and fst0.exists()   # --waves: both
    markdown = (out / "report.md").read_text()
    assert "- head 1: first differing beat: o_desc beat" in markdown
    assert str(fst1) in markdown and h1["rtl_mismatch"]["picture"] in markdown


@needs_iverilog
def test_fpga_check_names_the_beat_and_replays_it_in_simulation(tmp_path, monkeypatch,
                                                                capsys):
    import vrex.host.check as check

    def tampered(vectors):
        out = run_golden(vectors)
        out["cluster"] = out["cluster"].copy()
        out["cluster"][4] += 1
        return out

    monkeypatch.setattr(check, "run_golden", tampered)
    import vrex.testbench.mismatch as mismatch
    monkeypatch.setattr(mismatch, "run_golden", tampered)
    assert main(["fpga", "check", "--seeds", "1", "--tokens", "12",
                 "--build", str(tmp_path / "b")]) == 1
    out = capsys.readouterr().out
    assert "random seed 1: 12 tokens, 3 queries: FAIL (cluster differ; first: o_slot beat 4: " \
        "expected cluster=" in out
    assert "replaying random seed 1 in the RTL simulation" in out
    assert "first differing beat: o_slot beat 4: expected" in out and "waveform: " in out


@needs_iverilog
def test_expected_outputs_of_other_vectors_are_reported_not_a_traceback(tmp_path, capsys):
    vec, _, _ = _tampered(tmp_path)
    other, want = tmp_path / "other.npz", tmp_path / "other_want.npz"
    assert main(["vectors", "random", "--unit", "dre", "--config", "small", "--seed", "9",
                 "--tokens", "20", "--frames", "1", "--queries", "1", "-o", str(other)]) == 0
    assert main(["golden", "run", str(other), "-o", str(want)]) == 0
    capsys.readouterr()
    assert main(["sim", "run", str(vec), "-o", str(tmp_path / "got.npz"), "--expect", str(want),
                 "--build", str(tmp_path / "build")]) == 1
    out = capsys.readouterr().out
    assert out.startswith("MISMATCH: dre RTL differs from the expected outputs in ")
    assert "waveform: " in out
