"""Streaming traces: generator, file layout, hashing, cluster keys and integer scores."""

import numpy as np
import pytest

from vrex.golden.config import Config
from vrex.golden.hcu import run_hcu
from vrex.golden.stimulus import trace_vectors
from vrex.golden.trace import (Trace, TraceError, TraceParams, cluster_means, generate_trace,
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


FIELDS = ("keys", "values", "queries", "text_queries", "text_keys", "text_values")


def test_round_trip(tmp_path):
    trace = generate_trace(SMALL)
    save_trace(tmp_path / "t.npz", trace)
    back = load_trace(tmp_path / "t.npz")
    for key in FIELDS:
        assert np.array_equal(getattr(back, key), getattr(trace, key))
    assert back.layer is None and back.sink == 0 and back.group == 1


def test_version_2_round_trip(tmp_path):
    made = generate_trace(TraceParams(**{**SMALL.__dict__, "group": 3}))
    trace = Trace(made.keys, made.values, made.queries, made.text_queries, made.text_keys,
                  made.text_values, layer=5, sink=7)
    save_trace(tmp_path / "t.npz", trace)
    back = load_trace(tmp_path / "t.npz")
    for key in FIELDS:
        assert np.array_equal(getattr(back, key), getattr(trace, key)), key
    assert (back.layer, back.sink, back.group) == (5, 7, 3)
    assert back.queries.shape == (6, 36, 2, 3, 16) and back.text_queries.shape == (8, 2, 3, 16)
    assert back.text_keys.shape == back.text_values.shape == (8, 2, 16)


def test_a_version_1_trace_is_written_as_one(tmp_path):
    made = generate_trace(SMALL)
    save_trace(tmp_path / "t.npz", Trace(made.keys, made.values, made.queries,
                                         made.text_queries))
    with np.load(tmp_path / "t.npz") as npz:
        assert sorted(npz.files) == ["keys", "queries", "text_queries", "values"]
    assert not load_trace(tmp_path / "t.npz").has_text_keys


def test_query_rows_hold_the_whole_group_token_by_token():
    trace = generate_trace(TraceParams(**{**SMALL.__dict__, "group": 2}))
    rows = trace.query_rows(1, 4, [3, 0, 9])
    assert rows.shape == (6, 16)
    for i, token in enumerate([3, 0, 9]):
        for g in range(2):
            assert np.array_equal(rows[2 * i + g], trace.queries[4, token, 1, g])
    assert np.array_equal(trace.text_query_rows(0, [2])[1], trace.text_queries[2, 0, 1])
    assert trace.text_query_rows(1).shape == (16, 16)
    single = generate_trace(SMALL)
    assert np.array_equal(single.query_rows(0, 2), single.queries[2, :, 0])


def test_group_adds_query_heads_and_keeps_the_first():
    one = generate_trace(SMALL)
    three = generate_trace(TraceParams(**{**SMALL.__dict__, "group": 3}))
    for key in ("keys", "values", "text_keys", "text_values"):
        assert np.array_equal(getattr(one, key), getattr(three, key))
    assert np.array_equal(three.queries[:, :, :, 0], one.queries)
    assert np.array_equal(three.text_queries[:, :, 0], one.text_queries)
    # The extra heads are draws of their own, not copies.
    assert not np.allclose(three.queries[:, :, :, 1], three.queries[:, :, :, 0])
    assert not np.allclose(three.queries[:, :, :, 2], three.queries[:, :, :, 1])
    with pytest.raises(ValueError, match="group must be a positive integer, not 0"):
        TraceParams(group=0)


def test_text_queries_optional(tmp_path):
    trace = generate_trace(SMALL)
    np.savez(tmp_path / "t.npz", keys=trace.keys, values=trace.values, queries=trace.queries)
    assert load_trace(tmp_path / "t.npz").text_queries.shape == (0, 2, 16)


BAD = [
    ({"keys": None}, "missing array 'keys'"),
    ({"values": np.zeros((6, 36, 2, 8), np.float32)}, "'values' must have the shape of 'keys'"),
    ({"queries": np.zeros((6, 36, 2), np.float32)}, "'queries' must have 4 or 5 dimensions"),
    ({"keys": np.zeros((6, 36, 2, 16), np.int32)}, "'keys' must hold floats, not int32"),
    ({"text_queries": np.zeros((3, 2, 5), np.float32)}, "'text_queries' must have shape"),
    ({"values": np.full((6, 36, 2, 16), np.nan, np.float32)}, "'values' holds NaN"),
    ({"extra": np.zeros(3)}, "unknown array 'extra'"),
    # Version 2: query groups, text keys and values, layer, sink.
    ({"queries": np.zeros((6, 36, 2, 2, 8), np.float32)},
     r"'queries' must have the shape of 'keys' \(6, 36, 2, 16\) or \[6, 36, 2, G, 16\], "
     r"not \(6, 36, 2, 2, 8\)"),
    ({"queries": np.zeros((6, 36, 2, 0, 16), np.float32)},
     r"'queries' must have at least one query head per KV head \(G >= 1\)"),
    ({"queries": np.zeros((6, 36, 2, 2, 16), np.float32)},
     r"'text_queries' must have shape \[X, 2, 2, 16\] \(G = 2 as in 'queries'\), "
     r"not \(8, 2, 16\)"),
    ({"text_keys": np.zeros((7, 2, 16), np.float32)},
     r"'text_keys' must have shape \[8, 2, 16\] \(a row per text query of 'text_queries'\), "
     r"not \(7, 2, 16\)"),
    ({"text_values": np.zeros((8, 2, 16, 1), np.float32)},
     r"'text_values' must have 3 dimensions, not shape \(8, 2, 16, 1\)"),
    ({"text_values": None}, "array 'text_values' must come with 'text_keys'"),
    ({"text_keys": None}, "array 'text_keys' must come with 'text_values'"),
    ({"text_keys": np.zeros((8, 2, 16), np.int64)}, "'text_keys' must hold floats, not int64"),
    ({"text_values": np.full((8, 2, 16), np.inf, np.float32)}, "'text_values' holds NaN"),
    ({"layer": np.int64(-1)}, "scalar 'layer' must be >= 0, not -1"),
    ({"layer": np.float64(2.0)}, "scalar 'layer' must be an integer scalar, not float64"),
    ({"sink": np.int64(216)}, r"scalar 'sink' must be in 0\.\.215 .*, not 216"),
    ({"sink": np.int64(-3)}, r"scalar 'sink' must be in 0\.\.215 .*, not -3"),
    ({"sink": np.array([1, 2])}, r"scalar 'sink' must be an integer scalar, not int64 of "
                                 r"shape \(2,\)"),
]


@pytest.mark.parametrize("change, message", BAD, ids=[m[:60] for _, m in BAD])
def test_bad_trace_names_the_array(tmp_path, change, message):
    trace = generate_trace(SMALL)
    arrays = {"keys": trace.keys, "values": trace.values, "queries": trace.queries,
              "text_queries": trace.text_queries, "text_keys": trace.text_keys,
              "text_values": trace.text_values, "layer": np.int64(3), "sink": np.int64(4)}
    arrays.update(change)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(TraceError, match=message):
        load_trace(tmp_path / "bad.npz")


def test_a_trace_built_in_code_is_checked_too():
    trace = generate_trace(SMALL)
    with pytest.raises(TraceError, match="trace: scalar 'sink' must be in 0..215"):
        Trace(trace.keys, trace.values, trace.queries, sink=216)
    with pytest.raises(TraceError, match="scalar 'layer' must be an integer scalar, not <U1"):
        Trace(trace.keys, trace.values, trace.queries, layer="3")
    with pytest.raises(TraceError, match="array 'text_values' must come with 'text_keys'"):
        Trace(trace.keys, trace.values, trace.queries, trace.text_queries, trace.text_keys)
    bare = Trace(trace.keys, trace.values, trace.queries)
    assert bare.text_queries.shape == (0, 2, 16) and bare.text_keys.shape == (0, 2, 16)


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


def test_trace_vectors_send_every_query_head_of_the_group():
    trace = generate_trace(SMALL)
    cfg = Config(max_clusters=256)
    twice = Trace(trace.keys, trace.values, np.stack([trace.queries] * 2, axis=3),
                  np.stack([trace.text_queries] * 2, axis=2))
    one, two = (trace_vectors("dre", t, cfg, rows=5).arrays for t in (trace, twice))
    # Each token's rows for both group heads, one after the other: equal rows, equal scores
    # (the batch's integer scale is set by the same largest magnitude).
    assert two["query_rows"].tolist() == [10] * 6
    assert np.array_equal(two["scores"][0::2], one["scores"])
    assert np.array_equal(two["scores"][1::2], one["scores"])
    other = generate_trace(TraceParams(**{**SMALL.__dict__, "group": 2}))
    rows = trace_vectors("wtu", other, cfg, rows=5).arrays["scores"]
    assert rows.shape[0] == 10 and not np.array_equal(rows[0::2], rows[1::2])


def test_vectors_of_a_trace_leave_the_sink_prefix_out():
    from vrex.golden.config import load_config
    plain = generate_trace(TraceParams(frames=3, tokens=8, heads=1, head_dim=8, seed=4))
    sunk = Trace(plain.keys, plain.values, plain.queries, plain.text_queries, sink=5)
    config = load_config("small")
    a = trace_vectors("dre", plain, config).arrays
    b = trace_vectors("dre", sunk, config).arrays
    np.testing.assert_array_equal(b["hashes"], a["hashes"][5:])
    np.testing.assert_array_equal(b["frame_end"], [3, 11, 19])
