"""``vrex model check``, ``vrex trace llm``, ``vrex eval --model`` and ``vrex bench model`` on
a tiny GGUF the test writes: what they print and write, and the bad inputs they refuse."""

import json

import numpy as np
import pytest

from tiny_llama import write_tiny_llama
from vrex.golden.trace import load_trace
from vrex.model.check import check_model
from vrex.model.gguf_file import load_gguf
from vrex.model.llama import Llama
from vrex.model.loop import METHODS
from vrex.model.text import shipped_text
from vrex.model.tokenizer import Tokenizer
from vrex.scripts.cli import main

SMALL = ["--frames", "4", "--frame-tokens", "8", "--text-tokens", "3"]
CONFIG = ["--set", "max_clusters=64", "--set", "page_tokens=4"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_llama(tmp_path_factory.mktemp("cli") / "tiny.gguf", seed=2)


def test_model_check_prints_and_writes_the_check(tiny, tmp_path, capsys):
    assert main(["model", "check", "--gguf", str(tiny), "--tokens", "40",
                 "--json", str(tmp_path / "c.json")]) == 0
    out = capsys.readouterr().out
    weights = load_gguf(tiny)
    ids = Tokenizer(weights.vocabulary).encode(shipped_text())[:40]
    expect = check_model(Llama(weights), ids)
    assert f"perplexity {expect.perplexity:.3f}" in out
    assert f"top-1 accuracy {100 * expect.accuracy:.2f}%" in out
    figures = json.loads((tmp_path / "c.json").read_text())
    assert figures["perplexity"] == pytest.approx(expect.perplexity) and figures["tokens"] == 40


@pytest.mark.parametrize("argv, message", [
    (["model", "check", "--text", "{short}"], "short.txt: too short: 2 tokens, --tokens asks"),
    (["eval", "--model", "--text", "{short}", *SMALL], "short.txt: too short: 2 tokens, and 4 "
                                                      "frames of 8 tokens"),
    (["trace", "llm", "--text", "{short}", *SMALL, "-o", "{tmp}/t"], "short.txt: too short"),
    (["model", "check", "--tokens", "1"], "--tokens must be at least 2, not 1"),
    (["eval", "--model", "--rows", "4"], "TRACE, --rows, --selection and --overall are for "
                                         "traces"),
    (["eval", "--method", "window"], "--method, --gguf and --text need --model"),
    (["eval", "--model", *SMALL, "--method", "h2o"], "--method must be one of .*, not 'h2o'"),
    (["eval", "--model", *SMALL, "--window", "100"], "no chunk has older tokens"),
    (["trace", "llm", *SMALL, "--layers", "0,5", "-o", "{tmp}/t"], "layer must be in 0..1, "
                                                                  "not 5"),
    (["trace", "llm", *SMALL, "--layers", "a", "-o", "{tmp}/t"], "--layers must be integers"),
])
def test_bad_input_is_refused_naming_it(tiny, tmp_path, capsys, argv, message):
    (tmp_path / "short.txt").write_text("hi")
    argv = [a.format(short=tmp_path / "short.txt", tmp=tmp_path) for a in argv]
    assert main([*argv, "--gguf", str(tiny)]) == 2
    err = capsys.readouterr().err
    assert "vrex: error:" in err
    import re
    assert re.search(message, err), err
    assert not (tmp_path / "t").exists()


def test_a_foreign_model_file_is_refused(tmp_path, capsys):
    other = write_tiny_llama(tmp_path / "gpt.gguf", arch="gpt2")
    assert main(["model", "check", "--gguf", str(other)]) == 2
    assert "gpt.gguf: architecture must be 'llama', not 'gpt2'" in capsys.readouterr().err


def test_trace_llm_writes_a_trace_a_layer(tiny, tmp_path, capsys):
    out = tmp_path / "traces"
    assert main(["trace", "llm", "--gguf", str(tiny), *SMALL, "--sink", "1", "-o",
                 str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["layer00.npz", "layer01.npz"]
    model = Llama(load_gguf(tiny))
    ids = Tokenizer(model.weights.vocabulary).encode(shipped_text())[:35]
    cache = model.new_cache(35)
    model.run_chunk(ids, cache)
    s = model.shape
    for layer in range(2):
        trace = load_trace(out / f"layer{layer:02d}.npz")
        assert trace.layer == layer and trace.sink == 1 and trace.group == s.group
        assert trace.queries.shape == (4, 8, s.kv_heads, s.group, s.head_dim)
        assert trace.text_keys.shape == (3, s.kv_heads, s.head_dim)
        keys = cache.keys[layer].transpose(1, 0, 2)              # [tokens, kv, D]
        np.testing.assert_allclose(trace.keys.reshape(32, s.kv_heads, -1), keys[:32],
                                   rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(trace.text_keys, keys[32:], rtol=1e-5, atol=1e-5)
    # The traces feed the trace-level evaluation, the model's layer indices kept.
    capsys.readouterr()
    assert main(["eval", str(out / "layer01.npz"), str(out / "layer00.npz"), "--rows", "4",
                 "--no-plot", *CONFIG]) == 0
    printed = capsys.readouterr().out
    assert "sink 1" in printed and "| 1.0 | prefill |" in printed
    # A second run replaces the directory whole; a file in the way is refused.
    assert main(["trace", "llm", "--gguf", str(tiny), *SMALL, "--layers", "1", "-o",
                 str(out)]) == 0
    assert [p.name for p in out.iterdir()] == ["layer01.npz"]
    assert main(["trace", "llm", "--gguf", str(tiny), *SMALL, "-o",
                 str(out / "layer01.npz")]) == 2


def test_eval_model_writes_every_method(tiny, tmp_path, capsys):
    path = tmp_path / "e.json"
    assert main(["eval", "--model", "--gguf", str(tiny), *SMALL, *CONFIG, "--json", str(path),
                 "--plots", str(tmp_path / "plots")]) == 0
    out = capsys.readouterr().out
    figures = json.loads(path.read_text())
    assert list(figures["methods"]) == list(METHODS)
    for name, m in figures["methods"].items():
        for key in ("perplexity", "top1_agreement", "kl", "retrieval", "keep_all"):
            assert key in m, (name, key)
        assert len(m["by_layer"]) == 2 and f"| {name} | {m['perplexity']:.3f} |" in out
    assert (tmp_path / "plots" / "retrieval_by_layer.png").stat().st_size > 0


def test_eval_model_sweep_finds_the_least_retrieval(tiny, tmp_path, capsys):
    path = tmp_path / "s.json"
    assert main(["eval", "--model", "--gguf", str(tiny), *SMALL, *CONFIG, "--sweep",
                 "mode=clamp,shift", "--sweep", "ratio=0.1,0.9", "--method",
                 "resv/int-bucketed", "--method", "streaming", "--json", str(path),
                 "--no-plot"]) == 0
    figures = json.loads(path.read_text())
    assert len(figures["sweep"]) == 2 * 2 * 2
    full = figures["full"]["perplexity"]
    for item in figures["least"]:
        rows = [r for r in figures["sweep"] if r["mode"] == item["group"]
                and r["method"] == item["method"] and r["perplexity"] <= 1.02 * full]
        if rows:
            assert item["row"]["retrieval"] == min(r["retrieval"] for r in rows)
        else:
            assert item["row"] is None
    assert "| clamp | resv/int-bucketed |" in capsys.readouterr().out


def test_bench_model_prints_its_figures(tiny, capsys):
    assert main(["bench", "model", "--gguf", str(tiny), *SMALL, *CONFIG]) == 0
    out = capsys.readouterr().out
    assert "| forward pass, all tokens at once |" in out
    assert "| in the loop: one method against full attention |" in out
