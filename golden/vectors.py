"""Vector files (SPEC 6): one ``.npz`` format read by the golden model and the RTL simulation.

A file holds ``unit``, the ten scalar parameters, the optional ``exp_frac`` and ``exp_bits``
and microarchitecture scalars, and the unit's input arrays. Everything is checked on load and
before save; a bad file is refused with a :class:`VectorError` naming the key, and outputs are
written atomically, so a failed run never leaves a half-written file behind.
"""

from __future__ import annotations

import dataclasses
import io
import os
import uuid
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from .config import KV_PARAMS, MICROARCH, OPTIONAL, VECTOR_SCALARS, Config, ConfigError
from .dre import run_dre
from .hcu import run_hcu
from .kv import KvParams, fetch_kv
from .wtu import run_wtu

__all__ = ["UNITS", "VECTOR_UNITS", "VectorUnit", "VectorError", "Vectors", "load_vectors",
           "save_vectors", "run_golden", "write_npz", "read_npz", "compare_outputs"]

class VectorError(ValueError):
    """A vector file (or the arrays meant for one) breaks the format; names the key."""


@dataclasses.dataclass
class Vectors:
    """A checked vector file: the unit, its configuration and its input arrays."""

    unit: str
    config: Config
    arrays: dict[str, np.ndarray]

    def to_npz_dict(self) -> dict[str, np.ndarray]:
        return {"unit": np.array(self.unit), **file_scalars(self.config, "kv" in self.arrays),
                **self.arrays}


def file_scalars(config: Config, kv: bool) -> dict[str, np.ndarray]:
    """The scalars a vector file carries for ``config``: the KV engine's three (SPEC 7) only
    beside a ``kv`` array, its other two never."""
    keep = KV_KEYS[1:] if kv else ()
    return {k: np.int64(v) for k, v in config.as_dict().items()
            if k not in KV_PARAMS or k in keep}


# ---------------------------------------------------------------------------------------------
# Low-level file access

def read_npz(path) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file; refuses pickled objects and files that are not npz."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = list(npz.files)
            out = {}
            for name in names:
                try:
                    out[name] = npz[name]
                except ValueError:
                    raise VectorError(f"{path}: key {name!r} holds Python objects; "
                                      f"only plain NumPy arrays are allowed") from None
            return out
    except FileNotFoundError:
        raise VectorError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        if isinstance(error, VectorError):
            raise
        raise VectorError(f"{path}: not a NumPy .npz file ({error})") from None


def write_npz(path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` atomically: a reader sees the old file or the whole new one."""
    path = Path(path)
    if path.is_dir():
        raise VectorError(f"{path}: is a directory; give a file name (e.g. {path / 'out.npz'})")
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A fresh name beside the target, created with open()'s mode: the umask applies, as to any
    # other file the user writes (mkstemp's 0600 is meant for secrets).
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(buffer.getvalue())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------------
# Checking

def _scalar_int(where, key, value) -> int:
    value = np.asarray(value)
    if value.shape != () or value.dtype.kind not in "iu":
        raise VectorError(f"{where}: key {key!r} must be a scalar integer, "
                          f"not {value.dtype} of shape {value.shape}")
    return int(value)


def _int_array(where, key, value, ndim, lo, hi) -> np.ndarray:
    value = np.asarray(value)
    if value.dtype.kind not in "iu":
        raise VectorError(f"{where}: key {key!r} must hold integers, not {value.dtype}")
    if value.ndim != ndim:
        raise VectorError(f"{where}: key {key!r} must have {ndim} dimension(s), "
                          f"not shape {value.shape}")
    if value.size:
        # Compare as Python ints: uint64 against negative bounds must not wrap.
        vmin, vmax = int(value.min()), int(value.max())
        if vmin < lo or vmax > hi:
            bad = vmin if vmin < lo else vmax
            raise VectorError(f"{where}: key {key!r} must hold values in {lo}..{hi}, "
                              f"not {bad}")
    return value


def _shape(where, key, value, shape):
    if value.shape != shape:
        raise VectorError(f"{where}: key {key!r} must have shape {shape}, not {value.shape}")


def check_vectors(raw: dict, where: str = "vectors") -> Vectors:
    """Check a mapping of arrays against SPEC 6 and return the parsed :class:`Vectors`."""
    if "unit" not in raw:
        raise VectorError(f"{where}: missing key 'unit'")
    unit_arr = np.asarray(raw["unit"])
    if unit_arr.shape != () or unit_arr.dtype.kind not in "US":
        raise VectorError(f"{where}: key 'unit' must be a string, not {unit_arr.dtype}")
    unit = str(unit_arr.astype(str))
    if unit not in UNITS:
        raise VectorError(f"{where}: key 'unit' must be one of {', '.join(UNITS)}, not {unit!r}")
    spec = VECTOR_UNITS[unit]
    allowed = {"unit", *VECTOR_SCALARS, *OPTIONAL, *MICROARCH, *spec.inputs, *spec.outputs,
               *spec.extra_inputs, *spec.extra_outputs}
    for key in raw:
        if key not in allowed:
            raise VectorError(f"{where}: unknown key {key!r} for unit {unit!r}")
    params = {}
    for key in VECTOR_SCALARS:
        if key not in raw:
            raise VectorError(f"{where}: missing key {key!r}")
        params[key] = _scalar_int(where, key, raw[key])
    for key in (*OPTIONAL, *MICROARCH):
        if key in raw:
            params[key] = _scalar_int(where, key, raw[key])
    params = _micro_defaults(params)
    try:
        config = Config(**params)
    except ConfigError as error:
        raise VectorError(f"{where}: {error}") from None
    for key in spec.inputs:
        if key not in raw:
            raise VectorError(f"{where}: missing key {key!r}")
    arrays = spec.check(where, config, raw)
    if "kv" in arrays:
        config = _kv_config(where, config, {k: int(arrays.pop(k)) for k in KV_KEYS[1:]})
    return Vectors(unit, config, arrays)


def _kv_config(where, config: Config, scalars: dict) -> Config:
    """``config`` with a file's KV engine scalars, its addresses as wide as the pool needs."""
    need = config.replace(**scalars, axi_addr_width=44).kv_region
    try:
        return config.replace(**scalars, axi_addr_width=max(32, (need - 1).bit_length()))
    except ConfigError as error:
        raise VectorError(f"{where}: {error}") from None


def _micro_defaults(params: dict) -> dict:
    """Fill missing microarchitecture keys with the defaults, fitted to the file's sizes
    (a default 16-bit digit on 8-bit hashes becomes 8) so that a file need not carry them."""
    base = Config()
    out = dict(params)
    if 1 <= out["hash_bits"] <= 64:
        out.setdefault("digit", min(base.digit, out["hash_bits"]))
    if out["max_clusters"] >= 1:
        out.setdefault("hcu_lanes", min(base.hcu_lanes, out["max_clusters"]))
        out.setdefault("wtu_lanes", min(base.wtu_lanes, out["max_clusters"]))
    out.setdefault("max_buckets", max(base.max_buckets, out["buckets"]))
    return out


def _hashes(where, config, raw):
    return _int_array(where, "hashes", raw["hashes"], 1, 0,
                      (1 << config.hash_bits) - 1).astype(np.uint64)


def _check_hcu(where, config, raw):
    return {"hashes": _hashes(where, config, raw)}


def _check_wtu(where, config, raw):
    scores = _int_array(where, "scores", raw["scores"], 2, config.score_min, config.score_max)
    rows, columns = scores.shape
    if rows < 1 or not 1 <= columns <= config.max_clusters:
        raise VectorError(f"{where}: key 'scores' must have shape [rows >= 1, "
                          f"1..max_clusters={config.max_clusters}], not {scores.shape}")
    counts = _int_array(where, "counts", raw["counts"], 1, 0, config.count_max)
    _shape(where, "counts", counts, (columns,))
    return {"scores": scores.astype(np.int64), "counts": counts.astype(np.int64)}


def _check_dre(where, config, raw):
    hashes = _hashes(where, config, raw)
    frame_end = _int_array(where, "frame_end", raw["frame_end"], 1, 0, hashes.size)
    if frame_end.size < 1:
        raise VectorError(f"{where}: key 'frame_end' must list at least one frame")
    if np.any(np.diff(frame_end) < 0):
        raise VectorError(f"{where}: key 'frame_end' must not decrease")
    if frame_end[-1] != hashes.size:
        raise VectorError(f"{where}: key 'frame_end' must end at the token count "
                          f"{hashes.size}, not {int(frame_end[-1])}")
    query_after = _int_array(where, "query_after", raw["query_after"], 1, 0,
                             frame_end.size - 1)
    if np.any(np.diff(query_after) < 0):
        raise VectorError(f"{where}: key 'query_after' must not decrease")
    query_rows = _int_array(where, "query_rows", raw["query_rows"], 1, 1, 1 << 31)
    _shape(where, "query_rows", query_rows, query_after.shape)
    scores = _int_array(where, "scores", raw["scores"], 2, config.score_min, config.score_max)
    _shape(where, "scores", scores, (int(query_rows.sum()), config.max_clusters))
    return {
        "hashes": hashes,
        "frame_end": frame_end.astype(np.int64),
        "query_after": query_after.astype(np.int64),
        "query_rows": query_rows.astype(np.int64),
        "scores": scores.astype(np.int64),
        **_check_kv(where, raw, hashes.size),
    }


KV_KEYS = ("kv", "kv_bytes", "bus_bytes", "max_burst")


def _check_kv(where, raw, tokens):
    """SPEC 7's optional keys of a ``dre`` file: all four or none."""
    present = [key for key in KV_KEYS if key in raw]
    if not present:
        return {}
    for key in KV_KEYS:
        if key not in raw:
            raise VectorError(f"{where}: key {present[0]!r} needs key {key!r} too (SPEC 7)")
    scalars = {key: _scalar_int(where, key, raw[key]) for key in KV_KEYS[1:]}
    try:
        KvParams(**scalars)
    except ValueError as error:
        field, _, rest = str(error).partition(" ")       # "<field> must be ..."
        raise VectorError(f"{where}: key {field!r} {rest}") from None
    kv = np.asarray(raw["kv"])
    if kv.dtype != np.uint8:
        raise VectorError(f"{where}: key 'kv' must be uint8, not {kv.dtype}")
    _shape(where, "kv", kv, (tokens, scalars["kv_bytes"]))
    return {"kv": kv, **{key: np.int64(value) for key, value in scalars.items()}}


def _run_dre(arrays, config):
    result = run_dre(arrays["hashes"], arrays["frame_end"], arrays["query_after"],
                     arrays["query_rows"], arrays["scores"], config)
    out = result.as_dict(config.no_slot)
    if "kv" in arrays:
        params = KvParams(**{key: getattr(config, key) for key in KV_KEYS[1:]})
        slot = np.where(result.slot == config.no_slot, -1, result.slot)
        out.update(fetch_kv(arrays["kv"], slot, result.descriptors, params,
                            config.page_tokens).as_dict())
    return out


@dataclasses.dataclass(frozen=True)
class VectorUnit:
    """A unit with vector files: its input and output keys (SPEC 6), how its inputs are
    checked (``check(where, config, raw) -> arrays``) and run (``run(arrays, config) ->
    outputs``) by the golden model."""
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    check: Callable
    run: Callable
    extra_inputs: tuple[str, ...] = ()       # optional inputs, and the outputs they add
    extra_outputs: tuple[str, ...] = ()


VECTOR_UNITS = {u.name: u for u in (
    VectorUnit("hcu", ("hashes",),
               ("cluster", "counts", "cluster_hash", "cluster_overflow", "cycles"),
               _check_hcu, lambda a, cfg: run_hcu(a["hashes"], cfg).as_dict()),
    VectorUnit("wtu", ("scores", "counts"),
               ("row_select", "select", "exit_bucket", "threshold", "total", "cycles"),
               _check_wtu, lambda a, cfg: run_wtu(a["scores"], a["counts"], cfg).as_dict()),
    VectorUnit("dre", ("hashes", "frame_end", "query_after", "query_rows", "scores"),
               ("cluster", "slot", "select", "descriptors", "cluster_overflow",
                "page_overflow", "cycles"),
               _check_dre, _run_dre, extra_inputs=KV_KEYS,
               extra_outputs=("fetched", "fetched_slot", "bursts")),
)}
UNITS = tuple(VECTOR_UNITS)


# ---------------------------------------------------------------------------------------------
# Public entry points

def load_vectors(path) -> Vectors:
    """Read and check a vector file."""
    return check_vectors(read_npz(path), where=str(path))


def save_vectors(path, unit: str, config: Config, **arrays) -> Vectors:
    """Check ``arrays`` as inputs of ``unit`` under ``config`` and write a vector file."""
    raw = {"unit": np.array(unit), **file_scalars(config, "kv" in arrays), **arrays}
    vectors = check_vectors(raw, where=str(path))
    write_npz(path, vectors.to_npz_dict())
    return vectors


def run_golden(vectors: Vectors) -> dict[str, np.ndarray]:
    """Evaluate a checked vector file with the golden model; returns the SPEC 6 output keys."""
    out = VECTOR_UNITS[vectors.unit].run(vectors.arrays, vectors.config)
    return {"unit": np.array(vectors.unit), **out}


def compare_outputs(a: dict, b: dict) -> list[str]:
    """Keys whose arrays differ (or are missing on one side), in a stable order."""
    keys = sorted(set(a) | set(b))
    return [k for k in keys if k not in a or k not in b or not np.array_equal(a[k], b[k])]
