"""Streaming traces: generator, file layout, hashing, cluster keys and integer scores."""

import numpy as np
import pytest

from vrex.golden.config import Config
from vrex.golden.hcu import run_hcu
from vrex.golden.stimulus import trace_vectors
from vrex.golden.trace import (TraceError, TraceParams, cluster_means, generate_trace,
                               hash_keys, hyperplanes, int_scores, load_trace, save_trace)

SMALL = TraceParams(frames=6, tokens=36, heads=2, head_dim=16, seed=4)


def test_generator_is_seeded():
    a, b = generate_trace(SMALL), generate_trace(SMALL)
    assert np.array_equal(a.keys, b.keys) and np.array_equal(a.text_queries, b.text_queries)
    c = generate_trace(TraceParams(**{**SMALL.__dict__, "seed": 5}))
    assert not np.array_equal(a.keys, c.keys)
    assert a.keys.shape == (6, 36, 2, 16) and a.text_queries.shape == (8, 2, 16)


def _clusters(params):
    trace = generate_trace(params)
    hashes = trace_vectors("hcu", trace, Config()).arrays["hashes"]
    return run_hcu(hashes, Config()).counts.size


def test_redundancy_knobs_change_clustering():
    # More spatial and temporal redundancy: fewer clusters for the same tokens.
    base = dict(frames=8, tokens=64, heads=1, head_dim=64, cut_prob=0.0, seed=1)
    redundant = _clusters(TraceParams(**base, spatial=0.95, temporal=0.99))
    noisy = _clusters(TraceParams(**base, spatial=0.2, temporal=0.2))
    assert redundant < noisy / 2


def test_scene_cuts_found_new_clusters():
    base = dict(frames=12, tokens=64, heads=1, head_dim=64, seed=2, drift=0.0)
    assert _clusters(TraceParams(**base, cut_prob=1.0)) > _clusters(TraceParams(**base,
                                                                               cut_prob=0.0))


def test_round_trip(tmp_path):
    trace = generate_trace(SMALL)
    save_trace(tmp_path / "t.npz", trace)
    back = load_trace(tmp_path / "t.npz")
    for key in ("keys", "values", "queries", "text_queries"):
        assert np.array_equal(getattr(back, key), getattr(trace, key))


def test_text_queries_optional(tmp_path):
    trace = generate_trace(SMALL)
    np.savez(tmp_path / "t.npz", keys=trace.keys, values=trace.values, queries=trace.queries)
    assert load_trace(tmp_path / "t.npz").text_queries.shape == (0, 2, 16)


BAD = [
    ({"keys": None}, "missing array 'keys'"),
    ({"values": np.zeros((6, 36, 2, 8), np.float32)}, "'values' must have the shape of 'keys'"),
    ({"queries": np.zeros((6, 36, 2), np.float32)}, "'queries' must have 4 dimensions"),
    ({"keys": np.zeros((6, 36, 2, 16), np.int32)}, "'keys' must hold floats, not int32"),
    ({"text_queries": np.zeros((3, 2, 5), np.float32)}, "'text_queries' must have shape"),
    ({"values": np.full((6, 36, 2, 16), np.nan, np.float32)}, "'values' holds NaN"),
    ({"extra": np.zeros(3)}, "unknown array 'extra'"),
]


@pytest.mark.parametrize("change, message", BAD, ids=[m for _, m in BAD])
def test_bad_trace_names_the_array(tmp_path, change, message):
    trace = generate_trace(SMALL)
    arrays = {"keys": trace.keys, "values": trace.values, "queries": trace.queries,
              "text_queries": trace.text_queries}
    arrays.update(change)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(TraceError, match=message):
        load_trace(tmp_path / "bad.npz")


def test_hash_bits_follow_hyperplanes():
    planes = np.zeros((2, 3))
    planes[0, 0] = 1.0      # bit 0: sign of k[0]
    planes[1, 1] = 1.0      # bit 1: sign of k[1]
    planes[0, 2] = -1.0     # bit 2: sign of -k[0]
    keys = np.array([[1.0, 1.0], [-1.0, 2.0], [-1.0, -1.0], [0.0, 0.0]])
    assert hash_keys(keys, planes).tolist() == [0b011, 0b110, 0b100, 0b000]
    assert hyperplanes(16, 32, 0).shape == (16, 32)
    # 64 planes use every bit of the uint64.
    big = hash_keys(np.ones((1, 4)), np.ones((4, 64)))
    assert big.tolist() == [2**64 - 1]


def test_cluster_means_and_scores():
    keys = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]])
    means = cluster_means(keys, np.array([0, 0, 1]), 3)
    assert means.tolist() == [[2.0, 0.0], [0.0, 2.0], [0.0, 0.0]]
    scores = int_scores(np.array([[1.0, 0.0], [0.0, -1.0]]), means, score_bits=8)
    # One scale for the batch: the largest magnitude (2.0) maps to 127.
    assert scores.tolist() == [[127, 0, 0], [0, -127, 0]]


def test_trace_vectors_for_every_unit():
    trace = generate_trace(SMALL)
    cfg = Config(max_clusters=256)
    hcu = trace_vectors("hcu", trace, cfg, head=1)
    assert hcu.arrays["hashes"].size == 6 * 36
    wtu = trace_vectors("wtu", trace, cfg, rows=5)
    assert wtu.arrays["scores"].shape[0] == 5
    # The wtu vector scores the clusters that exist before the text queries: all of them.
    assert wtu.arrays["scores"].shape[1] == wtu.arrays["counts"].size == \
        run_hcu(trace_vectors("hcu", trace, cfg).arrays["hashes"], cfg).counts.size
    dre = trace_vectors("dre", trace, cfg, rows=5)
    # A query after each of frames 0..4 (the next frame's rows) and the text queries.
    assert dre.arrays["query_after"].tolist() == [0, 1, 2, 3, 4, 5]
    assert dre.arrays["scores"].shape == (5 * 5 + 5, 256)
    with pytest.raises(ValueError, match="head must be in 0..1, not 2"):
        trace_vectors("hcu", trace, cfg, head=2)
