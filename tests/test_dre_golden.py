"""The dre sequencing of SPEC 6 against the spec reference, on random and trace vectors."""

import numpy as np
import pytest

from vrex.golden.config import Config
from vrex.golden.dre import run_dre
from vrex.golden.stimulus import random_vectors, trace_vectors
from vrex.golden.trace import TraceParams, generate_trace

import spec_reference as ref
from conftest import small_config


def _check(vectors):
    a, cfg = vectors.arrays, vectors.config
    got = run_dre(a["hashes"], a["frame_end"], a["query_after"], a["query_rows"], a["scores"], cfg)
    want = ref.dre([int(h) for h in a["hashes"]], a["frame_end"].tolist(),
                   a["query_after"].tolist(), a["query_rows"].tolist(), a["scores"].tolist(), cfg)
    assert got.cluster.tolist() == want["cluster"]
    assert got.slot.tolist() == want["slot"]
    assert got.select.tolist() == want["select"]
    assert got.descriptors.tolist() == [list(d) for d in want["descriptors"]]
    assert got.cluster_overflow == want["cluster_overflow"]
    assert got.page_overflow == want["page_overflow"]
    return got


@pytest.mark.parametrize("seed", range(12))
def test_random_against_reference(seed):
    rng = np.random.default_rng(seed)
    cfg = small_config(max_clusters=int(rng.integers(1, 12)), max_pages=int(rng.integers(1, 12)),
                       page_tokens=int(rng.integers(1, 5)), th_hd=int(rng.integers(0, 6)),
                       mode=int(rng.integers(0, 3)), ratio=int(rng.integers(0, 65536)),
                       exp_frac=int(rng.integers(0, 7)), exp_bits=int(rng.integers(1, 13)))
    _check(random_vectors("dre", cfg, seed, tokens=int(rng.integers(1, 120)), frames=5,
                          queries=4, rows=3))


def test_overflowing_both_tables():
    cfg = small_config(max_clusters=2, max_pages=2, page_tokens=2, th_hd=1)
    got = _check(random_vectors("dre", cfg, 1, tokens=40, frames=3, queries=3))
    assert got.cluster_overflow and got.page_overflow
    assert (got.slot == cfg.no_slot).any()


def test_query_before_any_cluster_selects_nothing():
    cfg = small_config()
    got = run_dre([], [0], [0], [1], np.zeros((1, cfg.max_clusters), dtype=int), cfg)
    assert not got.select.any() and got.descriptors.shape == (0, 3)


def test_trace_vectors_against_reference():
    trace = generate_trace(TraceParams(frames=4, tokens=16, heads=1, head_dim=16, seed=3))
    cfg = Config(max_clusters=32, max_pages=16, page_tokens=4)
    got = _check(trace_vectors("dre", trace, cfg, rows=4))
    # Columns beyond the clusters that existed are never selected.
    assert got.select.shape == (4, 32)
