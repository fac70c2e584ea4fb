"""Streaming-video KV traces: a seeded generator, the trace file format, and the steps of ReSV
that run outside the DRE (SPEC 1): random-hyperplane hashing, member-mean cluster keys and
integer cluster scores.

Trace ``.npz`` layout (docs/traces.md), all float arrays finite:

====================  ===================  ==================================================
key                   shape                meaning
====================  ===================  ==================================================
``keys``              float[F, T, H, D]    keys after RoPE, frame by frame, token by token
``values``            float[F, T, H, D]    values of the same tokens
``queries``           float[F, T, H, D]    frame-prefill queries of the same tokens
``text_queries``      float[G, H, D]       optional: text-generation queries after the video
====================  ===================  ==================================================
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .vectors import VectorError, read_npz, write_npz

__all__ = ["Trace", "TraceParams", "generate_trace", "load_trace", "save_trace",
           "hyperplanes", "hash_keys", "cluster_means", "int_scores"]


class TraceError(VectorError):
    """A trace file breaks the layout; the message names the array."""


@dataclasses.dataclass
class Trace:
    """K, V and Q of one layer of a streaming video LLM (see the module docstring)."""

    keys: np.ndarray
    values: np.ndarray
    queries: np.ndarray
    text_queries: np.ndarray

    @property
    def frames(self) -> int:
        return self.keys.shape[0]

    @property
    def tokens(self) -> int:
        return self.keys.shape[1]

    @property
    def heads(self) -> int:
        return self.keys.shape[2]

    @property
    def head_dim(self) -> int:
        return self.keys.shape[3]

    def __post_init__(self):
        check_trace(self.__dict__, "trace")


def check_trace(arrays: dict, where: str) -> None:
    for key in ("keys", "values", "queries"):
        if key not in arrays:
            raise TraceError(f"{where}: missing array {key!r}")
    keys = arrays["keys"]
    for key in ("keys", "values", "queries", "text_queries"):
        a = np.asarray(arrays[key]) if key in arrays else None
        if a is None:
            continue
        if a.dtype.kind != "f":
            raise TraceError(f"{where}: array {key!r} must hold floats, not {a.dtype}")
        ndim = 3 if key == "text_queries" else 4
        if a.ndim != ndim:
            raise TraceError(f"{where}: array {key!r} must have {ndim} dimensions, "
                             f"not shape {a.shape}")
        if key == "text_queries":
            if a.shape[1:] != keys.shape[2:]:
                raise TraceError(f"{where}: array 'text_queries' must have shape "
                                 f"[G, {keys.shape[2]}, {keys.shape[3]}], not {a.shape}")
        elif a.shape != keys.shape:
            raise TraceError(f"{where}: array {key!r} must have the shape of 'keys' "
                             f"{keys.shape}, not {a.shape}")
        if key == "keys" and min(a.shape) < 1:
            raise TraceError(f"{where}: array 'keys' must not be empty, not shape {a.shape}")
        if not np.all(np.isfinite(a)):
            raise TraceError(f"{where}: array {key!r} holds NaN or infinite values")
    unknown = set(arrays) - {"keys", "values", "queries", "text_queries"}
    if unknown:
        raise TraceError(f"{where}: unknown array {sorted(unknown)[0]!r}")


def load_trace(path) -> Trace:
    """Read a trace ``.npz``; a malformed one is refused naming the offending array."""
    try:
        arrays = read_npz(path)
    except VectorError as error:
        raise TraceError(str(error)) from None
    check_trace(arrays, str(path))
    heads, dim = arrays["keys"].shape[2:]
    text = arrays.get("text_queries", np.zeros((0, heads, dim), dtype=np.float32))
    return Trace(arrays["keys"], arrays["values"], arrays["queries"], text)


def save_trace(path, trace: Trace) -> None:
    write_npz(path, {"keys": trace.keys, "values": trace.values, "queries": trace.queries,
                     "text_queries": trace.text_queries})


@dataclasses.dataclass(frozen=True)
class TraceParams:
    """Knobs of the synthetic trace.

    Parameters
    ----------
    frames, tokens, heads, head_dim : int
        Trace size; tokens form a square-ish patch grid.
    text_queries : int
        Text-generation queries after the last frame.
    regions : int
        Objects per scene; tokens of one object share a key direction (spatial redundancy).
    spatial : float
        Share of a key's variance that comes from its object (0..1).
    temporal : float
        Frame-to-frame correlation of a token's own part (0..1): temporal redundancy.
    cut_prob : float
        Chance per frame of a scene cut: new objects, new layout, no memory.
    drift : float
        How far (in patches per frame) object centres move.
    seed : int
    """

    frames: int = 16
    tokens: int = 64
    heads: int = 2
    head_dim: int = 64
    text_queries: int = 8
    regions: int = 6
    spatial: float = 0.8
    temporal: float = 0.95
    cut_prob: float = 0.1
    drift: float = 0.3
    seed: int = 0

    def __post_init__(self):
        for name in ("frames", "tokens", "heads", "head_dim", "regions"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if not isinstance(self.text_queries, int) or self.text_queries < 0:
            raise ValueError(f"text_queries must be a non-negative integer, "
                             f"not {self.text_queries!r}")
        for name in ("spatial", "temporal", "cut_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in 0..1, not {value!r}")
        if self.drift < 0:
            raise ValueError(f"drift must be non-negative, not {self.drift!r}")


def generate_trace(params: TraceParams = TraceParams()) -> Trace:
    """A synthetic streaming-video trace with objects, motion, redundancy and scene cuts."""
    p = params
    rng = np.random.default_rng(p.seed)
    side = math.ceil(math.sqrt(p.tokens))
    grid = np.stack(np.divmod(np.arange(p.tokens), side), axis=1).astype(np.float64)
    shape = (p.frames, p.tokens, p.heads, p.head_dim)
    keys, queries = np.empty(shape), np.empty(shape)
    mix_v = rng.standard_normal((p.heads, p.head_dim, p.head_dim)) / math.sqrt(p.head_dim)
    # A shared offset per head, as real keys have, so hashes are not centred on zero.
    offset = 0.3 * rng.standard_normal((p.heads, p.head_dim))

    def new_scene():
        centres = rng.uniform(0, side, size=(p.regions, 2))
        velocity = rng.standard_normal((p.regions, 2)) * p.drift
        objects = rng.standard_normal((p.regions, p.heads, p.head_dim))
        own = rng.standard_normal((p.tokens, p.heads, p.head_dim))
        return centres, velocity, objects, own

    centres, velocity, objects, own = new_scene()
    a, b = math.sqrt(p.spatial), math.sqrt(1 - p.spatial)
    t_keep, t_new = p.temporal, math.sqrt(1 - p.temporal ** 2)
    for f in range(p.frames):
        if f and rng.random() < p.cut_prob:
            centres, velocity, objects, own = new_scene()
        elif f:
            centres = np.clip(centres + velocity, 0, side)
            own = t_keep * own + t_new * rng.standard_normal(own.shape)
        nearest = np.argmin(((grid[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
        keys[f] = a * objects[nearest] + b * own + offset
        # A query looks for its own object: same direction, fresh detail.
        queries[f] = a * objects[nearest] + b * rng.standard_normal(own.shape)
    values = np.einsum("fthd,hde->fthe", keys, mix_v)
    text = (a * objects[rng.integers(0, p.regions, size=p.text_queries)]
            + b * rng.standard_normal((p.text_queries, p.heads, p.head_dim)))
    f32 = np.float32
    return Trace(keys.astype(f32), values.astype(f32), queries.astype(f32), text.astype(f32))


# ---------------------------------------------------------------------------------------------
# ReSV steps outside the DRE

def hyperplanes(head_dim: int, hash_bits: int, seed: int = 0) -> np.ndarray:
    """Random hyperplanes ``H`` (``head_dim x hash_bits``) of SPEC 1 step 1."""
    return np.random.default_rng([seed, 0x5EED]).standard_normal((head_dim, hash_bits))

def hash_keys(keys: np.ndarray, planes: np.ndarray) -> np.ndarray:
    """Bit ``b`` of a key's hash is 1 where ``(k @ H)[b] > 0``; bit 0 is the LSB."""
    bits = (np.asarray(keys, dtype=np.float64) @ planes) > 0
    weights = np.uint64(1) << np.arange(planes.shape[1], dtype=np.uint64)
    return (bits.astype(np.uint64) * weights).sum(axis=-1, dtype=np.uint64)


def cluster_means(keys: np.ndarray, cluster: np.ndarray, clusters: int) -> np.ndarray:
    """Representative key of each cluster: the mean of its members' keys (``[clusters, D]``)."""
    keys = np.asarray(keys, dtype=np.float64)
    sums = np.zeros((clusters, keys.shape[-1]))
    np.add.at(sums, cluster, keys)
    members = np.bincount(cluster, minlength=clusters)[:, None]
    return sums / np.maximum(members, 1)


def int_scores(queries: np.ndarray, cluster_keys: np.ndarray, score_bits: int) -> np.ndarray:
    """Signed ``score_bits`` integer scores ``Q @ Kc.T``, one scale for the whole batch.

    The scale maps the largest magnitude to the largest positive code, so the batch uses the
    full range; a common scale keeps the ranking within and across rows.
    """
    scores = np.asarray(queries, dtype=np.float64) @ np.asarray(cluster_keys).T
    top = (1 << (score_bits - 1)) - 1
    peak = np.abs(scores).max(initial=0.0)
    scale = top / peak if peak > 0 else 1.0
    return np.clip(np.rint(scores * scale), -top - 1, top).astype(np.int64)
