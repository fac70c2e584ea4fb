"""The KV memory engine's golden model (SPEC 7): burst plans, the fetch of a DRE run's
descriptors, and the token-order baseline, on directed and random cases."""

import numpy as np
import pytest

from vrex.golden.dre import run_dre
from vrex.golden.kv import AXI_BOUNDARY, KvParams, burst_plan, fetch_kv, token_order_bursts
from vrex.golden.stimulus import random_vectors

from conftest import small_config


def test_stride_is_whole_beats():
    assert KvParams(kv_bytes=100, bus_bytes=16, max_burst=8).stride == 112
    assert KvParams(kv_bytes=128, bus_bytes=64, max_burst=8).beats == 2


@pytest.mark.parametrize("field, value, message", [
    ("kv_bytes", 0, r"kv_bytes must be an integer in \[1, 512\], not 0"),
    ("kv_bytes", 513, r"kv_bytes must be an integer in \[1, 512\], not 513"),
    ("bus_bytes", 2, r"bus_bytes must be an integer in \[4, 64\], not 2"),
    ("bus_bytes", 24, r"bus_bytes must be a power of two, not 24"),
    ("max_burst", 257, r"max_burst must be an integer in \[1, 256\], not 257"),
    ("max_burst", True, r"max_burst must be an integer in \[1, 256\], not True"),
])
def test_bad_parameters_are_named(field, value, message):
    params = dict(kv_bytes=64, bus_bytes=8, max_burst=16)
    params[field] = value
    with pytest.raises(ValueError, match=message):
        KvParams(**params)


def test_bursts_cut_at_4kb_and_max_burst_only():
    p = KvParams(kv_bytes=64, bus_bytes=64, max_burst=256)
    # 4 KB is 64 beats of 64 bytes: a region of two whole 4 KB blocks takes two bursts.
    assert burst_plan(0, 2 * AXI_BOUNDARY, p) == [(0, 64), (AXI_BOUNDARY, 64)]
    # Two beats before a boundary, two after: cut there.
    assert burst_plan(AXI_BOUNDARY - 128, 256, p) == [(AXI_BOUNDARY - 128, 2), (AXI_BOUNDARY, 2)]
    short = KvParams(kv_bytes=64, bus_bytes=64, max_burst=16)
    assert burst_plan(0, 40 * 64, short) == [(0, 16), (1024, 16), (2048, 8)]
    assert burst_plan(0, 0, short) == []


@pytest.mark.parametrize("seed", range(20))
def test_random_burst_plans_keep_the_rules(seed):
    rng = np.random.default_rng(seed)
    p = KvParams(kv_bytes=int(rng.integers(1, 513)), bus_bytes=int(2 ** rng.integers(2, 7)),
                 max_burst=int(rng.integers(1, 257)))
    start = int(rng.integers(0, 1 << 16)) * p.bus_bytes
    length = int(rng.integers(0, 300)) * p.bus_bytes
    plan = burst_plan(start, length, p)
    address = start
    for i, (at, beats) in enumerate(plan):
        assert at == address and 1 <= beats <= p.max_burst, f"seed {seed}: burst {i}"
        end = at + beats * p.bus_bytes
        assert at // AXI_BOUNDARY == (end - 1) // AXI_BOUNDARY, f"seed {seed}: crosses 4 KB"
        if i + 1 < len(plan):                  # cut only by a rule
            assert beats == p.max_burst or end % AXI_BOUNDARY == 0, f"seed {seed}: burst {i}"
        address = end
    assert address == start + length


def test_token_order_runs():
    p = KvParams(kv_bytes=64, bus_bytes=64, max_burst=256)
    # Tokens 0, 1, 2 and 5 of one query: two runs; the same tokens split over two queries:
    # each query's runs apart.
    assert token_order_bursts([5, 0, 2, 1], [0, 0, 0, 0], p) == 2
    assert token_order_bursts([0, 1, 2, 5], [0, 1, 0, 1], p) == 4


def _dre_run(seed, **changes):
    rng = np.random.default_rng(seed)
    cfg = small_config(**changes)
    vectors = random_vectors("dre", cfg, seed, tokens=int(rng.integers(1, 80)), frames=4,
                             queries=3, rows=2)
    a = vectors.arrays
    result = run_dre(a["hashes"], a["frame_end"], a["query_after"], a["query_rows"],
                     a["scores"], cfg)
    slot = np.where(result.slot == cfg.no_slot, -1, result.slot)
    return cfg, result, slot, rng


@pytest.mark.parametrize("seed", range(10))
def test_fetch_returns_each_selected_token_from_its_slot(seed):
    cfg, result, slot, rng = _dre_run(seed, max_pages=int(np.random.default_rng(seed)
                                                          .integers(1, 6)))
    p = KvParams(kv_bytes=int(rng.integers(1, 200)), bus_bytes=int(2 ** rng.integers(2, 7)),
                 max_burst=int(rng.integers(1, 9)))
    kv = rng.integers(0, 256, size=(slot.size, p.kv_bytes), dtype=np.uint8)
    got = fetch_kv(kv, slot, result.descriptors, p, cfg.page_tokens)
    want_slots = [s for _, page, n in result.descriptors.tolist()
                  for s in range(page * cfg.page_tokens, page * cfg.page_tokens + n)]
    assert got.fetched_slot.tolist() == want_slots, f"seed {seed}"
    token_of = {s: t for t, s in enumerate(slot.tolist()) if s >= 0}
    for row, s in zip(got.fetched, got.fetched_slot.tolist()):
        assert np.array_equal(row, kv[token_of[s]]), f"seed {seed}: slot {s}"
    # No token without a slot is fetched, and each descriptor's bursts cover its bytes.
    assert all(s >= 0 for s in got.fetched_slot.tolist())
    assert got.beats == len(want_slots) * p.beats
    per_descriptor = [len(burst_plan(page * cfg.page_tokens * p.stride, n * p.stride, p))
                      for _, page, n in result.descriptors.tolist()]
    assert got.bursts == sum(per_descriptor), f"seed {seed}"


def test_fetch_refuses_what_no_run_produces():
    p = KvParams(kv_bytes=4, bus_bytes=4, max_burst=4)
    kv = np.zeros((2, 4), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"kv must be uint8\[2, kv_bytes=4\]"):
        fetch_kv(kv.astype(np.int64), [0, 1], [[0, 0, 2]], p, 4)
    with pytest.raises(ValueError, match="a slot is handed out twice"):
        fetch_kv(kv, [1, 1], [], p, 4)
    with pytest.raises(ValueError, match="fetches slot 2, which no token holds"):
        fetch_kv(kv, [0, 1], [[0, 0, 3]], p, 4)


def test_paged_layout_needs_fewer_bursts_than_token_order():
    # Two clusters whose tokens alternate in arrival order: each cluster's page is one
    # burst, its tokens in token order are every other one.
    p = KvParams(kv_bytes=64, bus_bytes=64, max_burst=16)
    kv = np.zeros((8, 64), dtype=np.uint8)
    slot = [0, 4, 1, 5, 2, 6, 3, 7]           # cluster A on page 0, cluster B on page 1
    got = fetch_kv(kv, slot, [[0, 0, 4]], p, 4)
    assert got.bursts == 1 and got.baseline_bursts == 4


def _dre_file(tmp_path, **kv_keys):
    from vrex.golden.vectors import save_vectors
    cfg = small_config(max_pages=3)
    vectors = random_vectors("dre", cfg, 5, tokens=30, frames=3, queries=2, rows=2)
    path = tmp_path / "kv.npz"
    return path, lambda: save_vectors(path, "dre", cfg, **vectors.arrays, **kv_keys)


def test_vector_file_with_kv_gives_the_fetch(tmp_path):
    from vrex.golden.vectors import load_vectors, run_golden
    rng = np.random.default_rng(3)
    kv = rng.integers(0, 256, size=(30, 40), dtype=np.uint8)
    path, save = _dre_file(tmp_path, kv=kv, kv_bytes=np.int64(40), bus_bytes=np.int64(16),
                           max_burst=np.int64(4))
    save()
    out = run_golden(load_vectors(path))
    assert out["fetched"].dtype == np.uint8 and out["fetched"].shape[1] == 40
    assert out["fetched_slot"].size == out["fetched"].shape[0] == out["descriptors"][:, 2].sum()
    slot = out["slot"].tolist()
    for row, s in zip(out["fetched"], out["fetched_slot"].tolist()):
        assert np.array_equal(row, kv[slot.index(s)])
    assert int(out["bursts"]) >= len(out["descriptors"])


@pytest.mark.parametrize("keys, message", [
    (dict(kv_bytes=np.int64(40)), r"key 'kv_bytes' needs key 'kv' too"),
    (dict(kv=np.zeros((30, 40), np.uint8), kv_bytes=np.int64(40), bus_bytes=np.int64(12),
          max_burst=np.int64(4)), "key 'bus_bytes' must be a power of two, not 12"),
    (dict(kv=np.zeros((30, 40), np.int64), kv_bytes=np.int64(40), bus_bytes=np.int64(16),
          max_burst=np.int64(4)), "key 'kv' must be uint8, not int64"),
    (dict(kv=np.zeros((29, 40), np.uint8), kv_bytes=np.int64(40), bus_bytes=np.int64(16),
          max_burst=np.int64(4)), r"key 'kv' must have shape \(30, 40\), not \(29, 40\)"),
])
def test_bad_kv_keys_are_named_and_nothing_is_written(tmp_path, keys, message):
    from vrex.golden.vectors import VectorError
    path, save = _dre_file(tmp_path, **keys)
    with pytest.raises(VectorError, match=message):
        save()
    assert not path.exists()


def test_a_file_with_kv_sets_the_engines_parameters(tmp_path):
    # The file's three scalars become the configuration's (what `vrex sim run` generates the
    # RTL from), the address width grown to the pool; a file without kv carries none of them.
    from vrex.golden.vectors import load_vectors, read_npz
    path, save = _dre_file(tmp_path, kv=np.zeros((30, 8), np.uint8), kv_bytes=np.int64(8),
                           bus_bytes=np.int64(4), max_burst=np.int64(2))
    save()
    vectors = load_vectors(path)
    c = vectors.config
    assert (c.kv_bytes, c.bus_bytes, c.max_burst, c.axi_addr_width) == (8, 4, 2, 32)
    assert "kv_outstanding" not in read_npz(path)
    plain, save = _dre_file(tmp_path / "plain")
    save()
    assert not {"kv_bytes", "bus_bytes", "max_burst"} & set(read_npz(plain))


def test_bench_kv_counts_each_layout_on_a_trace(capsys):
    from vrex.golden.trace import TraceParams, generate_trace
    from vrex.scripts.bench_kv import bench_kv_layout
    from vrex.scripts.cli import main
    trace = generate_trace(TraceParams(frames=3, tokens=32, heads=1, head_dim=8))
    figures = bench_kv_layout(trace=trace, name="t", bus_bytes=4, max_burst=2)
    out = capsys.readouterr().out
    # 32-byte tokens in 4-byte beats, bursts of at most 2 beats: 4 bursts a token either way.
    assert figures["paged"] == figures["token_order"] == 4 * figures["tokens"] > 0
    assert "token order needs 1.00x the bursts" in out and "target" not in out
    # The bound no layout beats: 8-byte bursts here, so 4 a token as well.
    assert figures["ideal"] == figures["paged"]
    # The target is judged on the default trace and configuration only.
    from vrex.golden.config import Config
    capsys.readouterr()
    bench_kv_layout(trace=trace, name="default trace", config=Config(mode=2))
    assert "target" not in capsys.readouterr().out
    big = bench_kv_layout(trace=trace, name="t", bus_bytes=4, max_burst=256)
    assert 0 < big["ideal"] <= min(big["paged"], big["token_order"])
    assert main(["bench", "kv", "--max-burst", "0"]) == 2
    assert "--max-burst must be an integer in [1, 256], not 0" in capsys.readouterr().err
    assert main(["bench", "kv", "--latency", "-1"]) == 2
    assert "--latency must be at least 0, not -1" in capsys.readouterr().err
