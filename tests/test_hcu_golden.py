"""HCU golden model (SPEC 2, cycles of SPEC 5) against hand-worked cases and the spec
reference."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vrex.golden import hcu as hcu_mod
from vrex.golden.config import Config
from vrex.golden.hcu import HcuModel, run_hcu
from vrex.golden.stimulus import random_hashes

import spec_reference as ref
from conftest import small_config


def test_hand_worked_example():
    # 4-bit hashes, join below distance 2, room for two clusters.
    cfg = small_config(hash_bits=4, max_clusters=2, th_hd=2, digit=1)
    r = run_hcu([0b0000, 0b0001, 0b1111, 0b1110, 0b0011], cfg)
    # 0001 joins 0000 (d=1); 1111 is far (d=4) and founds 1; 1110 is nearer 1 (d=1) than 0
    # (d=3); 0011 is at distance 2 from both: none below 2 and the table is full, so it is
    # forced into the nearest, ties to the smaller id, and the overflow flag sticks.
    assert r.cluster.tolist() == [0, 0, 1, 1, 0]
    assert r.counts.tolist() == [3, 2]
    assert r.cluster_hash.tolist() == [0b0000, 0b1111]
    assert r.cluster_overflow
    # Comparisons, one bit a cycle, LSB first, bound th_hd=2 while there is room:
    #   0001 vs 0000: d=1 never reaches 2 -> 4 cycles
    #   1111 vs 0000: second differing bit is bit 1 -> stop after 2 cycles
    #   1110 (table full, bound 5): vs 0000 d=3 -> 4 cycles, bound 3; vs 1111 d=1 -> 4 cycles
    #   0011 (bound 5): vs 0000 d=2 -> 4 cycles, bound 2; vs 1111 second difference at bit 3 -> 4
    model = HcuModel(cfg)
    model.push([0b0000, 0b0001, 0b1111, 0b1110, 0b0011])
    assert model.compare_cycles == 0 + 4 + 2 + 8 + 8
    assert model.cycles == 22 + 5 * hcu_mod.HCU_TOKEN_OVERHEAD + hcu_mod.HCU_LATENCY


def test_zero_distance_ends_search():
    cfg = small_config(hash_bits=8, max_clusters=4, th_hd=3, digit=8, hcu_lanes=1)
    model = HcuModel(cfg)
    model.push([0x00, 0xFF, 0x0F])              # three clusters, far apart
    before = model.compare_cycles
    model.push([0x00])                          # exact match with cluster 0
    assert model.compare_cycles - before == 1   # one comparison, then the search ends


def test_counts_saturate():
    cfg = small_config(count_bits=2)
    r = run_hcu([5] * 10, cfg)
    assert r.counts.tolist() == [3]
    assert r.cluster.tolist() == [0] * 10


def test_threshold_zero_never_joins():
    cfg = small_config(th_hd=0, max_clusters=3)
    r = run_hcu([1, 1, 1, 1], cfg)
    # Nothing is below distance 0: every token founds a cluster until the table is full,
    # then the last is forced into the nearest (cluster 0, all at distance 0).
    assert r.cluster.tolist() == [0, 1, 2, 0]
    assert r.cluster_overflow


def test_hash_wider_than_hash_bits_is_refused():
    with pytest.raises(ValueError, match="hash_bits=8"):
        run_hcu([256], small_config())


def _check_against_reference(cfg, hashes):
    got = HcuModel(cfg)
    ids = got.push(hashes)
    want = ref.hcu(hashes, cfg)
    assert ids.tolist() == want.cluster
    assert got.counts.tolist() == want.counts
    assert got.hashes.tolist() == want.hashes
    assert got.overflow == want.overflow
    assert got.compare_cycles == want.compare_cycles
    plain = HcuModel(cfg, early_exit=False)
    assert plain.push(hashes).tolist() == want.cluster       # early exit: cycles only
    assert plain.compare_cycles == ref.hcu(hashes, cfg, early_exit=False).compare_cycles
    assert got.compare_cycles <= plain.compare_cycles


@pytest.mark.parametrize("seed", range(40))
def test_random_against_reference(seed):
    rng = np.random.default_rng(seed)
    hash_bits = int(rng.choice([1, 3, 8, 13, 32, 64]))
    max_clusters = int(rng.integers(1, 24))
    digit = int(rng.integers(1, hash_bits + 1))
    cfg = Config(hash_bits=hash_bits, max_clusters=max_clusters,
                 count_bits=int(rng.integers(1, 6)), digit=digit,
                 hcu_segment=int(rng.integers(0, digit + 2)),
                 hcu_lanes=int(rng.integers(1, max_clusters + 1)),
                 wtu_lanes=1, th_hd=int(rng.integers(0, hash_bits + 2)))
    hashes = random_hashes(rng, cfg, int(rng.integers(1, 120)))
    _check_against_reference(cfg, hashes)


@given(
    hash_bits=st.integers(1, 64),
    data=st.data(),
)
def test_property_against_reference(hash_bits, data):
    max_clusters = data.draw(st.integers(1, 12))
    digit = data.draw(st.integers(1, hash_bits))
    cfg = Config(hash_bits=hash_bits, max_clusters=max_clusters, count_bits=3, digit=digit,
                 hcu_segment=data.draw(st.integers(0, digit)),
                 hcu_lanes=data.draw(st.integers(1, max_clusters)), wtu_lanes=1,
                 th_hd=data.draw(st.integers(0, hash_bits + 1)))
    top = (1 << hash_bits) - 1
    hashes = data.draw(st.lists(st.integers(0, top), min_size=1, max_size=40))
    _check_against_reference(cfg, np.array(hashes, dtype=np.uint64))


@given(data=st.data())
def test_invariants(data):
    cfg = small_config(max_clusters=data.draw(st.integers(1, 10)), count_bits=16,
                       hcu_lanes=1, th_hd=data.draw(st.integers(0, 9)))
    hashes = np.array(data.draw(st.lists(st.integers(0, 255), max_size=60)), dtype=np.uint64)
    r = run_hcu(hashes, cfg)
    n = r.counts.size
    # Every token gets exactly one cluster that exists; counts add up to the tokens.
    assert r.cluster.shape == hashes.shape
    assert np.all((0 <= r.cluster) & (r.cluster < n))
    assert r.counts.sum() == hashes.size
    assert np.array_equal(np.bincount(r.cluster, minlength=n), r.counts)
    # A cluster's hash is its founder's: the first token with that id.
    for c in range(n):
        assert r.cluster_hash[c] == hashes[np.argmax(r.cluster == c)]
    # Overflow means the table is full and some token was not within the threshold.
    if r.cluster_overflow:
        assert n == cfg.max_clusters


@pytest.mark.parametrize("split", [1, 7, 64])
def test_pushing_in_pieces_is_the_same(split):
    rng = np.random.default_rng(split)
    cfg = small_config(max_clusters=6, hcu_lanes=2)
    hashes = random_hashes(rng, cfg, 150)
    whole = HcuModel(cfg)
    ids = whole.push(hashes)
    pieces = HcuModel(cfg)
    got = np.concatenate([pieces.push(hashes[i:i + split]) for i in range(0, 150, split)])
    assert np.array_equal(got, ids)
    assert pieces.compare_cycles == whole.compare_cycles
    assert pieces.cycles == whole.cycles


def test_large_blocks_match_small_blocks(monkeypatch):
    # The model works on (tokens x clusters) blocks; the block size must not matter.
    rng = np.random.default_rng(5)
    cfg = Config(max_clusters=64, th_hd=9)
    hashes = random_hashes(rng, cfg, 3000, leaders=150, flips=4)
    big = run_hcu(hashes, cfg)
    monkeypatch.setattr(HcuModel, "_BLOCK", 97)
    small = run_hcu(hashes, cfg)
    assert np.array_equal(big.cluster, small.cluster) and big.cycles == small.cycles
