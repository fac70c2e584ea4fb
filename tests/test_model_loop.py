"""ReSV and the baselines inside the tiny model (vrex.model.selectors, vrex.model.loop): what
each layer sees, the golden HCU and WTU called as the DRE would be, budgets, the sink, and the
figures of the evaluation."""

import numpy as np
import pytest

from tiny_llama import write_tiny_llama
from vrex.golden.config import Config
from vrex.golden.hcu import run_hcu
from vrex.golden.retrieval import resv_clusters
from vrex.golden.trace import cluster_means, hash_keys, hyperplanes
from vrex.model.gguf_file import load_gguf
from vrex.model.llama import Llama, chunks_of
from vrex.model.loop import METHODS, InLoop, run_methods
from vrex.model.selectors import selector_for
from vrex.model.text import cut_stream

CONFIG = Config(max_clusters=64, hash_bits=16, th_hd=5, wtu_lanes=4, max_buckets=8, buckets=8,
                max_pages=64, page_tokens=4, mode="shift", ratio=30000)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return Llama(load_gguf(write_tiny_llama(tmp_path_factory.mktemp("m") / "t.gguf", seed=1)))


@pytest.fixture(scope="module")
def stream():
    rng = np.random.default_rng(7)
    return cut_stream(rng.integers(0, 266, size=60), frames=6, frame_tokens=8, text_tokens=4)


class Spy:
    """A selector that keeps every mask it returned, keyed by (layer, start)."""

    def __init__(self, selector):
        self.selector, self.masks = selector, {}

    def __call__(self, layer, start, q, cache):
        seen = self.selector(layer, start, q, cache)
        self.masks[layer, start] = (None if seen is None else seen.copy(),
                                    cache.keys[layer, :, :start].copy(), q.copy())
        return seen


def _run(model, stream, method, *, window=8, sink=0, budgets=None):
    spy = Spy(selector_for(method, CONFIG, model.shape, window=window, sink=sink,
                           frame_tokens=stream.frame_tokens, budgets=budgets))
    model.stream(stream.ids, chunks_of(stream.tokens, 8, 6), spy)
    return spy


def test_resv_in_the_loop_is_the_golden_hcu_and_wtu(model, stream):
    spy = _run(model, stream, "resv/int-bucketed", sink=1)
    planes = hyperplanes(model.shape.head_dim, CONFIG.hash_bits, 0)
    checked = 0
    for (layer, start), (seen, keys, q) in spy.masks.items():
        older_end = max(1, start - 8)
        for h in range(model.shape.kv_heads):
            if seen is None:
                assert older_end <= 1
                continue
            # From scratch: every clustered key (from the sink on) through a fresh HCU.
            hcu = run_hcu(hash_keys(keys[h, 1:], planes), CONFIG)
            means = cluster_means(keys[h, 1:], hcu.cluster, hcu.counts.size)
            kept = resv_clusters("int-bucketed", q[:, h].reshape(-1, q.shape[-1]), means,
                                 hcu.counts, CONFIG)
            expect = np.ones(start, dtype=bool)
            expect[1:older_end] = kept[hcu.cluster[:older_end - 1]]
            np.testing.assert_array_equal(seen[h], expect, err_msg=f"layer {layer} {start}")
            checked += 1
    assert checked > 20


@pytest.mark.parametrize("method", [m for m in METHODS if m != "full"])
def test_every_method_sees_sink_window_and_chooses_only_older(model, stream, method):
    reference = _run(model, stream, "resv/int-bucketed", sink=2)
    budgets = {(c.start, c.layer, c.head): c.retrieved for c in reference.selector.log}
    spy = _run(model, stream, method, sink=2, budgets=budgets)
    for (layer, start), (seen, _, _) in spy.masks.items():
        if seen is None:
            continue
        assert seen[:, :2].all() and seen[:, max(2, start - 8):].all()
    for c in spy.selector.log:
        assert c.older == max(2, c.start - 8) - 2
        if method in ("topk-token", "streaming"):
            assert c.retrieved == budgets[c.start, c.layer, c.head]
        if method == "window":
            assert c.retrieved == 0


def test_clustering_starts_after_the_sink(model, stream):
    spy = _run(model, stream, "resv/float-exact", sink=3)
    assert spy.selector.hcu[0][0].tokens == stream.tokens - 3


def test_figures_full_is_the_reference_and_baselines_follow_the_budget(model, stream):
    loop = InLoop(model, stream, window=8)
    results = run_methods(loop, CONFIG, ["resv/int-bucketed", "topk-token", "window"])
    full, resv = results["full"], results["resv/int-bucketed"]
    assert full["kl"] == 0 and full["top1_agreement"] == 1 and full["retrieval"] == 1
    assert full["keep_all"] == full["choices"] > 0
    assert results["topk-token"]["retrieval"] == pytest.approx(resv["retrieval"])
    assert results["window"]["retrieval"] == 0 and results["window"]["kl"] > 0
    # Positions: chunks with older tokens (start > window), each predicting a next token.
    assert loop.positions.min() == 16 and loop.positions.max() == stream.tokens - 2
    assert len(resv["by_layer"]) == model.shape.layers
    assert resv["text"]["choices"] == 4 * model.shape.layers * model.shape.kv_heads
    keep_all = sum(c.retrieved == c.older for c in
                   _run(model, stream, "resv/int-bucketed").selector.log)
    assert resv["keep_all"] == keep_all


def test_everything_kept_is_full_attention(model, stream):
    every = CONFIG.replace(ratio=65535, mode="clamp", buckets=1)
    loop = InLoop(model, stream, window=8)
    resv = loop.run("resv/int-bucketed", every)
    assert resv["retrieval"] == 1 and resv["kl"] == pytest.approx(0, abs=1e-9)


def test_bad_settings_are_refused(model, stream):
    with pytest.raises(ValueError, match="no chunk has older tokens"):
        InLoop(model, stream, window=100)
    with pytest.raises(ValueError, match="sink must be in 0..51 tokens, not 60"):
        InLoop(model, stream, sink=60)
    loop = InLoop(model, stream)
    with pytest.raises(ValueError, match="method must be one of .*, not 'h2o'"):
        run_methods(loop, CONFIG, ["h2o"])
    with pytest.raises(ValueError, match="needs the budgets"):
        loop.run("topk-page", CONFIG)
