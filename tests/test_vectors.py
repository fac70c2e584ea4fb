"""Vector files (SPEC 6): round trips, the golden run, and refusal of bad files."""

import numpy as np
import pytest

from vrex.golden.config import Config
from vrex.golden.stimulus import random_vectors
from vrex.golden.vectors import (VECTOR_UNITS, VectorError, check_vectors, compare_outputs,
                                 load_vectors, read_npz, run_golden, save_vectors, write_npz)

from conftest import small_config


@pytest.mark.parametrize("unit", ["hcu", "wtu", "dre"])
def test_round_trip(tmp_path, unit):
    cfg = small_config(digit=4, hcu_lanes=2)
    vectors = random_vectors(unit, cfg, seed=7)
    path = tmp_path / "v.npz"
    write_npz(path, vectors.to_npz_dict())
    back = load_vectors(path)
    assert back.unit == unit and back.config == cfg
    assert all(np.array_equal(back.arrays[k], v) for k, v in vectors.arrays.items())
    out = run_golden(back)
    assert set(out) == {"unit", *VECTOR_UNITS[unit].outputs}
    assert compare_outputs(out, run_golden(vectors)) == []


def test_save_vectors_checks_first(tmp_path):
    cfg = small_config()
    path = tmp_path / "v.npz"
    save_vectors(path, "hcu", cfg, hashes=np.array([1, 2, 3], dtype=np.uint64))
    assert load_vectors(path).arrays["hashes"].tolist() == [1, 2, 3]
    with pytest.raises(VectorError, match="'hashes' must hold values in 0..255, not 256"):
        save_vectors(tmp_path / "w.npz", "hcu", cfg, hashes=np.array([256]))
    assert not (tmp_path / "w.npz").exists()


def test_microarchitecture_keys_default():
    raw = random_vectors("hcu", small_config(digit=4, hash_bits=32), 0).to_npz_dict()
    for key in ("digit", "hcu_lanes", "wtu_lanes", "max_buckets"):
        del raw[key]
    cfg = check_vectors(raw).config
    assert (cfg.digit, cfg.hcu_lanes, cfg.max_buckets) == \
        (Config().digit, Config().hcu_lanes, Config().max_buckets)
    assert cfg.wtu_lanes == 8                   # the default 16 lanes, fitted to 8 clusters
    raw["hash_bits"] = np.int64(8)
    raw["hashes"] = raw["hashes"] & np.uint64(255)
    assert check_vectors(raw).config.digit == 8    # the default 16-bit digit, fitted


def _good(unit):
    return random_vectors(unit, small_config(), seed=1).to_npz_dict()


def _set(key, value):
    def edit(raw):
        raw[key] = value
    return edit


def _drop(key):
    def edit(raw):
        del raw[key]
    return edit


BAD = [
    ("hcu", _drop("unit"), "missing key 'unit'"),
    ("hcu", _set("unit", np.array("gpu")), "key 'unit' must be one of hcu, wtu, dre, not 'gpu'"),
    ("hcu", _set("unit", np.int64(1)), "key 'unit' must be a string"),
    ("hcu", _drop("th_hd"), "missing key 'th_hd'"),
    ("hcu", _set("th_hd", np.float64(3)), "key 'th_hd' must be a scalar integer"),
    ("hcu", _set("th_hd", np.array([3])), "key 'th_hd' must be a scalar integer"),
    ("hcu", _set("th_hd", np.int64(10)), "th_hd must be in 0..hash_bits\\+1=9, not 10"),
    ("hcu", _set("hash_bits", np.int64(0)), "hash_bits must be in 1..64, not 0"),
    ("hcu", _set("colour", np.int64(0)), "unknown key 'colour' for unit 'hcu'"),
    ("hcu", _drop("hashes"), "missing key 'hashes'"),
    ("hcu", _set("hashes", np.zeros((2, 2), dtype=np.uint64)), "key 'hashes' must have 1 dim"),
    ("hcu", _set("hashes", np.array([0.5])), "key 'hashes' must hold integers, not float64"),
    ("hcu", _set("hashes", np.array([-1])), "key 'hashes' must hold values in 0..255, not -1"),
    ("wtu", _set("scores", np.array([[128]])), "key 'scores' must hold values in -128..127, "
                                               "not 128"),
    ("wtu", _set("scores", np.zeros((0, 3), dtype=np.int64)), "key 'scores' must have shape"),
    ("wtu", _set("scores", np.zeros((1, 9), dtype=np.int64)), "key 'scores' must have shape"),
    ("wtu", _set("counts", np.array([16])), "key 'counts' must hold values in 0..15, not 16"),
    ("wtu", _set("counts", np.array([1, 2, 3, 4, 5, 6, 7, 8, 9])),
     "key 'counts' must have shape"),
    ("dre", _set("frame_end", np.array([5, 3, 200])), "key 'frame_end' must not decrease"),
    ("dre", _set("frame_end", np.array([5, 9])), "key 'frame_end' must end at the token count"),
    ("dre", _set("frame_end", np.array([], dtype=np.int64)), "'frame_end' must list at least"),
    ("dre", _set("query_after", np.array([2, 1, 0])), "key 'query_after' must not decrease"),
    ("dre", _set("query_after", np.array([0, 0, 9])), "key 'query_after' must hold values"),
    ("dre", _set("query_rows", np.array([1, 1])), "key 'query_rows' must have shape"),
    ("dre", _set("query_rows", np.array([0, 1, 1])), "key 'query_rows' must hold values in 1"),
    ("dre", _set("scores", np.zeros((1, 8), dtype=np.int64)), "key 'scores' must have shape"),
]


@pytest.mark.parametrize("unit, edit, message", BAD, ids=[m[:40] for _, _, m in BAD])
def test_bad_file_is_refused_naming_the_key(tmp_path, unit, edit, message):
    raw = _good(unit)
    edit(raw)
    path = tmp_path / "bad.npz"
    np.savez(path, **raw)
    with pytest.raises(VectorError, match=message):
        load_vectors(path)


def test_not_an_npz(tmp_path):
    path = tmp_path / "x.npz"
    path.write_text("hello")
    with pytest.raises(VectorError, match="not a NumPy .npz file"):
        read_npz(path)
    with pytest.raises(VectorError, match="no such file"):
        read_npz(tmp_path / "missing.npz")


def test_object_arrays_are_refused(tmp_path):
    path = tmp_path / "o.npz"
    np.savez(path, unit=np.array(["hcu", 3], dtype=object))
    with pytest.raises(VectorError, match="key 'unit' holds Python objects"):
        read_npz(path)


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "out.npz"
    write_npz(path, {"a": np.arange(3)})
    monkeypatch.setattr(np, "savez", lambda *a, **k: (_ for _ in ()).throw(OSError("disk")))
    with pytest.raises(OSError):
        write_npz(path, {"a": np.arange(5)})
    assert read_npz(path)["a"].tolist() == [0, 1, 2]          # the old file, whole
    assert [p.name for p in tmp_path.iterdir()] == ["out.npz"]   # no temporary left
